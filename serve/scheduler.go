package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/state"
	"github.com/applink-dev/applink/engine/workspace"
)

// runner is what serve needs of a spec's working area: engine/workspace's
// Workspace (tests give a fake).
type runner interface {
	Run(ctx context.Context, progress func(engine.Progress)) (*workspace.RunResult, error)
	Runs(ctx context.Context) ([]state.RunRecord, error)
	LedgerState(ctx context.Context) (string, error)
}

// Roles of a serve process for one spec.
const (
	roleStarting = "starting"
	roleHolder   = "holder"  // holds the lock: runs the spec
	roleStandby  = "standby" // another process holds it: waits to take over
	roleStopped  = "stopped"
)

// keepRuns is how many runs a spec's status keeps (page, readiness).
const keepRuns = 10

// errLockLost cancels a run whose lock was lost.
var errLockLost = errors.New("lock lost")

// specRunner runs one spec: a single goroutine (loop) runs it, so two runs
// of one spec never overlap in a process, and the lock keeps other
// processes out.
type specRunner struct {
	name  string
	ws    runner
	every time.Duration
	lock  Lock
	queue QueueDepth
	info  SpecInfo
	// takeover advances the fencing epoch when the lock is taken.
	takeover func(ctx context.Context) error

	poll          time.Duration
	progressEvery time.Duration
	log           *slog.Logger
	m             *metrics
	now           func() time.Time

	mu   sync.Mutex
	st   status
	rate deliveryRate // the delivery panel's last read
	sink SinkCounters // the running run's sink, when it reports counters
	seen [3]int64     // what of its counters is already added
}

// status is a spec's state as the page and /readyz show it.
type status struct {
	Role      string
	Holder    string // who holds the lock, on a standby
	LockErr   string // the lock could not be asked for
	StateErr  string // the state could not be opened (in use, unreadable)
	Running   bool
	RunSince  time.Time
	Progress  engine.Progress
	Next      time.Time
	Since     time.Time  // of the current role
	Runs      []*runView // newest first
	Committed *runView   // the last committed run, by anyone
}

func (r *specRunner) snapshot() status {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.st
	st.Runs = append([]*runView(nil), r.st.Runs...)
	return st
}

func (r *specRunner) update(f func(*status)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.st)
}

func (r *specRunner) newestImported() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.st.Committed; c != nil {
		return c.NewestImported
	}
	return time.Time{}
}

// loop runs the spec until ctx ends: take the lock (or wait as a standby),
// run on the schedule, stop when the lock is lost.
func (r *specRunner) loop(ctx context.Context) {
	defer func() {
		if err := r.lock.Unlock(); err != nil {
			r.log.Warn("lock release failed; it is released when this process exits", "spec", r.name, "lock", r.lock.String(), "err", err)
		}
		r.m.holder.WithLabelValues(r.name).Set(0)
		r.update(func(s *status) { s.Role, s.Running = roleStopped, false })
	}()
	held := false
	var lost <-chan struct{}
	for ctx.Err() == nil {
		if !held {
			if held = r.acquire(ctx); !held {
				sleep(ctx, r.poll)
				continue
			}
			lost = r.lock.Lost()
		}
		next := r.snapshot().Next
		timer := time.NewTimer(max(0, next.Sub(r.now())))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-lost:
			timer.Stop()
			held = false
			r.lockLost()
			continue
		case <-timer.C:
		}
		if !r.runOnce(ctx, lost) {
			held = false
			r.lockLost()
		}
	}
}

