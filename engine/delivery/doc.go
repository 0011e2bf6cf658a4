// Package delivery owns the delivery of queued calls: with PostgreSQL
// state, a run does not send its calls itself but records each as `queued`
// and enqueues a River job for it in the same transaction as its commit
// (Enqueue wraps the run's sink and ledger for that); `applink worker`
// processes run Worker on any number of machines, deliver each job to the
// spec's sink and complete the job and the ledger row (imported, or failed
// with its reason) in one transaction.
//
// A job carries the call itself (Args), not a reference to the staged copy:
// the staging folder lives on the machine that ran the spec, a worker may
// be elsewhere, and reading one call back out of a staged calls.jsonl is a
// scan. A call is a few hundred bytes (business data at most 50 values);
// its media is referenced by path (OutCall.MediaFile), read by the sink
// when it delivers, so Engage's media store must be reachable from the
// workers at the same path as from the run. Where it goes (the spec's sink
// block, or the outbox folder, and the fields) is recorded once per run
// (Target, in the run's history row).
//
// River's retries with backoff replace the sink's whole-delivery retries;
// a killed worker's jobs are rescued by River and finished by another
// worker; a delivery that keeps failing ends `failed` with its reason on
// its last attempt, and a sweep fails the ledger row of any job River
// discarded without it (a worker killed on the last attempt), so no row
// stays queued for ever.
package delivery
