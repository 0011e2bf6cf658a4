package rows

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestBusinessData(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want []string
	}{
		{"none", ``, nil},
		{"sorted by type then name", `{"boolean":{"VIP":true},"number":{"Total":1.5},"text":{"b":"2","a":"1"}}`, []string{
			`text    a                      = "1"`,
			`text    b                      = "2"`,
			`number  Total                  = 1.5`,
			`boolean VIP                    = true`,
		}},
		{"empty object", `{}`, nil},
		{"bad JSON is shown, not dropped", `{"text":`, []string{`{"text":`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := BusinessData(json.RawMessage(tc.raw)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRuleOf(t *testing.T) {
	why := map[string]string{"filtered_out": "calls: call.direction != 'internal'"}
	tests := []struct{ reason, want string }{
		{"other_tenant", "call rule 1: not in this spec's tenant filter"},
		{"filtered_out", "call rule 11: the spec's call filter said no (calls: call.direction != 'internal')"},
		// No rule gives these: the engine's sentence (engine.ExplainReason).
		{"agent_unmapped", "The call is imported without an agent: its agent ID belongs to no agent synced to CXone."},
		{"bad_row", "The source row could not be read (a damaged line, a bad date or an unknown value); it is read again on the next run."},
		{"http_422", "CXone refused the request with HTTP status 422; the row is sent again on the next run."},
		{"something_new", "something_new"},
	}
	for _, tc := range tests {
		t.Run(tc.reason, func(t *testing.T) {
			if got := RuleOf(tc.reason, why); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
