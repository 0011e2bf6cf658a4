package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/applink-dev/applink/connectors/demogen"
	"github.com/applink-dev/applink/engine/state"
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

// TestCrashResume SIGKILLs real `applink run` processes at random moments,
// runs again, and checks the outbox and the state ledger equal those of one
// uninterrupted run: nothing lost, nothing written twice.
func TestCrashResume(t *testing.T) {
	if testing.Short() {
		t.Skip("kills 20 child processes")
	}
	bin := applinkBinary(t)
	root := t.TempDir()
	data := filepath.Join(root, "data")
	opt := demogen.Options{Calls: 30000, BDFields: 12, Seed: 7}
	if _, err := demogen.Generate(data, opt); err != nil {
		t.Fatal(err)
	}
	spec := func(name string) string {
		dir := filepath.Join(root, name, "spec")
		if err := demogen.WriteSpec(dir, data, opt); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	run := func(dir string) *exec.Cmd {
		cmd := exec.Command(bin, "run", "--quiet", dir)
		cmd.Env = append(os.Environ(), "CI=")
		return cmd
	}

	ref := spec("reference")
	start := time.Now()
	if out, err := run(ref).CombinedOutput(); err != nil {
		t.Fatalf("reference run: %v\n%s", err, out)
	}
	refTime := time.Since(start)
	want := snapshotOf(t, ref)

	rng := rand.New(rand.NewPCG(1, 2))
	const kills = 20
	killed := 0
	for k := range kills {
		dir := spec(fmt.Sprintf("k%02d", k))
		// Kill points spread over the whole run, commit included.
		delay := time.Duration(rng.Int64N(int64(refTime) * 11 / 10))
		cmd := run(dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		if err := cmd.Process.Signal(syscall.SIGKILL); err == nil {
			killed++
		}
		_ = cmd.Wait()
		if out, err := run(dir).CombinedOutput(); err != nil {
			t.Fatalf("kill %d (after %s): resume failed: %v\n%s", k, delay, err, out)
		}
		if got := snapshotOf(t, dir); got != want {
			t.Errorf("kill %d after %s of ~%s: result differs from an uninterrupted run:\n%s", k, delay, refTime, diffSnap(want, got))
		}
	}
	t.Logf("%d kills landed (reference run %s)", killed, refTime)

	// And a second run over the same source sends nothing.
	out, err := run(ref).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "sent: nothing") {
		t.Errorf("second run: %v\n%s", err, out)
	}
	if got := snapshotOf(t, ref); got != want {
		t.Errorf("second run changed the result:\n%s", diffSnap(want, got))
	}
}

// snapshotOf renders a spec's outbox files and state ledger (without run ids)
// as one comparable text.
func snapshotOf(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	for _, f := range []string{"agents.csv", "calls.jsonl", "ledger.csv"} {
		data, err := os.ReadFile(filepath.Join(dir, ".applink", "outbox", f))
		if err != nil {
			t.Fatalf("outbox: %v", err)
		}
		fmt.Fprintf(&b, "== %s %d lines sha256 %x\n", f, bytes.Count(data, []byte{'\n'}), sha256.Sum256(data))
	}
	st, err := state.Open(context.Background(), filepath.Join(dir, ".applink", "state.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := sha256.New()
	n := 0
	err = st.Ledger(context.Background(), func(r state.LedgerRow) error {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%v\n", r.Entity, r.ID, r.State, r.Reason, r.Active)
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "== state ledger %d rows sha256 %x\n", n, h.Sum(nil))
	return b.String()
}

func diffSnap(want, got string) string { return "want:\n" + want + "got:\n" + got }
