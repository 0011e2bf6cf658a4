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

// TestRunError: the engine's view of the same failures, from what was kept
// at compile time: one line naming FILE:LINE,COL, what failed and why.
func TestRunError(t *testing.T) {
	const more = `calls {
  where = <<-EXPR
    call.skill != "" &&
      float(bd.Total) > 1
  EXPR
}
field "number" "Total" { value = "1 + float(bd.Total)" }
field "number" "Direct" { value = "float(bd.Total)" }
`
	spec, diags := Parse("s", map[string][]byte{"a.hcl": []byte(minimal), "b.hcl": []byte(more)})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	env := CallEnv{Call: &Call{Skill: "x"}, BD: map[string]string{"Total": "n/a"}}
	_, err := expr.Run(spec.Calls.Program, env)
	if err == nil {
		t.Fatal("no run-time error")
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"calls filter", spec.Calls.RunError(err), `s/b.hcl:4,7-12: calls filter: invalid operation: float(n/a)`},
		{"field", spec.Fields[0].RunError(func() error { _, err := expr.Run(spec.Fields[0].Program, env); return err }()),
			`s/b.hcl:7,39-44: field Total: invalid operation: float(n/a)`},
		{"engine's direct path: the whole value", spec.Fields[1].RunError(errors.New(`float: cannot parse "n/a"`)),
			`s/b.hcl:8,36-51: field Direct: float: cannot parse "n/a"`},
		{"placed once", spec.Fields[1].RunError(spec.Calls.RunError(err)), `s/b.hcl:4,7-12: calls filter: invalid operation: float(n/a)`},
		{"long messages are cut", spec.Fields[1].RunError(errors.New(strings.Repeat("x", 300))), "s/b.hcl:8,36-51: field Direct: " + strings.Repeat("x", 200) + "…"},
		{"no position known", (&Filter{Block: "tenant"}).RunError(errors.New("boom")), "tenant filter: boom"},
	}
	for _, tt := range tests {
		if tt.err == nil || tt.err.Error() != tt.want {
			t.Errorf("%s: %v\nwant %s", tt.name, tt.err, tt.want)
		}
	}
	if spec.Calls.RunError(nil) != nil {
		t.Error("RunError(nil) is an error")
	}
	var ee *ExprError
	if !errors.As(tests[0].err, &ee) || !errors.Is(tests[2].err, tests[2].err.(*ExprError).Err) {
		t.Fatal("not an *ExprError")
	}
	d := ee.Diagnostic()
	if Pos(d) != "s/b.hcl:4,7-12" || d.Context.String() != "s/b.hcl:3,5-4,26" || d.Summary != "Expression failed" {
		t.Errorf("diagnostic %s (context %s): %s", Pos(d), d.Context, d.Summary)
	}
}
