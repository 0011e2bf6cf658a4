// Package report owns `applink report`: what a spec's state says, built into
// one value (Build) and rendered as text, JSON or a self-contained HTML page
// a customer can read and print (inline SVG charts, no scripts).
//
// The report shows the whole ledger first (every agent and call read so far,
// by state and reason, each reason explained in a sentence from the engine's
// rule tables), the accounting of the latest run (every source call row in a
// ledger state, unreadable, or a duplicate; business-data rows without a call
// on a line of their own), bad rows with file:line, failures, and below them
// the run history with what each run sent. With a run id it narrows to that
// run. Every number of a run comes from its engine.RunRecord (accounting
// included, RunRecord.Accounting), as the state returns it; with a delivery
// queue a run line also says where the calls it queued are now. It reads the
// state only through the State interface, so any state
// backend can be reported on; the plan, when the spec still compiles, names
// the customer, the CXone tenant and the import window.
package report
