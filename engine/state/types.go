package state

import (
	"errors"
	"fmt"
	"time"

	"github.com/applink-dev/applink/engine/connector"
)

// LedgerRow is a row of the state ledger.
type LedgerRow struct {
	Entity, ID, State, Reason, Detail, RunID string
	Active                                   bool
	FP                                       uint64 // fingerprint: state, reason and a hash of what was sent
	// A delivery that failed and will be tried again (state retrying):
	// the attempt that failed and when the next one is due.
	Attempt int
	NextTry *time.Time
	// What was sent of an imported call's media (connector.RunInfo.MediaSent);
	// empty when the sink reported none.
	Media connector.MediaSent
}

// LedgerCount is how many ledger rows of one entity are in one state and
// reason.
type LedgerCount struct {
	Entity, State, Reason string
	N                     int
}

// LedgerQuery selects ledger rows; empty fields do not filter.
type LedgerQuery struct {
	Entity, ID, State, Reason string
	RunID                     string // the run that last set the row
	Limit                     int    // rows to return; 0 only counts
}

// StagedRun is one run's entry in the staging index.
type StagedRun struct {
	RunID         string
	Path          string
	Created       time.Time
	Calls, Agents int64
	PurgedAt      *time.Time
}

// StateRetrying is the ledger state of a queued call whose last delivery
// attempt failed and that will be tried again. A queued call a worker is
// delivering now is not written as such: "delivering" is read from the
// queue's running jobs (QueueStats.Delivering).
const StateRetrying = "retrying"

// QueueStats is a spec's delivery queue at one instant: what `report` shows
// and what `serve` exports as metrics. It stays comparable: the zero value
// means nothing is queued. The reasons of retrying rows are in LedgerCounts
// (state "retrying").
type QueueStats struct {
	Queued     int64 `json:"queued"`     // ledger rows queued, no attempt failed yet
	Delivering int64 `json:"delivering"` // deliveries a worker runs now (the queue's running jobs)
	Retrying   int64 `json:"retrying"`   // ledger rows whose last attempt failed, to be tried again
	Failed     int64 `json:"failed"`     // ledger call rows failed (by the run or by a delivery)
	// Oldest is when the oldest open row (queued or retrying) was queued:
	// the commit of the run that queued it; zero when none is open.
	Oldest time.Time `json:"oldest,omitzero"`
	// InFlight is Delivering, Waiting the open jobs not running (retries
	// included): the names earlier readers use.
	InFlight int64 `json:"in_flight"`
	Waiting  int64 `json:"waiting"`
}

// Open reports whether anything is still to deliver: queued or retrying
// rows, or open jobs.
func (q QueueStats) Open() bool {
	return q.Queued+q.Retrying+q.Delivering+q.Waiting > 0
}

// Jobs is how deliveries are queued: the job kind, queue and attempts the
// delivery package works. The state stores and counts the jobs; what they
// are belongs to engine/delivery (delivery.Jobs).
type Jobs struct {
	Kind, Queue string
	MaxAttempts int
}

// Holder is who holds a spec in a shared state: the fencing epoch its
// takeover got, and the process.
type Holder struct {
	Epoch int64     `json:"epoch"`
	Host  string    `json:"host"`
	PID   int       `json:"pid"`
	Since time.Time `json:"since"`
}

// Outcome is one delivery's result, for a backend's batched settle.
type Outcome struct {
	Spec    string
	Key, FP int64  // the ledger row the job was queued for (its key and fingerprint as enqueued)
	State   string // connector.StateImported, connector.StateFailed or StateRetrying
	// Reason is an imported row's reason (agent_unmapped or none).
	Reason string
	// Media is what was sent of an imported call's media (nil: none).
	Media *connector.MediaSent
	// Failure is why a failed or retrying delivery failed.
	Failure *connector.Failure
	// Attempt is the attempt that failed (retrying), NextTry when the next
	// one is due.
	Attempt int
	NextTry time.Time
}

// Settled counts the ledger rows a settle changed; an outcome settled
// before changes nothing and counts 0. Applied says, per outcome in the
// order given, whether it changed its row.
type Settled struct {
	Imported, Failed, Retrying int64
	Applied                    []bool
}

// JobRef names the ledger row a delivery job was queued for.
type JobRef struct {
	Spec    string
	Key, FP int64
}

// FencedError is a commit or an enqueue refused because its epoch is no
// longer the spec's: Holder is who took the spec over. errors.Is(err,
// ErrFenced) holds.
type FencedError struct {
	Spec   string
	Epoch  int64 // the epoch the refused commit held
	Holder Holder
}

func (e *FencedError) Error() string {
	return fmt.Sprintf("spec %s: epoch %d is stale: %s:%d took the spec over at %s (epoch %d); nothing was committed",
		e.Spec, e.Epoch, e.Holder.Host, e.Holder.PID, e.Holder.Since.UTC().Format(time.RFC3339), e.Holder.Epoch)
}

// Is makes errors.Is(err, ErrFenced) true.
func (e *FencedError) Is(target error) bool { return target == ErrFenced }

var (
	// ErrNewerSchema is returned for a state written by a newer applink.
	ErrNewerSchema = errors.New("state is from a newer applink")
	// ErrNotMigrated is returned by a read-only open of a state older than
	// this build (or not created yet): a run creates or upgrades it.
	ErrNotMigrated = errors.New("state is not at this build's schema version (a run creates or upgrades it)")
	// ErrInUse is returned by an open when another process has the state
	// file open (DuckDB's file lock): serve waits and retries.
	ErrInUse = errors.New("in use by another applink process (one run per spec at a time)")
	// ErrFenced is returned by a commit or an enqueue whose fencing epoch
	// is no longer the spec's: another process took the spec over since.
	// Nothing of it was committed.
	ErrFenced = errors.New("fenced: another process took this spec over (its epoch is newer); nothing was committed")
	// ErrNoQueue is returned by a RunLedger asked to enqueue a delivery on
	// a backend without a delivery queue (DuckDB).
	ErrNoQueue = errors.New("this state has no delivery queue (delivery workers need PostgreSQL state)")
)
