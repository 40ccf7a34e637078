#!/bin/sh
# How many long streams one simulator process holds, and at what cost: starts
# build/tollgate-mock (built beforehand) on a free port, opens STREAMS
# concurrent OpenAI streams with wrk (-t1), each x-mock-output-tokens TOKENS
# spread over x-mock-stream-ms MS, and samples the simulator's memory and CPU
# while all of them are open. Prints memory per open stream (RSS and private,
# over the idle process) and CPU per streamed event, then checks that wrk saw
# every stream end. Usage: long_streams.sh [STREAMS] [MS] [TOKENS]
set -eu

STREAMS=${1:-10000}
MS=${2:-20000}
TOKENS=${3:-200}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/lib.sh"
WORK=$(mktemp -d /tmp/tg-long-streams.XXXXXX)
MOCK_PID= WRK_PID=

cleanup() {
	for p in $WRK_PID $MOCK_PID; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

command -v wrk >/dev/null 2>&1 || { echo "long_streams: wrk is not installed" >&2; exit 2; }
[ "$(ulimit -n)" -gt $((STREAMS + 64)) ] || ulimit -n $((STREAMS + 64))

PORT=$(tg_free_port)
(cd "$ROOT" && exec build/tollgate-mock --listen "127.0.0.1:$PORT" --latency-ms 0) >"$WORK/mock.log" 2>&1 &
MOCK_PID=$!
tg_wait_http "http://127.0.0.1:$PORT/__mock/health" || { cat "$WORK/mock.log" >&2; exit 2; }

cat >"$WORK/stream.lua" <<EOF
wrk.method = "POST"
wrk.body = '{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"What is the capital of France?"}]}'
wrk.headers["authorization"] = "Bearer k"
wrk.headers["content-type"] = "application/json"
wrk.headers["x-mock-output-tokens"] = "$TOKENS"
wrk.headers["x-mock-stream-ms"] = "$MS"
EOF

# kB of resident and of private (dirty, anonymous) memory; CPU ticks used
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$MOCK_PID/status"; }
private_kb() { awk '/^Private_(Clean|Dirty)/ { s += $2 } END { print s }' "/proc/$MOCK_PID/smaps_rollup"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$MOCK_PID/stat"; }
HZ=$(getconf CLK_TCK)

# warm the allocator with one short stream, so the idle figure is not a cold start
curl -s -o /dev/null -H 'authorization: Bearer k' -H 'x-mock-output-tokens: 10' \
	-d '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}' \
	"http://127.0.0.1:$PORT/v1/chat/completions"
IDLE_RSS=$(rss_kb)
IDLE_PRIV=$(private_kb)

# one round of streams: the run ends before a connection could start a second one
DUR=$(( MS / 1000 + 4 ))
wrk -t1 -c"$STREAMS" -d"${DUR}s" --timeout "$(( MS / 1000 + 10 ))s" -s "$WORK/stream.lua" \
	"http://127.0.0.1:$PORT/v1/chat/completions" >"$WORK/wrk.log" 2>&1 &
WRK_PID=$!

# wait until every stream is open, then sample a quarter to three quarters in
i=0
until [ "$(curl -s "http://127.0.0.1:$PORT/__mock/stats" | sed -n 's/.*"openai":{"calls":\([0-9]*\).*/\1/p')" -ge "$((STREAMS + 1))" ]; do
	i=$((i + 1))
	[ $i -le 400 ] || { echo "long_streams: only some streams opened" >&2; cat "$WORK/wrk.log" >&2; exit 1; }
	sleep 0.05
done
sleep "$(awk "BEGIN { print $MS / 4000 }")"
T0=$(date +%s%N); C0=$(ticks)
RSS=$(rss_kb); PRIV=$(private_kb)
sleep "$(awk "BEGIN { print $MS / 2000 }")"
T1=$(date +%s%N); C1=$(ticks)
wait "$WRK_PID" || true
WRK_PID=

# a stream counts as done when wrk read its last chunk
DONE=$(sed -n 's/^ *\([0-9][0-9]*\) requests in.*/\1/p' "$WORK/wrk.log")
# events per stream: the role chunk, TOKENS text chunks, the finish and usage chunks, [DONE]
EVENTS=$((TOKENS + 4))
awk -v n="$STREAMS" -v ms="$MS" -v ev="$EVENTS" -v irss="$IDLE_RSS" -v ipriv="$IDLE_PRIV" \
    -v rss="$RSS" -v priv="$PRIV" -v t0="$T0" -v t1="$T1" -v c0="$C0" -v c1="$C1" -v hz="$HZ" \
    'BEGIN {
	secs = (t1 - t0) / 1e9; cpu = (c1 - c0) / hz
	rate = n * (ev - 1) / (ms / 1000)           # events per second with every stream open
	printf "streams open:          %d (%d events each over %d ms)\n", n, ev, ms
	printf "memory per open stream: %.1f KiB RSS, %.1f KiB private (idle %d KiB, open %d KiB)\n",
	       (rss - irss) / n, (priv - ipriv) / n, irss, rss
	printf "CPU:                    %.1f%% of one core over %.1f s, %.2f us per event (%.0f events/s)\n",
	       100 * cpu / secs, secs, 1e6 * cpu / (rate * secs), rate
}'
grep -E 'Socket errors' "$WORK/wrk.log" || true
echo "streams completed:      ${DONE:-0} of $STREAMS"
[ "${DONE:-0}" -ge "$STREAMS" ]
