package tui

import (
	"context"
	"fmt"
	"io"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/preview"
	"github.com/applink-dev/applink/tui/apply"
	"github.com/applink-dev/applink/tui/diff"
	"github.com/applink-dev/applink/tui/help"
	"github.com/applink-dev/applink/tui/plan"
	"github.com/applink-dev/applink/tui/rows"
	"github.com/applink-dev/applink/tui/stages"
)

// Store is a finished preview open for reading; *preview.DB is one.
type Store interface {
	rows.Store
	diff.Store
	Close() error
}

// Options configure the program. Plan is required; without Preview or
// Apply the matching keys say they are unavailable.
type Options struct {
	Context context.Context // cancels queries and runs; default Background
	Plan    *engine.Plan
	// Preview runs a preview of the plan (never touching state or sink)
	// and opens its file.
	Preview func(ctx context.Context, progress func(engine.Progress)) (*preview.Result, Store, error)
	// Open, optional, opens the preview file an earlier preview left
	// (nil, nil, nil when there is none), so the TUI starts on it.
	Open func(ctx context.Context) (*preview.Result, Store, error)
	// Previous, optional, finds what the last run that sent a call sent
	// (its staged copy), for the diff's compare view.
	Previous diff.PreviousFunc
	// Apply runs the plan for real; Ledger describes the ledger after a
	// failed run.
	Apply  apply.Func
	Ledger apply.LedgerFunc
	// Destination names where Apply sends (the outbox folder, or the
	// tenant and API host), for the apply prompt.
	Destination string
	// Animate ticks the spinner; tests leave it off for stable views.
	Animate bool
	// Observe, optional, sees the model after every Update: tests use it to
	// wait for asynchronous work.
	Observe func(Model)
}

// Pane names a pane.
type Pane int

// The panes, in tab order.
const (
	PanePlan Pane = iota
	PaneStages
	PaneRows
	PaneDiff
	PaneApply
)

var paneTabs = []struct {
	pane  Pane
	label string
}{{PanePlan, "1 plan"}, {PaneStages, "2 stages"}, {PaneRows, "3 rows"}, {PaneDiff, "4 diff"}, {PaneApply, "a apply"}}

// Model is the root model.
type Model struct {
	opts Options
	ctx  context.Context
	keys help.Keys

	active   Pane
	showHelp bool
	quitting bool
	note     string // a one-off message in the status line, until the next key
	store    Store
	// fromFile is set when the preview on view was opened from the file an
	// earlier preview left, not run in this session.
	fromFile bool

	plan   plan.Model
	stages stages.Model
	rows   rows.Model
	diff   diff.Model
	apply  apply.Model
	help   help.Model

	width, height int
}

// New builds the program's model.
func New(opts Options) Model {
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	keys := help.DefaultKeys()
	var run stages.RunFunc
	if opts.Preview != nil {
		run = func(ctx context.Context, p func(engine.Progress)) (*preview.Result, rows.Store, error) {
			res, st, err := opts.Preview(ctx, p)
			if st == nil { // keep a nil Store a nil interface
				return res, nil, err
			}
			return res, st, err
		}
	}
	why := reasonsExprs(opts.Plan)
	var fields []dsl.Field
	if opts.Plan != nil {
		fields = opts.Plan.Fields
	}
	m := Model{
		opts: opts, ctx: ctx, keys: keys, active: PanePlan,
		plan:   plan.New(opts.Plan, keys),
		stages: stages.New(run, keys, opts.Animate),
		rows:   rows.New(ctx, keys, why),
		diff:   diff.New(ctx, keys, why, fields, opts.Previous),
		apply:  apply.New(opts.Apply, opts.Ledger, keys).SetDestination(opts.Destination),
		help:   help.New(keys),
	}
	return m.resize(80, 24) // until the terminal says otherwise
}

