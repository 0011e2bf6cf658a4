package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/applink-dev/applink/connectors/cxone"
	"github.com/applink-dev/applink/connectors/cxone/cxonetest"
	"github.com/applink-dev/applink/connectors/demogen"
	"github.com/applink-dev/applink/engine/state"
	"github.com/applink-dev/applink/engine/state/duckstate"
)

// cxoneSpec writes demo data and a spec whose sink block is sink.
func cxoneSpec(t *testing.T, sink string, calls int) string {
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
	if err := os.WriteFile(filepath.Join(dir, "sink.hcl"), []byte(sink), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// sinkBlock points a cxone sink at srv: its issuer always, its API host only
// when withAPI (else the run discovers it).
func sinkBlock(srv *cxonetest.Server, withAPI bool) string {
	api := ""
	if withAPI {
		api = fmt.Sprintf("  api_url             = %q\n", srv.APIURL)
	}
	return fmt.Sprintf("sink \"cxone\" {\n%s  auth_url            = %q\n  concurrency         = 8\n  requests_per_second = 2000\n  timeout             = \"1s\"\n}\n", api, srv.URL)
}

// noSecret fails when any of srv's secrets appears in out.
func noSecret(t *testing.T, what, out string, srv *cxonetest.Server) {
	t.Helper()
	for _, s := range srv.Secrets() {
		if strings.Contains(out, s) {
			t.Errorf("%s: a secret (%.4s…) appears in applink's output", what, s)
		}
	}
}

// applinkCmd is `applink run --quiet DIR` against srv, output in out.
func applinkCmd(bin, dir string, srv *cxonetest.Server, out *bytes.Buffer) *exec.Cmd {
	cmd := exec.Command(bin, "run", "--quiet", dir)
	cmd.Env = append(os.Environ(), srv.Environ()...)
	cmd.Stdout, cmd.Stderr = out, out
	return cmd
}

func cxoneFaults(n int, r *http.Request) cxonetest.Fault {
	switch {
	case n%41 == 0:
		return cxonetest.Fault{Kind: cxonetest.ServerError}
	case n%67 == 0:
		return cxonetest.Fault{Kind: cxonetest.Drop}
	case n%97 == 0:
		return cxonetest.Fault{Kind: cxonetest.TooManyRequests, RetryAfter: "0"}
	}
	return cxonetest.Fault{}
}

// TestCXoneKillResume runs against a fault-injecting CXone tenant, SIGKILLs
// the run five times while it is sending (the receiver holds some but not
// all calls at each kill) and resumes. Then: every call the ledger says is
// imported reached the receiver exactly once per idempotency key; the
// receiver's calls, media bytes, business-data values and users equal those
// of one uninterrupted reference run (which also discovers the API host
// instead of being given it); no killed, resumed or reference run printed a
// secret; one more run sends nothing.
func TestCXoneKillResume(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes against a local server")
	}
	const calls = 1500
	cfg := cxonetest.Config{
		AccessKeyID: "AKID-applink", AccessKeySecret: "s3cr3t-access", ClientID: "client-applink", ClientSecret: "s3cr3t-client",
		Faults: cxoneFaults,
	}
	bin := applinkBinary(t)

	ref := cxonetest.New(cfg)
	defer ref.Close()
	var refOut bytes.Buffer
	if err := applinkCmd(bin, cxoneSpec(t, sinkBlock(ref, false), calls), ref, &refOut).Run(); err != nil {
		t.Fatalf("reference run: %v\n%s", err, refOut.String())
	}
	noSecret(t, "reference run", refOut.String(), ref)
	total := ref.CallCount()
	if total < calls/2 {
		t.Fatalf("the reference run imported %d calls: too few to kill mid-send", total)
	}

	srv := cxonetest.New(cfg)
	defer srv.Close()
	dir := cxoneSpec(t, sinkBlock(srv, true), calls)
	rng := rand.New(rand.NewPCG(5, 6))
	for k := range 5 {
		var out bytes.Buffer
		cmd := applinkCmd(bin, dir, srv, &out)
		before := srv.CallCount()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		// Kill once this run has delivered 50 to 250 more calls.
		target := before + 50 + rng.IntN(200)
		landed := true
	poll:
		for srv.CallCount() < target {
			select {
			case <-exited:
				landed = false
				break poll
			case <-time.After(2 * time.Millisecond):
			}
		}
		atKill := srv.CallCount()
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exited
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !landed || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("kill %d did not land: the run ended on its own (%v) with %d of %d calls\n%s", k, cmd.ProcessState, atKill, total, out.String())
		}
		if atKill <= before || atKill >= total {
			t.Errorf("kill %d landed with %d calls at the receiver (%d before the run, %d in all): not mid-send", k, atKill, before, total)
		}
		t.Logf("kill %d: receiver had %d → %d of %d calls", k, before, atKill, total)
		noSecret(t, fmt.Sprintf("killed run %d", k), out.String(), srv)
	}
	var out bytes.Buffer
	if err := applinkCmd(bin, dir, srv, &out).Run(); err != nil {
		t.Fatalf("final run: %v\n%s", err, out.String())
	}
	t.Logf("final run:\n%s", out.String())
	noSecret(t, "final run", out.String(), srv)

	// The ledger says which calls are imported; the server must have each once.
	st, err := duckstate.Open(context.Background(), filepath.Join(dir, ".applink", "state.duckdb"))
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
	sameTenant(t, ref, srv)

	// A second run sends nothing: only discovery and a token.
	out.Reset()
	before := len(srv.Requests())
	if err := applinkCmd(bin, dir, srv, &out).Run(); err != nil || !strings.Contains(out.String(), "sent: nothing") {
		t.Errorf("second run: %v\n%s", err, out.String())
	}
	for _, r := range srv.Requests()[before:] {
		if !r.Issuer {
			t.Errorf("second run sent %s %s", r.Method, r.Path)
		}
	}
	noSecret(t, "second run", out.String(), srv)
}

