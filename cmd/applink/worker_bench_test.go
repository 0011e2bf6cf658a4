package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/applink-dev/applink/connectors/cxone/cxonetest"
	"github.com/applink-dev/applink/connectors/outbox"
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/delivery"
	"github.com/applink-dev/applink/engine/state/pgstate"
	"github.com/applink-dev/applink/engine/state/statetest"
)

// roundTrips counts the statements, batches and copies a pool sends: each
// is one round trip to PostgreSQL.
type roundTrips struct {
	n  atomic.Int64
	mu sync.Mutex
	by map[string]int // APPLINK_BENCH_SQL set: statements by their start
}

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	r.n.Add(1)
	if os.Getenv("APPLINK_BENCH_SQL") != "" {
		r.mu.Lock()
		if r.by == nil {
			r.by = map[string]int{}
		}
		r.by[strings.Join(strings.Fields(d.SQL), " ")[:min(60, len(strings.Join(strings.Fields(d.SQL), " ")))]]++
		r.mu.Unlock()
	}
	return ctx
}

// breakdown logs the statements counted, most first (APPLINK_BENCH_SQL).
func (r *roundTrips) breakdown(b *testing.B) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, n := range r.by {
		fmt.Fprintf(os.Stderr, "sql %6d %s\n", n, k)
	}
}
func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}
func (r *roundTrips) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceCopyFromStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceCopyFromEnd(context.Context, *pgx.Conn, pgx.TraceCopyFromEndData) {}

// BenchmarkWorkerDeliveries measures deliveries per second with 1, 2 and 4
// workers (each a River client with its own pool and 4 deliveries at once,
// as `applink worker` runs by default) against the local CXone receiver:
// a call's metadata, a 64 KB media file and its business data, with the
// Idempotency-Key. It reports the PostgreSQL round trips per delivery
// (the queue's cost: fetching, the stale check, settling job and row),
// River's background work included.
func BenchmarkWorkerDeliveries(b *testing.B) {
	media := filepath.Join(b.TempDir(), "call.wav")
	if err := os.WriteFile(media, make([]byte, 64<<10), 0o644); err != nil {
		b.Fatal(err)
	}
	const perOp = 200 // deliveries per benchmark iteration
	for _, workers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			dsn := statetest.DSN(b)
			srv := cxonetest.New(cxonetest.Config{AccessKeyID: "AKID", AccessKeySecret: "secret-a", ClientID: "client", ClientSecret: "secret-c"})
			defer srv.Close()
			for k, v := range srv.Env() {
				b.Setenv(k, v)
			}
			ctx := context.Background()
			st, err := pgstate.Open(ctx, dsn, "bench", pgstate.Options{Jobs: delivery.Jobs})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			fields := []dsl.Field{{Type: dsl.TypeText, Name: "CustomerID"}, {Type: dsl.TypeNumber, Name: "OrderTotal"}}
			plan := &engine.Plan{Fields: fields, Sink: &dsl.Sink{Kind: "cxone", APIURL: srv.APIURL, AuthURL: srv.URL, Concurrency: 1, RequestsPerSecond: 1e6}}
			total := b.N * perOp
			// Queue every delivery first, as runs do, outside the timing.
			for i := range b.N {
				runID := fmt.Sprintf("r%06d", i)
				led, err := st.Begin(runID, "spec", filepath.Join(b.TempDir(), runID), nil)
				if err != nil {
					b.Fatal(err)
				}
				q := delivery.Enqueue(led, "bench", delivery.NewTarget(plan, ""))
				sink, ledger := q.Sink(engine.Discard{}), q.Ledger(led)
				sink.Open(ctx, connector.RunInfo{Fields: fields})
				for j := range perOp {
					id := fmt.Sprintf("%s-c%d", runID, j)
					c := &connector.OutCall{CallID: id, SystemID: "engage-bench", StartTime: time.Now(), DurationMS: 60000, Direction: "in",
						Media: "call.wav", MediaFile: media, Values: []connector.Value{{Field: 0, Text: []byte("C-1")}, {Field: 1, Number: 12.5}}}
					sink.Call(ctx, c)
					if err := ledger.Row(connector.LedgerRow{Entity: "call", ID: id, State: connector.StateImported}, uint64(2*j+2), false); err != nil {
						b.Fatal(err)
					}
				}
				if err := ledger.Commit(ctx, &engine.RunRecord{RunID: runID, Started: time.Now()}); err != nil {
					b.Fatal(err)
				}
			}
			trips := &roundTrips{}
			n := drainQueue(b, ctx, dsn, st, workers, trips, func() delivery.Config {
				return delivery.Config{Registry: registry(), Concurrency: 4, PollEvery: 100 * time.Millisecond}
			}, nil)
			if got := len(srv.Calls()); got != total {
				b.Fatalf("the server holds %d calls, want %d", got, total)
			}
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "deliveries/s")
			b.ReportMetric(float64(n)/float64(total), "pg_roundtrips/delivery")
			b.ReportMetric(float64(len(srv.Requests()))/float64(total), "http_requests/delivery")
		})
	}
}

