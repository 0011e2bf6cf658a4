package cxone

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/applink-dev/applink/connectors/cxone/cxonetest"
	"github.com/applink-dev/applink/dsl"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"7", 7 * time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"-3", 0, false},
		{"99999999999", 24 * time.Hour, true},
		{"Wed, 25 Nov 2026 07:01:30 GMT", 90 * time.Second, true},
		{"Wednesday, 25-Nov-26 07:00:10 GMT", 10 * time.Second, true}, // RFC 850
		{"Wed Nov 25 07:00:05 2026", 5 * time.Second, true},           // asctime
		{"Wed, 25 Nov 2026 06:00:00 GMT", 0, true},                    // past: retry now
		{"soon", 0, false},
		{"1.5", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := parseRetryAfter(tt.in, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "7", "-1", "Wed, 25 Nov 2026 07:01:30 GMT", "1e9", "9223372036854775807"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseRetryAfter(s, now)
		if d < 0 {
			t.Errorf("parseRetryAfter(%q) = %v", s, d)
		}
		if !ok && d != 0 {
			t.Errorf("parseRetryAfter(%q) = %v without ok", s, d)
		}
	})
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		body   string
		status int
		want   string
	}{
		{`{"error":"invalid_grant","error_description":"bad access key"}`, 400, "bad access key"},
		{`{"message": "contact 12 not found"}`, 404, "contact 12 not found"},
		{`{"error":"invalid_token"}`, 401, "invalid_token"},
		{`{"detail":"line\nbreak \"quoted\""}`, 422, `line break "quoted"`},
		{"<html>\n  Bad  gateway\n</html>", 502, "<html> Bad gateway </html>"},
		{"", 503, "Service Unavailable"},
		{`{"message":""}`, 400, `{"message":""}`},
		{strings.Repeat("é", 150), 400, strings.Repeat("é", 100) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := errorText([]byte(tt.body), tt.status); got != tt.want {
				t.Errorf("errorText(%q) = %q, want %q", tt.body, got, tt.want)
			}
		})
	}
}

func FuzzErrorText(f *testing.F) {
	for _, s := range []string{`{"message":"x"}`, `{"error":`, `{"message":"\`, "plain", strings.Repeat("ü", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := errorText([]byte(s), 400)
		if len(got) > maxErrorText+len("…") {
			t.Errorf("errorText is %d bytes", len(got))
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Errorf("errorText(%q) = %q is not UTF-8", s, got)
		}
	})
}

func TestLimiterSpacing(t *testing.T) {
	now := time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC)
	l := newFamilyLimiter(10, func() time.Time { return now })
	var got []time.Duration
	for range 3 {
		got = append(got, l.delay())
	}
	want := []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("reservations %v, want %v", got, want)
		}
	}
	now = now.Add(time.Second) // idle: no debt carried over, no burst saved up
	if d := l.delay(); d != 0 {
		t.Errorf("after idle: %v", d)
	}
	if d := l.delay(); d != 100*time.Millisecond {
		t.Errorf("second after idle: %v", d)
	}
	l.pause(3 * time.Second)
	if d := l.delay(); d != 3*time.Second {
		t.Errorf("after pause(3s): %v", d)
	}
	// A worker's share of the tenant's rate: half of 10/s is 5/s.
	now = now.Add(time.Hour)
	l.share(0.5)
	l.delay()
	if d := l.delay(); d != 200*time.Millisecond {
		t.Errorf("at half the rate: %v, want 200ms", d)
	}
}

// TestRateLimitRealClock: 11 requests at 50/s cannot take less than 200 ms.
func TestRateLimitRealClock(t *testing.T) {
	srv := cxonetest.New(cxonetest.Config{})
	defer srv.Close()
	h := newHarness(t, srv, func(c *dsl.Sink, o *Options) {
		c.RequestsPerSecond = 50
		o.Sleep = nil // the real timer
	})
	ctx := context.Background()
	if err := h.open(ctx); err != nil { // discovery and the token, on the issuer
		t.Fatal(err)
	}
	start := time.Now()
	dir := t.TempDir()
	for i := range 10 {
		// Multiples of 12 have neither media nor values: one request each.
		if err := h.sink.Call(ctx, testCall(t, dir, i*12)); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.sink.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 170*time.Millisecond {
		t.Errorf("10 requests after the token at 50/s took %v", el)
	}
	api := 0
	for _, r := range srv.Requests() {
		if !r.Issuer {
			api++
		}
	}
	if api != 10 {
		t.Errorf("API requests %d, want 10", api)
	}
}

// TestBackoffBounds: delay n is uniform in [d/2, d] around
// d = min(base·2^(n−1), max).
func TestBackoffBounds(t *testing.T) {
	for range 50 {
		b := newBackOff(100*time.Millisecond, time.Second)
		for attempt := 1; attempt <= 8; attempt++ {
			full := min(100*time.Millisecond<<(attempt-1), time.Second)
			if d := b.NextBackOff(); d < full/2 || d > full+1 {
				t.Fatalf("delay %d = %v, want in [%v, %v]", attempt, d, full/2, full)
			}
		}
	}
}

// TestSlowAnswerIsRetried: an answer later than the timeout is a retry,
// and the retry is answered from the idempotency store.
func TestSlowAnswerIsRetried(t *testing.T) {
	srv := cxonetest.New(cxonetest.Config{Faults: cxonetest.Limit(func(int, *http.Request) cxonetest.Fault {
		return cxonetest.Fault{Kind: cxonetest.Slow, Delay: time.Second}
	})})
	defer srv.Close()
	h := newHarness(t, srv, func(c *dsl.Sink, _ *Options) { c.Timeout = 100 * time.Millisecond })
	ctx := context.Background()
	if err := h.open(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.sink.Call(ctx, testCall(t, t.TempDir(), 0)); err != nil {
		t.Fatal(err)
	}
	if err := h.sink.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if len(h.fail) != 0 || h.sink.Stats().Retries != 1 {
		t.Fatalf("fail %v, retries %d; want none, 1", h.fail, h.sink.Stats().Retries)
	}
	var replayed bool
	for _, r := range srv.Requests() {
		replayed = replayed || r.Replayed
	}
	if !replayed {
		t.Error("the retry was not a replay")
	}
	if !strings.Contains(h.log.String(), "network: timeout") {
		t.Errorf("log does not name the timeout:\n%s", h.log.String())
	}
}
