// Package sourcetest compares a connector.Source with the snapshot source on
// the same demo data, for the tests of the SQL sources: it runs the demo
// spec through the engine into an outbox and a state file, as `applink
// run` does, and checks the outboxes are equal (the media bytes each call
// was sent with included), every snapshot ledger row is in the other
// ledger or counted by its database, and both reports give the same counts
// with nothing unexplained.
package sourcetest
