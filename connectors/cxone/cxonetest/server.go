package cxonetest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FaultKind is what the server does to one API request instead of, or on
// top of, answering it normally.
type FaultKind int

const (
	None            FaultKind = iota
	ServerError               // 500; nothing applied
	TooManyRequests           // 429 with Fault.RetryAfter; nothing applied
	Slow                      // applied, answered only after Fault.Delay (past the client's timeout)
	Drop                      // applied, then the connection is closed without an answer
	ExpireToken               // every issued token expires; 401; nothing applied
	Conflict                  // a POST is applied, then answered 409 with the first result's body
)

var kindNames = [...]string{"none", "500", "429", "slow", "drop", "expire_token", "409"}

func (k FaultKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "fault(" + strconv.Itoa(int(k)) + ")"
}

// Fault is one scheduled fault.
type Fault struct {
	Kind       FaultKind
	RetryAfter string        // TooManyRequests: the Retry-After value; default "1"
	Delay      time.Duration // Slow: how long to hold the answer; default 2s
}

// Cycle returns a schedule that gives API request n the fault faults[n%len].
func Cycle(faults ...Fault) func(n int, r *http.Request) Fault {
	return func(n int, _ *http.Request) Fault {
		if len(faults) == 0 {
			return Fault{}
		}
		return faults[n%len(faults)]
	}
}

// Limit wraps a schedule so that one logical request (method, path, query
// and idempotency key) meets at most len(perAttempt) faults: its attempt i
// (0-based) gets perAttempt[i](n, r), later attempts none. It keeps a fault
// test deterministic in outcome while the order of requests is not.
func Limit(perAttempt ...func(n int, r *http.Request) Fault) func(n int, r *http.Request) Fault {
	var mu sync.Mutex
	seen := map[string]int{}
	return func(n int, r *http.Request) Fault {
		k := r.Method + " " + r.URL.RequestURI() + "\x00" + r.Header.Get("Idempotency-Key")
		mu.Lock()
		i := seen[k]
		seen[k]++
		mu.Unlock()
		if i < len(perAttempt) {
			return perAttempt[i](n, r)
		}
		return Fault{}
	}
}

// Config configures a Server. Zero values get defaults; empty credentials
// are generated at random.
type Config struct {
	AccessKeyID, AccessKeySecret, ClientID, ClientSecret string

	TokenTTL  time.Duration // lifetime of issued tokens, default 1h
	CallsPath string        // default /applink/v1/calls; media is CallsPath/{call_id}/media

	// Faults picks the fault of API request n (token requests are not
	// counted). nil: no faults.
	Faults func(n int, r *http.Request) Fault
	// Reject, when it returns a non-zero status, refuses the call POST of
	// callID with that status and {"message": text}: a permanent refusal.
	Reject func(callID string) (status int, text string)
	// MaxBody bounds the recorded body of a request (the whole body is still
	// read and applied); default 64 KiB.
	MaxBody int
}

// Request is one request as the server saw it.
type Request struct {
	Method, Path, RawQuery string
	IdempotencyKey         string
	Authorization          string // as sent: it holds secrets, never print it
	ContentType            string
	Body                   []byte // truncated to Config.MaxBody
	BodySize               int
	Status                 int // 0 for a dropped connection
	Fault                  FaultKind
	Replayed               bool // answered from the idempotency store
}

// Call is a call the server accepted.
type Call struct {
	CallID, ContactID, IdempotencyKey string
	Meta                              map[string]any
	Media                             []byte
}

// User is a CXone user of the fake user management.
type User struct {
	ID               string   `json:"id"`
	FirstName        string   `json:"firstName"`
	LastName         string   `json:"lastName"`
	EmailAddress     string   `json:"emailAddress"`
	Role             string   `json:"role,omitempty"`
	ExternalIdentity string   `json:"externalIdentity"`
	ACDLoginIDs      []string `json:"acdLoginIds"`
}

type result struct {
	status int
	header http.Header
	body   []byte
}

// Server is a fake CXone tenant on an httptest server. Safe for concurrent use.
type Server struct {
	URL string // base URL: use it as both api_url and auth_url
	cfg Config
	hs  *httptest.Server

	mu        sync.Mutex
	n         int // API requests so far
	requests  []Request
	tokens    map[string]time.Time // token -> expiry
	issued    int
	first     map[string]result // "METHOD path\x00key" -> first answer
	writes    map[string]int    // "call:"+key / "media:"+key -> writes applied
	calls     map[string]*Call  // by call_id
	contacts  map[string]string // contact id -> call id
	bd        map[string]map[string]any
	bdWrites  map[string]int
	users     map[string]*User
	nextID    int
	userWrite map[string]int // email -> POSTs applied
	inFlight  int            // API requests being handled now
	maxFlight int
}

