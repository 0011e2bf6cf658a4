package cxone

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/applink-dev/applink/engine/connector"
)

// userAgent names applink in every request.
const userAgent = "applink-cxone/1"

// request is one logical request; send may make several attempts of it.
type request struct {
	method, url string
	family      Family // its rate limit; FamilyAuth: none
	contentType string
	body        []byte
	file        string // media upload: the body is read from here, reopened per attempt
	idemKey     string
	bearer      bool // send the access token (not to a signed upload URL)
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// AuthError means no token could be obtained: nothing can be sent.
type AuthError struct{ Err error }

func (e *AuthError) Error() string { return "cxone: authenticate: " + e.Err.Error() }
func (e *AuthError) Unwrap() error { return e.Err }

// RateLimitedError is a 429 whose Retry-After is longer than the client
// may wait (Options.MaxRateLimitWait). It unwraps to a connector.Failure with
// reason rate_limited, not permanent: the call goes with the next run (or
// the job's next attempt, after Wait).
type RateLimitedError struct {
	Family Family
	Wait   time.Duration // what Retry-After asked for; 0 when it named nothing
	Text   string        // CXone's error text, redacted
}

func (e *RateLimitedError) Error() string { return e.Failure().Error() }

// Failure is the ledger's view of it.
func (e *RateLimitedError) Failure() connector.Failure {
	wait := "an unnamed time"
	if e.Wait > 0 {
		wait = e.Wait.String()
	}
	return connector.Failure{Code: connector.ReasonRateLimited,
		Detail: fmt.Sprintf("CXone answered 429 (%s) and asked to wait %s before more %s requests, longer than a run waits; the next run sends it", e.Text, wait, e.Family)}
}

func (e *RateLimitedError) Unwrap() error { return e.Failure() }

// RetryAfter is the wait CXone asked for when err is a rate_limited
// failure (a job may snooze that long).
func RetryAfter(err error) (time.Duration, bool) {
	var rl *RateLimitedError
	if errors.As(err, &rl) {
		return rl.Wait, true
	}
	return 0, false
}

// retryableError is a transient failure of one attempt.
type retryableError struct {
	f     connector.Failure
	after time.Duration // a server-requested delay (Retry-After), 0 for backoff
}

func (e *retryableError) Error() string { return e.f.Error() }

// maxErrorText bounds CXone's error text in a failure reason.
const maxErrorText = 200

// send performs r with its family's rate limit, per-attempt timeouts and
// retries. A 2xx or 409 is success; other 4xx (but 401, 408 and 429) are
// final, as a connector.Failure.
func (c *Client) send(ctx context.Context, r *request) (*response, error) {
	retried401 := false
	bo := newBackOff(c.opts.BaseBackoff, c.opts.MaxBackoff)
	for attempt := 1; ; attempt++ {
		resp, used, err := c.attempt(ctx, r)
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
				c.tok.invalidate(used)
				c.log.Info("cxone: 401, refreshing token", "url", r.url)
				if !retried401 {
					retried401 = true
					c.retries.Add(1)
					c.obs.Retry(r.family, "http_401")
					attempt--
					continue
				}
				err = &retryableError{f: c.httpFailure(resp)}
			case st == http.StatusTooManyRequests:
				d, ok := parseRetryAfter(resp.header.Get("Retry-After"), c.opts.Now())
				if !ok {
					d = 0
				}
				// Past the limit, or past the caller's own deadline (a run's
				// or a job's budget), waiting is pointless: the row goes
				// with the next run, or the job's next attempt.
				deadline, bounded := ctx.Deadline()
				if c.opts.MaxRateLimitWait < 0 || d > c.opts.MaxRateLimitWait || (bounded && c.opts.Now().Add(d).After(deadline)) {
					return nil, &RateLimitedError{Family: r.family, Wait: d, Text: c.httpFailure(resp).Detail}
				}
				err = &retryableError{f: c.httpFailure(resp), after: d}
			case st == http.StatusRequestTimeout, st >= 500:
				err = &retryableError{f: c.httpFailure(resp)}
			default:
				return nil, c.httpFailure(resp)
			}
		}
		var re *retryableError
		if !errors.As(err, &re) {
			return nil, err
		}
		if attempt >= c.opts.MaxAttempts {
			f := re.f
			if f.Code == "network" {
				f.Detail = fmt.Sprintf("gave up after %d attempts: %s", attempt, f.Detail)
			}
			return nil, f
		}
		delay := re.after
		if delay > 0 {
			// Retry-After speaks for the whole family: hold its workers.
			if l := c.lims[r.family]; l != nil {
				l.pause(delay)
			}
		} else {
			delay = bo.NextBackOff()
		}
		c.retries.Add(1)
		c.obs.Retry(r.family, re.f.Code)
		c.log.Info("cxone: retrying", "method", r.method, "url", r.url, "attempt", attempt, "delay", delay, "err", re.f.Error())
		if err := c.opts.Sleep(ctx, delay); err != nil {
			return nil, fmt.Errorf("cxone: %s %s: %w", r.method, r.url, err)
		}
	}
}

