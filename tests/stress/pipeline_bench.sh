#!/bin/sh
# Two figures `make bench` adds to bench.sh's table:
#  1. translated vs pass-through: the same conversation through the gateway as
#     an Anthropic call to a Claude model (pass-through) and as an OpenAI call to
#     it (translated both ways), interleaved, 0 ms upstream;
#  2. the logger's sustained rows/s into a local PostgreSQL: calls are served
#     while PostgreSQL is stopped (the logger spools them), then PostgreSQL
#     starts and the spool is replayed with nothing else competing; rows/s is
#     rows written over the time from the first row to an empty spool.
# Run from the repository root after `make`. Knobs: TG_BENCH_SECONDS (5),
# TG_BENCH_REPS (2). Exits non-zero only when something fails to run.
set -eu
. "$(dirname "$0")/../lib.sh"

BUILD=${TG_BUILD_DIR:-build}
DUR=${TG_BENCH_SECONDS:-5}
REPS=${TG_BENCH_REPS:-2}
TMP=$(mktemp -d /tmp/tg-pbench.XXXXXX)
PGDIR="$PWD/var/bench-pg-$$"
PIDS=""

cleanup() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	sh tests/pg.sh stop "$PGDIR" >/dev/null 2>&1 || true
	rm -rf "$TMP" "$PGDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "pipeline_bench: $*" >&2; exit 1; }
wait_http() {
	tg_wait_http "$1" || die "$1 does not answer"
}
metric() { # gateway port (unused: one gateway, its admin socket), name
	curl -s --unix-socket "$TMP/state/admin.sock" http://admin/metrics | awk -v m="$2" '$1 == m { print $2 }'
}
now_ms() { date +%s%3N; }

MOCK=$(tg_free_port)
GW=$(tg_free_port)
CONNINFO=$(sh tests/pg.sh start "$PGDIR")
"$BUILD/tollgate-mock" --listen "127.0.0.1:$MOCK" --latency-ms 0 >"$TMP/mock.log" 2>&1 &
PIDS="$PIDS $!"
wait_http "http://127.0.0.1:$MOCK/__mock/health"
node -e '
const [dst, gw, mock, state, conninfo] = process.argv.slice(1);
const p = (kind) => ({ kind, base_url: `http://127.0.0.1:${mock}`, api_key_env: "TG_BENCH_KEY" });
require("fs").writeFileSync(dst, JSON.stringify({
  listen: `127.0.0.1:${gw}`, workers: 2, state_dir: state, admin: { listen: `${state}/admin.sock` },
  database: { conninfo, batch_rows: 1000, flush_ms: 100, ring_records: 262144, log_backpressure: "allow" },
  providers: { anthropic: p("anthropic"), openai: p("openai") },
  models: { "claude-haiku-4-5": { provider: "anthropic", upstream: "claude-haiku-4-5",
    price_per_mtok: { input: "1.00", output: "5.00" } } },
}));
' "$TMP/tollgate.json" "$GW" "$MOCK" "$TMP/state" "$CONNINFO"
"$BUILD/tollgate" migrate -c "$TMP/tollgate.json" >/dev/null
TG_BENCH_KEY=k "$BUILD/tollgate" -c "$TMP/tollgate.json" >"$TMP/tollgate.log" 2>&1 &
PIDS="$! $PIDS"
wait_http "http://127.0.0.1:$GW/healthz"

rate() { sed -n 's/.*TGBENCH requests=\([0-9]*\) duration_us=\([0-9]*\) p50_us=\([0-9]*\) p90_us=[0-9]* p99_us=\([0-9]*\).*non2xx=\([0-9]*\).*/\1 \2 \3 \4 \5/p' "$1"; }

echo "translated vs pass-through (gateway, 0 ms upstream, wrk -t2 -c64 -d${DUR}s, best of $REPS):"
best_pass=0 best_tr=0
r=0
while [ $r -lt "$REPS" ]; do
	for kind in pass tr; do
		script=tests/stress/messages.lua
		[ $kind = tr ] && script=tests/stress/chat.lua
		wrk -t2 -c64 -d"${DUR}s" -s "$script" "http://127.0.0.1:$GW" >"$TMP/wrk.$kind" || die "wrk failed"
		set -- $(rate "$TMP/wrk.$kind")
		[ "${5:-1}" = 0 ] || die "$kind: $5 non-2xx answers"
		rps=$(( $1 * 1000000 / $2 ))
		printf '  %-12s %7d req/s  p50 %6d us  p99 %6d us\n' \
			"$([ $kind = pass ] && echo pass-through || echo translated)" "$rps" "$3" "$4"
		if [ $kind = pass ] && [ "$rps" -gt "$best_pass" ]; then best_pass=$rps; fi
		if [ $kind = tr ] && [ "$rps" -gt "$best_tr" ]; then best_tr=$rps; fi
	done
	r=$((r + 1))
done
printf '  translated / pass-through: %d.%02dx\n' $((best_tr / best_pass)) $((best_tr * 100 / best_pass % 100))

echo "logger rows/s into the local PostgreSQL (spool replay, nothing else running):"
sh tests/pg.sh stop "$PGDIR" >/dev/null
wrk -t2 -c64 -d"${DUR}s" -s tests/stress/messages.lua "http://127.0.0.1:$GW" >"$TMP/wrk.spool" || die "wrk failed"
i=0
while [ "$(metric "$GW" tollgate_log_ring_used)" != 0 ]; do
	i=$((i + 1)); [ $i -le 600 ] || die "the rings did not drain into the spool"; sleep 0.05
done
spooled=$(metric "$GW" tollgate_log_spooled_rows)
written0=$(metric "$GW" tollgate_log_rows_written_total)
sh tests/pg.sh start "$PGDIR" >/dev/null
i=0
while [ "$(metric "$GW" tollgate_log_rows_written_total)" = "$written0" ]; do
	i=$((i + 1)); [ $i -le 2000 ] || die "the logger did not reconnect"; sleep 0.005
done
t0=$(now_ms)
while [ "$(metric "$GW" tollgate_log_spooled_rows)" != 0 ]; do
	i=$((i + 1)); [ $i -le 20000 ] || die "the spool did not drain"; sleep 0.01
done
t1=$(now_ms)
written=$(( $(metric "$GW" tollgate_log_rows_written_total) - written0 ))
ms=$(( t1 - t0 > 0 ? t1 - t0 : 1 ))
printf '  %d rows spooled while PostgreSQL was down; replayed %d rows in %d ms: %d rows/s\n' \
	"$spooled" "$written" "$ms" $(( written * 1000 / ms ))
printf '  ring overflow during the run: %s\n' "$(metric "$GW" tollgate_log_ring_overflow_total)"
