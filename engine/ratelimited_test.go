package engine

import (
	"context"
	"testing"

	"github.com/applink-dev/applink/engine/connector"
)

// limitingSink reports every call after the first as rate_limited, as
// the cxone sink does once CXone asks it to wait longer than a run waits.
type limitingSink struct{ memSink }

func (s *limitingSink) Call(ctx context.Context, c *connector.OutCall) error {
	if c.CallID != "c1" {
		s.info.Fail("call", c.CallID, connector.Failure{Code: connector.ReasonRateLimited, Detail: "CXone answered 429"})
		return nil
	}
	return s.memSink.Call(ctx, c)
}

// TestRateLimitedIsLeftForNextRun: a row the sink left rate_limited is
// excluded with that reason (never failed, so the run needs no attention)
// and its ledger fingerprint is not the imported one, so the next run
// sends it again.
func TestRateLimitedIsLeftForNextRun(t *testing.T) {
	p := mustPlan(t, "", "")
	src := &memSource{
		agents: []connector.AgentRecord{agent("u1", "a1", "x@acme.example", t0)},
		calls:  []memCall{{call: goodCall("c1", "a1")}, {call: goodCall("c2", "a1")}, {call: goodCall("c3", "a1")}},
	}
	sink := &limitingSink{}
	ledger := &memLedger{rows: map[string]uint64{}, active: map[string]bool{}}
	sum, err := Run(context.Background(), p, Options{Sink: sink, Sources: []connector.Source{src}, RunID: "t", Ledger: ledger})
	if err != nil {
		t.Fatal(err)
	}
	if got := sum.Calls.By[connector.StateReason{State: connector.StateExcluded, Reason: connector.ReasonRateLimited}]; got != 2 || len(sum.Failed) != 0 || sum.Calls.Count(connector.StateFailed) != 0 {
		t.Errorf("rate_limited %d, failed %d %v", got, sum.Calls.Count(connector.StateFailed), sum.Failed)
	}
	if ledger.rows["call/c2"] != fingerprint(connector.StateExcluded, connector.ReasonRateLimited, 0) || ledger.rows["call/c2"] == ledger.rows["call/c1"] {
		t.Errorf("ledger fingerprints %v", ledger.rows)
	}
	if ExplainReason("call", connector.StateExcluded, connector.ReasonRateLimited) == "" {
		t.Error("rate_limited is not explained")
	}
}
