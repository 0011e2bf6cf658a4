package cxone

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/applink-dev/applink/connectors/cxone/cxonetest"
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
)

func fault(k cxonetest.FaultKind) func(int, *http.Request) cxonetest.Fault {
	return func(int, *http.Request) cxonetest.Fault { return cxonetest.Fault{Kind: k} }
}

// TestFaultSchedule runs calls through every kind of fault and checks the
// three promises: every call ends acknowledged or failed with a reason,
// every idempotency key's write is applied exactly once, and no secret
// leaks.
func TestFaultSchedule(t *testing.T) {
	for _, signed := range []bool{false, true} {
		t.Run(fmt.Sprintf("signed=%v", signed), func(t *testing.T) { faultSchedule(t, signed) })
	}
}

func faultSchedule(t *testing.T, signed bool) {
	const n = 60
	first := []cxonetest.Fault{
		{}, {Kind: cxonetest.ServerError}, {}, {Kind: cxonetest.TooManyRequests, RetryAfter: "3"},
		{}, {Kind: cxonetest.Slow, Delay: 800 * time.Millisecond}, {}, {Kind: cxonetest.Drop},
		{}, {Kind: cxonetest.ExpireToken}, {}, {Kind: cxonetest.Conflict},
	}
	// Some requests meet a second fault in a row.
	second := []cxonetest.Fault{{}, {Kind: cxonetest.ServerError}, {}, {Kind: cxonetest.Drop}, {}, {Kind: cxonetest.TooManyRequests, RetryAfter: "3"}, {}, {Kind: cxonetest.ExpireToken}}
	rejected := func(id string) bool { return strings.HasSuffix(id, "7") }
	srv := cxonetest.New(cxonetest.Config{
		SignedUploads: signed,
		Faults: cxonetest.Limit(
			func(n int, r *http.Request) cxonetest.Fault { return first[n%len(first)] },
			func(n int, r *http.Request) cxonetest.Fault { return second[n%len(second)] },
		),
		Reject: func(id string) (int, string) {
			if rejected(id) {
				return 422, "ani is not E.164"
			}
			return 0, ""
		},
	})
	defer srv.Close()
	var trace bytes.Buffer
	h := newHarness(t, srv, func(c *dsl.Sink, o *Options) { c.Timeout = 150 * time.Millisecond; o.Trace = &trace })
	ctx := context.Background()
	if err := h.err(h.open(ctx)); err != nil {
		t.Fatal(err)
	}
	for _, a := range testAgents() {
		if err := h.err(h.sink.Agent(ctx, a)); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	want := map[string]*connector.OutCall{}
	for i := range n {
		c := testCall(t, dir, i)
		keep := *c
		keep.Values = nil
		for _, v := range c.Values {
			v.Text = append([]byte(nil), v.Text...)
			keep.Values = append(keep.Values, v)
		}
		want[c.CallID] = &keep
		if err := h.err(h.sink.Call(ctx, c)); err != nil {
			t.Fatal(err)
		}
		// The engine reuses its buffers after Call returns.
		for _, v := range c.Values {
			copy(v.Text, strings.Repeat("X", len(v.Text)))
		}
	}
	if err := h.err(h.sink.Commit(ctx)); err != nil {
		t.Fatalf("Commit: %v", err)
	}

	got := srv.Calls()
	for id, c := range want {
		reason, failed := h.fail["call:"+id]
		sc, sent := got[id]
		switch {
		case rejected(id):
			if !failed || !strings.HasPrefix(reason, "http_422: ani is not E.164") {
				t.Errorf("%s: want failed with http_422, got failed=%v %q", id, failed, reason)
			}
		case failed:
			t.Errorf("%s: failed: %s", id, reason)
		case !sent:
			t.Errorf("%s: neither acknowledged nor failed", id)
		default:
			if (c.MediaFile != "") != (len(sc.Media) > 0) || (c.MediaFile != "" && len(sc.Media) != 100+atoiSuffix(id)) {
				t.Errorf("%s: media %d bytes, file %q", id, len(sc.Media), c.MediaFile)
			}
			bd := srv.BusinessData(sc.ContactID)
			if len(c.Values) > 0 && bd["CustomerID"] != string(c.Values[0].Text) {
				t.Errorf("%s: business data %v, want CustomerID %s", id, bd, c.Values[0].Text)
			}
			if sc.AgentUserID == "" {
				t.Errorf("%s: no AGENT participant with a CXone userId", id)
			}
			if sc.Meta["directionType"] != "INBOUND" || sc.Meta["startTime"] != c.StartTime.UTC().Format("2006-01-02T15:04:05.000Z") {
				t.Errorf("%s: payload %v", id, sc.Meta)
			}
		}
	}
	st := h.sink.Stats()
	if st.CallsAcked+st.CallsFailed != n {
		t.Errorf("acked %d + failed %d != %d", st.CallsAcked, st.CallsFailed, n)
	}
	for k, v := range srv.Writes() {
		if v != 1 {
			t.Errorf("write %s applied %d times", k[:16], v)
		}
	}
	for email, v := range srv.UserCreates() {
		if v != 1 {
			t.Errorf("user %s created %d times", email, v)
		}
	}
	if len(srv.Users()) != 3 {
		t.Errorf("users: %d, want 3", len(srv.Users()))
	}
	seen := map[cxonetest.FaultKind]int{}
	for _, r := range srv.Requests() {
		seen[r.Fault]++
	}
	for k := cxonetest.ServerError; k <= cxonetest.Conflict; k++ {
		if seen[k] == 0 {
			t.Errorf("fault %v never injected: the schedule is not exercised", k)
		}
	}
	if srv.TokensIssued() < 2 {
		t.Errorf("tokens issued %d: the expiry fault did not lead to a refresh", srv.TokensIssued())
	}
	if !strings.Contains(trace.String(), "POST "+srv.URL+"/auth/token") || !strings.Contains(trace.String(), "Idempotency-Key: ") {
		t.Errorf("trace lacks the token request or the keys:\n%.2000s", trace.String())
	}
	h.errs = append(h.errs, trace.String())
	if !containsDur(h.sleeps(), 3*time.Second) {
		t.Errorf("no 3s sleep for Retry-After: 3 in %v", h.sleeps())
	}
	h.noSecrets()
}

// TestConcurrencyBound: with every answer held a while, exactly
// `concurrency` requests overlap, never more. (Under faults the server can
// see one more: a timed-out request's handler outlives the client's retry.)
func TestConcurrencyBound(t *testing.T) {
	for _, conc := range []int{1, 3} {
		t.Run(fmt.Sprint(conc), func(t *testing.T) {
			srv := cxonetest.New(cxonetest.Config{Faults: func(int, *http.Request) cxonetest.Fault {
				return cxonetest.Fault{Kind: cxonetest.Slow, Delay: 15 * time.Millisecond}
			}})
			defer srv.Close()
			h := newHarness(t, srv, func(c *dsl.Sink, _ *Options) { c.Concurrency = conc })
			ctx := context.Background()
			if err := h.open(ctx); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			for i := range 12 {
				if err := h.sink.Call(ctx, testCall(t, dir, i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := h.sink.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if len(h.fail) != 0 {
				t.Fatalf("failures: %v", h.fail)
			}
			if m := srv.MaxInFlight(); m != conc {
				t.Errorf("max in flight %d, want %d", m, conc)
			}
		})
	}
}

func atoiSuffix(id string) int {
	var n int
	fmt.Sscanf(strings.TrimPrefix(id, "call-"), "%d", &n)
	return n
}

func containsDur(ds []time.Duration, d time.Duration) bool {
	for _, x := range ds {
		if x == d {
			return true
		}
	}
	return false
}

// TestRerunSendsOnce: a second run over the same calls (after a crash
// between send and ledger write) is answered from the idempotency store.
func TestRerunSendsOnce(t *testing.T) {
	srv := cxonetest.New(cxonetest.Config{})
	defer srv.Close()
	dir := t.TempDir()
	for run := range 2 {
		h := newHarness(t, srv, nil)
		ctx := context.Background()
		if err := h.open(ctx); err != nil {
			t.Fatal(err)
		}
		for i := range 10 + 5*run { // the rerun also has new calls
			if err := h.sink.Call(ctx, testCall(t, dir, i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := h.sink.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if len(h.fail) != 0 {
			t.Errorf("run %d: failures %v", run, h.fail)
		}
	}
	if len(srv.Calls()) != 15 {
		t.Errorf("calls: %d, want 15", len(srv.Calls()))
	}
	replayed := 0
	for _, r := range srv.Requests() {
		if r.Replayed {
			replayed++
		}
	}
	if replayed == 0 {
		t.Error("the rerun was not answered from the idempotency store")
	}
	for k, v := range srv.Writes() {
		if v != 1 {
			t.Errorf("write %s applied %d times", k[:16], v)
		}
	}
}

func TestRowFailures(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		faults func(int, *http.Request) cxonetest.Fault
		reject func(string) (int, string)
		edit   func(*connector.OutCall)
		want   string // regexp of the reason
	}{
		{name: "422 refusal", reject: func(string) (int, string) { return 422, `duration_ms "must" be > 0` },
			want: `^http_422: duration_ms "must" be > 0$`},
		{name: "400 long text is truncated", reject: func(string) (int, string) { return 400, strings.Repeat("bad ", 100) },
			want: `^http_400: (bad ){49}bad…$`},
		{name: "500 until attempts run out", faults: fault(cxonetest.ServerError),
			want: `^http_500: injected internal error$`},
		{name: "401 that stays", faults: fault(cxonetest.ExpireToken),
			want: `^http_401: token expired$`},
		{name: "dropped until attempts run out", faults: fault(cxonetest.Drop),
			want: `^network: gave up after 6 attempts: .*(EOF|reset|closed)`},
		{name: "unreadable media", edit: func(c *connector.OutCall) { c.MediaFile = filepath.Join(dir, "missing.wav") },
			want: `^media_unreadable: open .*missing.wav: no such file`},
		{name: "NaN number", edit: func(c *connector.OutCall) { c.Values[1].Number = nan() },
			want: `^encode: call call-0001: json: unsupported value: NaN$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := cxonetest.New(cxonetest.Config{Faults: tt.faults, Reject: tt.reject})
			defer srv.Close()
			h := newHarness(t, srv, func(c *dsl.Sink, o *Options) { c.Concurrency = 1 })
			ctx := context.Background()
			if err := h.open(ctx); err != nil {
				t.Fatal(err)
			}
			c := testCall(t, dir, 1)
			if tt.edit != nil {
				tt.edit(c)
			}
			if err := h.sink.Call(ctx, c); err != nil {
				t.Fatal(err)
			}
			if err := h.sink.Commit(ctx); err != nil {
				t.Fatalf("Commit: %v (a row failure must not fail the run)", err)
			}
			got, ok := h.fail["call:call-0001"]
			if !ok {
				t.Fatalf("call not failed; stats %+v", h.sink.Stats())
			}
			if !regexp.MustCompile(tt.want).MatchString(got) {
				t.Errorf("reason %q, want /%s/", got, tt.want)
			}
			h.noSecrets()
		})
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	for _, ra := range []string{"7", date} {
		t.Run(ra, func(t *testing.T) {
			srv := cxonetest.New(cxonetest.Config{Faults: cxonetest.Limit(func(int, *http.Request) cxonetest.Fault {
				return cxonetest.Fault{Kind: cxonetest.TooManyRequests, RetryAfter: ra}
			})})
			defer srv.Close()
			h := newHarness(t, srv, func(_ *dsl.Sink, o *Options) { o.MaxRateLimitWait = 2 * time.Minute })
			ctx := context.Background()
			if err := h.open(ctx); err != nil {
				t.Fatal(err)
			}
			if err := h.sink.Call(ctx, testCall(t, t.TempDir(), 4)); err != nil {
				t.Fatal(err)
			}
			if err := h.sink.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if len(h.fail) != 0 {
				t.Fatalf("failed: %v", h.fail)
			}
			var longest time.Duration
			for _, d := range h.sleeps() {
				longest = max(longest, d)
			}
			lo, hi := 7*time.Second, 7*time.Second
			if ra == date {
				lo, hi = 80*time.Second, 91*time.Second
			}
			if longest < lo || longest > hi {
				t.Errorf("longest sleep %v, want in [%v, %v]", longest, lo, hi)
			}
		})
	}
}

func TestTokenRefresh(t *testing.T) {
	t.Run("before expiry", func(t *testing.T) {
		// A 2 s token is replaced after half its life (the margin is
		// 60 s or half the lifetime): requests 1.2 s apart never meet a 401.
		srv := cxonetest.New(cxonetest.Config{TokenTTL: 2 * time.Second})
		defer srv.Close()
		h := newHarness(t, srv, nil)
		ctx := context.Background()
		if err := h.open(ctx); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := h.sink.Agent(ctx, testAgents()[0]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1200 * time.Millisecond)
		if err := h.sink.Agent(ctx, testAgents()[1]); err != nil {
			t.Fatal(err)
		}
		if err := h.sink.Call(ctx, testCall(t, dir, 1)); err != nil {
			t.Fatal(err)
		}
		if err := h.sink.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if got := srv.TokensIssued(); got != 2 {
			t.Errorf("tokens issued %d, want 2", got)
		}
		for _, r := range srv.Requests() {
			if r.Status == 401 {
				t.Errorf("%s %s got 401: refresh came too late", r.Method, r.Path)
			}
		}
	})
	t.Run("on 401", func(t *testing.T) {
		srv := cxonetest.New(cxonetest.Config{})
		defer srv.Close()
		h := newHarness(t, srv, nil)
		ctx := context.Background()
		if err := h.open(ctx); err != nil {
			t.Fatal(err)
		}
		srv.ExpireTokens()
		if err := h.sink.Agent(ctx, testAgents()[0]); err != nil {
			t.Fatal(err)
		}
		if err := h.sink.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if len(h.fail) != 0 || srv.TokensIssued() != 2 || len(srv.Users()) != 1 {
			t.Errorf("fail %v, tokens %d, users %d; want none, 2, 1", h.fail, srv.TokensIssued(), len(srv.Users()))
		}
	})
}

func TestAuthFailure(t *testing.T) {
	srv := cxonetest.New(cxonetest.Config{})
	defer srv.Close()
	env := srv.Env()
	env[EnvAccessKeySecret] = "wrong-secret-value"
	h := newHarness(t, srv, func(_ *dsl.Sink, o *Options) { o.Getenv = func(k string) string { return env[k] } })
	err := h.err(h.open(context.Background()))
	if err == nil || !strings.Contains(err.Error(), "authenticate: http_400: bad access key") {
		t.Fatalf("Open: %v, want an authentication error", err)
	}
	h.noSecrets("wrong-secret-value")
	if strings.Contains(err.Error(), "wrong-secret-value") {
		t.Error("the wrong secret appears in the error")
	}
}

func TestNew(t *testing.T) {
	env := map[string]string{EnvAccessKeyID: "a", EnvAccessKeySecret: "b", EnvClientID: "c", EnvClientSecret: "d"}
	base := dsl.Sink{Kind: "cxone", APIURL: "https://api-eu1.niceincontact.com", AuthURL: "https://cxone.niceincontact.com"}
	tests := []struct {
		name    string
		edit    func(*dsl.Sink)
		unset   string
		want    string // substring of the error; "" for success
		issuer  string // with want == "": the issuer
		token   string // with want == "": the token URL known before Open ("" = discovered)
		api     string // with want == "": the API URL known before Open ("" = discovered)
		rateBD  float64
		roleNew string
	}{
		{name: "ok", issuer: DefaultIssuer, api: "https://api-eu1.niceincontact.com", rateBD: DefaultBusinessDataRPS, roleNew: DefaultAgentRole},
		{name: "missing key id", unset: EnvAccessKeyID, want: "environment variable CXONE_ACCESS_KEY_ID is not set"},
		{name: "missing client secret", unset: EnvClientSecret, want: "CXONE_CLIENT_SECRET is not set"},
		{name: "no api_url: discovered", edit: func(s *dsl.Sink) { s.APIURL = "" }, issuer: DefaultIssuer, rateBD: DefaultBusinessDataRPS, roleNew: DefaultAgentRole},
		{name: "no auth_url: the published issuer", edit: func(s *dsl.Sink) { s.AuthURL = "" }, issuer: DefaultIssuer, api: "https://api-eu1.niceincontact.com", rateBD: DefaultBusinessDataRPS, roleNew: DefaultAgentRole},
		{name: "auth_url names the token endpoint", edit: func(s *dsl.Sink) { s.AuthURL = "https://cxone.niceincontact.com/auth/token" },
			issuer: DefaultIssuer, token: "https://cxone.niceincontact.com/auth/token", api: "https://api-eu1.niceincontact.com", rateBD: DefaultBusinessDataRPS, roleNew: DefaultAgentRole},
		{name: "block values", edit: func(s *dsl.Sink) {
			s.Role = "Agent Plus"
			s.BusinessDataRequestsPerSecond = 0.5
			s.RequestsPerSecond = 40
		},
			issuer: DefaultIssuer, api: "https://api-eu1.niceincontact.com", rateBD: 0.5, roleNew: "Agent Plus"},
		{name: "business data rate follows the sink's", edit: func(s *dsl.Sink) { s.RequestsPerSecond = 40 },
			issuer: DefaultIssuer, api: "https://api-eu1.niceincontact.com", rateBD: 40, roleNew: DefaultAgentRole},
		{name: "plain http to a remote host", edit: func(s *dsl.Sink) { s.AuthURL = "http://cxone.niceincontact.com" }, want: "auth_url \"http://cxone.niceincontact.com\" must use https"},
		{name: "plain http to loopback", edit: func(s *dsl.Sink) { s.APIURL = "http://127.0.0.1:8080/" }, issuer: DefaultIssuer, api: "http://127.0.0.1:8080", rateBD: DefaultBusinessDataRPS, roleNew: DefaultAgentRole},
		{name: "relative URL", edit: func(s *dsl.Sink) { s.APIURL = "api-eu1" }, want: "not an absolute URL"},
		{name: "media path without call id", edit: func(s *dsl.Sink) { s.MediaPath = "/media" }, want: "must contain {call_id}"},
		{name: "calls path not absolute", edit: func(s *dsl.Sink) { s.CallsPath = "calls" }, want: "calls_path \"calls\" must start with /"},
		{name: "other kind", edit: func(s *dsl.Sink) { s.Kind = "outbox" }, want: "not cxone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			if tt.edit != nil {
				tt.edit(&cfg)
			}
			getenv := func(k string) string {
				if k == tt.unset {
					return ""
				}
				return env[k]
			}
			s, err := New(cfg, Options{Getenv: getenv})
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("New: %v, want error containing %q", err, tt.want)
			case tt.want != "":
				return
			}
			if s.c.cfg.Concurrency != DefaultConcurrency || s.c.cfg.CallsPath != DefaultCallsPath || s.c.cfg.Timeout != DefaultTimeout {
				t.Errorf("defaults not applied: %+v", s.c.cfg)
			}
			if s.c.issuer != tt.issuer || s.c.tokenURL != tt.token || s.c.apiURL() != tt.api {
				t.Errorf("issuer %q, token %q, api %q; want %q, %q, %q", s.c.issuer, s.c.tokenURL, s.c.apiURL(), tt.issuer, tt.token, tt.api)
			}
			if s.c.Rate(FamilyBusinessData) != tt.rateBD || s.c.cfg.Role != tt.roleNew {
				t.Errorf("business-data rate %v, role %q; want %v, %q", s.c.Rate(FamilyBusinessData), s.c.cfg.Role, tt.rateBD, tt.roleNew)
			}
		})
	}
	// A dry run needs no credentials.
	if _, err := New(base, Options{Getenv: func(string) string { return "" }, DryRun: os.Stderr}); err != nil {
		t.Errorf("dry run without credentials: %v", err)
	}
}

func TestAbortStopsWork(t *testing.T) {
	srv := cxonetest.New(cxonetest.Config{Faults: fault(cxonetest.Slow)})
	defer srv.Close()
	h := newHarness(t, srv, func(c *dsl.Sink, _ *Options) { c.Concurrency = 2; c.Timeout = time.Minute })
	ctx := context.Background()
	if err := h.open(ctx); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i := range 4 {
		if err := h.sink.Call(ctx, testCall(t, dir, i)); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() { h.sink.Abort(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Abort did not return")
	}
	if len(h.fail) != 0 {
		t.Errorf("aborted calls must not be reported failed: %v", h.fail)
	}
	if err := h.sink.Call(ctx, testCall(t, dir, 9)); err == nil {
		t.Error("Call after Abort succeeded")
	}
}

func TestCommitReturnsFatal(t *testing.T) {
	// The token endpoint starts refusing mid-run: the run fails, rows are
	// not reported as failed (a rerun sends them).
	srv := cxonetest.New(cxonetest.Config{})
	defer srv.Close()
	env := srv.Env()
	h := newHarness(t, srv, func(_ *dsl.Sink, o *Options) { o.Getenv = func(k string) string { return env[k] } })
	ctx := context.Background()
	if err := h.open(ctx); err != nil {
		t.Fatal(err)
	}
	h.sink.c.cred.accessKeySecret = "revoked-secret" // as if the key were revoked
	h.sink.c.red.add("revoked-secret")
	srv.ExpireTokens()
	dir := t.TempDir()
	var callErr error
	for i := range 8 {
		if callErr = h.sink.Call(ctx, testCall(t, dir, i)); callErr != nil {
			break
		}
	}
	err := h.err(h.sink.Commit(ctx))
	if err == nil || !strings.Contains(err.Error(), "authenticate") {
		t.Fatalf("Commit: %v, want the authentication error", err)
	}
	if len(h.fail) != 0 {
		t.Errorf("rows reported failed on a fatal error: %v", h.fail)
	}
	h.noSecrets("revoked-secret")
}

// TestAbortWhileCallBlocks: Abort from another goroutine (a signal handler)
// releases a Call blocked on a full queue, without a panic.
func TestAbortWhileCallBlocks(t *testing.T) {
	srv := cxonetest.New(cxonetest.Config{Faults: func(int, *http.Request) cxonetest.Fault {
		return cxonetest.Fault{Kind: cxonetest.Slow, Delay: time.Minute}
	}})
	defer srv.Close()
	h := newHarness(t, srv, func(c *dsl.Sink, _ *Options) { c.Concurrency = 1; c.Timeout = time.Minute })
	ctx := context.Background()
	if err := h.open(ctx); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	calls := make([]*connector.OutCall, 10)
	for i := range calls {
		calls[i] = testCall(t, dir, i)
	}
	errc := make(chan error, 1)
	go func() {
		for _, c := range calls { // 1 in flight + 2 queued, then Call blocks
			if err := h.sink.Call(ctx, c); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	time.Sleep(100 * time.Millisecond)
	h.sink.Abort()
	select {
	case err := <-errc:
		if err == nil {
			t.Error("every Call succeeded though the queue was full and the sink aborted")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Call still blocked after Abort")
	}
}
