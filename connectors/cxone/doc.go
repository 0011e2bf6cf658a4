// Package cxone owns the CXone sink and its client: it sends agents,
// calls (metadata and media) and business data to a NICE CXone tenant over
// HTTPS, reports every row it could not deliver as a typed connector.Failure
// through connector.RunInfo.Fail (and what it sent of each call's media
// through RunInfo.MediaSent), and owns Check, what `applink check` says
// about a cxone sink block, and the block's extra settings (settings.go).
//
// The pieces:
//
//   - Client (client.go): one per target (issuer, tenant, credentials),
//     long-lived and safe for concurrent use: one discovery, one token
//     (golang.org/x/oauth2's password grant, form-encoded, over HTTP/1.1,
//     replaced 60 s before it expires and after a 401, shared by every
//     caller), one connection pool, a token bucket per endpoint family
//     (golang.org/x/time/rate; user management, ingestion, business data)
//     that SetShare scales to a worker's share of the tenant, retries with
//     jittered exponential backoff (cenkalti/backoff) on 5xx, 408, timeouts
//     and dropped connections (6 attempts), Retry-After on 429 up to a
//     limit, an Observer for metrics. A worker keeps one per target (Pool)
//     and calls DeliverCall: three requests per call, no user search.
//   - Ingestion (ingest.go): how a call and its media reach CXone, behind
//     one interface; ingest_applink.go is today's contract (create the
//     interaction with CXone's published names, then attach its media,
//     directly or through a signed upload URL), the one file to replace
//     when NICE publishes its Store & Forward Generic Ingestion API.
//   - Sink (sink.go): connector.Sink over a Client for one run: agents as the
//     engine hands them over (SyncAgent; UserID tells the enqueue what
//     each became), calls on `concurrency` workers. A 429 asking for longer
//     than the run waits stops the sending: the rest is reported
//     rate_limited, which the engine keeps for the next run.
//
// An Idempotency-Key on every call write (and idempotency on the
// interaction id) makes a retry or a rerun after a crash answered with the
// first result instead of a second recording. Secrets (the four CXONE_*
// variables and every token) never appear in errors, logs, failure
// reasons, check or dry-run output: every text that leaves the package goes
// through a redactor.
//
// Which endpoints follow published CXone documentation, which follow what
// practitioners report, and which are ours: CONTRACT.md, request by
// request, with its source.
package cxone
