package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
)

// memSource is an in-memory connector.Source for tests.
type memSource struct {
	agents []connector.AgentRecord
	calls  []memCall
}

type memCall struct {
	call dsl.Call
	bd   [][2]string
	err  error
}

func (m *memSource) ReadAgents(ctx context.Context, emit func(*connector.AgentRecord) error) error {
	for i := range m.agents {
		r := m.agents[i]
		if err := emit(&r); err != nil {
			return err
		}
	}
	return nil
}

func (m *memSource) ReadCalls(ctx context.Context, q connector.CallQuery, emit func(*connector.CallRecord) error) error {
	var rec connector.CallRecord
	for i, c := range m.calls {
		rec = connector.CallRecord{Call: c.call, Pos: fmt.Sprintf("calls.csv:%d", i+2), Err: c.err}
		for _, kv := range c.bd {
			rec.BD = append(rec.BD, connector.BDField{Name: q.Names.ID([]byte(kv[0])), Value: []byte(kv[1])})
		}
		if err := emit(&rec); err != nil {
			return err
		}
	}
	return nil
}

func (m *memSource) Close() error { return nil }

// memSink records what a run sends.
type memSink struct {
	info      connector.RunInfo
	agents    []connector.OutAgent
	calls     []string // rendered
	ledger    []connector.LedgerRow
	committed bool
	aborted   bool
}

func (s *memSink) Open(_ context.Context, info connector.RunInfo) error { s.info = info; return nil }
func (s *memSink) Agent(_ context.Context, a *connector.OutAgent) error {
	s.agents = append(s.agents, *a)
	return nil
}
func (s *memSink) Call(_ context.Context, c *connector.OutCall) error {
	var vals []string
	for _, v := range c.Values {
		f := s.info.Fields[v.Field]
		switch f.Type {
		case dsl.TypeText:
			vals = append(vals, fmt.Sprintf("%s=%q", f.Name, v.Text))
		case dsl.TypeNumber:
			vals = append(vals, fmt.Sprintf("%s=%g", f.Name, v.Number))
		default:
			vals = append(vals, fmt.Sprintf("%s=%t", f.Name, v.Bool))
		}
	}
	s.calls = append(s.calls, fmt.Sprintf("%s agent=%s %s", c.CallID, c.AgentUserID, strings.Join(vals, " ")))
	return nil
}
func (s *memSink) Ledger(_ context.Context, r connector.LedgerRow) error {
	s.ledger = append(s.ledger, r)
	return nil
}
func (s *memSink) Commit(context.Context) error { s.committed = true; return nil }
func (s *memSink) Abort() error                 { s.aborted = true; return nil }

func (s *memSink) state(entity, id string) string {
	for _, r := range s.ledger {
		if r.Entity == entity && r.ID == id {
			if r.Reason == "" {
				return r.State
			}
			return r.State + "/" + r.Reason
		}
	}
	return "(no ledger row)"
}

const baseSpec = `
spec {
  customer     = "acme"
  cxone_tenant = "acme-eu1"
  installed_at = "2026-11-01T00:00:00Z"
  %s
}
source "engage" "dc1" {
  driver    = "snapshot"
  path      = "data"
  system_id = "engage-acme"
}
%s
`

