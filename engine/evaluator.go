package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/expr-lang/expr/vm"
	"github.com/zeebo/xxh3"
)

// evaluator applies the call rules and the field mapping. It runs on one
// goroutine and reuses everything it touches per call.
type evaluator struct {
	plan      *Plan
	sum       *RunRecord
	prior     Prior
	queue     bool // Options.Queue
	cur       *rec // the record being evaluated, for the message of a panic
	agents    *agentIndex
	names     []*connector.Names
	media     []connector.MediaResolver
	locators  []connector.MediaLocator // by source; nil entries: no media check
	ctx       context.Context
	multiSite bool
	dedup     siteDedup     // calls read at an earlier site, only with several sites
	wms       []Watermark   // by source index
	days      map[int64]int // imported calls by UTC day number since 1970

	machine  vm.VM
	env      dsl.CallEnv
	tenantVM vm.VM
	tenantC  map[int64]bool
	bdMap    map[string]string
	bdMapOK  bool
	filterBD bool // the calls filter reads bd: build the map for it

	// per-source: business-data name id -> field slots, and the current call's
	// value index by name id (valid when gen matches).
	fieldIDs [][]int32
	at       [][]int32
	gen      [][]uint32
	curGen   uint32

	omitted []omission // fields left out of the current call (on_error = omit)
	valued  []int      // by field: the calls that passed the mapping with a value for it
	facts   callFacts
	b       *batch
	r       *rec
	hashBuf []byte
}

// omission is a field left out of a call, and why.
type omission struct {
	field int
	err   error
}

func newEvaluator(plan *Plan, sum *RunRecord, prior Prior) (*evaluator, error) {
	ev := &evaluator{plan: plan, sum: sum, prior: prior, tenantC: map[int64]bool{}, bdMap: map[string]string{}, days: map[int64]int{}}
	if plan.Calls != nil {
		ev.filterBD = plan.Calls.ReadsBD
	}
	ev.facts.windowFrom = plan.Window.From
	ev.facts.callFilter = ev.callFilter
	ev.facts.mapping = ev.mapFields
	ev.valued = make([]int, len(plan.Fields))
	return ev, nil
}

// tenantOK runs the tenant filter, once per distinct tenant id. Its error
// names the filter's place in the spec.
func (ev *evaluator) tenantOK(id int64) (bool, error) {
	if ev.plan.Tenant == nil {
		return true, nil
	}
	if ok, hit := ev.tenantC[id]; hit {
		return ok, nil
	}
	out, err := ev.tenantVM.Run(ev.plan.Tenant.Program, &dsl.TenantEnv{TenantID: id})
	if err != nil {
		return false, ev.plan.Tenant.RunError(err)
	}
	ok, _ := out.(bool)
	ev.tenantC[id] = ok
	return ok, nil
}

func (ev *evaluator) evalBatch(b *batch) {
	ev.b = b
	for i := range b.n {
		ev.cur = &b.recs[i] // for the message of a panic
		ev.evalOne(b, ev.cur)
	}
	ev.cur = nil
	if b.src < len(ev.locators) && ev.locators[b.src] != nil {
		ev.locateMedia(b, ev.locators[b.src])
	}
}

type mediaPanic struct {
	rec   *rec
	value any
}

// mediaWorkers bounds the media files located at once: opening a file on a
// NAS costs a round trip, so a batch's files are opened concurrently.
const mediaWorkers = 16

// locateMedia settles the batch's imported calls of a MediaLocator source:
// a call whose media cannot be read is failed (media_unreadable), never
// sent without it.
func (ev *evaluator) locateMedia(b *batch, loc connector.MediaLocator) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var panicked atomic.Pointer[mediaPanic]
	for range mediaWorkers {
		wg.Go(func() {
			i := -1
			defer func() {
				// A connector's panic is re-raised on the evaluator's
				// goroutine, whose recover names the call.
				if p := recover(); p != nil {
					panicked.CompareAndSwap(nil, &mediaPanic{rec: &b.recs[i], value: p})
				}
			}()
			for {
				i = int(next.Add(1) - 1)
				if i >= b.n {
					return
				}
				if r := &b.recs[i]; r.locate {
					r.mediaFile, r.mediaErr = loc.LocateMedia(ev.ctx, r.call.MediaPath)
				}
			}
		})
	}
	wg.Wait()
	if p := panicked.Load(); p != nil {
		ev.cur = p.rec
		panic(p.value)
	}
	for i := range b.n {
		r := &b.recs[i]
		if !r.locate {
			continue
		}
		if r.mediaErr != nil {
			r.state, r.reason, r.detail, r.hash = connector.StateFailed, connector.ReasonMediaUnreadable, r.mediaErr.Error(), 0
		}
		ev.settle(r)
	}
}

