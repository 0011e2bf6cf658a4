package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/applink-dev/applink/connectors/cxone/cxonetest"
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/delivery"
	"github.com/applink-dev/applink/engine/state"
	"github.com/applink-dev/applink/engine/state/pgstate"
	"github.com/applink-dev/applink/engine/state/statetest"
)

// roundTrips counts the statements, batches and copies a pool sends: each
// is one round trip to PostgreSQL.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.n.Add(1)
	return ctx
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
				sink.Open(ctx, engine.RunInfo{Fields: fields})
				for j := range perOp {
					id := fmt.Sprintf("%s-c%d", runID, j)
					c := &engine.OutCall{CallID: id, SystemID: "engage-bench", StartTime: time.Now(), DurationMS: 60000, Direction: "in",
						Media: "call.wav", MediaFile: media, Values: []engine.Value{{Field: 0, Text: []byte("C-1")}, {Field: 1, Number: 12.5}}}
					sink.Call(ctx, c)
					if err := ledger.Row(engine.LedgerRow{Entity: "call", ID: id, State: engine.StateImported}, uint64(2*j+2), false); err != nil {
						b.Fatal(err)
					}
				}
				if err := ledger.Commit(ctx, &engine.Summary{RunID: runID, Started: time.Now()}); err != nil {
					b.Fatal(err)
				}
			}
			trips := &roundTrips{}
			wctx, cancel := context.WithCancel(ctx)
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
				go func() {
					done <- delivery.Run(wctx, delivery.Config{Pool: pool, Registry: registry(), Concurrency: 4, PollEvery: 100 * time.Millisecond,
						Started: func() { started <- struct{}{} }})
				}()
			}
			for range workers {
				<-started
			}
			b.ResetTimer()
			trips.n.Store(0)
			for {
				q, err := st.Queue(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if q == (state.QueueStats{}) {
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
			if got := len(srv.Calls()); got != total {
				b.Fatalf("the server holds %d calls, want %d", got, total)
			}
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "deliveries/s")
			b.ReportMetric(float64(n)/float64(total), "pg_roundtrips/delivery")
			b.ReportMetric(float64(len(srv.Requests()))/float64(total), "http_requests/delivery")
		})
	}
}
