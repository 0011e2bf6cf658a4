// Package cxonetest owns a fake CXone tenant for tests: an httptest server
// that implements the token endpoint, user management, the call-import
// contract of connectors/cxone/CONTRACT.md and business data, records every
// request, answers a repeated Idempotency-Key with the first result, and
// injects faults on a schedule (500s, 429 with Retry-After, slow answers,
// dropped connections, token expiry, duplicate-creation 409s).
//
// It counts the final writes it applied per idempotency key, so a test can
// assert exactly-once delivery under those faults. It is used by the cxone
// package's tests and by the CLI's tests (Environ gives the credentials).
package cxonetest
