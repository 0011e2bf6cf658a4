package state

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/applink-dev/applink/engine/keyset"
	"github.com/applink-dev/applink/engine/killpoint"
)

// RunLedger collects a run's changed ledger rows in a CSV file beside the
// staging area and upserts them in one transaction after the sink committed.
// It implements engine.LedgerWriter.
type RunLedger struct {
	apply    ApplyFunc // the backend's commit
	queue    bool      // the backend has a delivery queue
	idx      *Index
	runID    string
	specHash string
	path     string
	f        *os.File
	bw       *bufio.Writer
	w        *csv.Writer
	rows     int
	// keys of this run's rows, to know at commit whether an id repeats:
	// sorted on disk past a few thousand rows, like the prior index.
	keys   *keyset.Builder
	rec    []string
	staged *Staged
	// Deliveries to enqueue at commit (backends with a queue): one JSON job
	// per line in a file beside the changes, so memory does not grow.
	dpath  string
	df     *os.File
	dw     *bufio.Writer
	djobs  int
	target []byte
	jobs   Jobs
	// What the sink reported sending of calls' media (MediaSent), a CSV
	// of (key, content type, size, sha256) applied with the commit.
	mmu   sync.Mutex
	mpath string
	mf    *os.File
	mw    *csv.Writer
	mbw   *bufio.Writer
	mrows int
	merr  error
}

// ApplyFunc is a backend's commit of a run's ChangeSet, in one transaction.
type ApplyFunc func(context.Context, *ChangeSet) error

// Staged describes what a run kept in the staging area.
type Staged struct {
	Path          string
	Calls, Agents int
}

// RunScratchFiles are the files a run writes beside its staged copy and
// removes once its commit returns (a run killed right after its commit
// leaves them: the next run removes them).
var RunScratchFiles = []string{changesFile, mediaFile, deliveriesFile}

const (
	changesFile    = "ledger-changes.csv"
	mediaFile      = "ledger-media.csv"
	deliveriesFile = "deliveries.jsonl"
)

// NewRunLedger starts recording a run's ledger changes into dir (created if
// needed), for a backend's Begin: apply is its commit, queue whether it has
// a delivery queue. idx is the Prior the run uses, for "no longer in the
// source" counts.
func NewRunLedger(apply ApplyFunc, queue bool, runID, specHash, dir string, idx *Index) (*RunLedger, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	path := filepath.Join(dir, changesFile)
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	l := &RunLedger{apply: apply, queue: queue, idx: idx, runID: runID, specHash: specHash, path: path, f: f, bw: bw, w: csv.NewWriter(bw), rec: make([]string, 10),
		keys: keyset.NewBuilder(0, indexLimits)}
	if err := l.w.Write([]string{"entity", "id", "state", "reason", "detail", "fp", "active", "run_id", "seq", "key"}); err != nil {
		return nil, err
	}
	return l, nil
}

// SetStaged records what the run staged, for the staging index.
func (l *RunLedger) SetStaged(st *Staged) { l.staged = st }

// Row implements engine.LedgerWriter.
func (l *RunLedger) Row(r connector.LedgerRow, fp uint64, active bool) error {
	l.rec[0], l.rec[1], l.rec[2], l.rec[3], l.rec[4] = r.Entity, r.ID, r.State, r.Reason, r.Detail
	l.rec[5] = strconv.FormatUint(fp, 10)
	l.rec[6] = strconv.FormatBool(active)
	l.rec[7] = l.runID
	l.rows++
	l.rec[8] = strconv.Itoa(l.rows) // a later row of the same id wins (a sink's late failure)
	k := rowKey(r.Entity, r.ID)
	l.keys.Add(k, 0)
	l.rec[9] = strconv.FormatUint(k, 10)
	return l.w.Write(l.rec)
}

// RunID is the run's id.
func (l *RunLedger) RunID() string { return l.runID }

// Queues reports whether the state has a delivery queue: then a run may
// Enqueue its calls for the workers instead of sending them.
func (l *RunLedger) Queues() bool { return l.queue }

// SetTarget records where this run's deliveries go (a JSON document the
// delivery workers read: the sink and the fields). Required before Commit
// when something was enqueued.
func (l *RunLedger) SetTarget(target []byte) { l.target = target }

// SetJobs says what the enqueued deliveries are (their job kind, queue and
// attempts: delivery.Jobs). Required before Commit when something was
// enqueued.
func (l *RunLedger) SetJobs(j Jobs) { l.jobs = j }

// MediaSent records what the sink sent of a call's media, for the call's
// ledger row (connector.RunInfo.MediaSent is wired to it). Safe for
// concurrent use; applied with the commit.
func (l *RunLedger) MediaSent(callID string, m connector.MediaSent) {
	l.mmu.Lock()
	defer l.mmu.Unlock()
	if l.merr != nil {
		return
	}
	if l.mf == nil {
		l.mpath = filepath.Join(filepath.Dir(l.path), mediaFile)
		f, err := os.Create(l.mpath)
		if err != nil {
			l.merr = fmt.Errorf("state: %w", err)
			return
		}
		l.mf, l.mbw = f, bufio.NewWriterSize(f, 1<<16)
		l.mw = csv.NewWriter(l.mbw)
		l.merr = l.mw.Write([]string{"key", "media_type", "media_size", "media_sha256"})
	}
	l.mrows++
	if err := l.mw.Write([]string{strconv.FormatUint(rowKey("call", callID), 10), m.ContentType, strconv.FormatInt(m.Size, 10), m.SHA256}); err != nil {
		l.merr = err
	}
}

