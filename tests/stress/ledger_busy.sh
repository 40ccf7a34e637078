#!/bin/sh
# Whether the ledger keeps up on a busy machine (SPEC 12's throughput bar with
# PostgreSQL logging): builds side by side, each with its own PostgreSQL
# (tests/pg.sh), a 0 ms simulator and a gateway as `make bench` configures it
# (2 workers, log_backpressure reject, batch_rows 1000, flush_ms 100), run
# with wrk -t2 -c64 and messages.lua in interleaved rounds. Per run: 2xx/s,
# 503s, ring overflows (/metrics), 2xx rows in requests (= the 2xx answers,
# give or take the calls wrk left in flight), and for the logger and its
# PostgreSQL backend together, per row: µs on a CPU, µs runnable but waiting
# for one (/proc/PID/schedstat), and voluntary context switches per 1,000
# rows (each one a wait on the other side).
#
# Run from the repository root:
#   sh tests/stress/ledger_busy.sh base=/tmp/base/build new=build
# Knobs: TG_BUSY_ROUNDS (6), TG_BUSY_SECONDS (5); NICE_<name>=N renices that
# side's workers after they start.
set -eu
. "$(dirname "$0")/../lib.sh"

ROUNDS=${TG_BUSY_ROUNDS:-6}
DUR=${TG_BUSY_SECONDS:-5}
SRC=$PWD
TMP=$(mktemp -d /tmp/tg-busy.XXXXXX)
PIDS=""
SIDES=""

