package rows

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/table"
	"charm.land/bubbles/v2/textinput"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/preview"
	"github.com/applink-dev/applink/tui/help"
)

// Store is what the pane reads from a finished preview; *preview.DB is one.
type Store interface {
	Rows(ctx context.Context, q preview.RowQuery) ([]preview.Row, error)
	Call(ctx context.Context, callID string) (*preview.CallDetail, error)
}

// Limit is how many sample rows one query shows.
const Limit = 500

// ShowMsg asks the root to bring up the rows pane with this query.
type ShowMsg struct {
	Title string
	Query preview.RowQuery
}

type loadedMsg struct {
	seq  int
	rows []preview.Row
	err  error
}

type detailMsg struct {
	seq int
	cd  *preview.CallDetail
	err error
}

// Model is the rows pane.
type Model struct {
	ctx   context.Context
	store Store
	keys  help.Keys
	// why maps a reason to the spec expression behind it (filtered_out →
	// the calls filter), so the detail names the rule that excluded a row.
	why map[string]string

	title   string
	query   preview.RowQuery
	rows    []preview.Row
	seq     int
	loading bool
	err     error

	tbl       table.Model
	input     textinput.Model
	filtering bool

	detail     *preview.CallDetail
	detailErr  error
	showDetail bool
	vp         viewport.Model

	width, height int
}

// New returns an empty pane; SetStore gives it a preview to read.
func New(ctx context.Context, keys help.Keys, why map[string]string) Model {
	in := textinput.New()
	in.Prompt = "/"
	in.Placeholder = "call id, agent, ani or dnis"
	tbl := table.New(table.WithFocused(true))
	tbl.SetStyles(table.Styles{
		Header:   lipgloss.NewStyle().Bold(true).Padding(0, 1),
		Cell:     lipgloss.NewStyle().Padding(0, 1),
		Selected: lipgloss.NewStyle().Reverse(true),
	})
	return Model{ctx: ctx, keys: keys, why: why, input: in, tbl: tbl, vp: wrapped()}
}

// SetStore points the pane at a finished preview, forgetting the rows of
// the one before.
func (m Model) SetStore(s Store) Model {
	m.store = s
	m.title, m.rows, m.err, m.showDetail, m.filtering = "", nil, nil, false, false
	m.seq++ // answers to queries of the old file are dropped
	m.tbl.SetRows(nil)
	return m
}

// Capturing reports that typed keys belong to the pane (the filter input).
func (m Model) Capturing() bool { return m.filtering }

// Rows is what the table holds (tests).
func (m Model) Rows() []preview.Row { return m.rows }

// SetSize fits the pane into w×h cells.
func (m Model) SetSize(w, h int) Model {
	m.width, m.height = w, h
	m.tbl.SetColumns(columns(w))
	m.tbl.SetWidth(w)
	m.tbl.SetHeight(max(h-3, 3)) // title line, status line, filter line
	m.input.SetWidth(max(w-2, 10))
	m.vp.SetWidth(w)
	m.vp.SetHeight(max(h-1, 1))
	m.vp.SetContent(m.detailText())
	return m
}

func columns(w int) []table.Column {
	cols := []table.Column{
		{Title: "call_id", Width: 12}, {Title: "agent", Width: 8}, {Title: "start (UTC)", Width: 16},
		{Title: "ms", Width: 6}, {Title: "state", Width: 8}, {Title: "reason", Width: 14},
	}
	used := 0
	for _, c := range cols {
		used += c.Width + 2 // the cell style's padding
	}
	// The reason column takes what is left, so the table spans the pane.
	cols[len(cols)-1].Width = max(cols[len(cols)-1].Width+w-used, 6)
	return cols
}

// Show runs a query; its rows arrive as a message.
func (m Model) Show(title string, q preview.RowQuery) (Model, tea.Cmd) {
	m.title, m.query = title, q
	m.query.Limit = Limit
	m.showDetail, m.filtering = false, false
	m.input.SetValue(q.Filter)
	return m.load()
}

func (m Model) load() (Model, tea.Cmd) {
	if m.store == nil {
		m.err = fmt.Errorf("no preview yet: press n to run it")
		return m, nil
	}
	m.seq++
	m.loading, m.err = true, nil
	seq, q, st, ctx := m.seq, m.query, m.store, m.ctx
	return m, func() tea.Msg {
		r, err := st.Rows(ctx, q)
		return loadedMsg{seq: seq, rows: r, err: err}
	}
}

