package mssql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/applink-dev/applink/connectors/demogen"
	"github.com/applink-dev/applink/connectors/snapshot"
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/duckdb/duckdb-go/v2"
)

const demoSite = "dc1"

// Unit roots of the fixture, as tblScSamUnit holds them.
var unitRoots = map[int64]string{1: `\\nas01\NICE\Archive`, 2: `\\NAS02\rec\`}

// engageFixture is an Engage in the public layout, in DuckDB (three
// attached catalogs), built from demo data with the inverse of the default
// mapping (loadEngage), and the demo's media files copied under a temp
// mount the way the units' UNC roots map to it.
type engageFixture struct {
	db    *sql.DB
	dbDir string
	dir   string // the snapshot folder of the same data
	opt   demogen.Options
	from  time.Time       // the demo spec's window
	media *dsl.Media      // path maps to the mount
	bytes map[string]bool // distinct media contents written
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func demoData(t testing.TB, opt demogen.Options) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := demogen.Generate(dir, opt); err != nil {
		t.Fatal(err)
	}
	return dir
}

// demoOptions is the fixture's data: two tenants (the demo spec keeps
// tenant 1), media files.
func demoOptions(calls int) demogen.Options {
	return demogen.Options{Calls: calls, BDFields: 8, Seed: 7, TenantIDs: []int64{1, 2}, Sites: []string{demoSite}, MediaFiles: true}
}

// openEngage opens the fixture's main DuckDB file with the three Engage
// databases attached on every connection.
func openEngage(t testing.TB, dir string) *sql.DB {
	t.Helper()
	c, err := duckdb.NewConnector(filepath.Join(dir, "main.duckdb"), func(ex driver.ExecerContext) error {
		stmts := []string{"SET TimeZone = 'UTC'"}
		for _, db := range []string{DefaultInteractionsDatabase, DefaultStorageDatabase, DefaultAdminDatabase} {
			stmts = append(stmts, "ATTACH IF NOT EXISTS "+sqlString(filepath.Join(dir, db+".duckdb"))+" AS "+db)
		}
		for _, st := range stmts {
			if _, err := ex.ExecContext(context.Background(), st, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	return db
}

func newEngageFixture(t testing.TB, opt demogen.Options) *engageFixture {
	t.Helper()
	f := &engageFixture{dir: demoData(t, opt), opt: opt, dbDir: t.TempDir(), bytes: map[string]bool{}}
	f.from = opt.WithDefaults().BackfillRequestedAt.Add(-7 * 24 * time.Hour)
	mount := t.TempDir()
	f.media = &dsl.Media{PathMaps: []dsl.PathMap{
		{From: `\\nas01\NICE`, To: filepath.Join(mount, "nas01")},
		{From: `//nas02/REC`, To: filepath.Join(mount, "nas02", "rec")},
	}}
	// Distinct bytes per file (the demo writes one placeholder), in the
	// snapshot folder and under the mount where its unit's root maps.
	err := filepath.WalkDir(filepath.Join(f.dir, "media"), func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(f.dir, p)
		body := []byte("RIFF demo audio of " + filepath.ToSlash(rel))
		f.bytes[string(body)] = true
		n, err := strconv.ParseInt(strings.TrimLeft(strings.TrimSuffix(e.Name(), ".wav"), "C"), 10, 64)
		if err != nil {
			return err
		}
		local := filepath.Join(mount, "nas01", "Archive", rel)
		if n%2 == 0 {
			local = filepath.Join(mount, "nas02", "rec", rel)
		}
		for _, dst := range []string{p, local} {
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(dst, body, 0o644); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.bytes) < opt.WithDefaults().Calls/2 {
		t.Fatalf("%d media files: the fixture tests nothing", len(f.bytes))
	}

	f.db = openEngage(t, f.dbDir)
	tables, indexes := schemaDDL(DuckDB, [3]string{DefaultInteractionsDatabase, DefaultStorageDatabase, DefaultAdminDatabase}, engageTables(fixtureSets, fixtureStorage))
	for _, st := range tables {
		mustExec(t, f.db, st)
	}
	for _, st := range loadEngage(f.from.Format("2006-01-02 15:04:05")) {
		if strings.Contains(st, "%[") {
			st = fmt.Sprintf(st, sqlString(filepath.Join(f.dir, "calls.csv")), sqlString(filepath.Join(f.dir, "agents.csv")), sqlString(filepath.Join(f.dir, "business_data.csv")))
		}
		mustExec(t, f.db, st)
	}
	for _, st := range indexes {
		mustExec(t, f.db, st)
	}
	return f
}

