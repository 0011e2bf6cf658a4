package diff

import (
	"context"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/preview"
	"github.com/applink-dev/applink/engine/workspace"
	"github.com/applink-dev/applink/tui/help"
)

// Store is what the pane reads from a finished preview; *preview.DB is one.
type Store interface {
	DiffRows(ctx context.Context, q preview.DiffQuery) ([]preview.Row, error)
	NextChange(ctx context.Context, change string, from, dir int) (int, error)
	Call(ctx context.Context, callID string) (*preview.CallDetail, error)
}

// PreviousFunc finds what the last run that sent a call sent
// ((*workspace.Workspace).PreviousSent).
type PreviousFunc func(ctx context.Context, callID string) (*workspace.SentCopy, error)

// Kinds the pane cycles through with tab; "" is every row, changes marked.
var Kinds = []string{"", preview.ChangeNew, preview.ChangeChanged, preview.ChangeRemoved}

// PageSize is how many rows one query loads; the pane loads the page that
// holds the cursor, so any row of any size of diff is reachable.
const PageSize = 200

type pageMsg struct {
	seq    int
	offset int
	want   int // the cursor once the page is shown
	rows   []preview.Row
	err    error
}

type jumpMsg struct {
	seq, idx, dir int
	err           error
}

type detailMsg struct {
	seq int
	cd  *preview.CallDetail
	err error
}

type prevMsg struct {
	seq int
	sc  *workspace.SentCopy
	err error
}

// Model is the diff pane.
type Model struct {
	ctx      context.Context
	store    Store
	previous PreviousFunc
	keys     help.Keys
	why      map[string]string
	fields   []dsl.Field
	counts   *preview.DiffCounts

	kind    int // index into Kinds
	total   int // rows of this kind
	cursor  int // the selected row, an index into the whole diff of this kind
	offset  int // the index of rows[0]
	rows    []preview.Row
	seq     int
	loading bool
	err     error
	note    string // says what ] or [ found, until the next key
	pending int    // ] (+1) and [ (−1) pressed while a page or a jump was loading
	top     int    // the first row on screen, an index into the diff

	showDetail  bool
	detail      *preview.CallDetail
	detailErr   error
	prev        *workspace.SentCopy
	prevErr     error
	prevLoading bool
	vp          viewport.Model

	width, height int
}

// New returns an empty pane; SetPreview fills it. fields are the plan's
// business-data fields (the compare view lists them in plan order);
// previous may be nil (the compare view then says values are unavailable).
func New(ctx context.Context, keys help.Keys, why map[string]string, fields []dsl.Field, previous PreviousFunc) Model {
	vp := viewport.New()
	vp.SoftWrap = true // long messages (why no copy remains) wrap; the field lines are cut to fit
	return Model{ctx: ctx, keys: keys, why: why, fields: fields, previous: previous, vp: vp}
}

// SetPreview shows a finished preview's diff and loads its first page.
func (m Model) SetPreview(res *preview.Result, st Store) (Model, tea.Cmd) {
	m.store = st
	m.counts = nil
	if res != nil {
		d := res.Diff
		m.counts = &d
	}
	m.showDetail = false
	return m.setKind(m.kind)
}

// SetSize fits the pane into w×h cells.
func (m Model) SetSize(w, h int) Model {
	m.width, m.height = w, h
	m.top = m.scrolled()
	m.vp.SetWidth(w)
	m.vp.SetHeight(max(h-1, 1))
	m.vp.SetContent(m.compareText())
	return m
}

// The table is drawn here rather than by bubbles' table: its rows are a
// window onto a diff of any length, and the cursor may jump anywhere in it.

type column struct {
	title string
	width int
}

// columns lay the table out for w cells; the row number's column is as
// wide as the diff's largest row number, the reason takes what is left.
func columns(w, total int) []column {
	cols := []column{{"#", max(len(fmt.Sprint(total)), 2)}, {"change", 8}, {"call_id", 12}, {"state", 8}, {"reason", 14}, {"agent", 8}}
	used := 0
	for _, c := range cols {
		used += c.width + 2
	}
	cols[4].width = max(cols[4].width+w-used, 6)
	return cols
}

