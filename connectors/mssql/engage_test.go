package mssql

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/applink-dev/applink/connectors/demogen"
	"github.com/applink-dev/applink/connectors/snapshot"
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
	_ "github.com/duckdb/duckdb-go/v2"
)

// loadEngage fills the Engage-shaped tables from a snapshot folder with the
// inverse of the default queries' mapping, adding the noise real Engage
// has: several participants, recordings and exceptions per interaction, the
// direction codes 4–6, sub-exception 1702, interactions without a recording.
// Each noise row is one the queries must see through; the comparison with
// the snapshot source proves they do.
var loadEngage = []string{
	`CREATE MACRO num(s) AS CAST(regexp_replace(s, '^[^0-9]*', '') AS BIGINT)`,
	`CREATE TABLE src_calls AS SELECT * FROM read_csv(%[1]s, header = true, all_varchar = true)`,
	`CREATE TABLE src_agents AS SELECT * FROM read_csv(%[2]s, header = true, all_varchar = true)`,
	`CREATE TABLE src_bd AS SELECT * FROM read_csv(%[3]s, header = true, all_varchar = true)`,
	`CREATE TABLE c AS SELECT *, num(call_id) AS n, CAST(start_time AS TIMESTAMP) AS ts,
	   CAST(duration_ms AS BIGINT) AS dur,
	   COALESCE(CAST(audio_packets AS BIGINT), 0) AS ap,
	   COALESCE(CAST(exception_code AS BIGINT), 0) AS ex,
	   (archived = 'false' AND COALESCE(CAST(audio_packets AS BIGINT), 0) = 0 AND media_path IS NULL AND num(call_id) % 3 = 0) AS norec
	 FROM src_calls`,
	`INSERT INTO tblInteraction SELECT n, n, ts, ts + to_milliseconds(dur), ts, dur, 1, 1,
	   CASE direction WHEN 'in' THEN 1 WHEN 'out' THEN 2 WHEN 'internal' THEN 3 ELSE [0, 4, 5, 6][n % 4 + 1] END,
	   dnis, 1, CAST(tenant_id AS INTEGER),
	   CASE status WHEN 'invalid' THEN 1 WHEN 'error' THEN 2 ELSE CASE WHEN n % 2 = 0 THEN 0 END END,
	   skill
	 FROM c`,
	// The caller, who initiated the call: its number is the ANI.
	`INSERT INTO tblParticipant SELECT n * 10 + 1, n, NULL, CASE WHEN n % 3 = 0 THEN '' END, NULL, ani, 1, TRUE FROM c`,
	`INSERT INTO tblParticipant SELECT n * 10 + 2, n, NULL, agent_id, 'ST1', '+100', 2, FALSE FROM c WHERE agent_id <> ''`,
	// A later transfer target: the first agent is the call's agent.
	`INSERT INTO tblParticipant SELECT n * 10 + 3, n, NULL, 'transfer-' || agent_id, 'ST2', '+101', 2, FALSE FROM c WHERE agent_id <> '' AND n % 7 = 0`,
	`INSERT INTO tblRecording SELECT n * 10 + 1, n, ts, NULL, 1,
	   CASE WHEN archived = 'true' THEN 1 WHEN n % 2 = 0 THEN 0 ELSE 2 END,
	   media_path, 1,
	   CASE WHEN ap = 0 AND ex = 0 AND n % 2 = 0 THEN 999 ELSE ap END
	 FROM c WHERE NOT norec`,
	`INSERT INTO tblRecording SELECT n * 10 + 5, n, ts, NULL, 1, 9, 'later.nmf', 2, 12345 FROM c WHERE NOT norec AND n % 5 = 0`,
	`INSERT INTO tblInteractionException SELECT n * 10 + 1, n, 1, ex, ts, 'demo' FROM c WHERE ex <> 0`,
	`INSERT INTO tblInteractionException SELECT n * 10 + 2, n, 1, 7, ts + INTERVAL 1 SECOND, 'later' FROM c WHERE ex <> 0 AND n % 4 = 0`,
	// No VoIP audio: the recording claims 999 packets, the sub-exception wins.
	`INSERT INTO tblInteractionException SELECT n * 10 + 3, n, 12, 1702, ts, 'no VoIP audio' FROM c WHERE ap = 0 AND ex = 0 AND n % 2 = 0 AND NOT norec`,
	`INSERT INTO tblUser SELECT DISTINCT ON (user_id) num(user_id), first_name, last_name, email, 'login' || user_id,
	   active = 'true', CAST(tenant_id AS INTEGER), CAST(created_at AS TIMESTAMP)
	 FROM src_agents ORDER BY user_id`,
	`INSERT INTO tblAgent SELECT row_number() OVER (), num(user_id), agent_id, NULL FROM src_agents WHERE is_agent = 'true'`,
	`INSERT INTO tblBusinessData SELECT num(call_id), name, value FROM src_bd`,
	`DROP TABLE c`, `DROP TABLE src_calls`, `DROP TABLE src_agents`, `DROP TABLE src_bd`, `DROP MACRO num`,
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// engageDuckDB builds an Engage-shaped DuckDB database from a snapshot folder.
func engageDuckDB(t testing.TB, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", filepath.Join(t.TempDir(), "engage.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tables, indexes := schemaDDL(DuckDB)
	for _, st := range tables {
		mustExec(t, db, st)
	}
	for _, st := range loadEngage {
		if strings.Contains(st, "%[") {
			st = fmt.Sprintf(st, sqlString(filepath.Join(dir, "calls.csv")), sqlString(filepath.Join(dir, "agents.csv")), sqlString(filepath.Join(dir, "business_data.csv")))
		}
		mustExec(t, db, st)
	}
	for _, st := range indexes {
		mustExec(t, db, st)
	}
	return db
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

// callRow is a call as compared: the canonical call, its business data by
// name, and whether it was a bad row.
type callRow struct {
	dsl.Call
	BD  map[string]string
	Bad string
}

func readAllCalls(t testing.TB, src engine.Source, q engine.CallQuery, fix func(*callRow)) []callRow {
	t.Helper()
	names := engine.NewNames()
	q.Names = names
	var out []callRow
	err := src.ReadCalls(context.Background(), q, func(r *engine.CallRecord) error {
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
	engine.AgentRecord
	Bad bool
}

func readAllAgents(t testing.TB, src engine.Source) []agentRow {
	t.Helper()
	var out []agentRow
	err := src.ReadAgents(context.Background(), func(r *engine.AgentRecord) error {
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

const demoSite = "dc1"

func demoData(t testing.TB, opt demogen.Options) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := demogen.Generate(dir, opt); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestEngageDuckDB runs the DuckDB rendering of the very query plans SQL
// Server gets against an Engage-shaped database holding the demo data, and
// checks the canonical rows equal the snapshot source's on the same data,
// for every push-down case and for pages small enough to split ties.
func TestEngageDuckDB(t *testing.T) {
	opt := demogen.Options{Calls: 2000, BDFields: 8, Seed: 7, TenantIDs: []int64{1, 2}, Sites: []string{demoSite}}
	dir := demoData(t, opt)
	db := engageDuckDB(t, dir)

	snap := snapshot.New(dir)
	norm := func(c *callRow) { c.CallID = canonID(t, c.CallID) }
	all := readAllCalls(t, snap, engine.CallQuery{}, norm)
	sortCalls(all)
	if len(all) != 2000 {
		t.Fatalf("snapshot gave %d calls", len(all))
	}
	compareWithSnapshot(t, snap, all, opt, func(batch int) engine.Source {
		s, err := New(db, DuckDB, dsl.Source{Name: "dc1", Site: demoSite, BatchSize: batch})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
	t.Run("engine run equals snapshot run", func(t *testing.T) {
		s, err := New(db, DuckDB, dsl.Source{Name: "dc1", Site: demoSite, BatchSize: 700})
		if err != nil {
			t.Fatal(err)
		}
		compareRuns(t, dir, opt, s)
	})

	base, _ := DefaultQuery(DuckDB, QueryCalls)
	withCalls := func(q string, batch int) engine.Source {
		s, err := New(db, DuckDB, dsl.Source{Name: "dc1", Site: demoSite, BatchSize: batch, Queries: map[string]string{QueryCalls: q}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	t.Run("override exception 20 as too short", func(t *testing.T) {
		// The override MAPPING.md documents.
		q := strings.Replace(base, "ex.iExceptionNumber AS exception_code", "CASE WHEN ex.iExceptionNumber = 20 THEN 0 ELSE ex.iExceptionNumber END AS exception_code", 1)
		if q == base {
			t.Fatal("the default query no longer has the documented exception_code expression")
		}
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
		diffCalls(t, readAllCalls(t, withCalls(q, 300), engine.CallQuery{}, nil), want)
	})

	t.Run("bad enum is a bad row, not a stop", func(t *testing.T) {
		q := "SELECT * REPLACE (CASE WHEN call_id % 10 = 0 THEN 'sideways' ELSE direction END AS direction) FROM (" + base + ")"
		got := readAllCalls(t, withCalls(q, 300), engine.CallQuery{}, nil)
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
		// keyset predicate (check counts such rows, see checkDB).
		q := "SELECT * REPLACE (CASE WHEN call_id = 1500 THEN NULL ELSE start_time END AS start_time) FROM (" + base + ")"
		err := withCalls(q, 5000).ReadCalls(context.Background(), engine.CallQuery{}, func(*engine.CallRecord) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "without call_id or start_time") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("check", func(t *testing.T) {
		from := opt.WithDefaults().InstalledAt
		want := 0
		for _, c := range all {
			if !c.StartTime.Before(from) {
				want++
			}
		}
		var out strings.Builder
		if err := checkDB(context.Background(), db, DuckDB, dsl.Source{Name: "dc1"}, from, &out); err != nil {
			t.Fatal(err)
		}
		for _, line := range []string{
			"source dc1: query agents readable", "source dc1: query calls readable", "source dc1: query business_data readable",
			fmt.Sprintf("  total %8d\n", want), "source dc1: round-trip latency",
		} {
			if !strings.Contains(out.String(), line) {
				t.Errorf("output lacks %q:\n%s", line, out.String())
			}
		}
	})

	t.Run("check counts calls without start_time", func(t *testing.T) {
		q := "SELECT * REPLACE (CASE WHEN call_id IN (3, 4) THEN NULL ELSE start_time END AS start_time) FROM (" + base + ")"
		var out strings.Builder
		if err := checkDB(context.Background(), db, DuckDB, dsl.Source{Name: "dc1", Queries: map[string]string{QueryCalls: q}}, time.Time{}, &out); err != nil {
			t.Fatal(err)
		}
		if want := "source dc1: warning: 2 calls without start_time"; !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	})

	t.Run("check names a missing table", func(t *testing.T) {
		src := dsl.Source{Name: "dc1", Queries: map[string]string{QueryAgents: "SELECT * FROM tblNoSuchUsers"}}
		err := checkDB(context.Background(), db, DuckDB, src, time.Time{}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "source dc1: query agents:") || !strings.Contains(err.Error(), "tblNoSuchUsers") {
			t.Fatalf("err = %v", err)
		}
	})
}

// compareWithSnapshot reads the Engage source for every push-down case and
// compares with the snapshot's rows (all, sorted) filtered the same way.
func compareWithSnapshot(t *testing.T, snap engine.Source, all []callRow, opt demogen.Options, open func(batch int) engine.Source) {
	mid := all[len(all)/2]
	window := opt.WithDefaults().BackfillRequestedAt.Add(-7 * 24 * time.Hour)
	two := int64(2)

	tests := []struct {
		name  string
		batch int
		q     engine.CallQuery
		keep  func(c callRow) bool
	}{
		{"all", 0, engine.CallQuery{}, nil},
		{"small pages", 97, engine.CallQuery{}, nil},
		{"window", 250, engine.CallQuery{From: window}, func(c callRow) bool { return !c.StartTime.Before(window) }},
		{"tenant", 0, engine.CallQuery{TenantEquals: &two}, func(c callRow) bool { return c.TenantID == 2 }},
		{"window and tenant", 133, engine.CallQuery{From: window, TenantEquals: &two}, func(c callRow) bool { return c.TenantID == 2 && !c.StartTime.Before(window) }},
		{"resume after key", 200, engine.CallQuery{From: mid.StartTime, After: mid.CallID}, func(c callRow) bool {
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
