package workspace_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/applink-dev/applink/connectors/demogen"
	"github.com/applink-dev/applink/connectors/outbox"
	"github.com/applink-dev/applink/connectors/snapshot"
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/state"
	"github.com/applink-dev/applink/engine/state/duckstate"
	"github.com/applink-dev/applink/engine/workspace"
)

// The workspace's tests wire the two connectors a spec of demo data needs
// (the engine itself never names a connector; its tests may).
func registry() engine.Registry {
	return engine.Registry{
		Sources: []connector.SourceDescriptor{snapshot.Descriptor()},
		Outbox:  func(dir string) connector.Sink { return outbox.NewCumulative(dir) },
		Staging: outbox.Staging{},
	}
}

// t0 is a whole second: the state keeps microseconds, so instants built
// from it compare exactly after a round trip.
var t0 = time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC)

// newWorkspace writes demo data and its spec (with extra HCL appended) and
// returns the spec folder's workspace; the data is regenerated with more
// calls by grow, so a later run has something new to send.
func newWorkspace(t *testing.T, extra string) (ws *workspace.Workspace, grow func(calls int)) {
	t.Helper()
	root := t.TempDir()
	data, dir := filepath.Join(root, "data"), filepath.Join(root, "spec")
	opt := demogen.Options{Calls: 200, BDFields: 3, Seed: 5}
	if _, err := demogen.Generate(data, opt); err != nil {
		t.Fatal(err)
	}
	if err := demogen.WriteSpec(dir, data, opt); err != nil {
		t.Fatal(err)
	}
	if extra != "" {
		if err := os.WriteFile(filepath.Join(dir, "extra.hcl"), []byte(extra), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	spec, diags := dsl.Load(dir)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	plan, err := engine.Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	ws = workspace.New(plan, workspace.DefaultPaths(dir, "", ""), registry())
	ws.Drivers = state.Drivers{state.DriverDuckDB: duckstate.Driver{}}
	grow = func(calls int) {
		opt.Calls = calls
		if _, err := demogen.Generate(data, opt); err != nil {
			t.Fatal(err)
		}
	}
	return ws, grow
}

func runAt(t *testing.T, ws *workspace.Workspace, at time.Time) *workspace.RunResult {
	t.Helper()
	ws.Now = func() time.Time { return at }
	r, err := ws.Run(context.Background(), nil)
	if err != nil {
		t.Fatalf("run at %s: %v", at, err)
	}
	return r
}

func staging(t *testing.T, ws *workspace.Workspace) []state.StagedRun {
	t.Helper()
	st, err := ws.OpenState(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.Staging(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

// TestRunStagesWhatItSends: a first run writes the outbox, stages a copy
// of what it sent and indexes it with its counts; a run with nothing new
// sends nothing, stages nothing and leaves no folder behind.
func TestRunStagesWhatItSends(t *testing.T) {
	ws, _ := newWorkspace(t, "")
	first := runAt(t, ws, t0)
	if !first.Staged || first.RetentionDays != workspace.DefaultRetentionDays || !strings.HasPrefix(first.Where, "outbox ") {
		t.Fatalf("first run: %+v", first)
	}
	for _, f := range []string{"agents.csv", "calls.jsonl", "ledger.csv"} {
		for _, d := range []string{ws.Paths.Outbox, first.StageDir} {
			if fi, err := os.Stat(filepath.Join(d, f)); err != nil || fi.Size() == 0 {
				t.Errorf("%s/%s: %v", d, f, err)
			}
		}
	}
	runs := staging(t, ws)
	if len(runs) != 1 || runs[0].Path != first.StageDir || runs[0].Calls != int64(first.Summary.Sent.Calls) || runs[0].Agents != int64(first.Summary.Sent.Agents) || !runs[0].Created.Equal(t0) {
		t.Errorf("staging index %+v, want the first run's folder with %d calls, %d agents, created %s", runs, first.Summary.Sent.Calls, first.Summary.Sent.Agents, t0)
	}
	second := runAt(t, ws, t0.Add(time.Hour))
	if second.Staged || second.Summary.Sent.Calls+second.Summary.Sent.Agents != 0 {
		t.Errorf("second run sent or staged: %+v", second)
	}
	if _, err := os.Stat(second.StageDir); !os.IsNotExist(err) {
		t.Errorf("the run that sent nothing left its staging folder: %v", err)
	}
	if len(staging(t, ws)) != 1 {
		t.Error("the run that sent nothing is in the staging index")
	}
}

// TestRetentionAtTheCutoff: a staged run exactly retention_days old is
// kept; one microsecond later (the state's precision) it is pruned.
func TestRetentionAtTheCutoff(t *testing.T) {
	ws, _ := newWorkspace(t, "staging {\n  retention_days = 30\n}\n")
	first := runAt(t, ws, t0)
	cutoff := t0.Add(30 * 24 * time.Hour)
	if r := runAt(t, ws, cutoff); len(r.Pruned) != 0 {
		t.Fatalf("a run exactly 30 days old was pruned at the cutoff instant: %v", r.Pruned)
	}
	if _, err := os.Stat(first.StageDir); err != nil {
		t.Fatalf("the run at the cutoff lost its folder: %v", err)
	}
	r := runAt(t, ws, cutoff.Add(time.Microsecond))
	if want := []string{filepath.Base(first.StageDir)}; !slices.Equal(r.Pruned, want) {
		t.Fatalf("pruned %v one microsecond past the cutoff, want %v", r.Pruned, want)
	}
	if _, err := os.Stat(first.StageDir); !os.IsNotExist(err) {
		t.Errorf("the pruned run's folder is still there: %v", err)
	}
	if runs := staging(t, ws); len(runs) != 1 || runs[0].PurgedAt == nil || !runs[0].PurgedAt.Equal(cutoff.Add(time.Microsecond)) {
		t.Errorf("staging index after the prune: %+v", runs)
	}
}

// TestPurgeBeforeAtTheCutoff: purge --before T deletes the runs staged
// strictly before T: a run staged at T itself is kept, and a purge one
// microsecond later deletes it; each purge is in the history.
func TestPurgeBeforeAtTheCutoff(t *testing.T) {
	ws, grow := newWorkspace(t, "")
	first := runAt(t, ws, t0)
	grow(260)
	second := runAt(t, ws, t0.Add(24*time.Hour))
	if !second.Staged {
		t.Fatal("the second run sent nothing new")
	}
	for _, tc := range []struct {
		before time.Time
		want   []string
	}{
		{t0, nil},
		{t0.Add(time.Microsecond), []string{filepath.Base(first.StageDir)}},
		{t0.Add(24 * time.Hour), nil},
		{t0.Add(24*time.Hour + time.Microsecond), []string{filepath.Base(second.StageDir)}},
	} {
		ws.Now = func() time.Time { return t0.Add(48 * time.Hour).Add(tc.before.Sub(t0)) }
		res, err := ws.Purge(context.Background(), workspace.PurgeRequest{Before: tc.before})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Runs, tc.want) {
			t.Errorf("purge before %s: purged %v, want %v", tc.before.Format(time.RFC3339Nano), res.Runs, tc.want)
		}
	}
	if _, err := os.Stat(first.StageDir); !os.IsNotExist(err) {
		t.Errorf("purged folder still there: %v", err)
	}
	runs, err := ws.Runs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	purges := 0
	for _, r := range runs {
		if r.Kind == "purge" {
			purges++
		}
	}
	if purges != 4 {
		t.Errorf("%d purges in the history, want 4", purges)
	}
	if _, err := ws.Purge(context.Background(), workspace.PurgeRequest{Before: t0, All: true}); err == nil {
		t.Error("a purge with two criteria was accepted")
	}
}

// TestRunRemovesCrashedRunsLeftovers: the next run deletes a staging folder
// the state does not know (a run killed before its commit) and the changes
// file a run killed right after its commit left in its own folder; it
// keeps the committed runs' staged copies and ignores a stray file.
func TestRunRemovesCrashedRunsLeftovers(t *testing.T) {
	ws, grow := newWorkspace(t, "")
	first := runAt(t, ws, t0)
	crashed := filepath.Join(ws.Paths.Staging, "20261110T130000.000000Z")
	if err := os.MkdirAll(crashed, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(crashed, "calls.jsonl"), filepath.Join(first.StageDir, "ledger-changes.csv"), filepath.Join(ws.Paths.Staging, "notes.txt")} {
		if err := os.WriteFile(p, []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	grow(230)
	runAt(t, ws, t0.Add(2*time.Hour))
	if _, err := os.Stat(crashed); !os.IsNotExist(err) {
		t.Errorf("the crashed run's staging folder is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(first.StageDir, "ledger-changes.csv")); !os.IsNotExist(err) {
		t.Errorf("a committed run's leftover changes file is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(first.StageDir, "calls.jsonl")); err != nil {
		t.Errorf("a committed run's staged copy is gone: %v", err)
	}
	if _, err := os.Stat(filepath.Join(ws.Paths.Staging, "notes.txt")); err != nil {
		t.Errorf("a stray file in the staging folder was removed: %v", err)
	}
}

// TestRestoreAndFindStaged: a restore of chosen calls resends those it
// finds and names the missing ones; FindStaged explains what it cannot find.
func TestRestoreAndFindStaged(t *testing.T) {
	ws, _ := newWorkspace(t, "")
	if _, err := ws.Restore(context.Background(), "latest", nil); err == nil || !strings.Contains(err.Error(), "nothing is staged") {
		t.Errorf("restore before any run: %v", err)
	}
	first := runAt(t, ws, t0)
	ws.Now = func() time.Time { return t0.Add(time.Hour) }
	res, err := ws.Restore(context.Background(), "latest", []string{"C0000001", "C0000002", "C0000003", "NO-SUCH-CALL"})
	if err != nil {
		t.Fatal(err)
	}
	if res.FromRun != filepath.Base(first.StageDir) || !slices.Contains(res.Missing, "NO-SUCH-CALL") || res.Agents != 0 || res.Calls+len(res.Missing) != 4 {
		t.Errorf("restore: %+v", res)
	}
	if _, err := ws.Restore(context.Background(), "20990101T000000.000000Z", nil); err == nil || !strings.Contains(err.Error(), filepath.Base(first.StageDir)) {
		t.Errorf("restore of an unknown run does not list the staged ones: %v", err)
	}
}

// TestStateConfig: which state a spec uses.
func TestStateConfig(t *testing.T) {
	def := workspace.DefaultPaths("/specs/acme", "", "")
	for _, tc := range []struct {
		name  string
		st    *dsl.State
		paths workspace.Paths
		want  state.Config
	}{
		{"default file", nil, def, state.Config{Path: "/specs/acme/.applink/state.duckdb"}},
		{"--state DSN", nil, workspace.DefaultPaths("/specs/acme", "", "postgres://u@h/db"), state.Config{Driver: state.DriverPostgres, DSN: "postgres://u@h/db", Spec: "acme"}},
		{"spec block postgres", &dsl.State{Driver: state.DriverPostgres, DSN: "postgres://u@h/db", Key: "k"}, def, state.Config{Driver: state.DriverPostgres, DSN: "postgres://u@h/db", Spec: "k"}},
		{"spec block path", &dsl.State{Path: "/var/state.duckdb"}, def, state.Config{Path: "/var/state.duckdb"}},
		{"--state file wins over the block", &dsl.State{Driver: state.DriverPostgres, DSN: "postgres://u@h/db"}, workspace.DefaultPaths("/specs/acme", "", "/tmp/s.duckdb"), state.Config{Path: "/tmp/s.duckdb"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := workspace.StateConfig(tc.st, "acme", tc.paths); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestNoStateYet: before any run the workspace says so and creates nothing.
func TestNoStateYet(t *testing.T) {
	ws, _ := newWorkspace(t, "")
	msg, err := ws.LedgerState(context.Background())
	if err != nil || !strings.Contains(msg, "nothing was ever committed") {
		t.Errorf("LedgerState: %q %v", msg, err)
	}
	if runs, err := ws.Runs(context.Background()); err != nil || runs != nil {
		t.Errorf("Runs: %v %v", runs, err)
	}
	if _, err := ws.DryRun(context.Background(), os.Stdout); err == nil || !strings.Contains(err.Error(), "sink") {
		t.Errorf("dry run without a sink block: %v", err)
	}
	if _, err := os.Stat(ws.Paths.State); !os.IsNotExist(err) {
		t.Errorf("a state file was created: %v", err)
	}
}
