#!/bin/sh
# What PostgreSQL itself takes to write the ledger, per option (BENCHMARKS.md
# "The ledger write"): one backend loads 200,000 gateway-shaped rows in 200
# transactions of 1,000, from files on the server (COPY ... FROM 'file', so
# no client is measured), into a fresh database per option; the script reads
# the backend's and the whole cluster's CPU time from /proc around the load.
# Options run interleaved, round after round. Needs to run as root or as the
# server's user (server-side files, /proc of the backend).
# Run from the repository root. Knobs: TG_BENCH_PG (a server's conninfo;
# unset: a private one under var/), ROUNDS (3), OPTIONS (all, space-separated).
set -eu

ROUNDS=${ROUNDS:-3}
ALL="today direct_idx4 direct_text_idx4 direct_idx3 direct_brin direct_pk_only direct_brin_att_nopk \
direct_brin_att_multi direct_brin_no_att direct_partitioned schema4 schema4_on_conflict floor"
# not in ALL: direct_brin_keyc (the key index with COLLATE "C")
OPTIONS=${OPTIONS:-$ALL}
TMP=$(mktemp -d /tmp/tg-lopt.XXXXXX)
D=$TMP/data
PGDIR=""
cleanup() {
	[ -n "$PGDIR" ] && sh tests/pg.sh stop "$PGDIR" >/dev/null 2>&1 || true
	[ -n "$PGDIR" ] && rm -rf "$PGDIR"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "ledger_options: $*" >&2; exit 1; }

if [ -n "${TG_BENCH_PG:-}" ]; then
	SERVER=$TG_BENCH_PG
else
	PGDIR="$PWD/var/bench-lopt-pg-$$"
	SERVER=$(sh tests/pg.sh start "$PGDIR")
fi
with_db() { echo "$SERVER" | sed "s/dbname=[^ ]*/dbname=$1/"; }
q() { _qdb=$1; shift; psql "$(with_db "$_qdb")" -qX -v ON_ERROR_STOP=1 "$@" >/dev/null 2>&1 || die "psql $_qdb $*"; }
mkdir -p "$D"
chmod 0777 "$TMP" "$D"

REQ="request_id, client_request_id, created_at, key_name, endpoint, route, provider, model, \
upstream_model, stream, status, outcome, attempts, input_tokens, output_tokens, reasoning_tokens, \
cache_read_tokens, cache_write_tokens, cost_usd, latency_us, ttfb_us, overhead_us, usage_complete, \
upstream_request_id, error, delivery, route_reason, shadow_of, checks_run, checks_passed, checks_unknown"
REQ4="$REQ, attempt_status, attempt_outcome, attempt_latency_us, attempt_cost_usd"
ATT="request_id, n, provider, model, status, outcome, latency_us, cost_usd"

# The rows: UUIDv7-like ids in time order, 20 keys, 6 models, one call in 20 retried once.
psql "$(with_db postgres)" -qX -c "DROP DATABASE IF EXISTS tg_lopt_src" -c "CREATE DATABASE tg_lopt_src" \
	>/dev/null 2>&1
