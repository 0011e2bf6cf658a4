package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/applink-dev/applink/connectors/cxone"
	"github.com/applink-dev/applink/connectors/cxone/cxonetest"
	"github.com/applink-dev/applink/engine/killpoint"
	"github.com/applink-dev/applink/engine/state/statetest"
)

// TestKillPointsDelivery kills a delivery worker at each kill point of a
// delivery (CXone answered but the ledger not yet updated; the ledger
// updated but the job not yet completed), at its fifth delivery. Right
// after the kill the state claims no call the receiver lacks; then another
// worker delivers the rest (River rescues the killed worker's job), and
// every call is at the receiver, each write applied once per idempotency
// key, the ledger equals a single-process outbox run's, nothing is left
// queued, and one more run sends nothing.
func TestKillPointsDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("kills worker processes and waits for River's rescuer")
	}
	statetest.BaseDSN(t)
	bin := applinkBinary(t)
	const calls = 120
	var points []string
	for _, p := range killpoint.Points {
		if p.Delivery {
			points = append(points, p.Name)
		}
	}
	if len(points) == 0 {
		t.Fatal("no delivery kill points declared")
	}
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			dsn := statetest.DSN(t)
			srv := cxonetest.New(cxonetest.Config{AccessKeyID: "AKID-applink", AccessKeySecret: "s3cr3t-access", ClientID: "client-applink", ClientSecret: "s3cr3t-client"})
			defer srv.Close()
			dir := queuedSpec(t, srv.APIURL, srv.URL, calls)
			// A state key of its own: runs and serve hold an advisory lock on
			// it, per database, and other tests' specs share the database.
			blocks, err := os.ReadFile(filepath.Join(dir, "queued.hcl"))
			if err != nil {
				t.Fatal(err)
			}
			keyed := strings.Replace(string(blocks), "dsn    = env(\"APPLINK_STATE_DSN\")\n", "dsn    = env(\"APPLINK_STATE_DSN\")\n  key    = \""+pgKey(dsn)+"\"\n", 1)
			if keyed == string(blocks) {
				t.Fatalf("queuedSpec's state block changed: %s", blocks)
			}
			if err := os.WriteFile(filepath.Join(dir, "queued.hcl"), []byte(keyed), 0o644); err != nil {
				t.Fatal(err)
			}
			env := append(append(os.Environ(), srv.Environ()...), "APPLINK_STATE_DSN="+dsn, "CI=")

			// The reference: the same data, one process, outbox, DuckDB state.
			ref := filepath.Join(filepath.Dir(dir), "ref")
			if err := os.CopyFS(ref, os.DirFS(dir)); err != nil {
				t.Fatal(err)
			}
			os.Remove(filepath.Join(ref, "queued.hcl"))
			if out, err := exec.Command(bin, "run", "--quiet", ref).CombinedOutput(); err != nil {
				t.Fatalf("reference run: %v\n%s", err, out)
			}
			refState := duckState(t, ref)
			want := ledgerText(t, refState)
			refState.Close()

			run := exec.Command(bin, "run", "--quiet", dir)
			run.Env = env
			if out, err := run.CombinedOutput(); err != nil || !strings.Contains(string(out), "queued for delivery") {
				t.Fatalf("run: %v\n%s", err, out)
			}

			// A worker armed to die at the point, at its fifth delivery.
			trace := filepath.Join(t.TempDir(), "worker.trace")
			kill := point + ":5"
			var logs bytes.Buffer
			w := exec.Command(bin, "worker", "--concurrency", "1", "--poll-every", "100ms", "--job-timeout", "2s", "--rescue-after", "3s")
			w.Env = append(env, killpoint.EnvKill+"="+kill, killpoint.EnvTrace+"="+trace)
			w.Stdout, w.Stderr = &logs, &logs
			if err := w.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- w.Wait() }()
			select {
			case err := <-exited:
				var exit *exec.ExitError
				if !errors.As(err, &exit) || !exit.Sys().(syscall.WaitStatus).Signaled() {
					t.Fatalf("the worker ended without being killed: %v\n%s", err, logs.String())
				}
			case <-time.After(90 * time.Second):
				w.Process.Kill()
				<-exited
				t.Fatalf("the worker never reached %s:\n%s", kill, logs.String())
			}
			if tr := traceOf(t, trace); len(tr) == 0 || tr[len(tr)-1] != "kill:"+kill {
				t.Fatalf("the worker did not die at %s; its trace: %v", kill, tr)
			}
			st := pgState(t, dsn)
			defer st.Close()
			atKill := srv.Calls()
			for _, id := range importedIn(t, st) {
				if _, ok := atKill[id]; !ok {
					t.Errorf("killed at %s: the ledger says call %s is imported, the receiver does not hold it", kill, id)
				}
			}
			t.Logf("killed at %s with %d calls at the receiver", kill, len(atKill))

			// Another worker delivers the rest, the killed one's job included.
			var more syncBuffer
			startWorkers(t, bin, env, 1, &more)
			waitQueueDrained(t, st, 120*time.Second, &more)
			if got := ledgerText(t, st); got != want {
				t.Errorf("the ledger differs from a single-process outbox run's:\n%s", diffLines(want, got))
			}
			got, writes := srv.Calls(), srv.Writes()
			imported := importedIn(t, st)
			for _, id := range imported {
				if _, ok := got[id]; !ok {
					t.Errorf("call %s is imported but the receiver never got it", id)
				}
				if n := writes["call:"+cxone.IdempotencyKey("engage-demo", id)]; n != 1 {
					t.Errorf("call %s written %d times", id, n)
				}
			}
			if len(got) != len(imported) {
				t.Errorf("the receiver holds %d calls, the ledger imported %d", len(got), len(imported))
			}
			for k, n := range writes {
				if n != 1 {
					t.Errorf("%s applied %d times", k, n)
				}
			}
			again := exec.Command(bin, "run", "--quiet", dir)
			again.Env = env
			if out, err := again.CombinedOutput(); err != nil || !strings.Contains(string(out), "sent: nothing") {
				t.Errorf("the run after the deliveries sent something (%v):\n%s", err, out)
			}
		})
	}
}
