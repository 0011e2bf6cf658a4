package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/applink-dev/applink/dsl"
)

// fieldKind says how a field's value is computed: the direct shapes the
// dsl recognised in the compiled tree (dsl.Direct: `bd.X`, `float(bd.X)`,
// `bd.X == "lit"`) are read from the call's business data without the VM;
// any other expression runs its compiled program. Both paths give the same
// result (TestDirectFieldsMatchVM).
type fieldKind uint8

const (
	fieldVM      fieldKind = iota // run the compiled program
	fieldBDText                   // text = bd.X
	fieldBDFloat                  // number = float(bd.X)
	fieldBDEqual                  // boolean = bd.X == "lit"
)

type fieldPlan struct {
	kind   fieldKind
	bd     string // the business-data name read by the direct kinds
	lit    []byte // the literal compared by fieldBDEqual
	maxLen int    // a text field's maximum length in characters; 0: none
}

// SetFieldMaxLength caps text fields' values, in characters, by field
// name: the sink's target knows its limits (cxone's max_length), the spec
// language does not. A longer value is a mapping error under the field's
// on_error. The limits become part of the plan's hash. Call it before Run.
func (p *Plan) SetFieldMaxLength(limits map[string]int) error {
	if len(limits) == 0 {
		return nil
	}
	names := make([]string, 0, len(limits))
	for name := range limits {
		names = append(names, name)
	}
	sort.Strings(names)
	h := sha256.New()
	h.Write([]byte(p.hash))
	for _, name := range names {
		i := slices.IndexFunc(p.Fields, func(f dsl.Field) bool { return f.Name == name })
		if i < 0 || p.Fields[i].Type != dsl.TypeText || limits[name] < 1 {
			return fmt.Errorf("max_length %d for %q: not a text field of the plan", limits[name], name)
		}
		p.fields[i].maxLen = limits[name]
		fmt.Fprintf(h, "\x00%s=%d", name, limits[name])
	}
	p.hash = hex.EncodeToString(h.Sum(nil))
	return nil
}

// checkLength refuses a text longer than the field's maximum.
func (fp *fieldPlan) checkLength(text []byte) error {
	if fp.maxLen == 0 || len(text) <= fp.maxLen { // bytes ≥ characters
		return nil
	}
	if n := utf8.RuneCount(text); n > fp.maxLen {
		return fmt.Errorf("%d characters, longer than max_length %d", n, fp.maxLen)
	}
	return nil
}

func planField(f *dsl.Field) (fieldPlan, error) {
	if f.Program == nil {
		return fieldPlan{}, fmt.Errorf("not compiled (validate the spec first)")
	}
	d := f.Direct
	switch d.Kind {
	case dsl.DirectText:
		return fieldPlan{kind: fieldBDText, bd: d.BD}, nil
	case dsl.DirectFloat:
		return fieldPlan{kind: fieldBDFloat, bd: d.BD}, nil
	case dsl.DirectEqual:
		return fieldPlan{kind: fieldBDEqual, bd: d.BD, lit: []byte(d.Lit)}, nil
	}
	return fieldPlan{kind: fieldVM}, nil
}

// parseFloatBytes parses a number without copying b: strconv only reads the
// string during the call (its error, which may keep it, is dropped here).
func parseFloatBytes(b []byte) (float64, error) {
	if len(b) == 0 {
		return 0, fmt.Errorf("float: empty value")
	}
	v, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
	if err != nil {
		return 0, fmt.Errorf("float: cannot parse %q", truncate(string(b), 40))
	}
	return v, checkFinite(v)
}

func checkFinite(v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("not a finite number: %v", v)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
