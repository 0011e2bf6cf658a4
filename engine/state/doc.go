// Package state owns a spec's state file (DuckDB, default
// SPECDIR/.applink/state.duckdb): the ledger (every source agent and call with
// its last state, reason, fingerprint and the run that set it), per-source
// watermarks, the run history and the staging index.
//
// It implements the engine's Prior (what earlier runs committed) and
// LedgerWriter (what this run changed, made durable only after the sink
// committed). The schema is versioned: an older file is upgraded, a newer one
// refused. OpenReadOnly and the queries of queries.go are what reports and
// the TUI read (engine/report declares the interface).
package state
