package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/applink-dev/applink/connectors/demogen"
	"github.com/applink-dev/applink/engine/delivery"
	"github.com/applink-dev/applink/engine/killpoint"
	"github.com/applink-dev/applink/engine/state"
	"github.com/applink-dev/applink/engine/state/pgstate"
	"github.com/applink-dev/applink/engine/state/statetest"
)

// pgStateBlock makes a spec keep its state in PostgreSQL (APPLINK_STATE_DSN,
// the schema dsn names) under a key of its own: runs hold an advisory lock
// on the key, which is per database, and the tests' specs share one.
func pgStateBlock(dsn string) string {
	return fmt.Sprintf("state {\n  driver = \"postgres\"\n  dsn    = env(\"APPLINK_STATE_DSN\")\n  key    = %q\n}\n", pgKey(dsn))
}

// pgKey is the state key of the specs of a test schema: the schema's name.
func pgKey(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Query().Get("search_path") == "" {
		panic("not a test schema's DSN")
	}
	return u.Query().Get("search_path")
}

// pgState opens the spec's PostgreSQL state in the schema dsn names.
func pgState(t *testing.T, dsn string) state.Backend {
	t.Helper()
	st, err := pgstate.Open(context.Background(), dsn, pgKey(dsn), pgstate.Options{Jobs: delivery.Jobs})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// drain runs a delivery worker in this process until the state's queue is
// empty: with PostgreSQL state the run queues its calls, and the outbox
// holds them once they are delivered.
func drain(t *testing.T, dsn string) {
	t.Helper()
	st := pgState(t, dsn)
	defer st.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- delivery.Run(ctx, delivery.Config{DSN: dsn, Registry: registry(), PollEvery: 50 * time.Millisecond})
	}()
	waitQueueDrained(t, st, 120*time.Second, &syncBuffer{})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// pgSnapshotOf renders what a PostgreSQL-state spec's runs and deliveries
// left: the outbox files (their lines sorted: deliveries come in any order),
// the ledger with fingerprints, the watermarks, the history and the staged
// copies.
func pgSnapshotOf(t *testing.T, dir, dsn string) string {
	t.Helper()
	var b strings.Builder
	for _, f := range []string{"agents.csv", "calls.jsonl", "ledger.csv"} {
		lines := sortedFile(t, filepath.Join(dir, ".applink", "outbox", f))
		fmt.Fprintf(&b, "== %s sorted: %d lines sha256 %x\n", f, strings.Count(lines, "\n")+1, sha256.Sum256([]byte(lines)))
	}
	st := pgState(t, dsn)
	defer st.Close()
	b.WriteString(backendText(t, st))
	b.WriteString(stagingText(t, st))
	return b.String()
}

// TestKillPointsPostgres is TestKillPoints with the PostgreSQL state: the
// run queues its calls for delivery workers in its commit. It kills a first
// and an incremental run at every kill point they reach, resumes, lets a
// worker deliver the queue, and compares with an uninterrupted run (outbox
// lines, ledger with fingerprints, watermarks, history, staged copies),
// checks nothing is left behind, and that one more run sends nothing.
func TestKillPointsPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes at each kill point")
	}
	statetest.BaseDSN(t) // skips, and says so to CI, without PostgreSQL
	bin := applinkBinary(t)
	root := t.TempDir()
	opt := demogen.Options{Calls: 120, BDFields: 4, Seed: 13}
	dataA, dataB := filepath.Join(root, "dataA"), filepath.Join(root, "dataB")
	if _, err := demogen.Generate(dataA, opt); err != nil {
		t.Fatal(err)
	}
	mutateSnapshot(t, dataA, dataB)
	newSpec := func(t *testing.T, root, name string) (dir, dsn string, use func(string)) {
		dir, use = linkedSpec(t, root, name, dataA, opt)
		dsn = statetest.DSN(t)
		if err := os.WriteFile(filepath.Join(dir, "state.hcl"), []byte(pgStateBlock(dsn)), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir, dsn, use
	}
	envOf := func(dsn string) []string { return []string{"APPLINK_STATE_DSN=" + dsn} }

	type reference struct {
		snap  string
		trace []string
	}
	refs := map[string]*reference{}
	for _, kind := range []string{"first", "incremental"} {
		ref, dsn, use := newSpec(t, root, "reference-"+kind)
		if kind == "incremental" {
			if out, _, err := traced(t, bin, ref, filepath.Join(root, "base.trace"), "", envOf(dsn)...); err != nil {
				t.Fatalf("reference base run: %v\n%s", err, out)
			}
			drain(t, dsn)
			use(dataB)
		}
		tr := filepath.Join(root, "reference-"+kind+".trace")
		if out, _, err := traced(t, bin, ref, tr, "", envOf(dsn)...); err != nil {
			t.Fatalf("reference %s run: %v\n%s", kind, err, out)
		}
		drain(t, dsn)
		refs[kind] = &reference{snap: pgSnapshotOf(t, ref, dsn), trace: traceOf(t, tr)}
	}
	// The points of the queue's commit must be reached here; the others
	// are TestKillPoints's and TestKillPointsDelivery's to require.
	requireEveryPoint(t, func(p killpoint.Point) bool { return p.Queued && !p.Delivery }, refs["first"].trace, refs["incremental"].trace)

	for _, kind := range []string{"first", "incremental"} {
		want := refs[kind]
		cases := killCases(want.trace)
		t.Logf("%s run: %d kills at %v", kind, len(cases), cases)
		for _, kc := range cases {
			t.Run(kind+"/"+kc.String(), func(t *testing.T) {
				t.Parallel()
				sub := t.TempDir()
				dir, dsn, use := newSpec(t, sub, "spec")
				env := envOf(dsn)
				if kind == "incremental" {
					if out, _, err := traced(t, bin, dir, filepath.Join(sub, "base.trace"), "", env...); err != nil {
						t.Fatalf("base run: %v\n%s", err, out)
					}
					drain(t, dsn)
					use(dataB)
				}
				imported := func() []string {
					st := pgState(t, dsn)
					defer st.Close()
					return importedIn(t, st)
				}
				killAndResumeWith(t, bin, dir, sub, kc, imported, func() map[string]bool { return outboxCalls(t, dir) }, env...)
				drain(t, dsn)
				if got := withoutNoOpRunAnywhere(pgSnapshotOf(t, dir, dsn), kc.committed); got != want.snap {
					t.Errorf("after a kill at %s, a resume and the deliveries, the result differs from an uninterrupted run:\n%s", kc, diffSnap(want.snap, got))
				}
				st := pgState(t, dsn)
				if l := leftoversOf(t, dir, st); len(l) > 0 {
					t.Errorf("the resume left the killed run's files behind: %v", l)
				}
				st.Close()
				if out, _, err := traced(t, bin, dir, filepath.Join(sub, "again.trace"), "", env...); err != nil || !strings.Contains(out, "sent: nothing") {
					t.Errorf("the run after the resume sent something (%v):\n%s", err, out)
				}
			})
		}
	}
}

