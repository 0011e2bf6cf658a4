package tui_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/preview"
	"github.com/applink-dev/applink/engine/workspace"
	"github.com/applink-dev/applink/tui"
	"github.com/applink-dev/applink/tui/apply"
)

// TestPanes drives the program with keys at 80×24 and compares each pane's
// final view with a golden file (go test ./tui -update rewrites them).
func TestPanes(t *testing.T) {
	stepped := func(h *harness) {
		h.press("n")
		h.waitFor("the preview", func(m tui.Model) bool { return m.Stage() == 0 && !m.Busy() })
	}
	rowsLoaded := func(h *harness) {
		h.waitFor("rows", func(m tui.Model) bool { return len(m.Rows()) > 0 })
	}
	tests := []struct {
		name  string
		opts  func(*tui.Options)
		steps func(h *harness)
		check func(t *testing.T, m tui.Model)
	}{
		{name: "plan", steps: func(h *harness) {},
			check: func(t *testing.T, m tui.Model) {
				want(t, m.Active() == tui.PanePlan && m.Stage() == -1, "plan pane, no stage")
			}},
		{name: "plan_scrolled", steps: func(h *harness) { h.press("down", "down", "down") }},
		{name: "plan_with_counts", steps: func(h *harness) { stepped(h); h.press("1") }},
		{name: "stage_1_source", steps: stepped},
		{name: "stage_2_rules_reason_selected", steps: func(h *harness) { stepped(h); h.press("n", "down") },
			check: func(t *testing.T, m tui.Model) { want(t, m.Stage() == 1, "stage 2 on view, got %d", m.Stage()+1) }},
		{name: "stage_4_last", steps: func(h *harness) { stepped(h); h.press("n", "n", "n", "n") },
			check: func(t *testing.T, m tui.Model) {
				want(t, m.Stage() == 3, "n past the last stage stays there, got %d", m.Stage()+1)
			}},
		{name: "stage_back", steps: func(h *harness) { stepped(h); h.press("n", "n", "N", "p") },
			check: func(t *testing.T, m tui.Model) {
				want(t, m.Stage() == 0, "N then p back to stage 1, got %d", m.Stage()+1)
			}},
		{name: "preview_failed", opts: func(o *tui.Options) { o.Preview = fakePreview(newFakeStore(), errSource) },
			steps: func(h *harness) {
				h.press("n")
				h.waitFor("the failure", func(m tui.Model) bool { return !m.Busy() && strings.Contains(screen(m), "preview failed") })
			},
			check: func(t *testing.T, m tui.Model) { want(t, m.Stage() == -1, "no stage after a failed preview") }},
		{name: "rows_for_reason", steps: func(h *harness) { stepped(h); h.press("n", "down", "enter"); rowsLoaded(h) },
			check: func(t *testing.T, m tui.Model) {
				want(t, m.Active() == tui.PaneRows, "rows pane")
				for _, r := range m.Rows() {
					want(t, r.Reason == connector.ReasonNotArchived, "row %s has reason %q, want not_archived", r.CallID, r.Reason)
				}
				want(t, len(m.Rows()) == 2, "2 not_archived rows, got %d", len(m.Rows()))
			}},
		{name: "rows_filtered", steps: func(h *harness) {
			stepped(h)
			h.press("enter")
			rowsLoaded(h)
			h.press("/")
			h.typeText("c01")
			h.press("enter")
			h.waitFor("the filter", func(m tui.Model) bool { return len(m.Rows()) == 1 })
		}, check: func(t *testing.T, m tui.Model) { want(t, m.Rows()[0].CallID == "C010", "filter c01 keeps C010") }},
		{name: "rows_detail", steps: func(h *harness) {
			stepped(h)
			h.press("n", "n", "n", "enter") // the mapped rows
			rowsLoaded(h)
			h.press("down", "enter")
			h.waitFor("the detail", func(m tui.Model) bool { return strings.Contains(screen(m), "row detail") })
		}},
		{name: "rows_detail_excluded", steps: func(h *harness) {
			stepped(h)
			h.press("n", "n", "down", "enter") // filtered_out
			rowsLoaded(h)
			h.press("enter")
			h.waitFor("the detail", func(m tui.Model) bool { return strings.Contains(screen(m), "row detail") })
		}},
		{name: "diff", steps: func(h *harness) {
			stepped(h)
			h.press("4")
			h.waitFor("diff rows", func(m tui.Model) bool { return strings.Contains(screen(m), "C900") })
			h.press("]", "]", "]")
		}, check: func(t *testing.T, m tui.Model) {
			// C002 new, C003 changed, C005 new: ] skips the unchanged ones.
			want(t, m.DiffCursor() == 4, "third ] lands on row 5 (C005), got row %d", m.DiffCursor()+1)
		}},
		{name: "diff_back", steps: func(h *harness) {
			stepped(h)
			h.press("4")
			h.waitFor("diff rows", func(m tui.Model) bool { return strings.Contains(screen(m), "C900") })
			h.press("]", "]", "]", "[")
		}, check: func(t *testing.T, m tui.Model) {
			want(t, m.DiffCursor() == 2, "[ back to row 3 (C003), got %d", m.DiffCursor()+1)
		}},
		{name: "diff_side_by_side", steps: func(h *harness) {
			stepped(h)
			h.press("d")
			h.waitFor("diff rows", func(m tui.Model) bool { return strings.Contains(screen(m), "C900") })
			h.press("]", "]", "enter")
			h.waitFor("the comparison", func(m tui.Model) bool { return strings.Contains(screen(m), "this preview") })
		}},
		{name: "diff_past_row_500", opts: bigPreview, steps: func(h *harness) {
			stepped(h)
			h.press("4")
			h.waitFor("diff rows", func(m tui.Model) bool { return strings.Contains(screen(m), "row 1 of 1201") })
			h.press("]")
			want(h.t, h.model().DiffCursor() == 2, "] lands on row 3, got %d", h.model().DiffCursor()+1)
			h.press("]") // past the loaded page: the preview file finds it
			h.waitFor("the jump", func(m tui.Model) bool { return m.DiffCursor() == 640 && !m.DiffLoading() })
			h.press("]")
			h.waitFor("the next jump", func(m tui.Model) bool { return m.DiffCursor() == 1100 && !m.DiffLoading() })
			h.press("[")
			h.waitFor("the jump back", func(m tui.Model) bool { return m.DiffCursor() == 640 && !m.DiffLoading() })
		}, check: func(t *testing.T, m tui.Model) {
			want(t, strings.Contains(screen(m), "C00641") && strings.Contains(screen(m), "row 641 of 1201"), "row 641 (C00641) on view")
		}},
		{name: "diff_end_and_back", opts: bigPreview, steps: func(h *harness) {
			stepped(h)
			h.press("4")
			h.waitFor("diff rows", func(m tui.Model) bool { return strings.Contains(screen(m), "row 1 of 1201") })
			h.press("G")
			h.waitFor("the last row", func(m tui.Model) bool { return m.DiffCursor() == 1200 && !m.DiffLoading() })
			h.press("]")
			h.press("[", "[")
			h.waitFor("the jump back", func(m tui.Model) bool { return m.DiffCursor() == 640 && !m.DiffLoading() })
		}, check: func(t *testing.T, m tui.Model) {
			want(t, strings.Contains(screen(m), "C00641"), "C00641 on view")
		}},
		{name: "diff_compare_sent", opts: func(o *tui.Options) {
			sent := sentC010(testPlan(t))
			o.Previous = func(ctx context.Context, id string) (*workspace.SentCopy, error) {
				if id != "C010" {
					return nil, fmt.Errorf("asked for %s", id)
				}
				return sent, nil
			}
		}, steps: func(h *harness) {
			stepped(h)
			h.press("4")
			h.waitFor("diff rows", func(m tui.Model) bool { return strings.Contains(screen(m), "C900") })
			h.press("G", "[", "enter") // C010, the last change before the removed row
			h.waitFor("the comparison", func(m tui.Model) bool { return strings.Contains(screen(m), "fields differ") })
		}, check: func(t *testing.T, m tui.Model) {
			s := screen(m)
			for _, w := range []string{"* number OrderTotal", "* text Tier", "* boolean VIP", "3 of 14 fields differ", "last sent by run 20261124T080000.000000Z"} {
				want(t, strings.Contains(s, w), "compare view lacks %q", w)
			}
			want(t, !strings.Contains(s, "* text CustomerID"), "CustomerID did not change")
		}},
		{name: "diff_compare_purged", opts: func(o *tui.Options) {
			o.Previous = func(ctx context.Context, id string) (*workspace.SentCopy, error) {
				return &workspace.SentCopy{RunID: "20260801T080000.000000Z", State: connector.StateImported,
					Missing: "run 20260801T080000.000000Z's staged copy is gone: pruned on 2026-10-30T08:00:00Z (staged copies are kept 90 days)"}, nil
			}
		}, steps: func(h *harness) {
			stepped(h)
			h.press("4")
			h.waitFor("diff rows", func(m tui.Model) bool { return strings.Contains(screen(m), "C900") })
			h.press("G", "[", "enter")
			h.waitFor("the comparison", func(m tui.Model) bool { return strings.Contains(screen(m), "no copy of what was sent remains") })
		}},
		{name: "opened_from_file", opts: func(o *tui.Options) {
			st := newFakeStore()
			o.Preview = func(ctx context.Context, p func(engine.Progress)) (*preview.Result, tui.Store, error) {
				t.Error("a preview ran although the file was there")
				return nil, nil, errors.New("must not run")
			}
			o.Open = func(ctx context.Context) (*preview.Result, tui.Store, error) {
				r := fakeResult()
				r.Summary.PlanHash = testPlan(t).Hash()
				r.Summary.Started = time.Date(2026, 11, 25, 7, 58, 0, 0, time.UTC)
				return r, st, nil
			}
		}, steps: func(h *harness) {
			h.waitFor("the preview file", func(m tui.Model) bool { return m.FromFile() })
		}, check: func(t *testing.T, m tui.Model) {
			s := screen(m)
			want(t, !strings.Contains(strings.ToLower(s), "no preview yet"), "the plan pane says no preview yet:\n%s", s)
			want(t, m.Stage() == 0 && m.Active() == tui.PanePlan, "stage 1 ready on the plan pane, got stage %d pane %d", m.Stage()+1, m.Active())
		}},
		{name: "opened_from_file_then_n", opts: func(o *tui.Options) {
			st := newFakeStore()
			o.Preview = func(ctx context.Context, p func(engine.Progress)) (*preview.Result, tui.Store, error) {
				t.Error("n ran a preview although one was open")
				return nil, nil, errors.New("must not run")
			}
			o.Open = func(ctx context.Context) (*preview.Result, tui.Store, error) { return fakeResult(), st, nil }
		}, steps: func(h *harness) {
			h.waitFor("the preview file", func(m tui.Model) bool { return m.FromFile() })
			h.press("n")
		}, check: func(t *testing.T, m tui.Model) {
			want(t, m.Stage() == 1, "n steps to stage 2 of the opened preview, got %d", m.Stage()+1)
		}},
		{name: "diff_removed_only", steps: func(h *harness) {
			stepped(h)
			h.press("4", "tab", "tab", "tab")
			h.waitFor("removed rows", func(m tui.Model) bool { return strings.Contains(screen(m), "row 1 of 1 · removed") })
		}},
		{name: "help", steps: func(h *harness) { h.press("?") },
			check: func(t *testing.T, m tui.Model) { want(t, m.HelpShown(), "help shown") }},
		{name: "help_closed", steps: func(h *harness) { h.press("?", "?") },
			check: func(t *testing.T, m tui.Model) { want(t, !m.HelpShown(), "? again closes help") }},
		{name: "apply_confirm", steps: func(h *harness) { h.press("a"); h.typeText("ye") },
			check: func(t *testing.T, m tui.Model) { want(t, m.ApplyPhase() == apply.Confirm, "still confirming") }},
		{name: "apply_not_confirmed", opts: func(o *tui.Options) { o.Apply = failApply(t) },
			steps: func(h *harness) { h.press("a"); h.typeText("no"); h.press("enter") },
			check: func(t *testing.T, m tui.Model) { want(t, m.ApplyPhase() == apply.Confirm, "no run without yes") }},
		{name: "apply_cancelled", opts: func(o *tui.Options) { o.Apply = failApply(t) },
			steps: func(h *harness) { h.press("a"); h.typeText("yes"); h.press("esc") },
			check: func(t *testing.T, m tui.Model) { want(t, m.ApplyPhase() == apply.Idle, "esc cancels") }},
		{name: "apply_done", steps: func(h *harness) {
			stepped(h)
			h.press("a")
			h.typeText("yes")
			h.press("enter")
			h.waitFor("the run", func(m tui.Model) bool { return m.ApplyPhase() == apply.Done })
		}},
		{name: "apply_failed", opts: func(o *tui.Options) {
			o.Apply = func(ctx context.Context, p func(engine.Progress)) (*engine.RunRecord, error) {
				return &engine.RunRecord{Calls: engine.Tally{Total: 1024}}, errors.New("open sink: outbox: permission denied")
			}
		}, steps: func(h *harness) {
			h.press("a")
			h.typeText("yes")
			h.press("enter")
			h.waitFor("the failure", func(m tui.Model) bool { return m.ApplyPhase() == apply.Failed })
		}},
		{name: "apply_panics", opts: func(o *tui.Options) {
			o.Apply = func(ctx context.Context, p func(engine.Progress)) (*engine.RunRecord, error) { panic("boom") }
		}, steps: func(h *harness) {
			h.press("a")
			h.typeText("yes")
			h.press("enter")
			h.waitFor("the failure", func(m tui.Model) bool { return m.ApplyPhase() == apply.Failed })
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newFakeStore()
			opts := tui.Options{
				Preview: fakePreview(st, nil),
				Apply: func(ctx context.Context, p func(engine.Progress)) (*engine.RunRecord, error) {
					return fakeSummary(), nil
				},
				Ledger: func(ctx context.Context) (string, error) {
					return "unchanged: last committed run 20261124T080000.000000Z (ended 2026-11-24T08:00:03Z)", nil
				},
			}
			if tc.opts != nil {
				tc.opts(&opts)
			}
			h := start(t, opts, 80, 24)
			tc.steps(h)
			h.sync()
			shown := screen(h.model())
			m := h.finish()
			if got := screen(m); got != shown {
				t.Errorf("quitting changed the view:\n%s", got)
			}
			checkFrame(t, shown, 80, 24)
			golden.RequireEqual(t, shown)
			if tc.check != nil {
				tc.check(t, m)
			}
		})
	}
}

// bigPreview previews 1 200 calls whose changes lie past the first page.
func bigPreview(o *tui.Options) {
	st := newBigStore(1200)
	o.Preview = func(ctx context.Context, p func(engine.Progress)) (*preview.Result, tui.Store, error) {
		return bigResult(1200), st, nil
	}
}

// failApply is an apply that must not run.
func failApply(t *testing.T) apply.Func {
	return func(ctx context.Context, p func(engine.Progress)) (*engine.RunRecord, error) {
		t.Error("apply ran without confirmation")
		return nil, errors.New("must not run")
	}
}

func want(t *testing.T, ok bool, format string, args ...any) {
	t.Helper()
	if !ok {
		t.Errorf(format, args...)
	}
}

// checkFrame: the view fills the terminal exactly and no line is wider.
func checkFrame(t *testing.T, s string, w, h int) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) != h {
		t.Errorf("view has %d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if n := len([]rune(l)); n > w {
			t.Errorf("line %d is %d cells wide, more than %d: %q", i+1, n, w, l)
		}
	}
}
