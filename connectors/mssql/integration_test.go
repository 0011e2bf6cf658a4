package mssql

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/applink-dev/applink/connectors/demogen"
	"github.com/applink-dev/applink/connectors/snapshot"
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
	mssqldb "github.com/microsoft/go-mssqldb"
)

// TestIntegrationSQLServer runs the source against a real SQL Server (see
// README.md): it creates a scratch database with the Engage-shaped schema,
// loads the demo data (through the same inverse mapping as the DuckDB test),
// runs Check, then compares the source's rows with the snapshot source's for
// every push-down case, and the outbox of an engine run with the snapshot
// run's. Skipped unless APPLINK_TEST_MSSQL_DSN is set.
func TestIntegrationSQLServer(t *testing.T) {
	dsn := os.Getenv("APPLINK_TEST_MSSQL_DSN")
	if dsn == "" {
		t.Skip("APPLINK_TEST_MSSQL_DSN is not set; see connectors/mssql/README.md")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	admin, err := sql.Open("sqlserver", dsn)
	if err != nil {
		t.Fatal(redactDSN(err.Error()))
	}
	defer admin.Close()
	name := fmt.Sprintf("applink_test_%d", time.Now().UnixNano())
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+TSQL.Ident(name)); err != nil {
		t.Fatalf("creating scratch database: %v", err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_, _ = admin.ExecContext(ctx, "ALTER DATABASE "+TSQL.Ident(name)+" SET SINGLE_USER WITH ROLLBACK IMMEDIATE")
		if _, err := admin.ExecContext(ctx, "DROP DATABASE "+TSQL.Ident(name)); err != nil {
			t.Logf("dropping %s: %v", name, err)
		}
	})
	scratch, err := withDatabase(dsn, name)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlserver", scratch)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	opt := demogen.Options{Calls: 2000, BDFields: 8, Seed: 7, TenantIDs: []int64{1, 2}, Sites: []string{demoSite}}
	dir := demoData(t, opt)
	tables, indexes := schemaDDL(TSQL)
	for _, st := range tables {
		mustExec(t, db, st)
	}
	copyTables(ctx, t, engageDuckDB(t, dir), db)
	for _, st := range indexes {
		mustExec(t, db, st)
	}

	src := dsl.Source{Name: "dc1", Site: demoSite, DSN: scratch}
	var out bytes.Buffer
	if err := Check(ctx, src, time.Time{}, &out); err != nil {
		t.Fatalf("check: %v\n%s", err, out.String())
	}
	for _, want := range []string{"query calls readable", "query business_data readable", "total     2000", "round-trip latency"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("check output lacks %q:\n%s", want, out.String())
		}
	}
	t.Log(out.String())

	snap := snapshot.New(dir)
	all := readAllCalls(t, snap, engine.CallQuery{}, func(c *callRow) { c.CallID = canonID(t, c.CallID) })
	sortCalls(all)
	compareWithSnapshot(t, snap, all, opt, func(batch int) engine.Source {
		s := src
		s.BatchSize = batch
		es, err := Open(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { es.Close() })
		return es
	})
	t.Run("engine run equals snapshot run", func(t *testing.T) {
		s := src
		s.BatchSize = 700
		es, err := Open(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		defer es.Close()
		compareRuns(t, dir, opt, es)
	})
}

// withDatabase sets the database of a URL-form DSN.
func withDatabase(dsn, db string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme != "sqlserver" {
		return "", fmt.Errorf("APPLINK_TEST_MSSQL_DSN must be a sqlserver:// URL, got %s", redactDSN(dsn))
	}
	q := u.Query()
	q.Set("database", db)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// copyTables bulk-copies every Engage table from the DuckDB build to SQL
// Server, so both databases hold the very same rows.
func copyTables(ctx context.Context, t *testing.T, from, to *sql.DB) {
	t.Helper()
	for _, tb := range engageSchema {
		cols := make([]string, len(tb.cols))
		for i, c := range tb.cols {
			cols[i] = c.name
		}
		rows, err := from.QueryContext(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM "+tb.name)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := to.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		stmt, err := tx.PrepareContext(ctx, mssqldb.CopyIn(tb.name, mssqldb.BulkOptions{KeepNulls: true, Tablock: true}, cols...))
		if err != nil {
			t.Fatal(err)
		}
		vals, ptrs := scanTargets(len(cols))
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				if n, ok := intOf(v); ok {
					vals[i] = n // the bulk encoder wants int64 for every integer width
				}
			}
			if _, err := stmt.ExecContext(ctx, vals...); err != nil {
				t.Fatalf("copy %s: %v", tb.name, err)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		if _, err := stmt.ExecContext(ctx); err != nil {
			t.Fatalf("copy %s: %v", tb.name, err)
		}
		if err := stmt.Close(); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}