func mustPlan(t testing.TB, specExtra, blocks string) *Plan {
	t.Helper()
	src := fmt.Sprintf(baseSpec, specExtra, blocks)
	spec, diags := dsl.Parse("spec", map[string][]byte{"main.hcl": []byte(src)})
	if diags.HasErrors() {
		t.Fatalf("spec: %s", diags.Error())
	}
	p, err := Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func agent(user, agentID, email string, created time.Time) connector.AgentRecord {
	return connector.AgentRecord{UserID: user, AgentID: agentID, FirstName: "F" + user, LastName: "L" + user, Email: email,
		Active: true, IsAgent: agentID != "", TenantID: 1, CreatedAt: created}
}

// goodCall passes every rule.
func goodCall(id, agentID string) dsl.Call {
	return dsl.Call{CallID: id, TenantID: 1, Site: "dc1", AgentID: agentID, StartTime: t0.Add(time.Hour),
		DurationMS: 60000, Direction: "in", ANI: "+100", DNIS: "+200", Archived: true, AudioPackets: 100,
		Status: "ok", MediaPath: "media/" + id + ".wav", Skill: "sales"}
}

func runMem(t *testing.T, p *Plan, src *memSource) (*memSink, *RunRecord) {
	t.Helper()
	sink := &memSink{}
	sum, err := Run(context.Background(), p, Options{Sink: sink, Sources: []connector.Source{src}, RunID: "test", BatchSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !sink.committed {
		t.Fatal("not committed")
	}
	return sink, sum
}

func TestCallRules(t *testing.T) {
	agents := []connector.AgentRecord{
		agent("u1", "a1", "one@acme.example", t0),
		agent("u2", "a2", "", t0),                                  // no email
		agent("u3", "a3", "three@test.example", t0),                // filtered by the agent filter
		agent("u4", "a4", " ONE@acme.example ", t0.Add(time.Hour)), // duplicate email of u1
	}
	mod := func(f func(c *dsl.Call)) dsl.Call {
		c := goodCall("x", "a1")
		f(&c)
		return c
	}
	cases := []struct {
		name string
		call dsl.Call
		want string
	}{
		{"imported", goodCall("x", "a1"), "imported"},
		{"other_tenant", mod(func(c *dsl.Call) { c.TenantID = 2 }), "excluded/other_tenant"},
		{"before_window", mod(func(c *dsl.Call) { c.StartTime = t0.Add(-time.Second) }), "excluded/before_window"},
		{"window inclusive at installed_at", mod(func(c *dsl.Call) { c.StartTime = t0 }), "imported"},
		{"no_agent_info", mod(func(c *dsl.Call) { c.AgentID = " " }), "excluded/no_agent_info"},
		{"not_archived", mod(func(c *dsl.Call) { c.Archived = false }), "excluded/not_archived"},
		{"invalid", mod(func(c *dsl.Call) { c.Status = "invalid" }), "excluded/invalid"},
		{"exception code", mod(func(c *dsl.Call) { c.ExceptionCode = 12 }), "excluded/exception"},
		{"error status", mod(func(c *dsl.Call) { c.Status = "error" }), "excluded/exception"},
		{"no_audio", mod(func(c *dsl.Call) { c.AudioPackets = 0 }), "excluded/no_audio"},
		{"too_short at 2 s", mod(func(c *dsl.Call) { c.DurationMS = 2000 }), "excluded/too_short"},
		{"just long enough", mod(func(c *dsl.Call) { c.DurationMS = 2001 }), "imported"},
		{"agent_without_email", mod(func(c *dsl.Call) { c.AgentID = "a2" }), "excluded/agent_without_email"},
		{"agent_filtered", mod(func(c *dsl.Call) { c.AgentID = "a3" }), "excluded/agent_filtered"},
		{"filtered_out", mod(func(c *dsl.Call) { c.Direction = "internal" }), "excluded/filtered_out"},
		{"mapping_error", mod(func(c *dsl.Call) { c.CallID = "bad-total" }), "excluded/mapping_error"},
		{"agent_unmapped: unknown agent id", mod(func(c *dsl.Call) { c.AgentID = "a99" }), "imported/agent_unmapped"},
		{"agent_unmapped: duplicate email", mod(func(c *dsl.Call) { c.AgentID = "a4" }), "imported/agent_unmapped"},
		// Several rules at once: the first in the seed's order wins.
		{"order: tenant before window", mod(func(c *dsl.Call) { c.TenantID = 2; c.StartTime = t0.Add(-time.Hour) }), "excluded/other_tenant"},
		{"order: window before no agent", mod(func(c *dsl.Call) { c.StartTime = t0.Add(-time.Hour); c.AgentID = "" }), "excluded/before_window"},
		{"order: no agent before archived", mod(func(c *dsl.Call) { c.AgentID = ""; c.Archived = false }), "excluded/no_agent_info"},
		{"order: archived before invalid", mod(func(c *dsl.Call) { c.Archived = false; c.Status = "invalid" }), "excluded/not_archived"},
		{"order: invalid before exception", mod(func(c *dsl.Call) { c.Status = "invalid"; c.ExceptionCode = 20 }), "excluded/invalid"},
		{"order: exception before no audio", mod(func(c *dsl.Call) { c.ExceptionCode = 1702; c.AudioPackets = 0 }), "excluded/exception"},
		{"order: no audio before too short", mod(func(c *dsl.Call) { c.AudioPackets = 0; c.DurationMS = 1000 }), "excluded/no_audio"},
		{"order: too short before agent email", mod(func(c *dsl.Call) { c.DurationMS = 1000; c.AgentID = "a2" }), "excluded/too_short"},
		{"order: agent email before call filter", mod(func(c *dsl.Call) { c.AgentID = "a2"; c.Direction = "internal" }), "excluded/agent_without_email"},
		{"order: agent filter before call filter", mod(func(c *dsl.Call) { c.AgentID = "a3"; c.Direction = "internal" }), "excluded/agent_filtered"},
		{"order: call filter before mapping", mod(func(c *dsl.Call) { c.CallID = "bad-total"; c.Direction = "internal" }), "excluded/filtered_out"},
	}
	p := mustPlan(t, "", `
tenant { where = "tenant_id == 1" }
agents { where = "!(agent.email endsWith '@test.example')" }
calls  { where = "call.direction != 'internal'" }
field "number" "Total" {
  value    = "float(bd.Total)"
  on_error = "exclude"
}
`)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			total := "12.5"
			if tc.call.CallID == "bad-total" {
				total = "n/a"
			}
			src := &memSource{agents: agents, calls: []memCall{{call: tc.call, bd: [][2]string{{"Total", total}}}}}
			sink, sum := runMem(t, p, src)
			if got := sink.state("call", tc.call.CallID); got != tc.want {
				t.Errorf("state = %s, want %s", got, tc.want)
			}
			if sum.Calls.Total != 1 {
				t.Errorf("calls counted %d, want 1", sum.Calls.Total)
			}
		})
	}
}

