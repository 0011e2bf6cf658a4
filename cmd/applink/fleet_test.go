package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/applink-dev/applink/connectors/cxone"
	"github.com/applink-dev/applink/connectors/cxone/cxonetest"
	"github.com/applink-dev/applink/connectors/demogen"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/delivery"
	"github.com/applink-dev/applink/engine/state"
	"github.com/applink-dev/applink/engine/state/duckstate"
	"github.com/applink-dev/applink/engine/state/pgstate"
	"github.com/applink-dev/applink/engine/state/statetest"
)

// TestServeAndWorkersFleet is issue 15's integration test: PostgreSQL state,
// two `serve` processes (one active, one standby) and three `worker`
// processes against the fault-injecting CXone receiver, answering after
// 20 ms. The active serve is
// SIGKILLed mid-run and the standby takes over; one worker is SIGKILLed
// mid-delivery and another finishes its jobs. At the end every call that a
// single-process run imports was received exactly once, with the same
// metadata, media bytes and business-data values as a single-process CXone
// run; the ledger equals a single-process outbox run's; nothing is left
// queued; and no secret appears in any process's log.
func TestServeAndWorkersFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("runs five applink processes and waits for River's rescuer")
	}
	dsn := statetest.DSN(t)
	creds := cxonetest.Config{AccessKeyID: "AKID-fleet", AccessKeySecret: "s3cr3t-fleet-access", ClientID: "client-fleet", ClientSecret: "s3cr3t-fleet-client"}
	faulty := creds
	faulty.Faults = deliveryFaults
	srv := cxonetest.New(faulty)
	defer srv.Close()
	refSrv := cxonetest.New(creds)
	defer refSrv.Close()
	bin := applinkBinary(t)
	const calls = 3000
	// The receiver answers after 20 ms, on top of its faults.
	dir := queuedSpec(t, latencyProxy(t, srv.APIURL, 20*time.Millisecond), latencyProxy(t, srv.URL, 20*time.Millisecond), calls)

	// References, each one process with DuckDB state on the same data: into
	// the outbox (the ledger to compare with), and into a CXone tenant of
	// its own (what the receiver must hold).
	refOut := filepath.Join(filepath.Dir(dir), "ref-outbox") // beside the spec: its data path is relative
	refCX := filepath.Join(filepath.Dir(dir), "ref-cxone")
	for _, d := range []string{refOut, refCX} {
		if err := os.CopyFS(d, os.DirFS(dir)); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(d, "queued.hcl"))
	}
	if err := os.WriteFile(filepath.Join(refCX, "sink.hcl"), []byte(sinkBlock(refSrv, true)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "run", "--quiet", refOut).CombinedOutput(); err != nil {
		t.Fatalf("reference outbox run: %v\n%s", err, out)
	}
	refCmd := exec.Command(bin, "run", "--quiet", refCX)
	refCmd.Env = append(os.Environ(), refSrv.Environ()...)
	if out, err := refCmd.CombinedOutput(); err != nil {
		t.Fatalf("reference CXone run: %v\n%s", err, out)
	}
	refState, err := duckstate.Open(context.Background(), filepath.Join(refOut, ".applink", "state.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	wantLedger := ledgerText(t, refState)
	refState.Close()

	env := append(append(os.Environ(), srv.Environ()...), "APPLINK_STATE_DSN="+dsn)
	args := []string{"--every", "3s", "--poll", "200ms", dir}
	a := startServeEnv(t, bin, env, args...)
	b := startServeEnv(t, bin, env, args...)
	b.wait(t, 60*time.Second, "B standing by", func(m map[string]any) bool { return strings.HasPrefix(m["msg"].(string), "standby") })

	var workerLogs syncBuffer
	workers := startWorkers(t, bin, env, 3, &workerLogs)

	// Kill the active serve while its first run works: it commits nothing.
	a.wait(t, 60*time.Second, "A's first run", msgIs("run started"))
	time.Sleep(100 * time.Millisecond)
	killedAt := time.Now()
	if code := a.signal(t, syscall.SIGKILL); code != -1 {
		t.Fatalf("serve A was not killed by the signal (exit %d)", code)
	}
	if done := a.matching(isRunEnd); len(done) > 0 {
		t.Fatalf("the kill of serve A did not land mid-run: it had ended its run: %v", done)
	}
	took := b.wait(t, 30*time.Second, "B taking over within 30 s", func(m map[string]any) bool {
		return strings.HasPrefix(m["msg"].(string), "took over")
	})
	t.Logf("serve B took over %s after serve A was killed mid-run", logTime(t, took).Sub(killedAt).Round(time.Millisecond))
	b.wait(t, 120*time.Second, "B's first finished run", msgIs("run finished"))

	st, err := pgstate.Open(context.Background(), dsn, demogen.DemoCustomer, pgstate.Options{Jobs: delivery.Jobs})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	q, err := st.Queue(context.Background())
	if err != nil || q.Queued == 0 {
		t.Fatalf("queue after B's run: %+v %v", q, err)
	}
	queued := int(q.Queued) + len(srv.Calls())

	// Kill a worker mid-delivery; wait until nothing is queued or in flight,
	// then stop the standby-turned-holder.
	killWorkerMidDelivery(t, st, workers[0], srv, queued, &workerLogs)
	waitQueueDrained(t, st, 180*time.Second, &workerLogs)
	if code := b.signal(t, syscall.SIGTERM); code != 0 {
		t.Errorf("serve B SIGTERM: exit %d", code)
	}

	if got := ledgerText(t, st); got != wantLedger {
		t.Errorf("the ledger differs from a single-process outbox run's:\n%s", diffLines(wantLedger, got))
	}
	sameTenant(t, refSrv, srv)
	for k, n := range srv.Writes() {
		if n != 1 {
			t.Errorf("%s applied %d times", k, n)
		}
	}
	st.Ledger(context.Background(), func(r state.LedgerRow) error {
		if r.Entity == "call" && r.State == "imported" && srv.Writes()["call:"+cxone.IdempotencyKey("engage-demo", r.ID)] != 1 {
			t.Errorf("imported call %s was not written exactly once", r.ID)
		}
		return nil
	})
	for name, log := range map[string]string{"serve A": a.log(), "serve B": b.log(), "workers": workerLogs.String()} {
		noSecret(t, name, log, srv)
	}
}

// TestServeAndWorkersOutboxOverRuns: PostgreSQL state, no sink block (the
// outbox), one `serve` and two `worker` processes over at least five
// scheduled runs with new calls between them. No run fails, and the
// materialized outbox holds every call exactly once, equal to a
// single-process run of the final data.
func TestServeAndWorkersOutboxOverRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs serve and two workers over several scheduled runs")
	}
	dsn := statetest.DSN(t)
	bin := applinkBinary(t)
	root := t.TempDir()
	data := filepath.Join(root, "data")
	opt := demogen.Options{Calls: 1500, BDFields: 4, Seed: 5}
	if _, err := demogen.Generate(data, opt); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "spec")
	if err := demogen.WriteSpec(dir, data, opt); err != nil {
		t.Fatal(err)
	}
	stateBlock := "state {\n  driver = \"postgres\"\n  dsn    = env(\"APPLINK_STATE_DSN\")\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "state.hcl"), []byte(stateBlock), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "APPLINK_STATE_DSN="+dsn)
	p := startServeEnv(t, bin, env, "--every", "1s", "--poll", "200ms", dir)
	var workerLogs syncBuffer
	for _, w := range []string{"w1", "w2"} {
		cmd := exec.Command(bin, "worker", "--format", "json", "--concurrency", "16", "--poll-every", "100ms", "--progress-every", "1s")
		cmd.Env, cmd.Dir = append(env, "CI="), t.TempDir() // another working folder: media paths are absolute
		cmd.Stdout, cmd.Stderr = &workerLogs, &workerLogs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
		_ = w
	}

	const rounds = 5
	sentRuns := 0
	for r := 1; r <= rounds; r++ {
		// Wait for a run that sent calls since the last new data.
		seen := len(p.matching(msgIs("run finished")))
		p.waitN(t, seen+1, 60*time.Second, fmt.Sprintf("a run after round %d", r), msgIs("run finished"))
		appendNewCalls(t, data, r, 100)
		sentRuns++
	}
	// The last round's calls: one more run sends them.
	deadline := time.Now().Add(90 * time.Second)
	st, err := pgstate.Open(context.Background(), dsn, demogen.DemoCustomer, pgstate.Options{Jobs: delivery.Jobs})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for {
		led := map[string]bool{}
		st.Ledger(context.Background(), func(r state.LedgerRow) error { led[r.ID] = true; return nil })
		if led[fmt.Sprintf("N%d-0000", rounds)] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the last round's calls never reached the ledger\n%s", p.log())
		}
		time.Sleep(200 * time.Millisecond)
	}
	waitQueueDrained(t, st, 120*time.Second, &workerLogs)
	// A run by hand while serve holds the spec is refused, naming it.
	hand := exec.Command(bin, "run", "--quiet", dir)
	hand.Env = append(env, "CI=")
	if out, err := hand.CombinedOutput(); err == nil || !strings.Contains(string(out), fmt.Sprintf("the spec is run by applink serve pid %d since ", p.cmd.Process.Pid)) {
		t.Errorf("a hand run while serve holds the spec: %v\n%s", err, out)
	}
	if code := p.signal(t, syscall.SIGTERM); code != 0 {
		t.Errorf("serve SIGTERM: exit %d", code)
	}
	var sent int
	for _, l := range p.matching(isRunEnd) {
		if l["outcome"] == "failed" || strings.HasPrefix(l["msg"].(string), "run failed") {
			t.Errorf("a run failed: %v", l)
		}
		if s, ok := l["sent"].(map[string]any); ok && s["calls"].(float64) > 0 {
			sent++
		}
	}
	if sent < rounds {
		t.Errorf("%d runs sent calls, want at least %d", sent, rounds)
	}

	// The reference: one process, DuckDB state, the final data.
	ref := filepath.Join(root, "ref")
	if err := demogen.WriteSpec(ref, data, opt); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "run", "--quiet", ref).CombinedOutput(); err != nil {
		t.Fatalf("reference run: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "materialize", dir).CombinedOutput(); err != nil {
		t.Fatalf("materialize: %v\n%s", err, out)
	}
	for _, f := range []string{"agents.csv", "calls.jsonl", "ledger.csv"} {
		got, want := sortedFile(t, filepath.Join(dir, ".applink", "outbox", f)), sortedFile(t, filepath.Join(ref, ".applink", "outbox", f))
		if got != want {
			t.Errorf("materialized %s differs from a single-process run's:\n%s", f, diffLines(want, got))
		}
	}
	ids := map[string]int{}
	for _, l := range readLines(t, filepath.Join(dir, ".applink", "outbox", "calls.jsonl")) {
		var c struct {
			CallID string `json:"call_id"`
		}
		if err := json.Unmarshal([]byte(l), &c); err != nil {
			t.Fatal(err)
		}
		ids[c.CallID]++
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("call %s is %d times in calls.jsonl", id, n)
		}
	}
	t.Logf("%d runs sent calls; %d calls in the materialized outbox", sent, len(ids))
	if !strings.Contains(workerLogs.String(), "worker progress") {
		t.Errorf("the workers logged no progress line:\n%s", workerLogs.String())
	}
}