// New starts a server. Close it when done.
func New(cfg Config) *Server {
	for _, p := range []*string{&cfg.AccessKeyID, &cfg.AccessKeySecret, &cfg.ClientID, &cfg.ClientSecret} {
		if *p == "" {
			*p = randHex(12)
		}
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = time.Hour
	}
	if cfg.CallsPath == "" {
		cfg.CallsPath = "/applink/v1/calls"
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 64 << 10
	}
	s := &Server{
		cfg:       cfg,
		tokens:    map[string]time.Time{},
		first:     map[string]result{},
		writes:    map[string]int{},
		calls:     map[string]*Call{},
		contacts:  map[string]string{},
		bd:        map[string]map[string]any{},
		bdWrites:  map[string]int{},
		users:     map[string]*User{},
		userWrite: map[string]int{},
	}
	s.hs = httptest.NewServer(s)
	s.URL = s.hs.URL
	return s
}

// Close stops the server, cutting slow answers short.
func (s *Server) Close() {
	s.hs.CloseClientConnections()
	s.hs.Close()
}

// Env is the credentials as the sink reads them from the environment.
func (s *Server) Env() map[string]string {
	return map[string]string{
		"CXONE_ACCESS_KEY_ID":     s.cfg.AccessKeyID,
		"CXONE_ACCESS_KEY_SECRET": s.cfg.AccessKeySecret,
		"CXONE_CLIENT_ID":         s.cfg.ClientID,
		"CXONE_CLIENT_SECRET":     s.cfg.ClientSecret,
	}
}

// Getenv looks up Env, for cxone.Options.Getenv.
func (s *Server) Getenv(name string) string { return s.Env()[name] }

// Environ is Env as NAME=value lines, sorted, for a subprocess.
func (s *Server) Environ() []string {
	var out []string
	for k, v := range s.Env() {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// Secrets are the credential values and every token issued so far: none may
// appear in anything the sink prints.
func (s *Server) Secrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []string{s.cfg.AccessKeyID, s.cfg.AccessKeySecret, s.cfg.ClientID, s.cfg.ClientSecret}
	for t := range s.tokens {
		out = append(out, t)
	}
	return out
}

// AddUser seeds an existing CXone user (ID assigned when empty).
func (s *Server) AddUser(u User) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.ID == "" {
		s.nextID++
		u.ID = "u-" + strconv.Itoa(s.nextID)
	}
	s.users[u.ID] = &u
	return u
}

// Users returns the users, by ID order.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []User
	for _, u := range s.users {
		out = append(out, *u)
	}
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// UserCreates counts applied user POSTs by lower-cased email.
func (s *Server) UserCreates() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copyCounts(s.userWrite)
}

// Requests returns every request so far, in arrival order of completion.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Writes counts the final writes applied per idempotency key, as
// "call:"+key and "media:"+key. Exactly-once means every value is 1.
func (s *Server) Writes() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copyCounts(s.writes)
}

// BusinessDataWrites counts the business-data PUTs applied per contact.
func (s *Server) BusinessDataWrites() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copyCounts(s.bdWrites)
}

// Calls returns the accepted calls by call_id.
func (s *Server) Calls() map[string]Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Call, len(s.calls))
	for k, c := range s.calls {
		out[k] = *c
	}
	return out
}

// BusinessData returns the business data stored for a contact.
func (s *Server) BusinessData(contactID string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]any{}
	for k, v := range s.bd[contactID] {
		out[k] = v
	}
	return out
}

// TokensIssued counts successful token requests.
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

// MaxInFlight is the most API requests the server handled at once.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxFlight
}