// reasonsExprs maps the reasons the spec's own filters give to their
// expressions, for the row detail.
func reasonsExprs(p *engine.Plan) map[string]string {
	why := map[string]string{}
	if p == nil {
		return why
	}
	if p.Calls != nil {
		why[connector.ReasonFilteredOut] = "calls: " + oneLine(p.Calls.Source)
	}
	if p.Agents != nil {
		why[connector.ReasonAgentFiltered] = "agents: " + oneLine(p.Agents.Source)
	}
	if p.Tenant != nil {
		why[connector.ReasonOtherTenant] = "tenant: " + oneLine(p.Tenant.Source)
	}
	return why
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// openedMsg is the preview file an earlier preview left, opened at start.
type openedMsg struct {
	res *preview.Result
	st  Store
	err error
}

// Init opens the preview file an earlier preview left, if any; a new
// preview waits for n.
func (m Model) Init() tea.Cmd {
	if m.opts.Open == nil {
		return nil
	}
	open, ctx := m.opts.Open, m.ctx
	return func() tea.Msg {
		res, st, err := open(ctx)
		return openedMsg{res: res, st: st, err: err}
	}
}

// FromFile reports that the preview on view was opened from its file.
func (m Model) FromFile() bool { return m.fromFile }

// Active is the pane on view.
func (m Model) Active() Pane { return m.active }

// Stage is the stepping position, -1 before the first stage.
func (m Model) Stage() int { return m.stages.Stage() }

// ApplyPhase is where the apply pane is.
func (m Model) ApplyPhase() apply.Phase { return m.apply.Phase() }

// Busy reports a preview or a run in flight.
func (m Model) Busy() bool { return m.stages.Running() || m.apply.Running() }

// Quitting reports that q was pressed and the program waits for work to stop.
func (m Model) Quitting() bool { return m.quitting }

// HelpShown reports the help view.
func (m Model) HelpShown() bool { return m.showHelp }

// Rows is the rows pane's content (tests).
func (m Model) Rows() []preview.Row { return m.rows.Rows() }

// DiffCursor is the diff pane's selected row (tests).
func (m Model) DiffCursor() int { return m.diff.Cursor() }

// DiffLoading reports a page or a jump of the diff pane in flight (tests).
func (m Model) DiffLoading() bool { return m.diff.Loading() }

// Close releases the preview file, if one is open.
func (m Model) Close() error {
	if m.store != nil {
		return m.store.Close()
	}
	return nil
}

// Update routes a message: the frame's own (size, global keys, quitting),
// then the pane's.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	m, cmd := m.update(msg)
	if m.opts.Observe != nil {
		m.opts.Observe(m)
	}
	return m, cmd
}

func (m Model) update(msg tea.Msg) (Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		return m.resize(msg.Width, msg.Height), nil
	case tea.KeyPressMsg:
		return m.key(msg)
	case stages.DoneMsg:
		m.fromFile = false
		return m.previewDone(msg)
	case openedMsg:
		return m.opened(msg)
	case rows.ShowMsg:
		m.active = PaneRows
		var cmd tea.Cmd
		m.rows, cmd = m.rows.Show(msg.Title, msg.Query)
		return m, cmd
	case apply.DoneMsg:
		m.apply, _ = m.apply.Update(m.ctx, msg)
		m.active = PaneApply
		return m.quitIfIdle()
	}
	// Everything else (query answers, progress, ticks) goes to every pane:
	// each ignores what is not its own.
	var c [4]tea.Cmd
	m.stages, c[0] = m.stages.Update(msg)
	m.rows, c[1] = m.rows.Update(msg)
	m.diff, c[2] = m.diff.Update(msg)
	m.apply, c[3] = m.apply.Update(m.ctx, msg)
	return m, tea.Batch(c[:]...)
}

func (m Model) resize(w, h int) Model {
	m.width, m.height = w, h
	bw, bh := w, max(h-4, 1) // header, rule, status, help line
	m.plan = m.plan.SetSize(bw, bh)
	m.stages = m.stages.SetSize(bw, bh)
	m.rows = m.rows.SetSize(bw, bh)
	m.diff = m.diff.SetSize(bw, bh)
	m.apply = m.apply.SetSize(bw, bh)
	m.help = m.help.SetSize(bw, bh)
	return m
}

// capturing reports that the active pane takes typed text.
func (m Model) capturing() bool {
	return (m.active == PaneRows && m.rows.Capturing()) || (m.active == PaneApply && m.apply.Capturing())
}

