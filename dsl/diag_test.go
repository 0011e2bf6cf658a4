package dsl

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite golden files from the current output")

// readCase returns the spec files of a txtar case and the archive itself.
func readCase(t testing.TB, path string) (map[string][]byte, *txtar.Archive) {
	t.Helper()
	ar, err := txtar.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range ar.Files {
		if strings.HasSuffix(f.Name, ".hcl") {
			files[f.Name] = f.Data
		}
	}
	return files, ar
}

func render(t *testing.T, spec *Spec, diags hcl.Diagnostics) string {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteDiagnostics(&buf, spec, diags, 0, false); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// checkSubjects asserts what every consumer of diagnostics relies on: an
// error has a subject naming its file.
func checkSubjects(t testing.TB, diags hcl.Diagnostics) {
	t.Helper()
	for _, d := range diags {
		if d.Severity == hcl.DiagError && (d.Subject == nil || d.Subject.Filename == "") {
			t.Errorf("error diagnostic without a subject file: %s: %s", d.Summary, d.Detail)
		}
	}
}

// TestDiagnosticsGolden runs each testdata/diag case (spec files in a txtar)
// and compares the full rendered text, snippet and caret line included, with
// the case's diagnostics.golden section. go test -run Golden -update rewrites it.
func TestDiagnosticsGolden(t *testing.T) {
	paths, _ := filepath.Glob("testdata/diag/*.txtar")
	if len(paths) < 20 {
		t.Fatalf("found %d diagnostic cases, want at least 20", len(paths))
	}
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".txtar")
		t.Run(name, func(t *testing.T) {
			files, ar := readCase(t, path)
			spec, diags := Parse("spec", files)
			if len(diags) == 0 {
				t.Fatal("no diagnostics: every case here is a spec with a mistake")
			}
			checkSubjects(t, diags)
			got := render(t, spec, diags)
			var golden *txtar.File
			for i := range ar.Files {
				if ar.Files[i].Name == "diagnostics.golden" {
					golden = &ar.Files[i]
				}
			}
			if golden == nil {
				t.Fatal("case has no diagnostics.golden section")
			}
			if *update {
				golden.Data = []byte(got)
				if err := os.WriteFile(path, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != string(golden.Data) {
				t.Errorf("rendered diagnostics differ (-update to accept)\n--- got\n%s\n--- want\n%s", got, golden.Data)
			}
		})
	}
}

// TestExpressionPositions pins the file position of expr errors exactly,
// independent of the golden files: quoted strings with escapes, heredocs
// with stripped indentation, multi-byte text.
func TestExpressionPositions(t *testing.T) {
	const head = "spec {\n  customer = \"a\"\n  cxone_tenant = \"b\"\n  installed_at = \"2026-11-01T00:00:00Z\"\n}\n" +
		"source \"engage\" \"s\" {\n  driver = \"snapshot\"\n  path = \"d\"\n  system_id = \"x\"\n}\n" // 10 lines
	tests := []struct {
		name, body string
		wantPos    string // Pos of the (only) diagnostic
		wantDetail string // a substring of its detail
	}{
		{"quoted",
			"calls {\n  where = \"call.durration > 1\"\n}\n",
			"spec/main.hcl:12,17-26", `Did you mean "duration_ms"?`},
		{"quoted after escapes",
			"calls {\n  where = \"call.skill == \\\"a\\\\b\\\" && call.durration > 1\"\n}\n",
			// call.skill == \"a\\b\" && call.  is 31 source bytes from col 12
			"spec/main.hcl:12,43-52", "has no field durration"},
		{"quoted with unicode escape",
			"calls {\n  where = \"'\\u00e9' == call.skil\"\n}\n",
			"spec/main.hcl:12,29-33", `Did you mean "skill"?`},
		{"multi-byte text",
			"calls {\n  where = \"'é' == call.skil\"\n}\n",
			"spec/main.hcl:12,24-28", `Did you mean "skill"?`},
		{"heredoc first line",
			"calls {\n  where = <<-EXPR\n    call.durration > 1\n  EXPR\n}\n",
			"spec/main.hcl:13,10-19", "has no field durration"},
		{"heredoc deeper indented line",
			"calls {\n  where = <<-EXPR\n    call.skill != \"\" &&\n        agent.emial != \"\"\n  EXPR\n}\n",
			"spec/main.hcl:14,15-20", `Did you mean "email"?`},
		{"heredoc with tabs",
			"calls {\n\twhere = <<-EXPR\n\t\tcall.skill != \"\" &&\n\t\t\tagent.emial != \"\"\n\tEXPR\n}\n",
			"spec/main.hcl:14,10-15", `Did you mean "email"?`},
		{"non-flush heredoc",
			"calls {\n  where = <<EXPR\ncall.durration > 1\nEXPR\n}\n",
			"spec/main.hcl:13,6-15", "has no field durration"},
		{"unknown name",
			"tenant {\n  where = \"tenantid == 3\"\n}\n",
			"spec/main.hcl:12,12-20", `Did you mean "tenant_id"?`},
		{"syntax error at end",
			"agents {\n  where = \"agent.email ==\"\n}\n",
			"spec/main.hcl:12,25-26", "Unexpected token EOF"},
		{"type error has the whole text",
			"field \"text\" \"D\" {\n  value = \"call.duration_ms\"\n}\n",
			"spec/main.hcl:12,12-28", "Expected string, but got int64. A text field's value must yield a string"},
		{"number field from string",
			"field \"number\" \"D\" { value = \"call.skill\" }\n",
			"spec/main.hcl:11,31-41", "convert a string with float(...)"},
		{"boolean field from string",
			"field \"boolean\" \"D\" { value = \"bd.X\" }\n",
			"spec/main.hcl:11,32-36", "Expected bool, but got string"},
		{"interpolation falls back to the expression",
			"calls {\n  where = \"call.durration > ${1}\"\n}\n",
			"spec/main.hcl:12,11-34", "has no field durration"},
		{"not a string",
			"calls {\n  where = true\n}\n",
			"spec/main.hcl:12,11-15", "written as a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Parse("spec", map[string][]byte{"main.hcl": []byte(head + tt.body)})
			if len(diags) != 1 {
				t.Fatalf("got %d diagnostics, want 1:\n%v", len(diags), diags)
			}
			if got := Pos(diags[0]); got != tt.wantPos {
				t.Errorf("Pos = %s, want %s (%s)", got, tt.wantPos, diags[0].Detail)
			}
			if !strings.Contains(diags[0].Detail, tt.wantDetail) {
				t.Errorf("detail %q does not contain %q", diags[0].Detail, tt.wantDetail)
			}
			if strings.Contains(diags[0].Detail, " | ") {
				t.Errorf("detail carries expr's own snippet: %q", diags[0].Detail)
			}
		})
	}
}
