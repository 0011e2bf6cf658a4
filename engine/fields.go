package engine

import (
	"fmt"
	"math"
	"strconv"
	"unsafe"

	"github.com/applink-dev/applink/dsl"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
)

// fieldKind says how a field's value is computed. The common shapes of a
// mapping (`bd.X`, `float(bd.X)`, `bd.X == "lit"`) are read directly from
// the call's business data: running the expr VM 50 times per call would cost
// more than reading the CSV. Any other expression runs its compiled program.
// Both paths give the same result (engine tests compare them).
type fieldKind uint8

const (
	fieldVM      fieldKind = iota // run the compiled program
	fieldBDText                   // text = bd.X
	fieldBDFloat                  // number = float(bd.X)
	fieldBDEqual                  // boolean = bd.X == "lit"
)

type fieldPlan struct {
	kind fieldKind
	bd   string // the business-data name read by the direct kinds
	lit  []byte // the literal compared by fieldBDEqual
}

func planField(f *dsl.Field) (fieldPlan, error) {
	if f.Program == nil {
		return fieldPlan{}, fmt.Errorf("not compiled (validate the spec first)")
	}
	tree, err := parser.Parse(f.Value)
	if err != nil {
		return fieldPlan{kind: fieldVM}, nil
	}
	switch f.Type {
	case dsl.TypeText:
		if name, ok := bdMember(tree.Node); ok {
			return fieldPlan{kind: fieldBDText, bd: name}, nil
		}
	case dsl.TypeNumber:
		if b, ok := tree.Node.(*ast.BuiltinNode); ok && b.Name == "float" && len(b.Arguments) == 1 {
			if name, ok := bdMember(b.Arguments[0]); ok {
				return fieldPlan{kind: fieldBDFloat, bd: name}, nil
			}
		}
	case dsl.TypeBoolean:
		if b, ok := tree.Node.(*ast.BinaryNode); ok && b.Operator == "==" {
			l, r := b.Left, b.Right
			if _, ok := l.(*ast.StringNode); ok {
				l, r = r, l
			}
			if name, ok := bdMember(l); ok {
				if s, ok := r.(*ast.StringNode); ok {
					return fieldPlan{kind: fieldBDEqual, bd: name, lit: []byte(s.Value)}, nil
				}
			}
		}
	}
	return fieldPlan{kind: fieldVM}, nil
}

// bdMember recognises `bd.NAME` and `bd["NAME"]` (not `bd?.NAME`).
func bdMember(n ast.Node) (string, bool) {
	m, ok := n.(*ast.MemberNode)
	if !ok || m.Optional {
		return "", false
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok || id.Value != "bd" {
		return "", false
	}
	s, ok := m.Property.(*ast.StringNode)
	if !ok {
		return "", false
	}
	return s.Value, true
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
