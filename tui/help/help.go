package help

import (
	"strings"

	bhelp "charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// Keys is every binding of the TUI. Panes match against these; the help
// pane renders them.
type Keys struct {
	Next, Prev             key.Binding // stepping through the preview's stages
	Rerun                  key.Binding
	Up, Down               key.Binding
	PageUp, PageDown       key.Binding
	Top, Bottom            key.Binding
	Enter, Back            key.Binding
	Filter                 key.Binding
	NextChange, PrevChange key.Binding
	Kind                   key.Binding
	Plan, Stages, Rows     key.Binding
	Diff, Apply            key.Binding
	Help, Quit             key.Binding
}

// DefaultKeys returns the TUI's bindings.
func DefaultKeys() Keys {
	b := func(help, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return Keys{
		Next:       b("n", "next stage", "n"),
		Prev:       b("N/p", "previous stage", "N", "p"),
		Rerun:      b("r", "run the preview again", "r"),
		Up:         b("↑/k", "up", "up", "k"),
		Down:       b("↓/j", "down", "down", "j"),
		PageUp:     b("pgup/b", "page up", "pgup", "b"),
		PageDown:   b("pgdn/f", "page down", "pgdown", "f", "space"),
		Top:        b("home/g", "first row", "home", "g"),
		Bottom:     b("end/G", "last row", "end", "G"),
		Enter:      b("enter", "open: rows, a row", "enter"),
		Back:       b("esc", "back", "esc"),
		Filter:     b("/", "filter rows", "/"),
		NextChange: b("]", "next change", "]"),
		PrevChange: b("[", "previous change", "["),
		Kind:       b("tab", "diff: next kind", "tab"),
		Plan:       b("1", "plan", "1"),
		Stages:     b("2", "stages", "2"),
		Rows:       b("3", "rows", "3"),
		Diff:       b("4/d", "diff", "4", "d"),
		Apply:      b("a", "apply (type yes)", "a"),
		Help:       b("?", "help", "?"),
		Quit:       b("q", "quit", "q", "ctrl+c"),
	}
}

// Scroll moves a viewport by the scrolling keys (up, down, page up, page
// down) and reports whether k was one of them.
func (k Keys) Scroll(vp *viewport.Model, msg tea.KeyPressMsg) bool {
	switch {
	case key.Matches(msg, k.Up):
		vp.ScrollUp(1)
	case key.Matches(msg, k.Down):
		vp.ScrollDown(1)
	case key.Matches(msg, k.PageUp):
		vp.PageUp()
	case key.Matches(msg, k.PageDown):
		vp.PageDown()
	default:
		return false
	}
	return true
}

// ShortHelp is the footer line.
func (k Keys) ShortHelp() []key.Binding {
	return []key.Binding{k.Next, k.Prev, k.Enter, k.Help, k.Quit, k.Diff, k.Apply}
}

// FullHelp is the help pane, in columns.
func (k Keys) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Next, k.Prev, k.Rerun, k.Enter, k.Back, k.Filter, k.NextChange, k.PrevChange, k.Kind},
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom},
		{k.Plan, k.Stages, k.Rows, k.Diff, k.Apply, k.Help, k.Quit},
	}
}

// Model is the help pane and the footer's one-line help.
type Model struct {
	keys  Keys
	bh    bhelp.Model
	width int
}

// New returns the help pane over keys.
func New(keys Keys) Model {
	bh := bhelp.New()
	// Plain styles: the help must read the same without colours (tests and
	// terminals without colour support).
	plain := lipgloss.NewStyle()
	bh.Styles = bhelp.Styles{ShortKey: plain.Bold(true), ShortDesc: plain, ShortSeparator: plain, Ellipsis: plain,
		FullKey: plain.Bold(true), FullDesc: plain, FullSeparator: plain}
	return Model{keys: keys, bh: bh}
}

// SetSize sets the pane's width; the height is not needed (the list is short).
func (m Model) SetSize(w, _ int) Model {
	m.width = w
	m.bh.SetWidth(w)
	return m
}

// Short is the footer: the most used keys on one line.
func (m Model) Short() string { return m.bh.ShortHelpView(m.keys.ShortHelp()) }

// View is the full list of keys.
func (m Model) View() string {
	var b strings.Builder
	b.WriteString("Keys\n\n")
	b.WriteString(m.bh.FullHelpView(m.keys.FullHelp()))
	b.WriteString("\n\nThe preview never touches the state or the sink; only apply (a, then typing yes)\n")
	b.WriteString("sends anything. ? closes this help.")
	return b.String()
}
