package mssql

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/applink-dev/applink/dsl"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from golden file (go test -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func render(q Query) string {
	var sb strings.Builder
	sb.WriteString(q.SQL)
	sb.WriteString("\n")
	for i, a := range q.Args {
		fmt.Fprintf(&sb, "-- arg %d: %v (%T)\n", i+1, a, a)
	}
	return sb.String()
}

// TestGoldenSQL pins the SQL of every default query and push-down case in
// both dialects, so a change to what SQL Server receives shows in review.
func TestGoldenSQL(t *testing.T) {
	from := time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC)
	tenant := int64(12)
	resume := &key{t: time.Date(2026, 10, 26, 9, 30, 15, 250_000_000, time.UTC), id: int64(1234567)}
	upTo := key{t: time.Date(2026, 10, 26, 11, 0, 0, 0, time.UTC), id: int64(1239999)}
	sets, storage := []string{"7", "8"}, []string{"tblStorageCenter01", "tblStorageCenter02"}
	override := dsl.Source{Queries: map[string]string{QueryCalls: "SELECT c.id AS call_id, c.tenant AS tenant_id, c.agent AS agent_id, c.started AS start_time,\n  c.ms AS duration_ms, 'in' AS direction, c.ani, c.dnis, 1 AS archived, 100 AS audio_packets,\n  'ok' AS status, 0 AS exception_code, c.media AS media_path, c.skill\nFROM dbo.vwMyCalls AS c;\n"}}
	engage := dsl.Source{Engage: &dsl.Engage{
		InteractionsDatabase: dsl.EngageSetting{Value: "engage_ni"}, StorageDatabase: dsl.EngageSetting{Value: "engage_sc"},
		Columns: []dsl.EngageColumn{
			{Query: QueryCalls, Column: "duration_ms", SQL: "i.biInteractionDuration / 10000"},
			{Query: QueryCalls, Column: "tenant_id", SQL: "0"},
			{Query: QueryCalls, Column: "exception_code", SQL: "CASE WHEN ex.iExceptionNumber = 20 THEN 0 ELSE ex.iExceptionNumber END"},
			{Query: QueryCalls, Column: "archived", SQL: "CASE WHEN r.tiRecordingRecordedTypeID IN (1, 3) THEN 1 ELSE 0 END"},
			{Query: QueryAgents, Column: "active", SQL: "CASE WHEN u.bitDeleted = 1 THEN 0 ELSE 1 END"},
		}}}

	for _, d := range []Dialect{TSQL, DuckDB} {
		mapped := func(src dsl.Source) (w callWindow, m *mapping) {
			m, err := newMapping(d, src)
			if err != nil {
				t.Fatal(err)
			}
			if w.calls, err = m.callsBase(sets, storage, nil); err != nil {
				t.Fatal(err)
			}
			if w.keys, err = m.callsBase(sets, storage, keyColumns); err != nil {
				t.Fatal(err)
			}
			return w, m
		}
		def, m := mapped(dsl.Source{})
		ovr, _ := mapped(override)
		eng, em := mapped(engage)
		win := func(w callWindow, from time.Time, after *key, tenant *int64) callWindow {
			w.from, w.after, w.tenant = from, after, tenant
			return w
		}
		cases := []struct {
			name string
			q    Query
		}{
			{"base_agents", Query{SQL: m.agentsBase(nil)}},
			{"base_calls", Query{SQL: def.calls}},
			{"base_call_keys", Query{SQL: def.keys}},
			{"base_business_data", Query{SQL: m.bdBase(nil)}},
			{"base_calls_engage_block", Query{SQL: eng.calls}},
			{"base_agents_engage_block", Query{SQL: em.agentsBase(nil)}},
			{"catalog", m.catalogQuery()},
			{"storage_tables", tablesQuery(d, DefaultStorageDatabase, DefaultSchema, "tblStorageCenter")},
			{"columns", columnsQuery(d, DefaultAdminDatabase, DefaultSchema)},
			{"agents", agentsQuery(d, m.agentsBase(nil))},
			{"calls_all", callsBatch(d, def, DefaultBatchSize)},
			{"calls_window", callsBatch(d, win(def, from, nil, nil), DefaultBatchSize)},
			{"calls_window_tenant", callsBatch(d, win(def, from, nil, &tenant), DefaultBatchSize)},
			{"calls_resume", callsBatch(d, win(def, from, resume, nil), DefaultBatchSize)},
			{"calls_resume_tenant", callsBatch(d, win(def, from, resume, &tenant), 500)},
			{"calls_override", callsBatch(d, win(ovr, from, nil, &tenant), DefaultBatchSize)},
			{"bd_first_page", bdBatch(d, m.bdBase(nil), win(def, from, nil, nil), upTo)},
			{"bd_next_page_tenant", bdBatch(d, m.bdBase(nil), win(def, from, resume, &tenant), upTo)},
			{"counted_window_tenant", countFilteredQuery(d, def.keys, win(def, from, nil, &tenant))},
			{"counted_window", countFilteredQuery(d, def.keys, win(def, from, nil, nil))},
			{"probe_agents", probeQuery(d, agentColumns, m.agentsBase(nil))},
			{"probe_calls", probeQuery(d, callColumns, def.calls)},
			{"probe_business_data", probeQuery(d, bdColumns, m.bdBase(nil))},
			{"no_start_count", noStartQuery(d, def.keys)},
			{"window_count", windowCountQuery(d, win(def, from, nil, nil))},
			{"daily_counts", dailyCountsQuery(d, win(def, from, nil, nil))},
			{"recent_media", recentMediaQuery(d, win(def, from, nil, nil), mediaSample)},
		}
		for _, c := range cases {
			t.Run(d.String()+"/"+c.name, func(t *testing.T) {
				golden(t, c.name+"."+d.String()+".sql", render(c.q))
			})
		}
	}
}