func (ev *evaluator) evalOne(b *batch, r *rec) {
	if r.err != nil && errors.Is(r.err, connector.ErrBDWithoutCall) {
		ev.sum.bdWithoutCall(r.pos, r.err) // not a call row
		r.skip = true
		return
	}
	ev.sum.SourceRows++ // only the evaluator writes call counts
	if r.err != nil {
		ev.sum.badRow(r.pos, r.call.CallID, r.err)
		if r.call.CallID != "" {
			r.state, r.reason, r.detail = connector.StateFailed, connector.ReasonBadRow, fmt.Sprintf("%s: %v", r.pos, r.err)
			ev.settle(r)
		}
		return
	}
	if ev.multiSite {
		dup, err := ev.dedup.seen(b.src, r.call.CallID)
		if err != nil {
			ev.multiSite = false // the sinks and the ledger absorb a call sent twice
			ev.sum.warn(fmt.Sprintf("multi-site dedup stopped at call %s: %v", r.call.CallID, err))
		}
		if dup {
			r.skip = true
			ev.sum.DuplicateSeen++
			return
		}
	}
	ev.watermark(b.src, &r.call)
	ev.r = r
	ev.bdMapOK = false
	ev.indexBD(b, r)

	f := &ev.facts
	f.call = &r.call
	ok, err := ev.tenantOK(r.call.TenantID)
	if err != nil {
		ev.sum.warn(fmt.Sprintf("call %s: %v", r.call.CallID, err))
	}
	f.tenantOK = ok
	var synced *user
	f.agentKnown, f.agentReason = false, ""
	if id := strings.TrimSpace(r.call.AgentID); id != "" {
		if u := ev.agents.byAgentID[id]; u != nil {
			f.agentKnown, f.agentReason = true, u.reason
			if u.reason == "" {
				synced = u
			}
		}
	}
	ev.env.Call = &r.call
	ev.env.Agent = nil
	if synced != nil {
		ev.env.Agent = &synced.env
	}
	r.valLo = int32(len(b.vals))
	r.valHi = r.valLo
	for i := range CallRules {
		if CallRules[i].Excludes(f) {
			r.state, r.reason = connector.StateExcluded, CallRules[i].Reason
			b.vals = b.vals[:r.valLo]
			r.valHi = r.valLo
			ev.settle(r)
			return
		}
	}
	r.state = connector.StateImported
	if synced != nil {
		r.agentUser = synced.rec.UserID
	} else {
		r.reason = connector.ReasonAgentUnmapped
	}
	r.hash = ev.contentHash(b, r)
	if b.src < len(ev.locators) && ev.locators[b.src] != nil {
		r.locate = true // settled by locateMedia, with the batch's other calls
		return
	}
	ev.days[dayNumber(r.call.StartTime)]++
	ev.settle(r)
}

// dayNumber is t's UTC day since 1970-01-01 (floor, so days before 1970 are
// negative): an integer map key costs less per call than a date string.
func dayNumber(t time.Time) int64 {
	s := t.Unix()
	d := s / 86400
	if s%86400 < 0 {
		d--
	}
	return d
}

// importedByDay is the days map as Summary.ImportedByDay spells it.
func (ev *evaluator) importedByDay() map[string]int {
	out := make(map[string]int, len(ev.days))
	for d, n := range ev.days {
		out[time.Unix(d*86400, 0).UTC().Format(time.DateOnly)] = n
	}
	return out
}

// settle fingerprints a call's verdict and compares it with the prior ledger.
func (ev *evaluator) settle(r *rec) {
	r.fp = fingerprint(r.state, r.reason, r.hash)
	r.change = classify(ev.prior, "call", r.call.CallID, r.fp)
	ev.sum.CallDiff.count(r.change)
	// With a delivery queue the calls sent this run are queued, not yet
	// imported: counted so here, where the verdict and the change are
	// known, so nothing rewrites the tally afterwards.
	if ev.queue && r.state == connector.StateImported && r.change != ChangeUnchanged {
		ev.sum.Calls.add(connector.StateQueued, r.reason)
		return
	}
	ev.sum.Calls.add(r.state, r.reason)
}

