package preview

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// memSource is an in-memory connector.Source. With cancelAfter > 0 it calls
// cancel after emitting that many calls, as an interrupt would.
type memSource struct {
	agents      []connector.AgentRecord
	calls       []memCall
	cancelAfter int
	cancel      context.CancelFunc
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
		if m.cancelAfter > 0 && i == m.cancelAfter {
			m.cancel()
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rec = connector.CallRecord{Call: c.call, Pos: fmt.Sprintf("calls.csv:%d", i+2), Err: c.err, BD: rec.BD[:0]}
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

const testSpec = `
spec {
  customer     = "acme"
  cxone_tenant = "acme-eu1"
  installed_at = "2026-11-01T00:00:00Z"
}
source "engage" "dc1" {
  driver    = "snapshot"
  path      = "data"
  system_id = "engage-acme"
}
agents {
  where = "!(agent.email endsWith '@test.example')"
}
calls {
  where = "call.direction != 'internal'"
}
field "text" "Customer" { value = "bd.Customer" }
field "number" "Total" {
  value    = "float(bd.Total)"
  on_error = "exclude"
}
field "boolean" "VIP" { value = "bd.Tier == 'gold'" }
`

func testPlan(t testing.TB) *engine.Plan {
	t.Helper()
	spec, diags := dsl.Parse("spec", map[string][]byte{"main.hcl": []byte(testSpec)})
	if diags.HasErrors() {
		t.Fatalf("spec: %s", diags.Error())
	}
	p, err := engine.Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func agentRec(user, agentID, email string) connector.AgentRecord {
	return connector.AgentRecord{UserID: user, AgentID: agentID, FirstName: "F" + user, LastName: "L" + user, Email: email,
		Active: true, IsAgent: agentID != "", TenantID: 1, CreatedAt: t0.Add(-time.Hour)}
}

// goodCall passes every rule.
func goodCall(id, agentID string) dsl.Call {
	return dsl.Call{CallID: id, TenantID: 1, Site: "dc1", AgentID: agentID, StartTime: t0.Add(time.Hour),
		DurationMS: 60000, Direction: "in", ANI: "+4470000" + id, DNIS: "+200", Archived: true, AudioPackets: 100,
		Status: "ok", MediaPath: "media/" + id + ".wav", Skill: "sales"}
}

func bd(customer, total, tier string) [][2]string {
	return [][2]string{{"Customer", customer}, {"Total", total}, {"Tier", tier}}
}

// testSource covers every stage: imported (with and without agent),
// excluded by rules, by the filter and by the mapping, bad rows with and
// without an id.
func testSource() *memSource {
	mod := func(c dsl.Call, f func(*dsl.Call)) dsl.Call { f(&c); return c }
	return &memSource{
		agents: []connector.AgentRecord{
			agentRec("u1", "a1", "one@acme.example"),
			agentRec("u2", "a2", ""),
			agentRec("u3", "a3", "three@test.example"),
			agentRec("u4", "", "boss@acme.example"),
		},
		calls: []memCall{
			{call: goodCall("C1", "a1"), bd: bd("Zoë \"Q\"\n", "12.5", "gold")},
			{call: goodCall("C2", "a1"), bd: bd("Bob", "3", "silver")},
			{call: mod(goodCall("C3", "a1"), func(c *dsl.Call) { c.StartTime = t0.Add(-time.Hour) }), bd: bd("Old", "1", "")},
			{call: mod(goodCall("C4", "a1"), func(c *dsl.Call) { c.Direction = "internal" })},
			{call: goodCall("C5", "a1"), bd: bd("Eve", "x", "gold")},
			{call: dsl.Call{CallID: "C6"}, err: errors.New("bad start_time")},
			{call: dsl.Call{}, err: errors.New("wrong column count")},
			{call: goodCall("C8", "a99"), bd: bd("", "7", "gold")},
			{call: goodCall("C9", "a2"), bd: bd("Ann", "1", "gold")},
			{call: goodCall("C10", "a3"), bd: bd("Tim", "2", "gold")},
			{call: mod(goodCall("C11", "a1"), func(c *dsl.Call) { c.DurationMS = 2000 })},
		},
	}
}

func runPreview(t *testing.T, dbPath, statePath string, src *memSource, sampleBD bool) *Result {
	t.Helper()
	res, err := Run(context.Background(), testPlan(t), Options{
		DBPath: dbPath, StatePath: statePath, Sources: []connector.Source{src}, SampleBD: sampleBD,
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func fileHash(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs (run with -update after checking):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// normalize blanks what varies from run to run, for golden files.
func normalize(r *Result) {
	r.DBPath = "preview.duckdb"
	r.Summary.RunID = "test"
	r.Summary.Started = t0
	r.Summary.Elapsed = 1500 * time.Millisecond
}
