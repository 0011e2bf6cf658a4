package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/applink-dev/applink/connectors/demogen"
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/killpoint"
	"github.com/applink-dev/applink/engine/state"
	"github.com/applink-dev/applink/engine/state/duckstate"
	"github.com/applink-dev/applink/engine/state/statetest"
	"github.com/applink-dev/applink/engine/workspace"
)

// TestSignalStopsAtBatchBoundary sends SIGINT or SIGTERM to a working
// `applink run` (first runs and incremental runs with the DuckDB state,
// incremental runs with the PostgreSQL state) once its kill-point trace
// shows it has written a few batches (a batch boundary observed, not a
// fixed delay assumed): it stops within a few batches (the trace says
// where), never reaches its commit, commits nothing (the state, the
// history and the outbox are as before the run), exits 1, and prints a
// resume command that, run as printed, gives the result of an
// uninterrupted run.
func TestSignalStopsAtBatchBoundary(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes")
	}
	bin := applinkBinary(t)
	root := t.TempDir()
	dataA, dataB := filepath.Join(root, "A"), filepath.Join(root, "B")
	opt := demogen.Options{Calls: 60000, BDFields: 12, Seed: 11}
	if _, err := demogen.Generate(dataA, opt); err != nil {
		t.Fatal(err)
	}
	mutateSnapshot(t, dataA, dataB)
	type variant struct {
		kind     string // first | incremental
		postgres bool
	}
	name := func(v variant) string {
		if v.postgres {
			return v.kind + "-postgres"
		}
		return v.kind
	}
	// newSpec makes a spec on data A (its own PostgreSQL schema when pg);
	// env is what its runs need.
	newSpec := func(t *testing.T, root, name string, pg bool) (dir string, env []string, use func(string)) {
		dir, use = linkedSpec(t, root, name, dataA, opt)
		if pg {
			dsn := statetest.DSN(t)
			if err := os.WriteFile(filepath.Join(dir, "state.hcl"), []byte(pgStateBlock(dsn)), 0o644); err != nil {
				t.Fatal(err)
			}
			env = []string{"APPLINK_STATE_DSN=" + dsn}
		}
		return dir, env, use
	}
	// snap is what the spec's runs left: with PostgreSQL state the calls
	// wait in the queue (no worker runs here), so the outbox holds what
	// the runs wrote themselves.
	snap := func(t *testing.T, dir string, env []string) string {
		if env == nil {
			return outboxFilesOf(t, dir) + stateOf(t, dir)
		}
		return pgSnapshot(t, dir, env)
	}

	variants := []variant{{"first", false}, {"incremental", false}, {"incremental", true}}
	want := map[variant]string{}
	batches := map[variant]int{}
	// The references: a first run on A, then an incremental run on B, per
	// state backend.
	for _, pg := range []bool{false, true} {
		ref, env, refUse := newSpec(t, root, fmt.Sprintf("reference-%v", pg), pg)
		for _, kind := range []string{"first", "incremental"} {
			if kind == "incremental" {
				refUse(dataB)
			}
			tr := filepath.Join(root, fmt.Sprintf("reference-%v-%s.trace", pg, kind))
			if out, _, err := traced(t, bin, ref, tr, "", env...); err != nil {
				t.Fatalf("reference: %v\n%s", err, out)
			}
			want[variant{kind, pg}] = snap(t, ref, env)
			batches[variant{kind, pg}] = countOf(traceOf(t, tr), killpoint.BatchWritten)
		}
	}

	for _, v := range variants {
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
			t.Run(name(v)+"/"+sig.String(), func(t *testing.T) {
				sub := t.TempDir()
				dir, env, use := newSpec(t, sub, "spec", v.postgres)
				before := ""
				if v.kind == "incremental" {
					if out, _, err := traced(t, bin, dir, filepath.Join(sub, "base.trace"), "", env...); err != nil {
						t.Fatalf("base run: %v\n%s", err, out)
					}
					use(dataB)
					before = snap(t, dir, env)
				}
				trace := filepath.Join(sub, "signalled.trace")
				cmd := exec.Command(bin, "run", "--quiet", dir)
				cmd.Env = append(append(os.Environ(), "CI=", killpoint.EnvTrace+"="+trace), env...)
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				// Signal once the run has written a few batches.
				const after = 3
				atSignal := 0
				deadline := time.Now().Add(60 * time.Second)
				for atSignal < after {
					if time.Now().After(deadline) || cmd.Process.Signal(syscall.Signal(0)) != nil {
						cmd.Process.Kill()
						cmd.Wait()
						t.Fatalf("the run never wrote %d batches:\n%s", after, stderr.String())
					}
					time.Sleep(time.Millisecond)
					atSignal = countOf(traceOf(t, trace), killpoint.BatchWritten)
				}
				if err := cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
				err := cmd.Wait()
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() != exitFindings {
					t.Fatalf("exit: %v, want status 1 (stopped, not killed)\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
				}
				tr := traceOf(t, trace)
				written := countOf(tr, killpoint.BatchWritten)
				t.Logf("signalled after batch %d; stopped after batch %d of %d", atSignal, written, batches[v])
				// The signal reaches the run's context asynchronously; the
				// writer stops at the first boundary after that, so a loaded
				// machine lets a few more batches through, never the pool
				// (8 batches in flight) or the rest of the run.
				if written > atSignal+8 || written >= batches[v] {
					t.Errorf("signalled after batch %d, the run went on to batch %d of %d: it did not stop at the next batch boundary", atSignal, written, batches[v])
				}
				if slices.Contains(tr, killpoint.CommitBegin) {
					t.Errorf("the interrupted run began its commit: %v", tr[len(tr)-3:])
				}
				if !strings.Contains(stderr.String(), "nothing was committed") {
					t.Errorf("stderr does not say nothing was committed:\n%s", stderr.String())
				}
				if v.kind == "first" {
					if _, err := os.Stat(filepath.Join(dir, ".applink", "outbox", "calls.jsonl")); !os.IsNotExist(err) {
						t.Errorf("the interrupted first run left an outbox: %v", err)
					}
					if !v.postgres {
						if h := historyOf(t, dir); h != "" {
							t.Errorf("the interrupted run is in the history:\n%s", h)
						}
					}
				} else if got := snap(t, dir, env); got != before {
					t.Errorf("the interrupted incremental run changed the state or the outbox:\n%s", diffSnap(before, got))
				}
				if uncommitted(dir) {
					t.Error("the interrupted run left its changes file behind")
				}
				m := regexp.MustCompile(`(?m)^resume with: (applink run .+)$`).FindStringSubmatch(stderr.String())
				if m == nil {
					t.Fatalf("no resume command in:\n%s", stderr.String())
				}
				resume := exec.Command(bin, strings.Fields(strings.TrimPrefix(m[1], "applink "))...)
				resume.Env = append(os.Environ(), env...)
				if out, err := resume.CombinedOutput(); err != nil {
					t.Fatalf("the printed resume command %q: %v\n%s", m[1], err, out)
				}
				if got := snap(t, dir, env); got != want[v] {
					t.Errorf("after the resume: %s", diffSnap(want[v], got))
				}
			})
		}
	}
}

