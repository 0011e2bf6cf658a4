package dsl

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/agext/levenshtein"
	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// exprKind is the result type an expression must yield.
type exprKind int

const (
	exprBool exprKind = iota
	exprString
	exprFloat
)

func (k exprKind) option() expr.Option {
	switch k {
	case exprString:
		return expr.AsKind(reflect.String)
	case exprFloat:
		return expr.AsFloat64()
	}
	return expr.AsBool()
}

// hint is the sentence added to a type error, saying how to fix it.
func (k exprKind) hint() string {
	switch k {
	case exprString:
		return " A text field's value must yield a string; convert with string(...)."
	case exprFloat:
		return " A number field's value must yield a number; convert a string with float(...)."
	}
	return " The expression must yield true or false."
}

// compiled is an expression compiled from an attribute.
type compiled struct {
	text string
	prog *vm.Program
	rng  hcl.Range // the expression text in the file (inside quotes or heredoc markers)
	pos  exprMap   // expr's positions in text -> the file's
}

// compile evaluates attribute a to its string and compiles it with expr
// against env. Errors are reported at their position in the .hcl file.
func (d *decoder) compile(a *hcl.Attribute, env any, want exprKind, what string) (compiled, bool) {
	v, diags := a.Expr.Value(d.ctx)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return compiled{}, false
	}
	if v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
		d.errorf(a.Expr.Range(), a.Range, "Expression must be a string",
			"The %s is an expr-lang expression written as a string: quote it (%s = \"...\") or use a heredoc (%s = <<-EXPR ... EXPR).", what, a.Name, a.Name)
		return compiled{}, false
	}
	text := v.AsString()
	m := mapExpr(d.src[a.Expr.Range().Filename], a.Expr.Range(), text)
	ce := compiled{text: text, rng: m.textRange(), pos: m}
	ce.pos.expr = ce.rng // a run-time error without a position covers the text
	if strings.TrimSpace(text) == "" {
		d.errorf(ce.rng, a.Range, "Empty expression", "The %s is empty; write an expression or remove the attribute.", what)
		return ce, false
	}
	prog, err := compileSafe(text, env, want)
	if err == nil {
		ce.prog = prog
		return ce, true
	}
	var fe *file.Error
	if errors.As(err, &fe) {
		subj := m.span(fe.From, fe.To)
		d.errorf(subj, ce.rng, "Invalid expression", "%s.%s", sentence(fe.Message), exprSuggestion(fe.Message, env))
		return ce, false
	}
	detail := sentence(err.Error()) + "."
	if strings.HasPrefix(err.Error(), "expected ") {
		detail += want.hint()
	}
	d.errorf(ce.rng, a.Range, "Invalid expression", "%s", detail)
	return ce, false
}

// compileSafe compiles, turning a panic inside expr into an error: a spec
// must never crash validate.
func compileSafe(text string, env any, want exprKind) (prog *vm.Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			prog, err = nil, fmt.Errorf("expression compiler failed: %v", r)
		}
	}()
	return expr.Compile(text, expr.Env(env), want.option())
}

// sentence capitalises an expr message so it reads as the start of a sentence.
func sentence(msg string) string {
	msg = strings.TrimRight(msg, ". ")
	r, n := utf8.DecodeRuneInString(msg)
	return string(unicode.ToUpper(r)) + msg[n:]
}

var (
	reNoField = regexp.MustCompile(`^type (?:\*?[\w.]+\.)?(\w+) has no field (\w+)`)
	reUnknown = regexp.MustCompile(`^unknown name (\w+)`)
)

// exprSuggestion adds a did-you-mean from the env struct's expr tags.
func exprSuggestion(msg string, env any) string {
	if m := reNoField.FindStringSubmatch(msg); m != nil {
		var names []string
		switch m[1] {
		case "Call":
			names = exprTags(reflect.TypeFor[Call]())
		case "Agent":
			names = exprTags(reflect.TypeFor[Agent]())
		default:
			return ""
		}
		if s := didYouMean(m[2], names); s != "" {
			return s
		}
		return fmt.Sprintf(" The fields of %s are %s.", strings.ToLower(m[1]), strings.Join(names, ", "))
	}
	if m := reUnknown.FindStringSubmatch(msg); m != nil {
		names := exprTags(reflect.TypeOf(env))
		// A misspelt function (flaot) is an unknown name too: expr's
		// built-in functions are candidates as well as the env's names.
		candidates := append(append([]string(nil), names...), builtin.Names...)
		return didYouMean(m[1], candidates) + fmt.Sprintf(" Here the names are %s.", strings.Join(names, ", "))
	}
	return ""
}

