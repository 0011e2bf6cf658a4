package cxone

import (
	"bytes"
	"flag"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func TestRedactDump(t *testing.T) {
	const (
		secret = "s3cr+t/Key=="
		token  = "eyJhbGciOi.tok"
	)
	r := newRedactor()
	r.add(secret)
	r.add(token)
	r.add("") // ignored
	form := url.Values{"grant_type": {"password"}, "username": {"AKID-123"}, "password": {secret}}.Encode()
	tests := []struct {
		name        string
		method      string
		h           http.Header
		contentType string
		body        string
		want        []string // substrings that must appear
	}{
		{name: "bearer", method: "GET", h: http.Header{"Authorization": {"Bearer " + token}},
			want: []string{"GET https://x.test/p\n", "Authorization: Bearer ****"}},
		{name: "basic", method: "POST", h: http.Header{"Authorization": {"Basic " + basicAuth("cid", secret)}, "Cookie": {"a=b"}},
			want: []string{"Authorization: Basic ****", "Cookie: ****"}},
		{name: "token form", method: "POST", contentType: "application/x-www-form-urlencoded", body: form,
			want: []string{"grant_type=password", "password=****", "username=****"}},
		{name: "json fields", method: "POST", contentType: "application/json", body: `{"access_token":"` + token + `x","refresh_token":"r\"t","id":1}`,
			want: []string{`"access_token":"****"`, `"refresh_token":"****"`, `"id":1`}},
		{name: "secret in free text", method: "PUT", contentType: "text/plain", body: "echo " + secret + " and " + url.QueryEscape(secret),
			want: []string{"echo **** and ****"}},
		{name: "secret in another header", method: "GET", h: http.Header{"X-Note": {secret}},
			want: []string{"X-Note: ****"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.h
			if h == nil {
				h = http.Header{}
			}
			got := r.dumpRequest(tt.method, "https://x.test/p", h, tt.contentType, []byte(tt.body), "")
			for _, bad := range []string{secret, token, url.QueryEscape(secret), basicAuth("cid", secret), "AKID-123"} {
				if strings.Contains(got, bad) {
					t.Errorf("dump contains %q:\n%s", bad, got)
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("dump lacks %q:\n%s", w, got)
				}
			}
		})
	}
}

func FuzzRedact(f *testing.F) {
	f.Add("tok-abc", "Bearer tok-abc and tok-abc")
	f.Add("a", "banana")
	f.Add("ab+c/=", "x ab%2Bc%2F%3D y")
	f.Fuzz(func(t *testing.T, secret, text string) {
		if secret == "" || strings.Contains(Redacted, secret) {
			return // a secret inside the marker would be reintroduced by the marker itself
		}
		r := newRedactor()
		r.add(secret)
		if got := r.clean(text); strings.Contains(got, secret) {
			// Replacement can create a new occurrence across a marker
			// boundary only if the secret overlaps the marker; excluded above.
			t.Errorf("clean(%q) = %q still holds %q", text, got, secret)
		}
	})
}

// TestDryRunGolden: a dry run prints every request it would make, redacted,
// and sends nothing (there is no server at all).
func TestDryRunGolden(t *testing.T) {
	env := map[string]string{EnvAccessKeyID: "AKID-dry", EnvAccessKeySecret: "dry-secret-1", EnvClientID: "client-dry", EnvClientSecret: "dry-secret-2"}
	var out bytes.Buffer
	s, err := New(dsl.Sink{Kind: "cxone", APIURL: "https://api-eu1.niceincontact.com", AuthURL: "https://cxone.niceincontact.com"},
		Options{Getenv: func(k string) string { return env[k] }, DryRun: &out, HTTPClient: &http.Client{Transport: failTransport{t}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := s.Open(ctx, connector.RunInfo{Fields: testFields}); err != nil {
		t.Fatal(err)
	}
	if err := s.Agent(ctx, testAgents()[1]); err != nil {
		t.Fatal(err)
	}
	media := filepath.Join("testdata", "call-1.wav")
	calls := []*connector.OutCall{
		{CallID: "call-1", SystemID: "engage-acme", AgentUserID: "u1", StartTime: time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC),
			DurationMS: 65000, Direction: "in", ANI: "+3215550100", DNIS: "+3215551000", Media: "2026/11/02/call-1.nmf", MediaFile: media,
			Values: []connector.Value{{Field: 0, Text: []byte("C-42")}, {Field: 1, Number: 99.5}, {Field: 2, Bool: true}}},
		{CallID: "call 2/x", SystemID: "engage-acme", StartTime: time.Date(2026, 11, 2, 9, 31, 0, 0, time.UTC),
			DurationMS: 3000, Direction: "out", ANI: "+3215550101", DNIS: "+3215551001"},
	}
	for _, c := range calls {
		if err := s.Call(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, v := range env {
		if strings.Contains(got, v) {
			t.Errorf("dry run output contains the credential %q", v)
		}
	}
	golden := filepath.Join("testdata", "dryrun.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("dry run output differs from %s (rerun with -update if intended):\n%s", golden, got)
	}
}

// failTransport fails the test on any network use.
type failTransport struct{ t *testing.T }

func (f failTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.t.Errorf("dry run sent %s %s", r.Method, r.URL)
	return nil, http.ErrNotSupported
}