q tg_lopt_src -c "
CREATE TABLE src_req AS
SELECT i AS seq,
 (lpad(to_hex(1760000000000 + i / 20), 12, '0') || '7' || substr(md5(i::text), 1, 3) || '8' ||
  substr(md5(i::text), 4, 15))::uuid AS request_id,
 md5('c' || i)::uuid::text AS client_request_id,
 timestamptz '2025-10-09 09:00:00+00' + (i * 50) * interval '1 microsecond' AS created_at,
 'team-' || (i % 20) AS key_name,
 (ARRAY['/v1/messages', '/v1/chat/completions', '/v1beta/models:generateContent'])[1 + i % 3] AS endpoint,
 CASE WHEN i % 3 = 0 THEN 'auto' END AS route,
 (ARRAY['anthropic', 'openai', 'gemini'])[1 + i % 3] AS provider,
 (ARRAY['claude-haiku-4-5', 'gpt-4o-mini', 'gemini-2.5-flash', 'claude-3-haiku', 'gpt-4.1',
        'gemini-2.5-pro'])[1 + i % 6] AS model,
 (ARRAY['claude-haiku-4-5-20251001', 'gpt-4o-mini-2024-07-18', 'gemini-2.5-flash',
        'claude-3-haiku-20240307', 'gpt-4.1-2025-04-14', 'gemini-2.5-pro'])[1 + i % 6] AS upstream_model,
 (i % 2 = 0) AS stream, CASE WHEN i % 50 = 0 THEN 502 ELSE 200 END AS status,
 CASE WHEN i % 50 = 0 THEN 'upstream_error' ELSE 'ok' END AS outcome,
 CASE WHEN i % 20 = 0 THEN 2 ELSE 1 END AS attempts,
 (100 + i % 4000)::bigint AS input_tokens, (4 + i % 900)::bigint AS output_tokens,
 (i % 7 * 10)::bigint AS reasoning_tokens, 0::bigint AS cache_read_tokens, 0::bigint AS cache_write_tokens,
 (((100 + i % 4000) * 1.0 + (4 + i % 900) * 5.0) / 1000000)::numeric(20,12) AS cost_usd,
 (20000 + i % 9000)::bigint AS latency_us, (15000 + i % 5000)::bigint AS ttfb_us,
 (30 + i % 200)::bigint AS overhead_us, true AS usage_complete,
 'msg_' || substr(md5('u' || i), 1, 24) AS upstream_request_id,
 CASE WHEN i % 50 = 0 THEN 'provider anthropic: 500 Internal Server Error' END AS error,
 'delivered' AS delivery, CASE WHEN i % 3 = 0 THEN 'cheapest' END AS route_reason,
 NULL::uuid AS shadow_of, 0 AS checks_run, 0 AS checks_passed, 0 AS checks_unknown
FROM generate_series(0, 199999) i;
ALTER TABLE src_req ADD attempt_status integer, ADD attempt_outcome text,
 ADD attempt_latency_us bigint, ADD attempt_cost_usd numeric(20,12);
UPDATE src_req SET attempt_status = status, attempt_outcome = outcome,
 attempt_latency_us = latency_us - 1000, attempt_cost_usd = cost_usd;
CREATE TABLE src_att AS
SELECT r.seq, r.request_id, n, r.provider, r.model,
 CASE WHEN n < r.attempts THEN 500 ELSE r.status END AS status,
 CASE WHEN n < r.attempts THEN 'upstream_error' ELSE r.outcome END AS outcome,
 r.latency_us - 1000 AS latency_us,
 CASE WHEN n < r.attempts THEN 0 ELSE r.cost_usd END::numeric(20,12) AS cost_usd, r.attempts
FROM src_req r, generate_series(1, r.attempts) n;"
# 200 batches, in each shape an option reads: text/binary, with a seq for staging, per schema
{
for b in $(seq 0 199); do
	w="seq >= $((b * 1000)) AND seq < $((b * 1000 + 1000))"
	f=$(printf %03d "$b")
	echo "COPY (SELECT seq, $REQ FROM src_req WHERE $w ORDER BY seq) TO '$D/rt$f';"
	echo "COPY (SELECT $REQ FROM src_req WHERE $w ORDER BY seq) TO '$D/rx$f';"
	echo "COPY (SELECT $REQ FROM src_req WHERE $w ORDER BY seq) TO '$D/rb$f' (FORMAT binary);"
	echo "COPY (SELECT $REQ4 FROM src_req WHERE $w ORDER BY seq) TO '$D/r4$f' (FORMAT binary);"
	echo "COPY (SELECT seq::int, $REQ4 FROM src_req WHERE $w ORDER BY seq) TO '$D/s4$f' (FORMAT binary);"
	echo "COPY (SELECT seq, $ATT FROM src_att WHERE $w ORDER BY seq, n) TO '$D/at$f';"
	echo "COPY (SELECT $ATT FROM src_att WHERE $w ORDER BY seq, n) TO '$D/ab$f' (FORMAT binary);"
	echo "COPY (SELECT $ATT FROM src_att WHERE $w AND attempts > 1 ORDER BY seq, n) TO '$D/am$f' (FORMAT binary);"
	echo "COPY (SELECT $ATT FROM src_att WHERE $w AND n < attempts ORDER BY seq, n) TO '$D/ae$f' (FORMAT binary);"
	echo "COPY (SELECT seq::int, $ATT FROM src_att WHERE $w AND n < attempts ORDER BY seq, n) TO '$D/se$f' (FORMAT binary);"
done
} | psql "$(with_db tg_lopt_src)" -qX -v ON_ERROR_STOP=1 >/dev/null || die "could not export the rows"
psql "$(with_db postgres)" -qX -c "DROP DATABASE tg_lopt_src" >/dev/null