// Update handles the pane's keys and its queries' answers.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	switch msg := msg.(type) {
	case ShowMsg:
		return m.Show(msg.Title, msg.Query)
	case loadedMsg:
		if msg.seq != m.seq { // an answer to a query since replaced
			return m, nil
		}
		m.loading, m.err, m.rows = false, msg.err, msg.rows
		m.tbl.SetRows(tableRows(msg.rows))
		m.tbl.SetCursor(0)
		return m, nil
	case detailMsg:
		if msg.seq != m.seq {
			return m, nil
		}
		m.detail, m.detailErr, m.showDetail = msg.cd, msg.err, true
		m.vp.SetContent(m.detailText())
		m.vp.GotoTop()
		return m, nil
	case tea.KeyPressMsg:
		return m.key(msg)
	}
	if m.filtering { // cursor blink and the like
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(msg)
		return m, cmd
	}
	return m, nil
}

func (m Model) key(k tea.KeyPressMsg) (Model, tea.Cmd) {
	switch {
	case m.filtering:
		switch k.String() {
		case "enter":
			m.filtering = false
			m.input.Blur()
			m.query.Filter = strings.TrimSpace(m.input.Value())
			m.query.Offset = 0
			return m.load()
		case "esc":
			m.filtering = false
			m.input.Blur()
			m.input.SetValue(m.query.Filter)
			return m, nil
		}
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(k)
		return m, cmd
	case m.showDetail:
		switch {
		case key.Matches(k, m.keys.Back), key.Matches(k, m.keys.Enter):
			m.showDetail = false
		default:
			m.keys.Scroll(&m.vp, k)
		}
		return m, nil
	case key.Matches(k, m.keys.Filter):
		m.filtering = true
		return m, m.input.Focus()
	case key.Matches(k, m.keys.Enter):
		return m.open()
	}
	var cmd tea.Cmd
	m.tbl, cmd = m.tbl.Update(k)
	return m, cmd
}

// open fetches the selected row in full.
func (m Model) open() (Model, tea.Cmd) {
	if m.store == nil || len(m.rows) == 0 {
		return m, nil
	}
	id := m.rows[m.tbl.Cursor()].CallID
	m.seq++
	seq, st, ctx := m.seq, m.store, m.ctx
	return m, func() tea.Msg {
		cd, err := st.Call(ctx, id)
		return detailMsg{seq: seq, cd: cd, err: err}
	}
}

func tableRows(rs []preview.Row) []table.Row {
	out := make([]table.Row, len(rs))
	for i, r := range rs {
		start := ""
		if !r.StartTime.IsZero() {
			start = r.StartTime.UTC().Format("2006-01-02 15:04")
		}
		agent := r.AgentID
		if agent == "" {
			agent = r.AgentUserID
		}
		reason := r.Reason
		if reason == "" {
			reason = "-"
		}
		out[i] = table.Row{r.CallID, agent, start, fmt.Sprint(r.DurationMS), r.State, reason}
	}
	return out
}

// View renders the pane.
func (m Model) View() string {
	if m.showDetail {
		return "row detail (esc: back to the table)\n" + m.vp.View()
	}
	var b strings.Builder
	title := m.title
	if title == "" {
		title = "rows"
	}
	b.WriteString(title + "\n")
	switch {
	case m.err != nil:
		fmt.Fprintf(&b, "\n%v", m.err)
		return b.String()
	case m.loading:
		b.WriteString("\nloading…")
		return b.String()
	case m.store == nil || m.title == "":
		b.WriteString("\nNo rows chosen. In the stages pane, enter on a stage or a reason lists its rows.")
		return b.String()
	}
	b.WriteString(m.tbl.View() + "\n")
	status := fmt.Sprintf("%d rows", len(m.rows))
	if len(m.rows) == Limit {
		status = fmt.Sprintf("first %d rows", Limit)
	}
	if len(m.rows) > 0 {
		status = fmt.Sprintf("row %d of %s", m.tbl.Cursor()+1, status)
	}
	if m.query.Filter != "" {
		status += fmt.Sprintf(" matching %q", m.query.Filter)
	}
	b.WriteString(status + " · enter: full row · /: filter\n")
	if m.filtering {
		b.WriteString(m.input.View())
	}
	return b.String()
}

func (m Model) detailText() string {
	if m.detailErr != nil {
		return fmt.Sprintf("cannot read this row: %v", m.detailErr)
	}
	if m.detail == nil {
		return ""
	}
	return Detail(m.detail, m.why)
}

