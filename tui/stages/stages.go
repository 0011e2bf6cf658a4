package stages

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/preview"
	"github.com/applink-dev/applink/tui/help"
	"github.com/applink-dev/applink/tui/job"
	"github.com/applink-dev/applink/tui/plan"
	"github.com/applink-dev/applink/tui/rows"
)

// RunFunc runs a preview to completion and opens its file for reading.
// progress may be called from any goroutine.
type RunFunc func(ctx context.Context, progress func(engine.Progress)) (*preview.Result, rows.Store, error)

// DoneMsg reports a finished preview; the root hands Store and Result to
// the other panes.
type DoneMsg struct {
	Result *preview.Result
	Store  rows.Store
	Err    error
}

// Model is the stages pane.
type Model struct {
	run     RunFunc
	keys    help.Keys
	spin    spinner.Model
	animate bool

	cancel   context.CancelFunc
	running  bool
	progress engine.Progress
	err      error

	result *preview.Result
	cur    int // the stage on view; -1 before the first
	sel    int // 0: the rows that passed; i>0: the i-th reason that left
	width  int
	height int
}

// New returns the pane. animate=false keeps the spinner on its first frame
// (stable golden files).
func New(run RunFunc, keys help.Keys, animate bool) Model {
	return Model{run: run, keys: keys, spin: spinner.New(spinner.WithSpinner(spinner.Line)), animate: animate, cur: -1}
}

// SetSize fits the pane into w×h cells.
func (m Model) SetSize(w, h int) Model {
	m.width, m.height = w, h
	return m
}

// Running reports a preview in flight.
func (m Model) Running() bool { return m.running }

// Stage is the index of the stage on view, -1 before the first.
func (m Model) Stage() int { return m.cur }

// Result is the finished preview, nil before.
func (m Model) Result() *preview.Result { return m.result }

// Cancel stops a preview in flight; its DoneMsg still arrives.
func (m Model) Cancel() {
	if m.cancel != nil {
		m.cancel()
	}
}

// Next shows the next stage, running the preview first if it has not run.
func (m Model) Next(ctx context.Context) (Model, tea.Cmd) {
	switch {
	case m.running:
		return m, nil
	case m.result == nil:
		return m.start(ctx)
	case m.cur < len(m.result.Stages)-1:
		m.cur++
		m.sel = 0
	}
	return m, nil
}

// Starts reports that Next (rerun false) or Rerun (true) would run a new
// preview rather than step.
func (m Model) Starts(rerun bool) bool { return !m.running && (rerun || m.result == nil) }

// AtLast reports that the last stage of a finished preview is on view, so
// n has nowhere to go.
func (m Model) AtLast() bool {
	return !m.running && m.result != nil && m.cur == len(m.result.Stages)-1
}

// Show puts a finished preview on view at its first stage without running
// one (the file an earlier preview left).
func (m Model) Show(res *preview.Result) Model {
	if m.running || res == nil {
		return m
	}
	m.result, m.cur, m.sel, m.err = res, 0, 0, nil
	return m
}

// Rerun runs the preview again (after an apply, or when the source moved
// on), back to the first stage when it is done.
func (m Model) Rerun(ctx context.Context) (Model, tea.Cmd) {
	if m.running {
		return m, nil
	}
	return m.start(ctx)
}

// Prev goes back to the previous finished stage.
func (m Model) Prev() Model {
	if !m.running && m.cur > 0 {
		m.cur--
		m.sel = 0
	}
	return m
}

func (m Model) start(ctx context.Context) (Model, tea.Cmd) {
	if m.run == nil {
		m.err = errors.New("no preview configured")
		return m, nil
	}
	run := m.run
	j, cancel := job.Start(ctx, func(ctx context.Context, progress func(engine.Progress)) DoneMsg {
		res, st, err := run(ctx, progress)
		return DoneMsg{Result: res, Store: st, Err: err}
	})
	m.cancel, m.running, m.err, m.progress = cancel, true, nil, engine.Progress{}
	m.result, m.cur, m.sel = nil, -1, 0 // the root closed its file: nothing of it is shown any more
	cmds := []tea.Cmd{j.Wait}
	if m.animate {
		cmds = append(cmds, m.spin.Tick)
	}
	return m, tea.Batch(cmds...)
}

// Update handles the pane's keys and its preview's messages.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	switch msg := msg.(type) {
	case job.ProgressMsg[DoneMsg]:
		if m.running {
			m.progress = msg.Progress
		}
		return m, msg.Job.Wait
	case DoneMsg:
		m.running, m.cancel = false, nil
		if msg.Err != nil {
			m.err = msg.Err
			return m, nil
		}
		m.result, m.cur, m.sel = msg.Result, 0, 0
		return m, nil
	case spinner.TickMsg:
		if !m.running || !m.animate {
			return m, nil
		}
		var cmd tea.Cmd
		m.spin, cmd = m.spin.Update(msg)
		return m, cmd
	case tea.KeyPressMsg:
		return m.key(msg)
	}
	return m, nil
}

