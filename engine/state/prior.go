package state

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/zeebo/xxh3"
)

// Index is the committed ledger as the engine needs it during a run: one
// fingerprint per row, sorted by key for binary search, 16 bytes a row plus a
// bit (10 M rows: 160 MB). It is the one structure of a run that grows with
// the number of known rows, the price of comparing a full snapshot with the
// last run in one pass.
type Index struct {
	entries []entry
	seen    []uint64 // bitset over entries: looked up this run
}

// entry packs a row. key is rowKey(entity, id); fpa is the fingerprint, whose
// low bit the engine leaves 0, with the agent's active flag in that bit.
type entry struct {
	key uint64
	fpa uint64
}

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
// (key, fingerprint, active) row at a time, in any order. It is the one way
// an Index is made, whatever the backend.
type IndexBuilder struct {
	idx *Index
}

// NewIndexBuilder starts an index; sizeHint is the expected number of rows
// (0 when unknown).
func NewIndexBuilder(sizeHint int) *IndexBuilder {
	return &IndexBuilder{idx: &Index{entries: make([]entry, 0, sizeHint)}}
}

// Add adds one committed ledger row.
func (b *IndexBuilder) Add(key, fp uint64, active bool) {
	e := entry{key: key, fpa: fp &^ 1}
	if active {
		e.fpa |= 1
	}
	b.idx.entries = append(b.idx.entries, e)
}

// Finish returns the index, ready for lookups.
func (b *IndexBuilder) Finish() (*Index, error) {
	idx := b.idx
	slices.SortFunc(idx.entries, func(a, b entry) int { return cmp.Compare(a.key, b.key) })
	idx.seen = make([]uint64, (len(idx.entries)+63)/64)
	return idx, nil
}

// Prior loads the committed ledger into an Index.
func (s *Store) Prior(ctx context.Context) (*Index, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM ledger`).Scan(&n); err != nil {
		return nil, fmt.Errorf("state: count ledger: %w", err)
	}
	b := NewIndexBuilder(n)
	rows, err := s.db.QueryContext(ctx, `SELECT key, fp, active FROM ledger`)
	if err != nil {
		return nil, fmt.Errorf("state: load ledger: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var key, fp uint64
		var active bool
		if err := rows.Scan(&key, &fp, &active); err != nil {
			return nil, fmt.Errorf("state: load ledger: %w", err)
		}
		b.Add(key, fp, active)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state: load ledger: %w", err)
	}
	return b.Finish()
}

// Len is the number of rows known.
func (x *Index) Len() int { return len(x.entries) }

// Lookup implements engine.Prior.
func (x *Index) Lookup(entity, id string) (uint64, bool, bool) {
	k := rowKey(entity, id)
	i, ok := slices.BinarySearchFunc(x.entries, k, func(e entry, k uint64) int { return cmp.Compare(e.key, k) })
	if !ok {
		return 0, false, false
	}
	x.seen[i/64] |= 1 << (i % 64)
	e := x.entries[i]
	return e.fpa &^ 1, e.fpa&1 == 1, true
}

// Unseen counts the rows never looked up: no longer in the source.
func (x *Index) Unseen() (agents, calls int) {
	for i, e := range x.entries {
		if x.seen[i/64]&(1<<(i%64)) != 0 {
			continue
		}
		if e.key&1 == 1 {
			agents++
		} else {
			calls++
		}
	}
	return agents, calls
}
