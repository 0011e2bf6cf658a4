package duckstate

import (
	"context"
	"fmt"

	"github.com/applink-dev/applink/engine/killpoint"
	"github.com/applink-dev/applink/engine/state"
)

// Begin starts recording a run's ledger changes into dir (created if needed).
// idx is the Prior the run uses, for "no longer in the source" counts.
// The file lock fences a DuckDB state: no epoch to check.
func (s *Store) Begin(runID, specHash, dir string, idx *state.Index) (*state.RunLedger, error) {
	return state.NewRunLedger(s.applyRun, false, runID, specHash, dir, idx)
}

// ledgerInsertColumns are the columns a commit writes (the others, a
// delivery's, stay NULL).
const ledgerInsertColumns = `key, entity, id, state, reason, detail, fp, active, run_id`

// deleteSlice is how many changed rows one delete of applyRun replaces at
// most (a variable for tests).
var deleteSlice = 1 << 20

// insertMemory is DuckDB's memory limit while a commit only inserts.
const insertMemory = "32MB"

// applyRun is the DuckDB backend's commit of a ChangeSet.
func (s *Store) applyRun(ctx context.Context, c *state.ChangeSet) (err error) {
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
			stmts = append(stmts, `INSERT INTO ledger (`+ledgerInsertColumns+`) SELECT `+cols+` FROM `+src)
			if keys == `ledger_change_keys` {
				stmts = append(stmts, `DROP TABLE ledger_change_keys`)
			}
		} else {
			stmts = append(stmts, `INSERT INTO ledger (`+ledgerInsertColumns+`) SELECT * EXCLUDE (seq) FROM ledger_changes`, `DROP TABLE ledger_changes`)
		}
		for _, q := range stmts {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("state: upsert ledger: %w", err)
			}
		}
	}
	if c.MediaCount > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE ledger SET media_type = m.media_type, media_size = m.media_size, media_sha256 = m.media_sha256
			FROM read_csv(`+sqlString(c.Media)+`, buffer_size = 4194304, header = true, quote = '"', escape = '"',
				columns = {'key': 'UBIGINT', 'media_type': 'VARCHAR', 'media_size': 'BIGINT', 'media_sha256': 'VARCHAR'}) m
			WHERE ledger.key = m.key`); err != nil {
			return fmt.Errorf("state: media sent: %w", err)
		}
	}
	var target *string
	if c.Target != nil {
		t := string(c.Target)
		target = &t
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO runs (run_id, kind, plan_hash, spec_hash, started, ended, summary, target) VALUES (?, 'run', ?, ?, ?, ?, ?, ?)`,
		c.RunID, sum.PlanHash, c.SpecHash, sum.Started, sum.Started.Add(sum.Elapsed), string(c.SummaryJSON), target); err != nil {
		return fmt.Errorf("state: record run: %w", err)
	}
	for src, wm := range sum.Watermarks {
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO watermarks (source, start_time, call_id, run_id) VALUES (?, ?, ?, ?)`, src, wm.StartTime, wm.CallID, c.RunID); err != nil {
			return fmt.Errorf("state: watermark: %w", err)
		}
	}
	if c.Staged != nil {
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO staging (run_id, path, created, calls, agents, purged_at) VALUES (?, ?, ?, ?, ?, NULL)`,
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
