package tui_test

import (
	"flag"
	"os/exec"
	"testing"
)

// TestSmoke runs smoke.sh: the real binary in a real terminal (tmux). With
// -update it also rewrites testdata/screen.txt.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and drives it in tmux")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed")
	}
	args := []string{"smoke.sh"}
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		args = append(args, "--save")
	}
	out, err := exec.Command("bash", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("smoke.sh: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
