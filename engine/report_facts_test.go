package engine

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/applink-dev/applink/engine/connector"
)

// TestImportedByDay: imported calls are counted by their UTC start date,
// excluded ones are not, and a call just before midnight UTC (or before
// 1970) lands on its own day.
func TestImportedByDay(t *testing.T) {
	p := mustPlan(t, "", "")
	at := func(id string, ts time.Time) memCall {
		c := goodCall(id, "a1")
		c.StartTime = ts
		return memCall{call: c}
	}
	short := at("S", t0.Add(30*time.Hour))
	short.call.DurationMS = 1000
	src := &memSource{agents: []connector.AgentRecord{agent("u1", "a1", "one@acme.example", t0)}, calls: []memCall{
		at("A", t0.Add(time.Hour)), at("B", t0.Add(23*time.Hour+59*time.Minute)), at("C", t0.Add(24*time.Hour)),
		at("D", t0.Add(49*time.Hour).In(time.FixedZone("X", -5*3600))), short,
	}}
	_, sum := runMem(t, p, src)
	want := map[string]int{"2026-11-01": 2, "2026-11-02": 1, "2026-11-03": 1}
	if !maps.Equal(sum.ImportedByDay, want) {
		t.Errorf("ImportedByDay = %v, want %v", sum.ImportedByDay, want)
	}
	// The stored record keeps it.
	b, err := sum.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if back, err := DecodeRunRecord(b, sum.Started); err != nil || !maps.Equal(back.ImportedByDay, want) {
		t.Errorf("stored record imported_by_day = %v (%v)", back, err)
	}
	for _, c := range []struct {
		ts   time.Time
		want int64
	}{{time.Unix(0, 0), 0}, {time.Unix(86399, 0), 0}, {time.Unix(-1, 0), -1}, {time.Unix(-86400, 0), -1}, {time.Unix(-86401, 0), -2}} {
		if got := dayNumber(c.ts); got != c.want {
			t.Errorf("dayNumber(%v) = %d, want %d", c.ts.UTC(), got, c.want)
		}
	}
}

// TestEveryReasonExplained: the report explains every code a ledger can
// hold in one sentence, from the rule tables.
func TestEveryReasonExplained(t *testing.T) {
	check := func(entity, state, reason string) {
		t.Helper()
		s := ExplainReason(entity, state, reason)
		if s == "" || !strings.HasSuffix(s, ".") || strings.ToUpper(s[:1]) != s[:1] {
			t.Errorf("%s %s/%s: %q is not a sentence", entity, state, reason, s)
		}
	}
	for _, r := range CallRules {
		check("call", connector.StateExcluded, r.Reason)
		if r.Explain == "" {
			t.Errorf("call rule %s has no Explain", r.Reason)
		}
	}
	for _, r := range AgentRules {
		check("agent", connector.StateExcluded, r.Reason)
	}
	check("call", connector.StateImported, "")
	check("agent", connector.StateImported, "")
	check("call", connector.StateImported, connector.ReasonAgentUnmapped)
	check("call", connector.StateFailed, connector.ReasonBadRow)
	check("call", connector.StateFailed, "http_422")
	check("call", connector.StateFailed, "media_unreadable")
	// The same code means different things for agents and calls.
	if ExplainReason("agent", connector.StateExcluded, connector.ReasonFilteredOut) == ExplainReason("call", connector.StateExcluded, connector.ReasonFilteredOut) {
		t.Error("filtered_out explained the same for agents and calls")
	}
	if s := ExplainReason("call", connector.StateFailed, "http_503"); !strings.Contains(s, "503") {
		t.Errorf("http_503: %q", s)
	}
	if s := ExplainReason("call", connector.StateExcluded, "no_such_code"); s != "" {
		t.Errorf("unknown code explained as %q", s)
	}
}
