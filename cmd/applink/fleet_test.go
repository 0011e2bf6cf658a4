package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/applink-dev/applink/connectors/cxone"
	"github.com/applink-dev/applink/connectors/cxone/cxonetest"
	"github.com/applink-dev/applink/connectors/demogen"
	"github.com/applink-dev/applink/engine/delivery"
	"github.com/applink-dev/applink/engine/state"
	"github.com/applink-dev/applink/engine/state/duckstate"
	"github.com/applink-dev/applink/engine/state/pgstate"
	"github.com/applink-dev/applink/engine/state/statetest"
)

// TestServeAndWorkersFleet is issue 15's integration test: PostgreSQL state,
// two `serve` processes (one active, one standby) and three `worker`
// processes against the fault-injecting CXone receiver. The active serve is
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
	dir := queuedSpec(t, srv.APIURL, srv.URL, calls)

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
	killWorkerMidDelivery(t, workers[0], srv, queued, &workerLogs)
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
