package cxone

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
)

// The environment variables holding the credentials. They are read once, in
// New; the spec never holds them.
const (
	EnvAccessKeyID     = "CXONE_ACCESS_KEY_ID"
	EnvAccessKeySecret = "CXONE_ACCESS_KEY_SECRET"
	EnvClientID        = "CXONE_CLIENT_ID"
	EnvClientSecret    = "CXONE_CLIENT_SECRET"
)

// Defaults of the sink block's optional attributes.
const (
	DefaultConcurrency       = 4
	DefaultRequestsPerSecond = 10
	DefaultTimeout           = 30 * time.Second
	DefaultCallsPath         = "/applink/v1/calls"
	DefaultMediaPath         = "/applink/v1/calls/{call_id}/media"
	DefaultMaxAttempts       = 6
	DefaultAgentRole         = "Agent"

	// BusinessDataPath is CXone's published endpoint; {contact_id} is the
	// contact the call POST returned.
	BusinessDataPath = "/business-data-manager/v1/business-data/contact/{contact_id}"
	// TokenPath ends an auth_url that names the token endpoint itself
	// (then the OpenID configuration is not read).
	TokenPath = "/auth/token"
)

// Options are the sink's injectable dependencies. The zero value is the
// production configuration.
type Options struct {
	Getenv     func(string) string // default os.Getenv
	HTTPClient *http.Client        // default: a client with a pooled transport
	// DryRun, when non-nil, receives every request the sink would make
	// (redacted) and the totals; nothing is authenticated or sent and no
	// credential is required.
	DryRun io.Writer
	Now    func() time.Time                                 // default time.Now
	Sleep  func(ctx context.Context, d time.Duration) error // default: a timer that honours ctx
	Log    *slog.Logger                                     // retries and refreshes; default: discarded
	// Trace, when non-nil, receives a redacted dump of every request attempt
	// (for --verbose); writes are serialised.
	Trace io.Writer

	MaxAttempts int           // per request, default DefaultMaxAttempts
	BaseBackoff time.Duration // first retry delay before jitter, default 250ms
	MaxBackoff  time.Duration // cap of one delay, default 15s
	// MaxRetryAfter caps a server's Retry-After so a bogus value cannot stall
	// the run; default 5 minutes.
	MaxRetryAfter time.Duration
}

// Stats counts what a run did; read it after Commit.
type Stats struct {
	AgentsCreated, AgentsUpdated, AgentsMatched, AgentsFailed int64
	Calls, CallsAcked, CallsFailed                            int64
	Media, BusinessData                                       int64
	// BusinessDataNotFound counts calls failed with bd_contact_not_found.
	BusinessDataNotFound            int64
	Requests, Retries, TokenFetches int64
}

// Sink sends a run to CXone. Create it with New; it implements engine.Sink.
type Sink struct {
	cfg  dsl.Sink
	opts Options
	cred credentials
	// issuer is auth_url (default DefaultIssuer); tokenURL is its token
	// endpoint, discovered in Open unless auth_url names it; apiURL is
	// api_url, or discovered in Open from the tenant of the id_token.
	issuer, tokenURL, apiURL string
	red                      *redactor
	lim                      *limiter
	bdLim                    *limiter // business data's own rate limit, before lim
	tok                      *tokenSource
	hc                       *http.Client
	log                      *slog.Logger

	info   engine.RunInfo
	ctx    context.Context // workers' context, from Open's
	cancel context.CancelFunc
	jobs   chan *job
	wg     sync.WaitGroup
	close  sync.Once
	fatal  atomic.Pointer[error]
	opened bool
	done   atomic.Bool // after Commit or Abort: no more rows

	traceMu sync.Mutex
	mu      sync.Mutex        // guards agents
	agents  map[string]string // Engage user_id -> CXone user id

	stats struct {
		agentsCreated, agentsUpdated, agentsMatched, agentsFailed atomic.Int64
		calls, acked, failed, media, bd, bdNotFound               atomic.Int64
		requests, retries, tokens                                 atomic.Int64
	}
}

var _ engine.Sink = (*Sink)(nil)

type credentials struct {
	accessKeyID, accessKeySecret, clientID, clientSecret string
}

