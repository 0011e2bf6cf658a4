package cxone

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/applink-dev/applink/connectors/cxone/cxonetest"
	"github.com/applink-dev/applink/dsl"
)

func TestCheck(t *testing.T) {
	srv := cxonetest.New(cxonetest.Config{TenantID: "11e-tenant-check"})
	defer srv.Close()
	srv.AddUser(cxonetest.User{FirstName: "A", LastName: "B", EmailAddress: "a@b.example", Role: "Agent"})
	env := srv.Env()
	tests := []struct {
		name    string
		block   dsl.Sink
		unset   []string
		fields  []dsl.Field
		want    []string // lines or parts of lines, in order
		wantErr string   // "" for success
	}{
		{name: "discovered", block: dsl.Sink{AuthURL: srv.URL}, fields: testFields, want: []string{
			"cxone: token endpoint: " + srv.URL + "/auth/token (from " + srv.URL + "/.well-known/openid-configuration)",
			"cxone: authenticated with the access key; tenant 11e-tenant-check (the id_token's tenantId, read without verification)",
			"cxone: API endpoint: " + srv.APIURL + " (from " + srv.URL + "/.well-known/cxone-configuration); area fake1, cluster F1",
			"cxone: user search answers (POST /user-management/v2/users/search: 200, 1 users in the tenant)",
			"cxone: rate limits (requests per second, the tenant's, shared by every worker): user management 2, ingestion 10, business data 5",
			"each must already exist in CXone under this exact name (the Business Data API cannot create fields)",
			"  CustomerID               text",
			"  OrderTotal               number",
			"  VIP                      boolean",
			"cxone: note: CXone: a business-data field's type cannot be changed once the field is created in CXone, and its values are searchable there",
		}},
		{name: "api_url set", block: dsl.Sink{AuthURL: srv.URL, APIURL: srv.APIURL}, want: []string{
			"cxone: API endpoint: " + srv.APIURL + " (api_url)",
			"cxone: user search answers",
			"cxone: the spec maps no business-data field",
		}},
		{name: "missing variables are each named", block: dsl.Sink{AuthURL: srv.URL}, unset: []string{EnvAccessKeySecret, EnvClientID}, fields: testFields,
			want: []string{
				"cxone: environment variable CXONE_ACCESS_KEY_SECRET is not set",
				"cxone: environment variable CXONE_CLIENT_ID is not set",
				"  CustomerID",
			}, wantErr: "cxone: 2 problem(s)"},
		{name: "api_url that is not the API", block: dsl.Sink{AuthURL: srv.URL, APIURL: srv.URL}, want: []string{
			"cxone: user search (POST /user-management/v2/users/search) does not answer: http_404: no route for POST /user-management/v2/users/search on the issuer",
		}, wantErr: "cxone: 1 problem(s)"},
		{name: "a wrong secret", block: dsl.Sink{AuthURL: srv.URL}, want: []string{
			"cxone: authenticate: http_400: bad access key",
		}, wantErr: "1 problem(s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string {
				for _, u := range tt.unset {
					if k == u {
						return ""
					}
				}
				if tt.name == "a wrong secret" && k == EnvAccessKeySecret {
					return "wrong-" + env[k]
				}
				return env[k]
			}
			var out bytes.Buffer
			err := Check(context.Background(), tt.block, tt.fields, &out, Options{Getenv: getenv})
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Check: %v, want %q\n%s", err, tt.wantErr, out.String())
			}
			rest := out.String()
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks (in order) %q:\n%s", w, out.String())
				}
				rest = rest[i+len(w):]
			}
			for _, sec := range append(srv.Secrets(), "wrong-"+env[EnvAccessKeySecret]) {
				if strings.Contains(out.String(), sec) {
					t.Errorf("the output holds a secret:\n%s", out.String())
				}
			}
		})
	}
}

// TestCheckRateLimited: a 429 is reported at once, with the wait CXone
// asked for, never waited out or retried.
func TestCheckRateLimited(t *testing.T) {
	srv := cxonetest.New(cxonetest.Config{Faults: func(int, *http.Request) cxonetest.Fault {
		return cxonetest.Fault{Kind: cxonetest.TooManyRequests, RetryAfter: "30"}
	}})
	defer srv.Close()
	var out bytes.Buffer
	start := time.Now()
	err := Check(context.Background(), dsl.Sink{AuthURL: srv.URL, APIURL: srv.APIURL}, nil, &out, Options{Getenv: srv.Getenv})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("Check: %v after %v\n%s", err, time.Since(start), out.String())
	}
	if want := "does not answer: rate_limited: CXone answered 429 (too many requests) and asked to wait 30s"; !strings.Contains(out.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, out.String())
	}
	api := 0
	for _, r := range srv.Requests() {
		if !r.Issuer {
			api++
		}
	}
	if api != 1 {
		t.Errorf("%d API requests: a 429 must not be retried by check", api)
	}
}
