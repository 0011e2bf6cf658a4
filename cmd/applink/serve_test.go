package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/applink-dev/applink/engine/report/reporttest"
	"github.com/applink-dev/applink/engine/state/statetest"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/applink-dev/applink/connectors/demogen"
	"github.com/applink-dev/applink/engine/state"
	"github.com/applink-dev/applink/engine/state/duckstate"
	"github.com/applink-dev/applink/serve"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// serveProc is a running `applink serve` child process, its JSON log lines
// collected as they come.
type serveProc struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
	err  error // from Wait, once done is closed

	mu    sync.Mutex
	lines []map[string]any
	raw   bytes.Buffer
}

// startServe starts `applink serve --log-format json --listen 127.0.0.1:0
// ARGS…` and waits for it to say where it listens.
func startServe(t *testing.T, bin string, args ...string) *serveProc {
	t.Helper()
	return startServeEnv(t, bin, os.Environ(), args...)
}

// startServeEnv is startServe with the process's environment.
func startServeEnv(t *testing.T, bin string, env []string, args ...string) *serveProc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--log-format", "json", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(env, "CI=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProc{cmd: cmd, done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m map[string]any
			p.mu.Lock()
			p.raw.Write(sc.Bytes())
			p.raw.WriteByte('\n')
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				p.lines = append(p.lines, m)
			}
			p.mu.Unlock()
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("serve %v log:\n%s", args, p.log())
		}
	})
	l := p.wait(t, 60*time.Second, "the serving line", func(m map[string]any) bool { return m["msg"] == "serving" })
	p.url = strings.TrimSuffix(l["url"].(string), "/")
	return p
}

func (p *serveProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.raw.String()
}

// matching returns the log lines matching pred so far.
func (p *serveProc) matching(pred func(map[string]any) bool) []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []map[string]any
	for _, m := range p.lines {
		if pred(m) {
			out = append(out, m)
		}
	}
	return out
}

// waitN waits for n log lines matching pred and returns them.
func (p *serveProc) waitN(t *testing.T, n int, d time.Duration, what string, pred func(map[string]any) bool) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if got := p.matching(pred); len(got) >= n {
			return got
		}
		select {
		case <-p.done:
			t.Fatalf("serve exited (%v) before %s:\n%s", p.err, what, p.log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s:\n%s", what, d, p.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *serveProc) wait(t *testing.T, d time.Duration, what string, pred func(map[string]any) bool) map[string]any {
	t.Helper()
	return p.waitN(t, 1, d, what, pred)[0]
}

// signal sends sig and waits for the process to exit; it returns the exit
// code (-1 when a signal ended it).
func (p *serveProc) signal(t *testing.T, sig syscall.Signal) int {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not exit within 60 s of %v:\n%s", sig, p.log())
	}
	return p.cmd.ProcessState.ExitCode()
}

func msgIs(msg string) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["msg"] == msg }
}

