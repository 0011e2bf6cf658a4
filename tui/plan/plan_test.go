package plan

import (
	"strings"
	"testing"

	"github.com/applink-dev/applink/engine/preview"
	"github.com/applink-dev/applink/tui/help"
)

// TestStagesAndWidth: before a preview every stage shows a dash; after,
// its counts; lines never exceed the pane's width.
func TestStagesAndWidth(t *testing.T) {
	m := New(nil, help.DefaultKeys()).SetSize(40, 20)
	v := m.View()
	for _, s := range stageOrder {
		if !strings.Contains(v, StageTitles[s]) {
			t.Errorf("stage %s missing before a preview:\n%s", s, v)
		}
	}
	m = m.SetStages([]preview.StageCount{{Stage: preview.ViewSource, In: 1234567, Out: 1234000}}, "an earlier preview")
	v = m.View()
	if !strings.Contains(v, "stages from an earlier preview") || !strings.Contains(v, "1234567") {
		t.Errorf("after SetStages:\n%s", v)
	}
	for _, l := range strings.Split(v, "\n") {
		if n := len([]rune(l)); n > 40 {
			t.Errorf("line of %d cells in a 40-cell pane: %q", n, l)
		}
	}
}