// sameTenant fails unless got holds what want holds: the same calls with
// the same metadata (the agent named by email, ids being the tenant's), the
// same media bytes and business-data values, and the same users.
func sameTenant(t *testing.T, want, got *cxonetest.Server) {
	t.Helper()
	emails := func(s *cxonetest.Server) map[string]string {
		m := map[string]string{}
		for _, u := range s.Users() {
			m[u.ID] = strings.ToLower(u.EmailAddress)
		}
		return m
	}
	wantEmail, gotEmail := emails(want), emails(got)
	wantCalls, gotCalls := want.Calls(), got.Calls()
	if w, g := slices.Sorted(maps.Keys(wantCalls)), slices.Sorted(maps.Keys(gotCalls)); !slices.Equal(w, g) {
		t.Fatalf("the receiver holds %d calls, the reference %d, or other ones", len(g), len(w))
	}
	diffs := 0
	for id, w := range wantCalls {
		g := gotCalls[id]
		// The AGENT participant names the tenant's user id: compare its email.
		wm, gm := byEmail(w.Meta, wantEmail), byEmail(g.Meta, gotEmail)
		switch {
		case !reflect.DeepEqual(wm, gm):
			t.Errorf("call %s metadata differs from the reference:\n got %v\nwant %v", id, gm, wm)
		case sha256.Sum256(w.Media) != sha256.Sum256(g.Media):
			t.Errorf("call %s media differs from the reference (%d vs %d bytes)", id, len(g.Media), len(w.Media))
		case !reflect.DeepEqual(want.BusinessData(w.ContactID), got.BusinessData(g.ContactID)):
			t.Errorf("call %s business data %v, reference %v", id, got.BusinessData(g.ContactID), want.BusinessData(w.ContactID))
		default:
			continue
		}
		if diffs++; diffs > 10 {
			t.Fatal("too many differences")
		}
	}
	type user struct {
		first, last string
		acd         string
	}
	users := func(s *cxonetest.Server) map[string]user {
		m := map[string]user{}
		for _, u := range s.Users() {
			m[strings.ToLower(u.EmailAddress)] = user{u.FirstName, u.LastName, strings.Join(u.ACDLoginIDs, ",")}
		}
		return m
	}
	if w, g := users(want), users(got); !reflect.DeepEqual(w, g) {
		t.Errorf("users differ from the reference: %d vs %d", len(g), len(w))
	}
	if len(wantEmail) == 0 {
		t.Error("the reference has no users: nothing compared")
	}
}

