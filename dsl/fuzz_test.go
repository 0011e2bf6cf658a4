package dsl

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
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
	f.Add([]byte(maskCase))
	f.Add([]byte("source \"engage\" \"a\" {\n  dsn = \"server=x;pwd=\\u00e9abcd\"\n  password = <<EOT\n  two\n  lines\nEOT\n}\n# pwd=\u00e9abcd\n"))
	f.Add([]byte("calls {\n  where = \"\\u00e9 == call.skil\"\n}\n"))
	f.Add([]byte("calls {\n  where = <<-EXPR\n\t  call.x\n  EXPR\n}\n"))
	f.Add([]byte("calls { where = \"$${x} %%{y} == call.z\" }"))
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, diags := Parse("spec", map[string][]byte{"main.hcl": data})
		if spec == nil {
			t.Fatal("nil spec")
		}
		checkSubjects(t, diags)
		var text, gh bytes.Buffer
		if err := WriteDiagnostics(&text, spec, diags, 80, false); err != nil {
			t.Fatal(err)
		}
		js, err := DiagnosticsJSON(spec, diags)
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteGitHubAnnotations(&gh, spec, diags); err != nil {
			t.Fatal(err)
		}
		// No renderer shows a secret the scan found.
		for _, s := range spec.secretText {
			if len(s) < minMaskText || strings.ContainsRune(s, '\n') {
				continue
			}
			for name, out := range map[string][]byte{"text": text.Bytes(), "json": js, "github": gh.Bytes()} {
				if bytes.Contains(out, []byte(s)) {
					t.Fatalf("%s output shows the secret %q:\n%s", name, s, out)
				}
			}
		}
		_ = Format(data)
	})
}
