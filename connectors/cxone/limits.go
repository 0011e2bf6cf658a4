package cxone

import (
	"context"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"golang.org/x/time/rate"
)

// Family is a group of CXone endpoints that share one rate limit: CXone
// publishes its limits per API, not in general, so each API gets its own.
type Family string

const (
	FamilyAuth           Family = "auth" // discovery and tokens: not rate limited by applink
	FamilyUserManagement Family = "user_management"
	FamilyIngestion      Family = "ingestion" // calls and their media
	FamilyBusinessData   Family = "business_data"
)

// Families are the rate-limited families, in the order they are documented.
var Families = []Family{FamilyUserManagement, FamilyIngestion, FamilyBusinessData}

// Conservative defaults per family, in requests per second, used when the
// sink block sets neither the family's rate nor requests_per_second. None
// is published (CONTRACT.md, "Rate limits"): they are assumptions, low
// enough for a tenant that shares its limits with other integrations.
const (
	DefaultUserManagementRPS = 2
	DefaultIngestionRPS      = 10
	DefaultBusinessDataRPS   = 5
)

// familyLimiter is one family's token bucket (burst 1, so requests are
// spread evenly) plus the pause a 429's Retry-After imposes on the whole
// family. The bucket is x/time/rate's; its reservations take the client's
// clock so tests can assert exact spacing.
type familyLimiter struct {
	lim  *rate.Limiter
	base float64 // the configured rate: SetShare scales from it
	now  func() time.Time

	mu    sync.Mutex
	until time.Time // paused until then (Retry-After)
}

func newFamilyLimiter(rps float64, now func() time.Time) *familyLimiter {
	return &familyLimiter{lim: rate.NewLimiter(rate.Limit(rps), 1), base: rps, now: now}
}

// share sets the rate to share of the configured one.
func (l *familyLimiter) share(share float64) {
	l.lim.SetLimitAt(l.now(), rate.Limit(l.base*share))
}

// pause holds the family for d from now (a 429's Retry-After speaks for
// the tenant, not for one request).
func (l *familyLimiter) pause(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if u := l.now().Add(d); u.After(l.until) {
		l.until = u
	}
}

// delay reserves the next slot and returns how long to wait for it.
func (l *familyLimiter) delay() time.Duration {
	now := l.now()
	l.mu.Lock()
	paused := l.until.Sub(now)
	l.mu.Unlock()
	d := l.lim.ReserveN(now, 1).DelayFrom(now)
	return max(d, paused)
}

func (l *familyLimiter) wait(ctx context.Context, sleep func(context.Context, time.Duration) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d := l.delay(); d > 0 {
		return sleep(ctx, d)
	}
	return nil
}

// newBackOff is the retry delay of one logical request (cenkalti/backoff,
// as connectors/mssql uses it): "equal jitter", delay n uniform in
// [d/2, d] with d = min(base·2^(n−1), max), so retries never bunch at
// zero and workers that failed together spread out. The library draws
// from interval·(1 ± factor): an interval of 3/4·d with a factor of 1/3
// is that range.
func newBackOff(base, maxDelay time.Duration) *backoff.ExponentialBackOff {
	return &backoff.ExponentialBackOff{InitialInterval: base * 3 / 4, RandomizationFactor: 1.0 / 3, Multiplier: 2, MaxInterval: maxDelay * 3 / 4}
}