// Detail renders one row in full; the diff pane shows it too.
func Detail(cd *preview.CallDetail, why map[string]string) string {
	var b strings.Builder
	c := cd.Call
	fmt.Fprintf(&b, "call %s", c.CallID)
	if cd.Source != "" {
		fmt.Fprintf(&b, " (source %s, read #%d)", cd.Source, cd.Pos+1)
	}
	b.WriteString("\n\n")
	state := cd.State
	if state == "" {
		state = "(not in this preview)"
	}
	fmt.Fprintf(&b, "  state    %s\n", state)
	if cd.Reason != "" {
		fmt.Fprintf(&b, "  reason   %s\n", cd.Reason)
		fmt.Fprintf(&b, "  rule     %s\n", RuleOf(cd.Reason, why))
	}
	if cd.Detail != "" {
		fmt.Fprintf(&b, "  detail   %s\n", cd.Detail)
	}
	if cd.Stage != "" {
		fmt.Fprintf(&b, "  stopped  %s\n", cd.Stage)
	}
	if cd.AgentUserID != "" {
		fmt.Fprintf(&b, "  agent    user %s\n", cd.AgentUserID)
	}
	if cd.Change != "" {
		fmt.Fprintf(&b, "  change   %s", cd.Change)
		if cd.Prev != nil {
			fmt.Fprintf(&b, " (last run: %s)", stateReason(cd.Prev.State, cd.Prev.Reason))
		}
		b.WriteString("\n")
	}
	if cd.Pos >= 0 {
		b.WriteString("\nsource columns\n")
		for _, kv := range [][2]string{
			{"call_id", c.CallID}, {"tenant_id", fmt.Sprint(c.TenantID)}, {"site", c.Site}, {"agent_id", c.AgentID},
			{"start_time", c.StartTime.UTC().Format(time.RFC3339)}, {"duration_ms", fmt.Sprint(c.DurationMS)},
			{"direction", c.Direction}, {"ani", c.ANI}, {"dnis", c.DNIS}, {"archived", fmt.Sprint(c.Archived)},
			{"audio_packets", fmt.Sprint(c.AudioPackets)}, {"status", c.Status},
			{"exception_code", fmt.Sprint(c.ExceptionCode)}, {"media_path", c.MediaPath}, {"skill", c.Skill},
		} {
			fmt.Fprintf(&b, "  %-15s %s\n", kv[0], kv[1])
		}
	}
	b.WriteString("\nmapped business data\n")
	if lines := BusinessData(cd.BusinessData); len(lines) > 0 {
		for _, l := range lines {
			b.WriteString("  " + l + "\n")
		}
	} else {
		b.WriteString("  (none: only imported calls are mapped)\n")
	}
	if len(cd.SourceBD) > 0 {
		b.WriteString("\nsource business data\n")
		for _, kv := range cd.SourceBD {
			fmt.Fprintf(&b, "  %-24s %s\n", kv[0], kv[1])
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// RuleOf names the rule behind a reason code: its place in the seed's chain
// and, for the spec's own filters, the expression.
func RuleOf(reason string, why map[string]string) string {
	s := ""
	for i, r := range engine.CallRules {
		if r.Reason == reason {
			s = fmt.Sprintf("call rule %d: %s", i+1, r.Doc)
			break
		}
	}
	if s == "" {
		// The reasons no rule gives: the engine's one sentence for each.
		if s = engine.ExplainReason("call", "", reason); s == "" {
			s = reason
		}
	}
	if e := why[reason]; e != "" {
		s += " (" + e + ")"
	}
	return s
}

func stateReason(state, reason string) string {
	if reason == "" {
		return state
	}
	return state + "/" + reason
}

// BusinessData renders the outbox-style business data object as sorted
// "type name = value" lines; bad JSON is shown as is rather than dropped.
func BusinessData(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var bd map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &bd); err != nil {
		return []string{string(raw)}
	}
	var out []string
	for _, typ := range []string{"text", "number", "boolean"} {
		names := make([]string, 0, len(bd[typ]))
		for n := range bd[typ] {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			out = append(out, fmt.Sprintf("%-7s %-22s = %s", typ, n, bd[typ][n]))
		}
	}
	return out
}

// wrapped is a viewport that wraps long lines (errors, expressions) instead
// of cutting them.
func wrapped() viewport.Model {
	vp := viewport.New()
	vp.SoftWrap = true
	return vp
}
