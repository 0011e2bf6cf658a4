package dsl

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// golden compares got with testdata/NAME, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (-update to accept)\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// renderCase parses a diagnostic case shared with TestDiagnosticsGolden.
func renderCase(t *testing.T, name string) (*Spec, hcl.Diagnostics) {
	t.Helper()
	files, _ := readCase(t, filepath.Join("testdata", "diag", name+".txtar"))
	return Parse("spec", files)
}

func TestRenderers(t *testing.T) {
	spec, diags := renderCase(t, "expr_heredoc")
	dsnSpec, more := renderCase(t, "dsn_password")
	diags = append(diags, more...)
	diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No subject", Detail: "Line one,\nline two: 100%."})

	t.Run("json", func(t *testing.T) {
		b, err := DiagnosticsJSON(dsnSpec, diags)
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "render/diagnostics.json", b)
	})
	t.Run("json empty is an array", func(t *testing.T) {
		b, err := DiagnosticsJSON(nil, nil)
		if err != nil || string(b) != "[]\n" {
			t.Errorf("got %q, %v", b, err)
		}
	})
	t.Run("github", func(t *testing.T) {
		var buf bytes.Buffer
		if err := WriteGitHubAnnotations(&buf, dsnSpec, diags); err != nil {
			t.Fatal(err)
		}
		golden(t, "render/github.txt", buf.Bytes())
	})
	t.Run("text wrapped", func(t *testing.T) {
		var buf bytes.Buffer
		// Only diagnostics of the spec whose files are passed: each case is
		// its own spec/main.hcl.
		own := hcl.Diagnostics{diags[1], diags[2]}
		if err := WriteDiagnostics(&buf, dsnSpec, own, 60, false); err != nil {
			t.Fatal(err)
		}
		golden(t, "render/text-width60.txt", buf.Bytes())
	})
	t.Run("text without spec", func(t *testing.T) {
		var buf bytes.Buffer
		if err := WriteDiagnostics(&buf, nil, diags[:1], 0, false); err != nil {
			t.Fatal(err)
		}
		want := "Error: Invalid expression\n\n  on spec/main.hcl line 16:\n  (source code not available)\n\nType dsl.Agent has no field emial. Did you mean \"email\"?\n\n"
		if buf.String() != want {
			t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
		}
	})
	t.Run("text in color keeps the caret", func(t *testing.T) {
		var buf bytes.Buffer
		if err := WriteDiagnostics(&buf, spec, diags[:1], 0, true); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), "\x1b[") || !strings.Contains(buf.String(), "\n                   ^^^^^\n") {
			t.Errorf("colored output:\n%q", buf.String())
		}
	})
	t.Run("pos", func(t *testing.T) {
		tests := []struct {
			d    *hcl.Diagnostic
			want string
		}{
			{diags[0], "spec/main.hcl:16,14-19"},
			{diags[2], ""},
			{nil, ""},
			{&hcl.Diagnostic{Subject: &hcl.Range{Filename: "f.hcl", Start: hcl.Pos{Line: 1, Column: 2}, End: hcl.Pos{Line: 3, Column: 4}}}, "f.hcl:1,2-3,4"},
		}
		for _, tt := range tests {
			if got := Pos(tt.d); got != tt.want {
				t.Errorf("Pos = %q, want %q", got, tt.want)
			}
		}
	})
}

func TestFormat(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "format", "messy.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	got := Format(src)
	golden(t, "format/messy.hcl.golden", got)
	if again := Format(got); !bytes.Equal(again, got) {
		t.Errorf("Format is not idempotent:\n%s", again)
	}
	// Formatting never changes meaning.
	_, d1 := Parse("x", map[string][]byte{"a.hcl": src})
	_, d2 := Parse("x", map[string][]byte{"a.hcl": got})
	if len(d1) != len(d2) {
		t.Errorf("diagnostics before/after format: %d vs %d", len(d1), len(d2))
	}

	dir := t.TempDir()
	canonical := Format([]byte(minimal))
	for name, b := range map[string][]byte{"messy.hcl": src, "tidy.hcl": canonical, "notes.txt": src} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	changed, err := FormatDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) != 1 || !bytes.Equal(changed["messy.hcl"][0], src) || !bytes.Equal(changed["messy.hcl"][1], got) {
		t.Errorf("FormatDir changed = %v", keys(changed))
	}
	if _, err := FormatDir(filepath.Join(dir, "missing")); err == nil {
		t.Error("FormatDir of a missing folder: no error")
	}
}
