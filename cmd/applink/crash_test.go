package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/applink-dev/applink/connectors/demogen"
	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/killpoint"
	"github.com/applink-dev/applink/engine/state"
	"github.com/applink-dev/applink/engine/state/duckstate"
)

// applinkBinary makes the test binary callable as `applink` (testscript.Main
// dispatches on the program name) and returns its path.
func applinkBinary(t testing.TB) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "applink")
	if err := os.Symlink(self, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestCrashResume SIGKILLs real `applink run` processes at random moments
// of their working time, on first runs (empty state) and on incremental
// runs (an existing outbox and state, a source with new and changed calls),
// then runs again and checks that the outbox, the state ledger with its
// fingerprints, the watermarks and the run history equal those of
// uninterrupted runs, and that one more run sends nothing. The delays are
// drawn over 0.3–1.1× the measured working time, so they reach the commit
// and beyond; every run is traced (engine/killpoint), and each kill is
// classified by where it landed: before the commit (no commit-begin in the
// trace), inside it (commit-begin, not run-committed) or after it. Too few
// kills inside the commit, or before it, is a failure of the test itself.
func TestCrashResume(t *testing.T) {
	if testing.Short() {
		t.Skip("kills 20 child processes")
	}
	bin := applinkBinary(t)
	root := t.TempDir()
	dataA := filepath.Join(root, "dataA")
	opt := demogen.Options{Calls: 30000, BDFields: 12, Seed: 7}
	if _, err := demogen.Generate(dataA, opt); err != nil {
		t.Fatal(err)
	}
	dataB := filepath.Join(root, "dataB")
	newCalls, changedCalls := mutateSnapshot(t, dataA, dataB)
	// Every spec reads its data through a symlink, so one spec moves from
	// the first snapshot to the second by retargeting the link.
	spec := func(name string) (dir string, use func(data string)) {
		return linkedSpec(t, root, name, dataA, opt)
	}
	run := func(dir, trace string) *exec.Cmd {
		cmd := exec.Command(bin, "run", "--quiet", dir)
		cmd.Env = append(os.Environ(), "CI=", killpoint.EnvTrace+"="+trace)
		return cmd
	}
	traces := 0
	newTrace := func() string {
		traces++
		return filepath.Join(root, fmt.Sprintf("run%03d.trace", traces))
	}
	mustRun := func(dir, what string) string {
		out, err := run(dir, newTrace()).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", what, err, out)
		}
		return string(out)
	}

	// The references: a first run on A; then an incremental run on B.
	ref, refUse := spec("reference")
	// The working time of each kind of run, measured on every run that
	// worked to its end (the references and the resumes that redid a run),
	// and cut to the delay of a kill that came after the run had ended: the
	// delays are drawn over 0.3–1.1× the latest measure.
	work := map[string]time.Duration{}
	_, work["first"] = timedRun(t, run(ref, newTrace()), ref)
	wantFirst := snapshotOf(t, ref)
	refUse(dataB)
	_, work["incremental"] = timedRun(t, run(ref, newTrace()), ref)
	wantIncr := snapshotOf(t, ref)
	out := mustRun(ref, "reference third run")
	if !strings.Contains(out, "sent: nothing") {
		t.Fatalf("reference third run sent something:\n%s", out)
	}
	// The incremental reference must really have new and changed calls.
	// (Changing an excluded call's duration may not change its verdict, so
	// fewer calls than were edited count as changed; some must.)
	hist := historyOf(t, ref)
	m := regexp.MustCompile(`(?m)^== history run: rows \d+, calls new (\d+) changed (\d+)`).FindAllStringSubmatch(hist, -1)
	if len(m) < 2 || m[1][1] != fmt.Sprint(newCalls) || m[1][2] == "0" {
		t.Fatalf("incremental reference: want %d new calls and some of the %d edited ones changed:\n%s", newCalls, changedCalls, hist)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	const kills = 20
	landed := map[string]int{}
	for k := range kills {
		incremental := k%2 == 1
		dir, use := spec(fmt.Sprintf("k%02d", k))
		want, kind := wantFirst, "first"
		if incremental {
			mustRun(dir, "the base run of an incremental kill")
			use(dataB)
			want, kind = wantIncr, "incremental"
		}
		runsBefore := 0
		if incremental {
			runsBefore = 1
		}
		// Wait until the run works (its changes file exists), then kill it
		// at a random point of 0.3–1.1× its working time.
		trace := newTrace()
		cmd := run(dir, trace)
		w := work[kind]
		killed, delay := killWhileWorking(t, cmd, dir, fmt.Sprintf("kill %d: the %s run", k, kind), w, rng)
		tr := traceOf(t, trace)
		where := landing(killed, tr)
		landed[where]++
		// Whether the state committed is read from the state, not the
		// trace: a kill between the commit and its trace line is possible.
		committed := runsIn(historyOf(t, dir)) > runsBefore
		t.Logf("kill %d (%s run, %s into ~%s of work): %s (last point reached: %s)", k, kind, delay.Round(time.Millisecond), w.Round(time.Millisecond), where, lastOf(tr))
		// Resume: the result equals the uninterrupted run's. (When the
		// state had committed, the resume is one more run that sent
		// nothing: its history line is the only difference.)
		out, resumed := timedRun(t, run(dir, newTrace()), dir)
		switch {
		case !committed:
			work[kind] = resumed // the resume redid the whole run
		case delay < w:
			work[kind] = delay // the run committed sooner than measured (less load)
		}
		if sentNothing := strings.Contains(out, "sent: nothing"); sentNothing != committed {
			t.Errorf("kill %d (%s, state committed: %v): the resume sent nothing: %v\n%s", k, where, committed, sentNothing, out)
		}
		if got := withoutNoOpRun(snapshotOf(t, dir), committed); got != want {
			t.Errorf("kill %d (%s run, %s into ~%s of work, %s): result differs from an uninterrupted run:\n%s\nresume output:\n%s",
				k, kind, delay, w, where, diffSnap(want, got), out)
		}
		if l := leftovers(t, dir); len(l) > 0 {
			t.Errorf("kill %d (%s): the resume left the killed run's files behind: %v", k, where, l)
		}
		// And one more run sends nothing.
		if out := mustRun(dir, fmt.Sprintf("kill %d: run after resume", k)); !strings.Contains(out, "sent: nothing") {
			t.Errorf("kill %d: the run after the resume sent something:\n%s", k, out)
		}
	}
	t.Logf("of %d kills: %d before the commit, %d inside it, %d after it", kills, landed[landedBefore], landed[landedInside], landed[landedAfter])
	// The commit is what random kills must reach (issue 20: the old delays
	// never did). Before the commit is only the first 5–15 % of the 0.3–1.1×
	// range (the reading ends at 35–45 % of the work), about 2.5 of 20 kills
	// on average, so no count of them can be required without flaking; the
	// kill points at every batch (TestKillPoints) and the signal test cover
	// that part deterministically.
	if landed[landedInside] < 3 {
		t.Errorf("kills: %d before the commit, %d inside it: the test proves too little (want ≥ 3 inside)", landed[landedBefore], landed[landedInside])
	}
}

// runsIn counts the runs in a rendered history.
func runsIn(history string) int { return strings.Count(history, "== history run:") }

// Where a kill landed.
const (
	landedBefore = "before the commit"
	landedInside = "inside the commit"
	landedAfter  = "after the commit"
)

// landing classifies a kill by the trace of the run it killed: before the
// commit (the run had not reached commit-begin), inside it (commit-begin but
// not run-committed), after it (run-committed, or the run was not killed).
func landing(killed bool, trace []string) string {
	switch {
	case !killed || slices.Contains(trace, killpoint.RunCommitted):
		return landedAfter
	case slices.Contains(trace, killpoint.CommitBegin):
		return landedInside
	}
	return landedBefore
}

func lastOf(trace []string) string {
	if len(trace) == 0 {
		return "none"
	}
	return trace[len(trace)-1]
}

// timedRun runs cmd to completion and returns its output and how long it
// worked: from its changes file appearing to its exit.
func timedRun(t *testing.T, cmd *exec.Cmd, dir string) (string, time.Duration) {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// A killed run's changes file may still be there (the run removes it
	// first thing): wait for this run's own.
	before := changesFiles(dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if fresh(changesFiles(dir), before) {
			break
		}
		if time.Now().After(deadline) || cmd.Process.Signal(syscall.Signal(0)) != nil {
			cmd.Wait()
			t.Fatalf("the run never started working:\n%s", out.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	start := time.Now()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	return out.String(), time.Since(start)
}

// waitWorking polls until the run in dir has begun (its uncommitted changes
// file exists) or the process ended.
func waitWorking(dir string, cmd *exec.Cmd, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if uncommitted(dir) {
			return true
		}
		// Signal 0 on a zombie still succeeds; a process that ended before
		// working would make us wait out the timeout, which fails the test.
		if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return false
}

// changesFiles lists the changes files in a spec's staging area.
func changesFiles(dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, ".applink", "staging", "*", "ledger-changes.csv"))
	return m
}

// fresh reports whether now holds a file that before did not.
func fresh(now, before []string) bool {
	for _, f := range now {
		if !slices.Contains(before, f) {
			return true
		}
	}
	return false
}

// uncommitted reports whether a run's changes file exists in the spec's
// staging area: created when a run begins, removed once its state commits.
func uncommitted(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, ".applink", "staging", "*", "ledger-changes.csv"))
	return len(m) > 0
}