// visible is how many rows the table shows: the pane less the two count
// lines, the header and the status line.
func (m Model) visible() int { return max(m.height-4, 1) }

// scrolled is the first row on screen once the cursor is kept in view.
func (m Model) scrolled() int {
	top, n := m.top, m.visible()
	if m.cursor < top {
		top = m.cursor
	}
	if m.cursor >= top+n {
		top = m.cursor - n + 1
	}
	return max(min(top, m.total-n), 0)
}

var (
	headStyle = lipgloss.NewStyle().Bold(true)
	selStyle  = lipgloss.NewStyle().Reverse(true)
)

func cell(s string, w int) string {
	s = ansi.Truncate(s, w, "…")
	return " " + s + strings.Repeat(" ", max(w-ansi.StringWidth(s), 0)) + " "
}

// table draws the rows on screen; rows not loaded yet show as "…".
func (m Model) table() string {
	cols := columns(m.width, m.total)
	var b strings.Builder
	var head strings.Builder
	for _, c := range cols {
		head.WriteString(cell(c.title, c.width))
	}
	b.WriteString(headStyle.Render(head.String()))
	for i := m.top; i < m.top+m.visible() && i < m.total; i++ {
		b.WriteString("\n")
		var line strings.Builder
		vals := []string{fmt.Sprint(i + 1), "…"}
		if j := i - m.offset; j >= 0 && j < len(m.rows) {
			vals = rowCells(m.rows[j], i)
		}
		for k, c := range cols {
			v := ""
			if k < len(vals) {
				v = vals[k]
			}
			line.WriteString(cell(v, c.width))
		}
		if i == m.cursor {
			b.WriteString(selStyle.Render(line.String()))
		} else {
			b.WriteString(line.String())
		}
	}
	return b.String()
}

// Cursor is the selected row's index in the diff of the kind on view (tests).
func (m Model) Cursor() int { return m.cursor }

// Loading reports a page or a jump in flight (tests).
func (m Model) Loading() bool { return m.loading }

// kindTotal is how many rows a kind lists, from the preview's counts.
func (m Model) kindTotal(kind string) int {
	if m.counts == nil {
		return 0
	}
	c := m.counts.Calls
	switch kind {
	case preview.ChangeNew:
		return c.New
	case preview.ChangeChanged:
		return c.Changed
	case preview.ChangeRemoved:
		return c.Removed
	}
	return c.New + c.Changed + c.Unchanged + c.Removed
}

func (m Model) setKind(k int) (Model, tea.Cmd) {
	m.kind = k
	m.total = m.kindTotal(Kinds[k])
	m.cursor, m.offset, m.top, m.rows, m.err, m.note, m.pending = 0, 0, 0, nil, nil, "", 0
	if m.store == nil || m.total == 0 {
		m.seq++ // drop answers for the kind before
		m.loading = false
		return m, nil
	}
	return m.loadPage(0, 0)
}

// loadPage asks for the page starting at offset; want is the cursor to set
// once it is there.
func (m Model) loadPage(offset, want int) (Model, tea.Cmd) {
	m.seq++
	m.loading, m.err = true, nil
	seq, st, ctx, kind := m.seq, m.store, m.ctx, Kinds[m.kind]
	return m, func() tea.Msg {
		r, err := st.DiffRows(ctx, preview.DiffQuery{Change: kind, Offset: offset, Limit: PageSize})
		return pageMsg{seq: seq, offset: offset, want: want, rows: r, err: err}
	}
}

// goTo moves the cursor to row i of the diff, loading its page if needed.
func (m Model) goTo(i int) (Model, tea.Cmd) {
	if m.total == 0 {
		return m, nil
	}
	i = min(max(i, 0), m.total-1)
	if i >= m.offset && i < m.offset+len(m.rows) {
		m.cursor = i
		m.top = m.scrolled()
		return m, nil
	}
	// The page is centred on the row, so the rows around it on screen are
	// loaded too.
	return m.loadPage(max(min(i-PageSize/2, m.total-PageSize), 0), i)
}

