// Package duckdbsource is the connector.Source of driver "duckdb": a DuckDB
// file holding the snapshot's three tables — agents, calls, business_data —
// with the columns of shared/README.md §4 (typed, or all VARCHAR as
// Import leaves them).
//
// It streams calls and business data as two queries in the same order
// (start_time, call_id), merge-joined in one pass, so memory does not grow
// with the number of calls; DuckDB does the sorting (and spills if needed).
// The window (CallQuery.From) and a tenant equality are pushed down; rows
// whose start_time or tenant_id cannot be read are kept, not filtered, so
// they are reported as bad rows exactly as the snapshot source does. The
// rows the push-down leaves out are counted (connector.FilteredCounter), so a
// run's report equals the snapshot source's. Values are converted by
// connectors/sqlrow, as for the mssql source.
// Business-data rows of no call are emitted as bad rows at the end.
//
// Differences from the snapshot source: Pos names the table and call_id
// (a table has no line numbers), duplicate (call_id, name) rows are all
// passed on, and After is ignored (the engine skips those calls itself).
//
// Validate (validate.go) is the validate-time check of a file: it exists,
// opens read-only as DuckDB and holds the three tables with their columns.
package duckdbsource