func isRunEnd(m map[string]any) bool {
	s, _ := m["msg"].(string)
	return strings.HasPrefix(s, "run finished") || strings.HasPrefix(s, "run interrupted") || strings.HasPrefix(s, "run failed") || strings.HasPrefix(s, "run not started")
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// demoSpecs makes demo data and returns a function writing a spec folder
// over it.
func demoSpecs(t *testing.T, calls int) func(name string) string {
	t.Helper()
	root := t.TempDir()
	data := filepath.Join(root, "data")
	opt := demogen.Options{Calls: calls, BDFields: 8, Seed: 11}
	if _, err := demogen.Generate(data, opt); err != nil {
		t.Fatal(err)
	}
	return func(name string) string {
		dir := filepath.Join(root, name)
		if err := demogen.WriteSpec(dir, data, opt); err != nil {
			t.Fatal(err)
		}
		return dir
	}
}

// resultOf renders what a spec's runs produced: the outbox files and the
// state ledger (not the run history: serve runs a spec many times).
func resultOf(t *testing.T, dir string) string {
	t.Helper()
	return outboxAndLedger(t, dir, false)
}

// lastRunSummary reads the state's last run's summary counts: "entity/state/reason" -> rows.
func lastRunSummary(t *testing.T, dir string) (runID string, rows map[string]int) {
	t.Helper()
	st, err := duckstate.Open(context.Background(), filepath.Join(dir, ".applink", "state.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.Runs(context.Background())
	if err != nil || len(runs) == 0 {
		t.Fatalf("runs: %v (%d)", err, len(runs))
	}
	last := runs[len(runs)-1]
	rows = map[string]int{}
	for entity, m := range map[string]map[string]int{"agent": stateReasons(&last.Record.Agents), "call": stateReasons(&last.Record.Calls)} {
		for k, n := range m {
			rows[entity+"/"+k] = n
		}
	}
	return last.RunID, rows
}

// ledgerCounts counts the state ledger by "entity/state/reason".
func ledgerCounts(t *testing.T, dir string) map[string]int {
	t.Helper()
	st, err := duckstate.Open(context.Background(), filepath.Join(dir, ".applink", "state.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	out := map[string]int{}
	err = st.Ledger(context.Background(), func(r state.LedgerRow) error {
		out[r.Entity+"/"+r.State+"/"+r.Reason]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestServeRunsOnScheduleWithMetricsAndPage: serve runs a demo spec on a
// short --every (overriding the spec's schedule), logs each run as one
// line, answers /healthz and /readyz, its /metrics parse with the
// Prometheus text parser and count what the run's summary counts, the
// status page shows the state's numbers in headless Chromium, and SIGTERM
// exits 0.
func TestServeRunsOnScheduleWithMetricsAndPage(t *testing.T) {
	bin := applinkBinary(t)
	dir := demoSpecs(t, 2000)("spec")
	// The spec says every hour; --every overrides it, or the test sees one run.
	if err := os.WriteFile(filepath.Join(dir, "schedule.hcl"), []byte("schedule {\n  every = \"1h\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, bin, "--every", "700ms", dir)
	ends := p.waitN(t, 2, 90*time.Second, "two finished runs", msgIs("run finished"))
	first, second := ends[0], ends[1]
	for _, l := range ends[:2] {
		if l["outcome"] != "ok" || l["spec"] != dir {
			t.Errorf("run line: %v", l)
		}
	}
	if sent := second["sent"].(map[string]any)["calls"].(float64); sent != 0 {
		t.Errorf("the second run sent %v calls, want 0 (incremental)", sent)
	}
	imported := first["calls"].(map[string]any)["imported"].(float64)
	if got := first["sent"].(map[string]any)["calls"].(float64); got != imported || imported == 0 {
		t.Errorf("first run sent %v calls, imported %v", got, imported)
	}

	if code, body := httpGet(t, p.url+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := httpGet(t, p.url+"/readyz"); code != 200 || !strings.HasPrefix(body, "ready\n") || !strings.Contains(body, "last run ok") {
		t.Errorf("/readyz: %d %q", code, body)
	}

	code, body := httpGet(t, p.url+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse as Prometheus text: %v", err)
	}
	metricRows := map[string]int{}
	for _, m := range fams["applink_rows"].GetMetric() {
		l := map[string]string{}
		for _, lp := range m.GetLabel() {
			l[lp.GetName()] = lp.GetValue()
		}
		if l["spec"] != dir {
			t.Errorf("applink_rows with spec %q", l["spec"])
		}
		metricRows[l["entity"]+"/"+l["state"]+"/"+l["reason"]] = int(m.GetGauge().GetValue())
	}
	for _, name := range []string{"applink_run_duration_seconds", "applink_runs_total", "applink_lag_seconds", "applink_lock_held"} {
		if fams[name] == nil {
			t.Errorf("no %s in /metrics", name)
		}
	}
	if lag := fams["applink_lag_seconds"].GetMetric()[0].GetGauge().GetValue(); lag <= 0 {
		t.Errorf("lag %v", lag)
	}

	// The status page in headless Chromium (no script: --dump-dom is the
	// server's HTML as the browser parsed it) and a screenshot of it.
	dom, shot := chromiumPage(t, p.url+"/")

	if code := p.signal(t, syscall.SIGTERM); code != 0 {
		t.Errorf("SIGTERM: exit %d, want 0", code)
	}
	p.wait(t, time.Second, "the stopped line", func(m map[string]any) bool { return strings.HasPrefix(m["msg"].(string), "stopped") })

	// Every run has the same counts (the source does not change), so the
	// metrics equal the state's last run summary, reason by reason.
	_, want := lastRunSummary(t, dir)
	if fmt.Sprint(metricRows) != fmt.Sprint(want) {
		t.Errorf("applink_rows differ from the run's summary:\nmetrics %v\nsummary %v", metricRows, want)
	}
	var logged float64
	for k, n := range want {
		if strings.HasPrefix(k, "call/imported/") {
			logged += float64(n)
		}
	}
	if logged != imported {
		t.Errorf("logged %v imported calls, summary %v", imported, logged)
	}

	if dom == "" {
		return // no Chromium here (skipped above with the reason)
	}
	ledger := ledgerCounts(t, dir)
	page := pageValues(dom)
	total := map[string]int{}
	for k, n := range ledger {
		parts := strings.SplitN(k, "/", 3)
		total[parts[0]+"s."+parts[1]] += n
		total[parts[0]+"s.total"] += n
		if got, ok := page["rows."+parts[0]+"."+parts[1]+"."+parts[2]]; !ok || got != strconv.Itoa(n) {
			t.Errorf("page row %s = %q, state ledger %d", k, got, n)
		}
	}
	for _, k := range []string{"agents.total", "agents.imported", "agents.excluded", "agents.failed", "calls.total", "calls.imported", "calls.excluded", "calls.failed"} {
		if page[k] != strconv.Itoa(total[k]) {
			t.Errorf("page %s = %q, state ledger %d", k, page[k], total[k])
		}
	}
	if !strings.Contains(page["lag"], "newest imported call started") || page["ready"] != "ready" {
		t.Errorf("page lag %q ready %q", page["lag"], page["ready"])
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 300 {
		t.Errorf("screenshot %v", b)
	}
}

var dataK = regexp.MustCompile(`data-k="([^"]+)"[^>]*>([^<]*)<`)

// pageValues reads the page's data-k="NAME">VALUE< cells.
func pageValues(dom string) map[string]string {
	out := map[string]string{}
	for _, m := range dataK.FindAllStringSubmatch(dom, -1) {
		out[m[1]] = strings.TrimSpace(m[2])
	}
	return out
}

// chromiumPage loads url in headless Chromium and returns the DOM and a PNG
// screenshot. Without Chromium it skips, except where CI requires it
// (reporttest.EnvRequireChromium).
func chromiumPage(t *testing.T, url string) (dom string, shot []byte) {
	t.Helper()
	bin := reporttest.LookChromium(t)
	if bin == "" {
		return "", nil
	}
	dom = string(reporttest.RunChromium(t, bin, "--dump-dom", url))
	path := filepath.Join(t.TempDir(), "status.png")
	reporttest.RunChromium(t, bin, "--screenshot="+path, "--window-size=1200,1600", url)
	shot, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("chromium wrote no screenshot: %v", err)
	}
	if d := os.Getenv("APPLINK_TEST_SCREENSHOTS"); d != "" {
		_ = os.WriteFile(filepath.Join(d, "serve-status.png"), shot, 0o644)
	}
	return dom, shot
}

// TestServeSIGTERMMidRun: SIGTERM in the middle of a run stops it at a
// batch boundary with exit 0 and nothing committed, the log says the state
// is consistent, and a later `applink run` sends what the interrupted run
// did not commit: outbox and ledger end equal to one uninterrupted run's.
func TestServeSIGTERMMidRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 60000-call spec several times")
	}
	bin := applinkBinary(t)
	spec := demoSpecs(t, 60000)
	run := func(dir string, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(bin, append(append([]string{"run"}, args...), dir)...)
		cmd.Env = append(os.Environ(), "CI=")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("applink run %s: %v\n%s", dir, err, out)
		}
		return out
	}
	ref := spec("reference")
	start := time.Now()
	run(ref, "--quiet")
	refTime := time.Since(start)
	want := resultOf(t, ref)

	// The SIGTERM must land mid-run: after "run started", at a third of an
	// uninterrupted run's time, shorter on each try if the run was faster.
	for try, delay := 0, refTime/3; try < 4; try, delay = try+1, delay/3 {
		dir := spec(fmt.Sprintf("try%d", try))
		p := startServe(t, bin, "--every", "1h", dir)
		p.wait(t, 60*time.Second, "run started", msgIs("run started"))
		time.Sleep(delay)
		if code := p.signal(t, syscall.SIGTERM); code != 0 {
			t.Fatalf("SIGTERM: exit %d, want 0", code)
		}
		ends := p.matching(isRunEnd)
		if len(ends) != 1 {
			t.Fatalf("%d run lines, want 1", len(ends))
		}
		if ends[0]["outcome"] == "ok" {
			t.Logf("try %d: the run finished within %s, before SIGTERM; trying earlier", try, delay)
			continue
		}
		end := ends[0]
		if end["outcome"] != "interrupted" || end["why"] != "shutdown" {
			t.Fatalf("interrupted run line: %v", end)
		}
		if st, _ := end["state"].(string); !strings.HasPrefix(st, "no state file yet") && !strings.HasPrefix(st, "unchanged") {
			t.Errorf("the log does not say the state is unchanged: %q", st)
		}
		if len(p.matching(func(m map[string]any) bool { return strings.HasPrefix(m["msg"].(string), "stopped") })) != 1 {
			t.Error("no stopped line")
		}
		t.Logf("SIGTERM landed %s into the run (an uninterrupted run: %s)", delay, refTime)

		var sum struct {
			Sent  struct{ Calls int } `json:"sent"`
			Calls map[string]int      `json:"calls"`
		}
		if err := json.Unmarshal(run(dir, "--quiet", "--format", "json"), &sum); err != nil {
			t.Fatal(err)
		}
		imported := sum.Calls["imported/"] + sum.Calls["imported/agent_unmapped"]
		if sum.Sent.Calls != imported || imported == 0 {
			t.Errorf("the run after the interrupted one sent %d calls of %d imported: it must send all that was not committed", sum.Sent.Calls, imported)
		}
		if got := resultOf(t, dir); got != want {
			t.Errorf("after SIGTERM and a later run, the result differs from an uninterrupted run:\n%s", diffSnap(want, got))
		}
		return
	}
	t.Fatalf("the SIGTERM never landed mid-run (an uninterrupted run takes %s)", refTime)
}

// TestServeStandbyFileLock: with the DuckDB state and no lock DSN, a second
// serve on the same folder waits as a standby (the file lock), says so on
// /readyz, and takes over when the first is killed; never both at once.
func TestServeStandbyFileLock(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a serve process")
	}
	standbyScenario(t, nil, nil)
}

// TestServeStandbyPostgres: two serve processes contend for a spec's
// PostgreSQL advisory lock; exactly one holds it and runs; SIGKILL the
// holder and the other runs the spec within 30 s; never both at once.
func TestServeStandbyPostgres(t *testing.T) {
	dsn := statetest.BaseDSN(t)
	standbyScenario(t, []string{"--lock-dsn", dsn}, func(t *testing.T, dir string) {
		// One granted advisory lock on the spec's key, whoever holds it.
		n := pgAdvisoryHolders(t, dsn, dir)
		if n != 1 {
			t.Errorf("%d sessions hold the spec's advisory lock, want 1", n)
		}
	})
}

// standbyScenario starts serve A, then B on the same spec, checks B waits,
// SIGKILLs A mid-run and checks B takes over within 30 s and that their
// runs never overlapped; then B's result equals an uninterrupted run's.
func standbyScenario(t *testing.T, extra []string, whileBoth func(t *testing.T, dir string)) {
	bin := applinkBinary(t)
	spec := demoSpecs(t, 20000)
	ref := spec("reference")
	if out, err := exec.Command(bin, "run", "--quiet", ref).CombinedOutput(); err != nil {
		t.Fatalf("reference run: %v\n%s", err, out)
	}
	want := resultOf(t, ref)
	dir := spec("spec")
	args := append(append([]string{"--every", "300ms", "--poll", "200ms"}, extra...), dir)

	a := startServe(t, bin, args...)
	a.wait(t, 60*time.Second, "A's first run", msgIs("run finished"))
	b := startServe(t, bin, args...)
	sb := b.wait(t, 60*time.Second, "B standing by", func(m map[string]any) bool {
		return strings.HasPrefix(m["msg"].(string), "standby")
	})
	if h, _ := sb["holder"].(string); !strings.Contains(h, fmt.Sprintf("pid %d", a.cmd.Process.Pid)) {
		t.Errorf("the standby names holder %q, want A (pid %d)", h, a.cmd.Process.Pid)
	}
	code, body := httpGet(t, b.url+"/readyz")
	if code != 200 || !strings.Contains(body, "standby: run by") {
		t.Errorf("B /readyz: %d %q", code, body)
	}
	if whileBoth != nil {
		whileBoth(t, dir)
	}
	// A keeps running while B waits: kill A just after one of its runs
	// starts, so the kill lands mid-run.
	n := len(a.matching(msgIs("run started")))
	a.waitN(t, n+1, 60*time.Second, "A's next run", msgIs("run started"))
	killedAt := time.Now()
	if code := a.signal(t, syscall.SIGKILL); code != -1 {
		t.Fatalf("A was not killed by the signal (exit %d)", code)
	}
	if ws, ok := a.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("A ended by %v, not SIGKILL", a.cmd.ProcessState)
	}
	took := b.wait(t, 30*time.Second, "B taking over within 30 s", func(m map[string]any) bool {
		return strings.HasPrefix(m["msg"].(string), "took over")
	})
	b.wait(t, 60*time.Second, "B's first finished run", msgIs("run finished"))
	t.Logf("B took over %s after the kill", logTime(t, took).Sub(killedAt).Round(time.Millisecond))
	if d := logTime(t, took).Sub(killedAt); d > 30*time.Second {
		t.Errorf("B took over %s after the kill, want within 30 s", d)
	}

	// Never both at once: A's runs all started before the kill, B's all
	// after it, and no run found the state in use.
	for _, l := range a.matching(msgIs("run started")) {
		if logTime(t, l).After(killedAt) {
			t.Errorf("A started a run after it was killed?")
		}
	}
	for _, l := range b.matching(msgIs("run started")) {
		if logTime(t, l).Before(killedAt) {
			t.Errorf("B started a run at %v, before A was killed at %v: both ran", logTime(t, l), killedAt)
		}
	}
	for _, p := range []*serveProc{a, b} {
		if busy := p.matching(func(m map[string]any) bool { return m["outcome"] == "busy" }); len(busy) > 0 {
			t.Errorf("a run found the state in use (two runs at once): %v", busy)
		}
	}
	if code := b.signal(t, syscall.SIGTERM); code != 0 {
		t.Errorf("B SIGTERM: exit %d", code)
	}
	if got := resultOf(t, dir); got != want {
		t.Errorf("after A was killed mid-run and B took over, the result differs from an uninterrupted run:\n%s", diffSnap(want, got))
	}
}

func logTime(t *testing.T, m map[string]any) time.Time {
	t.Helper()
	s, _ := m["time"].(string)
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("log time %q: %v", s, err)
	}
	return tm
}

// pgAdvisoryHolders counts the sessions holding the demo spec's advisory
// lock key.
func pgAdvisoryHolders(t *testing.T, dsn, dir string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	key := serve.LockKey(demogen.DemoCustomer, demogen.DemoCXoneTenant, demogen.DemoSystemID)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
		AND classid::bigint = $1 AND objid::bigint = $2`, int64(uint64(key)>>32), int64(uint64(key)&0xffffffff)).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestServeExitCodes: usage mistakes exit 2, a spec with errors 1, and
// nothing runs before every spec checked out.
func TestServeExitCodes(t *testing.T) {
	root := t.TempDir()
	good := filepath.Join(root, "good")
	broken := filepath.Join(root, "broken")
	for dir, text := range map[string]string{
		good:   "spec {\n  customer = \"a\"\n  cxone_tenant = \"a-eu1\"\n  installed_at = \"2026-11-01T00:00:00Z\"\n}\nsource \"engage\" \"dc1\" {\n  driver = \"snapshot\"\n  path = \"data\"\n  system_id = \"e\"\n}\n",
		broken: "spec {}\n",
	} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := demogen.Generate(filepath.Join(good, "data"), demogen.Options{Calls: 10}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"no folder", nil, exitUsage},
		{"bad log format", []string{"--log-format", "xml", good}, exitUsage},
		{"no schedule", []string{good}, exitUsage},
		{"not a folder", []string{"--every", "1m", filepath.Join(root, "nope")}, exitUsage},
		{"spec errors", []string{"--every", "1m", broken}, exitFindings},
		{"same folder twice", []string{"--every", "1m", good, good + "/"}, exitUsage},
		{"address taken", []string{"--every", "1m", "--listen", "256.0.0.1:1", good}, exitFindings},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := runWith(append([]string{"serve"}, tt.args...), stdio{in: strings.NewReader(""), out: &out, err: &errb})
			if code != tt.want {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.want, errb.String())
			}
			if _, err := os.Stat(filepath.Join(good, ".applink", "state.duckdb")); err == nil {
				t.Errorf("a run happened")
			}
		})
	}
}

// TestServeLockUnreachable: a lock database that cannot be reached keeps
// the spec waiting, /readyz says why with 503, and the password in the DSN
// appears nowhere (log, /readyz, status page).
func TestServeLockUnreachable(t *testing.T) {
	bin := applinkBinary(t)
	dir := demoSpecs(t, 100)("spec")
	t.Setenv(lockDSNEnv, "postgres://applink:s3cret-pw@127.0.0.1:1/state?connect_timeout=2")
	p := startServe(t, bin, "--every", "1m", "--poll", "200ms", dir)
	p.wait(t, 30*time.Second, "the lock error", func(m map[string]any) bool {
		return strings.HasPrefix(m["msg"].(string), "cannot ask for the spec's lock")
	})
	code, ready := httpGet(t, p.url+"/readyz")
	if code != 503 || !strings.Contains(ready, "cannot reach its lock (postgres advisory lock") {
		t.Errorf("/readyz: %d %q", code, ready)
	}
	_, page := httpGet(t, p.url+"/")
	if code := p.signal(t, syscall.SIGTERM); code != 0 {
		t.Errorf("SIGTERM: exit %d", code)
	}
	for what, text := range map[string]string{"log": p.log(), "/readyz": ready, "status page": page} {
		if strings.Contains(text, "s3cret-pw") {
			t.Errorf("the DSN's password is in the %s", what)
		}
	}
	if len(p.matching(msgIs("run started"))) != 0 {
		t.Error("a run started without the lock")
	}
}