func TestAgentRules(t *testing.T) {
	inactive := agent("u6", "a6", "six@acme.example", t0)
	inactive.Active = false
	other := agent("u7", "a7", "seven@acme.example", t0)
	other.TenantID = 2
	nonAgent := agent("u8", "", "eight@acme.example", t0)
	agents := []connector.AgentRecord{
		agent("u1", "a1", "one@acme.example", t0.Add(2*time.Hour)),
		agent("u1", "a1b", "one@acme.example", t0.Add(2*time.Hour)), // a second agent ID: one agent
		agent("u2", "a2", "  ", t0),
		agent("u3", "a3", "three@test.example", t0),
		agent("u4", "a4", " One@ACME.example", t0.Add(time.Hour)), // same email, created earlier than u1: keeps it
		agent("u5", "a5", "one@acme.example", t0.Add(3*time.Hour)),
		inactive,
		other,
		nonAgent,
		{UserID: "u9", Pos: "agents.csv:11", Err: fmt.Errorf("bad created_at")},
	}
	p := mustPlan(t, "", `
tenant { where = "tenant_id == 1" }
agents { where = "!(agent.email endsWith '@test.example')" }
`)
	sink, sum := runMem(t, p, &memSource{agents: agents})
	want := map[string]string{
		"u1": "excluded/duplicate_email",
		"u2": "excluded/no_email",
		"u3": "excluded/filtered_out",
		"u4": "imported",
		"u5": "excluded/duplicate_email",
		"u6": "imported", // inactive agents are synced too (emails unique across both)
		"u7": "excluded/other_tenant",
		"u8": "excluded/not_agent",
		"u9": "failed/bad_row",
	}
	for id, w := range want {
		if got := sink.state("agent", id); got != w {
			t.Errorf("%s: %s, want %s", id, got, w)
		}
	}
	if len(sink.ledger) != len(want) {
		t.Errorf("%d ledger rows, want %d (one per user)", len(sink.ledger), len(want))
	}
	if sum.Agents.Total != len(want) || sum.BadRows != 1 {
		t.Errorf("summary: %d agents, %d bad rows", sum.Agents.Total, sum.BadRows)
	}
	var got []string
	for _, a := range sink.agents {
		got = append(got, a.UserID+":"+strings.Join(a.AgentIDs, ";"))
	}
	sort.Strings(got)
	if strings.Join(got, " ") != "u4:a4 u6:a6" {
		t.Errorf("synced agents %v", got)
	}
}

