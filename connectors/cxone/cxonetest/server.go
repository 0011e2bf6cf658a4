package cxonetest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
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

// Limit wraps a schedule so that one logical request meets at most
// len(perAttempt) faults: its attempt i (0-based) gets perAttempt[i](n, r),
// later attempts none. A logical request is its method, URI and
// idempotency key, or, without a key, a hash of its body (user searches
// share one URI). It keeps a fault test deterministic in outcome while the
// order of requests is not.
func Limit(perAttempt ...func(n int, r *http.Request) Fault) func(n int, r *http.Request) Fault {
	var mu sync.Mutex
	seen := map[string]int{}
	return func(n int, r *http.Request) Fault {
		k := r.Method + " " + r.URL.RequestURI() + "\x00" + r.Header.Get("Idempotency-Key")
		if r.Header.Get("Idempotency-Key") == "" && r.Body != nil {
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			h := sha256.Sum256(b)
			k += "\x00" + hex.EncodeToString(h[:8])
		}
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
	// TenantID is the tenantId claim of the id_tokens the server issues and
	// the tenant its cxone-configuration knows; default a fixed UUID.
	TenantID string

	TokenTTL  time.Duration // lifetime of issued tokens, default 1h
	CallsPath string        // default /applink/v1/calls; media is CallsPath/{call_id}/media

	// Faults picks the fault of API request n (requests to the issuer —
	// discovery and tokens — are not counted). nil: no faults.
	Faults func(n int, r *http.Request) Fault
	// Reject, when it returns a non-zero status, refuses the call POST of
	// callID with that status and {"message": text}: a permanent refusal.
	Reject func(callID string) (status int, text string)
	// MaxBody bounds the recorded body of a request (the whole body is still
	// read and applied); default 64 KiB.
	MaxBody int

	// BusinessDataFields are the business-data fields defined in the
	// tenant: the Business Data API cannot create fields, so a PUT naming
	// another is refused with 400. nil accepts every name (a tenant where
	// every field the test uses exists).
	BusinessDataFields []string
	// ExactSearch makes a user search's filter match exactly and
	// case-sensitively, the strictest reading; the default is the loosest
	// (a case-insensitive substring). CXone does not publish which.
	ExactSearch bool
	// ContactsStayOpen keeps the contacts the call POST creates open: the
	// Business Data API works only on closed contacts and answers 404 for
	// an open one, until CloseContacts.
	ContactsStayOpen bool
	// SignedUploads makes the call's creation answer a signed
	// mediaUploadUrl for its media, as vendors' import APIs do; without
	// it the media is PUT to CallsPath/{call_id}/media with the token.
	SignedUploads bool
}

// DefaultTenantID is the tenant of a Server without Config.TenantID.
const DefaultTenantID = "11eb0000-0000-4000-8000-00000000a11c"

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
	Issuer                 bool // served by the issuer (discovery, token), not the API host
}

// Call is a call the server accepted.
type Call struct {
	CallID, ContactID, IdempotencyKey string
	Meta                              map[string]any // the payload as sent
	Media                             []byte
	// MediaDeclared is the payload's media object: what Media must match.
	MediaDeclared *MediaDecl
	// AgentUserID is the CXone user id of the AGENT participant, "" none.
	AgentUserID string
}

type result struct {
	status int
	header http.Header
	body   []byte
}

// Server is a fake CXone tenant on two httptest servers, as CXone has
// them: the issuer (URL: OpenID and CXone discovery, the token endpoint)
// and the tenant's API host (APIURL: user management, business data and
// the call-import contract). Safe for concurrent use.
type Server struct {
	URL    string // the issuer: use it as auth_url
	APIURL string // the API host: use it as api_url, or let discovery find it
	cfg    Config
	issuer *httptest.Server
	api    *httptest.Server

	mu        sync.Mutex
	n         int // API requests so far
	requests  []Request
	tokens    map[string]time.Time // token -> expiry
	secrets   []string             // refresh and id tokens issued
	issued    int
	first     map[string]result // "METHOD path\x00key" -> first answer
	writes    map[string]int    // "call:"+key / "media:"+key -> writes applied
	calls     map[string]*Call  // by call_id
	contacts  map[string]string // contact id -> call id
	open      map[string]bool   // contacts not closed yet
	nextCall  int
	bd        map[string]map[string]any
	bdWrites  map[string]int
	users     map[string]map[string]any // id -> the user as CXone holds it
	nextUser  int
	userWrite map[string]int // email -> registrations applied
	updates   map[string]int // id -> updates applied
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
	if cfg.TenantID == "" {
		cfg.TenantID = DefaultTenantID
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
		open:      map[string]bool{},
		bd:        map[string]map[string]any{},
		bdWrites:  map[string]int{},
		users:     map[string]map[string]any{},
		userWrite: map[string]int{},
		updates:   map[string]int{},
	}
	s.issuer = httptest.NewServer(http.HandlerFunc(s.serveIssuer))
	s.api = httptest.NewServer(http.HandlerFunc(s.serveAPI))
	s.URL, s.APIURL = s.issuer.URL, s.api.URL
	return s
}

