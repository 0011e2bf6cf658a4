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

	"github.com/applink-dev/applink/engine"
	"github.com/applink-dev/applink/engine/keyset"
	"github.com/applink-dev/applink/engine/killpoint"
)

// RunLedger collects a run's changed ledger rows in a CSV file beside the
// staging area and upserts them in one transaction after the sink committed.
// It implements engine.LedgerWriter.
type RunLedger struct {
	apply    func(context.Context, *ChangeSet) error // the backend's commit
	queue    bool                                    // the backend has a delivery queue
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
}

// Staged describes what a run kept in the staging area.
type Staged struct {
	Path          string
	Calls, Agents int
}

// RunScratchFiles are the files a run writes beside its staged copy and
// removes once its commit returns (a run killed right after its commit
// leaves them: the next run removes them).
var RunScratchFiles = []string{changesFile, deliveriesFile}

const (
	changesFile    = "ledger-changes.csv"
	deliveriesFile = "deliveries.jsonl"
)

// Begin starts recording a run's ledger changes into dir (created if needed).
// idx is the Prior the run uses, for "no longer in the source" counts.
func (s *Store) Begin(runID, specHash, dir string, idx *Index) (*RunLedger, error) {
	return begin(s.applyRun, false, runID, specHash, dir, idx)
}

