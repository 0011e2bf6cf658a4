// Package sqlrow turns rows that SQL sources read (through duckdb-go or
// go-mssqldb) into the engine's canonical records: one converter per
// canonical type and one mapper per canonical query, shared by the duckdb
// and mssql sources so that the same value reads the same way from either.
//
// The rules follow the snapshot format (shared/README.md §4), read from
// what a driver returns:
//   - NULL reads as the zero value, as an empty CSV cell does;
//   - text cells follow the snapshot's syntax strictly: integers are
//     decimal digits ("12.0" is not an integer), booleans true|false,
//     times RFC 3339;
//   - typed database values convert when the conversion is exact: a
//     FLOAT or DECIMAL 12.0 is the integer 12 (12.5 is an error), a BIT
//     or an integer 0/1 is a boolean (2 is an error), a DATETIME2 is a time;
//   - enumerated columns take exactly the engine's values
//     (connector.Directions, connector.Statuses).
//
// A value that breaks a rule makes the row a bad row (Err set, naming the
// column), never a stop.
package sqlrow