// watermark remembers the last call of each source in (start_time, call_id)
// order, for incremental reads; Run copies them into the summary.
func (ev *evaluator) watermark(src int, c *dsl.Call) {
	for len(ev.wms) <= src {
		ev.wms = append(ev.wms, Watermark{})
	}
	wm := &ev.wms[src]
	if wm.CallID == "" || c.StartTime.After(wm.StartTime) || (c.StartTime.Equal(wm.StartTime) && c.CallID > wm.CallID) {
		*wm = Watermark{StartTime: c.StartTime, CallID: c.CallID}
	}
}

// indexBD records where each business-data name of the call is, by name id.
func (ev *evaluator) indexBD(b *batch, r *rec) {
	si := b.src
	for len(ev.at) <= si {
		ev.at = append(ev.at, nil)
		ev.gen = append(ev.gen, nil)
		ev.fieldIDs = append(ev.fieldIDs, nil)
	}
	ev.curGen++
	if ev.curGen == 0 { // wrapped: stale stamps could match again
		for i := range ev.gen {
			clear(ev.gen[i])
		}
		ev.curGen = 1
	}
	for k := r.bdLo; k < r.bdHi; k++ {
		id := b.bd[k].name
		if int(id) >= len(ev.at[si]) {
			n := int(id) + 1
			ev.at[si] = append(ev.at[si], make([]int32, n-len(ev.at[si]))...)
			ev.gen[si] = append(ev.gen[si], make([]uint32, n-len(ev.gen[si]))...)
		}
		ev.at[si][id] = k // a repeated name: the last value wins
		ev.gen[si][id] = ev.curGen
	}
}

// bdValue is the current call's value of a business-data name.
func (ev *evaluator) bdValue(field int, name string) ([]byte, bool) {
	si := ev.b.src
	ids := ev.fieldIDs[si]
	if ids == nil {
		ids = make([]int32, len(ev.plan.Fields))
		for i := range ids {
			ids[i] = -1
		}
		ev.fieldIDs[si] = ids
	}
	id := ids[field]
	if id < 0 {
		id = ev.names[si].ID([]byte(name))
		ids[field] = id
	}
	if int(id) >= len(ev.gen[si]) || ev.gen[si][id] != ev.curGen {
		return nil, false
	}
	ref := ev.b.bd[ev.at[si][id]]
	return ev.b.arena[ref.lo:ref.hi], true
}

// bdEnv builds the `bd` map for the expr VM, once per call and only when an
// expression needs it.
func (ev *evaluator) bdEnv() map[string]string {
	if ev.bdMapOK {
		return ev.bdMap
	}
	clear(ev.bdMap)
	b, r := ev.b, ev.r
	names := ev.names[b.src]
	for k := r.bdLo; k < r.bdHi; k++ {
		ref := b.bd[k]
		ev.bdMap[names.Name(ref.name)] = string(b.arena[ref.lo:ref.hi])
	}
	ev.bdMapOK = true
	return ev.bdMap
}

func (ev *evaluator) callFilter() (bool, error) {
	if ev.plan.Calls == nil {
		return true, nil
	}
	ev.env.BD = nil
	if ev.filterBD {
		ev.env.BD = ev.bdEnv()
	}
	out, err := ev.machine.Run(ev.plan.Calls.Program, &ev.env)
	if err != nil {
		err = ev.plan.Calls.RunError(err) // "FILE:LINE,COL-COL: calls filter: …"
		ev.r.detail = err.Error()
		ev.sum.warn(fmt.Sprintf("call %s: %v", ev.r.call.CallID, err))
		return false, err
	}
	ok, _ := out.(bool)
	return ok, nil
}