// Close stops both servers, cutting slow answers short.
func (s *Server) Close() {
	for _, hs := range []*httptest.Server{s.issuer, s.api} {
		hs.CloseClientConnections()
		hs.Close()
	}
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

// TenantID is the tenant the server's id_tokens name.
func (s *Server) TenantID() string { return s.cfg.TenantID }

// Secrets are the credential values and every token issued so far (access,
// refresh and id tokens): none may appear in anything the sink prints.
func (s *Server) Secrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []string{s.cfg.AccessKeyID, s.cfg.AccessKeySecret, s.cfg.ClientID, s.cfg.ClientSecret}
	for t := range s.tokens {
		out = append(out, t)
	}
	return append(out, s.secrets...)
}

// Requests returns every request so far, in order of completion.
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

// CallCount is len(Calls()) without copying them.
func (s *Server) CallCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
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

// CloseContacts closes every open contact (see Config.ContactsStayOpen)
// and, when stayOpen is false, lets later contacts close at once.
func (s *Server) CloseContacts(stayOpen bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.open)
	s.cfg.ContactsStayOpen = stayOpen
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

// readRequest reads r's body and starts its record; the caller appends the
// record when done.
func (s *Server) readRequest(r *http.Request) (Request, []byte, error) {
	body, err := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body)) // a fault schedule may read it
	return Request{
		Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		IdempotencyKey: r.Header.Get("Idempotency-Key"),
		Authorization:  r.Header.Get("Authorization"),
		ContentType:    r.Header.Get("Content-Type"),
		Body:           body[:min(len(body), s.cfg.MaxBody)],
		BodySize:       len(body),
	}, body, err
}

func (s *Server) record(rec *Request) {
	s.mu.Lock()
	s.requests = append(s.requests, *rec)
	s.mu.Unlock()
}

// serveIssuer answers discovery and the token endpoint; it knows nothing
// of the tenant's APIs, as the real issuer host does not.
func (s *Server) serveIssuer(w http.ResponseWriter, r *http.Request) {
	rec, body, err := s.readRequest(r)
	rec.Issuer = true
	defer s.record(&rec)
	if err != nil {
		return // the client went away mid-body
	}
	var res result
	switch {
	case !acceptsJSON(r):
		res = notAcceptable()
	case r.URL.Path == "/.well-known/openid-configuration" && r.Method == "GET":
		res = s.openIDConfiguration()
	case r.URL.Path == "/.well-known/cxone-configuration" && r.Method == "GET":
		res = s.cxoneConfiguration(r.URL.Query())
	case r.URL.Path == tokenPath:
		res = s.token(r, body)
	default:
		res = jsonResult(404, map[string]string{"message": "no route for " + r.Method + " " + r.URL.Path + " on the issuer"})
	}
	rec.Status = res.status
	write(w, res)
}

// serveAPI answers the tenant's API host, with the scheduled faults.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	rec, body, err := s.readRequest(r)
	defer s.record(&rec)
	if err != nil {
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
	if !acceptsJSON(r) {
		res := notAcceptable()
		rec.Status = res.status
		write(w, res)
		return
	}
	var f Fault
	if s.cfg.Faults != nil {
		f = s.cfg.Faults(n, r)
	}
	upload := strings.HasPrefix(r.URL.Path, uploadPrefix)
	if upload && f.Kind == ExpireToken {
		f = Fault{} // a signed URL carries no token to expire
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
	if upload {
		// A signed upload URL carries its own authorisation.
	} else if !s.authorized(r) {
		rec.Status = 401
		write(w, jsonResult(401, map[string]string{"error": "invalid_token", "error_description": "missing, unknown or expired token"}))
		return
	}

	var res result
	var replayed bool
	if upload {
		res, replayed = s.signedUpload(r, body)
	} else {
		res, replayed = s.route(r, body, f.Kind == Conflict && r.Method == "POST")
	}
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

// route applies an API request under the lock and returns its answer.
// conflict turns a successful POST into a 409 carrying the same body.
// Query parameters an endpoint does not publish are ignored, as CXone
// ignores them.
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
	case p == usersV1 && r.Method == "GET":
		return s.listUsers(), false
	case p == usersV1 && r.Method == "POST":
		res := s.registerUser(body)
		if conflict && res.status/100 == 2 {
			res.status = 409
		}
		return res, false
	case p == usersV1 && r.Method == "PUT":
		return s.updateUser(body), false
	case p == usersSearchV2 && r.Method == "POST":
		return s.searchUsers(body), false
	case strings.HasPrefix(p, usersV3+"/") && r.Method == "GET":
		return s.getUser(strings.TrimPrefix(p, usersV3+"/")), false
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
