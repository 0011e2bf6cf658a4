package cxone

import (
	"context"
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
)

// Options are the client's and the sink's injectable dependencies. The zero
// value is the production configuration.
type Options struct {
	Getenv     func(string) string // default os.Getenv
	HTTPClient *http.Client        // API requests; default: a pooled transport
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
	// Observer, when non-nil, is told of every request, retry and token
	// request (metrics).
	Observer Observer
	// Extra holds the sink block's settings that dsl does not decode yet
	// (see settings.go: per-family rates, max_length, the rate-limit wait).
	Extra Extra
	// Ingestion builds the adapter that sends calls and media; nil: today's
	// contract (ingest_applink.go). A test plugs in another adapter here.
	Ingestion func(*Client) Ingestion

	MaxAttempts int           // per request, default DefaultMaxAttempts
	BaseBackoff time.Duration // first retry delay before jitter, default 250ms
	MaxBackoff  time.Duration // cap of one delay before jitter, default 15s
	// MaxRateLimitWait is the longest Retry-After a request waits out; a
	// 429 asking for longer is a rate_limited failure at once (the run
	// stops sending, the rest waits for the next run). Default 60 s;
	// negative: a 429 is never waited for (check).
	MaxRateLimitWait time.Duration
}

// Observer is told what the client does, for metrics. Implementations
// must be safe for concurrent use and fast (they run on the request path).
type Observer interface {
	// Request is one attempt's answer; status 0: none (network, timeout).
	Request(f Family, status int)
	// Retry is one retry of a request, reason e.g. "http_503", "network".
	Retry(f Family, reason string)
	// TokenRefresh is one token request, ok when it gave a token.
	TokenRefresh(ok bool)
}

type noObserver struct{}

func (noObserver) Request(Family, int)  {}
func (noObserver) Retry(Family, string) {}
func (noObserver) TokenRefresh(bool)    {}

// Tenant is what discovery found (after Connect).
type Tenant struct {
	TenantID    string // the id_token's tenantId claim ("" when it names none)
	APIEndpoint string // api_url, or the discovered api_endpoint
	Area        string // from cxone-configuration ("" with api_url set)
	Cluster     string
}

// Client talks to one CXone target (issuer, tenant, credentials). It is
// long-lived and safe for concurrent use: one discovery, one token shared
// by every caller and refreshed before it expires, one connection pool,
// and the rate limits of the tenant. A worker keeps one for its life (see
// Pool); a run's Sink has its own.
type Client struct {
	cfg  dsl.Sink
	opts Options
	cred credentials
	// issuer is auth_url (default DefaultIssuer); tokenURL is its token
	// endpoint, discovered unless auth_url names it.
	issuer   string
	tokenURL string
	red      *redactor
	tok      *tokenSource
	hc       *http.Client
	log      *slog.Logger
	obs      Observer
	lims     map[Family]*familyLimiter
	ingest   Ingestion
	traceMu  sync.Mutex

	connMu    sync.Mutex // held while connecting: one discovery at a time
	connected atomic.Bool
	tenant    Tenant // set once by connect, read after connected

	requests, retries, tokens atomic.Int64
}

type credentials struct {
	accessKeyID, accessKeySecret, clientID, clientSecret string
}

// NewClient checks the sink block and reads the credentials. A missing
// variable is an error naming it (not in a dry run, which authenticates
// nothing). It sends nothing: Connect, or the first request, does.
func NewClient(cfg dsl.Sink, opts Options) (*Client, error) {
	if cfg.Kind != "" && cfg.Kind != "cxone" {
		return nil, fmt.Errorf("cxone: sink kind %q is not cxone", cfg.Kind)
	}
	cfg, err := withDefaults(cfg)
	if err != nil {
		return nil, err
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
	if opts.MaxRateLimitWait == 0 {
		opts.MaxRateLimitWait = opts.Extra.MaxRateLimitWait
	}
	if opts.MaxRateLimitWait == 0 {
		opts.MaxRateLimitWait = DefaultMaxRateLimitWait
	}
	if opts.HTTPClient == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = cfg.Concurrency + 2
		opts.HTTPClient = &http.Client{Transport: tr}
	}
	c := &Client{cfg: cfg, opts: opts, hc: opts.HTTPClient, log: opts.Log, obs: opts.Observer, red: newRedactor()}
	if c.obs == nil {
		c.obs = noObserver{}
	}
	for _, v := range []struct {
		name string
		dst  *string
	}{
		{EnvAccessKeyID, &c.cred.accessKeyID},
		{EnvAccessKeySecret, &c.cred.accessKeySecret},
		{EnvClientID, &c.cred.clientID},
		{EnvClientSecret, &c.cred.clientSecret},
	} {
		*v.dst = opts.Getenv(v.name)
		c.red.add(*v.dst)
	}
	if missing := MissingEnv(opts.Getenv); len(missing) > 0 && opts.DryRun == nil {
		return nil, fmt.Errorf("cxone: environment variable %s is not set (the CXone credentials come only from the environment)", strings.Join(missing, ", "))
	}
	c.red.add(basicAuth(c.cred.clientID, c.cred.clientSecret))
	c.red.add(basicAuth(url.QueryEscape(c.cred.clientID), url.QueryEscape(c.cred.clientSecret)))
	// auth_url is the issuer; one that names the token endpoint itself
	// (…/auth/token, as older specs do) is taken as written.
	c.issuer = cfg.AuthURL
	if strings.HasSuffix(cfg.AuthURL, TokenPath) {
		c.tokenURL = cfg.AuthURL
		c.issuer = strings.TrimSuffix(cfg.AuthURL, TokenPath)
	}
	c.tenant.APIEndpoint = cfg.APIURL
	rates := familyRates(cfg, opts.Extra)
	c.lims = map[Family]*familyLimiter{}
	for _, f := range Families {
		c.lims[f] = newFamilyLimiter(rates[f], opts.Now)
	}
	c.tok = newTokenSource(c)
	if opts.Ingestion != nil {
		c.ingest = opts.Ingestion(c)
	} else {
		c.ingest = newApplinkIngestion(c)
	}
	return c, nil
}

