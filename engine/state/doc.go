// Package state owns a spec's state behind one interface, Backend: the
// ledger (every source agent and call with its last state, reason,
// fingerprint and the run that set it, keyed by an 8-byte RowKey), per-source
// watermarks, the run history and the staging index.
//
// Two backends implement it. Store is the embedded default, a DuckDB file
// (SPECDIR/.applink/state.duckdb); its schema is versioned in code, an older
// file upgraded, a newer one refused. PGStore is a PostgreSQL database that
// several specs (keyed by the spec's key), `serve` processes and delivery
// workers share; its schema is versioned with goose (migrations/postgres),
// River's tables beside it with River's migrator. A spec picks it with a
// `state { driver = "postgres" dsn = env("APPLINK_STATE_DSN") }` block.
//
// Both implement the engine's Prior (the committed ledger, built only through
// IndexBuilder) and LedgerWriter (RunLedger: what a run changed, written to a
// CSV file and applied as one ChangeSet in one transaction after the sink
// committed). With PostgreSQL a run may also Enqueue delivery jobs, inserted
// as River jobs in that same transaction (see engine/delivery); Queue and
// PGStore.QueueBySpec count what waits for the workers, for `report` and
// `/metrics`.
//
// OpenReadOnly and the queries of queries.go are what reports and the TUI
// read (engine/report declares the interface).
package state
