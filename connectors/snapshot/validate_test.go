package snapshot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/applink-dev/applink/dsl"
	"github.com/hashicorp/hcl/v2"
)

// TestValidate: every way a snapshot folder can be unusable is one error
// at the path value, and a usable one gives none; nothing is created.
func TestValidate(t *testing.T) {
	good := writeSnapshot(t, "", "", "")
	noBD := writeSnapshot(t, "", "", "")
	os.Remove(filepath.Join(noBD, BDFile))
	os.Remove(filepath.Join(noBD, CallsFile))
	badHeader := writeSnapshot(t, "", "!call_id,tenant\n", "!")
	file := filepath.Join(good, CallsFile)
	rng := hcl.Range{Filename: "spec/main.hcl", Start: hcl.Pos{Line: 9, Column: 15, Byte: 120}, End: hcl.Pos{Line: 9, Column: 21, Byte: 126}}
	tests := []struct {
		name, path string
		want       []string // "Summary: detail substring"
	}{
		{"usable", good, nil},
		{"no path: the spec's error", "", nil},
		{"missing folder", filepath.Join(good, "nope"), []string{"Snapshot folder not found: nope does not exist"}},
		{"a file", file, []string{"Not a snapshot folder: calls.csv is a file"}},
		{"missing files", noBD, []string{"Snapshot files missing: has no calls.csv, business_data.csv:"}},
		{"bad and empty headers", badHeader, []string{
			`Unreadable snapshot file: calls.csv: header ["call_id" "tenant"] does not match`,
			"Unreadable snapshot file: business_data.csv is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := listDir(t, filepath.Dir(good))
			diags := Validate(dsl.Source{Name: "dc1", Driver: "snapshot", Path: tt.path, PathRange: rng})
			if len(diags) != len(tt.want) {
				t.Fatalf("got %d diagnostics, want %d: %v", len(diags), len(tt.want), diags)
			}
			for i, d := range diags {
				summary, detail, _ := strings.Cut(tt.want[i], ": ")
				if d.Severity != hcl.DiagError || d.Summary != summary || !strings.Contains(d.Detail, detail) {
					t.Errorf("diagnostic %d = %s: %s\nwant %s: …%s…", i, d.Summary, d.Detail, summary, detail)
				}
				if *d.Subject != rng {
					t.Errorf("subject %v, want the path value %v", d.Subject, rng)
				}
			}
			if after := listDir(t, filepath.Dir(good)); after != before {
				t.Errorf("Validate changed the folder:\n%s\n%s", before, after)
			}
		})
	}
}

func listDir(t *testing.T, dir string) string {
	t.Helper()
	var names []string
	filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		names = append(names, p)
		return err
	})
	return strings.Join(names, "\n")
}
