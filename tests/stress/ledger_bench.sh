#!/bin/sh
# CPU per recorded call in the logger + PostgreSQL (SPEC 12; BENCHMARKS.md
# "The ledger write"), two ways, each on a fresh database per run:
#  1. the ledger write alone: the real logger drains ROWS gateway-shaped
#     records (20 client keys, 6 models, one call in 20 retried), pushed at
#     RATE a second into 2 rings; build/tollgate-ledger-bench prints the CPU
#     time per row of the logger process and of the whole PostgreSQL cluster;
#  2. through the gateway, as make bench runs it (no client keys): wrk -t2
#     -c64 for WRK_SECONDS against 2 workers and the simulator; CPU time of the
#     logger and of the cluster over the run, per row written.
# With TG_LEDGER_BENCH_BASE=<git rev> the same is built from that revision
# too (its own migrations, its own logger) and the two run interleaved,
# round after round, in the same conditions.
# Run from the repository root. Knobs: TG_BENCH_PG (a server's conninfo for
# part 1; unset: a private one under var/), ROWS (200000), RATE (20000; 0 =
# as fast as the logger goes), ROUNDS (3), BATCH_ROWS (1000), FLUSH_MS (100),
# WRK_SECONDS (10; 0 skips part 2).
set -eu
. "$(dirname "$0")/../lib.sh"

BUILD=${TG_BUILD_DIR:-build}
ROWS=${ROWS:-200000}
RATE=${RATE:-20000}
ROUNDS=${ROUNDS:-3}
BATCH_ROWS=${BATCH_ROWS:-1000}
FLUSH_MS=${FLUSH_MS:-100}
WRK_SECONDS=${WRK_SECONDS:-10}
TMP=$(mktemp -d /tmp/tg-lbench-sh.XXXXXX)
PGDIR=""
GWPG="$PWD/var/bench-ledger-gw-pg-$$"
PIDS=""

cleanup() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	[ -n "$PGDIR" ] && sh tests/pg.sh stop "$PGDIR" >/dev/null 2>&1 || true
	[ -n "$PGDIR" ] && rm -rf "$PGDIR"
	sh tests/pg.sh stop "$GWPG" >/dev/null 2>&1 || true
	rm -rf "$TMP" "$GWPG"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "ledger_bench: $*" >&2; exit 1; }

if [ -n "${TG_BENCH_PG:-}" ]; then
	SERVER=$TG_BENCH_PG
else
	PGDIR="$PWD/var/bench-ledger-pg-$$"
	SERVER=$(sh tests/pg.sh start "$PGDIR")
fi
with_db() { echo "$1" | sed "s/dbname=[^ ]*/dbname=$2/"; }

targets="$BUILD/tollgate-ledger-bench"
[ "$WRK_SECONDS" = 0 ] || targets="$targets $BUILD/tollgate $BUILD/tollgate-mock"
make -s $targets || die "could not build the bench"
TREES="current:$PWD"
if [ -n "${TG_LEDGER_BENCH_BASE:-}" ]; then
	mkdir -p "$TMP/base"
	git archive "$TG_LEDGER_BENCH_BASE" | tar -x -C "$TMP/base"
	cp tests/stress/ledger_bench.c "$TMP/base/tests/stress/"
	grep -q tollgate-ledger-bench "$TMP/base/Makefile" || cp Makefile "$TMP/base/Makefile"
	(cd "$TMP/base" && make -s -j2 $targets) || die "could not build $TG_LEDGER_BENCH_BASE"
	TREES="base:$TMP/base $TREES"
fi

# A fresh database on server $1 with tree $3's migrations, as `tollgate migrate` leaves it.
fresh_db() {
	psql "$(with_db "$1" postgres)" -qX -c "DROP DATABASE IF EXISTS $2" -c "CREATE DATABASE $2" \
		>/dev/null 2>&1
	psql "$(with_db "$1" "$2")" -qX -v ON_ERROR_STOP=1 -c "CREATE TABLE schema_migrations \
		(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())" >/dev/null
	for m in "$3"/migrations/[0-9]*.sql; do
		psql "$(with_db "$1" "$2")" -qX -v ON_ERROR_STOP=1 -1 -f "$m" \
			-c "INSERT INTO schema_migrations (version) VALUES ($(basename "$m" | sed 's/_.*//; s/^0*//'))" \
			>/dev/null || die "could not apply $m"
	done
}

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# CPU ticks of a postmaster and every process it started
cluster_ticks() {
	_c=$(ticks "$1")
	for _p in $(ps -o pid= --ppid "$1"); do _c=$((_c + $(ticks "$_p"))); done
	echo "$_c"
}
metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m { print $2 }'; }