// closeMedia flushes and closes the media file, if any.
func (l *RunLedger) closeMedia() error {
	l.mmu.Lock()
	defer l.mmu.Unlock()
	if l.mf == nil {
		return l.merr
	}
	l.mw.Flush()
	err := l.merr
	if err == nil {
		err = l.mw.Error()
	}
	if err == nil {
		err = l.mbw.Flush()
	}
	if cerr := l.mf.Close(); err == nil {
		err = cerr
	}
	l.mf = nil
	if err != nil {
		return fmt.Errorf("state: media file: %w", err)
	}
	return nil
}

// Enqueue adds one delivery job (its River args, JSON) to the run: it is
// inserted with the run's commit, in the same transaction.
func (l *RunLedger) Enqueue(args []byte) error {
	if !l.queue {
		return ErrNoQueue
	}
	if l.df == nil {
		l.dpath = filepath.Join(filepath.Dir(l.path), deliveriesFile)
		f, err := os.Create(l.dpath)
		if err != nil {
			return fmt.Errorf("state: %w", err)
		}
		l.df, l.dw = f, bufio.NewWriterSize(f, 1<<20)
	}
	l.djobs++
	l.dw.Write(args)
	return l.dw.WriteByte('\n')
}

// Abort implements engine.LedgerWriter: nothing reaches the state.
func (l *RunLedger) Abort() {
	l.keys.Discard()
	l.f.Close()
	os.Remove(l.path)
	if l.df != nil {
		l.df.Close()
		os.Remove(l.dpath)
	}
	l.closeMedia()
	if l.mpath != "" {
		os.Remove(l.mpath)
	}
}

// Commit implements engine.LedgerWriter: one transaction upserts the changed
// rows, records the run and its watermarks and the staging index. A crash
// before it leaves the state as it was; the next run sends the same rows
// again and the sinks absorb them by id.
// Whatever happens, the changes file is closed and removed when it returns.
func (l *RunLedger) Commit(ctx context.Context, sum *engine.RunRecord) error {
	defer os.Remove(l.path)
	l.w.Flush()
	err := l.w.Error()
	if err == nil {
		err = l.bw.Flush()
	}
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("state: changes file: %w", err)
	}
	if err := l.closeDeliveries(); err != nil {
		return err
	}
	if err := l.closeMedia(); err != nil {
		return err
	}
	if l.mpath != "" {
		defer os.Remove(l.mpath)
	}
	killpoint.Hit(killpoint.StateChangesWritten)
	if l.idx != nil {
		sum.Removed.Agents, sum.Removed.Calls = l.idx.Unseen()
	}
	summary, err := sum.MarshalJSON()
	if err != nil {
		return err
	}
	keys, err := l.keys.Finish()
	if err != nil {
		return err
	}
	repeats := keys.Repeats()
	keys.Close()
	// The run's garbage goes back to the system before the backend takes
	// its share: the commit is the run's last and largest phase.
	debug.FreeOSMemory()
	err = l.apply(ctx, &ChangeSet{
		Path: l.path, Rows: l.rows, Repeats: repeats, ReplaceExisting: l.idx == nil || l.idx.Len() > 0,
		RunID: l.runID, SpecHash: l.specHash, Summary: sum, SummaryJSON: summary, Staged: l.staged,
		Deliveries: l.dpath, DeliveryCount: l.djobs, Target: l.target, Jobs: l.jobs,
		Media: l.mpath, MediaCount: l.mrows,
	})
	if l.df != nil {
		os.Remove(l.dpath)
	}
	return err
}

// closeDeliveries flushes and closes the deliveries file, if any; it is
// removed once the commit returns.
func (l *RunLedger) closeDeliveries() error {
	if l.df == nil {
		return nil
	}
	err := l.dw.Flush()
	if cerr := l.df.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(l.dpath)
		return fmt.Errorf("state: deliveries file: %w", err)
	}
	if l.target == nil || l.jobs.Kind == "" {
		os.Remove(l.dpath)
		return errors.New("state: deliveries enqueued without a target or a job kind")
	}
	return nil
}

// ChangeSet is what a run commits to the state in one transaction: the
// changed ledger rows (a CSV file with the header entity, id, state, reason,
// detail, fp, active, run_id, seq, key; a later seq of the same key wins),
// the run's history line, its watermarks and its staging entry.
type ChangeSet struct {
	Path    string // the changes CSV
	Rows    int
	Repeats bool // some key appears more than once: keep the last seq
	// ReplaceExisting is false when the ledger was empty at the start of
	// the run, so nothing needs deleting before the insert.
	ReplaceExisting bool
	RunID, SpecHash string
	Summary         *engine.RunRecord
	SummaryJSON     []byte
	Staged          *Staged
	// Deliveries is a file of delivery jobs (River args, one JSON a line)
	// to enqueue in the same transaction; "" when none. Target is where
	// they go, recorded with the run.
	Deliveries    string
	DeliveryCount int
	Target        []byte
	Jobs          Jobs
	// Media is a CSV (key, media_type, media_size, media_sha256) of what
	// the sink sent of calls' media, for their ledger rows; "" when none.
	Media      string
	MediaCount int
}
