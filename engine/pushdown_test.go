package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/applink-dev/applink/engine/connector"
)

// locatingSource is a memSource whose media must be located (a live
// Engage): LocateMedia fails for the paths in missing.
type locatingSource struct {
	*memSource
	mu      sync.Mutex
	missing map[string]bool
	asked   []string
}

func (s *locatingSource) LocateMedia(_ context.Context, mediaPath string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, mediaPath)
	if mediaPath == "" {
		return "", errors.New("the call has no media path")
	}
	if s.missing[mediaPath] {
		return "", fmt.Errorf("media %s: no such file", mediaPath)
	}
	return "/mnt/" + mediaPath, nil
}

// mediaSink records the media file of every call sent.
type mediaSink struct {
	memSink
	files []string
}

func (s *mediaSink) Call(ctx context.Context, c *connector.OutCall) error {
	s.files = append(s.files, c.CallID+"="+c.MediaFile)
	return s.memSink.Call(ctx, c)
}

// TestMediaUnreadableFailsTheCall: an imported call whose media its source
// cannot read is failed (media_unreadable), never sent; an excluded call's
// media is not even looked for; the next run sends it once it is readable.
func TestMediaUnreadableFailsTheCall(t *testing.T) {
	p := mustPlan(t, "", "")
	short := goodCall("c3", "a1")
	short.DurationMS = 1000
	noPath := goodCall("c4", "a1")
	noPath.MediaPath = ""
	calls := []memCall{{call: goodCall("c1", "a1")}, {call: goodCall("c2", "a1")}, {call: short}, {call: noPath}}
	for i := range 40 { // more than one batch, so files are located concurrently
		calls = append(calls, memCall{call: goodCall(fmt.Sprintf("x%02d", i), "a1")})
	}
	agents := []connector.AgentRecord{agent("u1", "a1", "x@acme.example", t0)}
	led := &memLedger{rows: map[string]uint64{}, active: map[string]bool{}}
	run := func(missing map[string]bool) (*mediaSink, *RunRecord, *locatingSource) {
		t.Helper()
		src := &locatingSource{memSource: &memSource{agents: agents, calls: calls}, missing: missing}
		prior := &memPrior{rows: map[string]uint64{}, active: map[string]bool{}}
		for k, v := range led.rows {
			prior.rows[k] = v
		}
		sink := &mediaSink{}
		sum, err := Run(context.Background(), p, Options{Sink: sink, Sources: []connector.Source{src}, BatchSize: 8, Prior: prior, Ledger: led})
		if err != nil {
			t.Fatal(err)
		}
		return sink, sum, src
	}

	sink, sum, src := run(map[string]bool{"media/c2.wav": true})
	if got := sink.state("call", "c2"); got != "failed/media_unreadable" {
		t.Errorf("c2 %s", got)
	}
	if got := sink.state("call", "c4"); got != "failed/media_unreadable" {
		t.Errorf("c4 (no media path) %s", got)
	}
	if got := sink.state("call", "c3"); got != "excluded/too_short" {
		t.Errorf("c3 %s", got)
	}
	for _, r := range sink.ledger {
		if r.ID == "c2" && r.Detail != "media media/c2.wav: no such file" {
			t.Errorf("c2 detail %q", r.Detail)
		}
	}
	for _, f := range sink.files {
		if strings.HasPrefix(f, "c2=") || strings.HasPrefix(f, "c4=") {
			t.Errorf("sent without media: %s", f)
		}
	}
	if len(sink.files) != 41 || sink.files[0] != "c1=/mnt/media/c1.wav" {
		t.Errorf("sent %d calls, first %v", len(sink.files), sink.files[:1])
	}
	for _, m := range src.asked {
		if m == "media/c3.wav" {
			t.Error("the media of an excluded call was looked for")
		}
	}
	if n := sum.Calls.By[connector.StateReason{State: connector.StateFailed, Reason: connector.ReasonMediaUnreadable}]; n != 2 || sum.Clean() {
		t.Errorf("media_unreadable %d, clean %v", n, sum.Clean())
	}

	// The file appears: the next run sends c2, and only it.
	sink, sum, _ = run(map[string]bool{})
	if len(sink.files) != 1 || sink.files[0] != "c2=/mnt/media/c2.wav" {
		t.Errorf("second run sent %v", sink.files)
	}
	if f, _, _ := sum.Problems(); f != 1 { // c4 still has no media
		t.Errorf("failed %d, want 1", f)
	}
}

// countingSource filters in its "database": it reports what it left out.
type countingSource struct {
	*memSource
	counted map[connector.StateReason]int
	q       connector.CallQuery
}

func (s *countingSource) CountFiltered(_ context.Context, q connector.CallQuery) (map[connector.StateReason]int, error) {
	s.q = q
	return s.counted, nil
}

// TestCountedByTheDatabase: rows a source filtered in SQL are in the
// summary, shown as counted by the database, and a counted failed row
// makes the run not clean.
func TestCountedByTheDatabase(t *testing.T) {
	p := mustPlan(t, "", `tenant {
  where = "tenant_id == 1"
}`)
	src := &countingSource{memSource: &memSource{agents: []connector.AgentRecord{agent("u1", "a1", "x@acme.example", t0)}, calls: []memCall{{call: goodCall("c1", "a1")}}},
		counted: map[connector.StateReason]int{{State: connector.StateExcluded, Reason: connector.ReasonOtherTenant}: 12, {State: connector.StateExcluded, Reason: connector.ReasonBeforeWindow}: 3, {State: connector.StateFailed, Reason: connector.ReasonBadRow}: 0}}
	sum, err := Run(context.Background(), p, Options{Sink: &memSink{}, Sources: []connector.Source{src}})
	if err != nil {
		t.Fatal(err)
	}
	if src.q.TenantEquals == nil || *src.q.TenantEquals != 1 || !src.q.From.Equal(p.Window.From) {
		t.Errorf("asked to count %+v", src.q)
	}
	if sum.CountedRows() != 15 || !sum.Clean() || sum.SourceRows != 1 {
		t.Errorf("counted %v (%d), clean %v, source rows %d", sum.Counted, sum.CountedRows(), sum.Clean(), sum.SourceRows)
	}
	// How the summary renders them: engine/summarytext's TestCounted.
	want := map[connector.StateReason]int{{State: connector.StateExcluded, Reason: connector.ReasonOtherTenant}: 12, {State: connector.StateExcluded, Reason: connector.ReasonBeforeWindow}: 3}
	if !maps.Equal(sum.Counted, want) {
		t.Errorf("counted %v, want %v (a zero count is not kept)", sum.Counted, want)
	}

	src.counted = map[connector.StateReason]int{{State: connector.StateFailed, Reason: connector.ReasonBadRow}: 2}
	sum, err = Run(context.Background(), p, Options{Sink: &memSink{}, Sources: []connector.Source{src}})
	if err != nil {
		t.Fatal(err)
	}
	if f, _, _ := sum.Problems(); f != 2 || sum.Counted[connector.StateReason{State: connector.StateFailed, Reason: connector.ReasonBadRow}] != 2 {
		t.Errorf("failed %d, counted %v", f, sum.Counted)
	}
}
