package mssql

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/applink-dev/applink/connectors/snapshot"
	"github.com/applink-dev/applink/connectors/sqlrow"
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
	mssqldb "github.com/microsoft/go-mssqldb"
)

// TestIntegrationSQLServer runs the source against a real SQL Server (see
// README.md): it creates three scratch databases in the public Engage
// layout from the script testdata/engage_schema.tsql.sql, copies the DuckDB
// fixture's rows into them (the same demo data, media files under a temp
// mount), runs Check, then compares the source's rows with the snapshot
// source's for every push-down case, and an engine run's outbox, ledger and
// report with the snapshot run's. Skipped unless APPLINK_TEST_MSSQL_DSN is
// set.
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
	stamp := time.Now().UnixNano()
	var dbs [3]string
	for role, suffix := range [...]string{dbInteractions: "interactions", dbStorage: "storage", dbAdmin: "admin"} {
		name := fmt.Sprintf("applink_test_%d_%s", stamp, suffix)
		dbs[role] = name
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
	}
	script, err := os.ReadFile(filepath.Join("testdata", "engage_schema.tsql.sql"))
	if err != nil {
		t.Fatal(err)
	}
	tables, indexes := scriptBatches(string(script), dbs)
	for _, st := range tables {
		mustExec(t, admin, st)
	}
	f := newEngageFixture(t, demoOptions(2000))
	for role, name := range dbs {
		scratch, err := withDatabase(dsn, name)
		if err != nil {
			t.Fatal(err)
		}
		to, err := sql.Open("sqlserver", scratch)
		if err != nil {
			t.Fatal(err)
		}
		copyTables(ctx, t, f.db, to, dbRole(role))
		to.Close()
	}
	for _, st := range indexes {
		mustExec(t, admin, st)
	}

	scratch, err := withDatabase(dsn, dbs[dbInteractions])
	if err != nil {
		t.Fatal(err)
	}
	src := dsl.Source{Name: "dc1", Site: demoSite, DSN: scratch, Media: f.media, Engage: &dsl.Engage{
		InteractionsDatabase: dsl.EngageSetting{Value: dbs[dbInteractions]},
		StorageDatabase:      dsl.EngageSetting{Value: dbs[dbStorage]},
		AdminDatabase:        dsl.EngageSetting{Value: dbs[dbAdmin]},
	}}
	var out bytes.Buffer
	if err := Check(ctx, src, f.from, &out); err != nil {
		t.Fatalf("check: %v\n%s", err, out.String())
	}
	for _, want := range []string{"query calls readable", "query business_data readable", "set 1 (", "not read", "media: 20 of the 20 most recent recordings readable", "no findings"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("check output lacks %q:\n%s", want, out.String())
		}
	}
	t.Log(out.String())

	snap := snapshot.New(f.dir)
	all := readAllCalls(t, snap, connector.CallQuery{}, func(c *callRow) { engageForm(t, c) })
	sortCalls(all)
	compareWithSnapshot(t, snap, all, f.opt, func(batch int) connector.Source {
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
		compareRuns(t, f.dir, f.opt, es)
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

// copyTables bulk-copies the fixture's tables of one database from the
// DuckDB build to SQL Server, so both hold the very same rows.
func copyTables(ctx context.Context, t *testing.T, from, to *sql.DB, role dbRole) {
	t.Helper()
	dbName := [...]string{dbInteractions: DefaultInteractionsDatabase, dbStorage: DefaultStorageDatabase, dbAdmin: DefaultAdminDatabase}[role]
	for _, tb := range engageTables(fixtureSets, fixtureStorage) {
		if tb.db != role {
			continue
		}
		cols := make([]string, len(tb.cols))
		for i, c := range tb.cols {
			cols[i] = c.name
		}
		rows, err := from.QueryContext(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM "+dbName+".dbo."+tb.name)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := to.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		stmt, err := tx.PrepareContext(ctx, mssqldb.CopyIn("dbo."+tb.name, mssqldb.BulkOptions{KeepNulls: true, Tablock: true}, cols...))
		if err != nil {
			t.Fatal(err)
		}
		vals, ptrs := sqlrow.ScanTargets(len(cols))
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				if n, ok := sqlrow.Integer(v); ok {
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