// acquire tries the lock once; on success it reads the state's history
// (what the previous holder did) and schedules the first run.
func (r *specRunner) acquire(ctx context.Context) bool {
	ok, err := r.lock.TryLock(ctx)
	prev := r.snapshot()
	if err != nil {
		if prev.LockErr != err.Error() {
			r.log.Error("cannot ask for the spec's lock; retrying", "spec", r.name, "lock", r.lock.String(), "err", err, "retry_every", r.poll)
		}
		r.update(func(s *status) {
			if s.Role != roleStandby {
				s.Since = r.now()
			}
			s.Role, s.LockErr = roleStandby, err.Error()
		})
		r.m.holder.WithLabelValues(r.name).Set(0)
		return false
	}
	if !ok {
		holder := r.lock.Holder(ctx)
		if prev.Role != roleStandby || prev.Holder != holder || prev.LockErr != "" {
			r.log.Info("standby: another process runs this spec; taking over when it stops", "spec", r.name,
				"lock", r.lock.String(), "holder", holder, "poll", r.poll)
		}
		r.update(func(s *status) {
			if s.Role != roleStandby {
				s.Since = r.now()
			}
			s.Role, s.Holder, s.LockErr = roleStandby, holder, ""
		})
		r.m.holder.WithLabelValues(r.name).Set(0)
		return false
	}
	if r.takeover != nil {
		if err := r.takeover(ctx); err != nil {
			r.log.Error("took the lock but could not record the takeover in the state; giving the lock back and retrying", "spec", r.name,
				"lock", r.lock.String(), "err", err, "retry_every", r.poll)
			if uerr := r.lock.Unlock(); uerr != nil {
				r.log.Warn("lock release failed", "spec", r.name, "err", uerr)
			}
			r.update(func(s *status) { s.Role, s.StateErr = roleStandby, err.Error() })
			return false
		}
	}
	msg := "lock taken: this process runs the spec"
	if prev.Role == roleStandby {
		msg = "took over: the previous holder stopped; this process runs the spec"
	}
	next := r.now()
	if prev.Role == roleStandby && r.lock.Lost() != nil {
		// A lock that can be lost may have been taken from a holder that is
		// alive but cut off (PostgreSQL restarted, a network split): it
		// notices within two polls (a ping every poll, timing out after one)
		// and stops at its next batch boundary. Wait that long first.
		next = next.Add(r.takeoverGrace())
		msg += fmt.Sprintf(" after %s, so that a previous holder cut off from the lock has stopped", r.takeoverGrace())
	}
	r.loadHistory(ctx)
	if c := r.snapshot().Committed; c != nil && c.Started.Add(r.every).After(next) {
		next = c.Started.Add(r.every) // keep the schedule across restarts and takeovers
	}
	r.update(func(s *status) {
		s.Role, s.Holder, s.LockErr, s.Next, s.Since = roleHolder, "", "", next, r.now()
	})
	r.m.holder.WithLabelValues(r.name).Set(1)
	r.log.Info(msg, "spec", r.name, "lock", r.lock.String(), "every", r.every, "next_run", next.UTC().Format(time.RFC3339))
	return true
}

// takeoverGrace is how long a holder cut off from its lock may still run:
// two polls and a margin for its batch to end.
func (r *specRunner) takeoverGrace() time.Duration { return 2*r.poll + time.Second }

// loadHistory reads the runs committed so far (by any process) from the
// state, newest last, into the status.
func (r *specRunner) loadHistory(ctx context.Context) {
	recs, err := r.ws.Runs(ctx)
	if err != nil {
		r.log.Warn("cannot read the run history from the state", "spec", r.name, "err", err)
		r.update(func(s *status) { s.StateErr = err.Error() })
		return
	}
	var views []*runView
	for _, rec := range recs {
		if v, ok := viewOfRecord(rec); ok {
			views = append(views, v)
		}
	}
	r.update(func(s *status) {
		s.StateErr = ""
		// Merge: this process's own attempts that did not commit stay.
		seen := map[string]bool{}
		var merged []*runView
		for i := len(views) - 1; i >= 0 && len(merged) < keepRuns; i-- {
			merged = append(merged, views[i])
			seen[views[i].RunID] = true
		}
		for _, v := range s.Runs {
			if !v.FromState && !v.Committed() && !seen[v.RunID] {
				merged = append(merged, v)
			}
		}
		sortRuns(merged)
		s.Runs = merged[:min(len(merged), keepRuns)]
		if len(views) > 0 {
			s.Committed = views[len(views)-1]
		}
	})
	if len(views) > 0 {
		r.m.setLastCommitted(r.name, views[len(views)-1])
	}
}

func sortRuns(runs []*runView) {
	for i := 1; i < len(runs); i++ {
		for j := i; j > 0 && runs[j].Started.After(runs[j-1].Started); j-- {
			runs[j], runs[j-1] = runs[j-1], runs[j]
		}
	}
}