// attempt makes one HTTP exchange. Transport errors and attempt timeouts come
// back as *retryableError; a cancelled ctx, an auth failure or an unreadable
// media file as themselves. It returns the token it used, for invalidation.
func (c *Client) attempt(ctx context.Context, r *request) (*response, string, error) {
	if l := c.lims[r.family]; l != nil {
		if err := l.wait(ctx, c.opts.Sleep); err != nil {
			return nil, "", fmt.Errorf("cxone: rate limit wait: %w", err)
		}
	}
	var token string
	if r.bearer {
		var err error
		if token, err = c.tok.get(ctx); err != nil {
			return nil, "", err
		}
	}
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var body io.Reader
	var size int64 = -1
	if r.file != "" {
		f, err := os.Open(r.file)
		if err != nil {
			return nil, "", mediaFailure(err, c.red)
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
	c.setHeaders(req.Header, r, token)
	if c.opts.Trace != nil {
		note := ""
		if r.file != "" {
			note = fmt.Sprintf("%d bytes from %s", size, r.file)
		}
		c.trace(c.red.dumpRequest(r.method, r.url, req.Header, r.contentType, r.body, note))
	}
	c.requests.Add(1)
	resp, err := c.hc.Do(req)
	if err != nil {
		c.obs.Request(r.family, 0)
		if ctx.Err() != nil {
			return nil, "", fmt.Errorf("cxone: %s %s: %w", r.method, r.url, ctx.Err())
		}
		return nil, "", &retryableError{f: connector.Failure{Code: "network", Detail: c.red.clean(transportText(err))}}
	}
	defer resp.Body.Close()
	c.obs.Request(r.family, resp.StatusCode)
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		if ctx.Err() != nil {
			return nil, "", fmt.Errorf("cxone: %s %s: %w", r.method, r.url, ctx.Err())
		}
		return nil, "", &retryableError{f: connector.Failure{Code: "network", Detail: "reading response: " + c.red.clean(transportText(err))}}
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, token, nil
}

// mediaFailure: the media file could not be read; retrying the request
// cannot help, a later run may (the file may come back).
func mediaFailure(err error, red *redactor) connector.Failure {
	return connector.Failure{Code: connector.ReasonMediaUnreadable, Detail: red.clean(err.Error())}
}

func (c *Client) trace(s string) {
	c.traceMu.Lock()
	defer c.traceMu.Unlock()
	io.WriteString(c.opts.Trace, s)
}

func (c *Client) setHeaders(h http.Header, r *request, token string) {
	if r.contentType != "" {
		h.Set("Content-Type", r.contentType)
	}
	// Practitioners report CXone answers "No known way to render data"
	// without it.
	h.Set("Accept", "application/json")
	h.Set("User-Agent", userAgent)
	if r.idemKey != "" {
		h.Set("Idempotency-Key", r.idemKey)
	}
	if r.bearer {
		h.Set("Authorization", "Bearer "+token)
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

// httpFailure types a final non-success answer with CXone's error text:
// permanent for a 4xx other than 408 and 429.
func (c *Client) httpFailure(resp *response) connector.Failure {
	st := resp.status
	return connector.Failure{Code: fmt.Sprintf("http_%d", st), Detail: c.red.clean(errorText(resp.body, st)),
		Permanent: st >= 400 && st < 500 && st != http.StatusRequestTimeout && st != http.StatusTooManyRequests}
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
