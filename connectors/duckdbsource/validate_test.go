package duckdbsource

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/applink-dev/applink/connectors/snapshot"
	"github.com/applink-dev/applink/dsl"
	"github.com/hashicorp/hcl/v2"
)

// TestValidate: a missing, misplaced, foreign or incomplete file is one
// error at the path value; a usable file none. Nothing is created.
func TestValidate(t *testing.T) {
	dir := t.TempDir()
	snap := filepath.Join(dir, "snap")
	os.Mkdir(snap, 0o755)
	for name, h := range map[string]string{
		snapshot.AgentsFile: strings.Join(agentColumns, ","), snapshot.CallsFile: strings.Join(callColumns, ","), snapshot.BDFile: strings.Join(dsl.BDColumns, ","),
	} {
		if err := os.WriteFile(filepath.Join(snap, name), []byte(h+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	good := filepath.Join(dir, "good.duckdb")
	if err := Import(context.Background(), snap, good); err != nil {
		t.Fatal(err)
	}
	partial := filepath.Join(dir, "partial.duckdb")
	exec(t, partial, `CREATE TABLE calls (call_id VARCHAR)`)
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("not a database\n"), 0o644)

	rng := hcl.Range{Filename: "spec/main.hcl", Start: hcl.Pos{Line: 9, Column: 15, Byte: 120}, End: hcl.Pos{Line: 9, Column: 30, Byte: 135}}
	tests := []struct {
		name, path, want string // want: "Summary: detail substring"
	}{
		{"usable", good, ""},
		{"no path: the spec's error", "", ""},
		{"missing", filepath.Join(dir, "none.duckdb"), "DuckDB file not found: none.duckdb does not exist"},
		{"a folder", snap, "Not a DuckDB file: snap is a folder"},
		{"not a database", text, "Unusable DuckDB file: notes.txt"},
		{"tables missing", partial, "Unusable DuckDB file: lacks agents.user_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := filepath.Glob(filepath.Join(dir, "*"))
			diags := Validate(dsl.Source{Name: "dc1", Driver: "duckdb", Path: tt.path, PathRange: rng})
			if tt.want == "" {
				if len(diags) > 0 {
					t.Fatalf("diagnostics for a usable file: %v", diags)
				}
			} else {
				summary, detail, _ := strings.Cut(tt.want, ": ")
				if len(diags) != 1 || diags[0].Summary != summary || !strings.Contains(diags[0].Detail, detail) || *diags[0].Subject != rng {
					t.Fatalf("diagnostics = %v\nwant one %q at %v", diags, tt.want, rng)
				}
			}
			// DuckDB writes a .wal next to a file it opens for writing.
			if after, _ := filepath.Glob(filepath.Join(dir, "*")); strings.Join(after, " ") != strings.Join(before, " ") {
				t.Errorf("Validate changed the folder: %v, then %v", before, after)
			}
		})
	}
}