func (r *specRunner) lockLost() {
	r.log.Error("lock lost: its connection died, so another process may take this spec over; stopped running it and waiting as a standby",
		"spec", r.name, "lock", r.lock.String())
	r.update(func(s *status) { s.Role, s.Since, s.Running = roleStandby, r.now(), false })
	r.m.holder.WithLabelValues(r.name).Set(0)
}

// runOnce runs the spec once and schedules the next run. It returns false
// when the lock was lost during the run.
func (r *specRunner) runOnce(ctx context.Context, lost <-chan struct{}) bool {
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	lockLost := false
	if lost != nil {
		watchDone := make(chan struct{})
		defer close(watchDone)
		go func() {
			select {
			case <-lost:
				cancel(errLockLost)
			case <-watchDone:
			}
		}()
	}
	started := r.now()
	r.update(func(s *status) { s.Running, s.RunSince, s.Progress = true, started, engine.Progress{} })
	r.m.running.WithLabelValues(r.name).Set(1)
	r.log.Info("run started", "spec", r.name)
	lastLog := started
	res, err := r.ws.Run(runCtx, func(p engine.Progress) {
		r.update(func(s *status) { s.Progress = p })
		r.flushSink()
		if now := r.now(); now.Sub(lastLog) >= r.progressEvery {
			lastLog = now
			r.log.Info("run progress", "spec", r.name, "phase", p.Phase, "agents", p.Agents, "calls_read", p.Calls,
				"calls_sent", p.Imported, "elapsed", p.Elapsed.Round(time.Second))
		}
	})
	ended := r.now()
	r.flushSink()
	r.mu.Lock()
	r.sink = nil
	r.mu.Unlock()
	r.m.running.WithLabelValues(r.name).Set(0)
	var sum *engine.RunRecord
	if res != nil {
		sum = res.Summary
	}
	interrupted := runCtx.Err() != nil
	lockLost = errors.Is(context.Cause(runCtx), errLockLost)
	v := viewOf(started, ended, sum, err, interrupted)
	r.record(v)
	r.logRun(v, res, err, lockLost)

	next := started.Add(r.every)
	if v.Outcome == OutcomeBusy {
		next = ended.Add(min(r.every, r.poll))
	}
	if next.Before(ended) && v.Outcome != OutcomeBusy {
		r.log.Warn("the run took longer than the schedule's interval; the next one starts now", "spec", r.name,
			"took", ended.Sub(started).Round(time.Millisecond), "every", r.every)
		next = ended
	}
	r.update(func(s *status) { s.Running, s.Next = false, next })
	if errors.Is(err, state.ErrFenced) {
		// Another process took the spec over (its epoch is newer): this
		// one lost the lock without noticing yet. Nothing was committed;
		// give the lock up and stand by.
		r.log.Error("fenced: another process took this spec over while the run worked; nothing of the run was committed; standing by",
			"spec", r.name, "err", err)
		if uerr := r.lock.Unlock(); uerr != nil {
			r.log.Warn("lock release failed", "spec", r.name, "err", uerr)
		}
		return false
	}
	return !lockLost
}

// record adds a run to the status and the metrics.
func (r *specRunner) record(v *runView) {
	r.m.runs.WithLabelValues(r.name, v.Outcome).Inc()
	if v.Outcome != OutcomeBusy {
		r.m.duration.WithLabelValues(r.name).Observe(v.Duration().Seconds())
	}
	if v.Committed() {
		r.m.setLastCommitted(r.name, v)
		r.m.sent.WithLabelValues(r.name, "agent").Add(float64(v.SentAgents))
		r.m.sent.WithLabelValues(r.name, "call").Add(float64(v.SentCalls))
	}
	r.update(func(s *status) {
		s.Runs = append([]*runView{v}, s.Runs...)
		s.Runs = s.Runs[:min(len(s.Runs), keepRuns)]
		if v.Committed() {
			s.Committed = v
		}
		switch v.Outcome {
		case OutcomeBusy:
			s.StateErr = v.Err
		case OutcomeOK, OutcomeAttention:
			s.StateErr = ""
		}
	})
}

