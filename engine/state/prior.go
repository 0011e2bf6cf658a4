package state

import (
	"context"
	"fmt"
	"slices"

	"github.com/zeebo/xxh3"
)

// Index is the committed ledger as the engine needs it during a run: one
// fingerprint per row, sorted by key for binary search. It is the one
// structure of a run that grows with the number of known rows: 25 bytes a row
// (10 M calls: 250 MB), the price of comparing a full snapshot with the last
// run in one pass.
type Index struct {
	entries []entry
	seen    []bool
}

// entry packs a row: key is xxh3(entity, id) with the low bit replaced by
// "is agent", so an agent and a call with the same id never collide.
type entry struct {
	key    uint64
	fp     uint64
	active bool
}

func rowKey(entity, id string) uint64 {
	h := xxh3.HashString(entity + "\x00" + id)
	h &^= 1
	if entity == "agent" {
		h |= 1
	}
	return h
}

// Prior loads the committed ledger into an Index.
func (s *Store) Prior(ctx context.Context) (*Index, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM ledger`).Scan(&n); err != nil {
		return nil, fmt.Errorf("state: count ledger: %w", err)
	}
	idx := &Index{entries: make([]entry, 0, n)}
	rows, err := s.db.QueryContext(ctx, `SELECT key, fp, active FROM ledger`)
	if err != nil {
		return nil, fmt.Errorf("state: load ledger: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e entry
		if err := rows.Scan(&e.key, &e.fp, &e.active); err != nil {
			return nil, fmt.Errorf("state: load ledger: %w", err)
		}
		idx.entries = append(idx.entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state: load ledger: %w", err)
	}
	slices.SortFunc(idx.entries, func(a, b entry) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	idx.seen = make([]bool, len(idx.entries))
	return idx, nil
}

// Len is the number of rows known.
func (x *Index) Len() int { return len(x.entries) }

// Lookup implements engine.Prior.
func (x *Index) Lookup(entity, id string) (uint64, bool, bool) {
	k := rowKey(entity, id)
	i, ok := slices.BinarySearchFunc(x.entries, k, func(e entry, k uint64) int {
		switch {
		case e.key < k:
			return -1
		case e.key > k:
			return 1
		}
		return 0
	})
	if !ok {
		return 0, false, false
	}
	x.seen[i] = true
	return x.entries[i].fp, x.entries[i].active, true
}

// Unseen counts the rows never looked up: no longer in the source.
func (x *Index) Unseen() (agents, calls int) {
	for i, s := range x.seen {
		if s {
			continue
		}
		if x.entries[i].key&1 == 1 {
			agents++
		} else {
			calls++
		}
	}
	return agents, calls
}