func exprTags(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var names []string
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("expr"); tag != "" && tag != "-" {
			names = append(names, tag)
		}
	}
	return names
}

// suggest returns the candidate closest to name when it is close enough to
// be a likely typo, else "".
func suggest(name string, candidates []string) string {
	best, bestDist := "", 1<<30
	lname := strings.ToLower(name)
	for _, c := range candidates {
		lc := strings.ToLower(c)
		dist := levenshtein.Distance(lname, lc, nil)
		if transposed(lname, lc) { // "flaot" is one slip from "float", not two
			dist = 1
		}
		// Also compare without a unit suffix, so "durration" finds
		// "duration_ms" before "direction".
		if i := strings.LastIndexByte(lc, '_'); i > 0 {
			dist = min(dist, levenshtein.Distance(lname, lc[:i], nil))
		}
		if dist < bestDist {
			best, bestDist = c, dist
		}
	}
	// Two edits always count; longer names may differ by a suffix such as
	// "duration" for "duration_ms".
	if best != "" && (bestDist <= 2 || bestDist*2 <= len(best)) && bestDist < len(name) {
		return best
	}
	return ""
}

// transposed reports whether a and b differ by one swap of adjacent letters.
func transposed(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	i := 0
	for i < len(a) && a[i] == b[i] {
		i++
	}
	return i+1 < len(a) && a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:]
}

// exprMap maps each rune of an expression's text to the byte offset in the
// .hcl file where it was written, so expr's positions become file positions.
type exprMap struct {
	src  []byte
	expr hcl.Range // the whole HCL expression, the fallback
	offs []int     // per rune of the text, plus one past the end; nil: unknown
}

// mapExpr builds the map for a quoted string or a heredoc whose value is
// text. Anything else (interpolations, a function call) gets no map and
// diagnostics fall back to the whole expression.
func mapExpr(src []byte, r hcl.Range, text string) exprMap {
	m := exprMap{src: src, expr: r}
	if r.Start.Byte < 0 || r.End.Byte > len(src) || r.Start.Byte >= r.End.Byte {
		return m
	}
	raw := src[r.Start.Byte:r.End.Byte]
	var offs []int
	var decoded strings.Builder
	switch {
	case len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"':
		offs = mapQuoted(raw[1:len(raw)-1], r.Start.Byte+1, &decoded)
	case len(raw) > 2 && raw[0] == '<' && raw[1] == '<':
		offs = mapHeredoc(raw, r.Start.Byte, text, &decoded)
	}
	if offs != nil && decoded.String() == text {
		m.offs = offs
	}
	return m
}

// mapQuoted decodes the body of a quoted HCL string (escapes, $${, %%{),
// recording the source offset of each decoded rune.
func mapQuoted(body []byte, base int, out *strings.Builder) []int {
	var offs []int
	for i := 0; i < len(body); {
		c := body[i]
		switch {
		case c == '\\' && i+1 < len(body):
			n := 2
			var r rune
			switch body[i+1] {
			case 'n':
				r = '\n'
			case 'r':
				r = '\r'
			case 't':
				r = '\t'
			case '"':
				r = '"'
			case '\\':
				r = '\\'
			case 'u', 'U':
				n = 6
				if body[i+1] == 'U' {
					n = 10
				}
				if i+n > len(body) {
					return nil
				}
				v, err := strconv.ParseUint(string(body[i+2:i+n]), 16, 32)
				if err != nil {
					return nil
				}
				r = rune(v)
			default:
				return nil
			}
			offs = append(offs, base+i)
			out.WriteRune(r)
			i += n
		case (c == '$' || c == '%') && i+2 < len(body) && body[i+1] == c && body[i+2] == '{':
			offs = append(offs, base+i, base+i+2)
			out.WriteByte(c)
			out.WriteByte('{')
			i += 3
		default:
			r, n := utf8.DecodeRune(body[i:])
			offs = append(offs, base+i)
			out.WriteRune(r)
			i += n
		}
	}
	return append(offs, base+len(body))
}