// logRun writes the run's summary as one line; an interrupted run also
// says what the state holds now.
func (r *specRunner) logRun(v *runView, res *workspace.RunResult, err error, lockLost bool) {
	attrs := []any{"spec", r.name, "outcome", v.Outcome, "run_id", v.RunID, "elapsed", v.Duration().Round(time.Millisecond)}
	if v.Committed() {
		attrs = append(attrs,
			slog.Group("agents", "total", v.Agents.Total, "imported", v.Agents.Imported, "excluded", v.Agents.Excluded, "failed", v.Agents.Failed),
			slog.Group("calls", "total", v.Calls.Total, "imported", v.Calls.Imported, "queued", v.Calls.Queued, "excluded", v.Calls.Excluded, "failed", v.Calls.Failed),
			slog.Group("sent", "agents", v.SentAgents, "calls", v.SentCalls),
			"source_rows", v.SourceRows,
			"excluded_by", reasons(v.Rows, connector.StateExcluded),
			slog.Group("problems", "failed", v.Problems.Failed, "unreadable", v.Problems.Unreadable, "bd_without_call", v.Problems.BDWithoutCall),
		)
		if f := reasons(v.Rows, connector.StateFailed); f != "" {
			attrs = append(attrs, "failed_by", f)
		}
		if !v.NewestImported.IsZero() {
			attrs = append(attrs, "newest_imported", v.NewestImported.UTC().Format(time.RFC3339), "lag", r.now().Sub(v.NewestImported).Round(time.Second))
		}
		if res != nil {
			attrs = append(attrs, "sent_to", res.Where)
			if res.Staged {
				attrs = append(attrs, "staged", res.StageDir)
			}
			if len(res.Pruned) > 0 {
				attrs = append(attrs, "staging_pruned", len(res.Pruned))
			}
		}
	}
	if err != nil {
		attrs = append(attrs, "err", err.Error())
	}
	switch v.Outcome {
	case OutcomeOK:
		r.log.Info("run finished", attrs...)
	case OutcomeAttention:
		r.log.Warn("run finished; rows need attention (see applink report)", attrs...)
	case OutcomeBusy:
		r.log.Warn("run not started: the state is in use by another applink process (applink run or tui on this folder?); retrying", append(attrs, "retry_in", min(r.every, r.poll))...)
	case OutcomeInterrupted:
		why := "shutdown"
		if lockLost {
			why = "lock lost"
		}
		// The state is read with a fresh context: the run's is cancelled.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		st, serr := r.ws.LedgerState(ctx)
		cancel()
		if serr != nil {
			st = "could not be read: " + serr.Error()
		}
		r.log.Warn("run interrupted at a batch boundary; nothing of it was committed and the state is consistent: the next run resends what it had sent",
			append(attrs, "why", why, "state", st)...)
	default:
		r.log.Error("run failed; nothing was committed; the next run retries", attrs...)
	}
}

// reasons renders a state's reasons as "reason:n,…" for the log line.
func reasons(rows []rowCount, st string) string {
	var parts []string
	for _, r := range rows {
		if r.State == st {
			reason := r.Reason
			if reason == "" {
				reason = "-"
			}
			parts = append(parts, fmt.Sprintf("%s/%s:%d", r.Entity, reason, r.N))
		}
	}
	return strings.Join(parts, ",")
}

// sinkOpened is workspace's SinkOpened hook: keep a sink that reports
// counters, to read them during the run.
func (r *specRunner) sinkOpened(s connector.Sink) {
	c, ok := s.(SinkCounters)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sink, r.seen = nil, [3]int64{}
	if ok {
		r.sink = c
	}
}

// flushSink adds what the sink counted since the last flush.
func (r *specRunner) flushSink() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sink == nil {
		return
	}
	req, retry, fail := r.sink.SinkCounters()
	now := [3]int64{req, retry, fail}
	for i, c := range []interface{ Add(float64) }{
		r.m.sinkReq.WithLabelValues(r.name), r.m.sinkRetry.WithLabelValues(r.name), r.m.sinkFail.WithLabelValues(r.name),
	} {
		if d := now[i] - r.seen[i]; d > 0 {
			c.Add(float64(d))
		}
	}
	r.seen = now
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
