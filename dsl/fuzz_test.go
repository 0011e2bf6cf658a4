package dsl

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse as a one-file spec: it must not
// panic, every error must carry a subject naming its file, and the
// renderers must accept whatever Parse produced.
func FuzzParse(f *testing.F) {
	paths, _ := filepath.Glob("testdata/diag/*.txtar")
	for _, p := range paths {
		files, _ := readCase(f, p)
		for _, b := range files {
			f.Add(b)
		}
	}
	clean, _ := filepath.Glob("testdata/clean/*.hcl")
	for _, p := range clean {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(minimal))
	f.Add([]byte("calls {\n  where = \"\\u00e9 == call.skil\"\n}\n"))
	f.Add([]byte("calls {\n  where = <<-EXPR\n\t  call.x\n  EXPR\n}\n"))
	f.Add([]byte("calls { where = \"$${x} %%{y} == call.z\" }"))
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, diags := Parse("spec", map[string][]byte{"main.hcl": data})
		if spec == nil {
			t.Fatal("nil spec")
		}
		checkSubjects(t, diags)
		if err := WriteDiagnostics(io.Discard, spec, diags, 80, false); err != nil {
			t.Fatal(err)
		}
		if _, err := DiagnosticsJSON(diags); err != nil {
			t.Fatal(err)
		}
		_ = Format(data)
	})
}
