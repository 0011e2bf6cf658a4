package mssql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/applink-dev/applink/engine/connector"
	mssqldb "github.com/microsoft/go-mssqldb"
)

// fakePages serves pages of an in-memory, key-ordered call list the way the
// keyset queries do, failing the fetches listed in fail (by fetch number,
// 1-based) with the given error.
type fakePages struct {
	calls   []key
	limit   int
	fail    map[int]error
	fetches int
	windows []callWindow
}

func (f *fakePages) fetch(_ context.Context, w callWindow, _ *connector.Names) (*page, error) {
	f.fetches++
	f.windows = append(f.windows, w)
	if err := f.fail[f.fetches]; err != nil {
		return nil, err
	}
	p := &page{}
	for _, k := range f.calls {
		if k.t.Before(w.from) {
			continue
		}
		if w.after != nil && !after(k, *w.after) {
			continue
		}
		if len(p.calls) == f.limit {
			break
		}
		var r connector.CallRecord
		r.Call.CallID = fmt.Sprint(k.id)
		r.Call.StartTime = k.t
		p.calls = append(p.calls, r)
		p.keys = append(p.keys, k)
	}
	return p, nil
}

func after(a, b key) bool {
	if !a.t.Equal(b.t) {
		return a.t.After(b.t)
	}
	return a.id.(int64) > b.id.(int64)
}

func testCalls(n int) []key {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var out []key
	for i := range n {
		// Three calls share each second, so resuming must use call_id too.
		out = append(out, key{t: t0.Add(time.Duration(i/3) * time.Second), id: int64(1000 + i)})
	}
	return out
}

func TestResumeAfterFailedPages(t *testing.T) {
	bad := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	tests := []struct {
		name      string
		n, limit  int
		attempts  int
		fail      map[int]error
		from      time.Time
		after     string
		wantErr   string
		wantIDs   int // calls emitted
		wantFirst int64
		sleeps    int
	}{
		{name: "no failure", n: 10, limit: 3, attempts: 3, wantIDs: 10, wantFirst: 1000},
		{name: "failover mid-stream", n: 10, limit: 3, attempts: 3, fail: map[int]error{2: bad, 3: driver.ErrBadConn}, wantIDs: 10, wantFirst: 1000, sleeps: 2},
		{name: "first page fails", n: 7, limit: 3, attempts: 2, fail: map[int]error{1: io.ErrUnexpectedEOF}, wantIDs: 7, wantFirst: 1000, sleeps: 1},
		{name: "last empty page fails", n: 6, limit: 3, attempts: 2, fail: map[int]error{3: mssqldb.Error{Number: 983, Message: "not accessible"}}, wantIDs: 6, wantFirst: 1000, sleeps: 1},
		{name: "resume from engine key", n: 10, limit: 4, attempts: 1, from: time.Date(2026, 11, 1, 0, 0, 1, 0, time.UTC), after: "1004", wantIDs: 5, wantFirst: 1005},
		{name: "window only", n: 10, limit: 4, attempts: 1, from: time.Date(2026, 11, 1, 0, 0, 2, 0, time.UTC), wantIDs: 4, wantFirst: 1006},
		{name: "attempts exhausted", n: 10, limit: 3, attempts: 3, fail: map[int]error{2: bad, 3: bad, 4: bad}, wantErr: "reading calls after (2026-11-01T00:00:00Z, 1002): after 3 attempts: read tcp: connection reset by peer", wantIDs: 3, wantFirst: 1000, sleeps: 2},
		{name: "permanent error not retried", n: 10, limit: 3, attempts: 5, fail: map[int]error{1: mssqldb.Error{Number: 208, Message: "Invalid object name 'tblInteraction'."}}, wantErr: "Invalid object name", wantIDs: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakePages{calls: testCalls(tt.n), limit: tt.limit, fail: tt.fail}
			sleeps := 0
			s := &Source{label: "source t", batch: tt.limit, fetch: f.fetch,
				retry: RetryPolicy{Attempts: tt.attempts, Base: time.Millisecond, Max: 10 * time.Millisecond,
					Sleep: func(context.Context, time.Duration) error { sleeps++; return nil }}}
			var got []string
			err := s.ReadCalls(context.Background(), connector.CallQuery{From: tt.from, After: tt.after}, func(r *connector.CallRecord) error {
				got = append(got, r.Call.CallID)
				return nil
			})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.wantIDs {
				t.Fatalf("emitted %d calls %v, want %d", len(got), got, tt.wantIDs)
			}
			// Exactly once, in order, no gap.
			for i, id := range got {
				if want := fmt.Sprint(tt.wantFirst + int64(i)); id != want {
					t.Fatalf("call %d = %s, want %s (all: %v)", i, id, want, got)
				}
			}
			if sleeps != tt.sleeps {
				t.Errorf("slept %d times, want %d", sleeps, tt.sleeps)
			}
		})
	}
}

func TestEmitErrorStopsWithoutRetry(t *testing.T) {
	f := &fakePages{calls: testCalls(10), limit: 3}
	s := &Source{label: "source t", batch: 3, fetch: f.fetch, retry: RetryPolicy{Attempts: 5, Sleep: func(context.Context, time.Duration) error { return nil }}}
	stop := errors.New("sink full")
	n := 0
	err := s.ReadCalls(context.Background(), connector.CallQuery{}, func(*connector.CallRecord) error {
		n++
		if n == 4 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || f.fetches != 2 {
		t.Fatalf("err = %v after %d fetches, want the emit error after 2", err, f.fetches)
	}
}

func TestCancelDuringBackoff(t *testing.T) {
	f := &fakePages{calls: testCalls(10), limit: 3, fail: map[int]error{1: driver.ErrBadConn, 2: driver.ErrBadConn}}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Source{label: "source t", batch: 3, fetch: f.fetch, retry: RetryPolicy{Attempts: 5, Base: time.Hour, Max: time.Hour}}
	done := make(chan error, 1)
	go func() {
		done <- s.ReadCalls(ctx, connector.CallQuery{}, func(*connector.CallRecord) error { return nil })
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadCalls did not stop on cancel during backoff")
	}
}

func TestBackoffBounds(t *testing.T) {
	p := RetryPolicy{Base: 100 * time.Millisecond, Max: time.Second}
	for range 50 {
		b := p.newBackOff()
		for attempt := 1; attempt <= 60; attempt++ {
			want := min(100*time.Millisecond<<min(attempt-1, 10), time.Second)
			if d := b.NextBackOff(); d < want/2 || d > want+1 {
				t.Fatalf("delay %d = %v, want in [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{driver.ErrBadConn, true},
		{fmt.Errorf("wrapped: %w", io.EOF), true},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, true},
		{mssqldb.Error{Number: 1205}, true},
		{mssqldb.Error{Number: 976}, true},
		{mssqldb.Error{Number: 208}, false},
		{mssqldb.Error{Number: 229}, false},
		{&permanentError{io.EOF}, false},
		{errors.New("syntax"), false},
	}
	for _, tt := range tests {
		if got := retryable(tt.err); got != tt.want {
			t.Errorf("retryable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
