// Package delivery owns the delivery of queued calls: with PostgreSQL
// state, a run does not send its calls itself but records each as `queued`
// and enqueues a River job for it in its commit (Enqueue wraps the run's
// sink and ledger for that); `applink worker` processes run Worker on any
// number of machines and deliver each job to the spec's target.
//
// A worker keeps, for its life, one client per sink target (CallClient:
// one discovery, one token, pooled connections, only the requests that
// carry a call) and one segment writer per outbox folder (the outbox with
// workers shares no file: see connectors/outbox). The ledger checks and
// settles of deliveries that end together are one PostgreSQL round trip
// each (a group commit, group.go); River's completer completes the jobs in
// batches after Work returns. Settling is idempotent: a worker killed after
// settling but before the completion redelivers nothing (the row is no
// longer this delivery's), one killed before settling delivers again under
// the same Idempotency-Key (CXone) or writes the same segment record (the
// outbox), so nothing is counted twice.
//
// A job carries the call itself (Args), not a reference to the staged copy:
// the staging folder lives on the machine that ran the spec, a worker may
// be elsewhere, and reading one call back out of a staged calls.jsonl is a
// scan. A call is a few hundred bytes (business data at most 50 values);
// its media is referenced by absolute path (OutCall.MediaFile), read by the
// sink when it delivers, so Engage's media store must be reachable from the
// workers at the same path as from the run. The job also carries the sink's
// user id of the call's agent as the run resolved it, so a delivery needs
// no user search. Where it goes (the spec's sink block, or the outbox
// folder, and the fields) is recorded once per run (Target, in the run's
// history row).
//
// River's retries with backoff replace the sink's whole-delivery retries
// (the row shows `retrying` with its last error meanwhile); a killed
// worker's jobs are rescued by River and finished by another worker; a
// delivery that keeps failing ends `failed` with its reason on its last
// attempt, and a sweep fails the ledger row of any job River discarded
// without it (a worker killed on the last attempt), so no row stays queued
// for ever. The tenant's request rate is shared by the workers running
// deliveries (counted from River's jobs every ShareEvery).
package delivery
