package serve

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DeliveryReader is a QueueDepth that also reads the whole delivery
// queue: what the status page's delivery panel and /metrics show. The
// PostgreSQL state with workers implements it (cmd wires it).
type DeliveryReader interface {
	QueueDepth
	Deliveries(ctx context.Context) (DeliveryView, error)
}

// DeliveryView is a spec's deliveries at one instant.
type DeliveryView struct {
	QueueView
	// Retrying and failed rows by reason (the last attempt's error).
	RetryReasons, FailedReasons []ReasonCount
	// Done is how many deliveries ended (imported or failed) in total: the
	// rate is its change between two reads.
	Done int64
	// Known says Done is counted (a rate can be shown).
	Known bool
}

// ReasonCount is a count of rows by reason.
type ReasonCount struct {
	Reason string
	N      int64
}

// deliveryPanel is the status page's panel.
type deliveryPanel struct {
	Queued, Delivering, Retrying, Failed int64
	Oldest                               string
	Rate                                 string
	RetryReasons, FailedReasons          []ReasonCount
	Err                                  string
}

// deliveryRate remembers the last read per spec so the page can say how
// fast deliveries end.
type deliveryRate struct {
	at   time.Time
	done int64
	rate float64
	ok   bool
}

// delivery reads the spec's deliveries for the page (nil: no queue).
func (r *specRunner) delivery(ctx context.Context, now time.Time) *deliveryPanel {
	dr, ok := r.queue.(DeliveryReader)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	v, err := dr.Deliveries(ctx)
	if err != nil {
		return &deliveryPanel{Err: err.Error()}
	}
	p := &deliveryPanel{Queued: v.Queued, Delivering: v.Delivering, Retrying: v.Retrying, Failed: v.Failed,
		RetryReasons: v.RetryReasons, FailedReasons: v.FailedReasons, Oldest: "–", Rate: "unknown"}
	if !v.Oldest.IsZero() {
		p.Oldest = humanDur(now.Sub(v.Oldest)) + " (queued " + v.Oldest.UTC().Format("2006-01-02 15:04:05 UTC") + ")"
	}
	if v.Known {
		r.mu.Lock()
		last := r.rate
		if !last.at.IsZero() && now.Sub(last.at) >= time.Second {
			r.rate = deliveryRate{at: now, done: v.Done, rate: float64(v.Done-last.done) / now.Sub(last.at).Seconds(), ok: true}
		} else if last.at.IsZero() {
			r.rate = deliveryRate{at: now, done: v.Done}
		}
		cur := r.rate
		r.mu.Unlock()
		if cur.ok {
			p.Rate = fmt.Sprintf("%.1f/s", max(0, cur.rate))
		} else {
			p.Rate = "– (shown from the next reload)"
		}
	}
	return p
}

// Reasons renders reason counts in one line, largest first.
func (p *deliveryPanel) Reasons(rs []ReasonCount) string {
	rs = append([]ReasonCount(nil), rs...)
	sort.Slice(rs, func(i, j int) bool { return rs[i].N > rs[j].N || rs[i].N == rs[j].N && rs[i].Reason < rs[j].Reason })
	var parts []string
	for _, r := range rs {
		parts = append(parts, fmt.Sprintf("%s %d", r.Reason, r.N))
	}
	return strings.Join(parts, ", ")
}

// collectDeliveries exports a spec's queue by state and the oldest age.
func collectDeliveries(ch chan<- prometheus.Metric, spec string, dr DeliveryReader, now time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	v, err := dr.Deliveries(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(queueStateDesc, err)
		return
	}
	collectQueue(ch, spec, v.QueueView, now)
}
