// Package pgstate is the PostgreSQL state driver: a database that several
// specs (keyed by the spec's key), `serve` processes and delivery workers
// share, in a schema of its own (applink by default). applink's tables are
// migrated with goose from the one migration source
// (engine/state/migrations), River's with River's migrator, beside them in
// the same schema. A run's calls are queued there as River jobs for the
// workers, inserted with the run's commit; workers settle them in batches
// (SettleTx). Each takeover of a spec advances its fencing epoch
// (Takeover): a commit or an enqueue under a stale epoch fails with
// state.ErrFenced and commits nothing.
package pgstate
