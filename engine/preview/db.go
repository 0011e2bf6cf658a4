package preview

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/applink-dev/applink/dsl"
)

// DB is a finished preview file, open read-only: the TUI reads counts and
// rows from it without running the plan again.
type DB struct {
	db   *sql.DB
	path string
}

// ErrNotFound is returned by DB.Call for a call the preview does not hold.
var ErrNotFound = errors.New("not in the preview")

// OpenDB opens a preview file read-only. A missing file is an error (it is
// never created).
func OpenDB(path string) (*DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("preview file: %w (run applink preview first)", err)
	}
	db, err := sql.Open("duckdb", path+"?access_mode=read_only")
	if err != nil {
		return nil, fmt.Errorf("preview file %s: %w", path, err)
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("preview file %s: %w", path, err)
	}
	return &DB{db: db, path: path}, nil
}

// OpenIfExists opens the preview file an earlier preview left and reads
// its counts; it returns nil, nil, nil when there is no file.
func OpenIfExists(ctx context.Context, path string) (*Result, *DB, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	db, err := OpenDB(path)
	if err != nil {
		return nil, nil, err
	}
	res, err := db.Result(ctx)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return res, db, nil
}

// Close closes the file.
func (d *DB) Close() error { return d.db.Close() }

// Result returns the counts as Run returned them.
func (d *DB) Result(ctx context.Context) (*Result, error) {
	var js string
	if err := d.db.QueryRowContext(ctx, `SELECT json FROM summary LIMIT 1`).Scan(&js); err != nil {
		return nil, fmt.Errorf("preview file %s: read summary: %w", d.path, err)
	}
	r, err := parseResult([]byte(js))
	if err != nil {
		return nil, err
	}
	r.DBPath = d.path // where it is now, should it have been moved
	return r, nil
}

// RowQuery selects sample rows. Empty fields do not filter.
type RowQuery struct {
	// Stage is a view of Result.Stages: source (every call), after_rules,
	// after_filters or mapped (the calls that reached it); also rejects
	// (every call not imported).
	Stage  string
	State  string // imported | excluded | failed
	Reason string // a reason code; with State empty it matches any state
	Change string // new | changed | unchanged | removed (rows only in the ledger)
	Filter string // case-insensitive substring of call_id, agent_id, agent_user_id, ani or dnis
	Limit  int    // default 100, at most 10 000
	Offset int
}

// Row is one call as the preview saw it.
type Row struct {
	Pos         int64 // order read; -1 for a row only in the ledger
	Source      string
	CallID      string
	Site        string
	AgentID     string
	AgentUserID string
	StartTime   time.Time
	DurationMS  int64
	Direction   string
	ANI, DNIS   string
	State       string
	Reason      string
	Detail      string
	Stage       string // where it stopped: source, rules, filters, mapping, mapped
	Change      string
}

var stageFilter = map[string]string{
	"":               "",
	ViewSource:       "",
	ViewAfterRules:   "r.stage IN ('filters', 'mapping', 'mapped')",
	ViewAfterFilters: "r.stage IN ('mapping', 'mapped')",
	ViewMapped:       "r.stage = 'mapped'",
	"rejects":        "r.state <> 'imported'",
}

// Rows returns the calls matching q in the order they were read; rows no
// longer in the source (Change "removed") come from the ledger copy.
func (d *DB) Rows(ctx context.Context, q RowQuery) ([]Row, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10_000)
	if q.Change == ChangeRemoved {
		return d.removedRows(ctx, q, limit)
	}
	where, ok := stageFilter[q.Stage]
	if !ok {
		return nil, fmt.Errorf("preview: unknown stage %q (source, after_rules, after_filters, mapped, rejects)", q.Stage)
	}
	conds := []string{"true"}
	var args []any
	if where != "" {
		conds = append(conds, where)
	}
	for _, f := range []struct{ col, val string }{{"r.state", q.State}, {"r.reason", q.Reason}, {"r.change", q.Change}} {
		if f.val != "" {
			conds = append(conds, f.col+" = ?")
			args = append(args, f.val)
		}
	}
	if q.Filter != "" {
		conds = append(conds, `(contains(lower(c.call_id), ?) OR contains(lower(c.agent_id), ?) OR contains(lower(r.agent_user_id), ?)
			OR contains(lower(c.ani), ?) OR contains(lower(c.dnis), ?))`)
		f := strings.ToLower(q.Filter)
		args = append(args, f, f, f, f, f)
	}
	args = append(args, limit, max(q.Offset, 0))
	query := `SELECT ` + rowColumns + `
		FROM calls c JOIN results r USING (pos) WHERE ` + strings.Join(conds, " AND ") + ` ORDER BY c.pos LIMIT ? OFFSET ?`
	rows, err := d.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("preview: rows: %w", err)
	}
	out, err := scanRows(rows)
	if err != nil {
		return nil, fmt.Errorf("preview: rows: %w", err)
	}
	return out, nil
}

// rowColumns are a Row's columns over calls c JOIN results r, as scanRows
// reads them.
const rowColumns = `c.pos, c.source, c.call_id, c.site, c.agent_id, r.agent_user_id, c.start_time, c.duration_ms, c.direction,
			c.ani, c.dnis, r.state, r.reason, r.detail, r.stage, r.change`

