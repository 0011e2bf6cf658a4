package cxonetest

import (
	"encoding/base64"
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
	noAccept           bool // leave out Accept: application/json
	wantStatus         int
	wantBody           string // substring
}

// run sends st to the API host.
func run(t *testing.T, s *Server, token string, st step) (int, string) {
	t.Helper()
	return send(t, s.APIURL, token, st)
}

func send(t *testing.T, base, token string, st step) (int, string) {
	t.Helper()
	req, err := http.NewRequest(st.method, base+st.path, strings.NewReader(st.body))
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
	if !st.noAccept {
		req.Header.Set("Accept", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
	IDToken     string `json:"id_token"`
}

func tokenResponse(t *testing.T, s *Server) tokenAnswer {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {s.cfg.AccessKeyID}, "password": {s.cfg.AccessKeySecret}}
	req, _ := http.NewRequest("POST", s.URL+"/auth/token", strings.NewReader(form.Encode()))
	req.SetBasicAuth(s.cfg.ClientID, s.cfg.ClientSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr tokenAnswer
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.AccessToken == "" || tr.ExpiresIn != 3600 {
		t.Fatalf("token: %v %+v", err, tr)
	}
	return tr
}

func token(t *testing.T, s *Server) string { return tokenResponse(t, s).AccessToken }

func runSteps(t *testing.T, s *Server, tok string, steps []step) {
	t.Helper()
	for i, st := range steps {
		status, body := run(t, s, tok, st)
		if status != st.wantStatus || !strings.Contains(body, st.wantBody) {
			t.Errorf("step %d %s %s: %d %s; want %d containing %q", i, st.method, st.path, status, body, st.wantStatus, st.wantBody)
		}
	}
}

// callBody declares media "RIFF" (4 bytes, audio/wav).
const callBody = `{"interactionId":"c1","systemId":"engage-acme","directionType":"INBOUND","startTime":"2026-11-02T09:00:00.000Z","endTime":"2026-11-02T09:00:05.000Z",` +
	`"ani":"+3215550100","dnis":"+3215551000","participants":[{"participantType":"AGENT","userId":"u-1","engageUserId":"e1"},{"participantType":"CUSTOMER","phoneNumber":"+3215550100"}],` +
	`"dynamicBusinessData":[{"id":"a","value":"x"}],"media":{"fileName":"m/c1.wav","contentType":"audio/wav","size":4,"sha256":"` + riffSHA + `"}}`

// riffSHA is the SHA-256 of "RIFF".
const riffSHA = "a40ff3d5900fb7698b8c865041347cb49eccedc8f93945f89629ad104aaecce4"

// TestServerContract walks the call-import contract (ours) and business data
// in order; each step depends on the ones before it.
func TestServerContract(t *testing.T) {
	s := New(Config{Reject: func(id string) (int, string) {
		if id == "bad" {
			return 422, "nope"
		}
		return 0, ""
	}, BusinessDataFields: []string{"a", "n", "b"}})
	defer s.Close()
	tok := token(t, s)
	runSteps(t, s, tok, []step{
		{method: "POST", path: "/applink/v1/calls", body: callBody, key: "k1", wantStatus: 401, wantBody: "invalid_token"},
		{method: "POST", path: "/applink/v1/calls", body: callBody, auth: "token", wantStatus: 400, wantBody: "Idempotency-Key"},
		{method: "POST", path: "/applink/v1/calls", body: `{"interactionId":"c1"}`, key: "k0", auth: "token", wantStatus: 422, wantBody: "systemId is required"},
		{method: "POST", path: "/applink/v1/calls", body: strings.Replace(callBody, `"ani"`, `"call_id":"c1","ani"`, 1), key: "k0", auth: "token", wantStatus: 400, wantBody: `unrecognized field \"call_id\" in the call`},
		{method: "POST", path: "/applink/v1/calls", body: strings.Replace(callBody, `"engageUserId"`, `"email":"a@b","engageUserId"`, 1), key: "k0", auth: "token", wantStatus: 400, wantBody: `unrecognized field \"email\" in a participant`},
		{method: "POST", path: "/applink/v1/calls", body: strings.Replace(callBody, "INBOUND", "in", 1), key: "k0", auth: "token", wantStatus: 422, wantBody: "directionType must be one of"},
		{method: "POST", path: "/applink/v1/calls", body: strings.Replace(callBody, "09:00:00.000Z", "09:00:00+01:00", 1), key: "k0", auth: "token", wantStatus: 422, wantBody: "ISO 8601 in UTC"},
		{method: "POST", path: "/applink/v1/calls", body: callBody, key: "k0", auth: "token", noAccept: true, wantStatus: 406, wantBody: "No known way to render data"},
		{method: "POST", path: "/applink/v1/calls", body: strings.Replace(callBody, "c1", "bad", 1), key: "kb", auth: "token", wantStatus: 422, wantBody: "nope"},
		{method: "POST", path: "/applink/v1/calls", body: callBody, key: "k1", auth: "token", wantStatus: 201, wantBody: `"contactId":"100001"`},
		{method: "POST", path: "/applink/v1/calls", body: callBody, key: "k1", auth: "token", wantStatus: 201, wantBody: `"contactId":"100001"`}, // replay
		{method: "POST", path: "/applink/v1/calls", body: callBody, key: "k2", auth: "token", wantStatus: 409, wantBody: `"contactId":"100001"`}, // same call, other key
		{method: "PUT", path: "/applink/v1/calls/nope/media", body: "x", key: "k1", auth: "token", ctype: "audio/wav", wantStatus: 404},
		{method: "PUT", path: "/applink/v1/calls/c1/media", body: "RIFF", key: "k1", auth: "token", ctype: "application/octet-stream", wantStatus: 415},
		{method: "PUT", path: "/applink/v1/calls/c1/media", body: "RIFX", key: "k1", auth: "token", ctype: "audio/wav", wantStatus: 422, wantBody: "does not match"},
		{method: "PUT", path: "/applink/v1/calls/c1/media", body: "RIFF", key: "k1", auth: "token", ctype: "audio/wav", wantStatus: 204},
		{method: "PUT", path: "/applink/v1/calls/c1/media", body: "RIFF", key: "k9", auth: "token", ctype: "audio/wav", wantStatus: 200}, // the same bytes again: no second write
		{method: "PUT", path: "/business-data-manager/v1/business-data/contact/999", body: `[]`, auth: "token", wantStatus: 404, wantBody: "not found"},
		{method: "PUT", path: "/business-data-manager/v1/business-data/contact/100001", body: `[{"a":1,"b":2}]`, auth: "token", wantStatus: 400, wantBody: "exactly one"},
		{method: "PUT", path: "/business-data-manager/v1/business-data/contact/100001", body: `[{"a":[1]}]`, auth: "token", wantStatus: 400, wantBody: "text, number or boolean"},
		{method: "PUT", path: "/business-data-manager/v1/business-data/contact/100001", body: `[{"zz":"x"}]`, auth: "token", wantStatus: 400, wantBody: "zz does not exist"},
		{method: "PUT", path: "/business-data-manager/v1/business-data/contact/100001", body: `[{"a":"x"},{"n":2.5},{"b":true}]`, auth: "token", wantStatus: 204},
		{method: "DELETE", path: "/user-management/v1/users", auth: "token", wantStatus: 404, wantBody: "no route"},
	})
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
	if status, _ := run(t, s, tok, step{method: "POST", path: "/applink/v1/calls", body: callBody, key: "k1", auth: "token"}); status != 401 {
		t.Errorf("expired token: %d", status)
	}
}

// TestDiscovery: the issuer serves the OpenID and CXone configurations and
// the token endpoint, and nothing of the tenant's API; the id_token names
// the tenant whose configuration gives the API host.
func TestDiscovery(t *testing.T) {
	s := New(Config{TenantID: "t-123"})
	defer s.Close()
	tr := tokenResponse(t, s)
	parts := strings.Split(tr.IDToken, ".")
	if len(parts) != 3 {
		t.Fatalf("id_token %q is not a JWT", tr.IDToken)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		TenantID string `json:"tenantId"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.TenantID != "t-123" {
		t.Fatalf("id_token claims %s: %v", payload, err)
	}
	tests := []struct {
		base, method, path string
		wantStatus         int
		wantBody           string
	}{
		{s.URL, "GET", "/.well-known/openid-configuration", 200, `"token_endpoint":"` + s.URL + `/auth/token"`},
		{s.URL, "GET", "/.well-known/cxone-configuration?tenantId=t-123", 200, `"api_endpoint":"` + s.APIURL + `"`},
		{s.URL, "GET", "/.well-known/cxone-configuration?tenantId=other", 404, "not found"},
		{s.URL, "GET", "/.well-known/cxone-configuration", 400, "tenantId is required"},
		{s.URL, "POST", "/auth/token", 401, "invalid_client"},
		{s.URL, "GET", "/.well-known/openid-configuration#no-accept", 406, "No known way to render data"},
		{s.URL, "POST", "/user-management/v2/users/search", 404, "on the issuer"},
		{s.APIURL, "POST", "/auth/token", 401, "invalid_token"}, // the API host has no token endpoint
	}
	for _, tt := range tests {
		path, noAccept := strings.CutSuffix(tt.path, "#no-accept")
		status, body := send(t, tt.base, "", step{method: tt.method, path: path, body: "{}", noAccept: noAccept})
		if status != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
			t.Errorf("%s %s: %d %s; want %d containing %q", tt.method, tt.path, status, body, tt.wantStatus, tt.wantBody)
		}
	}
	for _, sec := range []string{tr.AccessToken, tr.IDToken} {
		found := false
		for _, x := range s.Secrets() {
			found = found || x == sec
		}
		if !found {
			t.Errorf("Secrets lacks an issued token")
		}
	}
}

// without returns the JSON object obj without key.
func without(t *testing.T, obj map[string]any, key string) string {
	t.Helper()
	m := map[string]any{}
	for k, v := range obj {
		if k != key {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRegisterSchema: one case per required field of the published
// registration, and the fields it does not have.
func TestRegisterSchema(t *testing.T) {
	s := New(Config{})
	defer s.Close()
	tok := token(t, s)
	ok := map[string]any{"firstName": "Ann", "lastName": "Smith", "emailAddress": "Ann@acme.example", "role": "Agent",
		"acdInfos": []any{map[string]any{"loginId": "1001"}}}
	var steps []step
	for _, k := range registerRequired {
		steps = append(steps, step{method: "POST", path: usersV1, body: without(t, ok, k), auth: "token", wantStatus: 400, wantBody: k + " is required"})
	}
	bad := func(k string, v any) string {
		m := map[string]any{}
		for x, y := range ok {
			m[x] = y
		}
		m[k] = v
		return jsonOf(t, m)
	}
	steps = append(steps,
		step{method: "POST", path: usersV1, body: bad("acdLoginIds", []string{"1001"}), auth: "token", wantStatus: 400, wantBody: `unrecognized field \"acdLoginIds\"`},
		step{method: "POST", path: usersV1, body: bad("id", "x"), auth: "token", wantStatus: 400, wantBody: `unrecognized field \"id\"`},
		step{method: "POST", path: usersV1, body: bad("acdInfos", []string{"1001"}), auth: "token", wantStatus: 400, wantBody: "acdInfos items"},
		step{method: "POST", path: usersV1, body: bad("role", nil), auth: "token", wantStatus: 400, wantBody: "role is required"},
		step{method: "POST", path: usersV1, body: bad("firstName", 7), auth: "token", wantStatus: 400, wantBody: "firstName must be a string"},
		step{method: "POST", path: usersV1, body: bad("emailAddress", " "), auth: "token", wantStatus: 400, wantBody: "must not be empty"},
		step{method: "POST", path: usersV1, body: jsonOf(t, ok), auth: "token", wantStatus: 201, wantBody: `"uuid":"11eb`},
		step{method: "POST", path: usersV1, body: bad("emailAddress", " ann@ACME.example"), auth: "token", wantStatus: 409, wantBody: "already exists"},
	)
	runSteps(t, s, tok, steps)
	users := s.Users()
	if len(users) != 1 || users[0].UserName != "Ann@acme.example" || users[0].AssignedGroup != DefaultGroup || strings.Join(users[0].ACDLoginIDs, ",") != "1001" {
		t.Errorf("users %+v", users)
	}
	if s.UserCreates()["ann@acme.example"] != 1 {
		t.Errorf("creates %v", s.UserCreates())
	}
}

// TestUpdateSchema: one case per required field of the published update;
// the path takes no id; what the body leaves out is cleared, so a client
// must send back what it read.
func TestUpdateSchema(t *testing.T) {
	s := New(Config{})
	defer s.Close()
	tok := token(t, s)
	bob := s.AddUser(User{FirstName: "Bob", LastName: "Jones", EmailAddress: "bob@acme.example", Role: "Agent",
		UserName: "bob.jones", AssignedGroup: "Sales EU", TeamID: "team-7", ACDLoginIDs: []string{"1002"},
		Other: map[string]any{"timeZone": "Europe/Brussels", "middleName": "Q"}})
	// Read as a client would, change the names, write back.
	status, body := run(t, s, tok, step{method: "GET", path: usersV3 + "/" + bob.ID, auth: "token"})
	var read struct {
		User map[string]any `json:"user"`
	}
	if err := json.Unmarshal([]byte(body), &read); status != 200 || err != nil {
		t.Fatalf("GET v3: %d %s %v", status, body, err)
	}
	if read.User["middleName"] != "Q" || read.User["assignedGroup"] != "Sales EU" {
		t.Fatalf("v3 user %v", read.User)
	}
	upd := map[string]any{"id": bob.ID, "emailToBeVerified": "bob@acme.example"}
	for _, k := range updateFields {
		if v, ok := read.User[k]; ok {
			upd[k] = v
		}
	}
	upd["firstName"] = "Robert"
	var steps []step
	for _, k := range updateRequired {
		steps = append(steps, step{method: "PUT", path: usersV1, body: without(t, upd, k), auth: "token", wantStatus: 400, wantBody: k + " is required"})
	}
	withV3Only := jsonOf(t, read.User) // middleName, status: read-only fields
	steps = append(steps,
		step{method: "PUT", path: usersV1, body: withV3Only, auth: "token", wantStatus: 400, wantBody: "unrecognized field"},
		step{method: "PUT", path: usersV1 + "/" + bob.ID, body: jsonOf(t, upd), auth: "token", wantStatus: 404, wantBody: "no route"},
		step{method: "PUT", path: usersV1, body: strings.Replace(jsonOf(t, upd), bob.ID, "nobody", 1), auth: "token", wantStatus: 404, wantBody: "not found"},
		step{method: "PUT", path: usersV1, body: jsonOf(t, upd), auth: "token", wantStatus: 200, wantBody: `"success":true`},
	)
	runSteps(t, s, tok, steps)
	got := s.Users()[0]
	if got.FirstName != "Robert" || got.AssignedGroup != "Sales EU" || got.UserName != "bob.jones" || got.TeamID != "team-7" ||
		got.Other["timeZone"] != "Europe/Brussels" || got.Other["middleName"] != "Q" || got.Status != "ACTIVE" {
		t.Errorf("after a read-modify-write: %+v", got)
	}
	// A PUT that leaves teamId out clears it: the strict reading.
	delete(upd, "teamId")
	if st, b := run(t, s, tok, step{method: "PUT", path: usersV1, body: jsonOf(t, upd), auth: "token"}); st != 200 {
		t.Fatalf("PUT: %d %s", st, b)
	}
	if got := s.Users()[0]; got.TeamID != "" {
		t.Errorf("teamId left out but kept: %+v", got)
	}
	if s.UserUpdates()[bob.ID] != 2 {
		t.Errorf("updates %v", s.UserUpdates())
	}
}

func TestSearchUsers(t *testing.T) {
	s := New(Config{})
	defer s.Close()
	tok := token(t, s)
	s.AddUser(User{FirstName: "Ann", LastName: "Smith", EmailAddress: "ann@acme.example", Role: "Agent"})
	s.AddUser(User{FirstName: "Jo", LastName: "Ann", EmailAddress: "joann@acme.example", Role: "Agent"})
	s.AddUser(User{FirstName: "Cy", LastName: "Young", EmailAddress: "cy@acme.example", Role: "Agent", Status: "DELETED"})
	runSteps(t, s, tok, []step{
		{method: "POST", path: usersSearchV2, body: `{"filter":{"emailAddress":["ANN@acme.example"]},"fields":["id","emailAddress"],"top":10}`,
			auth: "token", wantStatus: 200, wantBody: `"totalRecords":2`},
		{method: "POST", path: usersSearchV2, body: `{"filter":{"emailAddress":"cy@"}}`, auth: "token", wantStatus: 200, wantBody: `"status":"DELETED"`},
		{method: "POST", path: usersSearchV2, body: `{"filter":{"emailAddress":["ann"]},"top":1,"skip":1,"fields":["emailAddress"]}`,
			auth: "token", wantStatus: 200, wantBody: `"users":[{"emailAddress":"joann@acme.example"}]`},
		{method: "POST", path: usersSearchV2, body: `{"email":"ann@acme.example"}`, auth: "token", wantStatus: 400, wantBody: `unrecognized field \"email\"`},
		{method: "POST", path: usersSearchV2, body: `{"filter":{"mail":["x"]}}`, auth: "token", wantStatus: 400, wantBody: "cannot filter"},
		{method: "POST", path: usersSearchV2, body: `{"fields":["password"]}`, auth: "token", wantStatus: 400, wantBody: "unknown field"},
		// GET v1 has no email parameter: it is ignored, the whole tenant comes back.
		{method: "GET", path: usersV1 + "?email=ann%40acme.example", auth: "token", wantStatus: 200, wantBody: "cy@acme.example"},
	})
	st, body := run(t, s, tok, step{method: "POST", path: usersSearchV2, body: `{"filter":{"emailAddress":["ann@acme.example"]},"fields":["id","emailAddress"]}`, auth: "token"})
	var ans struct {
		Users []map[string]any `json:"users"`
	}
	if err := json.Unmarshal([]byte(body), &ans); st != 200 || err != nil || len(ans.Users) != 2 || len(ans.Users[0]) != 2 {
		t.Errorf("search answer %d %s: fields must be projected", st, body)
	}
}

func TestContactsStayOpen(t *testing.T) {
	s := New(Config{ContactsStayOpen: true})
	defer s.Close()
	tok := token(t, s)
	bd := step{method: "PUT", path: bdPrefix + "100001", body: `[{"a":"x"}]`, auth: "token"}
	runSteps(t, s, tok, []step{
		{method: "POST", path: "/applink/v1/calls", body: callBody, key: "k1", auth: "token", wantStatus: 201},
		{method: bd.method, path: bd.path, body: bd.body, auth: "token", wantStatus: 404, wantBody: "not found"},
	})
	s.CloseContacts(false)
	bd.wantStatus = 204
	runSteps(t, s, tok, []step{bd})
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
			req, _ := http.NewRequest("POST", s.APIURL+"/applink/v1/calls", strings.NewReader(callBody))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Idempotency-Key", "k")
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json")
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
			if st != 201 || !strings.Contains(body, "contactId") || s.Writes()["call:k"] != 1 {
				t.Errorf("retry: %d %s, writes %d", st, body, s.Writes()["call:k"])
			}
		})
	}
}

