// Package bench holds applink's end-to-end benchmark: run.sh generates the
// workloads of shared/performance.md with `applink demo`, times `applink
// run` (first and incremental) and the reference DuckDB SQL (package
// duckref, command cmd/duckref) on each, and prints the table the README's
// Performance section quotes.
package bench
