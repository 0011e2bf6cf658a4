package diff

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/preview"
	"github.com/applink-dev/applink/engine/workspace"
)

// TestCompareRows: the comparison of a call's staged copy with this
// preview stars exactly the fields that differ, renders values as the
// outbox writes them, and shows a field only one side has.
func TestCompareRows(t *testing.T) {
	start := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	fields := []dsl.Field{{Type: dsl.TypeText, Name: "Customer"}, {Type: dsl.TypeNumber, Name: "Total"}}
	sent := &workspace.SentCopy{Fields: fields, Call: &connector.OutCall{CallID: "C1", AgentUserID: "U1", StartTime: start, DurationMS: 5000,
		Direction: "in", ANI: "1", DNIS: "2", Media: "m.wav",
		Values: []connector.Value{{Field: 0, Text: []byte("ACME")}, {Field: 1, Number: 12.5}}}}
	bd, _ := json.Marshal(map[string]map[string]any{"text": {"Customer": "ACME"}, "number": {"Total": 13}, "boolean": {"VIP": true}})
	now := &preview.CallDetail{Pos: 7, State: connector.StateImported, AgentUserID: "U1", BusinessData: bd,
		Call: dsl.Call{CallID: "C1", StartTime: start, DurationMS: 6000, Direction: "in", ANI: "1", DNIS: "2", MediaPath: "m.wav"},
		Prev: &preview.PrevState{State: connector.StateImported}}
	want := map[string][3]string{ // name -> before, now, differs
		"state":         {"imported", "imported", ""},
		"reason":        {"-", "-", ""},
		"duration_ms":   {"5000", "6000", "*"},
		"start_time":    {"2026-11-02T09:00:00Z", "2026-11-02T09:00:00Z", ""},
		"text Customer": {`"ACME"`, `"ACME"`, ""},
		"number Total":  {"12.5", "13", "*"},
		"boolean VIP":   {"-", "true", "*"},
		"agent_user_id": {"U1", "U1", ""},
		"media":         {"m.wav", "m.wav", ""},
	}
	got := map[string]fieldRow{}
	for _, r := range compareRows(now, sent, fields) {
		got[r.name] = r
	}
	for name, w := range want {
		r, ok := got[name]
		if !ok {
			t.Errorf("no row %q", name)
			continue
		}
		if r.before != w[0] || r.now != w[1] || r.differs != (w[2] == "*") {
			t.Errorf("%s: before %q now %q differs %v, want %q %q %v", name, r.before, r.now, r.differs, w[0], w[1], w[2] == "*")
		}
	}
	// A new call has no copy: nothing is starred.
	for _, r := range compareRows(&preview.CallDetail{Pos: 1, State: connector.StateImported, Call: now.Call}, nil, fields) {
		if r.differs || r.beforeKnown {
			t.Errorf("new call: row %s starred or known before", r.name)
		}
	}
}

// TestColumns: the table fits the pane, the reason taking what is left.
func TestColumns(t *testing.T) {
	for _, w := range []int{80, 120, 200} {
		used := 0
		for _, c := range columns(w, 12345) {
			used += c.width + 2
		}
		if used != w {
			t.Errorf("width %d: columns use %d cells", w, used)
		}
	}
	if c := columns(20, 5); c[4].width < 6 {
		t.Errorf("a narrow pane squeezes the reason below 6 cells: %d", c[4].width)
	}
}
