#!/bin/sh
# Retry budget under a failing provider (issue 6): wrk for DURATION seconds
# (default 30) while the simulator fails half of the Anthropic calls with 503.
# The breaker is set not to open, so every failure asks for a retry and only
# the per-provider budget (budget_ratio of recent calls, at least 3 per 10 s)
# stands between the provider and a retry storm. Prints what the clients saw,
# what the provider saw, and the retries against the budget; exits 1 if the
# retries went over budget. Run from the repository root after `make`.
set -eu
. "$(dirname "$0")/../lib.sh"

DURATION=${DURATION:-30}
RATIO_PERMILLE=200
BUILD=${TG_BUILD_DIR:-build}
TMP=$(mktemp -d /tmp/tg-retry.XXXXXX)
PIDS=""

cleanup() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

wait_http() {
	tg_wait_http "$1" || { echo "retry_budget: $1 does not answer" >&2; cat "$TMP"/*.log >&2; exit 2; }
}
metric() {
	curl -s --unix-socket "$TMP/state/admin.sock" http://admin/metrics |
		awk -v m="$1" '$1 == m { s += $2 } END { printf "%d\n", s }'
}

MOCK=$(tg_free_port)
GW=$(tg_free_port)
"$BUILD/tollgate-mock" --listen "127.0.0.1:$MOCK" --latency-ms 5 >"$TMP/mock.log" 2>&1 &
PIDS="$PIDS $!"
wait_http "http://127.0.0.1:$MOCK/__mock/health"
node -e '
const [dst, gw, mock, state, ratio] = process.argv.slice(1);
require("fs").writeFileSync(dst, JSON.stringify({
  listen: `127.0.0.1:${gw}`, workers: 2, state_dir: state, admin: { listen: `${state}/admin.sock` },
  database: { conninfo: "host=/nonexistent dbname=tollgate", log_backpressure: "allow", ring_records: 262144 },
  providers: { anthropic: { kind: "anthropic", base_url: `http://127.0.0.1:${mock}`, api_key_env: "TG_RETRY_KEY",
    breaker: { window: 128, min_calls: 128, failure_rate: 1, consecutive_failures: 1000 },
    retry: { max_attempts: 2, base_ms: 10, max_ms: 100, budget_ratio: Number(ratio) / 1000 } } },
  models: { "claude-haiku-4-5": { provider: "anthropic", upstream: "claude-haiku-4-5",
    price_per_mtok: { input: "1.00", output: "5.00" } } },
}));
' "$TMP/tollgate.json" "$GW" "$MOCK" "$TMP/state" "$RATIO_PERMILLE"
TG_RETRY_KEY=k "$BUILD/tollgate" -c "$TMP/tollgate.json" >"$TMP/tollgate.log" 2>&1 &
PIDS="$!$PIDS"
wait_http "http://127.0.0.1:$GW/healthz"

curl -s "http://127.0.0.1:$MOCK/__mock/faults" -d '{"fault":"503","provider":"anthropic","rate":0.5}' >/dev/null
wrk -t2 -c32 -d"${DURATION}s" -s tests/stress/messages.lua "http://127.0.0.1:$GW" >"$TMP/wrk.txt"

ok=$(curl -s --unix-socket "$TMP/state/admin.sock" http://admin/metrics | awk '/^tollgate_requests_total\{.*outcome="ok"/ { s += $2 } END { printf "%d\n", s }')
calls=$(metric tollgate_request_duration_seconds_count)
retries=$(curl -s --unix-socket "$TMP/state/admin.sock" http://admin/metrics | awk '/^tollgate_retries_total\{provider="anthropic"\}/ { print $2 }')
upstream=$(curl -s "http://127.0.0.1:$MOCK/__mock/stats" | node -e 'let t="";process.stdin.on("data",d=>t+=d).on("end",()=>console.log(JSON.parse(t).anthropic.calls))')
windows=$(( (DURATION + 9) / 10 + 1 ))
budget=$(( calls * RATIO_PERMILLE / 1000 + 3 * windows ))

printf 'retry budget, %ss of wrk -t2 -c32, half of the provider calls failing with 503:\n' "$DURATION"
printf '  client calls       %8d (%d answered 200, %d.%d%%)\n' "$calls" "$ok" $((ok * 100 / calls)) $((ok * 1000 / calls % 10))
printf '  provider calls     %8d (%d.%02d per client call)\n' "$upstream" $((upstream / calls)) $((upstream * 100 / calls % 100))
printf '  retries            %8d (%d.%d%% of calls; budget %d%% of calls + 3 per 10 s = %d)\n' \
	"$retries" $((retries * 100 / calls)) $((retries * 1000 / calls % 10)) $((RATIO_PERMILLE / 10)) "$budget"
printf '  without a budget   %8d retries would have been sent (every failure, max_attempts 2)\n' $(( (upstream - retries) / 2 ))
grep -E "Requests/sec|Latency" "$TMP/wrk.txt" | sed 's/^/  wrk: /'
[ "$retries" -le "$budget" ] || { echo "retry_budget: $retries retries is over the budget of $budget" >&2; exit 1; }
