// Package state owns a spec's state as a driver interface, the way river
// splits riverdriver from riverpgxv5: this package holds Backend, Driver
// and Drivers, Config and the types (ledger rows and counts, the run
// history, the staging index, the delivery queue's stats, fencing holders,
// delivery outcomes), the run's change set (RunLedger: what a run changed,
// written to a CSV file and applied by the backend as one ChangeSet in one
// transaction after the sink committed) and the prior Index every backend
// builds through IndexBuilder. It links no database driver: packages that
// only read the state (engine/report) stay free of pgx, River, goose and
// DuckDB, and cmd wires the drivers.
//
// The drivers:
//   - duckstate: the embedded default, a DuckDB file per spec
//     (SPECDIR/.applink/state.duckdb); the file lock fences it.
//   - pgstate: a PostgreSQL database shared by specs (keyed by the spec's
//     key), `serve` processes and delivery workers, in a schema of its own
//     (applink by default), River's tables beside applink's; runs enqueue
//     their deliveries in their commit, workers settle them in batches, and
//     each takeover of a spec advances an epoch that fences stale commits.
//
// Both migrate from one source (engine/state/migrations: goose SQL written
// once, rendered per dialect); a read-only open never migrates. The
// backend-independent tests are statetest's suite.
package state
