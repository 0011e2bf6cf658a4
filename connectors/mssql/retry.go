package mssql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v5"
	mssqldb "github.com/microsoft/go-mssqldb"
)

// RetryPolicy bounds the retries of a page that failed to load.
type RetryPolicy struct {
	Attempts int           // tries in all, the first included
	Base     time.Duration // backoff before the second try; doubles each time
	Max      time.Duration // cap of one backoff
	// Sleep waits d or until ctx ends; nil means a timer. Tests make it instant.
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultRetry rides out an Always On failover, which typically takes 10 to
// 30 seconds: 8 tries with backoff 0.5 s, 1 s, 2 s … capped at 15 s, jittered
// (about a minute in all).
var DefaultRetry = RetryPolicy{Attempts: 8, Base: 500 * time.Millisecond, Max: 15 * time.Second}

// newBackOff is the delay between tries (cenkalti/backoff, as
// connectors/cxone uses it): try n waits uniformly in [d/2, d],
// d = min(Max, Base·2^(n−1)), so sources reconnecting after one failover
// do not hit it in lockstep. The library draws from interval·(1 ± factor):
// an interval of 3/4·d with a factor of 1/3 is that range.
func (p RetryPolicy) newBackOff() *backoff.ExponentialBackOff {
	return &backoff.ExponentialBackOff{InitialInterval: p.Base * 3 / 4, RandomizationFactor: 1.0 / 3, Multiplier: 2, MaxInterval: p.Max * 3 / 4}
}

func (p RetryPolicy) sleep(ctx context.Context, d time.Duration) error {
	if p.Sleep != nil {
		return p.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// withRetry runs f until it succeeds, fails with an error that a retry
// cannot fix, or the attempts are used up.
func withRetry[T any](ctx context.Context, p RetryPolicy, f func(context.Context) (T, error)) (T, error) {
	attempts := max(p.Attempts, 1)
	bo := p.newBackOff()
	for n := 1; ; n++ {
		v, err := f(ctx)
		if err == nil {
			return v, nil
		}
		if ctx.Err() != nil {
			return v, ctx.Err()
		}
		if n >= attempts || !retryable(err) {
			if n > 1 {
				return v, fmt.Errorf("after %d attempts: %w", n, err)
			}
			return v, err
		}
		if err := p.sleep(ctx, bo.NextBackOff()); err != nil {
			return v, err
		}
	}
}

// permanentError marks an error about the data, which no retry changes.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Server error numbers worth a retry: failover and transient states.
var transientNumbers = map[int32]bool{
	-2: true, 233: true, 1205: true, // timeout, connection ended, deadlock victim
	976: true, 978: true, 983: true, 4060: true, // AG database not accessible / changing role
	10053: true, 10054: true, 10060: true, 10928: true, 10929: true,
	40143: true, 40197: true, 40501: true, 40613: true, 49918: true, 49919: true, 49920: true,
}

// retryable says whether a failed page might load on a new connection.
func retryable(err error) bool {
	var perm *permanentError
	if errors.As(err, &perm) {
		return false
	}
	var se mssqldb.Error
	if errors.As(err, &se) {
		return transientNumbers[se.Number]
	}
	var stream mssqldb.StreamError
	var netErr net.Error
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, context.DeadlineExceeded), // our per-query timeout, the caller's ctx is checked first
		errors.As(err, &stream), errors.As(err, &netErr):
		return true
	}
	return false
}
