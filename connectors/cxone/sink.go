package cxone

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
)

// The environment variables holding the credentials. They are read once, in
// NewClient; the spec never holds them.
const (
	EnvAccessKeyID     = "CXONE_ACCESS_KEY_ID"
	EnvAccessKeySecret = "CXONE_ACCESS_KEY_SECRET"
	EnvClientID        = "CXONE_CLIENT_ID"
	EnvClientSecret    = "CXONE_CLIENT_SECRET"
)

// Defaults of the sink block's optional attributes.
const (
	DefaultConcurrency = 4
	// DefaultRequestsPerSecond is documented for requests_per_second; when
	// that is not set each family takes its own default (limits.go).
	DefaultRequestsPerSecond = 10
	DefaultTimeout           = 30 * time.Second
	DefaultCallsPath         = "/applink/v1/calls"
	DefaultMediaPath         = "/applink/v1/calls/{call_id}/media"
	DefaultMaxAttempts       = 6
	DefaultAgentRole         = "Agent"
	// DefaultMaxRateLimitWait is the longest Retry-After a run waits out
	// before it stops sending (rate_limited).
	DefaultMaxRateLimitWait = time.Minute

	// BusinessDataPath is CXone's published endpoint; {contact_id} is the
	// contact the call's creation returned.
	BusinessDataPath = "/business-data-manager/v1/business-data/contact/{contact_id}"
	// TokenPath ends an auth_url that names the token endpoint itself
	// (then the OpenID configuration is not read).
	TokenPath = "/auth/token"
)

// Stats counts what a run did; read it after Commit.
type Stats struct {
	AgentsCreated, AgentsUpdated, AgentsMatched, AgentsFailed int64
	Calls, CallsAcked, CallsFailed                            int64
	// CallsRateLimited counts calls left for the next run (rate_limited).
	CallsRateLimited    int64
	Media, BusinessData int64
	// BusinessDataNotFound counts calls failed with bd_contact_not_found.
	BusinessDataNotFound            int64
	Requests, Retries, TokenFetches int64
}

// Sink sends a run to CXone through a Client: agents as the engine hands
// them over, calls on `concurrency` workers. Create it with New (its own
// client) or NewSink (a shared one); it implements connector.Sink.
type Sink struct {
	c    *Client
	opts Options

	info   connector.RunInfo
	ctx    context.Context // workers' context, from Open's
	cancel context.CancelFunc
	jobs   chan *delivery
	wg     sync.WaitGroup
	close  sync.Once
	fatal  atomic.Pointer[error]
	opened bool
	done   atomic.Bool // after Commit or Abort: no more rows
	// limited is set by a 429 the run may not wait out: from then on
	// nothing is sent, every row left is rate_limited (the next run's).
	limited atomic.Pointer[RateLimitedError]

	mu     sync.Mutex        // guards agents
	agents map[string]string // Engage user_id -> CXone user id

	stats struct {
		agentsCreated, agentsUpdated, agentsMatched, agentsFailed atomic.Int64
		calls, acked, failed, limited, media, bd, bdNotFound      atomic.Int64
	}
}

var _ connector.Sink = (*Sink)(nil)

// New checks the sink block, reads the credentials and makes the sink's
// own client.
func New(cfg dsl.Sink, opts Options) (*Sink, error) {
	c, err := NewClient(cfg, opts)
	if err != nil {
		return nil, err
	}
	return NewSink(c), nil
}

// NewSink is a sink for one run on a client that may outlive it.
func NewSink(c *Client) *Sink {
	return &Sink{c: c, opts: c.opts, agents: map[string]string{}}
}

// Client is the sink's client.
func (s *Sink) Client() *Client { return s.c }

// Label names where this sink sends, for humans (engine's Labeled).
func (s *Sink) Label() string { return Label(s.c.cfg) }

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

