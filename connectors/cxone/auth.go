package cxone

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"
)

// refreshMargin is how long before expiry a token is replaced, so that a
// request never leaves with a token that dies in flight. Short-lived tokens
// (tests) use half their lifetime instead.
const refreshMargin = 60 * time.Second

// defaultTokenLifetime applies when the token response has no expires_in.
const defaultTokenLifetime = time.Hour

// tokenSource holds the current access token. get is single-flight: the
// mutex is held during a fetch, so concurrent workers wait for one request.
type tokenSource struct {
	s      *Sink
	mu     sync.Mutex
	token  string
	renew  time.Time // fetch a new token at or after this instant
	tenant string    // tenantId claim of the last id_token, "" if none
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
}

func (t *tokenSource) get(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" && t.s.opts.Now().Before(t.renew) {
		return t.token, nil
	}
	tok, life, err := t.fetch(ctx)
	if err != nil {
		return "", err
	}
	margin := min(refreshMargin, life/2)
	t.token, t.renew = tok, t.s.opts.Now().Add(life-margin)
	return tok, nil
}

// tenantID is the tenant the last id_token named.
func (t *tokenSource) tenantID() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.tenant
}

// invalidate drops used if it is still the current token (after a 401); a
// token another worker already replaced is left alone.
func (t *tokenSource) invalidate(used string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if used != "" && t.token == used {
		t.token = ""
	}
}

// fetch runs the password grant. We do not use the refresh_token grant: the
// access key does not expire with the session, so a new password grant is
// the simpler refresh and keeps one code path.
func (t *tokenSource) fetch(ctx context.Context) (string, time.Duration, error) {
	s := t.s
	s.stats.tokens.Add(1)
	form := url.Values{
		"grant_type": {"password"},
		"username":   {s.cred.accessKeyID},
		"password":   {s.cred.accessKeySecret},
	}
	resp, err := s.send(ctx, &request{
		method:      "POST",
		url:         s.tokenURL,
		contentType: "application/x-www-form-urlencoded",
		body:        []byte(form.Encode()),
		basic:       true,
	})
	if err != nil {
		if ctx.Err() != nil {
			return "", 0, fmt.Errorf("cxone: authenticate: %w", ctx.Err())
		}
		return "", 0, &AuthError{Err: err}
	}
	var tr tokenResponse
	if err := json.Unmarshal(resp.body, &tr); err != nil {
		return "", 0, &AuthError{Err: errors.New("token response is not JSON")}
	}
	if tr.AccessToken == "" {
		return "", 0, &AuthError{Err: fmt.Errorf("token response (status %d) has no access_token", resp.status)}
	}
	s.red.add(tr.AccessToken)
	s.red.add(tr.RefreshToken)
	s.red.add(tr.IDToken)
	if tr.IDToken != "" {
		// fetch runs under t.mu (get holds it).
		tenant, err := tenantOf(tr.IDToken)
		if err != nil {
			s.log.Info("cxone: no tenant in the id_token", "err", s.red.clean(err.Error()))
		}
		t.tenant = tenant
	}
	life := time.Duration(tr.ExpiresIn) * time.Second
	if life <= 0 {
		life = defaultTokenLifetime
	}
	s.log.Info("cxone: token obtained", "expires_in", life)
	return tr.AccessToken, life, nil
}

func basicAuth(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}
