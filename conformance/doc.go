// Package conformance owns the executable statement of the contract
// (shared/README.md §2–§5): a suite of cases, each one txtar archive holding a
// spec folder, Engage snapshot data and the exact expected result, run
// through the real dsl, engine, snapshot source and outbox sink.
//
// A case is a txtar file:
//
//	A comment saying what the case shows.
//	-- spec/main.hcl --            the spec folder (every spec/*.hcl); a source's
//	                               path is relative to it, so "../data"
//	-- data/agents.csv --          snapshot files (§4); data/NAME/… for several sources
//	-- data/calls.csv --
//	-- data/business_data.csv --
//	-- expect/diagnostics --       EITHER one line per diagnostic:
//	                               FILE:LINE,COL: severity: Summary
//	-- expect/agents.csv --        OR the outbox (§5), byte for byte,
//	-- expect/calls.jsonl --
//	-- expect/ledger.csv --
//	-- expect/summary --           and optionally the run's counts (SummaryText)
//
// Only the expect/ sections a case has are compared (a spec test may pin
// just the ledger); a case with none fails until recorded. A spec test
// (`applink test DIR`, DIR/tests/*.txtar) is the same format without spec/:
// the folder's own spec is run on the fixture's data/ (data/NAME/ per source
// when there are several).
//
// When a plan has several sources their sites are read concurrently, so the
// order of call rows in calls.jsonl and ledger.csv is not defined; for such
// cases the runner sorts call rows by call_id before comparing (agents keep
// their order). With one source every file is compared exactly as written.
//
// Run computes what a case yields; Result.Diff says how it differs from the
// expectation; Result.Update rewrites the expectation for a reviewer to read
// in the version-control diff.
package conformance
