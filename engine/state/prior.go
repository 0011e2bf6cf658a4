package state

import (
	"fmt"

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

// SetIndexLimits sets the memory limits of the indexes built from now on
// and returns the previous ones: drivers' tests lower them to exercise the
// spilled paths with a few rows.
func SetIndexLimits(l keyset.Limits) keyset.Limits {
	old := indexLimits
	indexLimits = l
	return old
}

// Spilled reports whether the index lives in a scratch file.
func (x *Index) Spilled() bool { return x.set.Spilled() }

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
