package dsl

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/expr-lang/expr/file"
	"github.com/hashicorp/hcl/v2"
)

// ExprError is a run-time failure of a compiled expression (a float() of a
// non-number, a member of nil), placed in the .hcl file as validate places
// compile errors, so a ledger detail, a warning or a sample of a value left
// out names the spec line to fix rather than only the row.
type ExprError struct {
	What  string    // "calls filter", "field OrderTotal"
	Range hcl.Range // the failing part when expr says which, else the whole expression
	Expr  hcl.Range // the whole expression
	Msg   string    // expr's message, without its own snippet
	Err   error     // what the expression (or the engine's direct path) returned
}

// Error is "FILE:LINE,COL-COL: WHAT: MESSAGE", one line.
func (e *ExprError) Error() string {
	if e.Range.Filename == "" {
		return e.What + ": " + e.Msg
	}
	return fmt.Sprintf("%s: %s: %s", e.Range, e.What, e.Msg)
}

func (e *ExprError) Unwrap() error { return e.Err }

// Diagnostic is the error as a diagnostic, for rendering with a snippet.
func (e *ExprError) Diagnostic() *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Expression failed",
		Detail:   sentence(e.Msg) + ".",
		Subject:  e.Range.Ptr(),
		Context:  e.Expr.Ptr(),
	}
}

// RunError places an error of running the filter in the spec. An error
// that is already placed is returned as is.
func (f *Filter) RunError(err error) error {
	return runError(f.Block+" filter", f.pos, f.Range, err)
}

// RunError places an error of computing the field (its program's, or the
// engine's direct path's) in the spec.
func (f *Field) RunError(err error) error {
	return runError("field "+f.Name, f.pos, f.Range, err)
}

// maxRunMessage bounds the message of a run-time error: expr quotes the
// value it failed on, which may be any length.
const maxRunMessage = 200

func runError(what string, m exprMap, rng hcl.Range, err error) error {
	if err == nil {
		return nil
	}
	var placed *ExprError
	if errors.As(err, &placed) {
		return err
	}
	e := &ExprError{What: what, Range: rng, Expr: rng, Msg: err.Error(), Err: err}
	var fe *file.Error
	if errors.As(err, &fe) {
		e.Msg = fe.Message
		if m.offs != nil {
			e.Range = m.span(fe.From, fe.To)
		}
	}
	e.Msg = strings.TrimRight(e.Msg, ". ")
	if len(e.Msg) > maxRunMessage {
		e.Msg = e.Msg[:maxRunMessage] + "…"
	}
	return e
}

// ExprDiagnostic turns an error of running a compiled expression (a Filter
// or a Field: rng and text are its Range and Source or Value) into a
// diagnostic at the exact place in the .hcl file. Filter.RunError and
// Field.RunError do the same from what was kept at compile time; this
// rebuilds it from the file, for callers holding only a range.
func (s *Spec) ExprDiagnostic(rng hcl.Range, text string, err error) *hcl.Diagnostic {
	var src []byte
	if f := s.HCLFiles[rng.Filename]; f != nil {
		src = f.Bytes
	}
	var e *ExprError
	errors.As(runError("expression", mapText(src, rng, text), rng, err), &e)
	return e.Diagnostic()
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
