package cxone

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/applink-dev/applink/connectors/cxone/cxonetest"
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
)

// TestDiscovery: the token endpoint comes from the issuer's OpenID
// configuration (unless auth_url names it); api_url wins when set, else the
// API host comes from the tenant's CXone configuration; every API request
// then goes to that host.
func TestDiscovery(t *testing.T) {
	tests := []struct {
		name       string
		block      func(c *dsl.Sink, srv *cxonetest.Server)
		wantIssuer []string // issuer paths requested, in order
		wantErr    string
	}{
		{name: "with api_url", block: func(c *dsl.Sink, srv *cxonetest.Server) {},
			wantIssuer: []string{OpenIDConfigPath, TokenPath}},
		{name: "without api_url", block: func(c *dsl.Sink, srv *cxonetest.Server) { c.APIURL = "" },
			wantIssuer: []string{OpenIDConfigPath, TokenPath, CXoneConfigPath + "?tenantId=" + cxonetest.DefaultTenantID}},
		{name: "auth_url names the token endpoint", block: func(c *dsl.Sink, srv *cxonetest.Server) { c.APIURL = ""; c.AuthURL = srv.URL + TokenPath },
			wantIssuer: []string{TokenPath, CXoneConfigPath + "?tenantId=" + cxonetest.DefaultTenantID}},
		{name: "auth_url is not an issuer", block: func(c *dsl.Sink, srv *cxonetest.Server) { c.AuthURL = srv.APIURL },
			wantErr: "discover the token endpoint at " + "%API%" + OpenIDConfigPath + " (is auth_url the CXone issuer?): http_401"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := cxonetest.New(cxonetest.Config{})
			defer srv.Close()
			h := newHarness(t, srv, func(c *dsl.Sink, _ *Options) { tt.block(c, srv) })
			ctx := context.Background()
			err := h.err(h.open(ctx))
			if tt.wantErr != "" {
				want := strings.ReplaceAll(tt.wantErr, "%API%", srv.APIURL)
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("Open: %v, want %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := h.sink.Agent(ctx, testAgents()[0]); err != nil {
				t.Fatal(err)
			}
			if err := h.sink.Call(ctx, testCall(t, t.TempDir(), 1)); err != nil {
				t.Fatal(err)
			}
			if err := h.sink.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if len(h.fail) != 0 {
				t.Fatalf("failures %v", h.fail)
			}
			var issuer []string
			api := 0
			for _, r := range srv.Requests() {
				if r.Issuer {
					p := r.Path
					if r.RawQuery != "" {
						p += "?" + r.RawQuery
					}
					issuer = append(issuer, p)
				} else {
					api++
				}
			}
			if strings.Join(issuer, " ") != strings.Join(tt.wantIssuer, " ") {
				t.Errorf("issuer requests %v, want %v", issuer, tt.wantIssuer)
			}
			if api < 4 || h.sink.c.apiURL() != srv.APIURL {
				t.Errorf("%d API requests to %q, want them on %q", api, h.sink.c.apiURL(), srv.APIURL)
			}
			h.noSecrets()
		})
	}
}

// TestDiscoverAPIErrors: a tenant the issuer does not know, or no tenant
// at all, is an error that says to set api_url.
func TestDiscoverAPIErrors(t *testing.T) {
	srv := cxonetest.New(cxonetest.Config{TenantID: "t-2"})
	defer srv.Close()
	h := newHarness(t, srv, func(c *dsl.Sink, _ *Options) { c.APIURL = "" })
	ctx := context.Background()
	if _, err := h.sink.c.discoverAPIURL(ctx, "t-1"); err == nil ||
		!strings.Contains(err.Error(), "discover the API endpoint of tenant t-1") || !strings.Contains(err.Error(), "(or set api_url): http_404: tenant t-1 not found") {
		t.Errorf("discoverAPI: %v", err)
	}
	if _, err := h.sink.c.discoverAPIURL(ctx, ""); err == nil || !strings.Contains(err.Error(), "set api_url in the sink block") {
		t.Errorf("discoverAPI without tenant: %v", err)
	}
}

func TestTenantOf(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		token, want, wantErr string
	}{
		{enc(`{"alg":"RS256"}`) + "." + enc(`{"tenantId":"11e-t"}`) + ".sig", "11e-t", ""},
		{enc(`{}`) + "." + base64.URLEncoding.EncodeToString([]byte(`{"tenantId":"pad"}`)) + ".sig", "pad", ""},
		{enc(`{}`) + "." + enc(`{"sub":"x"}`) + ".sig", "", ""},
		{"not-a-jwt", "", "not a JWT"},
		{"a.%%%.c", "", "not base64url"},
		{"a." + enc("[1") + ".c", "", "not JSON"},
	}
	for _, tt := range tests {
		got, err := tenantOf(tt.token)
		if got != tt.want || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("tenantOf(%q) = %q, %v; want %q, %q", tt.token, got, err, tt.want, tt.wantErr)
		}
	}
}

func FuzzTenantOf(f *testing.F) {
	f.Add("a.eyJ0ZW5hbnRJZCI6IngifQ.c")
	f.Add("..")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = tenantOf(s) // must not panic
	})
}

// TestDryRunWithoutAPIURL: the dry run discovers nothing and says where the
// API host would come from.
func TestDryRunWithoutAPIURL(t *testing.T) {
	var out bytes.Buffer
	s, err := New(dsl.Sink{Kind: "cxone"}, Options{Getenv: func(string) string { return "" }, DryRun: &out})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := s.Open(ctx, connector.RunInfo{Fields: testFields}); err != nil {
		t.Fatal(err)
	}
	if err := s.Agent(ctx, testAgents()[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"the token_endpoint of https://cxone.niceincontact.com/.well-known/openid-configuration",
		"{api_endpoint}: the api_endpoint of https://cxone.niceincontact.com/.well-known/cxone-configuration?tenantId=(the tenantId of the id_token)",
		"POST {api_endpoint}/user-management/v2/users/search",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry run lacks %q:\n%s", want, out.String())
		}
	}
}