func (m Model) key(k tea.KeyPressMsg) (Model, tea.Cmd) {
	st, ok := m.stage()
	if !ok {
		return m, nil
	}
	reasons := sortedLeft(st)
	switch {
	case key.Matches(k, m.keys.Up):
		m.sel = max(m.sel-1, 0)
	case key.Matches(k, m.keys.Down):
		m.sel = min(m.sel+1, len(reasons))
	case key.Matches(k, m.keys.Enter):
		q, title := preview.RowQuery{Stage: st.Stage}, fmt.Sprintf("rows past %s", plan.StageTitles[st.Stage])
		if m.sel > 0 {
			r := reasons[m.sel-1].reason
			q, title = preview.RowQuery{Reason: r}, fmt.Sprintf("rows left at %s: %s", plan.StageTitles[st.Stage], r)
		}
		return m, func() tea.Msg { return rows.ShowMsg{Title: title, Query: q} }
	}
	return m, nil
}

func (m Model) stage() (preview.StageCount, bool) {
	if m.result == nil || m.cur < 0 || m.cur >= len(m.result.Stages) {
		return preview.StageCount{}, false
	}
	return m.result.Stages[m.cur], true
}

type reasonCount struct {
	reason string
	n      int
}

// sortedLeft lists a stage's reasons, most rows first.
func sortedLeft(st preview.StageCount) []reasonCount {
	out := make([]reasonCount, 0, len(st.Left))
	for r, n := range st.Left {
		out = append(out, reasonCount{r, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].n != out[j].n {
			return out[i].n > out[j].n
		}
		return out[i].reason < out[j].reason
	})
	return out
}

// View renders the pane.
func (m Model) View() string {
	var b strings.Builder
	switch {
	case m.running:
		p := m.progress
		fmt.Fprintf(&b, "%s running the preview (read-only: state and sink are not touched)\n\n", m.spin.View())
		phase := p.Phase
		if phase == "" {
			phase = "starting"
		}
		fmt.Fprintf(&b, "  phase    %s\n  agents   %d\n  calls    %d read\n", phase, p.Agents, p.Calls)
		if p.Elapsed > 0 {
			fmt.Fprintf(&b, "  elapsed  %s\n", p.Elapsed.Round(100*time.Millisecond))
		}
		b.WriteString("\nq stops it and leaves the previous preview file as it was.")
		return b.String()
	case m.err != nil:
		// Errors can be long (DuckDB's): wrap rather than cut them.
		msg := lipgloss.NewStyle().Width(max(m.width-2, 20)).Render(m.err.Error())
		fmt.Fprintf(&b, "preview failed:\n\n%s\n\nNothing was written to the state or the sink. n tries again.", indent(msg))
		return b.String()
	case m.result == nil:
		b.WriteString("No preview yet.\n\nn runs the preview: every stage's rows go into the preview file,\n")
		b.WriteString("never into the state or the sink. Then n steps from one stage to the next,\n")
		b.WriteString("N or p goes back; you can stop between any two stages.")
		return b.String()
	}
	st, _ := m.stage()
	n := len(m.result.Stages)
	fmt.Fprintf(&b, "stage %d/%d: %s\n\n", m.cur+1, n, plan.StageTitles[st.Stage])
	fmt.Fprintf(&b, "  entered %10d\n  passed  %10d\n  left    %10d\n", st.In, st.Out, st.In-st.Out)
	if st.Stage == preview.ViewMapped {
		// The mapping leaves values out of calls it passes (on_error =
		// omit): "0 left" alone would hide them.
		if n, detail := omittedValues(m.result.Summary); n > 0 {
			fmt.Fprintf(&b, "  values  %10d left out of passed calls (on_error = omit)\n", n)
			b.WriteString(indent(lipgloss.NewStyle().Width(max(m.width-4, 20)).Render(detail)) + "\n")
		}
	}
	b.WriteString("\n")
	lines := []string{fmt.Sprintf("%-32s %10d", "passed", st.Out)}
	for _, r := range sortedLeft(st) {
		lines = append(lines, fmt.Sprintf("%-32s %10d", "left: "+r.reason, r.n))
	}
	// Keep the selected line visible when a stage has many reasons.
	room := max(m.height-9, 3)
	first := max(0, m.sel-room+1)
	for i := first; i < len(lines) && i < first+room; i++ {
		mark := "  "
		if i == m.sel {
			mark = "> "
		}
		b.WriteString(mark + lines[i] + "\n")
	}
	b.WriteString("\n")
	if m.cur < n-1 {
		fmt.Fprintf(&b, "enter: sample rows · n: next stage (%s)", plan.StageTitles[m.result.Stages[m.cur+1].Stage])
	} else {
		fmt.Fprintf(&b, "enter: sample rows · last stage: %d calls to send · 4: diff · a: apply", m.result.WouldSend.Calls)
	}
	if m.cur > 0 {
		b.WriteString(" · N/p: back")
	}
	return b.String()
}

// omittedValues totals the field values a run left out, with the count per
// field ("OrderTotal 117, Balance 4"), most first.
func omittedValues(sum *engine.RunRecord) (int, string) {
	if sum == nil {
		return 0, ""
	}
	type fc struct {
		name string
		n    int
	}
	var fs []fc
	total := 0
	for name, n := range sum.FieldOmitted {
		fs = append(fs, fc{name, n})
		total += n
	}
	sort.Slice(fs, func(i, j int) bool {
		if fs[i].n != fs[j].n {
			return fs[i].n > fs[j].n
		}
		return fs[i].name < fs[j].name
	})
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = fmt.Sprintf("%s %d", f.name, f.n)
	}
	return total, strings.Join(parts, ", ")
}

func indent(s string) string { return "  " + strings.ReplaceAll(s, "\n", "\n  ") }
