package stages

import (
	"context"
	"errors"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/preview"
	"github.com/applink-dev/applink/tui/help"
	"github.com/applink-dev/applink/tui/rows"
)

func result() *preview.Result {
	r := &preview.Result{Stages: []preview.StageCount{
		{Stage: preview.ViewSource, In: 100, Out: 100},
		{Stage: preview.ViewAfterRules, In: 100, Out: 70, Left: map[string]int{"too_short": 10, "no_audio": 10, "invalid": 20}},
		{Stage: preview.ViewAfterFilters, In: 70, Out: 60, Left: map[string]int{"filtered_out": 10}},
	}}
	r.WouldSend.Calls = 60
	return r
}

// TestSortedLeft: most rows first, ties by reason.
func TestSortedLeft(t *testing.T) {
	got := sortedLeft(result().Stages[1])
	want := []reasonCount{{"invalid", 20}, {"no_audio", 10}, {"too_short", 10}}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%d: %v, want %v", i, got[i], want[i])
		}
	}
}

// TestStepping: n runs the preview, then steps; N/p go back; enter on a
// reason asks the rows pane for those rows; the last stage says what
// would be sent.
func TestStepping(t *testing.T) {
	runs := 0
	run := func(ctx context.Context, p func(engine.Progress)) (*preview.Result, rows.Store, error) {
		runs++
		return result(), nil, nil
	}
	m := New(run, help.DefaultKeys(), false).SetSize(80, 24)
	if !strings.Contains(m.View(), "No preview yet") || !m.Starts(false) {
		t.Fatalf("before the preview:\n%s", m.View())
	}
	m, cmd := m.Next(context.Background())
	if !m.Running() {
		t.Fatal("n did not start the preview")
	}
	for cmd != nil {
		msg := cmd()
		if b, ok := msg.(tea.BatchMsg); ok {
			msg = b[0]()
		}
		m, cmd = m.Update(msg)
		if _, ok := msg.(DoneMsg); ok {
			break
		}
	}
	if m.Stage() != 0 || runs != 1 {
		t.Fatalf("after the preview: stage %d, runs %d", m.Stage(), runs)
	}
	m, _ = m.Next(context.Background())
	v := m.View()
	if !strings.Contains(v, "stage 2/3") || !strings.Contains(v, "left: invalid") {
		t.Fatalf("stage 2:\n%s", v)
	}
	m, _ = m.Update(tea.KeyPressMsg{Code: tea.KeyDown})
	_, cmd = m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	if show, ok := cmd().(rows.ShowMsg); !ok || show.Query.Reason != "invalid" {
		t.Errorf("enter on the first reason: %#v", cmd())
	}
	m, _ = m.Next(context.Background())
	if !m.AtLast() || !strings.Contains(m.View(), "60 calls to send") {
		t.Errorf("last stage:\n%s", m.View())
	}
	m, _ = m.Next(context.Background())
	if m.Stage() != 2 || runs != 1 {
		t.Errorf("n at the last stage moved or reran: stage %d, runs %d", m.Stage(), runs)
	}
	if m = m.Prev(); m.Stage() != 1 {
		t.Errorf("back: stage %d", m.Stage())
	}
}

// TestPreviewError: a failed preview says nothing was written.
func TestPreviewError(t *testing.T) {
	m := New(nil, help.DefaultKeys(), false)
	m, _ = m.Next(context.Background())
	if !strings.Contains(m.View(), "Nothing was written") {
		t.Errorf("no preview function:\n%s", m.View())
	}
	m, _ = m.Update(DoneMsg{Err: errors.New("source gone")})
	if !strings.Contains(m.View(), "source gone") {
		t.Errorf("error not shown:\n%s", m.View())
	}
}
