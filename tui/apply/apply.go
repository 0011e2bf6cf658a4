package apply

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/progress"
	"charm.land/bubbles/v2/textinput"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/summarytext"
	"github.com/applink-dev/applink/tui/help"
	"github.com/applink-dev/applink/tui/job"
)

// Func runs the plan for real. progress may be called from any goroutine.
type Func func(ctx context.Context, progress func(engine.Progress)) (*engine.RunRecord, error)

// LedgerFunc describes the state's ledger after a failed run, e.g. its last
// committed run; nil or an error leaves it out.
type LedgerFunc func(ctx context.Context) (string, error)

// Phase is where the pane is.
type Phase int

// Phases of the pane.
const (
	Idle Phase = iota
	Confirm
	Running
	Done
	Failed
)

// DoneMsg reports the end of a run.
type DoneMsg struct {
	Summary *engine.RunRecord
	Err     error
	Ledger  string
}

// Model is the apply pane.
type Model struct {
	run    Func
	ledger LedgerFunc
	keys   help.Keys

	phase    Phase
	input    textinput.Model
	hint     string
	bar      progress.Model
	cancel   context.CancelFunc
	stopping bool
	prog     engine.Progress
	total    int // calls the preview read: the bar's 100 %

	sum         *engine.RunRecord
	err         error
	ledgerState string
	vp          viewport.Model

	width, height int
	dest          string // where a run sends, for the prompt
}

// New returns the pane.
func New(run Func, ledger LedgerFunc, keys help.Keys) Model {
	in := textinput.New()
	in.Prompt = "type yes to run: "
	in.CharLimit = 8
	return Model{run: run, ledger: ledger, keys: keys, input: in,
		bar: progress.New(progress.WithFillCharacters('█', '░')), vp: wrapped()}
}

// SetDestination names where a run sends (the outbox folder, or the tenant
// and API host): the prompt says it before anyone types yes.
func (m Model) SetDestination(dest string) Model {
	m.dest = dest
	return m
}

// SetTotal sets how many calls the run is expected to read (from the
// preview); 0 shows counters without a bar.
func (m Model) SetTotal(n int) Model {
	m.total = n
	return m
}

// SetSize fits the pane into w×h cells.
func (m Model) SetSize(w, h int) Model {
	m.width, m.height = w, h
	m.bar.SetWidth(max(w-4, 10))
	m.input.SetWidth(max(w-20, 10))
	m.vp.SetWidth(w)
	m.vp.SetHeight(max(h-2, 1))
	return m
}

// Phase is where the pane is (tests, and the root's quit logic).
func (m Model) Phase() Phase { return m.phase }

// Capturing reports that typed keys belong to the pane.
func (m Model) Capturing() bool { return m.phase == Confirm }

// Running reports a run in flight.
func (m Model) Running() bool { return m.phase == Running }

// Ask opens the confirmation, unless a run is in flight.
func (m Model) Ask() (Model, tea.Cmd) {
	if m.phase == Running {
		return m, nil
	}
	m.phase, m.hint = Confirm, ""
	m.input.SetValue("")
	return m, m.input.Focus()
}

// Stop cancels a run in flight; it stops at the next batch boundary and its
// DoneMsg still arrives.
func (m Model) Stop() Model {
	if m.phase == Running && m.cancel != nil {
		m.cancel()
		m.stopping = true
	}
	return m
}

func (m Model) start(ctx context.Context) (Model, tea.Cmd) {
	if m.run == nil {
		m.phase, m.err = Failed, errors.New("apply is not available here")
		return m, nil
	}
	run, ledger := m.run, m.ledger
	j, cancel := job.Start(ctx, func(ctx context.Context, progress func(engine.Progress)) DoneMsg {
		sum, err := safeRun(ctx, run, progress)
		d := DoneMsg{Summary: sum, Err: err}
		if err != nil && ledger != nil {
			// The run's context may be cancelled: ask with a fresh one.
			lctx, lcancel := context.WithTimeout(context.Background(), 10*time.Second)
			if s, lerr := ledger(lctx); lerr == nil {
				d.Ledger = s
			} else {
				d.Ledger = fmt.Sprintf("cannot read the ledger: %v", lerr)
			}
			lcancel()
		}
		return d
	})
	m.phase, m.cancel, m.stopping, m.prog, m.sum, m.err = Running, cancel, false, engine.Progress{}, nil, nil
	m.input.Blur()
	return m, j.Wait
}

// safeRun turns a panic in the run into an error: the TUI shows a message,
// never a stack trace.
func safeRun(ctx context.Context, run Func, p func(engine.Progress)) (sum *engine.RunRecord, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("apply: internal error: %v", r)
		}
	}()
	return run(ctx, p)
}

