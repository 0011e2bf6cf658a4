// Package cxone owns the CXone sink: it sends a run's agents, calls (metadata
// and media) and business data to a NICE CXone tenant over HTTPS, and reports
// every row it could not deliver through engine.RunInfo.Fail. It also owns
// Check, what `applink check` says about a cxone sink block.
//
// What it guarantees: bounded concurrency, a token-bucket rate limit (and
// one of its own for business data), retries with jittered exponential
// backoff on 5xx, 408, timeouts and dropped connections (6 attempts),
// Retry-After on 429 (pausing every worker), a fresh token 60 s before
// expiry and on a 401 (the first 401 of a request is retried at once;
// further ones are backed-off attempts, so a burst of expiries cannot fail a
// row but a lasting 401 does), and an Idempotency-Key on every call write so
// that a retry or a rerun after a crash is answered with the first result
// instead of creating a second recording. Secrets (the four CXONE_*
// variables and every token) never appear in errors, logs, failure reasons,
// check or dry-run output: every text that leaves the package goes through
// a redactor.
//
// Which endpoints follow published CXone documentation and which are ours
// (CONTRACT.md has each with its page and its required fields):
//
//   - Discovery and authentication, published (developer portal, "Getting
//     Started" tasks 4 and 5, "API Authentication and Authorization"):
//     GET {issuer}/.well-known/openid-configuration → token_endpoint;
//     POST token_endpoint, password grant (access key as username/password,
//     client id/secret as HTTP Basic) → access_token, id_token;
//     GET {issuer}/.well-known/cxone-configuration?tenantId=T →
//     api_endpoint, T being the id_token's tenantId claim (the claim's name
//     is assumed), used when api_url is not set.
//   - User management, published (User Hub OpenAPI document
//     cxone-usermanagement-api-docs): POST /user-management/v2/users/search
//     to find by email, POST /user-management/v1/users to register, GET
//     /user-management/v3/users/{userId} then PUT /user-management/v1/users
//     to update, sending back what applink does not own as read.
//   - PUT /business-data-manager/v1/business-data/contact/{contactId},
//     published (CXone help, "Business Data API"): 204 on success, 404 for
//     a contact not found or not closed yet (the call fails
//     bd_contact_not_found and the next run retries it).
//   - POST {api}{calls_path} and PUT {api}{media_path}: our contract,
//     because CXone has no public API for importing external recordings.
//     See CONTRACT.md: it is the interface a CXone-side receiver must
//     implement.
package cxone
