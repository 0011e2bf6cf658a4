package outbox

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// recordFS replaces the outbox's fsync and rename with recorders for the
// test's duration and returns the log: "sync PATH", "rename OLD NEW".
func recordFS(t *testing.T) *[]string {
	t.Helper()
	var log []string
	sync0, rename0 := fsyncFile, renameFile
	fsyncFile = func(f *os.File) error {
		log = append(log, "sync "+f.Name())
		return sync0(f)
	}
	renameFile = func(old, new string) error {
		log = append(log, "rename "+old+" "+new)
		return rename0(old, new)
	}
	t.Cleanup(func() { fsyncFile, renameFile = sync0, rename0 })
	return &log
}

// TestCommitIsDurable checks the order of the file system calls of a
// commit, first run and merge: every file is synced before a rename gives
// it its name, the folder is synced after the rename (a power cut keeps
// the new name), and every outbox file reached its final name that way;
// the staged copy's folder is synced too. A SIGKILL keeps the page cache,
// so the crash tests cannot see a missing fsync: this test does.
func TestCommitIsDurable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first bool
	}{{"first run", true}, {"merge", false}} {
		t.Run(tc.name, func(t *testing.T) {
			dir, stage := t.TempDir(), t.TempDir()
			if !tc.first {
				runCumulative(t, dir, "r0", cumRun{calls: map[string]string{"A": "1"}, ledger: ledgerRows("A")}, "")
			}
			log := recordFS(t)
			runCumulative(t, dir, "r1", cumRun{calls: map[string]string{"B": "2"}, ledger: ledgerRows("B")}, stage)
			checkDurable(t, *log, dir, stage)
		})
	}
}

func checkDurable(t *testing.T, log []string, dir, stage string) {
	t.Helper()
	dirSynced := func(path string, from int) bool {
		return slices.Contains(log[from:], "sync "+path)
	}
	durable := map[string]bool{} // paths whose contents were synced (under this name or an earlier one)
	placed := map[string]bool{}
	for i, op := range log {
		f := strings.Fields(op)
		if f[0] == "sync" {
			durable[f[1]] = true
			continue
		}
		old, new := f[1], f[2]
		if !durable[old] {
			t.Errorf("renamed %s to %s without syncing it first", filepath.Base(old), new)
		}
		durable[new], durable[old] = durable[old], false
		if !dirSynced(filepath.Dir(new), i+1) {
			t.Errorf("renamed %s into %s and never synced the folder after", filepath.Base(new), filepath.Dir(new))
		}
		placed[new] = true
	}
	for _, name := range []string{agentsFile, callsFile, ledgerFile} {
		if p := filepath.Join(dir, name); !placed[p] {
			t.Errorf("%s did not reach its name by a synced rename; the calls were:\n%s", name, strings.Join(log, "\n"))
		}
	}
	if !slices.Contains(log, "sync "+stage) {
		t.Errorf("the staged copy's folder was never synced:\n%s", strings.Join(log, "\n"))
	}
	t.Logf("file system calls:\n%s", strings.Join(log, "\n"))
}
