package state

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"

	"github.com/applink-dev/applink/engine/keyset"
	"github.com/zeebo/xxh3"
)

// Index is the committed ledger as the engine needs it during a run: one
// fingerprint per row, in a keyset (a scratch file past a few thousand
// rows, read a 1 KiB block per lookup), so the run's resident memory does
// not grow with the rows it knows. In memory per row there is only the
// "looked up" bit and the keyset's 8 bytes per 64 rows: 30 M rows need
// 7.5 MB.
type Index struct {
	set  *keyset.Set // key rowKey(entity, id) → fingerprint, active flag in its low bit
	seen []uint64    // bitset over the set's positions: looked up this run
}

// indexLimits are the keysets' memory limits (the zero value: defaults);
// tests lower them to exercise the files with a few rows.
var indexLimits keyset.Limits

// rowKey is xxh3(entity, id) with the low bit replaced by "is agent", so an
// agent and a call with the same id never collide.
func rowKey(entity, id string) uint64 {
	h := xxh3.HashString(entity + "\x00" + id)
	h &^= 1
	if entity == "agent" {
		h |= 1
	}
	return h
}

// RowKey is the ledger's 8-byte key of a row: xxh3(entity, id) with the low
// bit replaced by "is agent", so an agent and a call with the same id never
// collide. Every backend stores it, so the prior index is built without
// reading ids.
func RowKey(entity, id string) uint64 { return rowKey(entity, id) }

// IndexBuilder builds the prior Index from a backend's committed ledger, one
// (key, fingerprint, active) row at a time, in any order (in key order is
// cheapest). It is the one way an Index is made, whatever the backend.
type IndexBuilder struct {
	b *keyset.Builder
}

// NewIndexBuilder starts an index; sizeHint is the expected number of rows
// (0 when unknown).
func NewIndexBuilder(sizeHint int) *IndexBuilder {
	return &IndexBuilder{b: keyset.NewBuilder(sizeHint, indexLimits)}
}

// Add adds one committed ledger row. The fingerprint's low bit, which the
// engine leaves 0, carries the active flag.
func (b *IndexBuilder) Add(key, fp uint64, active bool) {
	v := fp &^ 1
	if active {
		v |= 1
	}
	b.b.Add(key, v)
}

// Finish returns the index, ready for lookups.
func (b *IndexBuilder) Finish() (*Index, error) {
	set, err := b.b.Finish()
	if err != nil {
		return nil, fmt.Errorf("state: prior index: %w", err)
	}
	return &Index{set: set, seen: make([]uint64, (set.Len()+63)/64)}, nil
}

// loadSlice is how many ledger rows one query of Prior returns at most,
// about: DuckDB materializes a query's whole result before the first row
// is read, so the ledger is read in key ranges of about this many rows.
var loadSlice = 1 << 18

// loadMemory is DuckDB's memory limit while the prior ledger loads.
const loadMemory = "16MB"

// Prior loads the committed ledger into an Index. Rows come through the
// driver's own interface (database/sql's conversions cost more than the
// rest), fingerprint and active flag packed into one column.
func (s *Store) Prior(ctx context.Context) (_ *Index, err error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM ledger`).Scan(&n); err != nil {
		return nil, fmt.Errorf("state: count ledger: %w", err)
	}
	b := NewIndexBuilder(n)
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

// Len is the number of rows known.
func (x *Index) Len() int { return x.set.Len() }

// Lookup implements engine.Prior.
func (x *Index) Lookup(entity, id string) (uint64, bool, bool) {
	i, v, ok := x.set.Find(rowKey(entity, id))
	if !ok {
		return 0, false, false
	}
	x.seen[i/64] |= 1 << (i % 64)
	return v &^ 1, v&1 == 1, true
}

// Unseen counts the rows never looked up: no longer in the source.
func (x *Index) Unseen() (agents, calls int) {
	x.set.Each(func(i int, key, _ uint64) {
		if x.seen[i/64]&(1<<(i%64)) != 0 {
			return
		}
		if key&1 == 1 {
			agents++
		} else {
			calls++
		}
	})
	return agents, calls
}

// Close releases the index's scratch file at once rather than when the
// Index is collected. The Index must not be used after.
func (x *Index) Close() error { return x.set.Close() }