func TestMultiIDAgentIsOneAgent(t *testing.T) {
	agents := []connector.AgentRecord{agent("u1", "a2", "one@acme.example", t0), agent("u1", "a1", "one@acme.example", t0)}
	p := mustPlan(t, "", "")
	calls := []memCall{{call: goodCall("c1", "a1")}, {call: goodCall("c2", "a2")}}
	sink, _ := runMem(t, p, &memSource{agents: agents, calls: calls})
	if len(sink.agents) != 1 || strings.Join(sink.agents[0].AgentIDs, ";") != "a1;a2" {
		t.Fatalf("agents %+v", sink.agents)
	}
	for _, c := range sink.calls {
		if !strings.Contains(c, "agent=u1") {
			t.Errorf("call not mapped to u1: %s", c)
		}
	}
}

func TestBackfillWindow(t *testing.T) {
	// Requested 2 days after installation: reaches 5 days before installation.
	p := mustPlan(t, `backfill_requested_at = "2026-11-03T00:00:00Z"`, "")
	if want := t0.Add(-5 * 24 * time.Hour); !p.Window.From.Equal(want) {
		t.Fatalf("window from %s, want %s", p.Window.From, want)
	}
	mk := func(id string, d time.Duration) memCall {
		c := goodCall(id, "a1")
		c.StartTime = p.Window.From.Add(d)
		return memCall{call: c}
	}
	src := &memSource{agents: []connector.AgentRecord{agent("u1", "a1", "x@acme.example", t0)},
		calls: []memCall{mk("edge", 0), mk("before", -time.Second), mk("after", time.Second)}}
	sink, sum := runMem(t, p, src)
	if wm := sum.Watermarks["dc1"]; wm.CallID != "after" || !wm.StartTime.Equal(p.Window.From.Add(time.Second)) {
		t.Errorf("watermark %+v, want the last call by start time", wm)
	}
	for id, want := range map[string]string{"edge": "imported", "before": "excluded/before_window", "after": "imported"} {
		if got := sink.state("call", id); got != want {
			t.Errorf("%s: %s, want %s", id, got, want)
		}
	}
	narrowed := mustPlan(t, `backfill_requested_at = "2026-11-03T00:00:00Z"
  backfill_days = 3`, "")
	if want := t0.Add(-1 * 24 * time.Hour); !narrowed.Window.From.Equal(want) {
		t.Errorf("narrowed window from %s, want %s", narrowed.Window.From, want)
	}
}

func TestBadRowsEndInLedger(t *testing.T) {
	p := mustPlan(t, "", "")
	src := &memSource{
		agents: []connector.AgentRecord{agent("u1", "a1", "x@acme.example", t0)},
		calls: []memCall{
			{call: goodCall("c1", "a1")},
			{call: dsl.Call{CallID: "c2"}, err: fmt.Errorf("bad start_time")},
			{err: fmt.Errorf("wrong column count")},
		},
	}
	sink, sum := runMem(t, p, src)
	if got := sink.state("call", "c2"); got != "failed/bad_row" {
		t.Errorf("c2: %s", got)
	}
	if sum.BadRows != 2 || sum.BadNoID != 1 || sum.SourceRows != 3 {
		t.Errorf("bad rows %d (no id %d), source rows %d", sum.BadRows, sum.BadNoID, sum.SourceRows)
	}
}

func TestMappingOmitAndTypes(t *testing.T) {
	p := mustPlan(t, "", `
field "text" "Customer" { value = "bd.Customer" }
field "number" "Total" { value = "float(bd.Total)" }
field "boolean" "VIP" { value = "bd.Tier == 'gold'" }
field "text" "Upper" { value = "upper(bd.Customer)" }
field "number" "Len" { value = "len(bd.Customer)" }
`)
	src := &memSource{
		agents: []connector.AgentRecord{agent("u1", "a1", "x@acme.example", t0)},
		calls: []memCall{
			{call: goodCall("c1", "a1"), bd: [][2]string{{"Customer", "K-1"}, {"Total", "3.25"}, {"Tier", "gold"}}},
			{call: goodCall("c2", "a1"), bd: [][2]string{{"Total", "n/a"}}},
		},
	}
	sink, sum := runMem(t, p, src)
	want := []string{
		`c1 agent=u1 Customer="K-1" Total=3.25 VIP=true Upper="K-1" Len=3`,
		`c2 agent=u1 VIP=false Len=0`,
	}
	if strings.Join(sink.calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(sink.calls, "\n"), strings.Join(want, "\n"))
	}
	if sum.FieldOmitted["Total"] != 1 {
		t.Errorf("omitted %v", sum.FieldOmitted)
	}
}