// mutateSnapshot copies snapshot a into b with every 9th call's duration
// changed (changed rows) and 500 new calls appended with their business
// data (new rows), keeping business data in calls order.
func mutateSnapshot(t *testing.T, a, b string) (newCalls, changed int) {
	t.Helper()
	if err := os.MkdirAll(b, 0o755); err != nil {
		t.Fatal(err)
	}
	agents, err := os.ReadFile(filepath.Join(a, "agents.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b, "agents.csv"), agents, 0o644); err != nil {
		t.Fatal(err)
	}
	calls := readLines(t, filepath.Join(a, "calls.csv"))
	bd := readLines(t, filepath.Join(a, "business_data.csv"))
	var out []string
	out = append(out, calls[0])
	var copied []string
	for i, line := range calls[1:] {
		f := strings.Split(line, ",")
		if i%9 == 4 {
			f[5] += "1" // duration_ms: a different number
			changed++
		}
		out = append(out, strings.Join(f, ","))
		if len(copied) < 500 && i%7 == 3 {
			copied = append(copied, line)
		}
	}
	bdOut := append([]string(nil), bd...)
	byCall := map[string][]string{}
	for _, line := range bd[1:] {
		id, _, _ := strings.Cut(line, ",")
		byCall[id] = append(byCall[id], line)
	}
	for _, line := range copied {
		id, rest, _ := strings.Cut(line, ",")
		out = append(out, "N"+id+","+rest)
		for _, l := range byCall[id] {
			bdOut = append(bdOut, "N"+l)
		}
		newCalls++
	}
	writeLines(t, filepath.Join(b, "calls.csv"), out)
	writeLines(t, filepath.Join(b, "business_data.csv"), bdOut)
	return newCalls, changed
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

func writeLines(t *testing.T, path string, lines []string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// snapshotOf renders what a spec's runs left behind as one comparable text:
// the outbox files, the state ledger with fingerprints, the watermarks and
// the run history (without run ids and times, which differ by design).
func snapshotOf(t *testing.T, dir string) string {
	t.Helper()
	return outboxFilesOf(t, dir) + stateOf(t, dir)
}

// outboxFilesOf renders a spec's outbox files: lines and hash of each.
func outboxFilesOf(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	for _, f := range []string{"agents.csv", "calls.jsonl", "ledger.csv"} {
		data, err := os.ReadFile(filepath.Join(dir, ".applink", "outbox", f))
		if err != nil {
			t.Fatalf("outbox: %v", err)
		}
		fmt.Fprintf(&b, "== %s %d lines sha256 %x\n", f, bytes.Count(data, []byte{'\n'}), sha256.Sum256(data))
	}
	return b.String()
}

// stateOf renders what a spec's runs left in its state: the ledger with
// fingerprints, the watermarks and the run history (without run ids and
// times, which differ by design).
func stateOf(t *testing.T, dir string) string {
	t.Helper()
	st := duckState(t, dir)
	defer st.Close()
	return backendText(t, st)
}

// duckState opens a spec's DuckDB state file.
func duckState(t *testing.T, dir string) state.Backend {
	t.Helper()
	st, err := duckstate.Open(context.Background(), filepath.Join(dir, ".applink", "state.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// backendText is stateOf for any state: the ledger with fingerprints, the
// watermarks and the run history.
func backendText(t *testing.T, st state.Backend) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(ledgerHash(t, st, true))
	wms, err := st.Watermarks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var srcs []string
	for s := range wms {
		srcs = append(srcs, s)
	}
	sort.Strings(srcs)
	for _, s := range srcs {
		fmt.Fprintf(&b, "== watermark %s %s %s\n", s, wms[s].StartTime.UTC().Format(time.RFC3339Nano), wms[s].CallID)
	}
	b.WriteString(historyOfStore(t, st))
	return b.String()
}

// outboxAndLedger renders a spec's outbox files and its state ledger (with
// the fingerprints when withFP) as one comparable text.
func outboxAndLedger(t *testing.T, dir string, withFP bool) string {
	t.Helper()
	return outboxFilesOf(t, dir) + ledgerOf(t, dir, withFP)
}

// ledgerOf renders a spec's state ledger (with the fingerprints when
// withFP) as one comparable line.
func ledgerOf(t *testing.T, dir string, withFP bool) string {
	t.Helper()
	st := duckState(t, dir)
	defer st.Close()
	return ledgerHash(t, st, withFP)
}

// ledgerHash is ledgerOf for any state.
func ledgerHash(t *testing.T, st state.Backend, withFP bool) string {
	t.Helper()
	h := sha256.New()
	n := 0
	err := st.Ledger(context.Background(), func(r state.LedgerRow) error {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%v", r.Entity, r.ID, r.State, r.Reason, r.Active)
		if withFP {
			fmt.Fprintf(h, "\x00%x", r.FP)
		}
		h.Write([]byte{'\n'})
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	what := "rows"
	if withFP {
		what = "rows (fingerprints included)"
	}
	return fmt.Sprintf("== state ledger %d %s sha256 %x\n", n, what, h.Sum(nil))
}

func historyOf(t *testing.T, dir string) string {
	t.Helper()
	st := duckState(t, dir)
	defer st.Close()
	return historyOfStore(t, st)
}

// historyOfStore renders the run history: per run, its kind and what it
// counted and sent. Killed runs committed nothing, so they must not appear.
func historyOfStore(t *testing.T, st state.Backend) string {
	t.Helper()
	runs, err := st.Runs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, r := range runs {
		if r.Kind != "run" { // restore and purge events: their kind is enough here
			fmt.Fprintf(&b, "== history %s\n", r.Kind)
			continue
		}
		s := r.Record
		fmt.Fprintf(&b, "== history %s: rows %d, calls new %d changed %d unchanged %d, sent %d agents %d calls, %s\n",
			r.Kind, s.SourceRows, s.CallDiff.New, s.CallDiff.Changed, s.CallDiff.Unchanged, s.Sent.Agents, s.Sent.Calls, tallyText(stateReasons(&s.Calls)))
	}
	return b.String()
}

// stateReasons is a tally by "state/reason".
func stateReasons(t *engine.Tally) map[string]int {
	m := map[string]int{}
	for k, n := range t.By {
		m[k.State+"/"+k.Reason] = n
	}
	return m
}

func tallyText(m map[string]int) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func diffSnap(want, got string) string { return "want:\n" + want + "got:\n" + got }

// killWhileWorking starts cmd, waits until its run works (its changes file
// exists), then SIGKILLs it at a random point of 0.3–1.1× its working time
// w; it reports whether the run died by the signal and how long into its
// work the kill came (what names the run in a failure).
func killWhileWorking(t *testing.T, cmd *exec.Cmd, dir, what string, w time.Duration, rng *rand.Rand) (killed bool, delay time.Duration) {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !waitWorking(dir, cmd, 30*time.Second) {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("%s never started working:\n%s", what, stderr.String())
	}
	delay = w*3/10 + time.Duration(rng.Int64N(int64(w)*8/10))
	time.Sleep(delay)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	err := cmd.Wait()
	var exit *exec.ExitError
	return errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signaled(), delay
}