// Update handles the pane's keys and its queries' answers.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	switch msg := msg.(type) {
	case pageMsg:
		if msg.seq != m.seq {
			return m, nil
		}
		m.loading, m.err = false, msg.err
		if msg.err != nil {
			return m, nil
		}
		m.offset, m.rows = msg.offset, msg.rows
		if len(msg.rows) > 0 {
			m.cursor = min(max(msg.want, msg.offset), msg.offset+len(msg.rows)-1)
		}
		m.top = m.scrolled()
		return m.drain()
	case jumpMsg:
		if msg.seq != m.seq {
			return m, nil
		}
		m.loading = false
		switch {
		case msg.err != nil:
			m.err = msg.err
			return m, nil
		case msg.idx < 0:
			m.note = noChange(msg.dir)
			m.pending = 0
			return m, nil
		}
		m, cmd := m.goTo(msg.idx)
		if cmd != nil {
			return m, cmd
		}
		return m.drain()
	case detailMsg:
		if msg.seq != m.seq || !m.showDetail {
			return m, nil
		}
		m.detail, m.detailErr = msg.cd, msg.err
		m.vp.SetContent(m.compareText())
		return m, nil
	case prevMsg:
		if msg.seq != m.seq || !m.showDetail {
			return m, nil
		}
		m.prev, m.prevErr, m.prevLoading = msg.sc, msg.err, false
		m.vp.SetContent(m.compareText())
		return m, nil
	case tea.KeyPressMsg:
		return m.key(msg)
	}
	return m, nil
}

// drain runs a ] or [ pressed while the pane was loading, once it is not.
func (m Model) drain() (Model, tea.Cmd) {
	if m.pending == 0 || m.loading {
		return m, nil
	}
	dir := sign(m.pending)
	m.pending -= dir
	return m.jump(dir)
}

func sign(x int) int {
	if x < 0 {
		return -1
	}
	return 1
}

func noChange(dir int) string {
	if dir > 0 {
		return "no change after this row"
	}
	return "no change before this row"
}

func (m Model) key(k tea.KeyPressMsg) (Model, tea.Cmd) {
	if m.showDetail {
		switch {
		case key.Matches(k, m.keys.Back), key.Matches(k, m.keys.Enter):
			m.showDetail = false
			m.seq++ // answers still on their way are for the closed view
		default:
			m.keys.Scroll(&m.vp, k)
		}
		return m, nil
	}
	m.note = ""
	page := max(m.visible()-1, 1)
	switch {
	case key.Matches(k, m.keys.NextChange):
		return m.jump(1)
	case key.Matches(k, m.keys.PrevChange):
		return m.jump(-1)
	case key.Matches(k, m.keys.Kind):
		return m.setKind((m.kind + 1) % len(Kinds))
	case key.Matches(k, m.keys.Enter):
		return m.open()
	case key.Matches(k, m.keys.Up):
		return m.goTo(m.cursor - 1)
	case key.Matches(k, m.keys.Down):
		return m.goTo(m.cursor + 1)
	case key.Matches(k, m.keys.PageUp):
		return m.goTo(m.cursor - page)
	case key.Matches(k, m.keys.PageDown):
		return m.goTo(m.cursor + page)
	case key.Matches(k, m.keys.Top):
		return m.goTo(0)
	case key.Matches(k, m.keys.Bottom):
		return m.goTo(m.total - 1)
	}
	return m, nil
}

// isChange: a row a run would change (removed rows count: the ledger has
// them, the source no longer does).
func isChange(r preview.Row) bool { return r.Change != "" && r.Change != preview.ChangeUnchanged }

