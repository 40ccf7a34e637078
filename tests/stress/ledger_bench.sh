#!/bin/sh
# The ledger write alone (BENCHMARKS.md "The ledger write"): the real logger
# drains ROWS gateway-shaped records, pushed at RATE a second into 2 rings,
# into a fresh database, and build/tollgate-ledger-bench prints the CPU time
# per row of the logger process and of the whole PostgreSQL cluster.
# With TG_LEDGER_BENCH_BASE=<git rev> the same bench is built from that
# revision too (its own migrations, its own logger) and the two run
# interleaved, round after round, in the same conditions.
# Run from the repository root. Knobs: TG_BENCH_PG (a server's conninfo; unset:
# a private one under var/), ROWS (200000), RATE (20000; 0 = as fast as the
# logger goes), ROUNDS (3), BATCH_ROWS (1000), FLUSH_MS (100).
set -eu

BUILD=${TG_BUILD_DIR:-build}
ROWS=${ROWS:-200000}
RATE=${RATE:-20000}
ROUNDS=${ROUNDS:-3}
BATCH_ROWS=${BATCH_ROWS:-1000}
FLUSH_MS=${FLUSH_MS:-100}
TMP=$(mktemp -d /tmp/tg-lbench-sh.XXXXXX)
PGDIR=""

cleanup() {
	[ -n "$PGDIR" ] && sh tests/pg.sh stop "$PGDIR" >/dev/null 2>&1 || true
	[ -n "$PGDIR" ] && rm -rf "$PGDIR"
	rm -rf "$TMP"
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
with_db() { echo "$SERVER" | sed "s/dbname=[^ ]*/dbname=$1/"; }

make -s "$BUILD/tollgate-ledger-bench" || die "could not build the bench"
TREES="current:$PWD"
if [ -n "${TG_LEDGER_BENCH_BASE:-}" ]; then
	mkdir -p "$TMP/base"
	git archive "$TG_LEDGER_BENCH_BASE" | tar -x -C "$TMP/base"
	cp tests/stress/ledger_bench.c "$TMP/base/tests/stress/"
	grep -q tollgate-ledger-bench "$TMP/base/Makefile" || cp Makefile "$TMP/base/Makefile"
	(cd "$TMP/base" && make -s -j2 "build/tollgate-ledger-bench") || die "could not build $TG_LEDGER_BENCH_BASE"
	TREES="base:$TMP/base $TREES"
fi

# A fresh database with a tree's migrations, as `tollgate migrate` leaves it.
fresh_db() {
	psql "$(with_db postgres)" -qX -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null 2>&1
	psql "$(with_db "$1")" -qX -v ON_ERROR_STOP=1 -c "CREATE TABLE schema_migrations \
		(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())" >/dev/null
	for m in "$2"/migrations/[0-9]*.sql; do
		psql "$(with_db "$1")" -qX -v ON_ERROR_STOP=1 -1 -f "$m" \
			-c "INSERT INTO schema_migrations (version) VALUES ($(basename "$m" | sed 's/_.*//; s/^0*//'))" \
			>/dev/null || die "could not apply $m"
	done
}

echo "ledger write: $ROWS rows offered at ${RATE}/s over 2 rings, batch_rows $BATCH_ROWS, flush_ms $FLUSH_MS"
r=1
while [ $r -le "$ROUNDS" ]; do
	for t in $TREES; do
		name=${t%%:*}; dir=${t#*:}
		db=tg_lbench_$name
		fresh_db $db "$dir"
		printf '  %-7s round %d: ' "$name" $r
		nice "$dir/$BUILD/tollgate-ledger-bench" "$(with_db $db)" "$ROWS" "$RATE" 2 "$BATCH_ROWS" "$FLUSH_MS" \
			2>"$TMP/err" || { cat "$TMP/err" >&2; die "the bench failed"; }
		psql "$(with_db postgres)" -qX -c "DROP DATABASE $db" >/dev/null
	done
	r=$((r + 1))
done