// mapFields computes every field's value into the batch; false means a field
// with on_error = exclude failed (the call is then excluded).
func (ev *evaluator) mapFields() bool {
	b, r := ev.b, ev.r
	ev.omitted = ev.omitted[:0]
	for i := range ev.plan.Fields {
		f := &ev.plan.Fields[i]
		v, ok, err := ev.fieldValue(i, f)
		if err == nil && ok && f.Type == dsl.TypeText {
			err = ev.plan.fields[i].checkLength(v.Text)
		}
		if err != nil {
			if f.OnError == dsl.OnErrorExclude {
				r.detail = f.RunError(err).Error() // "FILE:LINE,COL-COL: field NAME: …"
				return false
			}
			ev.omitted = append(ev.omitted, omission{i, err})
			continue
		}
		if ok {
			b.vals = append(b.vals, v)
			ev.valued[i]++
		}
	}
	// Counted only for calls that are imported: an excluded call sends nothing.
	// Placed in the spec only while samples are kept: a field empty in most
	// calls fails on every one of them.
	for _, o := range ev.omitted {
		f := &ev.plan.Fields[o.field]
		err := o.err
		if ev.sum.wantsOmitSample(f.Name) {
			err = f.RunError(err)
		}
		ev.sum.fieldOmitted(f.Name, r.call.CallID, err)
	}
	r.valHi = int32(len(b.vals))
	return true
}

// fieldValue computes one field. ok is false when the field has no value for
// this call (an empty text): it is then left out, without a warning.
func (ev *evaluator) fieldValue(i int, f *dsl.Field) (v connector.Value, ok bool, err error) {
	fp := &ev.plan.fields[i]
	v.Field = i
	switch fp.kind {
	case fieldBDText:
		val, _ := ev.bdValue(i, fp.bd)
		v.Text = val
		return v, len(val) > 0, nil
	case fieldBDFloat:
		val, _ := ev.bdValue(i, fp.bd)
		n, err := parseFloatBytes(val)
		if err != nil {
			return v, false, err
		}
		v.Number = n
		return v, true, nil
	case fieldBDEqual:
		val, _ := ev.bdValue(i, fp.bd)
		v.Bool = bytes.Equal(val, fp.lit)
		return v, true, nil
	}
	ev.env.BD = nil
	if f.ReadsBD {
		ev.env.BD = ev.bdEnv()
	}
	out, err := ev.machine.Run(f.Program, &ev.env)
	if err != nil {
		return v, false, err
	}
	switch f.Type {
	case dsl.TypeText:
		s, isStr := out.(string)
		if !isStr {
			return v, false, fmt.Errorf("expected a string, got %T", out)
		}
		v.Text = unsafe.Slice(unsafe.StringData(s), len(s))
		return v, len(s) > 0, nil
	case dsl.TypeNumber:
		n, err := toFloat(out)
		if err != nil {
			return v, false, err
		}
		v.Number = n
		return v, true, checkFinite(n)
	default:
		bv, isBool := out.(bool)
		if !isBool {
			return v, false, fmt.Errorf("expected a boolean, got %T", out)
		}
		v.Bool = bv
		return v, true, nil
	}
}

func toFloat(out any) (float64, error) {
	switch n := out.(type) {
	case float64:
		return n, nil
	case float32:
		return float64(n), nil
	case int:
		return float64(n), nil
	case int64:
		return float64(n), nil
	case int32:
		return float64(n), nil
	}
	return 0, fmt.Errorf("expected a number, got %T", out)
}

// contentHash identifies what is sent for a call, for incremental runs: a
// call whose hash changed since the last run is updated.
func (ev *evaluator) contentHash(b *batch, r *rec) uint64 {
	h := ev.hashBuf[:0]
	c := &r.call
	for _, s := range []string{c.CallID, r.agentUser, c.Direction, c.ANI, c.DNIS, c.MediaPath} {
		h = append(h, s...)
		h = append(h, 0)
	}
	h = binary.LittleEndian.AppendUint64(h, uint64(c.StartTime.UnixNano()))
	h = binary.LittleEndian.AppendUint64(h, uint64(c.DurationMS))
	for _, v := range b.vals[r.valLo:r.valHi] {
		h = binary.LittleEndian.AppendUint32(h, uint32(v.Field))
		h = append(h, v.Text...)
		h = append(h, 0)
		h = binary.LittleEndian.AppendUint64(h, math.Float64bits(v.Number))
		if v.Bool {
			h = append(h, 1)
		} else {
			h = append(h, 0)
		}
	}
	ev.hashBuf = h
	return xxh3.Hash(h)
}
