package cxone

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Discovery as the developer portal's "Getting Started" (task 5, "Perform
// API discovery") describes it: the issuer's OpenID configuration names the
// token endpoint; the CXone configuration of the tenant names its API host.
const (
	// DefaultIssuer is CXone's published issuer, auth_url's default.
	DefaultIssuer    = "https://cxone.niceincontact.com"
	OpenIDConfigPath = "/.well-known/openid-configuration"
	CXoneConfigPath  = "/.well-known/cxone-configuration"
)

type openIDConfig struct {
	Issuer        string `json:"issuer"`
	TokenEndpoint string `json:"token_endpoint"`
}

type cxoneConfig struct {
	APIEndpoint string `json:"api_endpoint"`
	Area        string `json:"area"`
}

// connect makes the sink ready to send: the token endpoint (discovered
// unless auth_url names it), a token, and the API endpoint (api_url, or
// discovered with the tenant of the id_token). Errors are fatal for the run.
func (s *Sink) connect(ctx context.Context) error {
	if s.tokenURL == "" {
		u, err := s.discoverTokenEndpoint(ctx)
		if err != nil {
			return err
		}
		s.tokenURL = u
	}
	if _, err := s.tok.get(ctx); err != nil {
		return err
	}
	if s.apiURL == "" {
		u, err := s.discoverAPI(ctx, s.tok.tenantID())
		if err != nil {
			return err
		}
		s.apiURL = u
	}
	return nil
}

// getJSON GETs an unauthenticated discovery document into v.
func (s *Sink) getJSON(ctx context.Context, u string, v any) error {
	resp, err := s.send(ctx, &request{method: "GET", url: u})
	if err != nil {
		return err
	}
	if err := json.Unmarshal(resp.body, v); err != nil {
		return fmt.Errorf("http_%d: the answer is not JSON", resp.status)
	}
	return nil
}

func (s *Sink) discoverTokenEndpoint(ctx context.Context) (string, error) {
	u := s.issuer + OpenIDConfigPath
	var c openIDConfig
	if err := s.getJSON(ctx, u, &c); err != nil {
		return "", fmt.Errorf("cxone: discover the token endpoint at %s (is auth_url the CXone issuer?): %w", u, err)
	}
	tok, err := checkBaseURL("token_endpoint", c.TokenEndpoint)
	if err != nil {
		return "", fmt.Errorf("cxone: %s: %w", u, err)
	}
	return tok, nil
}

func (s *Sink) discoverAPI(ctx context.Context, tenant string) (string, error) {
	if tenant == "" {
		return "", errors.New("cxone: api_url is not set and the id_token names no tenant (tenantId claim) to discover it with: set api_url in the sink block")
	}
	u := s.issuer + CXoneConfigPath + "?tenantId=" + url.QueryEscape(tenant)
	var c cxoneConfig
	if err := s.getJSON(ctx, u, &c); err != nil {
		return "", fmt.Errorf("cxone: discover the API endpoint of tenant %s at %s (or set api_url): %w", tenant, u, err)
	}
	api, err := checkBaseURL("api_endpoint", c.APIEndpoint)
	if err != nil {
		return "", fmt.Errorf("cxone: %s: %w (set api_url in the sink block)", u, err)
	}
	s.log.Info("cxone: API endpoint discovered", "tenant", tenant, "api_endpoint", api, "area", c.Area)
	return api, nil
}

// tenantOf reads the tenantId claim of an id_token. The token is decoded,
// not verified: the tenant is only a hint for discovery (a wrong one finds
// no configuration, or an API host that refuses the access token).
func tenantOf(idToken string) (string, error) {
	parts := strings.Split(idToken, ".")
	if len(parts) != 3 {
		return "", errors.New("the id_token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return "", fmt.Errorf("the id_token payload is not base64url: %w", err)
	}
	var claims struct {
		TenantID string `json:"tenantId"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", fmt.Errorf("the id_token payload is not JSON: %w", err)
	}
	return claims.TenantID, nil
}
