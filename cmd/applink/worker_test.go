package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/applink-dev/applink/connectors/cxone"
	"github.com/applink-dev/applink/connectors/cxone/cxonetest"
	"github.com/applink-dev/applink/connectors/demogen"
	"github.com/applink-dev/applink/connectors/outbox"
	"github.com/applink-dev/applink/engine/delivery"
	"github.com/applink-dev/applink/engine/state"
	"github.com/applink-dev/applink/engine/state/duckstate"
	"github.com/applink-dev/applink/engine/state/pgstate"
	"github.com/applink-dev/applink/engine/state/statetest"
)

// syncBuffer is a log several processes write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ledgerText renders a state's ledger as entity,id,state,reason,active,
// fingerprint lines: the fingerprint is what the next run compares, so a
// worker that settled a row must leave the one a single process writes.
func ledgerText(t *testing.T, st state.Backend) string {
	t.Helper()
	var b strings.Builder
	if err := st.Ledger(context.Background(), func(r state.LedgerRow) error {
		fmt.Fprintf(&b, "%s,%s,%s,%s,%v,%x\n", r.Entity, r.ID, r.State, r.Reason, r.Active, r.FP)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestWorkersDeliverAQueuedRun is the worker half of issue 15's integration
// test (the serve half comes with `applink serve`): a run with PostgreSQL
// state queues its calls; three `applink worker` processes deliver them to
// the fault-injecting CXone server; one is SIGKILLed mid-delivery. At the
// end every call is received exactly once per idempotency key, the ledger
// equals that of a single-process outbox run of the same data, nothing is
// left queued, and no secret appears in any output.
func TestWorkersDeliverAQueuedRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs worker processes and waits for River's rescuer")
	}
	dsn := statetest.DSN(t)
	srv := cxonetest.New(cxonetest.Config{
		AccessKeyID: "AKID-applink", AccessKeySecret: "s3cr3t-access", ClientID: "client-applink", ClientSecret: "s3cr3t-client",
		Faults: deliveryFaults,
	})
	defer srv.Close()
	bin := applinkBinary(t)
	const calls = 400
	dir := queuedSpec(t, srv.APIURL, srv.URL, calls)
	env := append(append(os.Environ(), srv.Environ()...), "APPLINK_STATE_DSN="+dsn, "CI=")
	var logs syncBuffer

	// The reference: the same data, one process, outbox, DuckDB state.
	ref := filepath.Join(filepath.Dir(dir), "ref") // beside the spec: its data path is relative
	if err := os.CopyFS(ref, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(ref, "queued.hcl"))
	if out, err := exec.Command(bin, "run", "--quiet", ref).CombinedOutput(); err != nil {
		t.Fatalf("reference run: %v\n%s", err, out)
	}
	refState, err := duckstate.Open(context.Background(), filepath.Join(ref, ".applink", "state.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	want := ledgerText(t, refState)
	refState.Close()

	// The run queues its calls.
	run := exec.Command(bin, "run", "--quiet", dir)
	run.Env = env
	out, err := run.CombinedOutput()
	logs.Write(out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "queued for delivery") {
		t.Fatalf("the run queued nothing:\n%s", out)
	}
	st, err := pgstate.Open(context.Background(), dsn, demogen.DemoCustomer, pgstate.Options{Jobs: delivery.Jobs})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	q, err := st.Queue(context.Background())
	if err != nil || q.Queued == 0 || q.Waiting != q.Queued {
		t.Fatalf("queue after the run: %+v %v", q, err)
	}
	queued := q.Queued
	if len(srv.Calls()) != 0 {
		t.Fatalf("the run sent %d calls itself", len(srv.Calls()))
	}

	// Three workers; the first is killed once deliveries are under way.
	workers := startWorkers(t, bin, env, 3, &logs)
	killWorkerMidDelivery(t, st, workers[0], srv, int(queued), &logs)
	waitQueueDrained(t, st, 120*time.Second, &logs)

	if got := ledgerText(t, st); got != want {
		t.Errorf("the ledger differs from a single-process outbox run's:\n%s", diffLines(want, got))
	}
	got := srv.Calls()
	writes := srv.Writes()
	imported := 0
	st.Ledger(context.Background(), func(r state.LedgerRow) error {
		if r.Entity != "call" || r.State != "imported" {
			return nil
		}
		imported++
		if _, ok := got[r.ID]; !ok {
			t.Errorf("call %s is imported but the server never got it", r.ID)
		}
		if n := writes["call:"+cxone.IdempotencyKey("engage-demo", r.ID)]; n != 1 {
			t.Errorf("call %s written %d times", r.ID, n)
		}
		return nil
	})
	if imported != int(queued) || len(got) != imported {
		t.Errorf("%d calls queued, %d imported, the server holds %d", queued, imported, len(got))
	}
	for k, n := range writes {
		if n != 1 {
			t.Errorf("%s applied %d times", k, n)
		}
	}
	for _, s := range append(srv.Secrets(), "s3cr3t") {
		if strings.Contains(logs.String(), s) {
			t.Errorf("a secret appears in the logs")
		}
	}
	var rescued int
	st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE attempt > 1`).Scan(&rescued)
	t.Logf("%d deliveries took more than one attempt (the killed worker's, rescued, and retries)", rescued)
}

// queuedSpec is a demo spec (with media files) whose state is the
// PostgreSQL database $APPLINK_STATE_DSN names and whose sink is the CXone
// server: its API at apiURL, its issuer at authURL.
func queuedSpec(t *testing.T, apiURL, authURL string, calls int) string {
	t.Helper()
	root := t.TempDir()
	opt := demogen.Options{Calls: calls, BDFields: 6, Seed: 3, MediaFiles: true}
	if _, err := demogen.Generate(filepath.Join(root, "data"), opt); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "spec")
	if err := demogen.WriteSpec(dir, filepath.Join(root, "data"), opt); err != nil {
		t.Fatal(err)
	}
	blocks := fmt.Sprintf("sink \"cxone\" {\n  api_url             = %q\n  auth_url            = %q\n  requests_per_second = 2000\n  timeout             = \"1s\"\n}\n\n"+
		"state {\n  driver = \"postgres\"\n  dsn    = env(\"APPLINK_STATE_DSN\")\n}\n", apiURL, authURL)
	if err := os.WriteFile(filepath.Join(dir, "queued.hcl"), []byte(blocks), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// diffLines lists the lines only in a or only in b.
func diffLines(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for l := range ma {
		if !mb[l] {
			out = append(out, "- "+l)
		}
	}
	for l := range mb {
		if !ma[l] {
			out = append(out, "+ "+l)
		}
	}
	sort.Strings(out)
	if len(out) > 40 {
		out = append(out[:40], fmt.Sprintf("… %d more", len(out)-40))
	}
	return strings.Join(out, "\n")
}

// sortedFile is a file's lines, sorted: the outbox's order depends on the
// order of deliveries.
func sortedFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// With PostgreSQL state and no sink block, the workers deliver into the
// outbox: its files and the ledger end equal to a single-process run's,
// and a second run sends nothing.
func TestWorkersFillTheOutboxAsOneRunDoes(t *testing.T) {
	dsn := statetest.DSN(t)
	root := t.TempDir()
	opt := demogen.Options{Calls: 150, BDFields: 6, Seed: 11}
	if _, err := demogen.Generate(filepath.Join(root, "data"), opt); err != nil {
		t.Fatal(err)
	}
	spec := func(name string) string {
		dir := filepath.Join(root, name)
		if err := demogen.WriteSpec(dir, filepath.Join(root, "data"), opt); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	ref, dir := spec("ref"), spec("queued")
	stateBlock := "state {\n  driver = \"postgres\"\n  dsn    = env(\"APPLINK_STATE_DSN\")\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "state.hcl"), []byte(stateBlock), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("APPLINK_STATE_DSN", dsn)
	t.Setenv("CI", "")
	var out, errb bytes.Buffer
	for _, d := range []string{ref, dir} {
		if code := run([]string{"run", "--quiet", d}, nil, &out, &errb); code != exitOK {
			t.Fatalf("run %s: exit %d\n%s%s", d, code, out.String(), errb.String())
		}
	}
	st, err := pgstate.Open(context.Background(), dsn, demogen.DemoCustomer, pgstate.Options{Jobs: delivery.Jobs})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- delivery.Run(ctx, delivery.Config{DSN: dsn, Registry: registry(), PollEvery: 50 * time.Millisecond, Concurrency: 8,
			Segments: func(dir, name string) (delivery.SegmentAppender, error) { return outbox.OpenSegmentWriter(dir, name) }})
	}()
	waitQueueDrained(t, st, 60*time.Second, &syncBuffer{})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The workers wrote segments; materialized, they are the files a
	// single-process run writes, byte for byte (the same order too).
	out.Reset()
	if code := run([]string{"materialize", dir}, nil, &out, &errb); code != exitOK {
		t.Fatalf("materialize: exit %d\n%s%s", code, out.String(), errb.String())
	}
	for _, f := range []string{"agents.csv", "calls.jsonl", "ledger.csv"} {
		got, _ := os.ReadFile(filepath.Join(dir, ".applink", "outbox", f))
		want, _ := os.ReadFile(filepath.Join(ref, ".applink", "outbox", f))
		if !bytes.Equal(got, want) {
			t.Errorf("outbox %s differs from a single-process run's:\n%s", f, diffLines(string(want), string(got)))
		}
	}
	refState, err := duckstate.Open(context.Background(), filepath.Join(ref, ".applink", "state.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	want := ledgerText(t, refState)
	refState.Close()
	if got := ledgerText(t, st); got != want {
		t.Errorf("ledger differs:\n%s", diffLines(want, got))
	}
	out.Reset()
	if code := run([]string{"run", dir}, nil, &out, &errb); code != exitOK || !strings.Contains(out.String(), "sent: nothing") {
		t.Errorf("second run: exit %d\n%s", code, out.String())
	}
	out.Reset()
	if code := run([]string{"report", dir}, nil, &out, &errb); code != exitOK || !strings.Contains(out.String(), "unexplained: 0") {
		t.Errorf("report: exit %d\n%s%s", code, out.String(), errb.String())
	}
}

// startWorkers starts n `applink worker` processes with short timeouts (a
// killed worker's jobs are rescued after 6 s); they are stopped with
// SIGTERM when the test ends.
func startWorkers(t *testing.T, bin string, env []string, n int, logs *syncBuffer) []*exec.Cmd {
	t.Helper()
	workers := make([]*exec.Cmd, n)
	for i := range workers {
		w := exec.Command(bin, "worker", "--format", "json", "--concurrency", "4", "--poll-every", "100ms", "--job-timeout", "5s", "--rescue-after", "6s")
		w.Env = append(env, "CI=")
		w.Stdout, w.Stderr = logs, logs
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		workers[i] = w
	}
	t.Cleanup(func() {
		for _, w := range workers {
			if w.ProcessState == nil {
				w.Process.Signal(syscall.SIGTERM)
			}
		}
		for _, w := range workers {
			if w.ProcessState == nil {
				w.Wait()
			}
		}
	})
	return workers
}

// killWorkerMidDelivery SIGKILLs w once the receiver holds a fifth of the
// total calls, and checks the kill landed before every call was delivered.
func killWorkerMidDelivery(t *testing.T, st *pgstate.Store, w *exec.Cmd, srv *cxonetest.Server, total int, logs *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for len(srv.Calls()) < total/5 {
		if time.Now().After(deadline) {
			t.Fatalf("deliveries never got under way: the receiver has %d calls\n%s", len(srv.Calls()), logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	atKill := len(srv.Calls())
	if err := w.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var ee *exec.ExitError
	if err := w.Wait(); !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the worker kill did not land: %v", err)
	}
	if atKill >= total {
		t.Fatalf("the worker kill came after every delivery (%d of %d)", atKill, total)
	}
	// The kill landed while the worker held deliveries: River still shows
	// jobs running whose last attempt is the killed worker's (its River
	// client id carries its pid), until the rescuer hands them on.
	if held := heldBy(t, st, w.Process.Pid); held == 0 {
		t.Fatalf("the killed worker held no delivery at the kill (%d of %d calls received)", atKill, total)
	} else {
		t.Logf("killed a worker holding %d deliveries, with %d of %d calls received", held, atKill, total)
	}
}

// heldBy counts the running delivery jobs whose last attempt is the
// worker process pid's (delivery.WorkerName: w-HOST-PID-START).
func heldBy(t *testing.T, st *pgstate.Store, pid int) int {
	t.Helper()
	var n int
	err := st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM river_job
		WHERE state = 'running' AND attempted_by[array_upper(attempted_by, 1)] LIKE $1`, fmt.Sprintf("w-%%-%d-%%", pid)).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitQueueDrained waits until the spec's queue holds nothing queued, in
// flight or waiting.
func waitQueueDrained(t *testing.T, st state.Backend, d time.Duration, logs *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		q, err := st.Queue(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !q.Open() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still open: %+v\n%s", q, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// deliveryFaults is the receiver's fault schedule for the delivery tests: a
// 500, a dropped connection and a 429 at intervals that fall on calls,
// media and business data alike.
func deliveryFaults(n int, r *http.Request) cxonetest.Fault {
	switch {
	case n%37 == 0:
		return cxonetest.Fault{Kind: cxonetest.ServerError}
	case n%53 == 0:
		return cxonetest.Fault{Kind: cxonetest.Drop}
	case n%71 == 0:
		return cxonetest.Fault{Kind: cxonetest.TooManyRequests, RetryAfter: "0"}
	}
	return cxonetest.Fault{}
}
