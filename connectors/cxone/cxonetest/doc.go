// Package cxonetest owns a fake CXone tenant for tests. Like CXone, it is
// two hosts: the issuer (OpenID and CXone discovery, the token endpoint,
// issuing id_tokens that name the tenant) and the tenant's API host, which
// implements User Management and the Business Data API as NICE publishes
// them (published.go: it refuses a body missing a required field or
// carrying one the schema does not have, ignores unpublished query
// parameters, has no PUT /users/{id}) and the call-import contract of
// connectors/cxone/CONTRACT.md (ingest.go: the interaction with CXone's
// published names, refusing any field it does not know; its media attached
// directly or, with SignedUploads, through a signed upload URL it returns;
// both idempotent on the interaction id). Like CXone as practitioners
// report it, it answers 406 "No known way to render data" to a request
// without Accept: application/json, refuses a token request over HTTP/2 or
// with a form value that is not form-encoded.
//
// It records every request, answers a repeated Idempotency-Key with the
// first result, injects faults on a schedule (500s, 429 with Retry-After,
// slow answers, dropped connections, token expiry, duplicate-creation 409s)
// and counts the final writes it applied per idempotency key, so a test can
// assert exactly-once delivery under those faults. It is used by the cxone
// package's tests and by the CLI's tests (Environ gives the credentials).
package cxonetest
