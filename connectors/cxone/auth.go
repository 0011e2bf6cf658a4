package cxone

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/applink-dev/applink/engine/connector"
)

// refreshMargin is how long before expiry a token is replaced, so that a
// request never leaves with a token that dies in flight. Short-lived tokens
// (tests) use half their lifetime instead.
const refreshMargin = 60 * time.Second

// defaultTokenLifetime applies when the token response has no expires_in
// (CXone's tokens last an hour).
const defaultTokenLifetime = time.Hour

// tokenSource is the client's access token: x/oauth2's password grant
// behind a ReuseTokenSource, so every caller shares one token and one
// fetch is in flight at a time. A 401 replaces the reuse source when the
// token it refused is still the current one.
type tokenSource struct {
	c       *Client
	conf    *oauth2.Config
	hc      *http.Client // the token call's client: HTTP/1.1 only
	mu      sync.Mutex
	src     oauth2.TokenSource
	current string    // the last token fetched
	renew   time.Time // when current is due for replacement
	tenant  string    // tenantId claim of the last id_token, "" if none
}

func newTokenSource(c *Client) *tokenSource {
	t := &tokenSource{c: c, hc: tokenHTTPClient(c)}
	t.src = t.reuse()
	return t
}

// tokenHTTPClient is the HTTP client of the token call. Practitioners
// report that CXone's token endpoint fails over HTTP/2, so this transport
// speaks HTTP/1.1 only; like every request of the client it sends
// Accept: application/json (x/oauth2 sets no Accept header itself).
func tokenHTTPClient(c *Client) *http.Client {
	var base http.RoundTripper
	if c.opts.HTTPClient != nil && c.opts.HTTPClient.Transport != nil {
		base = c.opts.HTTPClient.Transport
	}
	if tr, ok := base.(*http.Transport); ok || base == nil {
		if tr == nil {
			tr = http.DefaultTransport.(*http.Transport)
		}
		tr = tr.Clone()
		tr.Protocols = http1Only()
		base = tr
	}
	return &http.Client{Transport: &headerTransport{c: c, base: base}}
}

func http1Only() *http.Protocols {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	return p
}

// headerTransport sets the headers every CXone request carries and counts
// the token requests for the observer.
type headerTransport struct {
	c    *Client
	base http.RoundTripper
}

func (h *headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Header.Set("Accept", "application/json")
	r.Header.Set("User-Agent", userAgent)
	if h.c.opts.Trace != nil {
		var body []byte
		if req.GetBody != nil {
			if rc, err := req.GetBody(); err == nil {
				body, _ = io.ReadAll(rc)
				rc.Close()
			}
		}
		h.c.trace(h.c.red.dumpRequest(r.Method, r.URL.String(), r.Header, r.Header.Get("Content-Type"), body, ""))
	}
	h.c.requests.Add(1)
	resp, err := h.base.RoundTrip(r)
	status := 0
	if err == nil {
		status = resp.StatusCode
	}
	h.c.obs.Request(FamilyAuth, status)
	return resp, err
}

func (t *tokenSource) reuse() oauth2.TokenSource {
	// The grant shortens each token's expiry by the margin itself (it
	// depends on the lifetime): the reuse source need not add its own.
	return oauth2.ReuseTokenSourceWithExpiry(nil, passwordGrant{t}, time.Nanosecond)
}

// get returns the current token, fetching one when there is none or it is
// within its margin of expiry.
func (t *tokenSource) get(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	t.mu.Lock()
	src, cur, renew := t.src, t.current, t.renew
	t.mu.Unlock()
	if cur != "" && time.Now().Before(renew) {
		return cur, nil // the path of nearly every request
	}
	// A fetch is the client's, not this caller's: a caller whose context
	// ends stops waiting for it, and the fetch goes on for the others.
	type answer struct {
		tok *oauth2.Token
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		tok, err := src.Token()
		ch <- answer{tok, err}
	}()
	var a answer
	select {
	case a = <-ch:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	if a.err != nil {
		var ae *AuthError
		if errors.As(a.err, &ae) {
			return "", ae
		}
		return "", &AuthError{Err: a.err}
	}
	return a.tok.AccessToken, nil
}

// tenantID is the tenant the last id_token named.
func (t *tokenSource) tenantID() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.tenant
}

