package delivery

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/state/statetest"
)

// helperEnv makes the test binary a worker process whose sink hangs in
// the middle of a delivery, after writing a marker file: the test kills it
// there.
const (
	helperEnv    = "APPLINK_DELIVERY_HELPER_MARKER"
	helperDSNEnv = "APPLINK_DELIVERY_HELPER_DSN"
)

func helperWorker() int {
	marker := os.Getenv(helperEnv)
	rec := newRecorder()
	rec.onCall = func(id string) {
		os.WriteFile(marker, []byte(id), 0o644)
		select {} // hang mid-delivery until killed
	}
	err := Run(context.Background(), Config{DSN: os.Getenv(helperDSNEnv), Registry: rec.registry(), PollEvery: 50 * time.Millisecond,
		JobTimeout: time.Second, RescueAfter: 2 * time.Second})
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		return 1
	}
	return 0
}

// A worker killed (SIGKILL) in the middle of a delivery leaves its job
// running; River's rescuer hands it to another worker, which delivers it
// and settles the row.
func TestKilledWorkersDeliveryIsRescued(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for River's rescuer and leader election (about 30 s)")
	}
	dsn := statetest.DSN(t)
	st := queueCalls(t, dsn, "r1", 1, 5)
	marker := filepath.Join(t.TempDir(), "picked")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+marker, helperDSNEnv+"="+dsn)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(marker); err == nil && string(b) == "c0" {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the helper worker never picked the job")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the kill did not land: %v", err)
	}
	if js := jobStates(t, st); js["running"] != 1 {
		t.Fatalf("jobs after the kill %v, want the delivery still running", js)
	}
	if r := ledgerOf(t, st)["c0"]; r.State != connector.StateQueued {
		t.Fatalf("row after the kill %+v, want queued", r)
	}

	rec := newRecorder()
	startWorker(t, Config{DSN: dsn, Registry: rec.registry(), JobTimeout: time.Second, RescueAfter: 2 * time.Second})
	waitSettled(t, st, 90*time.Second)
	if rec.count("c0") != 1 {
		t.Errorf("the rescued call was delivered %d times by the second worker", rec.count("c0"))
	}
	if r := ledgerOf(t, st)["c0"]; r.State != connector.StateImported {
		t.Errorf("row %+v, want imported", r)
	}
	var attempt int
	st.Pool().QueryRow(context.Background(), `SELECT attempt FROM river_job`).Scan(&attempt)
	if attempt != 2 {
		t.Errorf("the job ended at attempt %d, want 2 (killed, then rescued)", attempt)
	}
}
