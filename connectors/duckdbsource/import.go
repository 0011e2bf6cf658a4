package duckdbsource

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Import writes a DuckDB file holding a snapshot folder's three CSV files
// as tables agents, calls and business_data, every column VARCHAR as in the
// file, so a bad cell stays a bad row for the reader to report rather than
// failing the import. The file must not exist.
func Import(ctx context.Context, snapshotDir, dbPath string) error {
	if _, err := os.Stat(dbPath); err == nil {
		return fmt.Errorf("import: %s already exists", dbPath)
	}
	db, err := sql.Open("duckdb", dbPath)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer db.Close()
	for _, t := range []struct{ table, file string }{{"agents", "agents.csv"}, {"calls", "calls.csv"}, {"business_data", "business_data.csv"}} {
		// read_csv takes its path as a literal, not a parameter: quote it.
		path := "'" + strings.ReplaceAll(filepath.Join(snapshotDir, t.file), "'", "''") + "'"
		st := "CREATE TABLE " + t.table + " AS SELECT * FROM read_csv(" + path +
			", header = true, all_varchar = true, quote = '\"', escape = '\"', strict_mode = true)"
		if _, err := db.ExecContext(ctx, st); err != nil {
			return fmt.Errorf("import %s: %w", t.file, err)
		}
	}
	return nil
}