// BenchmarkOutboxWorkers measures deliveries per second into the outbox
// with 2 workers × 32 deliveries at once (each worker a River client with
// its own pool, appending to its own segment files), the PostgreSQL round
// trips per delivery, and checks the materialized outbox holds every call
// once. APPLINK_BENCH_CALLS sets the calls per iteration (default 5000).
func BenchmarkOutboxWorkers(b *testing.B) {
	dsn := statetest.DSN(b)
	perOp := 5000
	if v := os.Getenv("APPLINK_BENCH_CALLS"); v != "" {
		fmt.Sscan(v, &perOp)
	}
	const workers, concurrency = 2, 32
	ctx := context.Background()
	st, err := pgstate.Open(ctx, dsn, "bench-outbox", pgstate.Options{Jobs: delivery.Jobs})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	out := filepath.Join(b.TempDir(), "outbox")
	fields := []dsl.Field{{Type: dsl.TypeText, Name: "CustomerID"}, {Type: dsl.TypeNumber, Name: "OrderTotal"}}
	plan := &engine.Plan{Fields: fields}
	total := b.N * perOp
	for i := range b.N {
		runID := fmt.Sprintf("r%06d", i)
		led, err := st.Begin(runID, "spec", filepath.Join(b.TempDir(), runID), nil)
		if err != nil {
			b.Fatal(err)
		}
		q := delivery.Enqueue(led, "bench-outbox", delivery.NewTarget(plan, out))
		sink, ledger := q.Sink(outbox.NewFolder(out)), q.Ledger(led)
		if err := sink.Open(ctx, connector.RunInfo{RunID: runID, Fields: fields}); err != nil {
			b.Fatal(err)
		}
		for j := range perOp {
			id := fmt.Sprintf("%s-c%d", runID, j)
			c := &connector.OutCall{CallID: id, SystemID: "engage-bench", StartTime: time.Unix(1_800_000_000+int64(j), 0).UTC(), DurationMS: 60000, Direction: "in",
				Media: "call.wav", MediaFile: "/media/call.wav", Values: []connector.Value{{Field: 0, Text: []byte("C-1")}, {Field: 1, Number: 12.5}}}
			sink.Call(ctx, c)
			row := connector.LedgerRow{Entity: "call", ID: id, State: connector.StateImported}
			sink.Ledger(ctx, row)
			if err := ledger.Row(row, uint64(2*j+2), false); err != nil {
				b.Fatal(err)
			}
		}
		if err := sink.Commit(ctx); err != nil {
			b.Fatal(err)
		}
		if err := ledger.Commit(ctx, &engine.RunRecord{RunID: runID, Started: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
	trips := &roundTrips{}
	n := drainQueue(b, ctx, dsn, st, workers, trips, func() delivery.Config {
		return delivery.Config{Registry: registry(), Concurrency: concurrency, PollEvery: 100 * time.Millisecond,
			Segments: func(dir, name string) (delivery.SegmentAppender, error) { return outbox.OpenSegmentWriter(dir, name) }}
	}, nil)
	ms, err := outbox.Materialize(out)
	if err != nil {
		b.Fatal(err)
	}
	if ms.Calls != total {
		b.Fatalf("the materialized outbox holds %d calls, want %d", ms.Calls, total)
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(float64(n)/float64(total), "pg_roundtrips/delivery")
}

// latencyProxy answers every request after delay, by passing it to target.
func latencyProxy(b testing.TB, target string, delay time.Duration) string {
	u, err := url.Parse(target)
	if err != nil {
		b.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 256}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		rp.ServeHTTP(w, r)
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}

// BenchmarkWorkerDeliveriesLatency is issue 19's delivery figure: a CXone
// receiver that answers every request after 50 ms, 2 workers × 32
// deliveries at once, calls with media and business data. The two ways a
// worker delivers run side by side: "sink" opens the CXone sink for each
// delivery (discovery, token, user search, new connections), "client"
// keeps one client per target for the worker's life. It reports calls/s,
// HTTP requests per call, tokens issued and PostgreSQL round trips per
// delivery. APPLINK_BENCH_CALLS sets the calls (default 2000).
func BenchmarkWorkerDeliveriesLatency(b *testing.B) {
	perOp := 2000
	if v := os.Getenv("APPLINK_BENCH_CALLS"); v != "" {
		fmt.Sscan(v, &perOp)
	}
	media := filepath.Join(b.TempDir(), "call.wav")
	if err := os.WriteFile(media, make([]byte, 16<<10), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"sink", "client"} {
		b.Run(mode, func(b *testing.B) {
			clients := workerClients(nil)
			if mode == "client" && clients == nil {
				b.Skip("this build has no long-lived CXone client")
			}
			if mode == "sink" {
				clients = nil
			}
			dsn := statetest.DSN(b)
			srv := cxonetest.New(cxonetest.Config{AccessKeyID: "AKID", AccessKeySecret: "secret-a", ClientID: "client", ClientSecret: "secret-c"})
			defer srv.Close()
			for k, v := range srv.Env() {
				b.Setenv(k, v)
			}
			api, auth := latencyProxy(b, srv.APIURL, 50*time.Millisecond), latencyProxy(b, srv.URL, 50*time.Millisecond)
			ctx := context.Background()
			st, err := pgstate.Open(ctx, dsn, "bench-"+mode, pgstate.Options{Jobs: delivery.Jobs})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			fields := []dsl.Field{{Type: dsl.TypeText, Name: "CustomerID"}, {Type: dsl.TypeNumber, Name: "OrderTotal"}}
			plan := &engine.Plan{Fields: fields, Sink: &dsl.Sink{Kind: "cxone", APIURL: api, AuthURL: auth, Concurrency: 1, RequestsPerSecond: 1e6}}
			total := b.N * perOp
			for i := range b.N {
				runID := fmt.Sprintf("r%06d", i)
				led, err := st.Begin(runID, "spec", filepath.Join(b.TempDir(), runID), nil)
				if err != nil {
					b.Fatal(err)
				}
				q := delivery.Enqueue(led, "bench-"+mode, delivery.NewTarget(plan, ""))
				sink, ledger := q.Sink(engine.Discard{}), q.Ledger(led)
				sink.Open(ctx, connector.RunInfo{Fields: fields})
				for j := range perOp {
					id := fmt.Sprintf("%s-c%d", runID, j)
					c := &connector.OutCall{CallID: id, SystemID: "engage-bench", StartTime: time.Now(), DurationMS: 60000, Direction: "in",
						Media: "call.wav", MediaFile: media, Values: []connector.Value{{Field: 0, Text: []byte("C-1")}, {Field: 1, Number: 12.5}}}
					sink.Call(ctx, c)
					if err := ledger.Row(connector.LedgerRow{Entity: "call", ID: id, State: connector.StateImported}, uint64(2*j+2), false); err != nil {
						b.Fatal(err)
					}
				}
				if err := ledger.Commit(ctx, &engine.RunRecord{RunID: runID, Started: time.Now()}); err != nil {
					b.Fatal(err)
				}
			}
			trips := &roundTrips{}
			var reqs0, tokens0 int
			n := drainQueue(b, ctx, dsn, st, 2, trips, func() delivery.Config {
				var cl func(dsl.Sink) (delivery.CallClient, error)
				if clients != nil {
					cl = workerClients(nil) // one pool of clients per worker process
				}
				return delivery.Config{Registry: registry(), Concurrency: 32, PollEvery: 100 * time.Millisecond, Clients: cl}
			}, func() { reqs0, tokens0 = len(srv.Requests()), srv.TokensIssued() })
			if got := len(srv.Calls()); got != total {
				b.Fatalf("the server holds %d calls, want %d", got, total)
			}
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "calls/s")
			b.ReportMetric(float64(len(srv.Requests())-reqs0)/float64(total), "http_requests/call")
			b.ReportMetric(float64(srv.TokensIssued()-tokens0), "tokens")
			trips.breakdown(b)
			b.ReportMetric(float64(n)/float64(total), "pg_roundtrips/delivery")
		})
	}
}

// drainQueue starts workers delivery workers, each on a pool of its own
// traced by trips and with the config worker makes (Pool and Started are
// set here), calls before (if any) once all have started, times until st's
// queue is drained, stops the workers, and returns the PostgreSQL round
// trips counted while timed.
func drainQueue(b *testing.B, ctx context.Context, dsn string, st *pgstate.Store, workers int, trips *roundTrips, worker func() delivery.Config, before func()) int64 {
	b.Helper()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, workers)
	started := make(chan struct{}, workers)
	for range workers {
		cfg, err := pgxpool.ParseConfig(dsn)
		if err != nil {
			b.Fatal(err)
		}
		cfg.ConnConfig.Tracer = trips
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer pool.Close()
		wc := worker()
		wc.Pool, wc.Started = pool, func() { started <- struct{}{} }
		go func() { done <- delivery.Run(wctx, wc) }()
	}
	for range workers {
		<-started
	}
	if before != nil {
		before()
	}
	b.ResetTimer()
	trips.n.Store(0)
	for {
		q, err := st.Queue(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if !q.Open() {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.StopTimer()
	n := trips.n.Load()
	cancel()
	for range workers {
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	return n
}