// jump finds the next (dir +1) or previous (-1) change: in the loaded page
// first, else by asking the preview file, so ] and [ reach every change of
// the whole diff, not only those loaded.
func (m Model) jump(dir int) (Model, tea.Cmd) {
	if m.store == nil || m.total == 0 {
		return m, nil
	}
	if m.loading { // keep the key for when the page is there
		m.pending += dir
		return m, nil
	}
	kind := Kinds[m.kind]
	if kind == preview.ChangeRemoved || kind == preview.ChangeNew || kind == preview.ChangeChanged {
		// Every row of these kinds is a change.
		if i := m.cursor + dir; i >= 0 && i < m.total {
			return m.goTo(i)
		}
		m.note = noChange(dir)
		return m, nil
	}
	for i := m.cursor + dir - m.offset; i >= 0 && i < len(m.rows); i += dir {
		if isChange(m.rows[i]) {
			return m.goTo(m.offset + i)
		}
	}
	from := m.offset + len(m.rows) - 1 // past the loaded rows
	if dir < 0 {
		from = m.offset
	}
	if (dir > 0 && from >= m.total-1) || (dir < 0 && from <= 0) {
		m.note = noChange(dir)
		return m, nil
	}
	m.seq++
	m.loading = true
	seq, st, ctx := m.seq, m.store, m.ctx
	return m, func() tea.Msg {
		i, err := st.NextChange(ctx, kind, from, dir)
		return jumpMsg{seq: seq, idx: i, dir: dir, err: err}
	}
}

// open shows the compare view of the selected row: this preview's values
// against what the last run that sent the call sent.
func (m Model) open() (Model, tea.Cmd) {
	i := m.cursor - m.offset
	if m.store == nil || i < 0 || i >= len(m.rows) {
		return m, nil
	}
	id := m.rows[i].CallID
	m.seq++
	m.showDetail, m.detail, m.detailErr, m.prev, m.prevErr = true, nil, nil, nil, nil
	m.prevLoading = m.previous != nil
	m.vp.SetContent(m.compareText())
	m.vp.GotoTop()
	seq, st, ctx, previous := m.seq, m.store, m.ctx, m.previous
	cmds := []tea.Cmd{func() tea.Msg {
		cd, err := st.Call(ctx, id)
		return detailMsg{seq: seq, cd: cd, err: err}
	}}
	if previous != nil {
		cmds = append(cmds, func() tea.Msg {
			sc, err := previous(ctx, id)
			return prevMsg{seq: seq, sc: sc, err: err}
		})
	}
	return m, tea.Batch(cmds...)
}

// rowCells are the table's cells for row i of the diff.
func rowCells(r preview.Row, i int) []string {
	change := r.Change
	if change == preview.ChangeUnchanged {
		change = "" // only changes stand out
	}
	reason := r.Reason
	if reason == "" {
		reason = "-"
	}
	return []string{fmt.Sprint(i + 1), change, r.CallID, r.State, reason, r.AgentUserID}
}

// View renders the pane.
func (m Model) View() string {
	if m.showDetail {
		return "compare (esc: back · ↑/↓ scroll)\n" + m.vp.View()
	}
	var b strings.Builder
	if m.counts == nil {
		b.WriteString("diff against the last run\n\nNo preview yet: press n to run it.")
		return b.String()
	}
	c := m.counts
	fmt.Fprintf(&b, "calls  %d new · %d changed · %d unchanged · %d removed\n", c.Calls.New, c.Calls.Changed, c.Calls.Unchanged, c.Calls.Removed)
	fmt.Fprintf(&b, "agents %d new · %d changed · %d unchanged · %d removed\n", c.Agents.New, c.Agents.Changed, c.Agents.Unchanged, c.Agents.Removed)
	kind := Kinds[m.kind]
	if kind == "" {
		kind = "all"
	}
	switch {
	case m.err != nil:
		fmt.Fprintf(&b, "\n%v", m.err)
		return b.String()
	case m.total == 0:
		fmt.Fprintf(&b, "\nno %s rows · tab kind", kind)
		return b.String()
	case m.loading && len(m.rows) == 0:
		b.WriteString("\nloading…")
		return b.String()
	}
	b.WriteString(m.table() + "\n")
	status := fmt.Sprintf("row %d of %d · %s", m.cursor+1, m.total, kind)
	switch {
	case m.loading:
		status += " · loading…"
	case m.note != "":
		status += " · " + m.note
	}
	b.WriteString(status + " · ]/[ change · tab kind · enter compare")
	return b.String()
}
