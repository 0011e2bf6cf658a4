package killpoint

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The points. Their order is the order a run reaches them.
const (
	// BatchWritten: the writer handed one batch of calls to the sink (not a
	// durable step: a test waits for it to signal a run at a batch boundary).
	BatchWritten = "batch-written"
	// CommitBegin: every row is sent, the sink's commit has not begun.
	CommitBegin = "commit-begin"
	// OutboxFilesSynced: a run's outbox temp files are flushed and synced,
	// not yet renamed to their names.
	OutboxFilesSynced = "outbox-files-synced"
	// OutboxFilesRenamed: a run's outbox files have their names (in the
	// cumulative outbox's run folder, or in a staging folder).
	OutboxFilesRenamed = "outbox-files-renamed"
	// StagingWritten: the run's staged copy (store and forward) is in place.
	StagingWritten = "staging-written"
	// OutboxMergeWritten: a merged outbox file is written and synced beside
	// its final name, not yet renamed over it.
	OutboxMergeWritten = "outbox-merge-written"
	// OutboxFileInPlace: one outbox file (agents, calls, ledger: reached
	// once per file) is moved into place.
	OutboxFileInPlace = "outbox-file-in-place"
	// OutboxCommitted: the sink's commit is done.
	OutboxCommitted = "outbox-committed"
	// StateChangesWritten: the run's changed ledger rows are on disk, the
	// state's transaction has not begun.
	StateChangesWritten = "state-changes-written"
	// StateHistoryWritten: inside the state's transaction, the ledger,
	// the history line and the watermarks are written, not committed.
	StateHistoryWritten = "state-history-written"
	// StateEnqueued: inside the state's transaction (PostgreSQL), the
	// run's deliveries are enqueued, not committed.
	StateEnqueued = "state-enqueued"
	// StateCommitted: the state's transaction is committed.
	StateCommitted = "state-committed"
	// RunCommitted: the run is done (staging cleaned), before it reports.
	RunCommitted = "run-committed"
	// DeliveryAnswered: a delivery worker's sink acknowledged a call
	// (CXone answered), the ledger is not yet updated.
	DeliveryAnswered = "delivery-answered"
	// DeliveryLedgerUpdated: a delivery's ledger row is updated, its job
	// not yet completed.
	DeliveryLedgerUpdated = "delivery-ledger-updated"
)

// Point is one declared point.
type Point struct {
	Name string
	// Queued: reached only with a delivery queue (PostgreSQL state).
	Queued bool
	// Delivery: reached by a delivery worker, not by a run.
	Delivery bool
}

// Points lists every point, in the order a run reaches them.
var Points = []Point{
	{Name: BatchWritten},
	{Name: CommitBegin},
	{Name: OutboxFilesSynced},
	{Name: OutboxFilesRenamed},
	{Name: StagingWritten},
	{Name: OutboxMergeWritten},
	{Name: OutboxFileInPlace},
	{Name: OutboxCommitted},
	{Name: StateChangesWritten},
	{Name: StateHistoryWritten},
	{Name: StateEnqueued, Queued: true},
	{Name: StateCommitted},
	{Name: RunCommitted},
	{Name: DeliveryAnswered, Queued: true, Delivery: true},
	{Name: DeliveryLedgerUpdated, Queued: true, Delivery: true},
}

// Environment variables that arm the points.
const (
	EnvKill  = "APPLINK_KILLPOINT"       // NAME or NAME:N
	EnvTrace = "APPLINK_KILLPOINT_TRACE" // a file to append each point reached to
)

type armed struct {
	kill  string // the point to die at
	nth   int64  // at its nth hit (1-based)
	hits  sync.Map
	trace *os.File
	mu    sync.Mutex
}

// cur is nil unless the environment armed a point or a trace: Hit's whole
// cost in production is loading it.
var cur = fromEnv()

func fromEnv() *atomic.Pointer[armed] {
	p := new(atomic.Pointer[armed])
	a, err := parse(os.Getenv(EnvKill), os.Getenv(EnvTrace))
	if err != nil {
		fmt.Fprintln(os.Stderr, "applink:", err)
		os.Exit(2)
	}
	p.Store(a)
	return p
}

func parse(kill, trace string) (*armed, error) {
	if kill == "" && trace == "" {
		return nil, nil
	}
	a := &armed{nth: 1}
	if kill != "" {
		name, n, ok := strings.Cut(kill, ":")
		if !Known(name) {
			return nil, fmt.Errorf("%s=%s: no such kill point", EnvKill, kill)
		}
		a.kill = name
		if ok {
			v, err := strconv.ParseInt(n, 10, 64)
			if err != nil || v < 1 {
				return nil, fmt.Errorf("%s=%s: the count after ':' must be 1 or more", EnvKill, kill)
			}
			a.nth = v
		}
	}
	if trace != "" {
		f, err := os.OpenFile(trace, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvTrace, err)
		}
		a.trace = f
	}
	return a, nil
}

// Known reports whether name is a declared point.
func Known(name string) bool {
	for _, p := range Points {
		if p.Name == name {
			return true
		}
	}
	return false
}

// Hit marks that the process reached the point name: it records it in the
// trace and dies there when armed to. Inert (one atomic load) otherwise.
func Hit(name string) {
	a := cur.Load()
	if a == nil {
		return
	}
	a.hit(name)
}

func (a *armed) hit(name string) {
	v, _ := a.hits.LoadOrStore(name, new(atomic.Int64))
	n := v.(*atomic.Int64).Add(1)
	die := name == a.kill && n == a.nth
	if a.trace != nil {
		// One write(2) per line: the kernel keeps it when the process dies.
		a.mu.Lock()
		line := name + "\n"
		if die {
			line = "kill " + name + ":" + strconv.FormatInt(n, 10) + "\n"
		}
		a.trace.WriteString(line)
		a.mu.Unlock()
	}
	if die {
		kill()
	}
}

// kill ends the process at once, as a power cut or the OOM killer would:
// no deferred function, no flush.
func kill() {
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		_ = p.Kill() // SIGKILL on Unix
	}
	for { // the signal is asynchronous: go no further meanwhile
		time.Sleep(time.Second)
	}
}
