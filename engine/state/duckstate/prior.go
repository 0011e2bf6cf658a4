package duckstate

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"

	"github.com/applink-dev/applink/engine/state"
)

// loadSlice is how many ledger rows one query of Prior returns at most,
// about: DuckDB materializes a query's whole result before the first row
// is read, so the ledger is read in key ranges of about this many rows.
var loadSlice = 1 << 18

// loadMemory is DuckDB's memory limit while the prior ledger loads.
const loadMemory = "16MB"

// Prior loads the committed ledger into an Index. Rows come through the
// driver's own interface (database/sql's conversions cost more than the
// rest), fingerprint and active flag packed into one column.
func (s *Store) Prior(ctx context.Context) (_ *state.Index, err error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM ledger`).Scan(&n); err != nil {
		return nil, fmt.Errorf("state: count ledger: %w", err)
	}
	b := state.NewIndexBuilder(n)
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("state: load ledger: %w", err)
	}
	defer conn.Close()
	// What the load reads stays in DuckDB's buffer pool for the rest of
	// the run unless the pool is small: cap it for the load (a slice's
	// result is 4 MiB), then give the commit its usual limit back. 10 M
	// rows, nothing new: 252 MB peak RSS with the usual 128 MB, 150 MB
	// with 48 MB and 1 M-row slices, 107 MB with 16 MB and 256 k-row
	// slices (1 M rows: 105 MB).
	var limit string
	if err := conn.QueryRowContext(ctx, `SELECT current_setting('memory_limit')`).Scan(&limit); err != nil {
		return nil, fmt.Errorf("state: load ledger: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `SET memory_limit = '`+loadMemory+`'`); err != nil {
		return nil, fmt.Errorf("state: load ledger: %w", err)
	}
	defer func() {
		if _, rerr := conn.ExecContext(ctx, `SET memory_limit = `+sqlString(limit)); rerr != nil && err == nil {
			err = fmt.Errorf("state: restore the memory limit after the load: %w", rerr)
		}
	}()
	err = conn.Raw(func(dc any) error {
		q, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("driver connection %T cannot query", dc)
		}
		parts := uint64(max(1, (n+loadSlice-1)/loadSlice))
		step := ^uint64(0) / parts
		dest := make([]driver.Value, 2)
		for p := range parts {
			lo, hi := p*step, p*step+step-1
			if p == parts-1 {
				hi = ^uint64(0)
			}
			rows, err := q.QueryContext(ctx, fmt.Sprintf(`SELECT key, fp | active::UBIGINT FROM ledger WHERE key BETWEEN %d AND %d`, lo, hi), nil)
			if err != nil {
				return err
			}
			for {
				if err = rows.Next(dest); err != nil {
					break
				}
				key, ok1 := dest[0].(uint64)
				fpa, ok2 := dest[1].(uint64)
				if !ok1 || !ok2 {
					err = fmt.Errorf("unexpected ledger row types %T, %T", dest[0], dest[1])
					break
				}
				b.Add(key, fpa, fpa&1 == 1)
			}
			rows.Close()
			if err != io.EOF {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("state: load ledger: %w", err)
	}
	return b.Finish()
}
