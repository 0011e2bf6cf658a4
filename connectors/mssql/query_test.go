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
	override := map[string]string{QueryCalls: "SELECT c.id AS call_id, c.tenant AS tenant_id, c.agent AS agent_id, c.started AS start_time,\n  c.ms AS duration_ms, 'in' AS direction, c.ani, c.dnis, 1 AS archived, 100 AS audio_packets,\n  'ok' AS status, 0 AS exception_code, c.media AS media_path, c.skill\nFROM dbo.vwMyCalls AS c;\n"}

	for _, d := range []Dialect{TSQL, DuckDB} {
		qs, err := resolveQueries(d, nil)
		if err != nil {
			t.Fatal(err)
		}
		oqs, err := resolveQueries(d, override)
		if err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name string
			q    Query
		}{
			{"base_agents", Query{SQL: qs[QueryAgents]}},
			{"base_calls", Query{SQL: qs[QueryCalls]}},
			{"base_business_data", Query{SQL: qs[QueryBusinessData]}},
			{"agents", agentsQuery(d, qs[QueryAgents])},
			{"calls_all", callsBatch(d, qs[QueryCalls], callWindow{}, DefaultBatchSize)},
			{"calls_window", callsBatch(d, qs[QueryCalls], callWindow{from: from}, DefaultBatchSize)},
			{"calls_window_tenant", callsBatch(d, qs[QueryCalls], callWindow{from: from, tenant: &tenant}, DefaultBatchSize)},
			{"calls_resume", callsBatch(d, qs[QueryCalls], callWindow{from: from, after: resume}, DefaultBatchSize)},
			{"calls_resume_tenant", callsBatch(d, qs[QueryCalls], callWindow{from: from, after: resume, tenant: &tenant}, 500)},
			{"calls_override", callsBatch(d, oqs[QueryCalls], callWindow{from: from, tenant: &tenant}, DefaultBatchSize)},
			{"bd_first_page", bdBatch(d, qs[QueryBusinessData], qs[QueryCalls], callWindow{from: from}, upTo)},
			{"bd_next_page_tenant", bdBatch(d, qs[QueryBusinessData], qs[QueryCalls], callWindow{from: from, after: resume, tenant: &tenant}, upTo)},
			{"probe_agents", probeQuery(d, QueryAgents, qs[QueryAgents])},
			{"probe_calls", probeQuery(d, QueryCalls, qs[QueryCalls])},
			{"probe_business_data", probeQuery(d, QueryBusinessData, qs[QueryBusinessData])},
			{"no_start_count", noStartQuery(d, qs[QueryCalls])},
			{"daily_counts", dailyCountsQuery(d, qs[QueryCalls], callWindow{from: from})},
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
		base, _ := DefaultQuery(d, QueryCalls)
		bd, _ := DefaultQuery(d, QueryBusinessData)
		for _, q := range []Query{callsBatch(d, base, w, 77), bdBatch(d, bd, base, w, *w.after), dailyCountsQuery(d, base, w)} {
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

func TestResolveQueries(t *testing.T) {
	tests := []struct {
		name      string
		overrides map[string]string
		wantErr   string
	}{
		{"none", nil, ""},
		{"calls", map[string]string{"calls": "SELECT 1"}, ""},
		{"typo", map[string]string{"call": "SELECT 1"}, `unknown query "call" (known: agents, calls, business_data)`},
		{"empty", map[string]string{"agents": "  \n"}, "agents is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			qs, err := resolveQueries(TSQL, tt.overrides)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range QueryNames {
				want := tt.overrides[n]
				if want == "" {
					want, _ = DefaultQuery(TSQL, n)
				}
				if qs[n] != want {
					t.Errorf("%s = %q, want %q", n, qs[n], want)
				}
			}
		})
	}
}
