package engine

import (
	"context"
	"testing"
	"time"

	"github.com/applink-dev/applink/engine/connector"
)

// TestNewestImported: the summary carries the start of the newest imported
// call (serve's lag), ignoring newer excluded calls, and a run that sends
// nothing still reports the newest call the ledger holds as imported.
func TestNewestImported(t *testing.T) {
	p := mustPlan(t, "", "")
	agents := []connector.AgentRecord{agent("u1", "a1", "x@acme.example", t0)}
	old, newest, excluded := goodCall("c1", "a1"), goodCall("c2", "a1"), goodCall("c3", "a1")
	newest.StartTime = t0.Add(5 * time.Hour)
	excluded.StartTime = t0.Add(9 * time.Hour)
	excluded.Archived = false // not_archived
	calls := []memCall{{call: newest}, {call: old}, {call: excluded}}

	tests := []struct {
		name  string
		calls []memCall
		want  time.Time
	}{
		{"newest of the imported, not of the excluded", calls, newest.StartTime},
		{"none imported", []memCall{{call: excluded}}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, sum := runMem(t, p, &memSource{agents: agents, calls: tt.calls})
			if !sum.NewestImported.Equal(tt.want) {
				t.Errorf("NewestImported = %v, want %v", sum.NewestImported, tt.want)
			}
			if _, ok := sum.JSON()["newest_imported"]; ok == tt.want.IsZero() {
				t.Errorf("JSON newest_imported present = %v, want %v", ok, !tt.want.IsZero())
			}
		})
	}

	t.Run("unchanged rows count", func(t *testing.T) {
		led := &memLedger{rows: map[string]uint64{}, active: map[string]bool{}}
		run := func() *RunRecord {
			prior := &memPrior{rows: map[string]uint64{}, active: map[string]bool{}}
			for k, v := range led.rows {
				prior.rows[k], prior.active[k] = v, led.active[k]
			}
			sum, err := Run(context.Background(), p, Options{Sink: &memSink{}, Sources: []connector.Source{&memSource{agents: agents, calls: calls}}, Prior: prior, Ledger: led})
			if err != nil {
				t.Fatal(err)
			}
			return sum
		}
		run()
		second := run()
		if second.Sent.Calls != 0 || !second.NewestImported.Equal(newest.StartTime) {
			t.Errorf("second run: sent %d, NewestImported %v, want 0 and %v", second.Sent.Calls, second.NewestImported, newest.StartTime)
		}
	})
}