// byEmail is a call's payload with each participant's CXone userId
// replaced by that user's email.
func byEmail(meta map[string]any, email map[string]string) map[string]any {
	out := maps.Clone(meta)
	var parts []any
	for _, p := range meta["participants"].([]any) {
		m := maps.Clone(p.(map[string]any))
		if uid, ok := m["userId"].(string); ok {
			m["userId"] = "user with email " + email[uid]
		}
		parts = append(parts, m)
	}
	out["participants"] = parts
	return out
}

// TestCXoneBusinessDataRetried: the first run meets contacts that are not
// closed yet (Business Data API 404): those calls end failed
// bd_contact_not_found and the run exits 1; once the contacts close, the
// next run delivers their business data without writing a call or media
// twice, and exits 0.
func TestCXoneBusinessDataRetried(t *testing.T) {
	if testing.Short() {
		t.Skip("runs applink twice against a local server")
	}
	srv := cxonetest.New(cxonetest.Config{ContactsStayOpen: true})
	defer srv.Close()
	dir := cxoneSpec(t, sinkBlock(srv, true), 40)
	for k, env := range srv.Env() {
		t.Setenv(k, env)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"run", "--quiet", dir}, nil, &out, &errb); code != exitFindings || !strings.Contains(out.String(), "bd_contact_not_found") {
		t.Fatalf("first run: exit %d, want %d naming bd_contact_not_found\n%s%s", code, exitFindings, out.String(), errb.String())
	}
	if len(srv.Calls()) == 0 || len(srv.BusinessDataWrites()) != 0 {
		t.Fatalf("first run: %d calls, %d business-data writes", len(srv.Calls()), len(srv.BusinessDataWrites()))
	}
	srv.CloseContacts(false)
	out.Reset()
	errb.Reset()
	if code := run([]string{"run", "--quiet", dir}, nil, &out, &errb); code != exitOK {
		t.Fatalf("second run: exit %d\n%s%s", code, out.String(), errb.String())
	}
	for id, c := range srv.Calls() {
		if len(c.Meta["dynamicBusinessData"].([]any)) > 0 && len(srv.BusinessData(c.ContactID)) == 0 {
			t.Errorf("call %s: no business data after the second run", id)
		}
	}
	for k, n := range srv.Writes() {
		if n != 1 {
			t.Errorf("%s applied %d times", k, n)
		}
	}
	noSecret(t, "runs", out.String()+errb.String(), srv)
}

// TestCXoneCheck: `applink check` with a cxone sink reaches the tenant,
// prints the tenant, the API endpoint, user search and the fields; a
// missing variable is named and exits 1. No secret is printed.
func TestCXoneCheck(t *testing.T) {
	srv := cxonetest.New(cxonetest.Config{TenantID: "11e-check"})
	defer srv.Close()
	dir := cxoneSpec(t, sinkBlock(srv, false), 20)
	for k, env := range srv.Env() {
		t.Setenv(k, env)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"check", dir}, nil, &out, &errb); code != exitOK {
		t.Fatalf("check: exit %d\n%s%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"tenant 11e-check", "API endpoint: " + srv.APIURL, "user search answers", "must already exist in CXone"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("check output lacks %q:\n%s", want, out.String())
		}
	}
	noSecret(t, "check", out.String()+errb.String(), srv)
	t.Setenv(cxone.EnvClientSecret, "")
	out.Reset()
	errb.Reset()
	if code := run([]string{"check", dir}, nil, &out, &errb); code != exitFindings || !strings.Contains(out.String(), "CXONE_CLIENT_SECRET is not set") {
		t.Errorf("check without the client secret: exit %d\n%s%s", code, out.String(), errb.String())
	}
}

