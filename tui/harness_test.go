package tui_test

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/tui"
)

// probe wraps the root model so a test can wait for the program: it answers
// sync messages (sent after keys, processed in order) and keeps the latest
// model for conditions on asynchronous work.
type probe struct {
	m tui.Model
	h *harness
}

type syncMsg struct{ done chan struct{} }

func (p probe) Init() tea.Cmd { return p.m.Init() }

func (p probe) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if s, ok := msg.(syncMsg); ok {
		close(s.done)
		return p, nil
	}
	if _, ok := msg.(tea.WindowSizeMsg); ok {
		p.h.sizes.Add(1)
	}
	nm, cmd := p.m.Update(msg)
	p.m = nm.(tui.Model)
	p.h.set(p.m)
	return p, cmd
}

func (p probe) View() tea.View { return p.m.View() }

type harness struct {
	t  *testing.T
	tm *teatest.TestModel

	mu     sync.Mutex
	latest tui.Model
	sizes  atomic.Int32 // WindowSizeMsgs seen
}

func (h *harness) set(m tui.Model) {
	h.mu.Lock()
	h.latest = m
	h.mu.Unlock()
}

func (h *harness) model() tui.Model {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.latest
}

// start runs the program at w×h with colours off, so views are plain text.
func start(t *testing.T, opts tui.Options, w, ht int) *harness {
	t.Helper()
	if opts.Plan == nil {
		opts.Plan = testPlan(t)
	}
	h := &harness{t: t}
	m := tui.New(opts)
	h.latest = m
	h.tm = teatest.NewTestModel(t, probe{m: m, h: h}, teatest.WithInitialTermSize(w, ht),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))
	// The program sends its initial size from a goroutine of its own and
	// teatest sends one more: wait for both, or a later resize of the test
	// could be overtaken.
	deadline := time.Now().Add(5 * time.Second)
	for h.sizes.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	h.sync()
	return h
}

// sync returns once every message sent so far has been handled.
func (h *harness) sync() {
	h.t.Helper()
	done := make(chan struct{})
	h.tm.Send(syncMsg{done: done})
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		h.t.Fatal("the program did not handle its messages within 5 s")
	}
}

// press sends keys by name: single characters are typed, the rest are
// special keys.
func (h *harness) press(keys ...string) {
	h.t.Helper()
	for _, k := range keys {
		h.tm.Send(keyMsg(k))
		h.sync()
	}
}

func keyMsg(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(k)
	return tea.KeyPressMsg{Code: r[0], Text: k}
}

// typeText types a string one key at a time.
func (h *harness) typeText(s string) {
	h.t.Helper()
	h.tm.Type(s)
	h.sync()
}

// waitFor polls the latest model until cond holds.
func (h *harness) waitFor(what string, cond func(tui.Model) bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cond(h.model()) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.t.Fatalf("timed out waiting for %s; screen:\n%s", what, screen(h.model()))
}

// finish quits and returns the final model.
func (h *harness) finish() tui.Model {
	h.t.Helper()
	h.tm.Send(keyMsg("ctrl+c")) // q would be typed into an input
	fm := h.tm.FinalModel(h.t, teatest.WithFinalTimeout(10*time.Second))
	return fm.(probe).m
}

// screen is the view as plain text, trailing spaces cut.
func screen(m tui.Model) string {
	lines := strings.Split(ansi.Strip(m.View().Content), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n") + "\n"
}

var (
	planOnce sync.Once
	plan     *engine.Plan
	planErr  error
)

// testPlan compiles testdata/spec (Acme's spec without data: the fakes
// never read the source).
func testPlan(t testing.TB) *engine.Plan {
	t.Helper()
	planOnce.Do(func() {
		spec, diags := dsl.Load("testdata/spec")
		if diags.HasErrors() {
			planErr = diags
			return
		}
		plan, planErr = engine.Compile(spec)
	})
	if planErr != nil {
		t.Fatal(planErr)
	}
	return plan
}