# Part 2 for the tree in $1: gateway, simulator and a private PostgreSQL of their own.
through_gateway() {
	gpg=$(sh tests/pg.sh start "$GWPG")
	fresh_db "$gpg" tg_lbench_gw "$1"
	gpg=$(with_db "$gpg" tg_lbench_gw)
	mock=$(tg_free_port)
	gw=$(tg_free_port)
	"$1/$BUILD/tollgate-mock" --listen "127.0.0.1:$mock" --latency-ms 0 >"$TMP/mock.log" 2>&1 &
	mp=$!
	PIDS="$PIDS $mp"
	tg_wait_http "http://127.0.0.1:$mock/__mock/health" || die "the simulator does not answer"
	node -e '
const [dst, gw, mock, state, conninfo, batch, flush] = process.argv.slice(1);
const p = (kind) => ({ kind, base_url: `http://127.0.0.1:${mock}`, api_key_env: "TG_BENCH_KEY" });
require("fs").writeFileSync(dst, JSON.stringify({
  listen: `127.0.0.1:${gw}`, workers: 2, state_dir: state,
  database: { conninfo, batch_rows: Number(batch), flush_ms: Number(flush), ring_records: 262144,
    log_backpressure: "allow" },
  providers: { anthropic: p("anthropic"), openai: p("openai") },
  models: { "claude-haiku-4-5": { provider: "anthropic", upstream: "claude-haiku-4-5",
    price_per_mtok: { input: "1.00", output: "5.00" } } },
}));
' "$TMP/gw.json" "$gw" "$mock" "$TMP/gw-state" "$gpg" "$BATCH_ROWS" "$FLUSH_MS"
	TG_BENCH_KEY=k "$1/$BUILD/tollgate" -c "$TMP/gw.json" >"$TMP/gw.log" 2>&1 &
	gp=$!
	PIDS="$gp $PIDS"
	tg_wait_http "http://127.0.0.1:$gw/healthz" || die "the gateway does not answer"
	sleep 1
	lp=$(ps -o pid=,comm= --ppid "$gp" | awk '$2 ~ /logger/ { print $1 }')
	# the postmaster: the parent of the logger's backend, which stays
	be=$(psql "$gpg" -XAtc "SELECT max(pid) FROM pg_stat_activity WHERE application_name = 'tollgate'")
	pm=$(awk '{ print $4 }' "/proc/$be/stat" 2>/dev/null || true)
	[ -n "$lp" ] && [ -n "$pm" ] || die "no logger or no postmaster found"
	w0=$(metric "$gw" tollgate_log_rows_written_total)
	l0=$(ticks "$lp")
	p0=$(cluster_ticks "$pm")
	wrk -t2 -c64 -d"${WRK_SECONDS}s" -s tests/stress/messages.lua "http://127.0.0.1:$gw" \
		>"$TMP/wrk.out" || die "wrk failed"
	i=0
	while [ "$(metric "$gw" tollgate_log_ring_used)" != 0 ]; do
		i=$((i + 1)); [ $i -le 600 ] || die "the rings did not drain"; sleep 0.05
	done
	sleep 0.2
	w1=$(metric "$gw" tollgate_log_rows_written_total)
	l1=$(ticks "$lp")
	p1=$(cluster_ticks "$pm")
	awk -v w=$((w1 - w0)) -v l=$((l1 - l0)) -v p=$((p1 - p0)) -v hz="$(getconf CLK_TCK)" \
		-v rps="$(awk '/Requests\/sec/ { print $2 }' "$TMP/wrk.out")" 'BEGIN {
		printf "%d rows, wrk %.0f calls/s; us/row: logger %.2f, postgres %.2f, together %.2f\n",
			w, rps, l * 1e6 / hz / w, p * 1e6 / hz / w, (l + p) * 1e6 / hz / w }'
	kill -TERM "$gp" "$mp"
	wait "$gp" "$mp" 2>/dev/null || true
	PIDS=""
	sh tests/pg.sh stop "$GWPG" >/dev/null
	rm -rf "$TMP/gw-state"
}

echo "ledger write alone: $ROWS rows offered at ${RATE}/s over 2 rings, batch_rows $BATCH_ROWS," \
	"flush_ms $FLUSH_MS; through the gateway: wrk ${WRK_SECONDS} s (the machine is shared)"
r=1
while [ $r -le "$ROUNDS" ]; do
	for t in $TREES; do
		name=${t%%:*}; dir=${t#*:}
		db=tg_lbench_$name
		fresh_db "$SERVER" $db "$dir"
		printf '  %-7s round %d, alone:   ' "$name" $r
		nice "$dir/$BUILD/tollgate-ledger-bench" "$(with_db "$SERVER" $db)" "$ROWS" "$RATE" 2 \
			"$BATCH_ROWS" "$FLUSH_MS" 2>"$TMP/err" || { cat "$TMP/err" >&2; die "the bench failed"; }
		psql "$(with_db "$SERVER" postgres)" -qX -c "DROP DATABASE $db" >/dev/null
		if [ "$WRK_SECONDS" != 0 ]; then
			printf '  %-7s round %d, gateway: ' "$name" $r
			through_gateway "$dir"
		fi
	done
	r=$((r + 1))
done
