package migrations

import (
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// The rendered DDL of each dialect is what testdata holds: a change to the
// templates shows as a diff of what each database gets.
func TestRenderedDDL(t *testing.T) {
	for name, d := range map[string]Dialect{"duckdb": DuckDB, "postgres": Postgres} {
		fsys, err := FS(d)
		if err != nil {
			t.Fatal(err)
		}
		names, _ := fs.Glob(fsys, "*.sql")
		if len(names) != int(Latest()) {
			t.Fatalf("%s: %d migrations, latest %d", name, len(names), Latest())
		}
		for _, n := range names {
			got, _ := fs.ReadFile(fsys, n)
			golden := filepath.Join("testdata", name, n)
			if *update {
				os.MkdirAll(filepath.Dir(golden), 0o755)
				os.WriteFile(golden, got, 0o644)
				continue
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if string(got) != string(want) {
				t.Errorf("%s %s:\n%s\nwant\n%s", name, n, got, want)
			}
		}
	}
}
