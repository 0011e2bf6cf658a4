#!/usr/bin/env bash
# bench/run.sh: applink's end-to-end benchmark (issue 14, shared/performance.md).
#
# For each workload CALLSxFIELDS it generates the demo snapshot and spec with
# `applink demo --calls CALLS --bd-fields FIELDS`, runs `applink run` twice
# (first: everything new; incremental: nothing new) and the reference DuckDB
# SQL once, each under /usr/bin/time -v, and prints a table: wall time,
# peak RSS, CPU time (user + system), calls/s, and DuckDB's wall time over
# applink's first run. Generated data lives in a temporary folder, deleted at
# the end (also on Ctrl-C).
#
#   bench/run.sh                                  # the four workloads of issue 14
#   WORKLOADS="1000000x50" bench/run.sh           # just the reference workload
#   DUCKDB_SQL=0 bench/run.sh                     # skip the DuckDB reference
#   DUCKDB_SQL_MAX_CALLS=10000000 bench/run.sh    # DuckDB SQL up to this size (default 1000000: its
#                                                 # map pipeline needs GBs of memory past that)
#   BENCH_TMP=/big/disk bench/run.sh              # where the data goes (default $TMPDIR or /tmp)
#
# Disk: about 1.6 GB per million calls at 50 fields, 0.6 GB at 5 fields
# (snapshot, outbox, staging copy and state). Run it from the repository.
set -euo pipefail

WORKLOADS=${WORKLOADS:-"1000000x50 1000000x5 10000000x5 30000000x5"}
DUCKDB_SQL=${DUCKDB_SQL:-1}
DUCKDB_SQL_MAX_CALLS=${DUCKDB_SQL_MAX_CALLS:-1000000}
[ -x /usr/bin/time ] || { echo "bench/run.sh: needs GNU time at /usr/bin/time (apt-get install time)" >&2; exit 2; }

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/applink-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

echo "building applink and duckref into $work/bin ..." >&2
(cd "$repo" && go build -o "$work/bin/applink" ./cmd/applink && go build -o "$work/bin/duckref" ./bench/cmd/duckref)

# timed LABEL CMD...: runs CMD under /usr/bin/time -v; sets wall (s), rss
# (MB) and cpu (s). Its output goes to $work/LABEL.out.
timed() {
	local label=$1
	shift
	if ! /usr/bin/time -v -o "$work/$label.time" "$@" >"$work/$label.out" 2>&1; then
		echo "bench/run.sh: $label failed:" >&2
		tail -20 "$work/$label.out" >&2
		exit 1
	fi
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$work/$label.time")
	rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$work/$label.time")
	cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.1f", s}' "$work/$label.time")
}

# The table goes to stdout a row at a time, so an interrupted run still
# shows what it measured; progress goes to stderr.
row() { printf '| %s | %s | %s s | %s MB | %s s | %s | %s |\n' "$@"; }

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start" >&2
echo "| workload (calls × fields) | run | wall | peak RSS | CPU (user+sys) | calls/s | DuckDB SQL wall ÷ this (first) / this ÷ first (incremental) |"
echo "|---|---|---|---|---|---|---|"
for w in $WORKLOADS; do
	calls=${w%x*}
	fields=${w#*x}
	spec="$work/spec-$w"
	echo "== $calls calls x $fields fields: generating ..." >&2
	"$work/bin/applink" demo --calls "$calls" --bd-fields "$fields" --spec "$spec" --quiet >/dev/null
	label="$(printf "%'d" "$calls" 2>/dev/null || echo "$calls") × $fields"

	ref=""
	if [ "$DUCKDB_SQL" = 1 ] && [ "$calls" -le "$DUCKDB_SQL_MAX_CALLS" ]; then
		echo "   DuckDB reference SQL ..." >&2
		timed "duck-$w" "$work/bin/duckref" --spec "$spec" --db "$work/ref-$w.duckdb"
		rm -f "$work/ref-$w.duckdb" "$work/ref-$w.duckdb.wal"
		ref=$wall
		row "$label" "DuckDB SQL" "$wall" "$rss" "$cpu" "$(awk -v c="$calls" -v t="$wall" 'BEGIN {printf "%.0f", c / t}')" "1"
	fi
	for run in first incremental; do
		echo "   applink run ($run) ..." >&2
		timed "$run-$w" "$work/bin/applink" run --quiet "$spec"
		grep -q "^sent: nothing" "$work/$run-$w.out" && [ "$run" = first ] && { echo "bench/run.sh: the first run sent nothing" >&2; exit 1; }
		if [ "$run" = incremental ] && ! grep -q "^sent: nothing" "$work/$run-$w.out"; then
			echo "bench/run.sh: the incremental run sent something:" >&2
			grep "^sent:" "$work/$run-$w.out" >&2
			exit 1
		fi
		ratio="–"
		[ -n "$ref" ] && [ "$run" = first ] && ratio=$(awk -v r="$ref" -v t="$wall" 'BEGIN {printf "%.2f×", r / t}')
		[ "$run" = first ] && first_wall=$wall
		[ "$run" = incremental ] && ratio=$(awk -v f="$first_wall" -v t="$wall" 'BEGIN {printf "%.0f %% of first", 100 * t / f}')
		row "$label" "$run" "$wall" "$rss" "$cpu" "$(awk -v c="$calls" -v t="$wall" 'BEGIN {printf "%.0f", c / t}')" "$ratio"
	done
	rm -rf "$spec"
done
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end" >&2
