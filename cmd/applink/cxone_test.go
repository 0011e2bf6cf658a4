package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
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
	"github.com/applink-dev/applink/engine/state"
)

func cxoneSpec(t *testing.T, srvURL string, calls int) string {
	t.Helper()
	root := t.TempDir()
	opt := demogen.Options{Calls: calls, BDFields: 6, Seed: 3, MediaFiles: true}
	if _, err := demogen.Generate(filepath.Join(root, "data"), opt); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "spec")
	if err := demogen.WriteSpec(dir, filepath.Join(root, "data"), opt); err != nil {
		t.Fatal(err)
	}
	sink := fmt.Sprintf("sink \"cxone\" {\n  api_url             = %q\n  auth_url            = %q\n  concurrency         = 8\n  requests_per_second = 2000\n  timeout             = \"1s\"\n}\n", srvURL, srvURL)
	if err := os.WriteFile(filepath.Join(dir, "sink.hcl"), []byte(sink), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestCXoneKillResume runs against a fault-injecting CXone server, SIGKILLs
// the run at random moments and resumes: every imported call reaches the
// server exactly once per idempotency key, and no secret is ever printed.
func TestCXoneKillResume(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes against a local server")
	}
	srv := cxonetest.New(cxonetest.Config{
		AccessKeyID: "AKID-applink", AccessKeySecret: "s3cr3t-access", ClientID: "client-applink", ClientSecret: "s3cr3t-client",
		Faults: func(n int, r *http.Request) cxonetest.Fault {
			switch {
			case n%41 == 0:
				return cxonetest.Fault{Kind: cxonetest.ServerError}
			case n%67 == 0:
				return cxonetest.Fault{Kind: cxonetest.Drop}
			case n%97 == 0:
				return cxonetest.Fault{Kind: cxonetest.TooManyRequests, RetryAfter: "0"}
			}
			return cxonetest.Fault{}
		},
	})
	defer srv.Close()
	bin := applinkBinary(t)
	dir := cxoneSpec(t, srv.URL, 1500)
	var outputs bytes.Buffer
	run := func() *exec.Cmd {
		cmd := exec.Command(bin, "run", "--quiet", dir)
		cmd.Env = append(os.Environ(), srv.Environ()...)
		cmd.Stdout, cmd.Stderr = &outputs, &outputs
		return cmd
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for k := range 5 {
		cmd := run()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(1500+rng.IntN(6000)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		t.Logf("kill %d: server has %d calls", k, len(srv.Calls()))
	}
	outputs.Reset()
	if err := run().Run(); err != nil {
		t.Fatalf("final run: %v\n%s", err, outputs.String())
	}
	t.Logf("final run:\n%s", outputs.String())
	// The ledger says which calls are imported; the server must have each once.
	st, err := state.Open(context.Background(), filepath.Join(dir, ".applink", "state.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	imported := 0
	writes := srv.Writes()
	got := srv.Calls()
	err = st.Ledger(context.Background(), func(r state.LedgerRow) error {
		if r.Entity != "call" || r.State != "imported" {
			return nil
		}
		imported++
		if _, ok := got[r.ID]; !ok {
			t.Errorf("call %s is imported in the ledger but the server never got it", r.ID)
		}
		if n := writes["call:"+cxone.IdempotencyKey("engage-demo", r.ID)]; n != 1 {
			t.Errorf("call %s written %d times", r.ID, n)
		}
		return nil
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if imported == 0 || len(got) != imported {
		t.Errorf("ledger imported %d calls, server holds %d", imported, len(got))
	}
	for k, n := range writes {
		if n != 1 {
			t.Errorf("%s applied %d times", k, n)
		}
	}
	for _, s := range srv.Secrets() {
		if strings.Contains(outputs.String(), s) {
			t.Errorf("a secret appears in applink's output")
		}
	}
	// A second run sends nothing.
	outputs.Reset()
	before := len(srv.Requests())
	if err := run().Run(); err != nil || !strings.Contains(outputs.String(), "sent: nothing") {
		t.Errorf("second run: %v\n%s", err, outputs.String())
	}
	for _, r := range srv.Requests()[before:] {
		if !strings.HasSuffix(r.Path, "/auth/token") {
			t.Errorf("second run sent %s %s", r.Method, r.Path)
		}
	}
}

// TestCXoneDryRun: --dry-run authenticates nothing, sends nothing, prints the
// requests and leaves no state.
func TestCXoneDryRun(t *testing.T) {
	dir := cxoneSpec(t, "https://api-eu1.niceincontact.com", 50)
	var out, errb bytes.Buffer
	code := run([]string{"run", "--dry-run", dir}, nil, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"POST https://api-eu1.niceincontact.com/applink/v1/calls", "Idempotency-Key", "dry run: nothing was sent"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry run output lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".applink", "state.duckdb")); err == nil {
		t.Error("a dry run created a state file")
	}
}
