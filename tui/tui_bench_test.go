package tui_test

import (
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/preview"
	"github.com/applink-dev/applink/tui"
)

// BenchmarkDiffView renders the diff pane over a full page of rows (the
// most a query shows), as every frame of a key press does.
func BenchmarkDiffView(b *testing.B) {
	st := &fakeStore{}
	for i := range 500 {
		st.rows = append(st.rows, row(i, fmt.Sprintf("C%05d", i), connector.StateImported, "", "mapped", preview.ChangeNew))
	}
	m := tui.New(tui.Options{Plan: testPlan(b), Preview: fakePreview(st, nil)})
	m = step(b, m, tea.WindowSizeMsg{Width: 80, Height: 24})
	m = step(b, m, tea.KeyPressMsg{Code: 'n', Text: "n"})
	m = step(b, m, tea.KeyPressMsg{Code: '4', Text: "4"})
	if s := screen(m); !strings.Contains(s, "C00000") || !strings.Contains(s, "showing all: 500 rows") {
		b.Fatalf("not on the loaded diff pane:\n%s", s)
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		_ = m.View()
		n += 500
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
}

// step runs an Update and every command it returns, synchronously.
func step(tb testing.TB, m tui.Model, msg tea.Msg) tui.Model {
	queue := []tea.Msg{msg}
	for len(queue) > 0 {
		msg, queue = queue[0], queue[1:]
		nm, cmd := m.Update(msg)
		m = nm.(tui.Model)
		queue = append(queue, runCmd(cmd)...)
	}
	return m
}

func runCmd(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	switch msg := cmd().(type) {
	case tea.BatchMsg:
		var out []tea.Msg
		for _, c := range msg {
			out = append(out, runCmd(c)...)
		}
		return out
	case nil:
		return nil
	default:
		return []tea.Msg{msg}
	}
}
