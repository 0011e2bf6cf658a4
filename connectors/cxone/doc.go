// Package cxone owns the CXone sink: it sends a run's agents, calls (metadata
// and media) and business data to a NICE CXone tenant over HTTPS, and reports
// every call it could not deliver through engine.RunInfo.Fail.
//
// What it guarantees: bounded concurrency, a token-bucket rate limit,
// retries with jittered exponential backoff on 5xx, 408, timeouts and dropped
// connections (6 attempts), Retry-After on 429 (pausing every worker), a
// fresh token 60 s before expiry and on a 401 (the first 401 of a request is
// retried at once; further ones are backed-off attempts, so a burst of
// expiries cannot fail a row but a lasting 401 does), and an Idempotency-Key on every call write so that a retry or a
// rerun after a crash is answered with the first result instead of creating a
// second recording. Secrets (the four CXONE_* variables and every token) never
// appear in errors, logs, failure reasons or dry-run output: every text that
// leaves the package goes through a redactor.
//
// Which endpoints follow published CXone documentation and which are ours:
//
//   - POST {auth_url}/auth/token, OAuth2 password grant with the access key
//     as username/password and the application's client id/secret as HTTP
//     Basic: CXone's "Authentication and Authorization" guide for registered
//     back-end applications (as stated in issue 7; the stored copy of the
//     developer portal we could search documents the older
//     /authentication/v1/token/access-key flow, not this page, so check the
//     tenant's registration before go-live).
//   - PUT {api_url}/business-data-manager/v1/business-data/contact/{contactId}
//     with a JSON array of one-key objects: published (CXone help, "Business
//     Data API"; 204 on success, 404 for an unknown contact).
//   - /user-management/v1/users (GET ?email=, POST, PUT /{id}): the path is
//     the one issue 7 names; the request and response field names are our
//     assumption and are not checked against a published page.
//   - POST {api_url}{calls_path} and PUT {api_url}{media_path}: our contract,
//     because CXone has no public API for importing external recordings. See
//     CONTRACT.md: it is the interface a CXone-side receiver must implement.
package cxone
