package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/state"
)

// RestoreResult is what Restore resent.
type RestoreResult struct {
	FromRun       string
	RestoreID     string
	Where         string
	Agents, Calls int
	Missing       []string // asked-for call ids not in the staged run
}

// Restore resends a staged run (runID, or "latest") to the spec's sink:
// every row it staged, or only the given calls (then agents are not resent).
// The restore is recorded in the run history. A call id not in the staged
// run is reported in Missing; the rest is still resent.
func (w *Workspace) Restore(ctx context.Context, runID string, calls []string) (*RestoreResult, error) {
	if w.Registry.Staging == nil {
		return nil, errors.New("no staging connector in this build")
	}
	st, err := w.OpenState(ctx)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	staged, err := FindStaged(ctx, st, runID)
	if err != nil {
		return nil, err
	}
	keep := idSet(calls)
	started := w.now()
	res := &RestoreResult{FromRun: staged.RunID, RestoreID: "restore-" + started.UTC().Format("20060102T150405.000000Z")}
	sink, where, err := w.Target(nil)
	if err != nil {
		return nil, err
	}
	res.Where = where
	var mu sync.Mutex // a sink reports failures from its own goroutines
	fails := map[string]string{}
	info := connector.RunInfo{RunID: res.RestoreID, PlanHash: w.Plan.Hash(), Fields: w.Plan.Fields,
		Fail: func(entity, id string, f connector.Failure) {
			mu.Lock()
			defer mu.Unlock()
			fails[entity+" "+id] = f.Error()
		}}
	if err := sink.Open(ctx, info); err != nil {
		return nil, fmt.Errorf("open sink: %w", err)
	}
	var filter func(string) bool
	if keep != nil {
		filter = func(id string) bool { return keep[id] }
	}
	found := map[string]bool{}
	err = w.Registry.Staging.Read(staged.Path, w.Plan.Fields, filter, func(s connector.StagedRow) error {
		switch {
		case s.Agent != nil:
			if keep != nil {
				return nil // restoring chosen calls resends only those
			}
			res.Agents++
			return sink.Agent(ctx, s.Agent)
		case s.Call != nil:
			res.Calls++
			found[s.Call.CallID] = true
			s.Call.SystemID = w.Plan.SystemID
			return sink.Call(ctx, s.Call)
		default:
			if s.Ledger.Entity == "agent" && keep != nil {
				return nil
			}
			return sink.Ledger(ctx, *s.Ledger)
		}
	})
	if err == nil {
		err = sink.Commit(ctx)
	}
	if err != nil {
		_ = sink.Abort()
		return nil, err
	}
	for _, id := range calls {
		if !found[id] {
			res.Missing = append(res.Missing, id)
		}
	}
	detail := &engine.EventRecord{FromRun: staged.RunID, Agents: res.Agents, Calls: res.Calls, Missing: res.Missing}
	mu.Lock()
	defer mu.Unlock()
	if len(fails) > 0 {
		detail.Failed = fails
	}
	if err := st.RecordEvent(ctx, "restore", res.RestoreID, started, detail); err != nil {
		return res, err
	}
	if len(fails) > 0 {
		return res, fmt.Errorf("the sink refused %d restored rows (recorded in the run history)", len(fails))
	}
	return res, nil
}

// FindStaged finds a staged run by id ("latest": the newest not purged) and
// checks its data is still there.
func FindStaged(ctx context.Context, st state.Backend, runID string) (state.StagedRun, error) {
	runs, err := st.Staging(ctx)
	if err != nil {
		return state.StagedRun{}, err
	}
	if runID == "latest" {
		for i := len(runs) - 1; i >= 0; i-- {
			if runs[i].PurgedAt == nil {
				runID = runs[i].RunID
				break
			}
		}
		if runID == "latest" && len(runs) > 0 {
			runID = runs[len(runs)-1].RunID // all purged: say so below
		}
	}
	for _, r := range runs {
		if r.RunID != runID {
			continue
		}
		if r.PurgedAt != nil {
			return r, fmt.Errorf("run %s's staged data was purged on %s", runID, r.PurgedAt.UTC().Format(time.RFC3339))
		}
		if _, err := os.Stat(r.Path); err != nil {
			return r, fmt.Errorf("run %s's staged data is missing: %w", runID, err)
		}
		return r, nil
	}
	var ids []string
	for _, r := range runs {
		if r.PurgedAt == nil {
			ids = append(ids, r.RunID)
		}
	}
	if len(ids) == 0 {
		return state.StagedRun{}, fmt.Errorf("no staged run %q: nothing is staged", runID)
	}
	return state.StagedRun{}, fmt.Errorf("no staged run %q; staged runs: %s", runID, strings.Join(ids, ", "))
}

// PurgeRequest says what to delete from staging: exactly one of Before,
// Calls, All.
type PurgeRequest struct {
	Before time.Time // runs staged before this instant
	Calls  []string  // these calls, from every staged run (a data-protection request)
	All    bool
}

// PurgeResult is what Purge deleted.
type PurgeResult struct {
	Runs        []string // runs whose staged data was deleted
	RemovedRows int      // with Calls: staged rows removed
}

// Purge deletes staged data and records it in the run history. It needs no
// plan (a data-protection request must work when the spec does not validate).
func (w *Workspace) Purge(ctx context.Context, req PurgeRequest) (*PurgeResult, error) {
	n := 0
	for _, set := range []bool{!req.Before.IsZero(), len(req.Calls) > 0, req.All} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, errors.New("purge: give exactly one of before, calls, all")
	}
	if len(req.Calls) > 0 && w.Registry.Staging == nil {
		return nil, errors.New("no staging connector in this build")
	}
	st, err := w.OpenState(ctx)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	runs, err := st.Staging(ctx)
	if err != nil {
		return nil, err
	}
	started := w.now()
	res := &PurgeResult{}
	detail := &engine.EventRecord{}
	switch {
	case len(req.Calls) > 0:
		set := idSet(req.Calls)
		for _, r := range runs {
			if r.PurgedAt != nil {
				continue
			}
			k, err := w.Registry.Staging.RemoveCalls(r.Path, set)
			if err != nil {
				return res, fmt.Errorf("run %s: %w", r.RunID, err)
			}
			res.RemovedRows += k
		}
		detail.CallIDs, detail.RemovedRows = req.Calls, res.RemovedRows
	default:
		for _, r := range runs {
			if r.PurgedAt != nil || (!req.All && !r.Created.Before(req.Before)) {
				continue
			}
			if err := st.PurgeRun(ctx, r, started); err != nil {
				return res, err
			}
			res.Runs = append(res.Runs, r.RunID)
		}
		detail.Runs = res.Runs
		if req.All {
			detail.All = true
		} else {
			detail.Before = req.Before
		}
	}
	if err := st.RecordEvent(ctx, "purge", "purge-"+started.UTC().Format("20060102T150405.000000Z"), started, detail); err != nil {
		return res, err
	}
	return res, nil
}

// idSet is a set of ids; nil for an empty list (no filter).
func idSet(ids []string) map[string]bool {
	if len(ids) == 0 {
		return nil
	}
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	return set
}
