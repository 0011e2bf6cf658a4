package dsl

import (
	"bytes"
	"errors"

	"github.com/expr-lang/expr/file"
	"github.com/hashicorp/hcl/v2"
)

// ExprDiagnostic turns an error of running a compiled expression (a Filter
// or a Field: rng and text are its Range and Source or Value) into a
// diagnostic at the exact place in the .hcl file, as validate reports
// compile errors. The engine uses it for run-time failures such as a
// float() of a non-number, so a message names the spec line, not the row.
func (s *Spec) ExprDiagnostic(rng hcl.Range, text string, err error) *hcl.Diagnostic {
	d := &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Expression failed",
		Detail:   sentence(err.Error()) + ".",
		Subject:  rng.Ptr(),
		Context:  rng.Ptr(),
	}
	var fe *file.Error
	if !errors.As(err, &fe) {
		return d
	}
	d.Detail = sentence(fe.Message) + "."
	var src []byte
	if f := s.HCLFiles[rng.Filename]; f != nil {
		src = f.Bytes
	}
	if m := mapText(src, rng, text); m.offs != nil {
		d.Subject = m.span(fe.From, fe.To).Ptr()
	}
	return d
}

// mapText rebuilds the exprMap of an expression from the range of its text
// (what Filter.Range and Field.Range hold): the quote or heredoc marker
// sits just before it.
func mapText(src []byte, rng hcl.Range, text string) exprMap {
	start, end := rng.Start.Byte, rng.End.Byte
	if start <= 0 || end >= len(src) || start > end {
		return exprMap{src: src, expr: rng}
	}
	full := rng
	switch {
	case src[start-1] == '"' && src[end] == '"':
		full.Start.Byte, full.End.Byte = start-1, end+1
	case src[end] == '\n':
		// Heredoc: the marker ends the line before the text's first line.
		lineStart := bytes.LastIndexByte(src[:start], '\n')
		if lineStart < 0 {
			return exprMap{src: src, expr: rng}
		}
		prev := bytes.LastIndexByte(src[:lineStart], '\n') + 1
		i := bytes.Index(src[prev:lineStart], []byte("<<"))
		if i < 0 {
			return exprMap{src: src, expr: rng}
		}
		full.Start.Byte, full.End.Byte = prev+i, end+1
	default:
		return exprMap{src: src, expr: rng}
	}
	m := mapExpr(src, full, text)
	m.expr = rng
	return m
}
