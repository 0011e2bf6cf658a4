package preview

import (
	"context"
	"database/sql"
	"fmt"
)

// The diff as the TUI pages through it: every call in the order read, then
// the calls no longer in the source, loaded a page at a time, with a query
// for the next change anywhere in it. calls.pos is dense (0 … n−1, the
// collector numbers every observed call), so the row at index i < n of the
// full diff is the call at pos i: a page and a jump are range lookups, not
// an OFFSET over the whole table.

// DiffQuery selects a page of the diff.
type DiffQuery struct {
	// Change is "" for the full diff (every call in the order read, then
	// the removed ones by id), or one kind: new, changed, unchanged, removed.
	Change string
	Offset int
	Limit  int // default 100, at most 10 000
}

// changeKinds is what a run would change; "removed" rows are changes too.
const changeKinds = `('new', 'changed')`

// DiffLen is how many rows the diff of a kind lists ("" the full diff).
func (d *DB) DiffLen(ctx context.Context, change string) (int, error) {
	var n int
	var err error
	switch change {
	case "":
		err = d.db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM results) + (SELECT count(*) FROM removed WHERE entity = 'call')`).Scan(&n)
	case ChangeRemoved:
		err = d.db.QueryRowContext(ctx, `SELECT count(*) FROM removed WHERE entity = 'call'`).Scan(&n)
	case ChangeNew, ChangeChanged, ChangeUnchanged:
		err = d.db.QueryRowContext(ctx, `SELECT count(*) FROM results WHERE change = ?`, change).Scan(&n)
	default:
		return 0, fmt.Errorf("preview: unknown change kind %q (new, changed, unchanged, removed)", change)
	}
	if err != nil {
		return 0, fmt.Errorf("preview: diff length: %w", err)
	}
	return n, nil
}

// DiffRows returns one page of the diff.
func (d *DB) DiffRows(ctx context.Context, q DiffQuery) ([]Row, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10_000)
	off := max(q.Offset, 0)
	switch q.Change {
	case "":
	case ChangeRemoved:
		return d.removedRows(ctx, RowQuery{Offset: off}, limit)
	case ChangeNew, ChangeChanged, ChangeUnchanged:
		// The page's positions first, from results alone; only they are
		// joined with calls (an OFFSET over the join costs a join of the
		// whole preview per page).
		rows, err := d.db.QueryContext(ctx, `WITH page AS (SELECT pos FROM results WHERE change = ? ORDER BY pos LIMIT ? OFFSET ?)
			SELECT `+rowColumns+` FROM page JOIN calls c USING (pos) JOIN results r USING (pos) ORDER BY c.pos`, q.Change, limit, off)
		if err != nil {
			return nil, fmt.Errorf("preview: diff rows: %w", err)
		}
		out, err := scanRows(rows)
		if err != nil {
			return nil, fmt.Errorf("preview: diff rows: %w", err)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("preview: unknown change kind %q (new, changed, unchanged, removed)", q.Change)
	}
	n, err := d.callCount(ctx)
	if err != nil {
		return nil, err
	}
	var out []Row
	if off < n {
		rows, err := d.db.QueryContext(ctx, `SELECT `+rowColumns+`
			FROM calls c JOIN results r USING (pos) WHERE c.pos >= ? AND c.pos < ? ORDER BY c.pos`, off, off+limit)
		if err != nil {
			return nil, fmt.Errorf("preview: diff rows: %w", err)
		}
		out, err = scanRows(rows)
		if err != nil {
			return nil, fmt.Errorf("preview: diff rows: %w", err)
		}
	}
	if rest := limit - len(out); rest > 0 && off+len(out) >= n {
		gone, err := d.removedRows(ctx, RowQuery{Offset: off + len(out) - n}, rest)
		if err != nil {
			return nil, err
		}
		out = append(out, gone...)
	}
	return out, nil
}

// NextChange returns the index, in the diff of kind change, of the next row
// after from (dir > 0) or the previous one before it (dir < 0) that a run
// would change: new, changed, or no longer in the source. It returns -1
// when there is none.
func (d *DB) NextChange(ctx context.Context, change string, from, dir int) (int, error) {
	if dir == 0 {
		return -1, nil
	}
	if change != "" {
		if change == ChangeUnchanged {
			return -1, nil // nothing of this kind changes
		}
		total, err := d.DiffLen(ctx, change)
		if err != nil {
			return -1, err
		}
		if i := from + sign(dir); i >= 0 && i < total {
			return i, nil
		}
		return -1, nil
	}
	n, err := d.callCount(ctx)
	if err != nil {
		return -1, err
	}
	removed, err := d.DiffLen(ctx, ChangeRemoved)
	if err != nil {
		return -1, err
	}
	total := n + removed
	var p sql.NullInt64
	if dir > 0 {
		if from+1 < n {
			if err := d.db.QueryRowContext(ctx, `SELECT min(pos) FROM results WHERE pos > ? AND change IN `+changeKinds, from).Scan(&p); err != nil {
				return -1, fmt.Errorf("preview: next change: %w", err)
			}
			if p.Valid {
				return int(p.Int64), nil
			}
		}
		if i := max(from+1, n); i < total { // every removed row is a change
			return i, nil
		}
		return -1, nil
	}
	if from-1 >= n {
		return min(from-1, total-1), nil
	}
	if err := d.db.QueryRowContext(ctx, `SELECT max(pos) FROM results WHERE pos < ? AND change IN `+changeKinds, min(from, n)).Scan(&p); err != nil {
		return -1, fmt.Errorf("preview: previous change: %w", err)
	}
	if p.Valid {
		return int(p.Int64), nil
	}
	return -1, nil
}

func (d *DB) callCount(ctx context.Context) (int, error) {
	var n int
	if err := d.db.QueryRowContext(ctx, `SELECT count(*) FROM results`).Scan(&n); err != nil {
		return 0, fmt.Errorf("preview: count calls: %w", err)
	}
	return n, nil
}

func sign(x int) int {
	if x < 0 {
		return -1
	}
	return 1
}
