package engine

import (
	"context"
	"testing"

	"github.com/applink-dev/applink/engine/connector"
)

// mediaReportingSink reports the media it sends, as the cxone sink does.
type mediaReportingSink struct{ memSink }

func (s *mediaReportingSink) Call(ctx context.Context, c *connector.OutCall) error {
	if s.info.MediaSent != nil {
		s.info.MediaSent(c.CallID, connector.MediaSent{ContentType: "audio/wav", Size: int64(len(c.CallID)), SHA256: "sha-" + c.CallID})
	}
	return s.memSink.Call(ctx, c)
}

// mediaRecordingLedger is a ledger that keeps what was sent of calls' media.
type mediaRecordingLedger struct {
	memLedger
	media map[string]connector.MediaSent
}

func (l *mediaRecordingLedger) MediaSent(callID string, m connector.MediaSent) { l.media[callID] = m }

// TestMediaSentReachesTheLedger: a ledger writer that records media
// (MediaRecorder, the state's RunLedger) gets what the sink reports of
// each call it sent; a plain one leaves the sink's hook unset.
func TestMediaSentReachesTheLedger(t *testing.T) {
	p := mustPlan(t, "", "")
	src := &memSource{
		agents: []connector.AgentRecord{agent("u1", "a1", "x@acme.example", t0)},
		calls:  []memCall{{call: goodCall("c1", "a1")}, {call: goodCall("c22", "a1")}},
	}
	led := &mediaRecordingLedger{memLedger: memLedger{rows: map[string]uint64{}, active: map[string]bool{}}, media: map[string]connector.MediaSent{}}
	if _, err := Run(context.Background(), p, Options{Sink: &mediaReportingSink{}, Sources: []connector.Source{src}, RunID: "t", Ledger: led}); err != nil {
		t.Fatal(err)
	}
	if m := led.media["c22"]; len(led.media) != 2 || m != (connector.MediaSent{ContentType: "audio/wav", Size: 3, SHA256: "sha-c22"}) {
		t.Errorf("media recorded %v", led.media)
	}
	sink := &mediaReportingSink{}
	plain := &memLedger{rows: map[string]uint64{}, active: map[string]bool{}}
	if _, err := Run(context.Background(), p, Options{Sink: sink, Sources: []connector.Source{&memSource{calls: src.calls, agents: src.agents}}, RunID: "t2", Ledger: plain}); err != nil {
		t.Fatal(err)
	}
	if sink.info.MediaSent != nil {
		t.Error("the sink got a media hook with a ledger that keeps none")
	}
}
