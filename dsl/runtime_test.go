package dsl

import (
	"errors"
	"strings"
	"testing"

	"github.com/expr-lang/expr"
)

// TestExprDiagnostic runs compiled fields into run-time errors and checks
// that the diagnostic points into the .hcl file.
func TestExprDiagnostic(t *testing.T) {
	const fields = `field "number" "Total" { value = "1 + float(bd.Total)" }
field "number" "Escaped" { value = "bd[\"a\"] == '' ? 0 : float(bd.Total)" }
field "number" "Heredoc" {
  value = <<-EXPR
    bd.Kind == "" ? 0 :
      float(bd.Total)
  EXPR
}
field "number" "Interpolated" { value = "float(bd.Total) + ${1}" }
`
	spec, diags := Parse("s", map[string][]byte{"a.hcl": []byte(minimal), "b.hcl": []byte(fields)})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	env := CallEnv{Call: &Call{}, BD: map[string]string{"Total": "n/a", "Kind": "k", "a": "x"}}
	want := map[string]string{
		"Total":   "s/b.hcl:1,39-44",
		"Escaped": "s/b.hcl:2,59-64",
		"Heredoc": "s/b.hcl:6,7-12",
		// No exact map through an interpolation: the whole expression.
		"Interpolated": "s/b.hcl:9,41-65",
	}
	for _, f := range spec.Fields {
		t.Run(f.Name, func(t *testing.T) {
			_, err := expr.Run(f.Program, env)
			if err == nil {
				t.Fatal("no run-time error")
			}
			d := spec.ExprDiagnostic(f.Range, f.Value, err)
			if got := Pos(d); got != want[f.Name] {
				t.Errorf("Pos = %s, want %s (%s)", got, want[f.Name], d.Detail)
			}
			if !strings.Contains(d.Detail, "n/a") || strings.Contains(d.Detail, " | ") {
				t.Errorf("detail = %q", d.Detail)
			}
		})
	}
	d := spec.ExprDiagnostic(spec.Fields[0].Range, spec.Fields[0].Value, errors.New("plain failure"))
	if d.Detail != "Plain failure." || Pos(d) != "s/b.hcl:1,35-54" {
		t.Errorf("plain error: %s %q", Pos(d), d.Detail)
	}
}
