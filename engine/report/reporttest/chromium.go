package reporttest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// EnvRequireChromium names the variable that makes a missing Chromium a
// failure instead of a skip: .ci/run sets it, so the browser checks of the
// report and of serve's status page cannot silently not run in CI.
const EnvRequireChromium = "APPLINK_REQUIRE_CHROMIUM"

// Chromium finds Debian's headless browser, or skips the test (fails with
// EnvRequireChromium set).
func Chromium(t testing.TB) string {
	t.Helper()
	bin := LookChromium(t)
	if bin == "" {
		t.Skipf("chromium is not installed (apt-get install chromium); set %s=1 to make this a failure", EnvRequireChromium)
	}
	return bin
}

// LookChromium is Chromium for a test that goes on without the browser: ""
// (and a log line) when it is missing, a failure when EnvRequireChromium is
// set.
func LookChromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(EnvRequireChromium) != "" {
		t.Fatalf("chromium is not installed and %s is set: apt-get install chromium", EnvRequireChromium)
	}
	t.Logf("chromium is not installed: the browser check is left out (apt-get install chromium; %s=1 makes this a failure)", EnvRequireChromium)
	return ""
}

// RunChromium runs headless Chromium with a fresh profile and background
// networking off (this machine's network is closed), and returns what it
// printed on stdout (the DOM with --dump-dom).
func RunChromium(t testing.TB, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, errOut.Bytes())
	}
	return out.Bytes()
}