// appendNewCalls adds n new calls (copies of importable-looking rows under
// new ids, Nround-i) with their business data to the snapshot; each file
// is replaced whole (business data first), so a run reads either version.
func appendNewCalls(t *testing.T, data string, round, n int) {
	t.Helper()
	calls := readLines(t, filepath.Join(data, "calls.csv"))
	bd := readLines(t, filepath.Join(data, "business_data.csv"))
	byCall := map[string][]string{}
	for _, line := range bd[1:] {
		id, _, _ := strings.Cut(line, ",")
		byCall[id] = append(byCall[id], line)
	}
	var newCalls, newBD []string
	for i, line := range calls[1:] {
		if len(newCalls) == n {
			break
		}
		id, rest, _ := strings.Cut(line, ",")
		if strings.HasPrefix(id, "N") {
			continue
		}
		nid := fmt.Sprintf("N%d-%04d", round, i)
		newCalls = append(newCalls, nid+","+rest)
		for _, l := range byCall[id] {
			_, r, _ := strings.Cut(l, ",")
			newBD = append(newBD, nid+","+r)
		}
	}
	replace := func(name string, lines []string) {
		tmp := filepath.Join(data, "."+name+".new")
		writeLines(t, tmp, lines)
		if err := os.Rename(tmp, filepath.Join(data, name)); err != nil {
			t.Fatal(err)
		}
	}
	replace("business_data.csv", append(bd, newBD...))
	replace("calls.csv", append(calls, newCalls...))
}

