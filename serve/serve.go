package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/applink-dev/applink/engine/workspace"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options configure a server.
type Options struct {
	Specs  []Spec
	Listen string       // host:port of the HTTP endpoints; port 0 picks one (logged)
	Logger *slog.Logger // where runs and events are logged; default discards
	// Poll is how often a standby tries the lock, a holder checks it, and a
	// run retries when the state is in use; default 5 s.
	Poll time.Duration
	// ProgressEvery is how often a long run logs its progress; default 30 s.
	ProgressEvery time.Duration
	Version       string           // shown on the status page
	Now           func() time.Time // default time.Now
}

// Spec is one spec folder to serve.
type Spec struct {
	Name      string               // the spec folder as given: label, log key and title
	Workspace *workspace.Workspace // its working area; serve sets its SinkOpened hook
	Every     time.Duration        // time between the starts of two runs
	Lock      Lock                 // which process runs it
	Queue     QueueDepth           // optional: its delivery queue (PostgreSQL state)
	// Takeover, when set, is called each time this process takes the
	// spec's lock, before it runs the spec: with a PostgreSQL state it
	// advances the spec's fencing epoch (recording this process as the
	// holder) and makes the workspace commit under it, so a previous holder
	// that lost the lock can never commit. An error gives the lock back.
	Takeover func(ctx context.Context) error
	Info     SpecInfo // what the page shows about it
	runner   runner   // tests: instead of Workspace
}

// SpecInfo describes a spec for people.
type SpecInfo struct {
	Customer, Tenant, State, SentTo string
}

// Server runs specs on their schedules and answers HTTP.
type Server struct {
	opts    Options
	specs   []*specRunner
	metrics *metrics
	log     *slog.Logger
	started time.Time
	addr    string
}

// New checks the options and prepares the server; Run starts it.
func New(opts Options) (*Server, error) {
	if len(opts.Specs) == 0 {
		return nil, errors.New("serve: no spec")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Poll <= 0 {
		opts.Poll = 5 * time.Second
	}
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, log: opts.Logger}
	s.metrics = newMetrics(s)
	names, locks := map[string]bool{}, map[string]string{}
	for _, sp := range opts.Specs {
		switch {
		case sp.Name == "":
			return nil, errors.New("serve: a spec without a name")
		case names[sp.Name]:
			return nil, fmt.Errorf("serve: spec %s given twice", sp.Name)
		case sp.Every <= 0:
			return nil, fmt.Errorf("serve: spec %s has no schedule", sp.Name)
		case sp.Lock == nil:
			return nil, fmt.Errorf("serve: spec %s has no lock", sp.Name)
		case locks[sp.Lock.String()] != "":
			return nil, fmt.Errorf("serve: specs %s and %s are one spec (same customer, CXone tenant and Engage system: %s); serve each once",
				locks[sp.Lock.String()], sp.Name, sp.Lock)
		}
		names[sp.Name], locks[sp.Lock.String()] = true, sp.Name
		r := &specRunner{name: sp.Name, every: sp.Every, lock: sp.Lock, queue: sp.Queue, info: sp.Info, takeover: sp.Takeover,
			poll: opts.Poll, progressEvery: opts.ProgressEvery, log: opts.Logger, m: s.metrics, now: opts.Now,
			ws: sp.runner}
		if r.ws == nil {
			if sp.Workspace == nil {
				return nil, fmt.Errorf("serve: spec %s has no workspace", sp.Name)
			}
			sp.Workspace.SinkOpened = r.sinkOpened
			r.ws = sp.Workspace
		}
		r.st.Role = roleStarting
		s.specs = append(s.specs, r)
	}
	return s, nil
}

func (s *Server) now() time.Time { return s.opts.Now() }

// Handler serves /healthz, /readyz, /metrics and the status page.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("GET /{$}", s.statusPage)
	return mux
}

// Addr is the address the server listens on, once Run has started.
func (s *Server) Addr() string { return s.addr }

// Run listens, then runs every spec until ctx ends (SIGTERM): each current
// run stops at its next batch boundary and commits nothing, the locks are
// released, and Run returns nil. It returns an error only when it cannot
// start (the address is taken).
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("serve: listen: %w", err)
	}
	s.addr = ln.Addr().String()
	s.started = s.now()
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Serve(ln) }()
	s.log.Info("serving", "url", "http://"+s.addr+"/", "specs", len(s.specs), "pid", os.Getpid())
	for _, r := range s.specs {
		r.log.Info("serving spec", "spec", r.name, "customer", r.info.Customer, "cxone_tenant", r.info.Tenant,
			"every", r.every, "lock", r.lock.String(), "state", r.info.State)
	}

	var wg sync.WaitGroup
	for _, r := range s.specs {
		wg.Go(func() { r.loop(ctx) })
	}
	<-ctx.Done()
	s.log.Info("shutting down: each current run stops at its next batch boundary and commits nothing")
	wg.Wait()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := <-httpDone; err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Warn("http server", "err", err)
	}
	s.log.Info("stopped: no run in progress, the state of every spec is as its last committed run left it, locks released")
	return nil
}