// The direct field paths must give what the expr program gives.
func TestDirectFieldsMatchVM(t *testing.T) {
	p := mustPlan(t, "", `
field "text" "A" { value = "bd.A" }
field "number" "N" { value = "float(bd.N)" }
field "boolean" "B" { value = "bd.B == 'true'" }
`)
	for i, k := range []fieldKind{fieldBDText, fieldBDFloat, fieldBDEqual} {
		if p.fields[i].kind != k {
			t.Fatalf("field %d: kind %d, want %d", i, p.fields[i].kind, k)
		}
	}
	vm := *p
	vm.fields = []fieldPlan{{kind: fieldVM}, {kind: fieldVM}, {kind: fieldVM}}
	inputs := [][][2]string{
		{{"A", "x"}, {"N", "1.5"}, {"B", "true"}},
		{{"A", ""}, {"N", ""}, {"B", "TRUE"}},
		{},
		{{"N", "1e400"}, {"B", "false"}},
		{{"N", "NaN"}},
		{{"N", " 2"}},
		{{"N", "-0"}, {"A", "ü,\"q\""}},
	}
	for _, in := range inputs {
		src := &memSource{agents: []connector.AgentRecord{agent("u1", "a1", "x@acme.example", t0)}, calls: []memCall{{call: goodCall("c", "a1"), bd: in}}}
		direct, ds := runMem(t, p, src)
		viaVM, vs := runMem(t, &vm, src)
		if fmt.Sprint(direct.calls) != fmt.Sprint(viaVM.calls) || fmt.Sprint(ds.FieldOmitted) != fmt.Sprint(vs.FieldOmitted) {
			t.Errorf("input %v:\ndirect %v %v\nvm     %v %v", in, direct.calls, ds.FieldOmitted, viaVM.calls, vs.FieldOmitted)
		}
	}
}

func TestPlanHashStable(t *testing.T) {
	a := mustPlan(t, "", `calls { where = "call.direction != 'internal'" }`)
	b := mustPlan(t, "", `calls { where = "call.direction != 'internal'" }`)
	c := mustPlan(t, "", `calls { where = "call.direction == 'in'" }`)
	if a.Hash() != b.Hash() || a.Hash() == c.Hash() || len(a.Hash()) != 64 {
		t.Errorf("hashes %s %s %s", a.Hash(), b.Hash(), c.Hash())
	}
}

