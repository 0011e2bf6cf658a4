package tui_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/preview"
	"github.com/applink-dev/applink/tui"
	"github.com/applink-dev/applink/tui/apply"
)

// TestSteppingSession is a whole session: plan, every stage in turn, back
// one, the rows of a reason, the diff; the final view is golden and the
// final model's state is checked.
func TestSteppingSession(t *testing.T) {
	st := newFakeStore()
	h := start(t, tui.Options{Preview: fakePreview(st, nil)}, 80, 24)
	h.press("n")
	h.waitFor("the preview", func(m tui.Model) bool { return m.Stage() == 0 && !m.Busy() })
	var views []string
	for i := 0; i < 3; i++ {
		h.press("n")
		views = append(views, screen(h.model()))
	}
	for i, v := range views {
		if !strings.Contains(v, []string{"stage 2/4", "stage 3/4", "stage 4/4"}[i]) {
			t.Errorf("after %d more n, the view is not stage %d/4:\n%s", i+1, i+2, v)
		}
	}
	h.press("N", "down", "enter")
	h.waitFor("rows", func(m tui.Model) bool { return len(m.Rows()) > 0 })
	h.press("4")
	h.waitFor("diff", func(m tui.Model) bool { return strings.Contains(screen(m), "C900") })
	h.press("]")
	shown := screen(h.model())
	m := h.finish()
	golden.RequireEqual(t, shown)
	if m.Stage() != 2 || m.Active() != tui.PaneDiff || m.DiffCursor() != 1 || m.Busy() {
		t.Errorf("final state: stage %d, pane %d, diff row %d, busy %v; want stage 3, diff pane, row 2, idle",
			m.Stage()+1, m.Active(), m.DiffCursor()+1, m.Busy())
	}
	if len(m.Rows()) != 1 || m.Rows()[0].CallID != "C005" {
		t.Errorf("rows of filtered_out at stage 3: %+v", m.Rows())
	}
	if !st.closed {
		t.Error("quitting did not close the preview file")
	}
}

// TestApplyProgressAndQuit: the run's live view shows its counters and bar;
// q cancels the run's context, and the program ends only once the run has
// returned.
func TestApplyProgressAndQuit(t *testing.T) {
	var returned atomic.Bool
	started := make(chan struct{})
	run := func(ctx context.Context, progress func(engine.Progress)) (*engine.RunRecord, error) {
		progress(engine.Progress{Phase: "calls", Agents: 5, Calls: 5, Imported: 2, Elapsed: 1200 * time.Millisecond})
		close(started)
		<-ctx.Done()
		time.Sleep(50 * time.Millisecond) // the batch in flight
		returned.Store(true)
		return &engine.RunRecord{Calls: engine.Tally{Total: 5}}, engine.ErrInterrupted
	}
	h := start(t, tui.Options{Preview: fakePreview(newFakeStore(), nil), Apply: run}, 80, 24)
	h.press("n")
	h.waitFor("the preview", func(m tui.Model) bool { return m.Stage() == 0 && !m.Busy() })
	h.press("a")
	h.typeText("yes")
	h.press("enter")
	<-started
	h.waitFor("progress", func(m tui.Model) bool { return strings.Contains(screen(m), "5 read of about 10") })
	shown := screen(h.model())
	checkFrame(t, shown, 80, 24)
	golden.RequireEqual(t, shown)

	h.press("q")
	if m := h.model(); !m.Quitting() || !strings.Contains(screen(m), "stopping") {
		t.Errorf("q during a run should say it is stopping:\n%s", screen(m))
	}
	m := h.finish()
	if !returned.Load() {
		t.Fatal("the program ended before the run returned")
	}
	if m.ApplyPhase() != apply.Failed {
		t.Errorf("an interrupted run ends failed (nothing committed), got phase %d", m.ApplyPhase())
	}
	if !strings.Contains(screen(m), "Nothing of this run was committed") {
		t.Errorf("the interrupted run's view:\n%s", screen(m))
	}
}

// TestQuitDuringPreview: q cancels a preview in flight and waits for it.
func TestQuitDuringPreview(t *testing.T) {
	var returned atomic.Bool
	started := make(chan struct{})
	slow := func(ctx context.Context, p func(engine.Progress)) (*preview.Result, tui.Store, error) {
		p(engine.Progress{Phase: "agents", Agents: 3})
		close(started)
		<-ctx.Done()
		time.Sleep(50 * time.Millisecond)
		returned.Store(true)
		return nil, nil, fmt.Errorf("preview: %w", ctx.Err())
	}
	h := start(t, tui.Options{Preview: slow}, 80, 24)
	h.press("n")
	<-started
	h.waitFor("progress", func(m tui.Model) bool { return strings.Contains(screen(m), "agents   3") })
	golden.RequireEqual(t, screen(h.model()))
	h.press("q")
	h.finish()
	if !returned.Load() {
		t.Fatal("the program ended before the preview returned")
	}
}

// TestResize: every pane fits the terminal at any size, small ones included.
func TestResize(t *testing.T) {
	sizes := []struct{ w, h int }{{80, 24}, {120, 40}, {60, 16}, {40, 10}}
	panes := []string{"1", "2", "3", "4", "a", "?"}
	for _, sz := range sizes {
		t.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(t *testing.T) {
			h := start(t, tui.Options{Preview: fakePreview(newFakeStore(), nil)}, 80, 24)
			h.press("n")
			h.waitFor("the preview", func(m tui.Model) bool { return m.Stage() == 0 && !m.Busy() })
			h.tm.Send(tea.WindowSizeMsg{Width: sz.w, Height: sz.h})
			for _, k := range panes {
				h.press(k)
				if k == "a" {
					h.press("esc")
				}
				checkFrame(t, screen(h.model()), sz.w, sz.h)
			}
			h.press("?")
			if sz.w == 80 && sz.h == 24 {
				return
			}
			h.press("4")
			golden.RequireEqual(t, screen(h.model()))
		})
	}
}

// TestRerunAfterApply: r runs the preview again (a second file, new rows);
// while a run is in flight, n and r wait for it.
func TestRerunAfterApply(t *testing.T) {
	var previews atomic.Int32
	base := fakePreview(newFakeStore(), nil)
	counted := func(ctx context.Context, p func(engine.Progress)) (*preview.Result, tui.Store, error) {
		previews.Add(1)
		return base(ctx, p)
	}
	release := make(chan struct{})
	run := func(ctx context.Context, p func(engine.Progress)) (*engine.RunRecord, error) {
		<-release
		return fakeSummary(), nil
	}
	h := start(t, tui.Options{Preview: counted, Apply: run}, 80, 24)
	h.press("n")
	h.waitFor("the preview", func(m tui.Model) bool { return m.Stage() == 0 && !m.Busy() })
	h.press("n", "n", "a")
	h.typeText("yes")
	h.press("enter", "r")
	if s := screen(h.model()); !strings.Contains(s, "a run is in progress") || previews.Load() != 1 {
		t.Errorf("r during a run must wait (previews %d):\n%s", previews.Load(), s)
	}
	close(release)
	h.waitFor("the run", func(m tui.Model) bool { return m.ApplyPhase() == apply.Done })
	h.press("r")
	h.waitFor("the second preview", func(m tui.Model) bool { return !m.Busy() && previews.Load() == 2 })
	m := h.finish()
	if m.Stage() != 0 {
		t.Errorf("a new preview starts at stage 1, got %d", m.Stage()+1)
	}
}
