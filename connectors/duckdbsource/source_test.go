package duckdbsource

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/applink-dev/applink/connectors/demogen"
	"github.com/applink-dev/applink/connectors/snapshot"
	"github.com/applink-dev/applink/connectors/sourcetest"
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
)

type callRow struct {
	dsl.Call
	BD  map[string]string
	Bad bool
}

func readCalls(t testing.TB, src connector.Source, q connector.CallQuery) []callRow {
	t.Helper()
	names := connector.NewNames()
	q.Names = names
	var out []callRow
	err := src.ReadCalls(context.Background(), q, func(r *connector.CallRecord) error {
		c := callRow{Call: r.Call, BD: map[string]string{}, Bad: r.Err != nil}
		c.StartTime = c.StartTime.UTC()
		for _, f := range r.BD {
			c.BD[names.Name(f.Name)] = string(f.Value)
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortStableFunc(out, func(a, b callRow) int {
		if c := a.StartTime.Compare(b.StartTime); c != 0 {
			return c
		}
		return strings.Compare(a.CallID, b.CallID)
	})
	return out
}

func readAgents(t testing.TB, src connector.Source) []string {
	t.Helper()
	var out []string
	err := src.ReadAgents(context.Background(), func(r *connector.AgentRecord) error {
		a := *r
		bad := a.Err != nil
		a.Pos, a.Err = "", nil
		a.CreatedAt = a.CreatedAt.UTC()
		out = append(out, fmt.Sprintf("%+v bad=%v", a, bad))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func diff(t *testing.T, got, want []callRow) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d calls, want %d", len(got), len(want))
	}
	n := 0
	for i := range min(len(got), len(want)) {
		if g, w := fmt.Sprintf("%+v", got[i]), fmt.Sprintf("%+v", want[i]); g != w {
			t.Errorf("call %d:\n got  %s\n want %s", i, g, w)
			if n++; n == 5 {
				t.Fatal("too many differences")
			}
		}
	}
}

// typed rewrites an imported (all-VARCHAR) file with typed columns, the
// other shape a DuckDB file may have.
var typed = []string{
	`CREATE TABLE calls2 AS SELECT call_id, CAST(tenant_id AS BIGINT) AS tenant_id, site, agent_id,
	   CAST(start_time AS TIMESTAMP) AS start_time, CAST(duration_ms AS BIGINT) AS duration_ms, direction, ani, dnis,
	   CAST(archived AS BOOLEAN) AS archived, CAST(audio_packets AS INTEGER) AS audio_packets, status,
	   CAST(exception_code AS SMALLINT) AS exception_code, media_path, skill FROM calls`,
	`DROP TABLE calls`, `ALTER TABLE calls2 RENAME TO calls`,
	`CREATE TABLE agents2 AS SELECT CAST(user_id AS BIGINT) AS user_id, agent_id, first_name, last_name, email,
	   CAST(active AS BOOLEAN) AS active, CAST(is_agent AS BOOLEAN) AS is_agent, CAST(tenant_id AS INTEGER) AS tenant_id,
	   CAST(created_at AS TIMESTAMPTZ) AS created_at FROM agents`,
	`DROP TABLE agents`, `ALTER TABLE agents2 RENAME TO agents`,
}

func exec(t testing.TB, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, st := range stmts {
		if _, err := db.Exec(st); err != nil {
			t.Fatalf("%v\n%s", err, st)
		}
	}
}

// TestMatchesSnapshot: on the same demo data, the rows equal the snapshot
// source's, for an imported (VARCHAR) file and a typed one, with and
// without push-down.
func TestMatchesSnapshot(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opt := demogen.Options{Calls: 1500, BDFields: 8, Seed: 3, TenantIDs: []int64{1, 2}}
	if _, err := demogen.Generate(dir, opt); err != nil {
		t.Fatal(err)
	}
	snap := snapshot.New(dir)
	all := readCalls(t, snap, connector.CallQuery{})
	agents := readAgents(t, snap)
	window := opt.WithDefaults().InstalledAt
	two := int64(2)

	for _, shape := range []string{"imported", "typed"} {
		path := filepath.Join(t.TempDir(), shape+".duckdb")
		if err := Import(ctx, dir, path); err != nil {
			t.Fatal(err)
		}
		if shape == "typed" {
			exec(t, path, typed...)
		}
		src, err := Open(ctx, dsl.Source{Name: "dc1", Path: path})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		for _, tt := range []struct {
			name string
			q    connector.CallQuery
			keep func(callRow) bool
		}{
			{"all", connector.CallQuery{}, nil},
			{"window", connector.CallQuery{From: window}, func(c callRow) bool { return !c.StartTime.Before(window) }},
			{"tenant", connector.CallQuery{TenantEquals: &two}, func(c callRow) bool { return c.TenantID == 2 }},
		} {
			t.Run(shape+"/"+tt.name, func(t *testing.T) {
				var want []callRow
				for _, c := range all {
					if tt.keep == nil || tt.keep(c) {
						want = append(want, c)
					}
				}
				if len(want) == 0 || (tt.keep != nil && len(want) == len(all)) {
					t.Fatalf("case keeps %d of %d calls: it tests nothing", len(want), len(all))
				}
				diff(t, readCalls(t, src, tt.q), want)
			})
		}
		t.Run(shape+"/agents", func(t *testing.T) {
			got := readAgents(t, src)
			if !slices.Equal(got, agents) {
				t.Errorf("agents differ:\n got  %d %q\n want %d %q", len(got), got[:3], len(agents), agents[:3])
			}
		})
	}
}

// TestBadRows: bad cells are bad rows, flagged on the same calls as the
// snapshot source flags; business data of no call is reported.
func TestBadRows(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"agents.csv": "user_id,agent_id,first_name,last_name,email,active,is_agent,tenant_id,created_at\n" +
			"1,A1,Ann,Lee,ann@x.example,true,true,1,2025-01-01T00:00:00Z\n" +
			"2,,Bob,Ray,bob@x.example,maybe,false,1,2025-01-02T00:00:00Z\n",
		"calls.csv": "call_id,tenant_id,site,agent_id,start_time,duration_ms,direction,ani,dnis,archived,audio_packets,status,exception_code,media_path,skill\n" +
			"C1,1,dc1,A1,2026-11-01T10:00:00Z,5000,in,+1,+2,true,10,ok,0,media/C1.wav,Sales\n" +
			"C2,1,dc1,A1,2026-11-01T11:00:00Z,5000,sideways,+1,+2,true,10,ok,0,,Sales\n" +
			"C3,1,dc1,A1,yesterday,5000,in,+1,+2,true,10,ok,0,,Sales\n" +
			"C4,x,dc1,A1,2026-11-01T12:00:00Z,5000,in,+1,+2,true,10,ok,0,,Sales\n",
		"business_data.csv": "call_id,name,value\nC1,Order,\"1,5\"\nC3,Order,7\nC9,Order,8\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "bad.duckdb")
	if err := Import(context.Background(), dir, path); err != nil {
		t.Fatal(err)
	}
	src, err := OpenFile(context.Background(), path, "source t")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	// The window is pushed down, yet the unreadable start_time stays.
	got := readCalls(t, src, connector.CallQuery{From: time.Date(2026, 11, 1, 10, 30, 0, 0, time.UTC)})
	var flags []string
	for _, c := range got {
		flags = append(flags, fmt.Sprintf("%s:%v:%v", c.CallID, c.Bad, c.BD))
	}
	want := []string{":true:map[]", "C3:true:map[Order:7]", "C2:true:map[]", "C4:true:map[]"}
	if !slices.Equal(flags, want) {
		t.Errorf("got %q\nwant %q", flags, want)
	}
	snapBad := map[string]bool{}
	for _, c := range readCalls(t, snapshot.New(dir), connector.CallQuery{}) {
		if c.Bad && c.CallID != "" {
			snapBad[c.CallID] = true
		}
	}
	for _, id := range []string{"C2", "C3", "C4"} {
		if !snapBad[id] {
			t.Errorf("snapshot does not flag %s: the cases disagree on what a bad row is", id)
		}
	}
	ag := readAgents(t, src)
	if len(ag) != 2 || !strings.HasSuffix(ag[1], "bad=true") || !strings.HasSuffix(ag[0], "bad=false") {
		t.Errorf("agents: %q", ag)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, dsl.Source{Name: "dc1", Path: filepath.Join(t.TempDir(), "none.duckdb")}); err == nil || !strings.Contains(err.Error(), "source dc1: DuckDB file") {
		t.Errorf("missing file: err = %v", err)
	}
	path := filepath.Join(t.TempDir(), "partial.duckdb")
	exec(t, path, `CREATE TABLE calls (call_id VARCHAR)`, `CREATE TABLE agents AS SELECT 1 AS user_id`)
	_, err := Open(ctx, dsl.Source{Name: "dc1", Path: path})
	if err == nil || !strings.Contains(err.Error(), "lacks agents.agent_id") || !strings.Contains(err.Error(), "business_data.value") {
		t.Errorf("partial file: err = %v", err)
	}
}

func TestMediaFile(t *testing.T) {
	s := &Source{dir: "/data/engage"}
	for in, want := range map[string]string{"media/a.wav": "/data/engage/media/a.wav", "": "", "/etc/passwd": "", "../x.wav": ""} {
		if got := s.MediaFile(in); got != want {
			t.Errorf("MediaFile(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestEngineRunEqualsSnapshot: the same data through the snapshot and this
// source gives the same outbox (media bytes included) and the same report
// counts: the calls the pushed-down window and tenant filter never read
// are counted by the database (CountFiltered), nothing is unexplained.
func TestEngineRunEqualsSnapshot(t *testing.T) {
	dir := t.TempDir()
	opt := demogen.Options{Calls: 1500, BDFields: 8, Seed: 5, TenantIDs: []int64{1, 2}, MediaFiles: true}
	if _, err := demogen.Generate(dir, opt); err != nil {
		t.Fatal(err)
	}
	// The file next to the snapshot: media paths resolve alike.
	path := filepath.Join(dir, "engage.duckdb")
	if err := Import(context.Background(), dir, path); err != nil {
		t.Fatal(err)
	}
	src, err := OpenFile(context.Background(), path, "source dc1")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	sourcetest.CompareRuns(t, dir, opt, src, sourcetest.Options{MinCounted: 2})
}