// withoutNoOpRunAnywhere is withoutNoOpRun for a snapshot whose history is
// followed by other lines (the staged copies): it drops the last history
// line that sent nothing.
func withoutNoOpRunAnywhere(snap string, committed bool) string {
	if !committed {
		return snap
	}
	lines := strings.SplitAfter(snap, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "== history run:") {
			if strings.Contains(lines[i], "sent 0 agents 0 calls") {
				return strings.Join(append(lines[:i:i], lines[i+1:]...), "")
			}
			break
		}
	}
	return snap
}

// TestCrashResumePostgres is TestCrashResume with the PostgreSQL state:
// SIGKILLs at random moments (0.3–1.1× the measured working time) of first
// and incremental runs, each classified by its trace; after the resume the
// state (ledger with fingerprints, watermarks, history, the queue) and what
// the runs wrote to the outbox equal an uninterrupted run's, and one more
// run sends nothing. (The queued calls are not delivered here: the kill
// points' test delivers them.)
func TestCrashResumePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes")
	}
	statetest.BaseDSN(t)
	bin := applinkBinary(t)
	root := t.TempDir()
	opt := demogen.Options{Calls: 10000, BDFields: 8, Seed: 17}
	dataA, dataB := filepath.Join(root, "dataA"), filepath.Join(root, "dataB")
	if _, err := demogen.Generate(dataA, opt); err != nil {
		t.Fatal(err)
	}
	mutateSnapshot(t, dataA, dataB)
	newSpec := func(name string) (dir string, env []string, use func(string)) {
		dir, use = linkedSpec(t, root, name, dataA, opt)
		dsn := statetest.DSN(t)
		if err := os.WriteFile(filepath.Join(dir, "state.hcl"), []byte(pgStateBlock(dsn)), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir, []string{"APPLINK_STATE_DSN=" + dsn}, use
	}
	traces := 0
	run := func(dir string, env []string) (*exec.Cmd, string) {
		traces++
		trace := filepath.Join(root, fmt.Sprintf("run%03d.trace", traces))
		cmd := exec.Command(bin, "run", "--quiet", dir)
		cmd.Env = append(append(os.Environ(), "CI=", killpoint.EnvTrace+"="+trace), env...)
		return cmd, trace
	}
	snap := func(dir string, env []string) string {
		return pgSnapshot(t, dir, env)
	}

	ref, refEnv, refUse := newSpec("reference")
	work, want := map[string]time.Duration{}, map[string]string{}
	cmd, _ := run(ref, refEnv)
	_, work["first"] = timedRun(t, cmd, ref)
	want["first"] = snap(ref, refEnv)
	refUse(dataB)
	cmd, _ = run(ref, refEnv)
	_, work["incremental"] = timedRun(t, cmd, ref)
	want["incremental"] = snap(ref, refEnv)

	rng := rand.New(rand.NewPCG(3, 4))
	const kills = 12
	landed := map[string]int{}
	for k := range kills {
		kind := []string{"first", "incremental"}[k%2]
		dir, env, use := newSpec(fmt.Sprintf("k%02d", k))
		runsBefore := 0
		if kind == "incremental" {
			runsBefore = 1
			cmd, _ := run(dir, env)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("base run: %v\n%s", err, out)
			}
			use(dataB)
		}
		cmd, trace := run(dir, env)
		w := work[kind]
		killed, delay := killWhileWorking(t, cmd, dir, fmt.Sprintf("kill %d: the %s run", k, kind), w, rng)
		tr := traceOf(t, trace)
		where := landing(killed, tr)
		landed[where]++
		// Whether the state committed is read from the state, not the
		// trace: a kill between the commit and its trace line is possible.
		st := pgState(t, strings.TrimPrefix(env[0], "APPLINK_STATE_DSN="))
		committed := runsIn(historyOfStore(t, st)) > runsBefore
		st.Close()
		t.Logf("kill %d (%s run, %s into ~%s of work): %s (last point reached: %s)", k, kind, delay.Round(time.Millisecond), w.Round(time.Millisecond), where, lastOf(tr))
		resume, _ := run(dir, env)
		out, resumed := timedRun(t, resume, dir)
		switch {
		case !committed:
			work[kind] = resumed
		case delay < w:
			work[kind] = delay
		}
		if sentNothing := strings.Contains(out, "sent: nothing"); sentNothing != committed {
			t.Errorf("kill %d (%s, state committed: %v): the resume sent nothing: %v\n%s", k, where, committed, sentNothing, out)
		}
		if got := withoutNoOpRun(snap(dir, env), committed); got != want[kind] {
			t.Errorf("kill %d (%s run, %s): result differs from an uninterrupted run:\n%s\nresume output:\n%s", k, kind, where, diffSnap(want[kind], got), out)
		}
		again, _ := run(dir, env)
		if out, err := again.CombinedOutput(); err != nil || !strings.Contains(string(out), "sent: nothing") {
			t.Errorf("kill %d: the run after the resume sent something (%v):\n%s", k, err, out)
		}
	}
	t.Logf("of %d kills: %d before the commit, %d inside it, %d after it", kills, landed[landedBefore], landed[landedInside], landed[landedAfter])
	if landed[landedBefore]+landed[landedInside] < kills/3 {
		t.Errorf("only %d of %d kills landed before the commit ended: the test proves too little", landed[landedBefore]+landed[landedInside], kills)
	}
}

// pgSnapshot is what a spec's runs left with PostgreSQL state (env[0] is
// its APPLINK_STATE_DSN): the outbox files' hashes, the queue without the
// oldest row's time (it differs by design) and the state's contents.
func pgSnapshot(t *testing.T, dir string, env []string) string {
	t.Helper()
	var b strings.Builder
	for _, f := range []string{"agents.csv", "calls.jsonl", "ledger.csv"} {
		if data, err := os.ReadFile(filepath.Join(dir, ".applink", "outbox", f)); err == nil {
			fmt.Fprintf(&b, "== %s sha256 %x\n", f, sha256.Sum256(data))
		}
	}
	st := pgState(t, strings.TrimPrefix(env[0], "APPLINK_STATE_DSN="))
	defer st.Close()
	q, err := st.Queue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	q.Oldest = time.Time{} // when the oldest row was queued: differs by design
	fmt.Fprintf(&b, "== queue %+v\n", q)
	return b.String() + backendText(t, st)
}