// ExpireTokens makes every issued token invalid now.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range s.tokens {
		s.tokens[t] = time.Time{}
	}
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	rec := Request{
		Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		IdempotencyKey: r.Header.Get("Idempotency-Key"),
		Authorization:  r.Header.Get("Authorization"),
		ContentType:    r.Header.Get("Content-Type"),
		Body:           body[:min(len(body), s.cfg.MaxBody)],
		BodySize:       len(body),
	}
	defer func() {
		s.mu.Lock()
		s.requests = append(s.requests, rec)
		s.mu.Unlock()
	}()
	if err != nil {
		rec.Status = 0
		return // the client went away mid-body
	}
	if r.URL.Path == "/auth/token" {
		res := s.token(r, body)
		rec.Status = res.status
		write(w, res)
		return
	}

	s.mu.Lock()
	n := s.n
	s.n++
	s.inFlight++
	s.maxFlight = max(s.maxFlight, s.inFlight)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()
	var f Fault
	if s.cfg.Faults != nil {
		f = s.cfg.Faults(n, r)
	}
	rec.Fault = f.Kind
	switch f.Kind {
	case ExpireToken:
		s.ExpireTokens()
		res := jsonResult(401, map[string]string{"error": "invalid_token", "error_description": "token expired"})
		rec.Status = res.status
		write(w, res)
		return
	case ServerError:
		rec.Status = 500
		write(w, jsonResult(500, map[string]string{"message": "injected internal error"}))
		return
	case TooManyRequests:
		res := jsonResult(429, map[string]string{"message": "too many requests"})
		ra := f.RetryAfter
		if ra == "" {
			ra = "1"
		}
		res.header.Set("Retry-After", ra)
		rec.Status = 429
		write(w, res)
		return
	}
	if !s.authorized(r) {
		rec.Status = 401
		write(w, jsonResult(401, map[string]string{"error": "invalid_token", "error_description": "missing, unknown or expired token"}))
		return
	}

	res, replayed := s.route(r, body, f.Kind == Conflict && r.Method == "POST")
	rec.Replayed = replayed
	switch f.Kind {
	case Slow:
		d := f.Delay
		if d <= 0 {
			d = 2 * time.Second
		}
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			rec.Status = 0
			return
		}
	case Drop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				rec.Status = 0
				return
			}
		}
		panic(http.ErrAbortHandler) // the server closes the connection
	}
	rec.Status = res.status
	write(w, res)
}

func (s *Server) token(r *http.Request, body []byte) result {
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(s.cfg.ClientID+":"+s.cfg.ClientSecret))
	if r.Method != "POST" || r.Header.Get("Authorization") != want {
		return jsonResult(401, map[string]string{"error": "invalid_client", "error_description": "bad client credentials"})
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("grant_type") != "password" {
		return jsonResult(400, map[string]string{"error": "unsupported_grant_type"})
	}
	if form.Get("username") != s.cfg.AccessKeyID || form.Get("password") != s.cfg.AccessKeySecret {
		return jsonResult(400, map[string]string{"error": "invalid_grant", "error_description": "bad access key"})
	}
	tok := "tok-" + randHex(16)
	s.mu.Lock()
	s.tokens[tok] = time.Now().Add(s.cfg.TokenTTL)
	s.issued++
	s.mu.Unlock()
	return jsonResult(200, map[string]any{
		"access_token": tok, "token_type": "bearer",
		"expires_in": int(s.cfg.TokenTTL / time.Second), "refresh_token": "rt-" + randHex(16),
	})
}

func (s *Server) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	return ok && time.Now().Before(exp)
}

const (
	usersPath = "/user-management/v1/users"
	bdPrefix  = "/business-data-manager/v1/business-data/contact/"
)

// route applies a request under the lock and returns its answer. conflict
// turns a successful POST into a 409 carrying the same body.
func (s *Server) route(r *http.Request, body []byte, conflict bool) (result, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := r.URL.Path
	switch {
	case p == s.cfg.CallsPath && r.Method == "POST":
		return s.idempotent(r, func() result { return s.postCall(r, body) }, conflict)
	case strings.HasPrefix(p, s.cfg.CallsPath+"/") && strings.HasSuffix(p, "/media") && r.Method == "PUT":
		id, err := url.PathUnescape(strings.TrimSuffix(strings.TrimPrefix(p, s.cfg.CallsPath+"/"), "/media"))
		if err != nil {
			return jsonResult(400, map[string]string{"message": "bad call id"}), false
		}
		return s.idempotent(r, func() result { return s.putMedia(id, r, body) }, false)
	case strings.HasPrefix(p, bdPrefix) && r.Method == "PUT":
		return s.putBD(strings.TrimPrefix(p, bdPrefix), body), false
	case p == usersPath && r.Method == "GET":
		return s.findUsers(r.URL.Query().Get("email")), false
	case p == usersPath && r.Method == "POST":
		res := s.postUser(body)
		if conflict && res.status == 201 {
			res.status = 409
		}
		return res, false
	case strings.HasPrefix(p, usersPath+"/") && r.Method == "PUT":
		return s.putUser(strings.TrimPrefix(p, usersPath+"/"), body), false
	}
	return jsonResult(404, map[string]string{"message": "no route for " + r.Method + " " + p}), false
}

// idempotent answers a repeated key with the first result (the IETF
// Idempotency-Key draft); a refusal (4xx) is not stored, so a corrected
// request may follow.
func (s *Server) idempotent(r *http.Request, apply func() result, conflict bool) (result, bool) {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		return jsonResult(400, map[string]string{"message": "Idempotency-Key header is required"}), false
	}
	sk := r.Method + " " + r.URL.Path + "\x00" + key
	if res, ok := s.first[sk]; ok {
		return res, true
	}
	res := apply()
	if res.status >= 200 && res.status < 300 {
		s.first[sk] = res
		if conflict {
			res.status = 409
		}
	}
	return res, false
}

