package apply

import (
	"context"
	"errors"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/tui/help"
	"github.com/applink-dev/applink/tui/job"
)

func typeText(t *testing.T, m Model, s string) Model {
	t.Helper()
	for _, r := range s {
		m, _ = m.Update(context.Background(), tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	return m
}

var enter = tea.KeyPressMsg{Code: tea.KeyEnter}

// finish feeds the job's messages back to the pane until its DoneMsg.
func finish(t *testing.T, m Model, cmd tea.Cmd) Model {
	t.Helper()
	for cmd != nil {
		msg := cmd()
		m, cmd = m.Update(context.Background(), msg)
		if _, ok := msg.(DoneMsg); ok {
			return m
		}
	}
	t.Fatal("the run never reported its end")
	return m
}

// TestConfirmation: only "yes" exactly starts the run; anything else says
// so and runs nothing; esc cancels.
func TestConfirmation(t *testing.T) {
	ran := 0
	run := func(ctx context.Context, p func(engine.Progress)) (*engine.RunRecord, error) {
		ran++
		return &engine.RunRecord{}, nil
	}
	m := New(run, nil, help.DefaultKeys()).SetSize(80, 24)
	m, _ = m.Ask()
	if !m.Capturing() || m.Phase() != Confirm {
		t.Fatal("Ask does not open the confirmation")
	}
	m = typeText(t, m, "y")
	m, _ = m.Update(context.Background(), enter)
	if ran != 0 || m.Phase() != Confirm || !strings.Contains(m.View(), "type yes exactly") {
		t.Fatalf("a bare y started a run or said nothing (ran %d):\n%s", ran, m.View())
	}
	m, _ = m.Update(context.Background(), tea.KeyPressMsg{Code: tea.KeyEscape})
	if m.Phase() != Idle || ran != 0 {
		t.Fatalf("esc: phase %v, ran %d", m.Phase(), ran)
	}
	m, _ = m.Ask()
	m = typeText(t, m, "yes")
	m, cmd := m.Update(context.Background(), enter)
	if !m.Running() {
		t.Fatal("yes did not start the run")
	}
	m = finish(t, m, cmd)
	if ran != 1 || m.Phase() != Done || !strings.Contains(m.View(), "apply finished") {
		t.Fatalf("after the run: ran %d, phase %v:\n%s", ran, m.Phase(), m.View())
	}
}

// TestStopCommitsNothing: q during a run cancels it at the next batch
// boundary; the pane says nothing was committed and what the ledger holds.
func TestStopCommitsNothing(t *testing.T) {
	started := make(chan struct{})
	run := func(ctx context.Context, p func(engine.Progress)) (*engine.RunRecord, error) {
		p(engine.Progress{Phase: "calls", Calls: 1024})
		close(started)
		<-ctx.Done()
		return &engine.RunRecord{}, engine.ErrInterrupted
	}
	ledger := func(ctx context.Context) (string, error) { return "unchanged: last committed run R1", nil }
	m := New(run, ledger, help.DefaultKeys()).SetTotal(4096).SetSize(80, 24)
	m, _ = m.Ask()
	m = typeText(t, m, "yes")
	m, cmd := m.Update(context.Background(), enter)
	<-started
	msg := cmd()
	if p, ok := msg.(job.ProgressMsg[DoneMsg]); ok {
		m, cmd = m.Update(context.Background(), p)
		if !strings.Contains(m.View(), "1024 read of about 4096") {
			t.Errorf("progress not shown:\n%s", m.View())
		}
	} else {
		t.Fatalf("first message %#v, want progress", msg)
	}
	m = m.Stop()
	if !strings.Contains(m.View(), "stopping at the next batch boundary") {
		t.Errorf("the pane does not say it is stopping:\n%s", m.View())
	}
	m = finish(t, m, cmd)
	v := m.View()
	if m.Phase() != Failed || !strings.Contains(v, "Nothing of this run was committed") || !strings.Contains(v, "last committed run R1") {
		t.Errorf("after the stop (phase %v):\n%s", m.Phase(), v)
	}
}

// TestPanicIsAnError: a panic in the run is shown as an error, not a crash.
func TestPanicIsAnError(t *testing.T) {
	run := func(ctx context.Context, p func(engine.Progress)) (*engine.RunRecord, error) { panic("boom") }
	ledger := func(ctx context.Context) (string, error) { return "", errors.New("no state") }
	m := New(run, ledger, help.DefaultKeys()).SetSize(80, 24)
	m, _ = m.Ask()
	m = typeText(t, m, "yes")
	m, cmd := m.Update(context.Background(), enter)
	m = finish(t, m, cmd)
	v := m.View()
	if m.Phase() != Failed || !strings.Contains(v, "internal error: boom") || !strings.Contains(v, "cannot read the ledger: no state") {
		t.Errorf("after a panic (phase %v):\n%s", m.Phase(), v)
	}
	none, _ := New(nil, nil, help.DefaultKeys()).Ask()
	none = typeText(t, none, "yes")
	if none, _ = none.Update(context.Background(), enter); none.Phase() != Failed {
		t.Errorf("apply without a run function: phase %v", none.Phase())
	}
}