// New checks the sink block and reads the credentials. A missing variable is
// an error naming it (not in a dry run, which authenticates nothing).
func New(cfg dsl.Sink, opts Options) (*Sink, error) {
	if cfg.Kind != "" && cfg.Kind != "cxone" {
		return nil, fmt.Errorf("cxone: sink kind %q is not cxone", cfg.Kind)
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.RequestsPerSecond <= 0 {
		cfg.RequestsPerSecond = DefaultRequestsPerSecond
	}
	if cfg.BusinessDataRequestsPerSecond <= 0 {
		cfg.BusinessDataRequestsPerSecond = cfg.RequestsPerSecond
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.CallsPath == "" {
		cfg.CallsPath = DefaultCallsPath
	}
	if cfg.MediaPath == "" {
		cfg.MediaPath = DefaultMediaPath
	}
	if cfg.Role == "" {
		cfg.Role = DefaultAgentRole
	}
	if cfg.AuthURL == "" {
		cfg.AuthURL = DefaultIssuer
	}
	var err error
	if cfg.APIURL != "" {
		if cfg.APIURL, err = checkBaseURL("api_url", cfg.APIURL); err != nil {
			return nil, err
		}
	}
	if cfg.AuthURL, err = checkBaseURL("auth_url", cfg.AuthURL); err != nil {
		return nil, err
	}
	for name, p := range map[string]string{"calls_path": cfg.CallsPath, "media_path": cfg.MediaPath} {
		if !strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("cxone: %s %q must start with /", name, p)
		}
	}
	if !strings.Contains(cfg.MediaPath, "{call_id}") {
		return nil, fmt.Errorf("cxone: media_path %q must contain {call_id}", cfg.MediaPath)
	}

	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = sleepCtx
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.BaseBackoff <= 0 {
		opts.BaseBackoff = 250 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 15 * time.Second
	}
	if opts.MaxRetryAfter <= 0 {
		opts.MaxRetryAfter = 5 * time.Minute
	}
	if opts.HTTPClient == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = cfg.Concurrency + 2
		opts.HTTPClient = &http.Client{Transport: tr}
	}

	s := &Sink{cfg: cfg, opts: opts, hc: opts.HTTPClient, log: opts.Log, agents: map[string]string{}}
	s.red = newRedactor()
	vars := []struct {
		name string
		dst  *string
	}{
		{EnvAccessKeyID, &s.cred.accessKeyID},
		{EnvAccessKeySecret, &s.cred.accessKeySecret},
		{EnvClientID, &s.cred.clientID},
		{EnvClientSecret, &s.cred.clientSecret},
	}
	for _, v := range vars {
		*v.dst = opts.Getenv(v.name)
		s.red.add(*v.dst)
	}
	if missing := MissingEnv(opts.Getenv); len(missing) > 0 && opts.DryRun == nil {
		return nil, fmt.Errorf("cxone: environment variable %s is not set (the CXone credentials come only from the environment)", strings.Join(missing, ", "))
	}
	s.red.add(basicAuth(s.cred.clientID, s.cred.clientSecret))
	// auth_url is the issuer; one that names the token endpoint itself
	// (…/auth/token, as older specs do) is taken as written.
	s.issuer = cfg.AuthURL
	if strings.HasSuffix(cfg.AuthURL, TokenPath) {
		s.tokenURL = cfg.AuthURL
		s.issuer = strings.TrimSuffix(cfg.AuthURL, TokenPath)
	}
	s.apiURL = cfg.APIURL
	s.lim = newLimiter(cfg.RequestsPerSecond, opts.Now)
	s.bdLim = newLimiter(cfg.BusinessDataRequestsPerSecond, opts.Now)
	s.tok = &tokenSource{s: s}
	return s, nil
}

// MissingEnv names the credential variables that are not set, in the
// order of the documentation.
func MissingEnv(getenv func(string) string) []string {
	var missing []string
	for _, name := range []string{EnvAccessKeyID, EnvAccessKeySecret, EnvClientID, EnvClientSecret} {
		if getenv(name) == "" {
			missing = append(missing, name)
		}
	}
	return missing
}

// Label names where this sink sends, for humans (engine's Labeled).
func (s *Sink) Label() string { return Label(s.cfg) }

// Label names where a run with this sink block sends, for humans.
func Label(cfg dsl.Sink) string {
	if cfg.APIURL != "" {
		return "CXone " + cfg.APIURL
	}
	issuer := cfg.AuthURL
	if issuer == "" {
		issuer = DefaultIssuer
	}
	return "CXone (API endpoint discovered through " + issuer + ")"
}

