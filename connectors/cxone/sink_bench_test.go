package cxone

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/applink-dev/applink/connectors/cxone/cxonetest"
	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
)

// BenchmarkCalls sends b.N calls (metadata, ~1 KiB media, three business-data
// fields: three requests each) to the local fake tenant. The rate limit is
// lifted so the figure is the sink's and the loopback's, not the limiter's.
func BenchmarkCalls(b *testing.B) {
	for _, conc := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			srv := cxonetest.New(cxonetest.Config{MaxBody: 256})
			defer srv.Close()
			s, err := New(dsl.Sink{Kind: "cxone", APIURL: srv.APIURL, AuthURL: srv.URL, Concurrency: conc, RequestsPerSecond: 1e9, Timeout: 10 * time.Second},
				Options{Getenv: srv.Getenv, Log: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			var failed atomic.Int64
			ctx := context.Background()
			if err := s.Open(ctx, connector.RunInfo{Fields: testFields, Fail: func(_, _ string, _ connector.Failure) { failed.Add(1) }}); err != nil {
				b.Fatal(err)
			}
			dir := b.TempDir()
			proto := testCall(b, dir, 1001) // media and values
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				c := *proto
				c.CallID = fmt.Sprintf("call-%d", i)
				if err := s.Call(ctx, &c); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.Commit(ctx); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if failed.Load() != 0 || s.Stats().CallsAcked != int64(b.N) {
				b.Fatalf("failed %d, acked %d of %d", failed.Load(), s.Stats().CallsAcked, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkAgents syncs b.N new agents (a search and a registration each)
// and then the same agents again, renamed (a search, a read and an update
// each), against the local fake tenant, at concurrency 1 as the engine
// sends agents.
func BenchmarkAgents(b *testing.B) {
	srv := cxonetest.New(cxonetest.Config{MaxBody: 256})
	defer srv.Close()
	s, err := New(dsl.Sink{Kind: "cxone", APIURL: srv.APIURL, AuthURL: srv.URL, RequestsPerSecond: 1e9, Timeout: 10 * time.Second},
		Options{Getenv: srv.Getenv, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	var failed atomic.Int64
	ctx := context.Background()
	if err := s.Open(ctx, connector.RunInfo{Fields: testFields, Fail: func(_, _ string, _ connector.Failure) { failed.Add(1) }}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for pass, last := range []string{"Smith", "Smythe"} {
		for i := range b.N {
			a := &connector.OutAgent{UserID: fmt.Sprint(i), FirstName: "Agent", LastName: last, Email: fmt.Sprintf("agent%d@acme.example", i), AgentIDs: []string{fmt.Sprint(1000 + i)}}
			if err := s.Agent(ctx, a); err != nil {
				b.Fatalf("pass %d: %v", pass, err)
			}
		}
	}
	b.StopTimer()
	if err := s.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	if st := s.Stats(); failed.Load() != 0 || st.AgentsCreated != int64(b.N) || st.AgentsUpdated != int64(b.N) {
		b.Fatalf("failed %d, stats %+v", failed.Load(), st)
	}
	b.ReportMetric(float64(2*b.N)/b.Elapsed().Seconds(), "agents/s")
}

// BenchmarkWorkerClient64x50ms is issue 19's delivery figure for the
// client alone: 64 deliveries in flight through one shared client against
// a receiver that answers every API request after 50 ms. The bound is
// 64 / (3 requests × 50 ms) = 427 calls/s.
func BenchmarkWorkerClient64x50ms(b *testing.B) {
	srv := cxonetest.New(cxonetest.Config{MaxBody: 256, Faults: func(int, *http.Request) cxonetest.Fault {
		return cxonetest.Fault{Kind: cxonetest.Slow, Delay: 50 * time.Millisecond}
	}})
	defer srv.Close()
	agent := srv.AddUser(cxonetest.User{FirstName: "A", LastName: "B", EmailAddress: "a@b.example", Role: "Agent"})
	c, err := NewClient(dsl.Sink{Kind: "cxone", APIURL: srv.APIURL, AuthURL: srv.URL, Concurrency: 64, RequestsPerSecond: 1e9, Timeout: 10 * time.Second},
		Options{Getenv: srv.Getenv, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Connect(ctx); err != nil {
		b.Fatal(err)
	}
	proto := testCall(b, b.TempDir(), 1001) // media and values
	var next atomic.Int64
	b.SetParallelism(64) // × GOMAXPROCS goroutines; capped below by the semaphore
	sem := make(chan struct{}, 64)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			sem <- struct{}{}
			call := *proto
			call.CallID = fmt.Sprintf("call-%d", next.Add(1))
			if _, err := c.DeliverCall(ctx, &call, testFields, agent.ID); err != nil {
				b.Error(err)
			}
			<-sem
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	b.ReportMetric(float64(len(srv.Requests()))/float64(b.N), "requests/call")
	b.ReportMetric(float64(srv.TokensIssued()), "tokens")
}
