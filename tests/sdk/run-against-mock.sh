#!/bin/sh
# Runs the SDK suite against the simulator: starts build/tollgate-mock (built
# beforehand; this script builds nothing) on a free loopback port, waits for it,
# runs `npm ci` when node_modules is missing or older than the lockfile, then
# `node --test` (one file at a time: /__mock/faults is global to the process);
# stops the mock.
# Exit status is the tests'. Run from anywhere; extra arguments go to node --test.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/tests/lib.sh"
MOCK="$ROOT/build/tollgate-mock"
KEY=${TG_API_KEY:-sdk-test-key}
LOG=$(mktemp /tmp/tg-mock-sdk.XXXXXX)
PID=

cleanup() {
	if [ -n "$PID" ]; then
		kill "$PID" 2>/dev/null || true
		wait "$PID" 2>/dev/null || true
	fi
	rm -f "$LOG"
}
trap cleanup EXIT INT TERM

[ -x "$MOCK" ] || { echo "run-against-mock: $MOCK is not built (make build/tollgate-mock)" >&2; exit 2; }

# Port 0: the kernel picks a free port and the mock prints it on its one line.
(cd "$ROOT" && exec "$MOCK" --listen 127.0.0.1:0 --key "$KEY" --latency-ms 0) >"$LOG" 2>&1 &
PID=$!

PORT=
i=0
while [ -z "$PORT" ]; do
	PORT=$(sed -n 's/^tollgate-mock listening on .*:\([0-9][0-9]*\)$/\1/p' "$LOG")
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$PID" 2>/dev/null; then
		echo "run-against-mock: the mock did not start:" >&2
		cat "$LOG" >&2
		exit 2
	fi
	[ -n "$PORT" ] || sleep 0.05
done
BASE="http://127.0.0.1:$PORT"
i=0
until curl -sf -o /dev/null "$BASE/__mock/health"; do
	i=$((i + 1))
	[ $i -le 100 ] || { echo "run-against-mock: $BASE does not answer" >&2; exit 2; }
	sleep 0.05
done

cd "$HERE"
tg_npm_ci

set +e
TG_BASE_URL="$BASE" TG_MOCK_URL="$BASE" TG_API_KEY="$KEY" node --test --test-concurrency=1 "$@"
rc=$?
set -e
exit $rc
