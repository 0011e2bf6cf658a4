package mssql

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/applink-dev/applink/dsl"
	mssqldb "github.com/microsoft/go-mssqldb"
)

// TestClassify pins the one-line message of every failure class check
// names; the driver errors are the values go-mssqldb returns for them.
func TestClassify(t *testing.T) {
	c, err := parseSource(dsl.Source{Name: "dc1", DSN: "sqlserver://applink:T0pS3cret@db.acme.example:1433?database=nice_interactions"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  error
		kind string
		msg  string
	}{
		{"other dial error", fmt.Errorf("unable to open tcp connection with host 'db.acme.example:1433': %w", &net.OpError{Op: "dial", Net: "tcp", Err: &net.AddrError{}}), KindOther, "source dc1: db.acme.example:1433: unable to open tcp connection"},
		{"refused errno", fmt.Errorf("unable to open tcp connection: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), KindRefused, "source dc1: cannot connect to db.acme.example:1433: connection refused"},
		{"dns", fmt.Errorf("unable to open tcp connection: %w", &net.DNSError{Err: "no such host", Name: "db.acme.example", IsNotFound: true}), KindDNS, `source dc1: cannot resolve host "db.acme.example": DNS lookup failed (no such host)`},
		{"timeout", context.DeadlineExceeded, KindTimeout, "source dc1: cannot connect to db.acme.example:1433: timed out"},
		{"login", mssqldb.Error{Number: 18456, Message: "login error: Login failed for user 'applink'."}, KindLogin, `source dc1: login failed at db.acme.example:1433 for user "applink": login error: Login failed for user 'applink'.`},
		{"database", mssqldb.Error{Number: 4060, Message: "Cannot open database \"nice_interactions\" requested by the login."}, KindDatabase, `source dc1: cannot open database "nice_interactions" at db.acme.example:1433`},
		{"table", fmt.Errorf("source dc1: query calls: %w", mssqldb.Error{Number: 208, Message: "Invalid object name 'tblInteraction'."}), KindTable, "source dc1: missing table or column at db.acme.example:1433 (check the Engage version or override the query in `queries`): Invalid object name 'tblInteraction'."},
		{"permission", mssqldb.Error{Number: 229, Message: "The SELECT permission was denied on the object 'tblRecording'."}, KindPermission, "source dc1: permission denied at db.acme.example:1433 (grant SELECT to the login): The SELECT permission was denied"},
		{"password in driver text", errors.New("weird failure mentioning T0pS3cret"), KindOther, "source dc1: db.acme.example:1433: weird failure mentioning ****"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify(c, tt.err)
			var ce *CheckError
			if !errors.As(err, &ce) {
				t.Fatalf("%T, want *CheckError", err)
			}
			if ce.Kind != tt.kind || !strings.HasPrefix(ce.Error(), tt.msg) {
				t.Errorf("kind %s, message %q\nwant kind %s, message starting %q", ce.Kind, ce.Error(), tt.kind, tt.msg)
			}
			if strings.Contains(ce.Error(), "T0pS3cret") || strings.Contains(ce.Error(), "\n") {
				t.Errorf("message has the password or several lines: %q", ce.Error())
			}
		})
	}
}

// specSource decodes a source block (with the spec block it needs) the
// way `applink check` gets it, ranges included.
func specSource(t *testing.T, block string) dsl.Source {
	t.Helper()
	files := map[string][]byte{"main.hcl": []byte(`spec {
  customer     = "acme"
  cxone_tenant = "acme-eu1"
  installed_at = "2026-11-01T00:00:00Z"
}
` + block)}
	spec, diags := dsl.Parse("spec", files)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return spec.Sources[0]
}

// TestCheckEngage runs check on the Engage fixture and on variants of it:
// each variant is one thing a consultant finds on site, and check must
// name it, with the nearest existing name and the spec line when the name
// came from the spec.
func TestCheckEngage(t *testing.T) {
	f := newEngageFixture(t, demoOptions(300))
	var maps strings.Builder
	for _, p := range f.media.PathMaps {
		fmt.Fprintf(&maps, "    path_map {\n      from = %q\n      to   = %q\n    }\n", p.From, p.To)
	}
	block := func(engage string) dsl.Source {
		queries := ""
		if q, ok := strings.CutPrefix(engage, "queries:"); ok {
			queries, engage = q, ""
		}
		return specSource(t, `source "engage" "dc1" {
  driver    = "mssql"
  dsn       = "sqlserver://engage?database=nice_interactions"
  system_id = "engage-acme"`+queries+`
  engage {
`+engage+`
  }
  media {
`+maps.String()+`  }
}
`)
	}
	check := func(t *testing.T, src dsl.Source) (string, error) {
		t.Helper()
		var out strings.Builder
		err := checkDB(context.Background(), f.db, DuckDB, src, f.from, &out)
		var ce *CheckError
		if err != nil && (!errors.As(err, &ce) || ce.Kind != KindMapping) {
			t.Fatalf("check failed: %v\n%s", err, out.String())
		}
		return out.String(), err
	}
	// alter changes the fixture until the subtest ends. DuckDB alters no
	// table that has an index: the table's index goes for that time.
	alter := func(t *testing.T, table, do, undo string) {
		db, _, _ := strings.Cut(table, ".")
		name := table[strings.LastIndex(table, ".")+1:]
		ix := DuckDB.Ident(db) + "." + DuckDB.Ident(DefaultSchema) + "." + DuckDB.Ident("ix_"+name)
		mustExec(t, f.db, "DROP INDEX "+ix)
		mustExec(t, f.db, do)
		_, ixs := schemaDDL(DuckDB, [3]string{DefaultInteractionsDatabase, DefaultStorageDatabase, DefaultAdminDatabase}, engageTables(fixtureSets, fixtureStorage))
		t.Cleanup(func() {
			mustExec(t, f.db, undo)
			for _, st := range ixs {
				if strings.Contains(st, DuckDB.Ident("ix_"+name)+" ") {
					mustExec(t, f.db, st)
				}
			}
		})
	}
	// The default calls query of one set, as a spec's own query.
	dm, err := newMapping(DuckDB, dsl.Source{})
	if err != nil {
		t.Fatal(err)
	}
	callsPerSet, err := dm.callsSet(setToken, fixtureStorage, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		engage string
		setup  func(t *testing.T)
		want   []string // lines of the output, in order
		clean  bool
	}{
		{name: "fits", clean: true, want: []string{
			"source dc1: databases: interactions nice_interactions, storage nice_storage_center, admin nice_admin; schema dbo",
			"source dc1: interaction catalog nice_interactions.dbo.tblInteractionCatalog: 3 sets; the window (from 2026-10-27T00:00:00Z) reads 2",
			"source dc1: storage-center tables in nice_storage_center.dbo: tblStorageCenter01, tblStorageCenter02",
			"source dc1: query agents readable", "source dc1: query calls readable", "source dc1: query business_data readable",
			"source dc1:   set 1 (2026-10-25 ", "): not read, it ends before the window",
			"source dc1:   set 2 (2026-10-26 ", "): read, ", " calls in the window",
			"source dc1:   set 3 (2026-10-30 ",
			"source dc1: calls per day since 2026-10-27:",
			"source dc1: media: 20 of the 20 most recent recordings readable",
			"source dc1: no findings",
		}},
		{name: "missing column", setup: func(t *testing.T) {
			alter(t, "nice_interactions.dbo.tblInteraction3", "ALTER TABLE nice_interactions.dbo.tblInteraction3 RENAME COLUMN iTenantID TO iTenantKey",
				"ALTER TABLE nice_interactions.dbo.tblInteraction3 RENAME COLUMN iTenantKey TO iTenantID")
		}, want: []string{
			`source dc1: finding: missing column iTenantID in nice_interactions.dbo.tblInteraction3 (ASSUMED column, read by calls.tenant_id); nearest: iTenantKey; to read it elsewhere: engage { column "tenant_id" { sql = "…" } } (a single-tenant Engage: sql = "0")`,
			"source dc1: 1 finding: the mapping does not fit this Engage",
		}},
		{name: "missing column fixed in the spec", clean: true, engage: `    column "tenant_id" {
      sql = "COALESCE(i.iTenantKey, 1)"
    }`, setup: func(t *testing.T) {
			for _, n := range fixtureSets {
				alter(t, "nice_interactions.dbo.tblInteraction"+n, "ALTER TABLE nice_interactions.dbo.tblInteraction"+n+" RENAME COLUMN iTenantID TO iTenantKey",
					"ALTER TABLE nice_interactions.dbo.tblInteraction"+n+" RENAME COLUMN iTenantKey TO iTenantID")
			}
		}, want: []string{"source dc1: no findings"}},
		{name: "column named in the spec missing", engage: `    column "skill" {
      sql = "i.nvcSkill"
    }`, want: []string{
			"spec/main.hcl:12,13: source dc1: finding: missing column nvcSkill in nice_interactions.dbo.tblInteraction2 and tblInteraction3 (named in the spec, read by calls.skill); nearest: nvcSkillName",
		}},
		{name: "renamed table", setup: func(t *testing.T) {
			alter(t, "nice_admin.dbo.tblUser", "ALTER TABLE nice_admin.dbo.tblUser RENAME TO tblUsers", "ALTER TABLE nice_admin.dbo.tblUsers RENAME TO tblUser")
		}, want: []string{
			"source dc1: finding: missing table nice_admin.dbo.tblUser (ASSUMED name: users, read by the agents query); nearest: tblUsers",
			"source dc1: query calls readable",
		}},
		{name: "database named in the spec missing", engage: `    storage_database = "nice_storage"`, want: []string{
			`spec/main.hcl:11,24: source dc1: finding: database "nice_storage" (storage_database) does not exist or the login cannot see it; nearest: nice_storage_center`,
			"source dc1: query agents readable", "source dc1: query business_data readable",
			"source dc1: 1 finding: the mapping does not fit this Engage",
		}},
		{name: "column SQL the server refuses", engage: `    column "duration_ms" {
      sql = "i.biInteractionDuration / "
    }`, want: []string{
			"source dc1: query agents readable",
			"spec/main.hcl:12,13: source dc1: finding: the SQL of column duration_ms: ",
			"source dc1: query business_data readable",
			"source dc1: 1 finding",
		}},
		{name: "calls query of the spec, per set", clean: true, engage: "queries:\n  queries {\n    calls = <<-SQL\n" + callsPerSet + "\n    SQL\n  }", want: []string{
			"source dc1: interaction catalog nice_interactions.dbo.tblInteractionCatalog: 3 sets; the window (from 2026-10-27T00:00:00Z) reads 2",
			"source dc1: query calls readable",
			"source dc1:   set 2 (2026-10-26 ", "): read, ",
			"source dc1: media: 20 of the 20 most recent recordings readable",
			"source dc1: no findings",
		}},
		{name: "unreadable media file", setup: func(t *testing.T) {
			// The newest recordings' files: one gone, one empty.
			s := f.source(t, 0)
			w := callWindow{from: f.from}
			var err error
			if w.calls, err = s.m.callsBase([]string{"2", "3"}, fixtureStorage, nil); err != nil {
				t.Fatal(err)
			}
			q := recentMediaQuery(DuckDB, w, 2)
			rows, err := f.db.Query(q.SQL, q.Args...)
			if err != nil {
				t.Fatal(err)
			}
			var files []string
			for rows.Next() {
				var p string
				if err := rows.Scan(&p); err != nil {
					t.Fatal(err)
				}
				local, err := s.media.local(p)
				if err != nil {
					t.Fatal(err)
				}
				files = append(files, local)
			}
			rows.Close()
			if len(files) != 2 {
				t.Fatalf("%d recent media files", len(files))
			}
			for i, p := range files {
				body, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					err = os.Remove(p)
				} else {
					err = os.WriteFile(p, nil, 0o644)
				}
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.WriteFile(p, body, 0o644) })
			}
		}, want: []string{
			"source dc1: media: 18 of the 20 most recent recordings readable",
			"source dc1: finding: unreadable media \\\\", "no such file or directory",
			"source dc1: finding: unreadable media \\\\", " is empty",
			"source dc1: 2 findings: the mapping does not fit this Engage",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup(t)
			}
			out, err := check(t, block(tt.engage))
			if tt.clean != (err == nil) {
				t.Errorf("err = %v, want clean %v\n%s", err, tt.clean, out)
			}
			if err != nil {
				out += err.Error() // what `applink check` prints last
			}
			rest := out
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks %q (in order):\n%s", w, out)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}
