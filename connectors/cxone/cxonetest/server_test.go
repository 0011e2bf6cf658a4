package cxonetest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

type step struct {
	method, path, body string
	key                string
	auth               string // "token" = a valid bearer token; else the header as is
	ctype              string
	wantStatus         int
	wantBody           string // substring
}

func run(t *testing.T, s *Server, token string, st step) (int, string) {
	t.Helper()
	req, err := http.NewRequest(st.method, s.URL+st.path, strings.NewReader(st.body))
	if err != nil {
		t.Fatal(err)
	}
	if st.auth == "token" {
		req.Header.Set("Authorization", "Bearer "+token)
	} else if st.auth != "" {
		req.Header.Set("Authorization", st.auth)
	}
	if st.key != "" {
		req.Header.Set("Idempotency-Key", st.key)
	}
	ct := st.ctype
	if ct == "" {
		ct = "application/json"
	}
	req.Header.Set("Content-Type", ct)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func token(t *testing.T, s *Server) string {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {s.cfg.AccessKeyID}, "password": {s.cfg.AccessKeySecret}}
	req, _ := http.NewRequest("POST", s.URL+"/auth/token", strings.NewReader(form.Encode()))
	req.SetBasicAuth(s.cfg.ClientID, s.cfg.ClientSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.AccessToken == "" || tr.ExpiresIn != 3600 {
		t.Fatalf("token: %v %+v", err, tr)
	}
	return tr.AccessToken
}

const callBody = `{"call_id":"c1","start_time":"2026-11-02T09:00:00Z","duration_ms":5000,"direction":"in","business_data":{},"agent_cxone_user_id":null}`

// TestServerContract walks the fake tenant through its endpoints in order;
// each step depends on the ones before it.
func TestServerContract(t *testing.T) {
	s := New(Config{Reject: func(id string) (int, string) {
		if id == "bad" {
			return 422, "nope"
		}
		return 0, ""
	}})
	defer s.Close()
	tok := token(t, s)
	steps := []step{
		{method: "POST", path: "/auth/token", auth: "Basic eDp5", ctype: "application/x-www-form-urlencoded", wantStatus: 401, wantBody: "invalid_client"},
		{method: "POST", path: "/applink/v1/calls", body: callBody, key: "k1", wantStatus: 401, wantBody: "invalid_token"},
		{method: "POST", path: "/applink/v1/calls", body: callBody, auth: "token", wantStatus: 400, wantBody: "Idempotency-Key"},
		{method: "POST", path: "/applink/v1/calls", body: `{"call_id":"c1"}`, key: "k0", auth: "token", wantStatus: 422, wantBody: "start_time is required"},
		{method: "POST", path: "/applink/v1/calls", body: strings.Replace(callBody, "c1", "bad", 1), key: "kb", auth: "token", wantStatus: 422, wantBody: "nope"},
		{method: "POST", path: "/applink/v1/calls", body: callBody, key: "k1", auth: "token", wantStatus: 201, wantBody: `"contact_id":"100001"`},
		{method: "POST", path: "/applink/v1/calls", body: callBody, key: "k1", auth: "token", wantStatus: 201, wantBody: `"contact_id":"100001"`}, // replay
		{method: "POST", path: "/applink/v1/calls", body: callBody, key: "k2", auth: "token", wantStatus: 409, wantBody: `"contact_id":"100001"`}, // same call, other key
		{method: "PUT", path: "/applink/v1/calls/nope/media", body: "x", key: "k1", auth: "token", ctype: "application/octet-stream", wantStatus: 404},
		{method: "PUT", path: "/applink/v1/calls/c1/media", body: "x", key: "k1", auth: "token", ctype: "audio/wav", wantStatus: 415},
		{method: "PUT", path: "/applink/v1/calls/c1/media", body: "RIFF", key: "k1", auth: "token", ctype: "application/octet-stream", wantStatus: 204},
		{method: "PUT", path: "/business-data-manager/v1/business-data/contact/999", body: `[]`, auth: "token", wantStatus: 404},
		{method: "PUT", path: "/business-data-manager/v1/business-data/contact/100001", body: `[{"a":1,"b":2}]`, auth: "token", wantStatus: 400, wantBody: "exactly one"},
		{method: "PUT", path: "/business-data-manager/v1/business-data/contact/100001", body: `[{"a":[1]}]`, auth: "token", wantStatus: 400, wantBody: "text, number or boolean"},
		{method: "PUT", path: "/business-data-manager/v1/business-data/contact/100001", body: `[{"a":"x"},{"n":2.5},{"b":true}]`, auth: "token", wantStatus: 204},
		{method: "POST", path: "/user-management/v1/users", body: `{"firstName":"A","emailAddress":"A@x.example"}`, auth: "token", wantStatus: 201, wantBody: `"id":"u-`},
		{method: "POST", path: "/user-management/v1/users", body: `{"firstName":"A","emailAddress":" a@X.example"}`, auth: "token", wantStatus: 409, wantBody: "already exists"},
		{method: "GET", path: "/user-management/v1/users?email=a%40x.example", auth: "token", wantStatus: 200, wantBody: `"emailAddress":"A@x.example"`},
		{method: "PUT", path: "/user-management/v1/users/u-404", body: `{}`, auth: "token", wantStatus: 404},
		{method: "DELETE", path: "/user-management/v1/users", auth: "token", wantStatus: 404, wantBody: "no route"},
	}
	for i, st := range steps {
		status, body := run(t, s, tok, st)
		if status != st.wantStatus || !strings.Contains(body, st.wantBody) {
			t.Errorf("step %d %s %s: %d %s; want %d containing %q", i, st.method, st.path, status, body, st.wantStatus, st.wantBody)
		}
	}
	if w := s.Writes(); w["call:k1"] != 1 || w["media:k1"] != 1 || w["call:k2"] != 1 || len(w) != 3 {
		t.Errorf("writes %v", w)
	}
	if bd := s.BusinessData("100001"); bd["a"] != "x" || bd["n"] != 2.5 || bd["b"] != true {
		t.Errorf("business data %v", bd)
	}
	if got := string(s.Calls()["c1"].Media); got != "RIFF" {
		t.Errorf("media %q", got)
	}
	s.ExpireTokens()
	if status, _ := run(t, s, tok, steps[6]); status != 401 {
		t.Errorf("expired token: %d", status)
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		fault      Fault
		wantStatus int // 0: the connection is dropped
		wantHeader string
		applied    bool
	}{
		{Fault{Kind: ServerError}, 500, "", false},
		{Fault{Kind: TooManyRequests, RetryAfter: "9"}, 429, "9", false},
		{Fault{Kind: TooManyRequests}, 429, "1", false},
		{Fault{Kind: ExpireToken}, 401, "", false},
		{Fault{Kind: Conflict}, 409, "", true},
		{Fault{Kind: Drop}, 0, "", true},
		{Fault{Kind: Slow, Delay: 50_000_000}, 201, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.fault.Kind.String(), func(t *testing.T) {
			s := New(Config{Faults: Limit(func(int, *http.Request) Fault { return tt.fault })})
			defer s.Close()
			tok := token(t, s)
			req, _ := http.NewRequest("POST", s.URL+"/applink/v1/calls", strings.NewReader(callBody))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Idempotency-Key", "k")
			req.Header.Set("Content-Type", "application/json")
			// A fresh connection: on a reused one net/http would replay the
			// dropped request itself (it carries an Idempotency-Key).
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			resp, err := client.Do(req)
			status, ra := 0, ""
			if err == nil {
				status, ra = resp.StatusCode, resp.Header.Get("Retry-After")
				resp.Body.Close()
			}
			if status != tt.wantStatus || ra != tt.wantHeader {
				t.Errorf("status %d (err %v), Retry-After %q; want %d, %q", status, err, ra, tt.wantStatus, tt.wantHeader)
			}
			if got := s.Writes()["call:k"] == 1; got != tt.applied {
				t.Errorf("applied %v, want %v", got, tt.applied)
			}
			// Limit: the retry meets no fault and gets the first result.
			st, body := run(t, s, token(t, s), step{method: "POST", path: "/applink/v1/calls", body: callBody, key: "k", auth: "token"})
			if st != 201 || !strings.Contains(body, "contact_id") || s.Writes()["call:k"] != 1 {
				t.Errorf("retry: %d %s, writes %d", st, body, s.Writes()["call:k"])
			}
		})
	}
}

func TestCycle(t *testing.T) {
	c := Cycle(Fault{}, Fault{Kind: Drop})
	var got []string
	for n := range 5 {
		got = append(got, c(n, nil).Kind.String())
	}
	if strings.Join(got, ",") != "none,drop,none,drop,none" {
		t.Errorf("Cycle: %v", got)
	}
	if Cycle()(3, nil).Kind != None {
		t.Error("empty Cycle must inject nothing")
	}
	s := New(Config{})
	defer s.Close()
	if len(s.Environ()) != 4 {
		t.Error("Environ must hold the four variables")
	}
}
