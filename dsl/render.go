package dsl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// WriteDiagnostics renders diags as text: hcl's format (summary, "on FILE
// line N", the source snippet, the detail) plus a caret line under the
// subject, which hcl only shows with colour. spec may be nil; snippets then
// read "source code not available". width wraps the detail (0: no wrapping).
// The spec's secrets are masked in snippets and text (mask.go).
func WriteDiagnostics(w io.Writer, spec *Spec, diags hcl.Diagnostics, width uint, color bool) error {
	var files map[string]*hcl.File
	if spec != nil {
		files = spec.HCLFiles
	}
	m := spec.masker()
	if m != nil {
		files = m.files
	}
	var buf bytes.Buffer
	for _, d := range diags {
		d = m.snippet(d)
		buf.Reset()
		tw := hcl.NewDiagnosticTextWriter(&buf, files, width, color)
		if err := tw.WriteDiagnostic(d); err != nil {
			return fmt.Errorf("rendering diagnostic: %w", err)
		}
		out := addCaret(buf.Bytes(), d, files)
		if _, err := w.Write(out); err != nil {
			return fmt.Errorf("writing diagnostics: %w", err)
		}
	}
	return nil
}

// addCaret inserts "^^^" under the subject in the snippet hcl printed.
func addCaret(text []byte, d *hcl.Diagnostic, files map[string]*hcl.File) []byte {
	if d.Subject == nil {
		return text
	}
	f := files[d.Subject.Filename]
	if f == nil || d.Subject.Start.Byte > len(f.Bytes) || d.Subject.Start.Byte < 0 {
		return text
	}
	src := f.Bytes
	start := d.Subject.Start.Byte
	lineStart := bytes.LastIndexByte(src[:start], '\n') + 1
	lineEnd := len(src)
	if i := bytes.IndexByte(src[start:], '\n'); i >= 0 {
		lineEnd = start + i
	}
	end := d.Subject.End.Byte
	if end > lineEnd {
		end = lineEnd
	}
	// Keep tabs so the caret lines up under tab-indented source.
	var pad strings.Builder
	for _, r := range string(src[lineStart:start]) {
		if r == '\t' {
			pad.WriteByte('\t')
		} else if r != '\r' {
			pad.WriteByte(' ')
		}
	}
	n := 1
	if end > start {
		n = utf8.RuneCount(src[start:end])
	}
	prefix := fmt.Sprintf("\n%4d: ", d.Subject.Start.Line)
	i := bytes.Index(text, []byte(prefix))
	if i < 0 {
		return text
	}
	eol := bytes.IndexByte(text[i+1:], '\n')
	if eol < 0 {
		return text
	}
	at := i + 1 + eol + 1
	caret := "      " + pad.String() + strings.Repeat("^", n) + "\n"
	out := make([]byte, 0, len(text)+len(caret))
	out = append(out, text[:at]...)
	out = append(out, caret...)
	return append(out, text[at:]...)
}

// jsonDiag is the JSON form of a diagnostic; field order is the output's.
type jsonDiag struct {
	Severity string   `json:"severity"`
	Summary  string   `json:"summary"`
	Detail   string   `json:"detail"`
	File     string   `json:"file"`
	Start    *jsonPos `json:"start,omitempty"`
	End      *jsonPos `json:"end,omitempty"`
}

type jsonPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

// DiagnosticsJSON renders diags as a JSON array, in their order, for tools.
// Positions point into the real files; the spec's secrets (spec may be nil)
// are masked in the text.
func DiagnosticsJSON(spec *Spec, diags hcl.Diagnostics) ([]byte, error) {
	m := spec.masker()
	out := make([]jsonDiag, 0, len(diags))
	for _, d := range diags {
		d = m.words(d)
		j := jsonDiag{Severity: severity(d.Severity), Summary: d.Summary, Detail: d.Detail}
		if s := d.Subject; s != nil {
			j.File = s.Filename
			j.Start = &jsonPos{s.Start.Line, s.Start.Column, s.Start.Byte}
			j.End = &jsonPos{s.End.Line, s.End.Column, s.End.Byte}
		}
		out = append(out, j)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding diagnostics: %w", err)
	}
	return append(b, '\n'), nil
}

func severity(s hcl.DiagnosticSeverity) string {
	switch s {
	case hcl.DiagError:
		return "error"
	case hcl.DiagWarning:
		return "warning"
	}
	return "invalid"
}

// WriteGitHubAnnotations writes diags as GitHub Actions workflow commands,
// so that a CI run annotates the spec files in a pull request. The spec's
// secrets (spec may be nil) are masked.
func WriteGitHubAnnotations(w io.Writer, spec *Spec, diags hcl.Diagnostics) error {
	m := spec.masker()
	for _, d := range diags {
		d = m.words(d)
		cmd := "error"
		if d.Severity == hcl.DiagWarning {
			cmd = "warning"
		}
		var props string
		if s := d.Subject; s != nil {
			props = fmt.Sprintf(" file=%s,line=%d,col=%d,endLine=%d,endColumn=%d",
				ghProperty(s.Filename), s.Start.Line, s.Start.Column, s.End.Line, s.End.Column)
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		if _, err := fmt.Fprintf(w, "::%s%s::%s\n", cmd, props, ghData(msg)); err != nil {
			return fmt.Errorf("writing annotations: %w", err)
		}
	}
	return nil
}

// GitHub's escaping of workflow command data and property values.
var (
	ghDataEscaper     = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	ghPropertyEscaper = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
)

func ghData(s string) string     { return ghDataEscaper.Replace(s) }
func ghProperty(s string) string { return ghPropertyEscaper.Replace(s) }

// Pos is the subject of d as FILE:LINE,COL-ENDCOL (hcl.Range.String), or ""
// when d has no subject.
func Pos(d *hcl.Diagnostic) string {
	if d == nil || d.Subject == nil {
		return ""
	}
	return d.Subject.String()
}