func TestCancelledRunCommitsNothing(t *testing.T) {
	p := mustPlan(t, "", "")
	var calls []memCall
	for i := range 100 {
		calls = append(calls, memCall{call: goodCall(fmt.Sprint(i), "a1")})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sink := &memSink{}
	_, err := Run(ctx, p, Options{Sink: sink, Sources: []connector.Source{&memSource{calls: calls}}})
	if err == nil || sink.committed || !sink.aborted {
		t.Fatalf("err %v committed %v aborted %v", err, sink.committed, sink.aborted)
	}
}

// memPrior is a Prior built from a previous run's ledger writes.
type memPrior struct {
	rows   map[string]uint64
	active map[string]bool
	looked map[string]bool
}

type memLedger struct {
	rows   map[string]uint64
	active map[string]bool
}

func (l *memLedger) Row(r connector.LedgerRow, fp uint64, active bool) error {
	l.rows[r.Entity+"/"+r.ID] = fp
	l.active[r.Entity+"/"+r.ID] = active
	return nil
}
func (l *memLedger) Commit(context.Context, *RunRecord) error { return nil }
func (l *memLedger) Abort()                                   {}

func (p *memPrior) Lookup(entity, id string) (uint64, bool, bool) {
	fp, ok := p.rows[entity+"/"+id]
	return fp, p.active[entity+"/"+id], ok
}

func TestIncrementalSendsOnlyChanges(t *testing.T) {
	p := mustPlan(t, "", `field "text" "Customer" { value = "bd.Customer" }`)
	agents := []connector.AgentRecord{agent("u1", "a1", "x@acme.example", t0), agent("u2", "a2", "y@acme.example", t0)}
	calls := []memCall{
		{call: goodCall("c1", "a1"), bd: [][2]string{{"Customer", "K1"}}},
		{call: goodCall("c2", "a1"), bd: [][2]string{{"Customer", "K2"}}},
	}
	led := &memLedger{rows: map[string]uint64{}, active: map[string]bool{}}
	run := func(src *memSource) (*memSink, *RunRecord) {
		t.Helper()
		sink := &memSink{}
		prior := &memPrior{rows: map[string]uint64{}, active: map[string]bool{}}
		for k, v := range led.rows {
			prior.rows[k] = v
			prior.active[k] = led.active[k]
		}
		sum, err := Run(context.Background(), p, Options{Sink: sink, Sources: []connector.Source{src}, Prior: prior, Ledger: led})
		if err != nil {
			t.Fatal(err)
		}
		return sink, sum
	}
	first, _ := run(&memSource{agents: agents, calls: calls})
	if len(first.calls) != 2 || len(first.agents) != 2 {
		t.Fatalf("first run sent %d calls, %d agents", len(first.calls), len(first.agents))
	}
	second, sum := run(&memSource{agents: agents, calls: calls})
	if len(second.calls)+len(second.agents)+len(second.ledger) != 0 || sum.CallDiff.Unchanged != 2 {
		t.Fatalf("second run sent %v %v %v, diff %+v", second.calls, second.agents, second.ledger, sum.CallDiff)
	}
	// One call changes, one is new, an agent is deactivated (drift, not sent).
	calls[1].bd = [][2]string{{"Customer", "K2-new"}}
	calls = append(calls, memCall{call: goodCall("c3", "a2")})
	agents[1].Active = false
	third, sum := run(&memSource{agents: agents, calls: calls})
	if fmt.Sprint(third.calls) != `[c2 agent=u1 Customer="K2-new" c3 agent=u2 ]` || len(third.agents) != 0 {
		t.Errorf("third run sent %v, agents %v", third.calls, third.agents)
	}
	if sum.CallDiff.New != 1 || sum.CallDiff.Changed != 1 || sum.CallDiff.Unchanged != 1 {
		t.Errorf("diff %+v", sum.CallDiff)
	}
	if len(sum.AgentDiff.Drift) != 1 || sum.AgentDiff.Drift[0] != (DriftRow{"u2", "deactivated"}) {
		t.Errorf("drift %+v", sum.AgentDiff.Drift)
	}
	// The drift is recorded, so it is reported once.
	_, sum = run(&memSource{agents: agents, calls: calls})
	if len(sum.AgentDiff.Drift) != 0 {
		t.Errorf("drift reported again: %+v", sum.AgentDiff.Drift)
	}
}

// A call seen at two sites is imported once, from the first source of the
// spec, however the readers are scheduled.
func TestMultiSiteFirstSourceWins(t *testing.T) {
	src := fmt.Sprintf(baseSpec, "", `
source "engage" "dc2" {
  driver    = "snapshot"
  path      = "data2"
  system_id = "engage-acme"
}`)
	spec, diags := dsl.Parse("spec", map[string][]byte{"main.hcl": []byte(src)})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	p, err := Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	agents := []connector.AgentRecord{agent("u1", "a1", "x@acme.example", t0)}
	var dc1, dc2 []memCall
	for i := range 3000 {
		c := goodCall(fmt.Sprintf("C%05d", i), "a1")
		c.Site = "dc1"
		dc1 = append(dc1, memCall{call: c})
		c.Site, c.ANI = "dc2", "+999" // the same call, another copy
		dc2 = append(dc2, memCall{call: c})
	}
	for range 5 {
		sink := &memSink{}
		fromDC2 := 0
		sum, err := Run(context.Background(), p, Options{Sink: sink, BatchSize: 16,
			Sources: []connector.Source{&memSource{agents: agents, calls: dc1}, &memSource{agents: agents, calls: dc2}},
			Observe: func(o *ObservedCall) {
				if o.Out != nil && o.Out.ANI == "+999" {
					fromDC2++
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		if len(sink.calls) != 3000 || sum.DuplicateSeen != 3000 || sum.Calls.Total != 3000 {
			t.Fatalf("%d calls sent, %d duplicates, %d counted", len(sink.calls), sum.DuplicateSeen, sum.Calls.Total)
		}
		if fromDC2 != 0 {
			t.Fatalf("%d calls imported from dc2's copy, want all from dc1 (first in the spec)", fromDC2)
		}
	}
}