// TestLimitByBody: requests without a key are told apart by their body, so
// two searches on one URI each get their own first fault.
func TestLimitByBody(t *testing.T) {
	s := New(Config{Faults: Limit(func(int, *http.Request) Fault { return Fault{Kind: ServerError} })})
	defer s.Close()
	tok := token(t, s)
	for _, body := range []string{`{"filter":{"emailAddress":["a"]}}`, `{"filter":{"emailAddress":["b"]}}`} {
		for i, want := range []int{500, 200} {
			if st, b := run(t, s, tok, step{method: "POST", path: usersSearchV2, body: body, auth: "token"}); st != want {
				t.Errorf("%s attempt %d: %d %s, want %d", body, i, st, b, want)
			}
		}
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

// TestSignedUpload: with SignedUploads the call's creation names a signed
// URL; a PUT there needs no token, refuses one, checks the signature and
// what the call declared, and the same bytes again write nothing.
func TestSignedUpload(t *testing.T) {
	s := New(Config{SignedUploads: true})
	defer s.Close()
	tok := token(t, s)
	status, body := run(t, s, tok, step{method: "POST", path: "/applink/v1/calls", body: callBody, key: "k1", auth: "token"})
	var ans struct {
		ContactID      string `json:"contactId"`
		MediaUploadURL string `json:"mediaUploadUrl"`
	}
	if err := json.Unmarshal([]byte(body), &ans); status != 201 || err != nil || !strings.HasPrefix(ans.MediaUploadURL, s.APIURL+"/uploads/c1?sig=") {
		t.Fatalf("create: %d %s", status, body)
	}
	path := strings.TrimPrefix(ans.MediaUploadURL, s.APIURL)
	runSteps(t, s, tok, []step{
		{method: "PUT", path: path, body: "RIFF", auth: "token", ctype: "audio/wav", wantStatus: 400, wantBody: "no Authorization"},
		{method: "PUT", path: strings.Replace(path, "sig=", "sig=0", 1), body: "RIFF", ctype: "audio/wav", wantStatus: 403},
		{method: "PUT", path: path, body: "RIFX", ctype: "audio/wav", wantStatus: 422},
		{method: "PUT", path: path, body: "RIFF", ctype: "audio/wav", wantStatus: 204},
		{method: "PUT", path: path, body: "RIFF", ctype: "audio/wav", wantStatus: 200},
	})
	if w := s.Writes(); w["media:k1"] != 1 || string(s.Calls()["c1"].Media) != "RIFF" {
		t.Errorf("writes %v", w)
	}
}

// TestTokenFormEncoding: a key holding '=' or '+' must travel form-encoded
// (%3D, %2B), as practitioners report; raw, it is refused.
func TestTokenFormEncoding(t *testing.T) {
	s := New(Config{AccessKeySecret: "ab=c+d/e=="})
	defer s.Close()
	for _, tt := range []struct {
		body string
		want int
	}{
		{"grant_type=password&username=" + url.QueryEscape(s.cfg.AccessKeyID) + "&password=" + url.QueryEscape("ab=c+d/e=="), 200},
		{"grant_type=password&username=" + s.cfg.AccessKeyID + "&password=ab=c+d/e==", 400},
	} {
		req, _ := http.NewRequest("POST", s.URL+"/auth/token", strings.NewReader(tt.body))
		req.SetBasicAuth(url.QueryEscape(s.cfg.ClientID), url.QueryEscape(s.cfg.ClientSecret))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s: %d %s, want %d", tt.body, resp.StatusCode, b, tt.want)
		}
	}
}
