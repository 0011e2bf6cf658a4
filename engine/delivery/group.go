package delivery

import (
	"context"
	"errors"
	"time"
)

// group is a group commit: concurrent callers hand it one item each, and
// one goroutine runs fn over every item waiting at that moment, so N
// deliveries finishing together cost one round trip, not N. It adds no
// latency: the first item of an idle group runs at once, and what arrives
// while a batch runs forms the next batch.
type group[T, R any] struct {
	ch  chan *groupItem[T, R]
	fn  func(ctx context.Context, items []T) ([]R, []error)
	max int
	// linger is how long a batch waits for more items once it has one
	// (at most until it holds max): deliveries that take a network round
	// trip end spread out, and a few milliseconds gather several of them
	// into one PostgreSQL round trip.
	linger time.Duration
}

type groupItem[T, R any] struct {
	v    T
	res  R
	err  error
	done chan struct{}
}

var errGroupStopped = errors.New("delivery: the batch writer stopped")

func newGroup[T, R any](max int, linger time.Duration, fn func(ctx context.Context, items []T) ([]R, []error)) *group[T, R] {
	return &group[T, R]{ch: make(chan *groupItem[T, R], max), fn: fn, max: max, linger: linger}
}

// run works batches until ctx is done.
func (g *group[T, R]) run(ctx context.Context) {
	batch := make([]*groupItem[T, R], 0, g.max)
	vals := make([]T, 0, g.max)
	for {
		batch, vals = batch[:0], vals[:0]
		select {
		case <-ctx.Done():
			return
		case it := <-g.ch:
			batch = append(batch, it)
		}
		var timer *time.Timer
		var wait <-chan time.Time
		if g.linger > 0 {
			timer = time.NewTimer(g.linger)
			wait = timer.C
		}
	drain:
		for len(batch) < g.max {
			if wait == nil {
				select {
				case it := <-g.ch:
					batch = append(batch, it)
				default:
					break drain
				}
				continue
			}
			select {
			case it := <-g.ch:
				batch = append(batch, it)
			case <-wait:
				break drain
			case <-ctx.Done():
				break drain
			}
		}
		if timer != nil {
			timer.Stop()
		}
		for _, it := range batch {
			vals = append(vals, it.v)
		}
		res, errs := g.fn(ctx, vals)
		for i, it := range batch {
			if i < len(res) {
				it.res = res[i]
			}
			if i < len(errs) {
				it.err = errs[i]
			}
			close(it.done)
		}
	}
}

// do hands v to the next batch and waits for its result.
func (g *group[T, R]) do(ctx context.Context, v T) (R, error) {
	it := &groupItem[T, R]{v: v, done: make(chan struct{})}
	var zero R
	select {
	case g.ch <- it:
	case <-ctx.Done():
		return zero, ctx.Err()
	}
	// Once handed over, wait for the batch whatever ctx says: the batch may
	// commit it, and the caller must know.
	<-it.done
	return it.res, it.err
}

// errsFor is n copies of err (a batch that failed as a whole).
func errsFor(n int, err error) []error {
	out := make([]error, n)
	for i := range out {
		out[i] = err
	}
	return out
}
