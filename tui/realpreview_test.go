package tui_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/applink-dev/applink/connectors/demogen"
	"github.com/applink-dev/applink/connectors/snapshot"
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/preview"
	"github.com/applink-dev/applink/tui"
)

// TestRealPreview steps through a real preview (engine/preview over demo
// data in a DuckDB file) to check the panes agree with what it stored. Not
// golden: the demo data belongs to connectors/demogen.
func TestRealPreview(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a real preview into DuckDB")
	}
	dir := t.TempDir()
	specDir, data := filepath.Join(dir, "spec"), filepath.Join(dir, "spec", "data")
	opt := demogen.Options{Calls: 600, Agents: 40}
	if _, err := demogen.Generate(data, opt); err != nil {
		t.Fatal(err)
	}
	if err := demogen.WriteSpec(specDir, data, opt); err != nil {
		t.Fatal(err)
	}
	spec, diags := dsl.Load(specDir)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	plan, err := engine.Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	var res *preview.Result
	run := func(ctx context.Context, p func(engine.Progress)) (*preview.Result, tui.Store, error) {
		r, err := preview.Run(ctx, plan, preview.Options{
			DBPath:    filepath.Join(specDir, ".applink", "preview.duckdb"),
			StatePath: filepath.Join(specDir, ".applink", "state.duckdb"),
			Registry:  engine.Registry{Sources: []connector.SourceDescriptor{snapshot.Descriptor()}},
			Progress:  p,
		})
		if err != nil {
			return nil, nil, err
		}
		res = r
		db, err := preview.OpenDB(r.DBPath)
		if err != nil {
			return nil, nil, err
		}
		return r, db, nil
	}
	h := start(t, tui.Options{Plan: plan, Preview: run}, 80, 24)
	h.press("n")
	h.waitFor("the preview", func(m tui.Model) bool { return !m.Busy() && (m.Stage() == 0 || strings.Contains(screen(m), "failed")) })
	if h.model().Stage() != 0 {
		t.Fatalf("preview failed:\n%s", screen(h.model()))
	}
	for i, st := range res.Stages {
		if i > 0 {
			h.press("n")
		}
		s := screen(h.model())
		for _, want := range []string{"entered", "passed"} {
			if !strings.Contains(s, want) {
				t.Errorf("stage %d view lacks %q:\n%s", i+1, want, s)
			}
		}
		if got := h.model().Stage(); got != i {
			t.Fatalf("stage %d on view, want %d", got+1, i+1)
		}
		_ = st
	}
	last := res.Stages[len(res.Stages)-1]
	h.press("enter") // the rows that passed the last stage: the imported calls
	h.waitFor("rows", func(m tui.Model) bool { return len(m.Rows()) > 0 })
	if got, want := len(h.model().Rows()), min(last.Out, 500); got != want {
		t.Errorf("rows past mapping: %d, want %d", got, want)
	}
	for _, r := range h.model().Rows() {
		if r.State != connector.StateImported {
			t.Errorf("row %s past mapping is %s", r.CallID, r.State)
		}
	}
	h.press("enter")
	h.waitFor("the detail", func(m tui.Model) bool { return strings.Contains(screen(m), "source columns") })
	h.press("esc", "4")
	h.waitFor("the diff", func(m tui.Model) bool { return strings.Contains(screen(m), "row 1 of") })
	if s := screen(h.model()); !strings.Contains(s, "new") {
		t.Errorf("without a state every call is new:\n%s", s)
	}
	h.finish()
}