// TestCXoneDryRun: --dry-run authenticates nothing, sends nothing, prints the
// requests and leaves no state; without api_url it says where the API host
// would come from.
func TestCXoneDryRun(t *testing.T) {
	for _, tt := range []struct {
		name, sink string
		want       []string
	}{
		{"api_url", "sink \"cxone\" {\n  api_url = \"https://api-eu1.niceincontact.com\"\n}\n",
			[]string{"POST https://api-eu1.niceincontact.com/applink/v1/calls", "POST https://api-eu1.niceincontact.com/user-management/v2/users/search"}},
		{"discovered", "sink \"cxone\" {}\n",
			[]string{"POST {api_endpoint}/applink/v1/calls", "https://cxone.niceincontact.com/.well-known/cxone-configuration?tenantId="}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := cxoneSpec(t, tt.sink, 50)
			var out, errb bytes.Buffer
			code := run([]string{"run", "--dry-run", dir}, nil, &out, &errb)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			for _, want := range append(tt.want, "Idempotency-Key", "dry run: nothing was sent") {
				if !strings.Contains(out.String(), want) {
					t.Errorf("dry run output lacks %q", want)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, ".applink", "state.duckdb")); err == nil {
				t.Error("a dry run created a state file")
			}
		})
	}
}

// TestCXoneRateLimitedLeftForNextRun: CXone answers 429 asking for an hour
// once some calls are in: the run stops sending, exits 0 (nothing failed),
// its summary counts the calls left as excluded rate_limited; the next
// run, CXone willing again, sends exactly those, each once.
func TestCXoneRateLimitedLeftForNextRun(t *testing.T) {
	var limit atomic.Bool
	limit.Store(true)
	var calls atomic.Int64
	srv := cxonetest.New(cxonetest.Config{Faults: func(n int, r *http.Request) cxonetest.Fault {
		if r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/calls") && limit.Load() && calls.Add(1) > 10 {
			return cxonetest.Fault{Kind: cxonetest.TooManyRequests, RetryAfter: "3600"}
		}
		return cxonetest.Fault{}
	}})
	defer srv.Close()
	dir := cxoneSpec(t, sinkBlock(srv, true), 60)
	for k, env := range srv.Env() {
		t.Setenv(k, env)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"run", dir}, nil, &out, &errb); code != exitOK || !strings.Contains(out.String(), "rate_limited") {
		t.Fatalf("first run: exit %d, want %d naming rate_limited\n%s%s", code, exitOK, out.String(), errb.String())
	}
	t.Logf("first run:\n%s", out.String())
	first := srv.CallCount()
	if first == 0 || first > 10 {
		t.Fatalf("first run: the receiver holds %d calls, want 1..10", first)
	}
	limit.Store(false)
	out.Reset()
	errb.Reset()
	if code := run([]string{"run", dir}, nil, &out, &errb); code != exitOK || strings.Contains(out.String(), "rate_limited") {
		t.Fatalf("second run: exit %d\n%s%s", code, out.String(), errb.String())
	}
	if srv.CallCount() <= first {
		t.Errorf("the second run sent nothing more (%d calls)", srv.CallCount())
	}
	for k, n := range srv.Writes() {
		if n != 1 {
			t.Errorf("%s applied %d times", k, n)
		}
	}
	noSecret(t, "runs", out.String()+errb.String(), srv)
}