// invalidate drops used if it is still the current token (after a 401); a
// token another caller already replaced is left alone.
func (t *tokenSource) invalidate(used string) {
	if used == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.current == used {
		t.current, t.renew = "", time.Time{}
		t.src = t.reuse()
	}
}

// passwordGrant fetches a token with the access key (x/oauth2's
// PasswordCredentialsToken: username and password form-encoded, so a key
// holding '=' or '+' travels as %3D and %2B; client id and secret as HTTP
// Basic). We do not use the refresh_token grant: the access key does not
// expire with the session, so a new password grant is the simpler refresh.
// Transient failures (5xx, 408, 429, network) are retried with backoff.
type passwordGrant struct{ t *tokenSource }

func (g passwordGrant) Token() (*oauth2.Token, error) {
	t, c := g.t, g.t.c
	conf := &oauth2.Config{
		ClientID:     c.cred.clientID,
		ClientSecret: c.cred.clientSecret,
		Endpoint:     oauth2.Endpoint{TokenURL: c.tokenURL, AuthStyle: oauth2.AuthStyleInHeader},
	}
	// The fetch is the whole client's, not one caller's: it is bounded by
	// the attempt timeout, not by the context of whoever happened to ask.
	bo := newBackOff(c.opts.BaseBackoff, c.opts.MaxBackoff)
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
		ctx = context.WithValue(ctx, oauth2.HTTPClient, t.hc)
		c.tokens.Add(1)
		tok, err := conf.PasswordCredentialsToken(ctx, c.cred.accessKeyID, c.cred.accessKeySecret)
		cancel()
		c.obs.TokenRefresh(err == nil)
		if err == nil {
			return g.accept(tok), nil
		}
		f, retry := tokenFailure(err, c.red)
		if !retry || attempt >= c.opts.MaxAttempts {
			return nil, &AuthError{Err: f}
		}
		c.retries.Add(1)
		c.obs.Retry(FamilyAuth, f.Code)
		d := bo.NextBackOff()
		c.log.Info("cxone: retrying the token request", "attempt", attempt, "delay", d, "err", f.Error())
		if err := c.opts.Sleep(context.Background(), d); err != nil {
			return nil, &AuthError{Err: f}
		}
	}
}

// accept records a new token: its secrets for the redactor, the tenant of
// its id_token, and its expiry moved forward by the refresh margin.
func (g passwordGrant) accept(tok *oauth2.Token) *oauth2.Token {
	t, c := g.t, g.t.c
	c.red.add(tok.AccessToken)
	c.red.add(tok.RefreshToken)
	idToken, _ := tok.Extra("id_token").(string)
	c.red.add(idToken)
	tenant := ""
	if idToken != "" {
		var err error
		if tenant, err = tenantOf(idToken); err != nil {
			c.log.Info("cxone: no tenant in the id_token", "err", c.red.clean(err.Error()))
		}
	}

	life := defaultTokenLifetime
	if !tok.Expiry.IsZero() {
		life = time.Until(tok.Expiry)
	} else {
		tok.Expiry = time.Now().Add(life)
	}
	margin := min(refreshMargin, life/2)
	tok.Expiry = tok.Expiry.Add(-margin)
	t.mu.Lock()
	t.current, t.renew, t.tenant = tok.AccessToken, tok.Expiry, tenant
	t.mu.Unlock()
	c.log.Info("cxone: token obtained", "expires_in", life.Round(time.Second))
	return tok
}

// tokenFailure types a failed token request; retry says a new attempt may
// succeed.
func tokenFailure(err error, red *redactor) (connector.Failure, bool) {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		st := re.Response.StatusCode
		f := connector.Failure{Code: fmt.Sprintf("http_%d", st), Detail: red.clean(errorText(re.Body, st)), Permanent: st < 500 && st != 408 && st != 429}
		return f, !f.Permanent
	}
	// No answer, or an answer that is not a token (x/oauth2's text).
	return connector.Failure{Code: "network", Detail: red.clean(transportText(err))}, true
}

func basicAuth(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}