func (m Model) key(k tea.KeyPressMsg) (Model, tea.Cmd) {
	if k.String() == "ctrl+c" || (key.Matches(k, m.keys.Quit) && !m.capturing()) {
		return m.quit()
	}
	if m.quitting {
		return m, nil // waiting for a run to stop
	}
	if m.capturing() {
		return m.toActive(k)
	}
	m.note = ""
	if m.showHelp {
		m.showHelp = false
		if key.Matches(k, m.keys.Help) || key.Matches(k, m.keys.Back) {
			return m, nil
		}
	}
	var cmd tea.Cmd
	switch {
	case key.Matches(k, m.keys.Help):
		m.showHelp = true
	case key.Matches(k, m.keys.Next), key.Matches(k, m.keys.Rerun):
		// One engine job at a time: a preview attaches the state file that
		// a run is writing.
		if m.apply.Running() {
			m.note = "a run is in progress: the preview waits for it"
			return m, nil
		}
		m.active = PaneStages
		if key.Matches(k, m.keys.Next) && m.stages.AtLast() {
			m.note = m.lastStageNote()
			return m, nil
		}
		if m.stages.Starts(key.Matches(k, m.keys.Rerun)) {
			m = m.detach()
		}
		if key.Matches(k, m.keys.Rerun) {
			m.stages, cmd = m.stages.Rerun(m.ctx)
		} else {
			m.stages, cmd = m.stages.Next(m.ctx)
		}
	case key.Matches(k, m.keys.Prev):
		m.active = PaneStages
		m.stages = m.stages.Prev()
	case key.Matches(k, m.keys.Plan):
		m.active = PanePlan
	case key.Matches(k, m.keys.Stages):
		m.active = PaneStages
	case key.Matches(k, m.keys.Rows):
		m.active = PaneRows
	case key.Matches(k, m.keys.Diff):
		m.active = PaneDiff
	case key.Matches(k, m.keys.Apply):
		if m.stages.Running() {
			m.note = "the preview is running: apply once it is done"
			return m, nil
		}
		m.active = PaneApply
		m.apply, cmd = m.apply.Ask()
	default:
		return m.toActive(k)
	}
	return m, cmd
}

func (m Model) toActive(k tea.KeyPressMsg) (Model, tea.Cmd) {
	var cmd tea.Cmd
	switch m.active {
	case PanePlan:
		m.plan, cmd = m.plan.Update(k)
	case PaneStages:
		m.stages, cmd = m.stages.Update(k)
	case PaneRows:
		m.rows, cmd = m.rows.Update(k)
	case PaneDiff:
		m.diff, cmd = m.diff.Update(k)
	case PaneApply:
		m.apply, cmd = m.apply.Update(m.ctx, k)
	}
	return m, cmd
}

// quit stops work in flight first: a run stops at a batch boundary, and the
// program ends when its DoneMsg arrives.
func (m Model) quit() (Model, tea.Cmd) {
	m.quitting = true
	m.apply = m.apply.Stop()
	m.stages.Cancel()
	return m.quitIfIdle()
}

func (m Model) quitIfIdle() (Model, tea.Cmd) {
	if !m.quitting || m.Busy() {
		return m, nil
	}
	_ = m.Close() // read-only file: nothing to lose
	m.store = nil
	return m, tea.Quit
}

// detach closes the preview file on view before a new preview runs, and
// empties the panes that read it. The file must be closed first: DuckDB
// keeps one instance per path in a process, so opening the new file while
// the old one is open would read the old one again.
func (m Model) detach() Model {
	if m.store != nil {
		_ = m.store.Close()
		m.store = nil
	}
	m.fromFile = false
	m.rows = m.rows.SetStore(nil)
	m.diff, _ = m.diff.SetPreview(nil, nil)
	m.plan = m.plan.SetStages(nil, "")
	return m
}

// opened shows the preview file an earlier preview left, as if its preview
// had just finished; a file that cannot be read is said, not fatal.
func (m Model) opened(msg openedMsg) (Model, tea.Cmd) {
	switch {
	case msg.err != nil:
		m.note = fmt.Sprintf("the preview file could not be read (%v): n runs a new preview", msg.err)
		return m, nil
	case msg.res == nil || msg.st == nil:
		if msg.st != nil {
			_ = msg.st.Close()
		}
		return m, nil
	case m.stages.Running() || m.stages.Result() != nil:
		_ = msg.st.Close() // a preview of this session came first
		return m, nil
	}
	m.stages = m.stages.Show(msg.res)
	m.fromFile = true
	return m.previewDone(stages.DoneMsg{Result: msg.res, Store: msg.st})
}

// origin says where a preview's counts come from when it was not run in
// this session: the file an earlier preview left.
func (m Model) origin(res *preview.Result) string {
	if !m.fromFile {
		return ""
	}
	s := "the preview file"
	if res.Summary != nil && !res.Summary.Started.IsZero() {
		s += " of " + res.Summary.Started.UTC().Format("2006-01-02 15:04Z")
	}
	if m.stale(res) {
		s += ", made by an earlier plan,"
	}
	return s
}

// stale: the preview was made by another plan than the one on view.
func (m Model) stale(res *preview.Result) bool {
	p := m.opts.Plan
	return p != nil && res.Summary != nil && res.Summary.PlanHash != p.Hash()
}