// Update handles the confirmation, the run's messages and scrolling.
func (m Model) Update(ctx context.Context, msg tea.Msg) (Model, tea.Cmd) {
	switch msg := msg.(type) {
	case job.ProgressMsg[DoneMsg]:
		if m.phase == Running {
			m.prog = msg.Progress
		}
		return m, msg.Job.Wait
	case DoneMsg:
		m.cancel, m.stopping = nil, false
		m.sum, m.err, m.ledgerState = msg.Summary, msg.Err, msg.Ledger
		m.phase = Done
		if msg.Err != nil {
			m.phase = Failed
		}
		m.vp.SetContent(m.resultText())
		m.vp.GotoTop()
		return m, nil
	case tea.KeyPressMsg:
		return m.key(ctx, msg)
	}
	if m.phase == Confirm {
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(msg)
		return m, cmd
	}
	return m, nil
}

func (m Model) key(ctx context.Context, k tea.KeyPressMsg) (Model, tea.Cmd) {
	switch m.phase {
	case Confirm:
		switch k.String() {
		case "enter":
			if strings.TrimSpace(m.input.Value()) == "yes" {
				return m.start(ctx)
			}
			m.hint = "not confirmed: type yes exactly, or esc to cancel"
			m.input.SetValue("")
			return m, nil
		case "esc":
			m.phase = Idle
			m.input.Blur()
			return m, nil
		}
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(k)
		return m, cmd
	case Done, Failed:
		m.keys.Scroll(&m.vp, k)
	}
	return m, nil
}

// View renders the pane.
func (m Model) View() string {
	var b strings.Builder
	switch m.phase {
	case Idle:
		b.WriteString("apply: run the plan for real\n\n")
		b.WriteString("a asks for confirmation, then reads the source again, sends new and changed\n")
		b.WriteString("rows to the sink and commits the ledger. Preview first (n) to see what it does.")
	case Confirm:
		b.WriteString("apply: run the plan for real\n\n")
		if m.dest != "" {
			// Wrapped, not cut: the path is what the user checks.
			dest := lipgloss.NewStyle().Width(max(m.width-2, 20)).Render("destination: " + m.dest)
			b.WriteString(dest + "\n\n")
			b.WriteString("This sends new and changed rows there and commits the ledger.\n\n")
		} else {
			b.WriteString("This sends new and changed rows to the sink and commits the ledger.\n\n")
		}
		b.WriteString(m.input.View() + "\n")
		if m.hint != "" {
			b.WriteString("\n" + m.hint + "\n")
		}
		b.WriteString("\nenter confirms · esc cancels")
	case Running:
		p := m.prog
		b.WriteString("applying…\n\n")
		if m.total > 0 {
			b.WriteString("  " + m.bar.ViewAs(min(float64(p.Calls)/float64(m.total), 1)) + "\n\n")
		}
		phase := p.Phase
		if phase == "" {
			phase = "starting"
		}
		fmt.Fprintf(&b, "  phase     %s\n  agents    %d\n  calls     %d read", phase, p.Agents, p.Calls)
		if m.total > 0 {
			fmt.Fprintf(&b, " of about %d", m.total)
		}
		fmt.Fprintf(&b, "\n  imported  %d\n", p.Imported)
		if p.Elapsed > 0 {
			fmt.Fprintf(&b, "  elapsed   %s\n", p.Elapsed.Round(100*time.Millisecond))
		}
		if m.stopping {
			b.WriteString("\nstopping at the next batch boundary; nothing of this run will be committed…")
		} else {
			b.WriteString("\nq stops the run at the next batch boundary (nothing of it is committed).")
		}
	case Done, Failed:
		return m.vp.View()
	}
	return b.String()
}

func (m Model) resultText() string {
	var b strings.Builder
	if m.err != nil {
		fmt.Fprintf(&b, "apply failed: %v\n\n", m.err)
		if errors.Is(m.err, engine.ErrInterrupted) || errors.Is(m.err, context.Canceled) {
			b.WriteString("Nothing of this run was committed; running again resumes from the last commit.\n")
		}
		if m.ledgerState != "" {
			fmt.Fprintf(&b, "ledger: %s\n", m.ledgerState)
		}
		if m.sum != nil {
			fmt.Fprintf(&b, "read before it stopped: %d agents, %d calls\n", m.sum.Agents.Total, m.sum.Calls.Total)
		}
		return strings.TrimRight(b.String(), "\n")
	}
	if m.sum != nil {
		fmt.Fprintf(&b, "apply finished: sent %d agents, %d calls\n\n", m.sum.Sent.Agents, m.sum.Sent.Calls)
		summarytext.WriteSummary(&b, m.sum)
	} else {
		b.WriteString("apply finished\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// wrapped is a viewport that wraps long lines (errors, expressions) instead
// of cutting them.
func wrapped() viewport.Model {
	vp := viewport.New()
	vp.SoftWrap = true
	return vp
}
