// Package snapshot reads an Engage snapshot folder (agents.csv, calls.csv,
// business_data.csv; shared/README.md §4) as a connector.Source.
//
// It owns a byte-level RFC 4180 scanner (Scanner) that agrees with
// encoding/csv record for record but does not allocate per record, and the
// join of business data to calls: a one-pass merge join when
// business_data.csv holds each call's rows together in calls.csv order, and
// an external-sort path with bounded memory for any other order (sortjoin.go).
// Every join emits through one read loop over calls.csv (joiner.readCalls);
// the paths differ only in where a call's business data comes from (groups).
//
// Reading uses every core (check.go, pipeline.go). The order check must
// finish before the first call is emitted (a row found out of order later
// would mean calls already sent without it): it cuts business_data.csv
// into ranges checked concurrently, and notes where the file may be cut
// into chunks at group starts. Worker goroutines then parse the chunks into
// batches of finished groups while the caller's goroutine reads calls.csv,
// takes the batches in file order and emits. Memory is bounded by the
// batches in flight, whatever the number of calls.
//
// Damaged input never loses more than itself. The scanner resynchronises
// on records of the header's width (Scanner.Width): a line it cannot read
// (bad quoting, wrong number of columns) is reported alone, with its
// file:line, the error and its text cut to 200 bytes, and reading resumes
// on the next line. What a source emits for such a line:
//   - agents.csv, calls.csv: a bad row, with its id when the first column
//     could be read (the engine makes it failed/bad_row), else without;
//   - business_data.csv, call_id readable and in calls.csv: the call fails
//     (bad_row, its Err names the line and why) rather than go out with a
//     value silently missing; the same when a call gives a name twice;
//   - business_data.csv, call_id not in calls.csv or not readable: a row
//     without a call (connector.ErrBDWithoutCall), counted on its own line
//     with its file:line, never as a call row.
//
// Validate (validate.go) is the validate-time check of a folder: it exists
// and holds the three files with their headers.
package snapshot
