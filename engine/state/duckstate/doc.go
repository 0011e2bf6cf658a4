// Package duckstate is the DuckDB state driver: one spec's state in a file
// (SPECDIR/.applink/state.duckdb by default), migrated with goose from the
// one migration source (engine/state/migrations) through a goose store of
// its own (goose has no DuckDB dialect); files of the hand-written
// migrations before goose are adopted. Its commit is tuned to keep memory
// flat (spilling upserts, a small buffer pool while loading the prior
// ledger). The file lock is its fence: one process writes a spec at a time.
package duckstate