func begin(apply func(context.Context, *ChangeSet) error, queue bool, runID, specHash, dir string, idx *Index) (*RunLedger, error) {
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
func (l *RunLedger) Row(r engine.LedgerRow, fp uint64, active bool) error {
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
}

// Commit implements engine.LedgerWriter: one transaction upserts the changed
// rows, records the run and its watermarks and the staging index. A crash
// before it leaves the state as it was; the next run sends the same rows
// again and the sinks absorb them by id.
// Whatever happens, the changes file is closed and removed when it returns.
func (l *RunLedger) Commit(ctx context.Context, sum *engine.Summary) error {
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
		Deliveries: l.dpath, DeliveryCount: l.djobs, Target: l.target,
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
	if l.target == nil {
		os.Remove(l.dpath)
		return errors.New("state: deliveries enqueued without a target")
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
	Summary         *engine.Summary
	SummaryJSON     []byte
	Staged          *Staged
	// Deliveries is a file of delivery jobs (River args, one JSON a line)
	// to enqueue in the same transaction; "" when none. Target is where
	// they go, recorded with the run.
	Deliveries    string
	DeliveryCount int
	Target        []byte
}

// deleteSlice is how many changed rows one delete of applyRun replaces at
// most (a variable for tests).
var deleteSlice = 1 << 20

// insertMemory is DuckDB's memory limit while a commit only inserts.
const insertMemory = "32MB"

// applyRun is the DuckDB backend's commit of a ChangeSet.
func (s *Store) applyRun(ctx context.Context, c *ChangeSet) (err error) {
	sum := c.Summary
	if c.Rows > 0 && !c.Repeats && !c.ReplaceExisting {
		// A plain insert (a first run) streams from the CSV: a smaller
		// buffer pool suffices and keeps the largest commit's footprint
		// that of the smallest (10 M rows: 210 MB peak RSS with the usual
		// 128 MB, 152 MB with 64 MB, 123 MB with 32 MB). The
		// deletes and dedups of the other paths keep the usual limit.
		var limit string
		if err := s.db.QueryRowContext(ctx, `SELECT current_setting('memory_limit')`).Scan(&limit); err != nil {
			return fmt.Errorf("state: %w", err)
		}
		if _, err := s.db.ExecContext(ctx, `SET memory_limit = '`+insertMemory+`'`); err != nil {
			return fmt.Errorf("state: %w", err)
		}
		defer func() {
			if _, rerr := s.db.ExecContext(ctx, `SET memory_limit = `+sqlString(limit)); rerr != nil && err == nil {
				err = fmt.Errorf("state: restore the memory limit after the commit: %w", rerr)
			}
		}()
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	defer tx.Rollback()
	if c.Rows > 0 {
		// Upsert without an index, in operators DuckDB can spill to disk:
		// delete the rows the changes replace (a hash join on the 8-byte key;
		// skipped for an empty ledger), then insert the changes straight from
		// the CSV. Only when an id was written twice this run (a sink's late
		// failure, or a source listing a call twice) do the changes go through
		// a table first, to keep the last row per id.
		// A 4 MiB read buffer instead of the default 32 MiB halves DuckDB's
		// footprint during the commit, at no cost in time.
		src := fmt.Sprintf(`read_csv(%s, buffer_size = 4194304, header = true, quote = '"', escape = '"',
			columns = {'entity': 'VARCHAR', 'id': 'VARCHAR', 'state': 'VARCHAR', 'reason': 'VARCHAR', 'detail': 'VARCHAR',
			           'fp': 'UBIGINT', 'active': 'BOOLEAN', 'run_id': 'VARCHAR', 'seq': 'BIGINT', 'key': 'UBIGINT'})`, sqlString(c.Path))
		cols := `key, entity, id, state, coalesce(reason, '') AS reason, coalesce(detail, '') AS detail, fp, active, run_id`
		// The delete's hash table must fit in DuckDB's memory limit: past
		// deleteSlice changed rows their keys are copied once into a
		// table and the delete runs in key ranges of that many rows.
		parts := uint64(max(1, (c.Rows+deleteSlice-1)/deleteSlice))
		keys := `(SELECT key FROM ` + src + `)`
		var stmts []string
		if !c.Repeats {
			if c.ReplaceExisting && parts > 1 {
				stmts = append(stmts, `DROP TABLE IF EXISTS ledger_change_keys`, `CREATE TEMP TABLE ledger_change_keys AS SELECT key FROM `+src)
				keys = `ledger_change_keys`
			}
		} else {
			stmts = append(stmts,
				`DROP TABLE IF EXISTS ledger_changes`,
				`CREATE TABLE ledger_changes AS SELECT `+cols+`, seq FROM `+src,
				`DELETE FROM ledger_changes WHERE seq IN (
					SELECT c.seq FROM ledger_changes c
					JOIN (SELECT key, max(seq) AS last FROM ledger_changes GROUP BY key HAVING count(*) > 1) d USING (key)
					WHERE c.seq < d.last)`)
			keys = `ledger_changes`
		}
		if c.ReplaceExisting {
			step := ^uint64(0) / parts
			for p := range parts {
				lo, hi := p*step, p*step+step-1
				if p == parts-1 {
					hi = ^uint64(0)
				}
				stmts = append(stmts, fmt.Sprintf(`DELETE FROM ledger WHERE key IN (SELECT key FROM %s WHERE key BETWEEN %d AND %d)`, keys, lo, hi))
			}
		}
		if !c.Repeats {
			stmts = append(stmts, `INSERT INTO ledger SELECT `+cols+` FROM `+src)
			if keys == `ledger_change_keys` {
				stmts = append(stmts, `DROP TABLE ledger_change_keys`)
			}
		} else {
			stmts = append(stmts, `INSERT INTO ledger SELECT * EXCLUDE (seq) FROM ledger_changes`, `DROP TABLE ledger_changes`)
		}
		for _, q := range stmts {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("state: upsert ledger: %w", err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO runs VALUES (?, 'run', ?, ?, ?, ?, ?)`,
		c.RunID, sum.PlanHash, c.SpecHash, sum.Started, sum.Started.Add(sum.Elapsed), string(c.SummaryJSON)); err != nil {
		return fmt.Errorf("state: record run: %w", err)
	}
	for src, wm := range sum.Watermarks {
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO watermarks VALUES (?, ?, ?, ?)`, src, wm.StartTime, wm.CallID, c.RunID); err != nil {
			return fmt.Errorf("state: watermark: %w", err)
		}
	}
	if c.Staged != nil {
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO staging VALUES (?, ?, ?, ?, ?, NULL)`,
			c.RunID, c.Staged.Path, sum.Started, c.Staged.Calls, c.Staged.Agents); err != nil {
			return fmt.Errorf("state: staging index: %w", err)
		}
	}
	killpoint.Hit(killpoint.StateHistoryWritten)
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("state: commit: %w", err)
	}
	killpoint.Hit(killpoint.StateCommitted)
	return nil
}

func sqlString(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}

// Watermarks returns the last committed call per source.
func (s *Store) Watermarks(ctx context.Context) (map[string]engine.Watermark, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT source, start_time, call_id FROM watermarks`)
	if err != nil {
		return nil, fmt.Errorf("state: watermarks: %w", err)
	}
	defer rows.Close()
	out := map[string]engine.Watermark{}
	for rows.Next() {
		var src string
		var wm engine.Watermark
		if err := rows.Scan(&src, &wm.StartTime, &wm.CallID); err != nil {
			return nil, err
		}
		wm.StartTime = wm.StartTime.UTC()
		out[src] = wm
	}
	return out, rows.Err()
}