func (m Model) lastStageNote() string {
	res := m.stages.Result()
	n := len(res.Stages)
	return fmt.Sprintf("stage %d/%d is the last stage: 4 shows the diff, a applies, r reruns", n, n)
}

func (m Model) previewDone(msg stages.DoneMsg) (Model, tea.Cmd) {
	m.stages, _ = m.stages.Update(msg)
	if msg.Err != nil || msg.Result == nil {
		return m.quitIfIdle()
	}
	if m.store != nil {
		_ = m.store.Close()
	}
	m.store = nil
	if st, ok := msg.Store.(Store); ok {
		m.store = st
	} else if c, ok := msg.Store.(io.Closer); ok {
		_ = c.Close()
	}
	var stored rows.Store
	if m.store != nil {
		stored = m.store
	}
	m.plan = m.plan.SetStages(msg.Result.Stages, m.origin(msg.Result))
	m.rows = m.rows.SetStore(stored)
	total := 0
	if msg.Result.Summary != nil {
		total = msg.Result.Summary.SourceRows
	}
	m.apply = m.apply.SetTotal(total)
	var diffStore diff.Store
	if m.store != nil {
		diffStore = m.store
	}
	var cmd tea.Cmd
	m.diff, cmd = m.diff.SetPreview(msg.Result, diffStore)
	if m.quitting {
		return m.quitIfIdle()
	}
	return m, cmd
}

var (
	tabOn  = lipgloss.NewStyle().Reverse(true)
	bold   = lipgloss.NewStyle().Bold(true)
	dimmed = lipgloss.NewStyle().Faint(true)
)

// View draws the frame around the active pane, cut to the terminal size.
func (m Model) View() tea.View {
	w, h := m.width, m.height
	var b strings.Builder
	title := "applink"
	if p := m.opts.Plan; p != nil {
		title = fmt.Sprintf("applink tui · %s → %s", p.Customer, p.CXoneTenant)
	}
	tabs := make([]string, len(paneTabs))
	for i, t := range paneTabs {
		if t.pane == m.active && !m.showHelp {
			// Brackets as well as reverse video: the active tab must show
			// without colours too.
			tabs[i] = tabOn.Render("[" + t.label + "]")
		} else {
			tabs[i] = " " + t.label + " "
		}
	}
	head := bold.Render(title)
	tabLine := strings.Join(tabs, "")
	gap := w - lipgloss.Width(head) - lipgloss.Width(tabLine)
	if gap < 1 {
		b.WriteString(head + "\n")
	} else {
		b.WriteString(head + strings.Repeat(" ", gap) + tabLine + "\n")
	}
	b.WriteString(strings.Repeat("─", max(w, 1)) + "\n")
	b.WriteString(fit(m.body(), w, max(h-4, 1)) + "\n")
	b.WriteString(ansi.Truncate(m.status(), w, "…") + "\n")
	b.WriteString(ansi.Truncate(dimmed.Render(m.help.Short()), w, "…"))
	v := tea.NewView(b.String())
	v.AltScreen = true
	return v
}

func (m Model) body() string {
	if m.showHelp {
		return m.help.View()
	}
	switch m.active {
	case PaneStages:
		return m.stages.View()
	case PaneRows:
		return m.rows.View()
	case PaneDiff:
		return m.diff.View()
	case PaneApply:
		return m.apply.View()
	}
	return m.plan.View()
}

func (m Model) status() string {
	switch {
	case m.note != "":
		return m.note
	case m.quitting && m.Busy():
		return "stopping: waiting for the work in flight to stop at a safe point…"
	case m.apply.Running():
		return "apply running"
	case m.stages.Running():
		return "preview running"
	case m.apply.Phase() == apply.Done:
		return "applied: r runs the preview again to see what is left to send"
	}
	if res := m.stages.Result(); res != nil {
		src := 0
		if res.Summary != nil {
			src = res.Summary.SourceRows
		}
		what := "preview"
		if m.fromFile && m.stale(res) {
			what = "preview of an earlier plan (r runs it again)"
		}
		return fmt.Sprintf("%s: %d calls read, %d calls and %d agents would be sent", what, src, res.WouldSend.Calls, res.WouldSend.Agents)
	}
	return "no preview yet: n runs it (read-only)"
}

// fit cuts or pads s to exactly h lines of at most w cells, so a pane can
// never push the footer off a small terminal.
func fit(s string, w, h int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, w, "…")
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}
