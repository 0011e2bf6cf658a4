package engine

import (
	"strings"
	"testing"

	"github.com/applink-dev/applink/engine/connector"
)

// TestFieldMaxLength: a text longer than its field's max_length (in
// characters) is a mapping error under on_error: left out (omit) or the
// call excluded (exclude); the limits change the plan's hash.
func TestFieldMaxLength(t *testing.T) {
	p := mustPlan(t, "", `
field "text" "Short" { value = "bd.Short" }
field "text" "Strict" {
  value    = "bd.Strict"
  on_error = "exclude"
}
`)
	before := p.Hash()
	if err := p.SetFieldMaxLength(map[string]int{"Short": 3, "Strict": 4}); err != nil {
		t.Fatal(err)
	}
	if p.Hash() == before {
		t.Error("max_length does not change the plan's hash")
	}
	if err := p.SetFieldMaxLength(map[string]int{"Nope": 3}); err == nil {
		t.Error("a limit for an unknown field was accepted")
	}
	src := &memSource{
		agents: []connector.AgentRecord{agent("u1", "a1", "x@acme.example", t0)},
		calls: []memCall{
			{call: goodCall("c1", "a1"), bd: [][2]string{{"Short", "äöü"}, {"Strict", "abcd"}}}, // 3 characters, 6 bytes: fits
			{call: goodCall("c2", "a1"), bd: [][2]string{{"Short", "abcd"}, {"Strict", "ok"}}},  // Short too long: left out
			{call: goodCall("c3", "a1"), bd: [][2]string{{"Short", "a"}, {"Strict", "abcde"}}},  // Strict too long: excluded
		},
	}
	sink, sum := runMem(t, p, src)
	want := `c1 agent=u1 Short="äöü" Strict="abcd"` + "\n" + `c2 agent=u1 Strict="ok"`
	if got := strings.Join(sink.calls, "\n"); got != want {
		t.Errorf("calls:\n%s\nwant:\n%s", got, want)
	}
	if sum.FieldOmitted["Short"] != 1 || sink.state("call", "c3") != "excluded/mapping_error" {
		t.Errorf("omitted %v, c3 %s", sum.FieldOmitted, sink.state("call", "c3"))
	}
}
