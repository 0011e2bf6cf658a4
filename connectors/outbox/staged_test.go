package outbox

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
)

// TestReadStagedKeep: with a keep filter, calls not asked for are skipped
// without decoding them (a damaged line of another call does not stop the
// read), an id with escapes is decoded in full and still found, and a value
// of a field the spec no longer has is an UnknownFieldError.
func TestReadStagedKeep(t *testing.T) {
	dir := t.TempDir()
	lines := `{"call_id":"C1","agent_user_id":null,"start_time":"2026-11-02T10:00:00Z","duration_ms":1,"direction":"in","ani":"","dnis":"","media":null,"business_data":{"text":{"Customer":"K-1"},"number":{},"boolean":{}}}
{"call_id":"C2", this line is damaged
{"call_id":"C\"3","agent_user_id":"u1","start_time":"2026-11-02T10:00:00Z","duration_ms":1,"direction":"in","ani":"","dnis":"","media":null,"business_data":{"text":{"Customer":"K-3"},"number":{},"boolean":{}}}
{"call_id":"C4","agent_user_id":null,"start_time":"2026-11-02T10:00:00Z","duration_ms":1,"direction":"in","ani":"","dnis":"","media":null,"business_data":{"text":{"Gone":"x"},"number":{},"boolean":{}}}
`
	if err := os.WriteFile(filepath.Join(dir, "calls.jsonl"), []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	fields := []dsl.Field{{Type: dsl.TypeText, Name: "Customer"}}
	read := func(ids ...string) ([]string, error) {
		var got []string
		err := ReadStaged(dir, fields, func(id string) bool { return slices.Contains(ids, id) }, func(s Staged) error {
			if s.Call != nil {
				got = append(got, s.Call.CallID+"="+string(s.Call.Values[0].Text))
			}
			return nil
		})
		return got, err
	}
	if got, err := read("C1", `C"3`); err != nil || !slices.Equal(got, []string{"C1=K-1", `C"3=K-3`}) {
		t.Errorf("keep C1, C\"3: %v, %v", got, err)
	}
	if _, err := read("C2"); err == nil {
		t.Error("the damaged line of a kept call was not reported")
	}
	var unknown *connector.UnknownFieldError
	if _, err := read("C4"); !errors.As(err, &unknown) || unknown.Name != "Gone" || unknown.Pos != "calls.jsonl:4" {
		t.Errorf("C4: %v, want an UnknownFieldError for Gone at calls.jsonl:4", err)
	}
}