// TestNoValueInText guards the rule that values are parameters: none of the
// window, key or tenant values may appear in the SQL text.
func TestNoValueInText(t *testing.T) {
	tenant := int64(987654)
	w := callWindow{from: time.Date(2031, 1, 2, 0, 0, 0, 0, time.UTC), tenant: &tenant,
		after: &key{t: time.Date(2031, 1, 3, 4, 5, 6, 0, time.UTC), id: "O'Brien'; DROP TABLE x; --"}}
	for _, d := range []Dialect{TSQL, DuckDB} {
		m, _ := newMapping(d, dsl.Source{})
		var err error
		if w.calls, err = m.callsBase([]string{"1"}, []string{"tblStorageCenter01"}, nil); err != nil {
			t.Fatal(err)
		}
		w.keys, _ = m.callsBase([]string{"1"}, []string{"tblStorageCenter01"}, keyColumns)
		for _, q := range []Query{callsBatch(d, w, 77), bdBatch(d, m.bdBase(nil), w, *w.after), dailyCountsQuery(d, w), countFilteredQuery(d, w.keys, w), recentMediaQuery(d, w, 77)} {
			for _, v := range []string{"987654", "2031", "O'Brien", "DROP", "77"} {
				if strings.Contains(q.SQL, v) {
					t.Errorf("%s: value %q spliced into SQL:\n%s", d, v, q.SQL)
				}
			}
			seen := map[string]bool{}
			for _, m := range placeholder.FindAllString(q.SQL, -1) {
				seen[m] = true
			}
			if len(seen) != len(q.Args) {
				t.Errorf("%s: %d distinct placeholders for %d args:\n%s", d, len(seen), len(q.Args), q.SQL)
			}
		}
	}
}

var placeholder = regexp.MustCompile(`(@p|\$)[0-9]+`)

func TestNewMapping(t *testing.T) {
	tests := []struct {
		name    string
		src     dsl.Source
		wantErr string
	}{
		{"none", dsl.Source{}, ""},
		{"calls", dsl.Source{Queries: map[string]string{"calls": "SELECT 1"}}, ""},
		{"typo", dsl.Source{Queries: map[string]string{"call": "SELECT 1"}}, `unknown query "call" (known: agents, calls, business_data)`},
		{"empty", dsl.Source{Queries: map[string]string{"agents": "  \n"}}, "agents is empty"},
		{"unknown column", dsl.Source{Engage: &dsl.Engage{Columns: []dsl.EngageColumn{{Query: "calls", Column: "durration"}}}}, `unknown canonical column "calls.durration"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := newMapping(TSQL, tt.src)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for n, q := range tt.src.Queries {
				if got, _ := m.base(n, nil, nil, nil); got != q {
					t.Errorf("%s = %q, want the override", n, got)
				}
			}
		})
	}
}