// Open authenticates (outside a dry run) and starts the workers.
func (s *Sink) Open(ctx context.Context, info connector.RunInfo) error {
	if s.opened {
		return errors.New("cxone: sink opened twice")
	}
	s.opened = true
	s.info = info
	if s.info.Fail == nil {
		s.info.Fail = func(string, string, connector.Failure) {}
	}
	if s.opts.DryRun != nil {
		s.dryOpen()
		return nil
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	if err := s.c.Connect(ctx); err != nil {
		s.cancel()
		return err
	}
	s.jobs = make(chan *delivery, 2*s.c.cfg.Concurrency)
	for range s.c.cfg.Concurrency {
		s.wg.Add(1)
		go s.worker()
	}
	return nil
}

// UserID is the CXone user id this run resolved (found, registered or
// updated) for an Engage user id; false when the agent was not sent or
// failed. The delivery enqueue puts it into each call's job.
func (s *Sink) UserID(engineUserID string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.agents[engineUserID]
	return id, ok
}

// Agent syncs one agent (SyncAgent) and remembers its CXone user id for
// the calls. A refusal fails the agent through RunInfo.Fail and the run
// goes on; only a fatal error (authentication, cancellation) is returned.
func (s *Sink) Agent(ctx context.Context, a *connector.OutAgent) error {
	if !s.opened || s.done.Load() {
		return fmt.Errorf("cxone: Agent outside Open..Commit")
	}
	if s.opts.DryRun != nil {
		s.dryAgent(a, wantOf(a))
		return nil
	}
	if rl := s.limited.Load(); rl != nil {
		s.failAgent(a.UserID, rl.Failure())
		return nil
	}
	id, outcome, err := s.c.SyncAgent(ctx, a)
	if err != nil {
		if isFatal(err) || ctx.Err() != nil {
			return err
		}
		s.noteLimited(err)
		s.failAgent(a.UserID, s.failureOf(err))
		return nil
	}
	switch outcome {
	case AgentCreated:
		s.stats.agentsCreated.Add(1)
	case AgentUpdated:
		s.stats.agentsUpdated.Add(1)
	default:
		s.stats.agentsMatched.Add(1)
	}
	s.mu.Lock()
	s.agents[strings.Clone(a.UserID)] = id
	s.mu.Unlock()
	return nil
}

// Ledger is a no-op: the engine keeps the ledger in its state file.
func (s *Sink) Ledger(context.Context, connector.LedgerRow) error { return nil }

// Call copies what it needs of c and queues it for a worker; it blocks while
// every worker is busy and the queue is full (back-pressure to the engine).
func (s *Sink) Call(ctx context.Context, c *connector.OutCall) error {
	if !s.opened || s.done.Load() {
		return errors.New("cxone: Call outside Open..Commit")
	}
	s.stats.calls.Add(1)
	agentID := ""
	if c.AgentUserID != "" {
		agentID, _ = s.UserID(c.AgentUserID)
	}
	d, err := newDelivery(c, s.info.Fields, agentID)
	if err != nil {
		// The row cannot be encoded: fail the row, not the run.
		s.failCall(c.CallID, s.failureOf(err))
		return nil
	}
	if s.opts.DryRun != nil {
		s.dryCall(d)
		return nil
	}
	if err := s.fatalErr(); err != nil {
		return err
	}
	if rl := s.limited.Load(); rl != nil {
		s.leave(d.it.ID, rl)
		return nil
	}
	select {
	case s.jobs <- d:
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

func (s *Sink) worker() {
	defer s.wg.Done()
	for {
		var d *delivery
		select {
		case <-s.ctx.Done():
			return // aborted or fatal: what is queued is left for a rerun
		case next, ok := <-s.jobs:
			if !ok {
				return
			}
			d = next
		}
		if rl := s.limited.Load(); rl != nil {
			s.leave(d.it.ID, rl)
			continue
		}
		media, err := s.c.deliver(s.ctx, d)
		if media != nil {
			s.stats.media.Add(1)
			if s.info.MediaSent != nil {
				s.info.MediaSent(d.it.ID, *media)
			}
		}
		switch {
		case err == nil:
			if d.bd != nil {
				s.stats.bd.Add(1)
			}
			s.stats.acked.Add(1)
		case s.ctx.Err() != nil:
			// Cancelled mid-flight: neither acknowledged nor failed.
		case isFatal(err):
			s.setFatal(err)
		default:
			if s.noteLimited(err) {
				s.leave(d.it.ID, s.limited.Load())
				continue
			}
			f := s.failureOf(err)
			if f.Code == ReasonBDContactNotFound {
				s.stats.bdNotFound.Add(1)
			}
			s.failCall(d.it.ID, f)
		}
	}
}

// noteLimited stops the run's sending when err is a 429 it may not wait
// out, and says whether it was.
func (s *Sink) noteLimited(err error) bool {
	var rl *RateLimitedError
	if !errors.As(err, &rl) {
		return false
	}
	if s.limited.CompareAndSwap(nil, rl) {
		s.c.log.Warn("cxone: rate limited beyond what a run waits: sending stops, the rest goes with the next run", "family", rl.Family, "retry_after", rl.Wait)
	}
	return true
}

// leave reports a call not sent because the run is rate limited: the
// engine keeps it for the next run (never failed).
func (s *Sink) leave(id string, rl *RateLimitedError) {
	s.stats.limited.Add(1)
	s.info.Fail("call", id, rl.Failure())
}

func isFatal(err error) bool {
	var ae *AuthError
	return errors.As(err, &ae) || errors.Is(err, context.Canceled)
}

// failureOf is the typed failure an error carries; an error that carries
// none (a bug) is reported as cxone_error rather than lost.
func (s *Sink) failureOf(err error) connector.Failure {
	var f connector.Failure
	if errors.As(err, &f) {
		return f
	}
	return connector.Failure{Code: "cxone_error", Detail: s.c.red.clean(err.Error())}
}

func (s *Sink) failCall(id string, f connector.Failure) {
	s.stats.failed.Add(1)
	s.info.Fail("call", id, f)
}

func (s *Sink) failAgent(userID string, f connector.Failure) {
	s.stats.agentsFailed.Add(1)
	s.info.Fail("agent", userID, f)
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
		CallsRateLimited:     s.stats.limited.Load(),
		Media:                s.stats.media.Load(),
		BusinessData:         s.stats.bd.Load(),
		BusinessDataNotFound: s.stats.bdNotFound.Load(),
		Requests:             s.c.requests.Load(),
		Retries:              s.c.retries.Load(),
		TokenFetches:         s.c.tokens.Load(),
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

func (s *Sink) dryf(format string, args ...any) {
	fmt.Fprint(s.opts.DryRun, s.c.red.clean(fmt.Sprintf(format, args...)))
}

// dryCall prints what deliver would send.
func (s *Sink) dryCall(d *delivery) {
	if d.mediaFile != "" {
		m, err := readMedia(d.mediaFile, s.c.red)
		if err != nil {
			m = &MediaFile{Path: d.mediaFile + " (unreadable: the call would fail)", ContentType: "application/octet-stream"}
		}
		d.it.Media = m
		s.stats.media.Add(1)
	}
	for _, r := range s.c.ingest.Plan(d.it) {
		u := r.Path
		if !strings.Contains(u, "://") {
			u = s.dryAPI(u)
		}
		fmt.Fprint(s.opts.DryRun, s.c.red.dumpRequest(r.Method, u, dryHeaders(r.ContentType, r.IdempotencyKey), r.ContentType, r.Body, r.Note))
	}
	if d.bd != nil {
		s.stats.bd.Add(1)
		fmt.Fprint(s.opts.DryRun, s.c.red.dumpRequest("PUT", s.dryAPI(BusinessDataPath), dryHeaders("application/json", ""), "application/json", d.bd, ""))
	}
}

// dryAPI is an API URL in a dry run, which discovers nothing: without
// api_url the host is a placeholder.
func (s *Sink) dryAPI(path string) string {
	if s.c.cfg.APIURL == "" {
		return "{api_endpoint}" + path
	}
	return s.c.cfg.APIURL + path
}

// dryOpen prints how a run would authenticate and find the API.
func (s *Sink) dryOpen() {
	tok := s.c.tokenURL
	if tok == "" {
		tok = "the token_endpoint of " + s.c.issuer + OpenIDConfigPath
	}
	s.dryf("# dry run: nothing is authenticated or sent; a run gets a token from %s with the access key\n", tok)
	if s.c.cfg.APIURL == "" {
		s.dryf("# {api_endpoint}: the api_endpoint of %s%s?tenantId=(the tenantId of the id_token)\n", s.c.issuer, CXoneConfigPath)
	}
}

func dryHeaders(contentType, key string) map[string][]string {
	h := map[string][]string{"Authorization": {"Bearer (token)"}, "Accept": {"application/json"}}
	if contentType != "" {
		h["Content-Type"] = []string{contentType}
	}
	if key != "" {
		h["Idempotency-Key"] = []string{key}
	}
	return h
}