func (s *Server) postCall(r *http.Request, body []byte) result {
	var meta map[string]any
	if err := json.Unmarshal(body, &meta); err != nil {
		return jsonResult(400, map[string]string{"message": "body is not a JSON object: " + err.Error()})
	}
	id, _ := meta["call_id"].(string)
	if id == "" {
		return jsonResult(422, map[string]string{"message": "call_id is required"})
	}
	for _, k := range []string{"start_time", "duration_ms", "direction", "business_data", "agent_cxone_user_id"} {
		if _, ok := meta[k]; !ok {
			return jsonResult(422, map[string]string{"message": k + " is required"})
		}
	}
	if s.cfg.Reject != nil {
		if st, text := s.cfg.Reject(id); st != 0 {
			return jsonResult(st, map[string]string{"message": text})
		}
	}
	key := r.Header.Get("Idempotency-Key")
	s.writes["call:"+key]++
	if c, ok := s.calls[id]; ok {
		// Same call under another key: an already-existing recording.
		return jsonResult(409, map[string]string{"contact_id": c.ContactID, "message": "call already exists"})
	}
	s.nextID++
	c := &Call{CallID: id, ContactID: strconv.Itoa(100000 + s.nextID), IdempotencyKey: key, Meta: meta}
	s.calls[id] = c
	s.contacts[c.ContactID] = id
	return jsonResult(201, map[string]string{"contact_id": c.ContactID})
}

func (s *Server) putMedia(callID string, r *http.Request, body []byte) result {
	c, ok := s.calls[callID]
	if !ok {
		return jsonResult(404, map[string]string{"message": "unknown call " + callID})
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/octet-stream" {
		return jsonResult(415, map[string]string{"message": "media must be application/octet-stream, not " + ct})
	}
	s.writes["media:"+r.Header.Get("Idempotency-Key")]++
	c.Media = bytes.Clone(body)
	return result{status: 204, header: http.Header{}}
}

func (s *Server) putBD(contactID string, body []byte) result {
	if _, ok := s.contacts[contactID]; !ok {
		return jsonResult(404, map[string]string{"message": "contact " + contactID + " not found"})
	}
	var items []map[string]any
	if err := json.Unmarshal(body, &items); err != nil {
		return jsonResult(400, map[string]string{"message": "body must be an array of objects"})
	}
	m := map[string]any{}
	for _, it := range items {
		if len(it) != 1 {
			return jsonResult(400, map[string]string{"message": "each item must have exactly one field"})
		}
		for k, v := range it {
			switch v.(type) {
			case string, float64, bool:
				m[k] = v
			default:
				return jsonResult(400, map[string]string{"message": "field " + k + " must be text, number or boolean"})
			}
		}
	}
	s.bd[contactID] = m
	s.bdWrites[contactID]++
	return result{status: 204, header: http.Header{}}
}

func (s *Server) findUsers(email string) result {
	email = strings.ToLower(strings.TrimSpace(email))
	list := []User{}
	for _, u := range s.users {
		if strings.ToLower(strings.TrimSpace(u.EmailAddress)) == email {
			list = append(list, *u)
		}
	}
	return jsonResult(200, map[string]any{"users": list})
}

func (s *Server) postUser(body []byte) result {
	var u User
	if err := json.Unmarshal(body, &u); err != nil || u.EmailAddress == "" {
		return jsonResult(400, map[string]string{"message": "a user needs emailAddress"})
	}
	email := strings.ToLower(strings.TrimSpace(u.EmailAddress))
	for _, x := range s.users {
		if strings.ToLower(strings.TrimSpace(x.EmailAddress)) == email {
			return jsonResult(409, map[string]string{"message": "a user with this email already exists"})
		}
	}
	s.nextID++
	u.ID = "u-" + strconv.Itoa(s.nextID)
	s.users[u.ID] = &u
	s.userWrite[email]++
	return jsonResult(201, u)
}

func (s *Server) putUser(id string, body []byte) result {
	old, ok := s.users[id]
	if !ok {
		return jsonResult(404, map[string]string{"message": "user " + id + " not found"})
	}
	var u User
	if err := json.Unmarshal(body, &u); err != nil {
		return jsonResult(400, map[string]string{"message": "bad user"})
	}
	u.ID = id
	if u.Role == "" {
		u.Role = old.Role
	}
	s.users[id] = &u
	return jsonResult(200, u)
}

func jsonResult(status int, v any) result {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(fmt.Sprintf(`{"message":%q}`, err.Error()))
	}
	return result{status: status, header: http.Header{"Content-Type": {"application/json"}}, body: b}
}

func write(w http.ResponseWriter, res result) {
	for k, v := range res.header {
		w.Header()[k] = v
	}
	w.WriteHeader(res.status)
	w.Write(res.body)
}

func copyCounts(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