// scanRows reads rowColumns and closes rows.
func scanRows(rows *sql.Rows) ([]Row, error) {
	defer rows.Close()
	var out []Row
	for rows.Next() {
		var r Row
		if err := rows.Scan(&r.Pos, &r.Source, &r.CallID, &r.Site, &r.AgentID, &r.AgentUserID, &r.StartTime, &r.DurationMS,
			&r.Direction, &r.ANI, &r.DNIS, &r.State, &r.Reason, &r.Detail, &r.Stage, &r.Change); err != nil {
			return nil, err
		}
		r.StartTime = r.StartTime.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// removedRows lists calls of the ledger no longer in the source; State and
// Reason are the ledger's.
func (d *DB) removedRows(ctx context.Context, q RowQuery, limit int) ([]Row, error) {
	conds := []string{"entity = 'call'"}
	var args []any
	for _, f := range []struct{ col, val string }{{"state", q.State}, {"reason", q.Reason}} {
		if f.val != "" {
			conds = append(conds, f.col+" = ?")
			args = append(args, f.val)
		}
	}
	if q.Filter != "" {
		conds = append(conds, "contains(lower(id), ?)")
		args = append(args, strings.ToLower(q.Filter))
	}
	args = append(args, limit, max(q.Offset, 0))
	rows, err := d.db.QueryContext(ctx, `SELECT id, state, reason, detail FROM removed WHERE `+strings.Join(conds, " AND ")+
		` ORDER BY id LIMIT ? OFFSET ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("preview: removed rows: %w", err)
	}
	defer rows.Close()
	var out []Row
	for rows.Next() {
		r := Row{Pos: -1, Change: ChangeRemoved}
		if err := rows.Scan(&r.CallID, &r.State, &r.Reason, &r.Detail); err != nil {
			return nil, fmt.Errorf("preview: removed rows: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// CallDetail is one call in full.
type CallDetail struct {
	Pos         int64 // -1 when only in the ledger (Change "removed")
	Source      string
	Call        dsl.Call // the source columns
	State       string
	Reason      string
	Detail      string // e.g. the filter error or the bad row's position and error
	Stage       string
	AgentUserID string
	FP          uint64
	Change      string
	// BusinessData is the mapped business data as the outbox writes it;
	// nil unless imported.
	BusinessData json.RawMessage
	// SourceBD is the call's source business data, in source order; only
	// when the preview ran with Options.SampleBD.
	SourceBD [][2]string
	// Prev is the ledger's row from the last run; nil for a new call.
	Prev *PrevState
}

// PrevState is a row of the state ledger as the last run left it.
type PrevState struct{ State, Reason, Detail string }

// Call returns one call in full (the first read, should a source repeat an
// id). A call only in the ledger is returned with Change "removed".
func (d *DB) Call(ctx context.Context, callID string) (*CallDetail, error) {
	var cd CallDetail
	k := &cd.Call
	var bd sql.NullString
	var prev PrevState
	err := d.db.QueryRowContext(ctx, `SELECT c.pos, c.source, c.call_id, c.tenant_id, c.site, c.agent_id, c.start_time, c.duration_ms,
			c.direction, c.ani, c.dnis, c.archived, c.audio_packets, c.status, c.exception_code, c.media_path, c.skill,
			r.state, r.reason, r.detail, r.stage, r.agent_user_id, r.fp, r.change, r.prev_state, r.prev_reason, r.prev_detail,
			m.business_data
		FROM calls c JOIN results r USING (pos) LEFT JOIN mapped m USING (pos)
		WHERE c.call_id = ? ORDER BY c.pos LIMIT 1`, callID).Scan(
		&cd.Pos, &cd.Source, &k.CallID, &k.TenantID, &k.Site, &k.AgentID, &k.StartTime, &k.DurationMS,
		&k.Direction, &k.ANI, &k.DNIS, &k.Archived, &k.AudioPackets, &k.Status, &k.ExceptionCode, &k.MediaPath, &k.Skill,
		&cd.State, &cd.Reason, &cd.Detail, &cd.Stage, &cd.AgentUserID, &cd.FP, &cd.Change, &prev.State, &prev.Reason, &prev.Detail,
		&bd)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return d.removedCall(ctx, callID)
	case err != nil:
		return nil, fmt.Errorf("preview: call %s: %w", callID, err)
	}
	k.StartTime = k.StartTime.UTC()
	if bd.Valid {
		cd.BusinessData = json.RawMessage(bd.String)
	}
	if cd.Change != ChangeNew {
		cd.Prev = &prev
	}
	rows, err := d.db.QueryContext(ctx, `SELECT name, value FROM bd WHERE pos = ? ORDER BY rowid`, cd.Pos)
	if err != nil {
		return nil, fmt.Errorf("preview: call %s: business data: %w", callID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var nv [2]string
		if err := rows.Scan(&nv[0], &nv[1]); err != nil {
			return nil, fmt.Errorf("preview: call %s: business data: %w", callID, err)
		}
		cd.SourceBD = append(cd.SourceBD, nv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("preview: call %s: business data: %w", callID, err)
	}
	return &cd, nil
}

func (d *DB) removedCall(ctx context.Context, callID string) (*CallDetail, error) {
	var prev PrevState
	err := d.db.QueryRowContext(ctx, `SELECT state, reason, detail FROM removed WHERE entity = 'call' AND id = ?`, callID).
		Scan(&prev.State, &prev.Reason, &prev.Detail)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("preview: call %s: %w", callID, ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("preview: call %s: %w", callID, err)
	}
	return &CallDetail{Pos: -1, Call: dsl.Call{CallID: callID}, Change: ChangeRemoved, Prev: &prev}, nil
}
