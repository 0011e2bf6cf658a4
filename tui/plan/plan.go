package plan

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/preview"
	"github.com/applink-dev/applink/tui/help"
)

// StageTitles names the preview's stages for people, by preview view name.
var StageTitles = map[string]string{
	preview.ViewSource:       "read source",
	preview.ViewAfterRules:   "seed rules",
	preview.ViewAfterFilters: "spec filters",
	preview.ViewMapped:       "field mapping",
}

// stageOrder is the order of the preview's stages before a preview ran.
var stageOrder = []string{preview.ViewSource, preview.ViewAfterRules, preview.ViewAfterFilters, preview.ViewMapped}

// Model is the plan pane.
type Model struct {
	plan   *engine.Plan
	stages []preview.StageCount
	origin string // where the counts come from, when not a preview of this session
	keys   help.Keys
	vp     viewport.Model
}

// New returns the pane over a compiled plan.
func New(p *engine.Plan, keys help.Keys) Model {
	m := Model{plan: p, keys: keys, vp: viewport.New()}
	m.vp.SetContent(m.content())
	return m
}

// SetStages shows the counts of a finished preview; origin, when not "",
// says where they come from (the file an earlier preview left).
func (m Model) SetStages(st []preview.StageCount, origin string) Model {
	m.stages, m.origin = st, origin
	m.vp.SetContent(m.content())
	return m
}

// SetSize fits the pane into w×h cells.
func (m Model) SetSize(w, h int) Model {
	m.vp.SetWidth(w)
	m.vp.SetHeight(h)
	m.vp.SetContent(m.content())
	return m
}

// Update scrolls.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return m, nil
	}
	m.keys.Scroll(&m.vp, k)
	return m, nil
}

// View renders the visible part.
func (m Model) View() string { return m.vp.View() }

func (m Model) content() string {
	var b strings.Builder
	if m.origin != "" {
		b.WriteString("stages from " + m.origin + " (r runs a new one):\n")
	} else {
		b.WriteString("stages (n steps through them; counts once the preview ran):\n")
	}
	if len(m.stages) == 0 {
		for i, s := range stageOrder {
			fmt.Fprintf(&b, "  %d. %-14s %10s\n", i+1, StageTitles[s], "–")
		}
	} else {
		for i, s := range m.stages {
			fmt.Fprintf(&b, "  %d. %-14s %10d in %10d passed %10d left\n", i+1, StageTitles[s.Stage], s.In, s.Out, s.In-s.Out)
		}
	}
	b.WriteString("\n")
	if m.plan != nil {
		b.WriteString(strings.TrimRight(m.plan.String(), "\n"))
	}
	// Long lines (field expressions) are cut rather than wrapped so the
	// tables stay aligned; the full plan is `applink plan DIR`.
	w := m.vp.Width()
	lines := strings.Split(b.String(), "\n")
	if w > 0 {
		for i, l := range lines {
			if len([]rune(l)) > w {
				r := []rune(l)
				lines[i] = string(r[:w-1]) + "…"
			}
		}
	}
	return strings.Join(lines, "\n")
}