// source opens the mssql source on the fixture (DuckDB dialect).
func (f *engageFixture) source(t testing.TB, batch int, mod ...func(*dsl.Source)) *Source {
	t.Helper()
	src := dsl.Source{Name: "dc1", Site: demoSite, BatchSize: batch, Media: f.media}
	for _, m := range mod {
		m(&src)
	}
	s, err := New(f.db, DuckDB, src)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustExec(t testing.TB, db *sql.DB, st string) {
	t.Helper()
	if _, err := db.Exec(st); err != nil {
		t.Fatalf("%v\n%s", err, st)
	}
}

// canonID is the Engage form of a demo ID: "C0000042" → "42".
func canonID(t testing.TB, id string) string {
	t.Helper()
	n, err := strconv.ParseInt(strings.TrimLeft(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"), 10, 64)
	if err != nil {
		t.Fatalf("demo ID %q has no number", id)
	}
	return strconv.FormatInt(n, 10)
}

// engageForm is a snapshot call as the default mapping reads it back from
// the fixture: numeric ID; media_path the unit's root joined with the
// archive path (archived calls only); audio_packets a presence flag.
func engageForm(t testing.TB, c *callRow) {
	n, _ := strconv.ParseInt(canonID(t, c.CallID), 10, 64)
	mp := ""
	if c.Archived {
		arch := c.MediaPath
		if arch == "" {
			arch = "media/noaudio/" + c.CallID + ".nmf"
		}
		if n%2 == 1 { // odd calls are on unit 1, even ones on unit 2
			mp = unitRoots[1]
		} else {
			mp = unitRoots[2]
		}
		mp += `\` + strings.ReplaceAll(arch, "/", `\`)
	}
	c.MediaPath = mp
	if c.Archived && c.AudioPackets > 0 {
		c.AudioPackets = 1
	} else {
		c.AudioPackets = 0
	}
	c.CallID = canonID(t, c.CallID)
}

// callRow is a call as compared: the canonical call, its business data by
// name, and whether it was a bad row.
type callRow struct {
	dsl.Call
	BD  map[string]string
	Bad string
}

func readAllCalls(t testing.TB, src connector.Source, q connector.CallQuery, fix func(*callRow)) []callRow {
	t.Helper()
	names := connector.NewNames()
	q.Names = names
	var out []callRow
	err := src.ReadCalls(context.Background(), q, func(r *connector.CallRecord) error {
		c := callRow{Call: r.Call, BD: map[string]string{}}
		c.StartTime = c.StartTime.UTC()
		for _, f := range r.BD {
			c.BD[names.Name(f.Name)] = string(f.Value)
		}
		if r.Err != nil {
			c.Bad = r.Err.Error()
		}
		if fix != nil {
			fix(&c)
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type agentRow struct {
	connector.AgentRecord
	Bad bool
}

func readAllAgents(t testing.TB, src connector.Source) []agentRow {
	t.Helper()
	var out []agentRow
	err := src.ReadAgents(context.Background(), func(r *connector.AgentRecord) error {
		a := agentRow{AgentRecord: *r, Bad: r.Err != nil}
		a.Pos, a.Err = "", nil
		a.CreatedAt = a.CreatedAt.UTC()
		out = append(out, a)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(out, func(a, b agentRow) int {
		return strings.Compare(a.UserID+"\x00"+a.AgentID, b.UserID+"\x00"+b.AgentID)
	})
	return out
}

func sortCalls(cs []callRow) {
	slices.SortStableFunc(cs, func(a, b callRow) int {
		if c := a.StartTime.Compare(b.StartTime); c != 0 {
			return c
		}
		x, _ := strconv.ParseInt(a.CallID, 10, 64)
		y, _ := strconv.ParseInt(b.CallID, 10, 64)
		return int(x - y)
	})
}

func diffCalls(t *testing.T, got, want []callRow) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d calls, want %d", len(got), len(want))
	}
	bad := 0
	for i := range min(len(got), len(want)) {
		if g, w := fmt.Sprintf("%+v", got[i]), fmt.Sprintf("%+v", want[i]); g != w {
			t.Errorf("call %d:\n got  %s\n want %s", i, g, w)
			if bad++; bad == 5 {
				t.Fatal("too many differences")
			}
		}
	}
}

// TestEngageDuckDB runs the DuckDB rendering of the very query plans SQL
// Server gets against an Engage in the public layout holding the demo
// data, and checks the canonical rows equal the snapshot source's on the
// same data, for every push-down case and for pages small enough to split
// ties; then that an engine run writes the snapshot run's outbox, ledger
// and report counts, media bytes included.
func TestEngageDuckDB(t *testing.T) {
	f := newEngageFixture(t, demoOptions(2000))
	snap := snapshot.New(f.dir)
	all := readAllCalls(t, snap, connector.CallQuery{}, func(c *callRow) { engageForm(t, c) })
	sortCalls(all)
	if len(all) != 2000 {
		t.Fatalf("snapshot gave %d calls", len(all))
	}
	compareWithSnapshot(t, snap, all, f.opt, func(batch int) connector.Source { return f.source(t, batch) })
	t.Run("engine run equals snapshot run", func(t *testing.T) {
		compareRuns(t, f.dir, f.opt, f.source(t, 700))
	})
	withColumn := func(batch int, name, sql string) connector.Source {
		return f.source(t, batch, func(s *dsl.Source) {
			q, c, _ := strings.Cut(name, ".")
			if c == "" {
				q, c = QueryCalls, name
			}
			s.Engage = &dsl.Engage{Columns: []dsl.EngageColumn{{Query: q, Column: c, SQL: sql}}}
		})
	}

	t.Run("column override: duration from biInteractionDuration ticks", func(t *testing.T) {
		// The unit the only public query implies: 100-ns ticks.
		diffCalls(t, readAllCalls(t, withColumn(300, "duration_ms", "i.biInteractionDuration / 10000"), connector.CallQuery{}, nil), all)
	})

	t.Run("column override: exception 20 as too short", func(t *testing.T) {
		// The override MAPPING.md documents.
		var want []callRow
		n20 := 0
		for _, c := range all {
			if c.ExceptionCode == 20 {
				c.ExceptionCode = 0
				n20++
			}
			want = append(want, c)
		}
		if n20 == 0 {
			t.Fatal("no demo call has exception 20: the case tests nothing")
		}
		got := readAllCalls(t, withColumn(300, "exception_code", "CASE WHEN ex.iExceptionNumber = 20 THEN 0 ELSE ex.iExceptionNumber END"), connector.CallQuery{}, nil)
		diffCalls(t, got, want)
	})

	t.Run("column override reads another column of a join", func(t *testing.T) {
		// r.dtRecordingGMTStartTime is not in the default select list of
		// the recording join: naming it adds it.
		got := readAllCalls(t, withColumn(500, "skill", "CAST(r.dtRecordingGMTStartTime AS VARCHAR)"), connector.CallQuery{}, nil)
		n := 0
		for _, c := range got {
			if c.Skill != "" {
				n++
			}
		}
		if n < 1000 {
			t.Errorf("%d calls have a recording start as skill", n)
		}
	})

	t.Run("bad enum is a bad row, not a stop", func(t *testing.T) {
		var def string
		for _, c := range f.source(t, 0).m.columns[QueryCalls] {
			if c.name == "direction" {
				def = c.sql
			}
		}
		got := readAllCalls(t, withColumn(300, "direction", "CASE WHEN i.iInteractionID % 10 = 0 THEN 'sideways' ELSE "+def+" END"), connector.CallQuery{}, nil)
		bad := 0
		for _, c := range got {
			if c.Bad != "" {
				bad++
				if !strings.Contains(c.Bad, `direction: "sideways": want in|out|internal|unknown`) {
					t.Errorf("call %s: error %q", c.CallID, c.Bad)
				}
			}
		}
		if len(got) != len(all) || bad != len(all)/10 {
			t.Errorf("%d calls with %d bad, want %d with %d", len(got), bad, len(all), len(all)/10)
		}
	})

	t.Run("row without key stops with an error", func(t *testing.T) {
		// One page: once paging has a key, a NULL start_time matches no
		// keyset predicate (check counts such rows, a run counts them failed).
		s := withColumn(5000, "start_time", "CASE WHEN i.iInteractionID = 1500 THEN NULL ELSE i.dtInteractionGMTStartTime END")
		err := s.ReadCalls(context.Background(), connector.CallQuery{}, func(*connector.CallRecord) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "without call_id or start_time") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("queries override with {set}", func(t *testing.T) {
		// The whole calls query replaced, still read once per set.
		base, err := f.source(t, 0).m.callsSet(setToken, fixtureStorage, nil)
		if err != nil {
			t.Fatal(err)
		}
		s := f.source(t, 400, func(s *dsl.Source) { s.Queries = map[string]string{QueryCalls: base} })
		diffCalls(t, readAllCalls(t, s, connector.CallQuery{}, nil), all)
	})

	t.Run("counted by the database", func(t *testing.T) {
		one := int64(1)
		s := f.source(t, 0)
		q := connector.CallQuery{From: f.from, TenantEquals: &one}
		got, err := s.CountFiltered(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		var other, before int
		for _, c := range all {
			switch {
			case c.TenantID != 1:
				other++
			case c.StartTime.Before(f.from):
				before++
			}
		}
		want := map[connector.StateReason]int{
			{State: connector.StateExcluded, Reason: connector.ReasonOtherTenant}:  other,
			{State: connector.StateExcluded, Reason: connector.ReasonBeforeWindow}: before,
			{State: connector.StateFailed, Reason: connector.ReasonBadRow}:         0,
		}
		if fmt.Sprint(got) != fmt.Sprint(want) || other == 0 || before == 0 {
			t.Errorf("counted %v, want %v", got, want)
		}
		read := len(readAllCalls(t, s, q, nil))
		if read+other+before != len(all) {
			t.Errorf("read %d + counted %d + %d = %d, want %d", read, other, before, read+other+before, len(all))
		}
	})
}

// compareWithSnapshot reads the Engage source for every push-down case and
// compares with the snapshot's rows (all, sorted) filtered the same way.
func compareWithSnapshot(t *testing.T, snap connector.Source, all []callRow, opt demogen.Options, open func(batch int) connector.Source) {
	mid := all[len(all)/2]
	window := opt.WithDefaults().BackfillRequestedAt.Add(-7 * 24 * time.Hour)
	two := int64(2)

	tests := []struct {
		name  string
		batch int
		q     connector.CallQuery
		keep  func(c callRow) bool
	}{
		{"all", 0, connector.CallQuery{}, nil},
		{"small pages", 97, connector.CallQuery{}, nil},
		{"window", 250, connector.CallQuery{From: window}, func(c callRow) bool { return !c.StartTime.Before(window) }},
		{"tenant", 0, connector.CallQuery{TenantEquals: &two}, func(c callRow) bool { return c.TenantID == 2 }},
		{"window and tenant", 133, connector.CallQuery{From: window, TenantEquals: &two}, func(c callRow) bool { return c.TenantID == 2 && !c.StartTime.Before(window) }},
		{"resume after key", 200, connector.CallQuery{From: mid.StartTime, After: mid.CallID}, func(c callRow) bool {
			if c.StartTime.Equal(mid.StartTime) {
				x, _ := strconv.Atoi(c.CallID)
				y, _ := strconv.Atoi(mid.CallID)
				return x > y
			}
			return c.StartTime.After(mid.StartTime)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(tt.batch)
			got := readAllCalls(t, s, tt.q, nil)
			var want []callRow
			for _, c := range all {
				if tt.keep == nil || tt.keep(c) {
					want = append(want, c)
				}
			}
			if len(want) == 0 || (tt.keep != nil && len(want) == len(all)) {
				t.Fatalf("case keeps %d of %d calls: it tests nothing", len(want), len(all))
			}
			// The source must already deliver keyset order.
			sorted := slices.Clone(got)
			sortCalls(sorted)
			if fmt.Sprint(sorted) != fmt.Sprint(got) {
				t.Error("calls not emitted in (start_time, call_id) order")
			}
			diffCalls(t, got, want)
		})
	}

	t.Run("agents", func(t *testing.T) {
		s := open(0)
		got := readAllAgents(t, s)
		want := readAllAgents(t, snap)
		if len(got) != len(want) || len(want) < 100 {
			t.Fatalf("got %d agent rows, want %d", len(got), len(want))
		}
		for i := range want {
			if fmt.Sprintf("%+v", got[i]) != fmt.Sprintf("%+v", want[i]) {
				t.Errorf("agent row %d:\n got  %+v\n want %+v", i, got[i], want[i])
			}
		}
	})
}