// checkBaseURL refuses plain http except to loopback: a bearer token must
// not cross a network in clear text. The test server listens on 127.0.0.1.
func checkBaseURL(name, raw string) (string, error) {
	if raw == "" {
		return "", fmt.Errorf("cxone: %s is empty", name)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("cxone: %s %q is not an absolute URL", name, raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		host := u.Hostname()
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return "", fmt.Errorf("cxone: %s %q must use https (plain http is only allowed to localhost)", name, raw)
		}
	default:
		return "", fmt.Errorf("cxone: %s %q must use https", name, raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

// Open authenticates (outside a dry run) and starts the workers.
func (s *Sink) Open(ctx context.Context, info engine.RunInfo) error {
	if s.opened {
		return errors.New("cxone: sink opened twice")
	}
	s.opened = true
	s.info = info
	if s.info.Fail == nil {
		s.info.Fail = func(string, string, engine.Failure) {}
	}
	if s.opts.DryRun != nil {
		s.dryOpen()
		return nil
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	if err := s.connect(ctx); err != nil {
		s.cancel()
		return err
	}
	s.jobs = make(chan *job, 2*s.cfg.Concurrency)
	for range s.cfg.Concurrency {
		s.wg.Add(1)
		go s.worker()
	}
	return nil
}

// Ledger is a no-op: the engine keeps the ledger in its state file.
func (s *Sink) Ledger(context.Context, engine.LedgerRow) error { return nil }

// Call copies what it needs of c and queues it for a worker; it blocks while
// every worker is busy and the queue is full (back-pressure to the engine).
func (s *Sink) Call(ctx context.Context, c *engine.OutCall) error {
	if !s.opened || s.done.Load() {
		return errors.New("cxone: Call outside Open..Commit")
	}
	s.stats.calls.Add(1)
	j, err := s.newJob(c)
	if err != nil {
		// The row cannot be encoded (e.g. a NaN number): fail the row, not the run.
		s.failCall(c.CallID, "encode: "+s.red.clean(err.Error()))
		return nil
	}
	if s.opts.DryRun != nil {
		s.dryCall(j)
		return nil
	}
	if err := s.fatalErr(); err != nil {
		return err
	}
	select {
	case s.jobs <- j:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cxone: queue call %s: %w", c.CallID, ctx.Err())
	case <-s.ctx.Done():
		if err := s.fatalErr(); err != nil {
			return err
		}
		return fmt.Errorf("cxone: queue call %s: %w", c.CallID, s.ctx.Err())
	}
}

// Commit waits until every queued call is acknowledged or reported through
// RunInfo.Fail. It returns an error only when the run itself failed (lost
// authentication, cancelled context); rows that were not sent then are
// neither acknowledged nor failed, and a rerun resends them with the same
// idempotency keys.
func (s *Sink) Commit(ctx context.Context) error {
	if !s.opened {
		return errors.New("cxone: Commit before Open")
	}
	if s.opts.DryRun != nil {
		s.done.Store(true)
		st := s.Stats()
		s.dryf("# totals: agents %d, calls %d, media uploads %d, business-data updates %d; nothing was sent\n",
			st.AgentsCreated+st.AgentsMatched+st.AgentsUpdated+st.AgentsFailed, st.Calls-st.CallsFailed, st.Media, st.BusinessData)
		return nil
	}
	s.stop()
	finished := make(chan struct{})
	go func() { s.wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-ctx.Done():
		s.cancel()
		<-finished
		return fmt.Errorf("cxone: commit: %w", ctx.Err())
	}
	s.cancel()
	return s.fatalErr()
}

// Abort stops the workers: in-flight requests are cancelled, queued calls
// are dropped (neither acknowledged nor failed: a rerun sends them). Safe to
// call at any time, more than once, even while Call blocks: it never closes
// the queue, the workers leave on the cancelled context.
func (s *Sink) Abort() error {
	s.done.Store(true)
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	return nil
}

// stop closes the queue so the workers drain it and leave. Only Commit calls
// it, from the engine's goroutine, so no Call can be sending meanwhile.
func (s *Sink) stop() {
	s.close.Do(func() {
		s.done.Store(true)
		if s.jobs != nil {
			close(s.jobs)
		}
	})
}

// Stats returns the counters so far.
func (s *Sink) Stats() Stats {
	return Stats{
		AgentsCreated:        s.stats.agentsCreated.Load(),
		AgentsUpdated:        s.stats.agentsUpdated.Load(),
		AgentsMatched:        s.stats.agentsMatched.Load(),
		AgentsFailed:         s.stats.agentsFailed.Load(),
		Calls:                s.stats.calls.Load(),
		CallsAcked:           s.stats.acked.Load(),
		CallsFailed:          s.stats.failed.Load(),
		Media:                s.stats.media.Load(),
		BusinessData:         s.stats.bd.Load(),
		BusinessDataNotFound: s.stats.bdNotFound.Load(),
		Requests:             s.stats.requests.Load(),
		Retries:              s.stats.retries.Load(),
		TokenFetches:         s.stats.tokens.Load(),
	}
}

func (s *Sink) setFatal(err error) {
	if s.fatal.CompareAndSwap(nil, &err) {
		s.cancel()
	}
}

func (s *Sink) fatalErr() error {
	if p := s.fatal.Load(); p != nil {
		return *p
	}
	return nil
}

func (s *Sink) failCall(id, reason string) {
	s.stats.failed.Add(1)
	s.info.Fail("call", id, failureOf(reason))
}

// failureOf types a reason this sink built as "code: detail".
// TODO(issue 18): the sink's errors become typed where they are made.
func failureOf(reason string) engine.Failure {
	code, detail, _ := strings.Cut(reason, ": ")
	f := engine.Failure{Code: code, Detail: detail, Permanent: code == "encode"}
	if st, ok := strings.CutPrefix(code, "http_"); ok && len(st) == 3 && st[0] == '4' {
		f.Permanent = st != "408" && st != "429"
	}
	return f
}

func (s *Sink) dryf(format string, args ...any) {
	fmt.Fprint(s.opts.DryRun, s.red.clean(fmt.Sprintf(format, args...)))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
