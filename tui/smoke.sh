#!/usr/bin/env bash
# smoke.sh: drive `applink tui` in a real terminal (a detached tmux session
# at 80x24) over demo data: step through the preview, open the help, apply
# for real, quit; check the captured screens. Exits non-zero on any mismatch.
#
#   tui/smoke.sh          # from anywhere in the repository
#   tui/smoke.sh --save   # also write the stage-2 screen to tui/testdata/screen.txt
#
# Needs go and tmux. Uses its own tmux server (-L), so it never touches
# the user's sessions.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SAVE=0
[[ "${1:-}" == "--save" ]] && SAVE=1
command -v tmux >/dev/null || { echo "smoke: tmux is not installed" >&2; exit 2; }

TMP=$(mktemp -d)
SOCK="applink-smoke-$$"
T() { tmux -L "$SOCK" -f /dev/null "$@"; }
cleanup() {
	T kill-server 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

screen() { T capture-pane -p -t smoke; }

fail() {
	echo "smoke: FAIL: $*" >&2
	echo "--- screen ---" >&2
	screen >&2 || true
	exit 1
}

# wait_for TEXT [SECONDS]: until the screen shows TEXT.
wait_for() {
	local want=$1 secs=${2:-30} i
	for ((i = 0; i < secs * 10; i++)); do
		if screen 2>/dev/null | grep -qE "(preview|apply) failed"; then
			fail "the TUI reports a failure"
		fi
		if screen 2>/dev/null | grep -qF -- "$want"; then
			[[ -n "${SMOKE_TRACE:-}" ]] && echo "smoke: $(date +%T) saw \"$want\"" >&2
			return 0
		fi
		sleep 0.1
	done
	fail "no \"$want\" on screen after ${secs}s"
}

keys() { T send-keys -t smoke "$@"; }

echo "smoke: building"
(cd "$ROOT" && go build -o "$TMP/applink" ./cmd/applink)
if ! "$TMP/applink" tui --help >/dev/null 2>&1; then
	echo "smoke: FAIL: 'applink tui' is not a command of this build (register cmdTui in cmd/applink/main.go)" >&2
	exit 1
fi
"$TMP/applink" demo --spec "$TMP/spec" --calls 2000 --quiet >/dev/null

echo "smoke: starting applink tui at 80x24"
T new-session -d -s smoke -x 80 -y 24 "'$TMP/applink' tui '$TMP/spec'; echo \"EXITED \$?\"; sleep 60"
wait_for "no preview yet" 20
wait_for "window:"

keys n
wait_for "stage 1/4: read source" 60
keys n
wait_for "stage 2/4: seed rules"
wait_for "left: "
if ((SAVE)); then
	screen >"$ROOT/tui/testdata/screen.txt"
	echo "smoke: saved tui/testdata/screen.txt"
fi
keys n
wait_for "stage 3/4: spec filters"
keys N
wait_for "stage 2/4: seed rules"
keys n n
wait_for "stage 4/4: field mapping"
# The mapping passes every call but leaves values out: it says how many.
wait_for "left out of passed calls (on_error = omit)"

keys enter
wait_for "rows past field mapping"
wait_for "row 1 of"

keys 4
wait_for "row 1 of 2000 · all"

keys '?'
wait_for "Keys"
wait_for "filter rows"
keys '?'

keys a
wait_for "type yes to run"
wait_for "destination: outbox $TMP/spec/.applink/outbox"
keys -l yes
keys Enter
wait_for "apply finished: sent" 60
[[ -s "$TMP/spec/.applink/outbox/calls.jsonl" ]] || fail "apply wrote no outbox"

keys q
wait_for "EXITED 0" 20

# The last imported call's business data changes at the source.
LAST=$(grep -E '^call,[^,]*,imported,' "$TMP/spec/.applink/outbox/ledger.csv" | tail -1 | cut -d, -f2)
ROW=$(($(grep -n "^$LAST," "$TMP/spec/data/calls.csv" | cut -d: -f1) - 1))
((ROW > 500)) || fail "the last imported call $LAST is row $ROW: the jump past row 500 would not be tested"
sed -i "s/^$LAST,CustomerID,.*/$LAST,CustomerID,SMOKE-CHANGED/" "$TMP/spec/data/business_data.csv"

# A second session starts on the preview file the first one left; r runs
# a new preview, ] jumps to the one change, far past the first 500 rows,
# and enter compares it with what the apply sent.
T kill-session -t smoke
T new-session -d -s smoke -x 80 -y 24 "'$TMP/applink' tui '$TMP/spec'; echo \"EXITED \$?\"; sleep 60"
wait_for "stages from the preview file" 20
keys n
wait_for "stage 2/4: seed rules"
keys r
wait_for "stage 1/4: read source" 60
keys 4
wait_for "calls  0 new · 1 changed"
wait_for "row 1 of 2000 · all"
keys "]"
wait_for "row $ROW of 2000 · all"
keys Enter
wait_for "* text CustomerID"
wait_for "SMOKE-CHANGED"
keys q
wait_for "EXITED 0" 20
echo "smoke: ok"
