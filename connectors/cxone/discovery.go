package cxone

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/applink-dev/applink/engine/connector"
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
	Cluster     string `json:"cluster"`
}

// getJSON GETs an unauthenticated discovery document into v.
func (c *Client) getJSON(ctx context.Context, u string, v any) error {
	resp, err := c.send(ctx, &request{method: "GET", url: u, family: FamilyAuth})
	if err != nil {
		return err
	}
	if err := json.Unmarshal(resp.body, v); err != nil {
		return connector.Failure{Code: fmt.Sprintf("http_%d", resp.status), Detail: "the answer is not JSON"}
	}
	return nil
}

func (c *Client) discoverTokenEndpoint(ctx context.Context) (string, error) {
	u := c.issuer + OpenIDConfigPath
	var conf openIDConfig
	if err := c.getJSON(ctx, u, &conf); err != nil {
		return "", fmt.Errorf("cxone: discover the token endpoint at %s (is auth_url the CXone issuer?): %w", u, err)
	}
	tok, err := checkBaseURL("token_endpoint", conf.TokenEndpoint)
	if err != nil {
		return "", fmt.Errorf("cxone: %s: %w", u, err)
	}
	return tok, nil
}

// discoverAPI reads the tenant's CXone configuration: its API endpoint,
// area and cluster.
func (c *Client) discoverAPI(ctx context.Context, tenant string) (cxoneConfig, error) {
	if tenant == "" {
		return cxoneConfig{}, errors.New("cxone: api_url is not set and the id_token names no tenant (tenantId claim) to discover it with: set api_url in the sink block")
	}
	u := c.issuer + CXoneConfigPath + "?tenantId=" + url.QueryEscape(tenant)
	var conf cxoneConfig
	if err := c.getJSON(ctx, u, &conf); err != nil {
		return conf, fmt.Errorf("cxone: discover the API endpoint of tenant %s at %s (or set api_url): %w", tenant, u, err)
	}
	api, err := checkBaseURL("api_endpoint", conf.APIEndpoint)
	if err != nil {
		return conf, fmt.Errorf("cxone: %s: %w (set api_url in the sink block)", u, err)
	}
	conf.APIEndpoint = api
	c.log.Info("cxone: API endpoint discovered", "tenant", tenant, "api_endpoint", api, "area", conf.Area, "cluster", conf.Cluster)
	return conf, nil
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

// discoverAPIURL is discoverAPI's endpoint alone.
func (c *Client) discoverAPIURL(ctx context.Context, tenant string) (string, error) {
	conf, err := c.discoverAPI(ctx, tenant)
	return conf.APIEndpoint, err
}
