package main

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/applink-dev/applink/connectors/demogen"
)

// TestShuffledBusinessDataSameResult runs 100 000 calls twice, once with
// business_data.csv as generated (grouped by call, in call order) and once
// with its rows shuffled, which sends the snapshot reader down its sort
// path: the outbox and the state ledger must be the same.
func TestShuffledBusinessDataSameResult(t *testing.T) {
	if testing.Short() {
		t.Skip("two runs of 100 000 calls")
	}
	bin := applinkBinary(t)
	root := t.TempDir()
	opt := demogen.Options{Calls: 100_000, BDFields: 5, Seed: 11}
	ordered, shuffled := filepath.Join(root, "ordered"), filepath.Join(root, "shuffled")
	if _, err := demogen.Generate(ordered, opt); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(shuffled, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{demogen.AgentsFile, demogen.CallsFile} {
		data, err := os.ReadFile(filepath.Join(ordered, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(shuffled, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bd, err := os.ReadFile(filepath.Join(ordered, demogen.BusinessDataFile))
	if err != nil {
		t.Fatal(err)
	}
	// Demo values hold no newlines: a line is a row.
	head, body, _ := bytes.Cut(bd, []byte("\n"))
	lines := bytes.SplitAfter(body, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	if len(lines) < 4*opt.Calls {
		t.Fatalf("only %d business-data rows", len(lines))
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	out := append(append(bytes.Clone(head), '\n'), bytes.Join(lines, nil)...)
	if bytes.Equal(out, bd) {
		t.Fatal("the shuffle changed nothing")
	}
	if err := os.WriteFile(filepath.Join(shuffled, demogen.BusinessDataFile), out, 0o644); err != nil {
		t.Fatal(err)
	}
	result := func(data string) string {
		spec := filepath.Join(root, "spec-"+filepath.Base(data))
		if err := demogen.WriteSpec(spec, data, opt); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "run", "--quiet", spec)
		cmd.Env = append(os.Environ(), "CI=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("run on %s: %v\n%s", filepath.Base(data), err, out)
		}
		return snapshotOf(t, spec)
	}
	want, got := result(ordered), result(shuffled)
	if got != want {
		t.Errorf("shuffled business data gives another result:\n%s", diffSnap(want, got))
	}
}
