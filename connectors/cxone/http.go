package cxone

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// request is one logical request; send may make several attempts of it.
type request struct {
	method, url string
	contentType string
	body        []byte
	file        string // media upload: the body is read from here, reopened per attempt
	idemKey     string
	bearer      bool     // send the access token
	basic       bool     // send the client id/secret (token endpoint)
	lim         *limiter // an endpoint's own rate limit, waited for before the sink's
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// HTTPError is a final non-success answer. Text is CXone's error text,
// redacted and truncated.
type HTTPError struct {
	Status int
	Text   string
}

func (e *HTTPError) Error() string { return fmt.Sprintf("http_%d: %s", e.Status, e.Text) }

// AuthError means no token could be obtained: the run cannot continue.
type AuthError struct{ Err error }

func (e *AuthError) Error() string { return "cxone: authenticate: " + e.Err.Error() }
func (e *AuthError) Unwrap() error { return e.Err }

// MediaError means the media file could not be read: retrying cannot help.
type MediaError struct{ Err error }

func (e *MediaError) Error() string { return "media_unreadable: " + e.Err.Error() }
func (e *MediaError) Unwrap() error { return e.Err }

// retryableError is a transient failure of one attempt.
type retryableError struct {
	err   error
	after time.Duration // a server-requested delay (Retry-After), 0 for backoff
}

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

// maxErrorText bounds CXone's error text in a failure reason.
const maxErrorText = 200

// send performs r with rate limiting, per-attempt timeouts and retries. A 2xx
// or 409 is success; other 4xx (but 401, 408 and 429) are final.
func (s *Sink) send(ctx context.Context, r *request) (*response, error) {
	retried401 := false
	var last error
	for attempt := 1; ; attempt++ {
		resp, used, err := s.attempt(ctx, r)
		if err == nil {
			switch st := resp.status; {
			case st >= 200 && st < 300, st == http.StatusConflict:
				return resp, nil
			case st == http.StatusUnauthorized && r.bearer:
				// The token expired early or was revoked: fetch a new one.
				// The first time, retry at once without counting an attempt;
				// after that a 401 is a counted, backed-off attempt, so a
				// burst of expiries cannot fail a row but a 401 that stays
				// does, after MaxAttempts.
				s.tok.invalidate(used)
				s.log.Info("cxone: 401, refreshing token", "url", r.url)
				if !retried401 {
					retried401 = true
					attempt--
					continue
				}
				err = &retryableError{err: s.httpError(resp)}
			case st == http.StatusTooManyRequests:
				d, ok := parseRetryAfter(resp.header.Get("Retry-After"), s.opts.Now())
				if d > s.opts.MaxRetryAfter {
					d = s.opts.MaxRetryAfter
				}
				if !ok {
					d = 0
				}
				err = &retryableError{err: s.httpError(resp), after: d}
			case st == http.StatusRequestTimeout, st >= 500:
				err = &retryableError{err: s.httpError(resp)}
			default:
				return nil, s.httpError(resp)
			}
		}
		var re *retryableError
		if !errors.As(err, &re) {
			return nil, err
		}
		last = re.err
		if attempt >= s.opts.MaxAttempts {
			return nil, fmt.Errorf("gave up after %d attempts: %w", attempt, last)
		}
		delay := re.after
		if delay > 0 {
			// Retry-After speaks for the whole tenant: hold every worker.
			s.lim.pause(delay)
		} else {
			delay = s.backoff(attempt)
		}
		s.stats.retries.Add(1)
		s.log.Info("cxone: retrying", "method", r.method, "url", r.url, "attempt", attempt, "delay", delay, "err", s.red.clean(last.Error()))
		if err := s.opts.Sleep(ctx, delay); err != nil {
			return nil, fmt.Errorf("cxone: %s %s: %w", r.method, r.url, err)
		}
	}
}

// attempt makes one HTTP exchange. Transport errors and attempt timeouts come
// back as *retryableError; a cancelled ctx, an auth failure or an unreadable
// media file as themselves. It returns the token it used, for invalidation.
func (s *Sink) attempt(ctx context.Context, r *request) (*response, string, error) {
	if r.lim != nil {
		if err := r.lim.wait(ctx, s.opts.Sleep); err != nil {
			return nil, "", fmt.Errorf("cxone: rate limit wait: %w", err)
		}
	}
	if err := s.lim.wait(ctx, s.opts.Sleep); err != nil {
		return nil, "", fmt.Errorf("cxone: rate limit wait: %w", err)
	}
	var token string
	if r.bearer {
		var err error
		if token, err = s.tok.get(ctx); err != nil {
			return nil, "", err
		}
	}
	actx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	var body io.Reader
	var size int64 = -1
	if r.file != "" {
		f, err := os.Open(r.file)
		if err != nil {
			return nil, "", &MediaError{Err: err}
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil {
			size = fi.Size()
		}
		body = f
	} else if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(actx, r.method, r.url, body)
	if err != nil {
		return nil, "", fmt.Errorf("cxone: build request: %w", err)
	}
	if size >= 0 {
		req.ContentLength = size
	}
	s.setHeaders(req.Header, r, token)
	if s.opts.Trace != nil {
		note := ""
		if r.file != "" {
			note = fmt.Sprintf("%d bytes from %s", size, r.file)
		}
		d := s.red.dumpRequest(r.method, r.url, req.Header, r.contentType, r.body, note)
		s.traceMu.Lock()
		io.WriteString(s.opts.Trace, d)
		s.traceMu.Unlock()
	}
	s.stats.requests.Add(1)
	resp, err := s.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, "", fmt.Errorf("cxone: %s %s: %w", r.method, r.url, ctx.Err())
		}
		return nil, "", &retryableError{err: fmt.Errorf("network: %s", s.red.clean(transportText(err)))}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		if ctx.Err() != nil {
			return nil, "", fmt.Errorf("cxone: %s %s: %w", r.method, r.url, ctx.Err())
		}
		return nil, "", &retryableError{err: fmt.Errorf("network: reading response: %s", s.red.clean(transportText(err)))}
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, token, nil
}

func (s *Sink) setHeaders(h http.Header, r *request, token string) {
	if r.contentType != "" {
		h.Set("Content-Type", r.contentType)
	}
	h.Set("Accept", "application/json")
	h.Set("User-Agent", "applink-cxone/1")
	if r.idemKey != "" {
		h.Set("Idempotency-Key", r.idemKey)
	}
	switch {
	case r.bearer:
		h.Set("Authorization", "Bearer "+token)
	case r.basic:
		h.Set("Authorization", "Basic "+basicAuth(s.cred.clientID, s.cred.clientSecret))
	}
}

// transportText shortens a transport error to its cause: the *url.Error
// wrapper repeats method and URL, which the caller already logs.
func transportText(err error) string {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return "timeout"
		}
		return ue.Unwrap().Error()
	}
	return err.Error()
}