[ $# -gt 0 ] || { echo "usage: $0 name=builddir ..." >&2; exit 1; }
for a in "$@"; do SIDES="$SIDES ${a%%=*}"; done

cleanup() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	for s in $SIDES; do sh tests/pg.sh stop "$TMP/$s/pg" >/dev/null 2>&1 || true; done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export TG_BENCH_ANTHROPIC_KEY=sk-ant-bench-not-a-real-key
ulimit -n 65536 2>/dev/null || true

for a in "$@"; do
	s=${a%%=*} b=${a#*=}
	mkdir -p "$TMP/$s"
	pg=$(sh tests/pg.sh start "$TMP/$s/pg")
	echo "$pg" >"$TMP/$s/conninfo"
	mp=$(tg_free_port) gp=$(tg_free_port)
	"$b/tollgate-mock" --listen "127.0.0.1:$mp" --seed 1 --latency-ms 0 --jitter-ms 0 \
		>"$TMP/$s/mock.log" 2>&1 &
	PIDS="$PIDS $!"
	cat >"$TMP/$s/tollgate.json" <<CFG
{
  "listen": "127.0.0.1:$gp", "workers": 2, "state_dir": "$TMP/$s/state",
  "admin": { "listen": "$TMP/$s/state/admin.sock" }, "shutdown_timeout_ms": 5000,
  "database": { "conninfo": "$pg", "batch_rows": 1000, "flush_ms": 100,
                "ring_records": 65536, "log_backpressure": "reject" },
  "providers": {
    "anthropic": { "kind": "anthropic", "base_url": "http://127.0.0.1:$mp",
      "api_key_env": "TG_BENCH_ANTHROPIC_KEY",
      "connect_timeout_ms": 2000, "first_byte_timeout_ms": 10000, "total_timeout_ms": 30000,
      "rate_limit": { "rpm": 60000000, "tpm": 100000000000 } }
  },
  "models": {
    "claude-haiku-4-5": { "provider": "anthropic", "upstream": "claude-haiku-4-5",
      "price_per_mtok": { "input": "1.00", "output": "5.00", "cache_read": "0.10", "cache_write": "1.25" } }
  }
}
CFG
	TOLLGATE_MIGRATIONS=$SRC/migrations "$b/tollgate" migrate -c "$TMP/$s/tollgate.json" \
		>"$TMP/$s/migrate.log" 2>&1
	"$b/tollgate" -c "$TMP/$s/tollgate.json" >"$TMP/$s/tollgate.log" 2>&1 &
	PIDS="$PIDS $!"
	echo $! >"$TMP/$s/pid"
	echo "$gp" >"$TMP/$s/port"
	tg_wait_http "http://127.0.0.1:$gp/healthz" || { echo "$s did not start" >&2; exit 1; }
	eval "nice=\${NICE_$s:-}"
	if [ -n "$nice" ]; then
		for w in $(ps -o pid=,comm= --ppid "$(cat "$TMP/$s/pid")" |
			   awk '$2 == "tollgate-worker" { print $1 }'); do
			renice -n "$nice" -p "$w" >/dev/null
		done
	fi
done

sql() { psql "$(cat "$TMP/$1/conninfo")" -XAtc "$2"; }
metric() {
	curl -s --unix-socket "$TMP/$1/state/admin.sock" http://admin/metrics |
		awk -v m="$2" '$1 == m { v = $2 } END { print v + 0 }'
}
logger_pid() { ps -o pid=,comm= --ppid "$(cat "$TMP/$1/pid")" | awk '$2 == "tollgate-logger" { print $1 }'; }
# on a CPU (ns), runnable and waiting (ns), voluntary switches: summed over the pids
sched() {
	for p in "$@"; do
		echo "$(cut -d' ' -f1,2 "/proc/$p/schedstat") $(awk '/^voluntary_ctxt/ { print $2 }' "/proc/$p/status")"
	done | awk '{ a += $1; b += $2; c += $3 } END { printf "%.0f %.0f %.0f\n", a, b, c }'
}
drain() {
	i=0
	while [ "$(metric "$1" tollgate_log_ring_used)" != 0 ] && [ $i -lt 600 ]; do
		sleep 0.05
		i=$((i + 1))
	done
}

printf '%-8s %5s %8s %8s %8s %8s %8s %8s %9s %9s %8s\n' side round 2xx/s 2xx 503 overflow \
	rows2xx p50_ms cpu_us/row wait_us/row sw/krow
for r in $(seq 1 "$ROUNDS"); do
	order=$SIDES
	[ $((r % 2)) = 1 ] || order=$(echo $SIDES | tr ' ' '\n' | tac | tr '\n' ' ')
	for s in $order; do
		drain "$s"
		lp=$(logger_pid "$s")
		bp=$(sql "$s" "SELECT max(pid) FROM pg_stat_activity WHERE application_name = 'tollgate'")
		o0=$(metric "$s" tollgate_log_ring_overflow_total)
		r0=$(sql "$s" "SELECT count(*) FROM requests WHERE status / 100 = 2")
		set -- $(sched "$lp" "$bp")
		c0=$1 w0=$2 v0=$3
		wrk -t2 -c64 -d"${DUR}s" --timeout 10s -s tests/stress/messages.lua \
			"http://127.0.0.1:$(cat "$TMP/$s/port")" >"$TMP/wrk.out" 2>&1
		eval "$(sed -n 's/^TGBENCH //p' "$TMP/wrk.out" | tr ' ' '\n' | grep -E '^[a-z0-9_]+=[0-9]+$')"
		drain "$s"
		o1=$(metric "$s" tollgate_log_ring_overflow_total)
		r1=$(sql "$s" "SELECT count(*) FROM requests WHERE status / 100 = 2")
		set -- $(sched "$lp" "$bp")
		ok=$((requests - non2xx)) n=$((r1 - r0))
		echo "$s $r $ok $duration_us $non2xx $((o1 - o0)) $n $p50_us $(($1 - c0)) $(($2 - w0)) $(($3 - v0))" |
			awk '{ n = $7 > 0 ? $7 : 1
			       printf "%-8s %5d %8d %8d %8d %8d %8d %8.3f %9.2f %9.2f %8.1f\n", $1, $2,
				      $3 * 1e6 / $4, $3, $5, $6, $7, $8 / 1000, $9 / 1000 / n, $10 / 1000 / n,
				      $11 * 1000 / n }'
	done
done
