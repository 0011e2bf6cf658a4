// Command duckref runs the reference DuckDB SQL (package duckref) over a
// demo snapshot, for bench/run.sh to time beside applink:
//
//	duckref --spec SPECDIR [--data DIR] [--db FILE]
//
// The spec gives the import window; the data folder defaults to the spec's
// data/. It prints the number of imported calls.
package main