CURSOR="INSERT INTO ledger_cursors VALUES ('00000000-0000-7000-8000-000000000001', 0, :p, \
'0199c82c-c000-7cfc-8d20-8495d565ef66'), ('00000000-0000-7000-8000-000000000001', 1, :p, \
'0199c82c-c000-7cfc-8d20-8495d565ef66') ON CONFLICT (ledger_id, ring) DO UPDATE SET pos = excluded.pos, \
last_id = excluded.last_id;"

# The schema of an option: migrations 1-3 (what main had) or 1-4 (this branch), then its changes.
schema() {
	db=$2
	case $1 in schema4*) last=4 ;; *) last=3 ;; esac
	for m in migrations/000[1-$last]_*.sql; do q "$db" -f "$m"; done
	case $1 in
	*idx3*) q "$db" -c "DROP INDEX requests_model_created_idx; DROP INDEX requests_shadow_of_idx" ;;
	*brin*|*partitioned*) q "$db" -c "DROP INDEX requests_model_created_idx; DROP INDEX requests_shadow_of_idx;
		DROP INDEX requests_created_at_idx; CREATE INDEX ON requests USING brin (created_at)" ;;
	*pk_only*|floor) q "$db" -c "DROP INDEX requests_model_created_idx; DROP INDEX requests_shadow_of_idx;
		DROP INDEX requests_created_at_idx; DROP INDEX requests_key_created_idx" ;;
	esac
	case $1 in *partitioned*) q "$db" -c "ALTER TABLE requests RENAME TO requests_old;
		CREATE TABLE requests (LIKE requests_old INCLUDING DEFAULTS) PARTITION BY RANGE (created_at);
		ALTER TABLE requests ADD PRIMARY KEY (request_id, created_at);
		CREATE INDEX ON requests USING brin (created_at); CREATE INDEX ON requests (key_name, created_at);
		CREATE TABLE requests_20251009 PARTITION OF requests FOR VALUES FROM ('2025-10-09') TO ('2025-10-10')" ;;
	esac
	case $1 in *att_nopk*) q "$db" -c "ALTER TABLE attempts DROP CONSTRAINT attempts_pkey" ;; esac
	case $1 in *keyc*) q "$db" -c "DROP INDEX requests_key_created_idx;
		CREATE INDEX ON requests (key_name COLLATE \"C\", created_at)" ;; esac
}

