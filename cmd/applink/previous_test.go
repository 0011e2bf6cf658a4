package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/workspace"
)

// TestPreviousSent: what the TUI's compare view reads, through the real
// outbox staging area. A call's values come from the staged copy of the run
// that last sent it; when the copy is pruned past the retention, purged by
// call or purged whole, or the call was never sent, it says which. A field
// the spec renamed since is still shown.
func TestPreviousSent(t *testing.T) {
	ctx := context.Background()
	dir := unpack(t, "testdata/script/run_small.txtar")
	spec, out := filepath.Join(dir, "spec"), filepath.Join(dir, "out")
	paths := workspace.DefaultPaths(spec, out, "")
	plan := compileSpec(t, spec)
	ws := newWorkspace(plan, paths)

	sc, err := ws.PreviousSent(ctx, "C1")
	if err != nil || sc.Call != nil || !strings.Contains(sc.Missing, "no state yet") {
		t.Fatalf("before any run: %+v, %v", sc, err)
	}

	r1 := mustRun(t, ws)
	sc = previous(t, ws, "C1")
	if sc.SentBy != r1 || sc.RunID != r1 || value(sc, "Total") != "12.5" || value(sc, "Customer") != `K-1, "gold"` || value(sc, "VIP") != "true" {
		t.Errorf("C1 after run 1: %+v", sc)
	}
	if sc := previous(t, ws, "C2"); sc.Call != nil || !strings.Contains(sc.Missing, "left this call excluded (too_short)") {
		t.Errorf("C2 (never sent): %+v", sc)
	}
	if sc := previous(t, ws, "C99"); sc.Call != nil || !strings.Contains(sc.Missing, "not in the ledger") {
		t.Errorf("C99: %+v", sc)
	}

	// C1's total changes; the second run, 100 days on, sends it again and
	// prunes the first run's staged copy (kept 90 days).
	bd := filepath.Join(dir, "data", "business_data.csv")
	replaceIn(t, bd, "C1,Total,12.50", "C1,Total,13.75")
	ws.Now = func() time.Time { return time.Now().Add(100 * 24 * time.Hour) }
	r2 := mustRun(t, ws)
	ws.Now = nil
	if sc := previous(t, ws, "C1"); sc.SentBy != r2 || value(sc, "Total") != "13.75" {
		t.Errorf("C1 after run 2: %+v", sc)
	}
	if sc := previous(t, ws, "C6"); sc.Call != nil || sc.RunID != r1 || !strings.Contains(sc.Missing, "pruned on") ||
		!strings.Contains(sc.Missing, "kept 90 days") {
		t.Errorf("C6, sent by the pruned run 1: %+v", sc)
	}

	// The spec renames Total: the copy is still read, under the old name.
	hcl := filepath.Join(spec, "main.hcl")
	orig, _ := os.ReadFile(hcl)
	replaceIn(t, hcl, `field "number" "Total"`, `field "number" "Amount"`)
	renamed := newWorkspace(compileSpec(t, spec), paths)
	if sc := previous(t, renamed, "C1"); sc.Call == nil || value(sc, "Total") != "13.75" {
		t.Errorf("C1 under a spec without Total: %+v", sc)
	}
	if err := os.WriteFile(hcl, orig, 0o644); err != nil {
		t.Fatal(err)
	}

	if _, err := ws.Purge(ctx, workspace.PurgeRequest{Calls: []string{"C1"}}); err != nil {
		t.Fatal(err)
	}
	if sc := previous(t, ws, "C1"); sc.Call != nil || !strings.Contains(sc.Missing, "applink purge --calls") {
		t.Errorf("C1 purged by id: %+v", sc)
	}
	if _, err := ws.Purge(ctx, workspace.PurgeRequest{All: true}); err != nil {
		t.Fatal(err)
	}
	if sc := previous(t, ws, "C1"); sc.Call != nil || !strings.Contains(sc.Missing, "deleted by applink purge") {
		t.Errorf("C1 after purge --all: %+v", sc)
	}
}

func compileSpec(t *testing.T, dir string) *engine.Plan {
	t.Helper()
	spec, diags := dsl.Load(dir)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	p, err := engine.Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustRun(t *testing.T, ws *workspace.Workspace) string {
	t.Helper()
	r, err := ws.Run(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return r.Summary.RunID
}

func previous(t *testing.T, ws *workspace.Workspace, id string) *workspace.SentCopy {
	t.Helper()
	sc, err := ws.PreviousSent(context.Background(), id)
	if err != nil {
		t.Fatalf("PreviousSent(%s): %v", id, err)
	}
	return sc
}

// value is a staged business-data value as text ("" when absent).
func value(sc *workspace.SentCopy, name string) string {
	if sc.Call == nil {
		return ""
	}
	for _, v := range sc.Call.Values {
		f := sc.Fields[v.Field]
		if f.Name != name {
			continue
		}
		switch f.Type {
		case dsl.TypeText:
			return string(v.Text)
		case dsl.TypeNumber:
			return strconv.FormatFloat(v.Number, 'f', -1, 64)
		default:
			return strconv.FormatBool(v.Bool)
		}
	}
	return ""
}

func replaceIn(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s has no %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}
