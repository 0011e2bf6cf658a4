package report_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/report"
	"github.com/applink-dev/applink/engine/report/reporttest"
	"github.com/applink-dev/applink/engine/state"
)

// TestQueuedRun: a run that queued its calls for the delivery workers is
// reported with the run record's numbers: queued, not imported, and where
// the queued calls are now, in text, JSON and HTML alike.
func TestQueuedRun(t *testing.T) {
	started := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	rec := &engine.RunRecord{RunID: "r1", Started: started, Elapsed: time.Second, SourceRows: 8,
		Calls: engine.Tally{Total: 8, By: map[connector.StateReason]int{
			{State: connector.StateQueued}: 5, {State: connector.StateImported}: 1, {State: connector.StateExcluded, Reason: connector.ReasonTooShort}: 2}},
		ImportedByDay: map[string]int{"2026-11-29": 6}, Delivery: engine.Delivery{Queued: 5, Imported: 2, Failed: 1, Retrying: 1}}
	rec.Sent.Calls = 5
	f := &fakeState{runs: []state.RunRecord{{RunID: "r1", Kind: "run", Started: started, Ended: started.Add(time.Second), Record: rec}}}
	r, err := report.Build(context.Background(), f, report.Options{Now: started.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	l := r.Runs[0]
	if l.Imported != 1 || l.Queued != 5 || l.Delivery == nil || *l.Delivery != rec.Delivery || r.Accounting.Unexplained != 0 {
		t.Fatalf("run line %+v, accounting %+v", l, r.Accounting)
	}
	text := string(render(t, r, "text"))
	for _, want := range []string{"read 8 calls (imported 1, queued 5, excluded 2, failed 0)",
		"of the 5 queued: 2 delivered, 1 failed, 1 retrying, 0 in flight, 1 waiting"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	var js struct {
		Runs []struct {
			Queued   int             `json:"queued_calls"`
			Delivery engine.Delivery `json:"delivery"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(render(t, r, "json"), &js); err != nil || len(js.Runs) != 1 || js.Runs[0].Queued != 5 || js.Runs[0].Delivery != rec.Delivery {
		t.Errorf("JSON runs %+v (%v)", js.Runs, err)
	}
	page, err := reporttest.PageText(render(t, r, "html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range reporttest.CountPatterns(r) {
		if !re.MatchString(page) {
			t.Errorf("the page's text lacks %s:\n%s", re, page)
		}
	}
}
