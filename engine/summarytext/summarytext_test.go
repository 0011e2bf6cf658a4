package summarytext

import (
	"bytes"
	"strings"
	"testing"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
)

// TestCounted: rows a source filtered in SQL are shown as counted by the
// database, a failed one with its state (engine's TestCountedByTheDatabase
// checks the record's numbers).
func TestCounted(t *testing.T) {
	sum := &engine.RunRecord{SourceRows: 1, Counted: map[connector.StateReason]int{
		{State: connector.StateExcluded, Reason: connector.ReasonOtherTenant}: 12, {State: connector.StateExcluded, Reason: connector.ReasonBeforeWindow}: 3}}
	var out bytes.Buffer
	WriteSummary(&out, sum)
	for _, want := range []string{"calls filtered in the database, not read: 15\n", "  other_tenant: 12 (counted by the database)\n", "  before_window: 3 (counted by the database)\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "bad_row") {
		t.Errorf("a zero count is shown:\n%s", out.String())
	}

	sum.Counted = map[connector.StateReason]int{{State: connector.StateFailed, Reason: connector.ReasonBadRow}: 2}
	out.Reset()
	WriteSummary(&out, sum)
	if f, _, _ := sum.Problems(); f != 2 || !strings.Contains(out.String(), "  bad_row: 2 (failed, counted by the database)\n") {
		t.Errorf("failed %d:\n%s", f, out.String())
	}
	out.Reset()
	WriteVerdict(&out, sum, "spec")
	if want := "needs attention: 2 failed rows; see `applink report spec`"; !strings.HasPrefix(out.String(), want) {
		t.Errorf("verdict %q, want %q…", out.String(), want)
	}
}

// TestNotes: values left out are listed by field, with their reasons
// (engine's TestRunErrorsNameTheSpec checks the record's numbers).
func TestNotes(t *testing.T) {
	sum := &engine.RunRecord{FieldOmitted: map[string]int{"Total": 7}, FieldOmittedSamples: map[string][]string{
		"Total": {`call c0: spec/main.hcl:16,35-50: field Total: float: cannot parse "x"`}}}
	var out strings.Builder
	WriteSummaryNotes(&out, sum)
	if !strings.Contains(out.String(), "field values left out (on_error = omit): Total 7\n  call c0: spec/main.hcl:16,35-50: field Total: float: cannot parse \"x\"\n") {
		t.Errorf("summary notes:\n%s", out.String())
	}
}
