package outbox

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/applink-dev/applink/engine/connector"
)

func ledgerRows(ids ...string) []connector.LedgerRow {
	var out []connector.LedgerRow
	for _, id := range ids {
		out = append(out, connector.LedgerRow{Entity: "call", ID: id, State: connector.StateImported})
	}
	return out
}

// TestOpenRemovesCrashedMerges: what a run killed during its merge leaves
// in the outbox folder (its run folder, a merged file not yet renamed into
// place) is gone after the next run, which writes the same files as if
// nothing had happened; other files are left alone.
func TestOpenRemovesCrashedMerges(t *testing.T) {
	dir := t.TempDir()
	runCumulative(t, dir, "r1", cumRun{calls: map[string]string{"A": "1", "B": "2"}, ledger: ledgerRows("A", "B")}, "")
	left := []string{
		".run-r2/calls.jsonl",
		".calls.jsonl.new-123456",
		".ledger.csv.new-987",
		".agents.csv.new-5",
	}
	for _, f := range left {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("half a merge\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	keep := filepath.Join(dir, "README.txt")
	if err := os.WriteFile(keep, []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runCumulative(t, dir, "r3", cumRun{calls: map[string]string{"B": "3"}, ledger: ledgerRows("B")}, "")
	for _, f := range left {
		if _, err := os.Stat(filepath.Join(dir, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s survived the next run: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".run-r2")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the crashed run's folder survived: %v", err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("a file that is not a leftover was removed: %v", err)
	}
	if got := ids(t, filepath.Join(dir, callsFile)); got != "A=1 B=3" {
		t.Errorf("calls after the merge: %s", got)
	}
}

// TestMergeKeepsModes: a rewritten outbox file keeps its mode: the default
// 0644 stays 0644 (CreateTemp's 0600 must not leak), and a mode the
// operator chose is kept.
func TestMergeKeepsModes(t *testing.T) {
	dir := t.TempDir()
	runCumulative(t, dir, "r1", cumRun{calls: map[string]string{"A": "1"}, ledger: ledgerRows("A")}, "")
	if err := os.Chmod(filepath.Join(dir, ledgerFile), 0o640); err != nil {
		t.Fatal(err)
	}
	want := map[string]os.FileMode{}
	for _, f := range []string{agentsFile, callsFile, ledgerFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		want[f] = fi.Mode().Perm()
	}
	if want[callsFile]&0o044 == 0 {
		t.Fatalf("a first run wrote %s with mode %v: not readable by others (umask?)", callsFile, want[callsFile])
	}
	runCumulative(t, dir, "r2", cumRun{calls: map[string]string{"B": "2"}, ledger: ledgerRows("B")}, "")
	for f, m := range want {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != m {
			t.Errorf("%s: mode %v after a merge, was %v", f, fi.Mode().Perm(), m)
		}
	}
}

// TestReplaceFileFailureLeavesNothing: a write that fails leaves the old
// file as it was and no temp file beside it.
func TestReplaceFileFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, callsFile)
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := replaceFile(path, func(w *bufio.Writer) error {
		w.WriteString("new, half\n")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("replaceFile: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old\n" {
		t.Errorf("the old file changed: %q", b)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, tempPattern(callsFile))); len(m) != 0 {
		t.Errorf("temp files left: %v", m)
	}
}

// TestRemoveCallsClearsItsOwnLeftovers: a purge that died while rewriting a
// staged file left its temp file; the next purge of that folder removes it.
func TestRemoveCallsClearsItsOwnLeftovers(t *testing.T) {
	stage := t.TempDir()
	runCumulative(t, t.TempDir(), "r1", cumRun{calls: map[string]string{"A": "1", "B": "2"}, ledger: ledgerRows("A", "B")}, stage)
	stale := filepath.Join(stage, ".calls.jsonl.new-42")
	if err := os.WriteFile(stale, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := RemoveCalls(stage, map[string]bool{"A": true})
	if err != nil || n != 1 {
		t.Fatalf("RemoveCalls: %d %v", n, err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dead purge's temp file survived: %v", err)
	}
	if got := ids(t, filepath.Join(stage, callsFile)); got != "B=2" {
		t.Errorf("staged calls after the purge: %s", got)
	}
}