// mapHeredoc maps a heredoc's lines. `<<-` strips the common indentation, so
// each evaluated line starts further right in the source by the difference
// of their leading whitespace.
func mapHeredoc(raw []byte, base int, text string, out *strings.Builder) []int {
	nl := strings.IndexByte(string(raw), '\n')
	last := strings.LastIndexByte(string(raw), '\n')
	if nl < 0 || last < nl {
		return nil
	}
	body := raw[nl+1 : last+1]
	bodyBase := base + nl + 1
	srcLines := strings.SplitAfter(string(body), "\n")
	valLines := strings.SplitAfter(text, "\n")
	if len(srcLines) > 0 && srcLines[len(srcLines)-1] == "" {
		srcLines = srcLines[:len(srcLines)-1]
	}
	if len(valLines) > 0 && valLines[len(valLines)-1] == "" {
		valLines = valLines[:len(valLines)-1]
	}
	if len(srcLines) != len(valLines) {
		return nil
	}
	var offs []int
	lineBase := bodyBase
	for i, sl := range srcLines {
		strip := leadingSpace(sl) - leadingSpace(valLines[i])
		if strip < 0 {
			return nil
		}
		for j := strip; j < len(sl); {
			c := sl[j]
			if (c == '$' || c == '%') && j+2 < len(sl) && sl[j+1] == c && sl[j+2] == '{' {
				offs = append(offs, lineBase+j, lineBase+j+2)
				out.WriteByte(c)
				out.WriteByte('{')
				j += 3
				continue
			}
			r, n := utf8.DecodeRuneInString(sl[j:])
			offs = append(offs, lineBase+j)
			out.WriteRune(r)
			j += n
		}
		lineBase += len(sl)
	}
	return append(offs, lineBase)
}

func leadingSpace(s string) int {
	return len(s) - len(strings.TrimLeft(s, " \t"))
}

// textRange is the range of the expression text itself: inside the quotes,
// or the heredoc's body lines.
func (m exprMap) textRange() hcl.Range {
	if len(m.offs) == 0 {
		return m.expr
	}
	end := m.offs[len(m.offs)-1]
	// A heredoc's text ends with a newline: stop the range before it.
	if n := len(m.offs); n >= 2 && m.src[m.offs[n-2]] == '\n' {
		end = m.offs[n-2]
	}
	return hcl.Range{Filename: m.expr.Filename, Start: m.pos(m.offs[0]), End: m.pos(end)}
}

// span is the file range of runes from..to of the text (to exclusive); an
// empty span becomes one character wide so a caret has something to point at.
func (m exprMap) span(from, to int) hcl.Range {
	if len(m.offs) == 0 || from < 0 {
		return m.expr
	}
	last := len(m.offs) - 1 // index of the end offset
	if from > last {
		from = last
	}
	if to <= from {
		to = from + 1
	}
	if to > last {
		to = last
	}
	start, end := m.offs[from], m.offs[to]
	if to == from { // at the end of the text
		return hcl.Range{Filename: m.expr.Filename, Start: m.pos(start), End: m.pos(start)}
	}
	// End after the span's last rune as written (an escape is two bytes or
	// more), but not past a line break: a heredoc's next line starts after
	// its stripped indentation.
	if prev := m.offs[to-1]; strings.IndexByte(string(m.src[prev:end]), '\n') >= 0 {
		end = prev + 1
	}
	return hcl.Range{Filename: m.expr.Filename, Start: m.pos(start), End: m.pos(end)}
}

// pos converts a byte offset of the file to an hcl.Pos (column in runes,
// 1-based, as hcl counts for ASCII text).
func (m exprMap) pos(off int) hcl.Pos {
	line, lineStart := 1, 0
	for i := 0; i < off && i < len(m.src); i++ {
		if m.src[i] == '\n' {
			line++
			lineStart = i + 1
		}
	}
	if off > len(m.src) {
		off = len(m.src)
	}
	return hcl.Pos{Line: line, Column: utf8.RuneCount(m.src[lineStart:off]) + 1, Byte: off}
}
