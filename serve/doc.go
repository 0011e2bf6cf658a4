// Package serve owns `applink serve`: it runs each spec's incremental run
// (engine/workspace's Run) on its schedule, never two runs of one spec at
// once, logs each run's summary as one structured line, and answers HTTP:
// /healthz, /readyz, /metrics (Prometheus, on a registry of its own) and a
// server-rendered status page at /.
//
// Exactly one process runs a spec: a Lock per spec (lock.go) decides which.
// The file lock (DIR/.applink/serve.lock, the default with the DuckDB state)
// makes a second serve on the same machine a standby; the PostgreSQL
// advisory lock (pglock.go, held on a dedicated connection) does the same
// across machines, keyed by the spec's state key, read in the current
// database only, its holder named with host, pid and since. A standby polls
// the lock and takes over when the holder dies; a holder that loses its
// lock connection stops its run at the next batch boundary before anyone
// else may have taken over. With a PostgreSQL state each takeover also
// advances the spec's fencing epoch (Spec.Takeover), so a holder that lost
// the lock without noticing can never commit: its run is refused and it
// stands by.
//
// Files: serve.go (Options, Spec, the server), scheduler.go (one loop per
// spec), lock.go and pglock.go, metrics.go, status.go with status.html
// (the page; delivery.go its delivery panel), health.go (/healthz,
// /readyz), worker.go (a delivery worker's endpoint and metrics: deliveries
// by outcome and reason, their duration, the sink's requests, retries and
// token refreshes, the queue by state), history.go (a run's view, from
// its engine.RunRecord: the same for a run this process made and one read
// back from the state's history).
//
// Like engine/workspace it sits above engine and below cmd: it never names
// a concrete connector. What depends on the PostgreSQL state (the delivery
// queue's depth, the lock's DSN from the spec's state block) comes in
// through small interfaces declared here: QueueDepth, DeliveryReader,
// SinkCounters, Lock.
package serve