# One batch of an option, as SQL.
batch() {
	f=$2
	case $1 in
	today) echo "COPY tg_stage_requests (seq, $REQ) FROM '$D/rt$f';
		INSERT INTO requests ($REQ) SELECT $REQ FROM tg_stage_requests ORDER BY seq
		ON CONFLICT (request_id) DO NOTHING;
		COPY tg_stage_attempts (seq, $ATT) FROM '$D/at$f';
		INSERT INTO attempts ($ATT) SELECT $ATT FROM tg_stage_attempts ORDER BY seq
		ON CONFLICT (request_id, n) DO NOTHING;" ;;
	direct_text*) echo "COPY requests ($REQ) FROM '$D/rx$f'; COPY attempts ($ATT) FROM '$D/ab$f' (FORMAT binary);" ;;
	*att_multi*) echo "COPY requests ($REQ) FROM '$D/rb$f' (FORMAT binary);
		COPY attempts ($ATT) FROM '$D/am$f' (FORMAT binary);" ;;
	*no_att|floor) echo "COPY requests ($REQ) FROM '$D/rb$f' (FORMAT binary);" ;;
	direct*) echo "COPY requests ($REQ) FROM '$D/rb$f' (FORMAT binary); COPY attempts ($ATT) FROM '$D/ab$f' (FORMAT binary);" ;;
	schema4) echo "COPY requests ($REQ4) FROM '$D/r4$f' (FORMAT binary);
		COPY attempt_log ($ATT) FROM '$D/ae$f' (FORMAT binary);
		$(echo "$CURSOR" | sed "s/:p/$(($3 * 500 + 500))/g")" ;;
	schema4_on_conflict) echo "COPY tg_stage_requests (seq, $REQ4) FROM '$D/s4$f' (FORMAT binary);
		COPY tg_stage_attempts (seq, $ATT) FROM '$D/se$f' (FORMAT binary);
		WITH ins AS (INSERT INTO requests ($REQ4) SELECT $REQ4 FROM tg_stage_requests
		ON CONFLICT (request_id) DO NOTHING RETURNING request_id)
		INSERT INTO attempt_log ($ATT) SELECT $ATT FROM tg_stage_attempts
		WHERE request_id IN (SELECT request_id FROM ins) ON CONFLICT (request_id, n) DO NOTHING;" ;;
	esac
}

cat >"$TMP/cpu.sh" <<'EOF'
pm=$(awk '{print $4}' /proc/$PID/stat)
c=0
for p in $pm $(ps -o pid= --ppid "$pm"); do
	t=$(awk '{print $14+$15}' /proc/$p/stat 2>/dev/null || echo 0); c=$((c + t))
done
echo "$1 $(awk '{print $14+$15}' /proc/$PID/stat) $c $(date +%s%N)" >>"$LOG"
EOF
hz=$(getconf CLK_TCK)

run() {
	db=tg_lopt_$1
	psql "$(with_db postgres)" -qX -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null 2>&1
	schema "$1" "$db"
	att=attempts; case $1 in schema4*) att=attempt_log ;; esac
	{
		echo "SET synchronous_commit = on;"
		echo "CREATE TEMP TABLE tg_stage_requests (seq int, LIKE requests) ON COMMIT DELETE ROWS;"
		echo "CREATE TEMP TABLE tg_stage_attempts (seq int, LIKE $att) ON COMMIT DELETE ROWS;"
		echo "SELECT pg_backend_pid() AS pid \\gset"
		echo "\\setenv PID :pid"
		echo "\\setenv LOG $TMP/cpu.log"
		echo "\\! sh $TMP/cpu.sh start"
		for b in $(seq 0 199); do
			echo "BEGIN;"
			batch "$1" "$(printf %03d "$b")" "$b"
			echo "COMMIT;"
		done
		echo "\\! sh $TMP/cpu.sh end"
	} >"$TMP/load.sql"
	: >"$TMP/cpu.log"
	psql "$(with_db $db)" -qX -v ON_ERROR_STOP=1 -f "$TMP/load.sql" >/dev/null || die "$1 failed"
	awk -v o="$1" -v hz="$hz" '$1 == "start" { b0 = $2; c0 = $3; t0 = $4 } $1 == "end" { b1 = $2; c1 = $3; t1 = $4 }
		END { printf "  %-24s backend %6.2f us/row  cluster %6.2f us/row  wall %7.0f rows/s\n", o,
			(b1 - b0) * 1e6 / hz / 200000, (c1 - c0) * 1e6 / hz / 200000, 200000 / ((t1 - t0) / 1e9) }' "$TMP/cpu.log"
	psql "$(with_db postgres)" -qX -c "DROP DATABASE $db" >/dev/null
}

echo "PostgreSQL alone: 200,000 rows, 200 transactions of 1,000, COPY from server-side files, one backend"
r=1
while [ $r -le "$ROUNDS" ]; do
	echo " round $r"
	for o in $OPTIONS; do run "$o"; done
	r=$((r + 1))
done
