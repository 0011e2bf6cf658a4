// Package duckref is the reference DuckDB SQL of shared/performance.md: the
// demo spec's pipeline written as DuckDB's best equivalent SQL (read_csv,
// the rule predicates as WHERE, business data as map(list(name),
// list(value)) per call, joined), which applink's figures are compared
// with in the same benchmark run.
package duckref
