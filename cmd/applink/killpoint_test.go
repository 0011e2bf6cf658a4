package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/applink-dev/applink/connectors/cxone/cxonetest"
	"github.com/applink-dev/applink/connectors/demogen"
	"github.com/applink-dev/applink/engine/killpoint"
	"github.com/applink-dev/applink/engine/state"
)

// linkedSpec writes a demo spec under root/name that reads its data through
// a symlink, pointing at data; use retargets the link (a first run on one
// snapshot, an incremental run on another).
func linkedSpec(t *testing.T, root, name, data string, opt demogen.Options) (dir string, use func(data string)) {
	t.Helper()
	dir = filepath.Join(root, name, "spec")
	link := filepath.Join(root, name, "data")
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	use = func(data string) {
		os.Remove(link)
		if err := os.Symlink(data, link); err != nil {
			t.Fatal(err)
		}
	}
	use(data)
	if err := demogen.WriteSpec(dir, link, opt); err != nil {
		t.Fatal(err)
	}
	return dir, use
}

// traced runs `applink run --quiet dir` with the kill points traced into
// trace (and armed at kill, when not ""); it returns the output and whether
// the process died of SIGKILL.
func traced(t *testing.T, bin, dir, trace, kill string, env ...string) (out string, killed bool, err error) {
	t.Helper()
	cmd := exec.Command(bin, "run", "--quiet", dir)
	cmd.Env = append(os.Environ(), "CI=", killpoint.EnvTrace+"="+trace)
	if kill != "" {
		cmd.Env = append(cmd.Env, killpoint.EnvKill+"="+kill)
	}
	cmd.Env = append(cmd.Env, env...)
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		ws := exit.Sys().(syscall.WaitStatus)
		killed = ws.Signaled() && ws.Signal() == syscall.SIGKILL
	}
	return b.String(), killed, err
}

// traceOf reads a kill-point trace: the points reached, in order.
func traceOf(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Fields(strings.ReplaceAll(string(data), "kill ", "kill:"))
}

// killCase is one kill at one point: its occurrence in the run, and whether
// the state was committed there (the resume then sends nothing).
type killCase struct {
	point     string
	nth       int
	committed bool
}

func (k killCase) String() string { return fmt.Sprintf("%s:%d", k.point, k.nth) }

// killCases turns a reference run's trace into the kills to make: every
// point it reached, at its first and last occurrence and, for points
// reached at most three times (each outbox file, say), at every one.
func killCases(trace []string) []killCase {
	count := map[string]int{}
	for _, p := range trace {
		count[p]++
	}
	var out []killCase
	seen := map[string]int{}
	committed := false
	for _, p := range trace {
		seen[p]++
		n := seen[p]
		if n == 1 || n == count[p] || count[p] <= 3 {
			out = append(out, killCase{point: p, nth: n, committed: committed})
		}
		if p == killpoint.StateCommitted {
			committed = true
			out[len(out)-1].committed = true
		}
	}
	return out
}

// requireEveryPoint fails unless the traces reached every declared point
// that mine says is this test's.
func requireEveryPoint(t *testing.T, mine func(killpoint.Point) bool, traces ...[]string) {
	t.Helper()
	for _, p := range killpoint.Points {
		if !mine(p) {
			continue
		}
		reached := false
		for _, tr := range traces {
			reached = reached || slices.Contains(tr, p.Name)
		}
		if !reached {
			t.Errorf("kill point %s is never reached by these runs: it has no kill test", p.Name)
		}
	}
}

// leftovers lists what a resumed run must have cleaned: crashed runs'
// folders and temp files in the outbox, staging folders the state does not
// know, changes files.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	st := duckState(t, dir)
	defer st.Close()
	return leftoversOf(t, dir, st)
}

// leftoversOf is leftovers for any state.
func leftoversOf(t *testing.T, dir string, st state.Backend) []string {
	t.Helper()
	var out []string
	outbox := filepath.Join(dir, ".applink", "outbox")
	entries, _ := os.ReadDir(outbox)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			out = append(out, filepath.Join("outbox", e.Name()))
		}
	}
	runs, err := st.Staging(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, r := range runs {
		known[filepath.Base(r.Path)] = r.PurgedAt == nil
	}
	staged, _ := os.ReadDir(filepath.Join(dir, ".applink", "staging"))
	for _, e := range staged {
		if !known[e.Name()] {
			out = append(out, filepath.Join("staging", e.Name()))
		}
	}
	if uncommitted(dir) {
		out = append(out, "a changes file")
	}
	return out
}

