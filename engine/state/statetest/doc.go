// Package statetest gives tests a fresh PostgreSQL state (a schema of its
// own in the database APPLINK_TEST_PG_DSN names, dropped when the test
// ends) and the suite every state.Backend passes (suite.go), run by the
// drivers' tests.
package statetest