// httpError turns a response into an HTTPError with CXone's error text.
func (s *Sink) httpError(resp *response) *HTTPError {
	return &HTTPError{Status: resp.status, Text: s.red.clean(errorText(resp.body, resp.status))}
}

// errorText picks the human part of an error body: CXone answers JSON with
// one of a few keys; anything else is shown as text, on one line.
func errorText(body []byte, status int) string {
	t := strings.TrimSpace(string(body))
	for _, k := range []string{`"error_description"`, `"message"`, `"error"`, `"detail"`, `"details"`} {
		if i := strings.Index(t, k); i >= 0 {
			if v, ok := jsonStringAfter(t[i+len(k):]); ok && v != "" {
				t = v
				break
			}
		}
	}
	if t == "" {
		t = http.StatusText(status)
	}
	t = strings.Join(strings.Fields(t), " ")
	if len(t) > maxErrorText {
		cut := maxErrorText
		for cut > 0 && !utf8Start(t[cut]) {
			cut--
		}
		t = strings.TrimRight(t[:cut], " ") + "…"
	}
	return t
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// jsonStringAfter reads `: "value"` at the start of s.
func jsonStringAfter(s string) (string, bool) {
	s = strings.TrimLeft(s, " \t\r\n")
	if !strings.HasPrefix(s, ":") {
		return "", false
	}
	s = strings.TrimLeft(s[1:], " \t\r\n")
	if !strings.HasPrefix(s, `"`) {
		return "", false
	}
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			v, err := strconv.Unquote(s[:i+1])
			return v, err == nil
		}
	}
	return "", false
}

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date
// (RFC 9110 §10.2.3). ok is false when absent or unreadable.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > int64(24*time.Hour/time.Second) {
			n = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	if d < 0 {
		d = 0
	}
	return d, true
}

// backoff is "equal jitter" exponential backoff: half the delay is fixed, so
// retries never bunch at zero, half is random, so workers spread out.
func (s *Sink) backoff(attempt int) time.Duration {
	d := s.opts.BaseBackoff
	for i := 1; i < attempt && d < s.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.opts.MaxBackoff)
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}

// limiter is a token bucket (burst 1, so requests are spread evenly) that
// hands out reservations: concurrent callers queue up in time instead of
// racing, and a 429's Retry-After pauses everyone.
type limiter struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time // earliest start of the next request
	now      func() time.Time
}

func newLimiter(rps float64, now func() time.Time) *limiter {
	return &limiter{interval: time.Duration(float64(time.Second) / rps), now: now}
}

func (l *limiter) reserve() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if l.next.Before(now) {
		l.next = now
	}
	d := l.next.Sub(now)
	l.next = l.next.Add(l.interval)
	return d
}

func (l *limiter) pause(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if until := l.now().Add(d); until.After(l.next) {
		l.next = until
	}
}

func (l *limiter) wait(ctx context.Context, sleep func(context.Context, time.Duration) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d := l.reserve(); d > 0 {
		return sleep(ctx, d)
	}
	return nil
}