// stagingOf renders the staging index and the staged files' contents (run
// ids aside): each run's copy of what it sent must survive a kill as an
// uninterrupted run leaves it.
func stagingOf(t *testing.T, dir string) string {
	t.Helper()
	st := duckState(t, dir)
	defer st.Close()
	return stagingText(t, st)
}

// stagingText is stagingOf for any state.
func stagingText(t *testing.T, st state.Backend) string {
	t.Helper()
	runs, err := st.Staging(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, r := range runs {
		fmt.Fprintf(&b, "== staged calls %d agents %d purged %v:", r.Calls, r.Agents, r.PurgedAt != nil)
		for _, f := range []string{"agents.csv", "calls.jsonl", "ledger.csv"} {
			data, err := os.ReadFile(filepath.Join(r.Path, f))
			if err != nil {
				fmt.Fprintf(&b, " %s missing", f)
				continue
			}
			sum := sha256.Sum256(data)
			fmt.Fprintf(&b, " %s %x", f, sum[:8])
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// outboxModes says each outbox file's permission bits.
func outboxModes(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	for _, f := range []string{"agents.csv", "calls.jsonl", "ledger.csv"} {
		fi, err := os.Stat(filepath.Join(dir, ".applink", "outbox", f))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %v ", f, fi.Mode().Perm())
	}
	return b.String()
}

// TestKillPoints kills `applink run` at every kill point of its commit
// (killpoint.Points, as the references' traces reach them: each outbox file
// moved into place, the staging copy, the merge's temp files, the state's
// changes, its transaction before and after the commit, the end of the
// run), on a first run and on an incremental run over an existing outbox
// and state with new and changed calls. After each kill it resumes and
// checks against an uninterrupted run: the outbox bytes, the ledger with
// its fingerprints, the watermarks, the history (one more "sent nothing"
// line exactly when the kill came after the state commit), the staged
// copies, the outbox files' modes, that nothing of the killed run is left
// behind, and that one more run sends nothing.
func TestKillPoints(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes at each kill point")
	}
	bin := applinkBinary(t)
	root := t.TempDir()
	opt := demogen.Options{Calls: 3000, BDFields: 6, Seed: 9}
	dataA, dataB := filepath.Join(root, "dataA"), filepath.Join(root, "dataB")
	if _, err := demogen.Generate(dataA, opt); err != nil {
		t.Fatal(err)
	}
	mutateSnapshot(t, dataA, dataB)

	type reference struct {
		snap, staging, modes string
		trace                []string
	}
	refs := map[string]*reference{}
	ref, refUse := linkedSpec(t, root, "reference", dataA, opt)
	for _, kind := range []string{"first", "incremental"} {
		if kind == "incremental" {
			refUse(dataB)
		}
		tr := filepath.Join(root, "reference-"+kind+".trace")
		if out, _, err := traced(t, bin, ref, tr, ""); err != nil {
			t.Fatalf("reference %s run: %v\n%s", kind, err, out)
		}
		refs[kind] = &reference{snap: snapshotOf(t, ref), staging: stagingOf(t, ref), modes: outboxModes(t, ref), trace: traceOf(t, tr)}
	}
	if refs["first"].modes != refs["incremental"].modes {
		t.Errorf("an incremental run changed the outbox files' modes: %s, then %s", refs["first"].modes, refs["incremental"].modes)
	}
	requireEveryPoint(t, func(p killpoint.Point) bool { return !p.Queued }, refs["first"].trace, refs["incremental"].trace)

	for _, kind := range []string{"first", "incremental"} {
		want := refs[kind]
		cases := killCases(want.trace)
		t.Logf("%s run: %d kills at %v", kind, len(cases), cases)
		for _, kc := range cases {
			t.Run(kind+"/"+kc.String(), func(t *testing.T) {
				t.Parallel()
				sub := t.TempDir()
				dir, use := linkedSpec(t, sub, "spec", dataA, opt)
				if kind == "incremental" {
					if out, _, err := traced(t, bin, dir, filepath.Join(sub, "base.trace"), ""); err != nil {
						t.Fatalf("base run: %v\n%s", err, out)
					}
					use(dataB)
				}
				killAndResume(t, bin, dir, sub, kc, func() map[string]bool { return outboxCalls(t, dir) })
				got := withoutNoOpRun(snapshotOf(t, dir), kc.committed)
				if got != want.snap {
					t.Errorf("after a kill at %s and a resume, the result differs from an uninterrupted run:\n%s", kc, diffSnap(want.snap, got))
				}
				if got := stagingOf(t, dir); got != want.staging {
					t.Errorf("staged copies differ from an uninterrupted run's:\n%s", diffSnap(want.staging, got))
				}
				if got := outboxModes(t, dir); got != want.modes {
					t.Errorf("outbox modes %s, want %s", got, want.modes)
				}
				if l := leftovers(t, dir); len(l) > 0 {
					t.Errorf("the resume left the killed run's files behind: %v", l)
				}
				if out, _, err := traced(t, bin, dir, filepath.Join(sub, "again.trace"), ""); err != nil || !strings.Contains(out, "sent: nothing") {
					t.Errorf("the run after the resume sent something (%v):\n%s", err, out)
				}
			})
		}
	}
}

// killAndResume kills `applink run` on dir at kc (it must die there),
// checks that the state claims no call the sink does not hold (sinkHas:
// the call ids the sink holds), then runs it again to resume: the resume
// sends nothing exactly when the state had committed.
func killAndResume(t *testing.T, bin, dir, sub string, kc killCase, sinkHas func() map[string]bool, env ...string) {
	t.Helper()
	killAndResumeWith(t, bin, dir, sub, kc, func() []string { return importedCalls(t, dir) }, sinkHas, env...)
}

// killAndResumeWith is killAndResume with the state's imported calls read
// by imported.
func killAndResumeWith(t *testing.T, bin, dir, sub string, kc killCase, imported func() []string, sinkHas func() map[string]bool, env ...string) {
	t.Helper()
	tr := filepath.Join(sub, "killed.trace")
	out, killed, err := traced(t, bin, dir, tr, kc.String(), env...)
	if !killed {
		t.Fatalf("the run was not killed at %s: %v\n%s", kc, err, out)
	}
	if got := traceOf(t, tr); len(got) == 0 || got[len(got)-1] != "kill:"+kc.String() {
		t.Fatalf("the run did not die at %s; its trace: %v", kc, got)
	}
	// The sink commits first: whatever the state says was imported, the
	// sink has, at every instant.
	has := sinkHas()
	missing := 0
	for _, id := range imported() {
		if !has[id] {
			if missing++; missing <= 5 {
				t.Errorf("killed at %s: the state says call %s is imported, the sink does not hold it", kc, id)
			}
		}
	}
	out, _, err = traced(t, bin, dir, filepath.Join(sub, "resume.trace"), "", env...)
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	if sentNothing := strings.Contains(out, "sent: nothing"); sentNothing != kc.committed {
		t.Errorf("resume after a kill at %s (state committed: %v) sent nothing: %v\n%s", kc, kc.committed, sentNothing, out)
	}
}

// withoutNoOpRun drops the last history line of a snapshot when the kill
// came after the state commit: the resume was one more run that sent
// nothing, and its line is the only difference from an uninterrupted run.
func withoutNoOpRun(snap string, committed bool) string {
	if !committed {
		return snap
	}
	i := strings.LastIndex(strings.TrimSuffix(snap, "\n"), "\n")
	if last := snap[i+1:]; strings.Contains(last, "== history run:") && strings.Contains(last, "sent 0 agents 0 calls") {
		return snap[:i+1]
	}
	return snap
}

// TestKillPointsCXone is TestKillPoints with a cxone sink (cxonetest's
// receiver, one per kill): it kills a first and an incremental run at
// every kill point they reach (the staged copy's files, the state's
// steps), resumes, and checks that the receiver holds what an
// uninterrupted run's receiver holds (calls, metadata, media bytes,
// business data, users), each write applied once per idempotency key, that
// the ledger with fingerprints, watermarks and history equal the
// uninterrupted run's, and that one more run sends nothing.
func TestKillPointsCXone(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes at each kill point")
	}
	bin := applinkBinary(t)
	root := t.TempDir()
	opt := demogen.Options{Calls: 800, BDFields: 6, Seed: 3, MediaFiles: true}
	dataA, dataB := filepath.Join(root, "dataA"), filepath.Join(root, "dataB")
	if _, err := demogen.Generate(dataA, opt); err != nil {
		t.Fatal(err)
	}
	mutateSnapshot(t, dataA, dataB)
	if err := os.Symlink(filepath.Join(dataA, "media"), filepath.Join(dataB, "media")); err != nil {
		t.Fatal(err)
	}
	cfg := cxonetest.Config{AccessKeyID: "AKID-applink", AccessKeySecret: "s3cr3t-access", ClientID: "client-applink", ClientSecret: "s3cr3t-client"}
	newSpec := func(root, name string, srv *cxonetest.Server) (string, func(string)) {
		dir, use := linkedSpec(t, root, name, dataA, opt)
		if err := os.WriteFile(filepath.Join(dir, "sink.hcl"), []byte(sinkBlock(srv, true)), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir, use
	}

	type reference struct {
		state, staging string
		srv            *cxonetest.Server
		trace          []string
	}
	refs := map[string]*reference{}
	for _, kind := range []string{"first", "incremental"} {
		srv := cxonetest.New(cfg)
		t.Cleanup(srv.Close)
		ref, use := newSpec(root, "reference-"+kind, srv)
		tr := filepath.Join(root, "reference-"+kind+".trace")
		if kind == "incremental" {
			if out, _, err := traced(t, bin, ref, filepath.Join(root, "base.trace"), "", srv.Environ()...); err != nil {
				t.Fatalf("reference base run: %v\n%s", err, out)
			}
			use(dataB)
		}
		if out, _, err := traced(t, bin, ref, tr, "", srv.Environ()...); err != nil {
			t.Fatalf("reference %s run: %v\n%s", kind, err, out)
		}
		refs[kind] = &reference{state: stateOf(t, ref), staging: stagingOf(t, ref), srv: srv, trace: traceOf(t, tr)}
	}

	for _, kind := range []string{"first", "incremental"} {
		want := refs[kind]
		cases := killCases(want.trace)
		t.Logf("%s run: %d kills at %v", kind, len(cases), cases)
		for _, kc := range cases {
			t.Run(kind+"/"+kc.String(), func(t *testing.T) {
				t.Parallel()
				sub := t.TempDir()
				srv := cxonetest.New(cfg)
				defer srv.Close()
				dir, use := newSpec(sub, "spec", srv)
				if kind == "incremental" {
					if out, _, err := traced(t, bin, dir, filepath.Join(sub, "base.trace"), "", srv.Environ()...); err != nil {
						t.Fatalf("base run: %v\n%s", err, out)
					}
					use(dataB)
				}
				killAndResume(t, bin, dir, sub, kc, func() map[string]bool {
					got := map[string]bool{}
					for id := range srv.Calls() {
						got[id] = true
					}
					return got
				}, srv.Environ()...)
				if got := withoutNoOpRun(stateOf(t, dir), kc.committed); got != want.state {
					t.Errorf("after a kill at %s and a resume, the state differs from an uninterrupted run's:\n%s", kc, diffSnap(want.state, got))
				}
				sameTenant(t, want.srv, srv)
				for k, n := range srv.Writes() {
					if n != 1 {
						t.Errorf("%s applied %d times", k, n)
					}
				}
				if got := stagingOf(t, dir); got != want.staging {
					t.Errorf("staged copies differ from an uninterrupted run's:\n%s", diffSnap(want.staging, got))
				}
				if l := leftovers(t, dir); len(l) > 0 {
					t.Errorf("the resume left the killed run's files behind: %v", l)
				}
				before := len(srv.Requests())
				out, _, err := traced(t, bin, dir, filepath.Join(sub, "again.trace"), "", srv.Environ()...)
				if err != nil || !strings.Contains(out, "sent: nothing") {
					t.Errorf("the run after the resume sent something (%v):\n%s", err, out)
				}
				for _, r := range srv.Requests()[before:] {
					if !r.Issuer {
						t.Errorf("the run after the resume sent %s %s", r.Method, r.Path)
					}
				}
			})
		}
	}
}

// importedCalls lists the calls a spec's DuckDB state says are imported
// (none when there is no state yet).
func importedCalls(t *testing.T, dir string) []string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, ".applink", "state.duckdb")); err != nil {
		return nil
	}
	st := duckState(t, dir)
	defer st.Close()
	return importedIn(t, st)
}

// importedIn lists the calls a state's ledger says are imported.
func importedIn(t *testing.T, st state.Backend) []string {
	t.Helper()
	var ids []string
	err := st.Ledger(context.Background(), func(r state.LedgerRow) error {
		if r.Entity == "call" && r.State == "imported" {
			ids = append(ids, r.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// outboxCalls lists the call ids in a spec's outbox calls.jsonl (none when
// there is no outbox yet).
func outboxCalls(t *testing.T, dir string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, ".applink", "outbox", "calls.jsonl"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if id, ok := strings.CutPrefix(line, `{"call_id":"`); ok {
			ids[id[:strings.IndexByte(id, '"')]] = true
		}
	}
	return ids
}