// TestFailingDeliveriesVisibleWithin60s: deliveries that fail (CXone
// refuses a call; a media file is gone) show within 60 s of the run in the
// worker's /metrics, serve's /metrics, serve's status page (its delivery
// panel, in headless Chromium where there is one) and `applink report`,
// with their reasons; and the worker's /healthz and /readyz answer.
func TestFailingDeliveriesVisibleWithin60s(t *testing.T) {
	if testing.Short() {
		t.Skip("runs serve and a worker")
	}
	dsn := statetest.DSN(t)
	creds := cxonetest.Config{AccessKeyID: "AKID-vis", AccessKeySecret: "s3cr3t-vis-access", ClientID: "client-vis", ClientSecret: "s3cr3t-vis-client"}
	var rejected sync.Map
	cfg := creds
	cfg.Reject = func(callID string) (int, string) {
		if strings.HasSuffix(callID, "7") {
			rejected.Store(callID, true)
			return 422, "invalid skill"
		}
		return 0, ""
	}
	srv := cxonetest.New(cfg)
	defer srv.Close()
	bin := applinkBinary(t)
	dir := queuedSpec(t, srv.APIURL, srv.URL, 300)
	env := append(append(os.Environ(), srv.Environ()...), "APPLINK_STATE_DSN="+dsn)
	p := startServeEnv(t, bin, env, "--every", "1h", "--poll", "200ms", dir)
	p.wait(t, 60*time.Second, "the run", msgIs("run finished"))
	// Media files gone (calls ending in 3): their deliveries fail with
	// media_unreadable, and are retried.
	gone := 0
	filepath.WalkDir(filepath.Join(filepath.Dir(dir), "data"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, "3.wav") && os.Remove(p) == nil {
			gone++
		}
		return nil
	})
	if gone == 0 {
		t.Fatal("no media file to remove")
	}
	start := time.Now()
	var logs syncBuffer
	w := exec.Command(bin, "worker", "--format", "json", "--concurrency", "8", "--poll-every", "100ms", "--listen", "127.0.0.1:0", "--progress-every", "1s")
	w.Env, w.Stdout, w.Stderr = append(env, "CI="), &logs, &logs
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { w.Process.Signal(syscall.SIGTERM); w.Wait() }()
	var addr string
	for addr == "" {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("the worker never said where it listens:\n%s", logs.String())
		}
		for _, l := range strings.Split(logs.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "worker endpoint listening" {
				addr = m["addr"].(string)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, body := httpGet(t, "http://"+addr+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("worker /healthz: %d %q", code, body)
	}
	if code, body := httpGet(t, "http://"+addr+"/readyz"); code != 200 || !strings.HasPrefix(body, "ready") {
		t.Errorf("worker /readyz: %d %q", code, body)
	}

	seen := map[string]time.Duration{}
	check := func(what string, ok bool) {
		if _, done := seen[what]; !done && ok {
			seen[what] = time.Since(start)
		}
	}
	var report, wm string
	for time.Since(start) < 60*time.Second && len(seen) < 4 {
		_, wm = httpGet(t, "http://"+addr+"/metrics")
		check("worker /metrics", strings.Contains(wm, `reason="http_422"`) && regexp.MustCompile(`applink_deliveries_total\{[^}]*outcome="(failed|retrying)"[^}]*reason="media_unreadable"`).MatchString(wm))
		_, sm := httpGet(t, p.url+"/metrics")
		check("serve /metrics", regexp.MustCompile(`applink_queue\{spec="[^"]*",state="failed"\} [1-9]`).MatchString(sm) &&
			regexp.MustCompile(`applink_queue\{spec="[^"]*",state="retrying"\} [1-9]`).MatchString(sm))
		_, page := httpGet(t, p.url+"/")
		v := pageValues(page)
		check("status page", v["delivery.failed"] != "" && v["delivery.failed"] != "0" && strings.Contains(v["delivery.failed_reasons"], "http_422") &&
			strings.Contains(v["delivery.retry_reasons"], "media_unreadable"))
		rc := exec.Command(bin, "report", dir)
		rc.Env = env
		out, _ := rc.CombinedOutput()
		report = string(out)
		check("report", strings.Contains(report, "http_422") && strings.Contains(report, "media_unreadable"))
		time.Sleep(500 * time.Millisecond)
	}
	for _, what := range []string{"worker /metrics", "serve /metrics", "status page", "report"} {
		if d, ok := seen[what]; !ok {
			t.Errorf("%s did not show the failing deliveries within 60 s", what)
		} else {
			t.Logf("%s showed the failing deliveries %s after the worker started", what, d.Round(100*time.Millisecond))
		}
	}
	if t.Failed() {
		t.Logf("report:\n%s\nworker metrics:\n%s\nworker log:\n%s", report, wm, logs.String())
	}
	if dom, _ := chromiumPage(t, p.url+"/"); dom != "" {
		v := pageValues(dom)
		if v["delivery.failed"] == "" || v["delivery.failed"] == "0" || !strings.Contains(v["delivery.failed_reasons"], "http_422") {
			t.Errorf("the status page in Chromium: delivery panel %v", v)
		}
	}
	if !strings.Contains(logs.String(), "worker progress") {
		t.Error("the worker logged no progress line")
	}
}

// TestServeFencing: the holder is paused (SIGSTOP) mid-run and its lock's
// session ends (as in a network split); the standby takes the spec over
// and runs it; then the old holder resumes (SIGCONT). Its commit is
// refused (the epoch moved on), so nothing is queued, sent or counted
// twice: the history holds only the new holder's run, every call is
// queued once, and the delivered outbox and the ledger equal one
// process's.
func TestServeFencing(t *testing.T) {
	if testing.Short() {
		t.Skip("pauses and resumes serve processes")
	}
	dsn := statetest.DSN(t)
	bin := applinkBinary(t)
	root := t.TempDir()
	data := filepath.Join(root, "data")
	opt := demogen.Options{Calls: 40000, BDFields: 4, Seed: 9}
	if _, err := demogen.Generate(data, opt); err != nil {
		t.Fatal(err)
	}
	// Two copies of the spec folder, as on two machines: one state (the
	// same key), a working area (staging, outbox) each.
	stateBlock := "state {\n  driver = \"postgres\"\n  dsn    = env(\"APPLINK_STATE_DSN\")\n}\n"
	specDir := func(name string) string {
		dir := filepath.Join(root, name)
		if err := demogen.WriteSpec(dir, data, opt); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "state.hcl"), []byte(stateBlock), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	dirA, dir := specDir("machine-a"), specDir("machine-b")
	env := append(os.Environ(), "APPLINK_STATE_DSN="+dsn)
	// A checks its lock only every 30 s: resumed, it reaches its commit
	// before it could notice the lock is gone, so only the fence stops it.
	a := startServeEnv(t, bin, env, "--every", "1h", "--poll", "30s", dirA)
	a.wait(t, 60*time.Second, "A's run", msgIs("run started"))
	time.Sleep(100 * time.Millisecond) // reading the source, well before its commit
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	b := startServeEnv(t, bin, env, "--every", "1h", "--poll", "200ms", dir)
	b.wait(t, 30*time.Second, "B standing by", func(m map[string]any) bool { return strings.HasPrefix(m["msg"].(string), "standby") })
	if done := a.matching(isRunEnd); len(done) > 0 {
		t.Fatalf("the SIGSTOP did not land mid-run: A had ended its run: %v", done)
	}
	// A's lock session ends, as when the network between A and the
	// database fails.
	admin, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var killed int
	if err := admin.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name LIKE $1`, fmt.Sprintf("applink serve pid %d %%", a.cmd.Process.Pid)).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("ending A's lock session: %d sessions, %v", killed, err)
	}
	b.wait(t, 60*time.Second, "B taking over", func(m map[string]any) bool { return strings.HasPrefix(m["msg"].(string), "took over") })
	bEnd := b.wait(t, 120*time.Second, "B's run", msgIs("run finished"))
	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	aEnd := a.wait(t, 120*time.Second, "A's run ending", isRunEnd)
	// Refused either way: paused before its commit, the commit finds the
	// epoch stale; paused inside it, its transaction held the fencing row
	// the takeover waits for, and the new holder ended its session.
	switch e := fmt.Sprint(aEnd["err"]); {
	case aEnd["msg"] == "run finished":
		t.Fatalf("the old holder committed: %v", aEnd)
	case strings.Contains(e, "is stale"):
		a.wait(t, 10*time.Second, "A standing by after the fence", func(m map[string]any) bool { return strings.HasPrefix(m["msg"].(string), "fenced") })
	case strings.Contains(e, "terminating connection"):
	default:
		t.Fatalf("the old holder's run was not refused by the fence: %v", aEnd)
	}
	t.Logf("old holder: %v", aEnd["err"])

	st, err := pgstate.Open(context.Background(), dsn, demogen.DemoCustomer, pgstate.Options{Jobs: delivery.Jobs})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.Runs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Committed runs: only B's (A's failure may be recorded as an event).
	var committed []string
	for _, r := range runs {
		if r.Kind == "run" {
			committed = append(committed, r.RunID)
		}
	}
	if len(committed) != 1 || committed[0] != bEnd["run_id"] {
		t.Fatalf("committed runs %v, want only B's run %v", committed, bEnd["run_id"])
	}
	var workerLogs syncBuffer
	for range 2 {
		w := exec.Command(bin, "worker", "--format", "json", "--concurrency", "32", "--poll-every", "100ms")
		w.Env, w.Stdout, w.Stderr = append(env, "CI="), &workerLogs, &workerLogs
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Process.Signal(syscall.SIGTERM); w.Wait() })
	}
	waitQueueDrained(t, st, 180*time.Second, &workerLogs)
	var jobs, imported int
	st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM river_job`).Scan(&jobs)
	st.Ledger(context.Background(), func(r state.LedgerRow) error {
		if r.Entity == "call" && r.State == connector.StateImported {
			imported++
		}
		return nil
	})
	if jobs != imported {
		t.Errorf("%d delivery jobs for %d imported calls: something was queued twice", jobs, imported)
	}
	ref := filepath.Join(root, "ref")
	if err := demogen.WriteSpec(ref, data, opt); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "run", "--quiet", ref).CombinedOutput(); err != nil {
		t.Fatalf("reference run: %v\n%s", err, out)
	}
	refState, err := duckstate.Open(context.Background(), filepath.Join(ref, ".applink", "state.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	want := ledgerText(t, refState)
	refState.Close()
	if got := ledgerText(t, st); got != want {
		t.Errorf("ledger differs from one process's:\n%s", diffLines(want, got))
	}
	if out, err := exec.Command(bin, "materialize", dir).CombinedOutput(); err != nil {
		t.Fatalf("materialize: %v\n%s", err, out)
	}
	for _, f := range []string{"agents.csv", "calls.jsonl", "ledger.csv"} {
		if got, want := sortedFile(t, filepath.Join(dir, ".applink", "outbox", f)), sortedFile(t, filepath.Join(ref, ".applink", "outbox", f)); got != want {
			t.Errorf("materialized %s differs from one process's:\n%s", f, diffLines(want, got))
		}
	}
	b.signal(t, syscall.SIGTERM)
	a.signal(t, syscall.SIGTERM)
}