// countOf counts a point in a trace.
func countOf(trace []string, point string) int {
	n := 0
	for _, p := range trace {
		if p == point {
			n++
		}
	}
	return n
}

// lifecycle runs one spec through the workspace on a simulated clock.
type lifecycle struct {
	t      *testing.T
	dir    string
	ws     *workspace.Workspace
	dataA  string
	dataB  string
	link   string
	closed bool
}

func newLifecycle(t *testing.T, retentionDays int) *lifecycle {
	t.Helper()
	root := t.TempDir()
	l := &lifecycle{t: t, dir: filepath.Join(root, "spec"), dataA: filepath.Join(root, "A"), dataB: filepath.Join(root, "B"), link: filepath.Join(root, "data")}
	opt := demogen.Options{Calls: 400, BDFields: 5, Seed: 3}
	if _, err := demogen.Generate(l.dataA, opt); err != nil {
		t.Fatal(err)
	}
	mutateSnapshot(t, l.dataA, l.dataB)
	l.use(l.dataA)
	if err := demogen.WriteSpec(l.dir, l.link, opt); err != nil {
		t.Fatal(err)
	}
	if retentionDays > 0 {
		f, err := os.OpenFile(filepath.Join(l.dir, "staging.hcl"), os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("staging {\n  retention_days = " + strconv.Itoa(retentionDays) + "\n}\n")
		f.Close()
	}
	spec, diags := dsl.Load(l.dir)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	plan, err := engine.Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	l.ws = newWorkspace(plan, workspace.DefaultPaths(l.dir, "", ""))
	return l
}

func (l *lifecycle) use(data string) {
	os.Remove(l.link)
	if err := os.Symlink(data, l.link); err != nil {
		l.t.Fatal(err)
	}
}

// runAt runs the spec as if the clock said at.
func (l *lifecycle) runAt(at time.Time) *workspace.RunResult {
	l.t.Helper()
	l.ws.Now = func() time.Time { return at }
	r, err := l.ws.Run(context.Background(), nil)
	if err != nil {
		l.t.Fatalf("run at %s: %v", at.Format(time.DateOnly), err)
	}
	return r
}

func (l *lifecycle) staging() []state.StagedRun {
	l.t.Helper()
	st, err := duckstate.Open(context.Background(), l.ws.Paths.State)
	if err != nil {
		l.t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.Staging(context.Background())
	if err != nil {
		l.t.Fatal(err)
	}
	return runs
}

// TestStagingRetentionPrunes: a run prunes the staged data of runs older
// than the retention (their folders deleted, the index marks them purged),
// keeps the younger ones, and a restore of a pruned run says it was purged.
func TestStagingRetentionPrunes(t *testing.T) {
	l := newLifecycle(t, 30)
	day := func(d int) time.Time { return time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC).AddDate(0, 0, d) }
	first := l.runAt(day(0))
	l.use(l.dataB)
	second := l.runAt(day(20))
	if !first.Staged || !second.Staged {
		t.Fatalf("both runs sent something and are staged: %v %v", first.Staged, second.Staged)
	}
	third := l.runAt(day(40)) // nothing new; day 0 is now past 30 days, day 20 is not
	if len(third.Pruned) != 1 || third.Pruned[0] != filepath.Base(first.StageDir) {
		t.Fatalf("pruned %v, want only the first run %s", third.Pruned, filepath.Base(first.StageDir))
	}
	if _, err := os.Stat(first.StageDir); !os.IsNotExist(err) {
		t.Errorf("the pruned run's folder is still there: %v", err)
	}
	if _, err := os.Stat(second.StageDir); err != nil {
		t.Errorf("the young run's folder is gone: %v", err)
	}
	for _, r := range l.staging() {
		purged := r.PurgedAt != nil
		if purged != (r.RunID == filepath.Base(first.StageDir)) {
			t.Errorf("staging index: run %s purged=%v", r.RunID, purged)
		}
	}
	if _, err := l.ws.Restore(context.Background(), filepath.Base(first.StageDir), nil); err == nil || !strings.Contains(err.Error(), "was purged") {
		t.Errorf("restore of a pruned run: %v", err)
	}
	if res, err := l.ws.Restore(context.Background(), "latest", nil); err != nil || res.FromRun != filepath.Base(second.StageDir) || res.Calls == 0 {
		t.Errorf("restore latest: %+v %v", res, err)
	}
}

// TestPurgeBefore: `purge --before` deletes exactly the runs staged before
// the date, records it in the history, and leaves later runs restorable.
func TestPurgeBefore(t *testing.T) {
	l := newLifecycle(t, 0)
	day := func(d int) time.Time { return time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC).AddDate(0, 0, d) }
	first := l.runAt(day(0))
	l.use(l.dataB)
	second := l.runAt(day(10))
	l.ws.Now = func() time.Time { return day(12) }
	res, err := l.ws.Purge(context.Background(), workspace.PurgeRequest{Before: day(5)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Runs) != 1 || res.Runs[0] != filepath.Base(first.StageDir) {
		t.Fatalf("purged %v, want only %s", res.Runs, filepath.Base(first.StageDir))
	}
	if _, err := os.Stat(first.StageDir); !os.IsNotExist(err) {
		t.Errorf("purged folder still there: %v", err)
	}
	if _, err := l.ws.Restore(context.Background(), filepath.Base(second.StageDir), nil); err != nil {
		t.Errorf("the later run is no longer restorable: %v", err)
	}
	if h := historyOf(t, l.dir); !strings.Contains(h, "== history purge") {
		t.Errorf("the purge is not in the history:\n%s", h)
	}
	// Nothing staged before day 0: a second purge deletes nothing.
	l.ws.Now = func() time.Time { return day(13) }
	res, err = l.ws.Purge(context.Background(), workspace.PurgeRequest{Before: day(-1)})
	if err != nil || len(res.Runs) != 0 {
		t.Errorf("purge before day -1: %v %v", res.Runs, err)
	}
}
