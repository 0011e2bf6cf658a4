package cxone

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/applink-dev/applink/connectors/cxone/cxonetest"
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
)

// countingObserver counts what the client reports.
type countingObserver struct {
	mu       sync.Mutex
	requests map[string]int // family + " " + status
	retries  map[string]int
	tokens   int
}

func newCountingObserver() *countingObserver {
	return &countingObserver{requests: map[string]int{}, retries: map[string]int{}}
}

func (o *countingObserver) Request(f Family, status int) {
	o.mu.Lock()
	o.requests[fmt.Sprintf("%s %d", f, status)]++
	o.mu.Unlock()
}

func (o *countingObserver) Retry(f Family, reason string) {
	o.mu.Lock()
	o.retries[string(f)+" "+reason]++
	o.mu.Unlock()
}

func (o *countingObserver) TokenRefresh(ok bool) {
	o.mu.Lock()
	o.tokens++
	o.mu.Unlock()
}

// TestWorkerClient: a worker keeps one client per target (a Pool) and
// delivers many calls from many goroutines with the CXone user id the job
// carries: one discovery, one token, and exactly three requests per call
// (the interaction, its media, its business data), no user search.
func TestWorkerClient(t *testing.T) {
	for _, signed := range []bool{false, true} {
		t.Run(fmt.Sprintf("signed=%v", signed), func(t *testing.T) {
			srv := cxonetest.New(cxonetest.Config{SignedUploads: signed})
			defer srv.Close()
			agent := srv.AddUser(cxonetest.User{FirstName: "Ann", LastName: "Smith", EmailAddress: "ann@acme.example", Role: "Agent"})
			obs := newCountingObserver()
			pool := NewPool(Options{Getenv: srv.Getenv, Observer: obs, Log: slog.New(slog.DiscardHandler)})
			defer pool.Close()
			cfg := dsl.Sink{Kind: "cxone", AuthURL: srv.URL, RequestsPerSecond: 1e5, Timeout: 5 * time.Second} // api_url discovered
			dir := t.TempDir()
			const workers, perWorker = 8, 25
			var wg sync.WaitGroup
			var failed atomic.Int64
			var mediaOK atomic.Int64
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for k := range perWorker {
						c, err := pool.Client(cfg) // per delivery, as a River worker would
						if err != nil {
							t.Error(err)
							return
						}
						call := testCall(t, dir, 1+3*(w*perWorker+k)) // i%3 == 1: media; values unless i%4 == 0
						call.Values = []connector.Value{{Field: 0, Text: []byte("C1")}}
						sent, err := c.DeliverCall(context.Background(), call, testFields, agent.ID)
						if err != nil {
							failed.Add(1)
							t.Errorf("%s: %v", call.CallID, err)
							continue
						}
						sum := sha256.Sum256(bytes.Repeat([]byte{byte(1 + 3*(w*perWorker+k))}, 100+1+3*(w*perWorker+k)))
						if sent != nil && sent.SHA256 == hex.EncodeToString(sum[:]) && sent.ContentType == "audio/wav" {
							mediaOK.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			const calls = workers * perWorker
			if failed.Load() != 0 || mediaOK.Load() != calls {
				t.Fatalf("failed %d, media reported right for %d of %d", failed.Load(), mediaOK.Load(), calls)
			}
			var issuer, api []string
			for _, r := range srv.Requests() {
				if r.Issuer {
					issuer = append(issuer, r.Method+" "+r.Path)
				} else {
					api = append(api, r.Method+" "+r.Path)
				}
			}
			if want := "GET /.well-known/openid-configuration,POST /auth/token,GET /.well-known/cxone-configuration"; strings.Join(issuer, ",") != want {
				t.Errorf("issuer requests %v, want one discovery and one token", issuer)
			}
			if len(api) != 3*calls {
				t.Errorf("%d API requests for %d calls, want 3 each", len(api), calls)
			}
			for _, r := range api {
				if strings.Contains(r, "/user-management/") {
					t.Fatalf("a delivery searched users: %s", r)
				}
			}
			if n := srv.CallCount(); n != calls {
				t.Errorf("receiver holds %d calls", n)
			}
			for id, c := range srv.Calls() {
				if c.AgentUserID != agent.ID || len(c.Media) == 0 {
					t.Errorf("%s: agent %q, %d media bytes", id, c.AgentUserID, len(c.Media))
				}
			}
			if obs.tokens != 1 || obs.requests["ingestion 201"] != calls || obs.requests["business_data 204"] != calls || obs.requests["auth 200"] != 3 {
				t.Errorf("observer: tokens %d, requests %v", obs.tokens, obs.requests)
			}
		})
	}
}

// TestSetShare: N workers share the tenant's rate.
func TestSetShare(t *testing.T) {
	c, err := NewClient(dsl.Sink{Kind: "cxone", APIURL: "https://api.example", RequestsPerSecond: 0, BusinessDataRequestsPerSecond: 4},
		Options{Getenv: func(string) string { return "x" }, Extra: Extra{IngestionRPS: 30}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[Family]float64{FamilyUserManagement: DefaultUserManagementRPS, FamilyIngestion: 30, FamilyBusinessData: 4}
	for f, r := range want {
		if c.Rate(f) != r {
			t.Errorf("%s: %v, want %v", f, c.Rate(f), r)
		}
	}
	c.SetShare(0.5)
	for f, r := range want {
		if c.Rate(f) != r/2 {
			t.Errorf("%s at half: %v, want %v", f, c.Rate(f), r/2)
		}
	}
}

// TestTokenOverHTTP1: the token call's transport speaks HTTP/1.1 only
// (practitioners report the token endpoint fails over HTTP/2).
func TestTokenOverHTTP1(t *testing.T) {
	c, err := NewClient(dsl.Sink{Kind: "cxone"}, Options{Getenv: func(string) string { return "x" }})
	if err != nil {
		t.Fatal(err)
	}
	tr := c.tok.hc.Transport.(*headerTransport).base.(*http.Transport)
	if tr.Protocols == nil || tr.Protocols.HTTP2() || !tr.Protocols.HTTP1() {
		t.Errorf("token transport protocols %v: want HTTP/1.1 only", tr.Protocols)
	}
}

// TestKeyWithReservedCharacters: an access key and client secret holding
// '=', '+' and '/' authenticate: the form and Basic are encoded (the fake
// refuses a raw '=' in the form, as practitioners report CXone does).
func TestKeyWithReservedCharacters(t *testing.T) {
	srv := cxonetest.New(cxonetest.Config{AccessKeySecret: "Ab+c/d==", ClientSecret: "s=e+c/r"})
	defer srv.Close()
	h := newHarness(t, srv, nil)
	ctx := context.Background()
	if err := h.open(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.sink.Agent(ctx, testAgents()[0]); err != nil {
		t.Fatal(err)
	}
	if err := h.sink.Commit(ctx); err != nil || len(h.fail) != 0 {
		t.Fatalf("commit %v, failures %v", err, h.fail)
	}
	h.noSecrets()
}

// TestRateLimitedStopsTheRun: a 429 asking for longer than the run waits
// stops the sending: no call is failed, the calls not sent are reported
// rate_limited (the engine keeps them for the next run), and nothing is
// sent after it.
func TestRateLimitedStopsTheRun(t *testing.T) {
	var limited atomic.Bool
	srv := cxonetest.New(cxonetest.Config{Faults: func(n int, r *http.Request) cxonetest.Fault {
		if n >= 6 && r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/calls") {
			limited.Store(true)
			return cxonetest.Fault{Kind: cxonetest.TooManyRequests, RetryAfter: "3600"}
		}
		return cxonetest.Fault{}
	}})
	defer srv.Close()
	h := newHarness(t, srv, func(c *dsl.Sink, _ *Options) { c.Concurrency = 1 })
	ctx := context.Background()
	if err := h.open(ctx); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	const n = 20
	for i := range n {
		if err := h.sink.Call(ctx, testCall(t, dir, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.sink.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v (rate limiting must not fail the run)", err)
	}
	st := h.sink.Stats()
	if !limited.Load() || st.CallsRateLimited == 0 || st.CallsFailed != 0 || st.CallsAcked+st.CallsRateLimited != n {
		t.Fatalf("stats %+v", st)
	}
	for k, reason := range h.fail {
		if !strings.HasPrefix(reason, "rate_limited: CXone answered 429") || !strings.Contains(reason, "1h0m0s") {
			t.Errorf("%s: %s", k, reason)
		}
	}
	posts429 := 0
	for _, r := range srv.Requests() {
		if r.Status == 429 {
			posts429++
		}
	}
	if posts429 != 1 {
		t.Errorf("%d requests answered 429: after the first nothing may be sent", posts429)
	}
	for _, d := range h.sleeps() {
		if d >= time.Minute {
			t.Errorf("the sink waited %v for a Retry-After beyond the run's limit", d)
		}
	}
}

// TestMediaSentReported: the run learns what was sent of each call's media.
func TestMediaSentReported(t *testing.T) {
	srv := cxonetest.New(cxonetest.Config{SignedUploads: true})
	defer srv.Close()
	h := newHarness(t, srv, nil)
	var mu sync.Mutex
	got := map[string]connector.MediaSent{}
	ctx := context.Background()
	if err := h.sink.Open(ctx, connector.RunInfo{RunID: "r1", Fields: testFields, Fail: h.record, MediaSent: func(id string, m connector.MediaSent) {
		mu.Lock()
		got[id] = m
		mu.Unlock()
	}}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i := range 6 {
		if err := h.sink.Call(ctx, testCall(t, dir, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.sink.Commit(ctx); err != nil || len(h.fail) != 0 {
		t.Fatal(err, h.fail)
	}
	if len(got) != 4 { // i%3 != 0 have media
		t.Fatalf("media reported for %d calls: %v", len(got), got)
	}
	for id, m := range got {
		media := srv.Calls()[id].Media
		sum := sha256.Sum256(media)
		if m.Size != int64(len(media)) || m.SHA256 != hex.EncodeToString(sum[:]) || m.ContentType != "audio/wav" {
			t.Errorf("%s: reported %+v, received %d bytes", id, m, len(media))
		}
	}
	for _, r := range srv.Requests() {
		if strings.HasPrefix(r.Path, "/uploads/") && r.Authorization != "" {
			t.Errorf("the signed upload carried an Authorization header")
		}
	}
}

// TestRateLimitedBeyondDeadline: a Retry-After that ends after the
// caller's deadline (a job's timeout) is a rate_limited failure at once,
// carrying the wait, though it is within MaxRateLimitWait.
func TestRateLimitedBeyondDeadline(t *testing.T) {
	srv := cxonetest.New(cxonetest.Config{Faults: func(int, *http.Request) cxonetest.Fault {
		return cxonetest.Fault{Kind: cxonetest.TooManyRequests, RetryAfter: "30"}
	}})
	defer srv.Close()
	c, err := NewClient(dsl.Sink{Kind: "cxone", AuthURL: srv.URL, APIURL: srv.APIURL}, Options{Getenv: srv.Getenv})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err = c.DeliverCall(ctx, testCall(t, t.TempDir(), 3), testFields, "")
	var f connector.Failure
	wait, ok := RetryAfter(err)
	if !errors.As(err, &f) || f.Code != connector.ReasonRateLimited || f.Permanent || !ok || wait != 30*time.Second || time.Since(start) > 2*time.Second {
		t.Fatalf("DeliverCall: %v (failure %+v, wait %v) after %v", err, f, wait, time.Since(start))
	}
}

// TestTokenWaitEndsWithCaller: a caller whose context ends stops waiting
// for a token fetch that hangs.
func TestTokenWaitEndsWithCaller(t *testing.T) {
	hang := make(chan struct{})
	issuer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	defer issuer.Close()
	defer close(hang) // before Close, which waits for the handler
	c, err := NewClient(dsl.Sink{Kind: "cxone", AuthURL: issuer.URL + TokenPath, APIURL: issuer.URL, Timeout: time.Minute}, Options{Getenv: func(string) string { return "x" }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := c.Connect(ctx); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("Connect: %v after %v", err, time.Since(start))
	}
}

// A worker's clients come from a Pool with the worker's options: the
// per-family rates of the sink block (its settings, as a delivery job
// carries them) must still reach each client.
func TestPoolClientTakesTheBlocksRates(t *testing.T) {
	cfg := dsl.Sink{Kind: "cxone", APIURL: "http://127.0.0.1:1", AuthURL: "http://127.0.0.1:1",
		Settings: map[string]any{"user_management_requests_per_second": 0.5, "ingestion_requests_per_second": 40.0}}
	env := map[string]string{EnvAccessKeyID: "k", EnvAccessKeySecret: "s", EnvClientID: "c", EnvClientSecret: "cs"}
	pool := NewPool(Options{Getenv: func(k string) string { return env[k] }, Log: slog.New(slog.DiscardHandler)})
	defer pool.Close()
	c, err := pool.Client(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for f, want := range map[Family]float64{FamilyUserManagement: 0.5, FamilyIngestion: 40, FamilyBusinessData: DefaultBusinessDataRPS} {
		if got := c.Rate(f); got != want {
			t.Errorf("%s: rate %v, want %v", f, got, want)
		}
	}
}