// withDefaults fills the block's unset attributes and checks its URLs and
// paths.
func withDefaults(cfg dsl.Sink) (dsl.Sink, error) {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
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
			return cfg, err
		}
	}
	if cfg.AuthURL, err = checkBaseURL("auth_url", cfg.AuthURL); err != nil {
		return cfg, err
	}
	for name, p := range map[string]string{"calls_path": cfg.CallsPath, "media_path": cfg.MediaPath} {
		if !strings.HasPrefix(p, "/") {
			return cfg, fmt.Errorf("cxone: %s %q must start with /", name, p)
		}
	}
	if !strings.Contains(cfg.MediaPath, "{call_id}") {
		return cfg, fmt.Errorf("cxone: media_path %q must contain {call_id}", cfg.MediaPath)
	}
	return cfg, nil
}

// familyRates is each family's configured rate: its own attribute, else
// requests_per_second, else the family's conservative default.
func familyRates(cfg dsl.Sink, x Extra) map[Family]float64 {
	pick := func(own float64, def float64) float64 {
		switch {
		case own > 0:
			return own
		case cfg.RequestsPerSecond > 0:
			return cfg.RequestsPerSecond
		}
		return def
	}
	return map[Family]float64{
		FamilyUserManagement: pick(x.UserManagementRPS, DefaultUserManagementRPS),
		FamilyIngestion:      pick(x.IngestionRPS, DefaultIngestionRPS),
		FamilyBusinessData:   pick(cfg.BusinessDataRequestsPerSecond, DefaultBusinessDataRPS),
	}
}

// Rate is a family's current limit in requests per second.
func (c *Client) Rate(f Family) float64 {
	if l := c.lims[f]; l != nil {
		return float64(l.lim.Limit())
	}
	return 0
}

// SetShare scales every family's limit to share (0 < share ≤ 1) of the
// configured rate, which is the tenant's: N live workers each take 1/N.
func (c *Client) SetShare(share float64) {
	if share <= 0 || share > 1 {
		share = 1
	}
	for _, l := range c.lims {
		l.share(share)
	}
}

// Connect makes the client ready to send: the token endpoint (discovered
// unless auth_url names it), a token, and the API endpoint (api_url, or
// discovered with the tenant of the id_token). It runs once: concurrent
// callers wait for the one in flight, later ones return at once; after a
// failure the next call tries again.
func (c *Client) Connect(ctx context.Context) error {
	if c.connected.Load() {
		return nil
	}
	c.connMu.Lock()
	defer c.connMu.Unlock()
	if c.connected.Load() {
		return nil
	}
	if c.tokenURL == "" {
		u, err := c.discoverTokenEndpoint(ctx)
		if err != nil {
			return err
		}
		c.tokenURL = u
	}
	if _, err := c.tok.get(ctx); err != nil {
		return err
	}
	c.tenant.TenantID = c.tok.tenantID()
	if c.tenant.APIEndpoint == "" {
		conf, err := c.discoverAPI(ctx, c.tenant.TenantID)
		if err != nil {
			return err
		}
		c.tenant.APIEndpoint, c.tenant.Area, c.tenant.Cluster = conf.APIEndpoint, conf.Area, conf.Cluster
	}
	c.connected.Store(true)
	return nil
}

// Tenant is what Connect found; zero before it succeeded.
func (c *Client) Tenant() Tenant {
	if !c.connected.Load() {
		return Tenant{}
	}
	return c.tenant
}

// apiURL is the API host; valid after Connect.
func (c *Client) apiURL() string { return c.tenant.APIEndpoint }

func (c *Client) api(path string) string { return c.apiURL() + path }

// Close releases the client's idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// Pool keeps one Client per target, for a process that delivers for many
// runs (a worker): discovery, the token and the connections are shared by
// every delivery to the same tenant with the same credentials.
type Pool struct {
	opts    Options
	mu      sync.Mutex
	clients map[string]*Client
}

// NewPool returns an empty pool whose clients get opts.
func NewPool(opts Options) *Pool { return &Pool{opts: opts, clients: map[string]*Client{}} }

// Client returns the pool's client for cfg's target, creating it on first
// use. The target is auth_url, api_url and the access key and client ids
// (read from the environment now); other settings of the first block win,
// its per-family rates included (the sink block's settings, as a delivery
// job carries them).
func (p *Pool) Client(cfg dsl.Sink) (*Client, error) {
	getenv := p.opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	key := strings.Join([]string{cfg.AuthURL, cfg.APIURL, getenv(EnvAccessKeyID), getenv(EnvClientID)}, "\x00")
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[key]; ok {
		return c, nil
	}
	o := p.opts
	if cfg.Settings != nil {
		o.Extra = extraFromSettings(cfg.Settings)
	}
	c, err := NewClient(cfg, o)
	if err != nil {
		return nil, err
	}
	p.clients[key] = c
	return c, nil
}

// Close closes every client of the pool.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.clients {
		c.Close()
	}
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
