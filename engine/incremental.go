package engine

import (
	"context"
	"encoding/binary"

	"github.com/applink-dev/applink/engine/connector"
	"github.com/zeebo/xxh3"
)

// Prior is what the state knows of earlier runs: each row's fingerprint as
// last committed. A run sends only rows whose fingerprint changed, so a second
// run over the same source sends nothing. Lookup is called from one goroutine.
type Prior interface {
	// Lookup returns the row's last fingerprint and, for agents, whether it
	// was active; ok is false for a row never seen. Implementations remember
	// what was looked up, to find rows no longer in the source.
	Lookup(entity, id string) (fp uint64, active bool, ok bool)
}

// MediaRecorder is a LedgerWriter that also keeps what a sink sent of each
// call's media (RunInfo.MediaSent): Run wires the sink's reports to it.
type MediaRecorder interface {
	MediaSent(callID string, m connector.MediaSent)
}

// LedgerWriter receives the ledger rows that changed in a run, with their
// fingerprints, and makes them durable after the sink committed: state after
// commit, so a crash in between makes the next run send the same rows again
// (sinks are idempotent by id) instead of losing them.
type LedgerWriter interface {
	Row(r connector.LedgerRow, fp uint64, active bool) error
	// Commit runs after the sink committed.
	Commit(ctx context.Context, sum *RunRecord) error
	Abort()
}

// Change kinds of a row against the prior ledger.
const (
	ChangeNew       = "new"
	ChangeChanged   = "changed"
	ChangeUnchanged = "unchanged"
)

// Diff counts rows by change kind.
type Diff struct {
	New, Changed, Unchanged int
	// Drift lists agents whose activation changed in Engage (deactivated or
	// reactivated): the seed says these are not synced but acted on by hand.
	Drift []DriftRow
}

// DriftRow is an agent whose activation changed in Engage since the last run.
type DriftRow struct {
	UserID string
	Change string // deactivated | reactivated | deleted
}

// fingerprint of a ledger row: what was concluded about it and what was sent.
func fingerprint(state, reason string, content uint64) uint64 {
	var buf [64]byte
	b := append(buf[:0], state...)
	b = append(b, 0)
	b = append(b, reason...)
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint64(b, content)
	// The low bit is left 0: the state's in-memory index keeps an agent's
	// active flag there, to hold a row in 16 bytes.
	return xxh3.Hash(b) &^ 1
}

// agentContent hashes what is sent of an agent. Active is left out: a change
// of activation alone is drift, never sent.
func agentContent(a *connector.OutAgent) uint64 {
	h := xxh3.New()
	for _, s := range []string{a.UserID, a.FirstName, a.LastName, a.Email} {
		h.WriteString(s)
		h.Write([]byte{0})
	}
	for _, s := range a.AgentIDs {
		h.WriteString(s)
		h.Write([]byte{1})
	}
	return h.Sum64()
}

// classify compares a row with the prior ledger.
func classify(p Prior, entity, id string, fp uint64) string {
	if p == nil {
		return ChangeNew
	}
	old, _, ok := p.Lookup(entity, id)
	switch {
	case !ok:
		return ChangeNew
	case old != fp:
		return ChangeChanged
	}
	return ChangeUnchanged
}
