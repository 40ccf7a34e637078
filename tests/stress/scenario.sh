#!/bin/sh
# The fault scenario of SPEC 12 (issue 8): wrk load for DURATION seconds while,
# in turn, a worker and the logger are killed with -9, PostgreSQL is restarted,
# the master gets a SIGHUP with a changed config, and a provider goes down and
# comes back in the simulator. Then every answer wrk got is matched, by its
# client id, with the rows in `requests` (none lost, none doubled, same
# status), every breaker transition the gateway logged is matched with an
# audit_log row, and one table says what was done and what was seen.
#
# Run from anywhere after `make`: DURATION=60 sh tests/stress/scenario.sh
# (`make test` runs it at 20 s through tests/integration/stress.test.mjs).
# Knobs: DURATION (s, default 60, at least 15), TG_BUILD_DIR (build),
# TG_STRESS_KEEP=1 keeps the work directory (kept anyway on failure).
# Exit 0 when every check holds, 1 on a mismatch, 2 when something fails to run.
set -eu
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.."
ROOT=$PWD

DURATION=${DURATION:-60}
BUILD=${TG_BUILD_DIR:-build}
TOLLGATE=$ROOT/$BUILD/tollgate
MOCK=$ROOT/$BUILD/tollgate-mock
THREADS=2
CONNS=32
CLIENT_KEY=tg-stress-client-key
ADMIN_KEY=tg-stress-admin-key

TMP=$(mktemp -d /tmp/tg-stress.XXXXXX)
PGDIR=""
MOCK_PID="" GW_PID="" WRK_PID=""
FAILED=0
ACTIONS=$TMP/actions.txt
: >"$ACTIONS"
: >"$ACTIONS.more"

say() { printf '%s\n' "$*"; }
die() {
	printf 'scenario: %s\n' "$*" >&2
	FAILED=1
	exit 2
}
now_ms() { date +%s%3N; }
# seconds since wrk started, one decimal
elapsed() { echo "$(( $(now_ms) - T0 ))" | awk '{ printf "%.1f", $1 / 1000 }'; }
secs() { echo "$1" | awk '{ printf "%.2f", $1 / 1000 }'; }

# Stop what this script started (only those pids), the gateway by SIGTERM so it drains.
stop_pid() { # pid deadline_s
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null || return 0
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt $(($2 * 20)) ]; do sleep 0.05; i=$((i + 1)); done
	kill -KILL "$1" 2>/dev/null || true
}
cleanup() {
	rc=$?
	trap - EXIT INT TERM
	[ -z "$WRK_PID" ] || kill -KILL "$WRK_PID" 2>/dev/null || true
	stop_pid "$GW_PID" 15
	stop_pid "$MOCK_PID" 5
	if [ -n "$PGDIR" ]; then
		sh tests/pg.sh stop "$PGDIR" >/dev/null 2>&1 || true
		rm -rf "$PGDIR"
	fi
	if [ "$rc" != 0 ] || [ "$FAILED" != 0 ] || [ "${TG_STRESS_KEEP:-}" = 1 ]; then
		say "scenario: logs and data kept in $TMP"
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in wrk curl psql node awk; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (sh tests/deps.sh)"
done
[ -x "$TOLLGATE" ] && [ -x "$MOCK" ] || die "$TOLLGATE or $MOCK is not built (make)"
case $DURATION in '' | *[!0-9]*) die "DURATION must be whole seconds, got '$DURATION'" ;; esac
[ "$DURATION" -ge 15 ] || die "DURATION must be at least 15 s (the phases need room)"


# Run a command until it succeeds, every 50 ms, at most $1 ms; 1 when the deadline passed.
poll() {
	_end=$(( $(now_ms) + $1 ))
	shift
	until "$@"; do
		[ "$(now_ms)" -lt "$_end" ] || return 1
		sleep 0.05
	done
}
up() { curl -s -o /dev/null "$1"; }
# Established client connections on the gateway's port held by pid $1: its socket
# inodes against /proc/net/tcp (no ss: iproute2 is not on every minimal system).
conns_of() {
	ls -l "/proc/$1/fd" 2>/dev/null | sed -n 's/.*socket:\[\([0-9]*\)\]$/\1/p' >"$TMP/inodes"
	awk -v p=":$(printf '%04X' "$GW_PORT")" 'FNR == NR { want[$1] = 1; next }
		$4 == "01" && substr($2, length($2) - 4) == p && ($10 in want) { n++ } END { print n + 0 }' \
		"$TMP/inodes" /proc/net/tcp
}
children() { ps -o pid=,comm= --ppid "$GW_PID" | awk -v c="$1" '$2 == c { print $1 }' | sort -n | tr '\n' ' ' | sed 's/ $//'; }
logged() { grep -q -- "$1" "$TMP/tollgate.log"; }
admin_get() { curl -s --max-time 2 --unix-socket "$TMP/state/admin.sock" "$@"; }
metric() { admin_get http://admin/metrics | awk -v m="$1" '$1 == m { print $2 }'; }
breaker_state() { # provider
	admin_get -H "Authorization: Bearer $ADMIN_KEY" http://admin/admin/breakers |
		sed -n "s/.*\"provider\":\"$1\",\"state\":\"\([a-z_]*\)\".*/\1/p"
}
fault() { # json
	curl -s --max-time 5 -o /dev/null -w '%{http_code}' -d "$1" "http://127.0.0.1:$MOCK_PORT/__mock/faults" |
		grep -q '^2' || die "the simulator refused the fault rule $1"
}
sha256() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
action() { # key at what effect
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$ACTIONS"
	printf 'scenario: %6ss  %s: %s\n' "$2" "$3" "$4"
}
# More effect for action key $1, found after the run (in the database, in the log).
more() { printf '%s\t%s\n' "$1" "$2" >>"$ACTIONS.more"; }
# Wait until $1 ms after wrk started (a phase that ran late starts at once).
# (Shell arithmetic: mawk's printf %d stops at 2^31, far below a time in ms.)
wait_until_ms() {
	_t=$((T0 + $1))
	while [ "$(now_ms)" -lt "$_t" ]; do
		kill -0 "$WRK_PID" 2>/dev/null || die "wrk ended early: $(cat "$TMP/wrk.out")"
		sleep 0.05
	done
}

# ---- PostgreSQL, the simulator, the gateway ---------------------------------------------
PGDIR=$ROOT/var/stress-pg-$$
CONNINFO=$(sh tests/pg.sh start "$PGDIR") || die "could not start PostgreSQL with tests/pg.sh"
PSQL() { psql "$CONNINFO" -X -At -v ON_ERROR_STOP=1 "$@"; }

MOCK_PORT=$(tg_free_port)
"$MOCK" --listen "127.0.0.1:$MOCK_PORT" --seed 8 --latency-ms 5 >"$TMP/mock.log" 2>&1 &
MOCK_PID=$!
poll 10000 up "http://127.0.0.1:$MOCK_PORT/__mock/health" || die "the simulator did not come up: $(cat "$TMP/mock.log")"

GW_PORT=$(tg_free_port)
export TG_STRESS_ANTHROPIC_KEY=sk-ant-stress-not-a-real-key
export TG_STRESS_GEMINI_KEY=AIza-stress-not-a-real-key
export TG_STRESS_OPENAI_KEY=sk-stress-not-a-real-key
CONNINFO_JSON=$(printf '%s' "$CONNINFO" | sed 's/\\/\\\\/g; s/"/\\"/g')

# The config; $1 is the OpenAI provider's rpm, the setting the SIGHUP changes.
write_config() {
	cat >"$TMP/tollgate.json.new" <<CFG
{
  "listen": "127.0.0.1:$GW_PORT",
  "workers": 2,
  "state_dir": "$TMP/state",
  "shutdown_timeout_ms": 10000,
  "database": { "conninfo": "$CONNINFO_JSON", "batch_rows": 1000, "flush_ms": 100,
                "ring_records": 262144, "log_backpressure": "reject" },
  "admin": { "key_sha256": "$(sha256 "$ADMIN_KEY")", "listen": "$TMP/state/admin.sock" },
  "providers": {
    "anthropic": { "kind": "anthropic", "base_url": "http://127.0.0.1:$MOCK_PORT",
      "api_key_env": "TG_STRESS_ANTHROPIC_KEY",
      "connect_timeout_ms": 1000, "first_byte_timeout_ms": 10000, "total_timeout_ms": 20000,
      "breaker": { "window": 20, "min_calls": 10, "failure_rate": 0.5, "consecutive_failures": 5,
                   "slow_first_byte_ms": 5000, "open_ms": 1000, "half_open_probes": 3 },
      "rate_limit": { "rpm": 60000000, "tpm": 100000000000 },
      "retry": { "max_attempts": 2, "base_ms": 20, "max_ms": 200, "budget_ratio": 0.2 } },
    "gemini": { "kind": "gemini", "base_url": "http://127.0.0.1:$MOCK_PORT",
      "api_key_env": "TG_STRESS_GEMINI_KEY",
      "connect_timeout_ms": 1000, "first_byte_timeout_ms": 10000, "total_timeout_ms": 20000,
      "rate_limit": { "rpm": 60000000, "tpm": 100000000000 } },
    "openai": { "kind": "openai", "base_url": "http://127.0.0.1:$MOCK_PORT",
      "api_key_env": "TG_STRESS_OPENAI_KEY",
      "connect_timeout_ms": 1000, "first_byte_timeout_ms": 10000, "total_timeout_ms": 20000,
      "rate_limit": { "rpm": $1, "tpm": 100000000000 } }
  },
  "models": {
    "claude-haiku-4-5": { "provider": "anthropic", "upstream": "claude-haiku-4-5",
      "price_per_mtok": { "input": "1.00", "output": "5.00", "cache_read": "0.10", "cache_write": "1.25" } },
    "claude-3-haiku": { "provider": "anthropic", "upstream": "claude-3-haiku-20240307",
      "price_per_mtok": { "input": "0.25", "output": "1.25", "cache_read": "0.03", "cache_write": "0.30" } },
    "gemini-2.5-flash": { "provider": "gemini", "upstream": "gemini-2.5-flash",
      "price_per_mtok": { "input": "0.30", "output": "2.50", "cache_read": "0.075" } },
    "gpt-4o-mini": { "provider": "openai", "upstream": "gpt-4o-mini",
      "price_per_mtok": { "input": "0.15", "output": "0.60", "cache_read": "0.075" } }
  },
  "routes": {
    "cheap": { "strategy": "fallback", "targets": ["claude-haiku-4-5", "gemini-2.5-flash"] }
  },
  "keys": [ { "name": "stress", "sha256": "$(sha256 "$CLIENT_KEY")", "rpm": 60000000, "tpm": 100000000000 } ]
}
CFG
	mv "$TMP/tollgate.json.new" "$TMP/tollgate.json"
}
write_config 60000000
"$TOLLGATE" -t -c "$TMP/tollgate.json" >"$TMP/check.log" 2>&1 || die "config rejected: $(cat "$TMP/check.log")"
"$TOLLGATE" migrate -c "$TMP/tollgate.json" >"$TMP/migrate.log" 2>&1 || die "tollgate migrate failed: $(cat "$TMP/migrate.log")"
"$TOLLGATE" -c "$TMP/tollgate.json" >"$TMP/tollgate.log" 2>&1 &
GW_PID=$!
poll 15000 logged 'ready: 2 workers serving' || die "the gateway did not become ready: $(tail -20 "$TMP/tollgate.log")"

# ---- the load -------------------------------------------------------------------------------
say "scenario: wrk -t$THREADS -c$CONNS for ${DURATION}s or until the last phase is done, through the gateway (three families, streamed and not) with faults; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
T0=$(now_ms)
# wrk runs until every phase is done and DURATION has passed, then gets SIGINT (it stops and
# reports as at its end): on a starved machine late phases still happen under load
TG_SCENARIO_OUT=$TMP TG_SCENARIO_KEY=$CLIENT_KEY wrk -t$THREADS -c$CONNS -d"$((DURATION * 4))s" --timeout 30s \
	-s tests/stress/scenario.lua "http://127.0.0.1:$GW_PORT" >"$TMP/wrk.out" 2>&1 &
WRK_PID=$!

# Phase times, as fractions of DURATION (ms after wrk started): 10 %, 25 %, 40 %, 55 %, 70 %.
T_WORKER=$((DURATION * 100))
T_LOGGER=$((DURATION * 250))
T_PG=$((DURATION * 400))
T_HUP=$((DURATION * 550))
T_DOWN=$((DURATION * 700))
# the provider stays down for a tenth of the run, at least 3 s
DOWN_MS=$((DURATION * 100))
[ "$DOWN_MS" -ge 3000 ] || DOWN_MS=3000

# 1. kill -9 a worker: the master restarts it; its calls in flight are recorded as unknown
wait_until_ms "$T_WORKER"
set -- $(children tollgate-worker)
[ $# -eq 2 ] || die "expected 2 workers under pid $GW_PID, found: $*"
# the worker holding more client connections, so that the kill cuts calls in flight
# (the workers share one listening socket: one of them often accepts all of wrk's)
C1=$(conns_of "$1") C2=$(conns_of "$2")
if [ "$C2" -gt "$C1" ]; then VICTIM=$2 OTHER=$1 VC=$C2 OC=$C1; else VICTIM=$1 OTHER=$2 VC=$C1 OC=$C2; fi
A=$(elapsed)
k0=$(now_ms)
kill -KILL "$VICTIM"
new_worker() { set -- $(children tollgate-worker); [ $# -eq 2 ] && [ "$1" != "$VICTIM" ] && [ "$2" != "$VICTIM" ]; }
poll 10000 new_worker || die "worker $VICTIM was not replaced within 10 s"
REPL=$(children tollgate-worker | tr ' ' '\n' | grep -v "^$OTHER\$")
k1=$(now_ms)
poll 5000 logged "worker pid=$VICTIM slot=[0-9]* died: killed by signal 9" || die "the master did not log worker $VICTIM's death"
UNKNOWN_CALLS=$(sed -n "s/.*worker pid=$VICTIM slot=[0-9]* died: .*unknown_calls=\([0-9]*\).*/\1/p" "$TMP/tollgate.log")
W_AT=$A
action worker "$A" "kill -9 worker $VICTIM" "($VC of wrk's connections; the other worker $OC) replaced by $REPL in $(secs $((k1 - k0))) s; the master said unknown_calls=$UNKNOWN_CALLS"

# 2. kill -9 the logger: the master restarts it; nothing it held is lost
wait_until_ms "$T_LOGGER"
LOGGER=$(children tollgate-logger)
[ -n "$LOGGER" ] || die "no tollgate-logger under pid $GW_PID"
A=$(elapsed)
k0=$(now_ms)
kill -KILL "$LOGGER"
new_logger() { l=$(children tollgate-logger); [ -n "$l" ] && [ "$l" != "$LOGGER" ]; }
poll 10000 new_logger || die "logger $LOGGER was not restarted within 10 s"
k1=$(now_ms)
L_AT=$A
action logger "$A" "kill -9 logger $LOGGER" "restarted as $(children tollgate-logger) in $(secs $((k1 - k0))) s"

# 3. restart PostgreSQL: the logger spools while it is away and replays the spool after
wait_until_ms "$T_PG"
A=$(elapsed)
k0=$(now_ms)
sh tests/pg.sh stop "$PGDIR" >/dev/null || die "could not stop PostgreSQL"
k1=$(now_ms)
SPOOL_PEAK=0
# down for 2 s at least; sample the spool gauge meanwhile
while [ $(( $(now_ms) - k1 )) -lt 2000 ]; do
	s=$(metric tollgate_log_spooled_rows)
	[ -n "$s" ] && [ "$s" -gt "$SPOOL_PEAK" ] && SPOOL_PEAK=$s
	sleep 0.2
done
sh tests/pg.sh start "$PGDIR" >/dev/null || die "could not start PostgreSQL again"
k2=$(now_ms)
spool_empty() { s=$(metric tollgate_log_spooled_rows); [ "$s" = 0 ]; }
REPLAY="spool not empty before the next phase"
if poll 15000 spool_empty; then REPLAY="spool empty $(secs $(( $(now_ms) - k2 ))) s after PostgreSQL was back"; fi
P_AT=$A
action pg "$A" "PostgreSQL stop ... start" "down $(secs $((k2 - k0))) s; spool gauge peak $SPOOL_PEAK rows; $REPLAY"

# 4. SIGHUP with a changed config: a new generation of workers and a restarted logger
wait_until_ms "$T_HUP"
OLD_WORKERS=$(children tollgate-worker)
OLD_LOGGER=$(children tollgate-logger)
write_config 50000000
A=$(elapsed)
k0=$(now_ms)
kill -HUP "$GW_PID"
poll 20000 logged 'reloaded generation=2 ' || die "no 'reloaded generation=2' within 20 s: $(tail -5 "$TMP/tollgate.log")"
k1=$(now_ms)
old_gone() {
	for p in $OLD_WORKERS; do kill -0 "$p" 2>/dev/null && return 1; done
	l=$(children tollgate-logger); [ -n "$l" ] && [ "$l" != "$OLD_LOGGER" ]
}
poll 20000 old_gone || die "the old workers ($OLD_WORKERS) or logger ($OLD_LOGGER) did not go within 20 s"
k2=$(now_ms)
RELOAD_SHA=$(sed -n 's/.*reloaded generation=2 config_sha256=\([0-9a-f]*\).*/\1/p' "$TMP/tollgate.log")
H_AT=$A
action hup "$A" "SIGHUP (openai rpm changed)" "reloaded in $(secs $((k1 - k0))) s; workers $OLD_WORKERS -> $(children tollgate-worker), logger $OLD_LOGGER -> $(children tollgate-logger), old ones gone after $(secs $((k2 - k0))) s"

# 5. anthropic down (503 on every call) for DOWN_MS, then back
wait_until_ms "$T_DOWN"
A=$(elapsed)
DOWN_EPOCH_MS=$(now_ms)
fault '{"fault":"503","provider":"anthropic","rate":1}'
OPENED=""
k0=$(now_ms)
while [ $(( $(now_ms) - k0 )) -lt "$DOWN_MS" ]; do
	if [ -z "$OPENED" ] && [ "$(breaker_state anthropic)" = open ]; then OPENED=$(now_ms); fi
	sleep 0.1
done
D_AT=$A
if [ -n "$OPENED" ]; then seen="breaker seen open $(secs $((OPENED - k0))) s after"; else seen="breaker never seen open"; fi
action down "$A" "anthropic down (simulator 503)" "$seen"
fault '{"fault":"none","provider":"all"}'
A=$(elapsed)
UP_EPOCH_MS=$(now_ms)
closed() { [ "$(breaker_state anthropic)" = closed ]; }
CLOSED_NOTE="breaker not closed again"
BREAKER_CLOSED=0 PROBES=0
end_ms=$((T0 + DURATION * 1000 - 200))
[ "$end_ms" -ge $(( $(now_ms) + 3000 )) ] || end_ms=$(( $(now_ms) + 3000 ))
if poll $((end_ms - $(now_ms))) closed; then
	BREAKER_CLOSED=1 CLOSED_NOTE="breaker closed again $(secs $(( $(now_ms) - UP_EPOCH_MS ))) s after, under wrk's load"
fi
U_AT=$A

# ---- wrk ends; the gateway stops and drains -----------------------------------------------
wait_until_ms $((DURATION * 1000))
kill -INT "$WRK_PID"
WRK_END=$(now_ms)
wait_end() { ! kill -0 "$WRK_PID" 2>/dev/null; }
poll 60000 wait_end || die "wrk did not end within 60 s of its SIGINT"
wait "$WRK_PID" || die "wrk failed: $(cat "$TMP/wrk.out")"
WRK_PID=""
grep -q '^TGSTRESS ' "$TMP/wrk.out" || die "wrk printed no TGSTRESS line: $(cat "$TMP/wrk.out")"
eval "$(sed -n 's/^TGSTRESS //p' "$TMP/wrk.out" | tr ' ' '\n' | grep -E '^[a-z0-9_]+=[0-9]+$')"

# On a starved machine the phases run late and wrk may end before the breaker's
# half-open probes went through: then calls of our own, ids p-<n>, drive it (at
# most 15 s). They join the ledger (probes.txt) and are checked like wrk's.
: >"$TMP/probes.txt"
probe() {
	PROBES=$((PROBES + 1))
	_code=$(curl -s --max-time 10 -o /dev/null -D "$TMP/probe.h" -w '%{http_code}' \
		-H "x-api-key: $CLIENT_KEY" -H 'anthropic-version: 2023-06-01' -H 'content-type: application/json' \
		-H "x-request-id: p-$PROBES" -d '{"model":"claude-haiku-4-5","max_tokens":64,"messages":[{"role":"user","content":"What is the capital of France?"}]}' \
		"http://127.0.0.1:$GW_PORT/v1/messages") || _code=000
	if [ "$_code" = 000 ]; then
		echo "p-$PROBES" >>"$TMP/unanswered.txt"
	else
		_cost=$(tr -d '\r' <"$TMP/probe.h" | sed -n 's/^[Xx]-[Tt]ollgate-[Cc]ost-[Uu][Ss][Dd]: *//p')
		echo "p-$PROBES $_code ${_cost:-\\N}" >>"$TMP/probes.txt"
	fi
	sleep 0.2
	closed
}
if [ "$BREAKER_CLOSED" = 0 ] && poll 15000 probe; then
	BREAKER_CLOSED=1 CLOSED_NOTE="breaker closed again $(secs $(( $(now_ms) - UP_EPOCH_MS ))) s after, after wrk ended, with $PROBES calls of ours"
fi
action back "$A" "anthropic back (fault none)" "$CLOSED_NOTE"

k0=$(now_ms)
kill -TERM "$GW_PID"
gw_gone() { ! kill -0 "$GW_PID" 2>/dev/null; }
poll 40000 gw_gone || die "the gateway did not stop within 40 s of SIGTERM"
GW_RC=0
wait "$GW_PID" || GW_RC=$?
GW_PID=""
STOP_S=$(secs $(( $(now_ms) - k0 )))

# ---- the checks -----------------------------------------------------------------------------
FAILS=$TMP/fails.txt
: >"$FAILS"
check() { # condition-as-exit-status message
	if ! eval "$1"; then echo "$2" >>"$FAILS"; fi
}

cat "$TMP"/answered-*.txt >"$TMP/answered.txt"
ANSWER_LINES=$(wc -l <"$TMP/answered.txt")
PROBE_ANSWERS=$(wc -l <"$TMP/probes.txt")
cat "$TMP/probes.txt" >>"$TMP/answered.txt"
SOCKET_ERRORS=$((connect + read + write + timeout))
check '[ "$GW_RC" = 0 ]' "the gateway exited $GW_RC after SIGTERM (want 0)"
check 'grep -q "logger stopping spooled_rows=0$" "$TMP/tollgate.log"' "the logger did not stop with an empty spool"
check '[ "$answers" = "$requests" ]' "wrk counted $requests answers, response() saw $answers"
check '[ "$unmatched" = 0 ]' "$unmatched answers carried no x-client-request-id"
check '[ "$ANSWER_LINES" = "$answers" ]' "answer files hold $ANSWER_LINES lines for $answers answers"
check '[ "$cutstreams" = 0 ]' "$cutstreams streamed 200 answers ended without the closing tollgate comment"

# what the database holds, against the client's ledger (psql runs the \copy as this user)
cat >"$TMP/check.sql" <<SQL
CREATE TEMP TABLE a (cid text, status int, cost numeric);
\\copy a FROM '$TMP/answered.txt' WITH (FORMAT text, DELIMITER ' ')
CREATE TEMP TABLE u (cid text);
\\copy u FROM '$TMP/unanswered.txt' WITH (FORMAT text)
CREATE INDEX ON a (cid);
CREATE INDEX ON u (cid);
SELECT 'rows=' || count(*) FROM requests;
SELECT 'rows_noid=' || count(*) FROM requests WHERE client_request_id IS NULL;
SELECT 'dup_ids=' || count(*) FROM (SELECT 1 FROM requests GROUP BY client_request_id HAVING count(*) > 1) d;
SELECT 'dup_answers=' || count(*) FROM (SELECT 1 FROM a GROUP BY cid HAVING count(*) > 1) d;
SELECT 'lost=' || count(*) FROM a LEFT JOIN requests r ON r.client_request_id = a.cid WHERE r.request_id IS NULL;
SELECT 'wrong_status=' || count(*) FROM a JOIN requests r ON r.client_request_id = a.cid WHERE r.status <> a.status;
SELECT 'wrong_cost=' || count(*) FROM a JOIN requests r ON r.client_request_id = a.cid WHERE a.cost IS NOT NULL AND r.cost_usd <> a.cost;
SELECT 'costed=' || count(*) FROM a WHERE a.cost IS NOT NULL;
SELECT 'client_usd=' || coalesce(sum(a.cost), 0)::numeric(30,12) FROM a;
SELECT 'db_usd=' || coalesce(sum(r.cost_usd), 0)::numeric(30,12) FROM a JOIN requests r ON r.client_request_id = a.cid;
SELECT 'answered_unknown=' || count(*) FROM a JOIN requests r ON r.client_request_id = a.cid WHERE r.outcome = 'unknown';
SELECT 'unexpected=' || count(*) FROM requests r WHERE NOT EXISTS (SELECT 1 FROM a WHERE a.cid = r.client_request_id)
	AND NOT EXISTS (SELECT 1 FROM u WHERE u.cid = r.client_request_id);
SELECT 'cut_unknown=' || count(*) FROM requests r JOIN u ON u.cid = r.client_request_id WHERE r.outcome = 'unknown';
SELECT 'cut_other=' || count(*) FROM requests r JOIN u ON u.cid = r.client_request_id WHERE r.outcome <> 'unknown';
-- "delivered" means handed to the kernel: calls wrk abandoned when its time was up may say so
SELECT 'cut_delivered=' || count(*) FROM requests r JOIN u ON u.cid = r.client_request_id WHERE r.delivery = 'delivered'
	AND extract(epoch FROM r.created_at) * 1000 + r.latency_us / 1000.0 < $WRK_END - 500;
SELECT 'answered_undelivered=' || count(*) FROM a JOIN requests r ON r.client_request_id = a.cid WHERE r.delivery = 'not_delivered';
SELECT 'unknown_rows=' || count(*) FROM requests WHERE outcome = 'unknown';
SELECT 'db_s' || r.status || '=' || count(*) FROM a JOIN requests r ON r.client_request_id = a.cid
	WHERE a.cid NOT LIKE 'p-%' GROUP BY r.status;
SELECT 'attempt_rows=' || count(*) FROM attempts;
SELECT 'attempts_claimed=' || coalesce(sum(attempts), 0) FROM requests;
SELECT 'audit_start=' || count(*) FROM audit_log WHERE event = 'start';
SELECT 'audit_reload=' || count(*) FROM audit_log WHERE event = 'reload';
SELECT 'audit_reload_sha=' || coalesce(max(detail->>'config_sha256'), 'none') FROM audit_log WHERE event = 'reload';
SELECT 'audit_start_sha=' || coalesce(max(detail->>'config_sha256'), 'none') FROM audit_log WHERE event = 'start';
-- the provider-down window: what the calls to anthropic's models and to the route got
SELECT 'down_' || k || '=' || count(*) FROM (
	SELECT CASE
		WHEN route = 'cheap' AND provider = 'gemini' AND status = 200 THEN 'fallback'
		WHEN status = 503 AND outcome = 'unavailable' THEN 'fast503'
		WHEN provider = 'anthropic' AND status >= 500 THEN 'upstream5xx'
		WHEN provider = 'anthropic' AND status = 200 THEN 'anthropic200'
		ELSE 'other' END AS k
	FROM requests
	WHERE created_at >= to_timestamp($DOWN_EPOCH_MS / 1000.0)
	  AND created_at < to_timestamp($UP_EPOCH_MS / 1000.0)
	  AND (route = 'cheap' OR model LIKE 'claude%')) w GROUP BY k;
SQL
PSQL -f "$TMP/check.sql" >"$TMP/db.txt" 2>"$TMP/db.err" || die "the database checks failed to run: $(cat "$TMP/db.err")"
rows=0 rows_noid=0 dup_ids=0 dup_answers=0 lost=0 wrong_status=0 answered_unknown=0 unexpected=0
cut_unknown=0 cut_other=0 unknown_rows=0 attempt_rows=0 attempts_claimed=0 audit_start=0 audit_reload=0
cut_delivered=0 answered_undelivered=0
down_fallback=0 down_fast503=0 down_upstream5xx=0 down_anthropic200=0 down_other=0
audit_reload_sha=none audit_start_sha=none
wrong_cost=0 costed=0 client_usd=0 db_usd=0
eval "$(grep -E '^[a-z0-9_]+=[0-9a-z.]+$' "$TMP/db.txt")"

check '[ "$lost" = 0 ]' "$lost answered calls have no row in requests (lost)"
check '[ "$dup_ids" = 0 ]' "$dup_ids client ids have more than one row (doubled)"
check '[ "$dup_answers" = 0 ]' "$dup_answers client ids were answered twice by the gateway"
check '[ "$wrong_status" = 0 ]' "$wrong_status rows carry another status than the one wrk got"
check '[ "$wrong_cost" = 0 ]' "$wrong_cost rows carry another cost than the one the client was told"
check '[ "$client_usd" = "$db_usd" ]' "the answers cost the clients $client_usd USD, their rows say $db_usd USD"
check '[ "$attempt_rows" = "$attempts_claimed" ]' "attempts has $attempt_rows rows, requests.attempts sums to $attempts_claimed"
check '[ "$answered_unknown" = 0 ]' "$answered_unknown answered calls were recorded as unknown"
# a row may lack wrk's answer only when its delivery is unknown (a worker died) or the client
# left (wrk abandons what is in flight when its time is up)
check '[ "$cut_delivered" = 0 ]' "$cut_delivered rows say delivered for calls wrk got no answer to before its end"
check '[ "$answered_undelivered" = 0 ]' "$answered_undelivered answered calls are recorded as not delivered"
check '[ "$unexpected" = 0 ]' "$unexpected rows belong to no request wrk sent"
check '[ "$rows_noid" = 0 ]' "$rows_noid rows have no client id"
check '[ "$cut_unknown" -le "$SOCKET_ERRORS" ]' "$cut_unknown unknown rows, more than wrk's $SOCKET_ERRORS socket errors"
check '[ "$unknown_rows" = "$cut_unknown" ]' "$unknown_rows rows are unknown, $cut_unknown of them for calls wrk got no answer to"
# a worker killed between pushing a call's record and clearing its in-flight entry
# leaves both; the real record is first and wins, so rows <= the master's count
check '[ "$cut_unknown" -le "${UNKNOWN_CALLS:-0}" ]' "the master recovered unknown_calls=$UNKNOWN_CALLS, the database has $cut_unknown unknown rows"
check '[ "$rows" = $((answers + PROBE_ANSWERS + cut_unknown + cut_other)) ]' \
	"rows $rows != answers $answers + our probe calls $PROBE_ANSWERS + cut calls recorded $((cut_unknown + cut_other))"
for s in $(sed -n 's/^TGSTRESS //p' "$TMP/wrk.out" | tr ' ' '\n' | sed -n 's/^s\([0-9]*\)=.*/\1/p'); do
	eval "w=\$s$s"
	eval "d=\${db_s$s:-0}"
	check '[ "$w" = "$d" ]' "status $s: wrk counted $w answers, the database has $d rows for them"
done

# breaker transitions: every 'breaker X -> Y provider=P' the workers logged has its audit row
grep -o 'breaker [a-z_]* -> [a-z_]* provider=[A-Za-z0-9_.-]*' "$TMP/tollgate.log" |
	awk '{ sub("provider=", "", $5); print $5, $2, $4 }' | sort | uniq -c | awk '{ print $2, $3, $4, $1 }' >"$TMP/transitions.log.txt" || true
PSQL -c "SELECT detail->>'provider', detail->>'from', detail->>'to', count(*) FROM audit_log
	WHERE event = 'breaker_transition' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3" |
	tr '|' ' ' | sort >"$TMP/transitions.db.txt" || die "could not read audit_log"
check 'cmp -s "$TMP/transitions.log.txt" "$TMP/transitions.db.txt"' "breaker transitions in the log and in audit_log differ (log: $(tr '\n' ';' <"$TMP/transitions.log.txt") db: $(tr '\n' ';' <"$TMP/transitions.db.txt"))"
check 'grep -q "^anthropic closed open " "$TMP/transitions.db.txt"' "anthropic's breaker never opened while it was down"
check '[ "$audit_start" = 1 ]' "audit_log has $audit_start start rows (want 1)"
check '[ "$audit_reload" = 1 ]' "audit_log has $audit_reload reload rows (want 1)"
check '[ "$audit_reload_sha" = "$RELOAD_SHA" ] && [ "$audit_reload_sha" != "$audit_start_sha" ]' \
	"the reload row's config_sha256 $audit_reload_sha is not the reloaded config's $RELOAD_SHA (start: $audit_start_sha)"
check '[ "$BREAKER_CLOSED" = 1 ]' "anthropic's breaker did not close again (15 s of probe calls after wrk included)"
check '[ "$down_fallback" -gt 0 ]' "no call of the route fell back to gemini while anthropic was down"
check 'grep -q "spool replayed into PostgreSQL rows=" "$TMP/tollgate.log"' "the logger never replayed a spool after the PostgreSQL restart"

# Unanswered calls placed in time: a row's created_at, or the thread's previous call's.
cat >"$TMP/cut.sql" <<SQL
CREATE TEMP TABLE u (cid text);
\\copy u FROM '$TMP/unanswered.txt' WITH (FORMAT text)
CREATE TEMP TABLE rr AS SELECT split_part(client_request_id, '-', 1) AS t,
	split_part(client_request_id, '-', 2)::int AS n, created_at, outcome FROM requests;
CREATE INDEX ON rr (t, n);
SELECT round(((extract(epoch FROM ts) * 1000 - $T0) / 1000)::numeric, 1), outcome FROM (SELECT
	(SELECT outcome FROM rr WHERE rr.t = split_part(u.cid, '-', 1) AND rr.n = split_part(u.cid, '-', 2)::int) AS outcome,
	coalesce(
	(SELECT created_at FROM rr WHERE rr.t = split_part(u.cid, '-', 1) AND rr.n = split_part(u.cid, '-', 2)::int),
	(SELECT created_at FROM rr WHERE rr.t = split_part(u.cid, '-', 1) AND rr.n < split_part(u.cid, '-', 2)::int
		ORDER BY rr.n DESC LIMIT 1)) AS ts FROM u) x WHERE ts IS NOT NULL;
SQL
PSQL -f "$TMP/cut.sql" >"$TMP/cut.out" 2>"$TMP/db.err" || die "could not place the unanswered calls in time: $(cat "$TMP/db.err")"
# "<s> <outcome>" per unanswered call; an empty outcome: no row
tr '|' ' ' <"$TMP/cut.out" | grep -E '^-?[0-9.]+( [a-z_]*)?$' >"$TMP/cut-times.txt" || true
PSQL -F ' ' -c "CREATE TEMP TABLE u (cid text);" -c "\\copy u FROM '$TMP/unanswered.txt' WITH (FORMAT text)" \
	-c "SELECT 'status', status, outcome, count(*) FROM requests r JOIN u ON u.cid = r.client_request_id
		WHERE outcome <> 'unknown' GROUP BY 2, 3 ORDER BY 4 DESC" >"$TMP/cut-kinds.out" 2>"$TMP/db.err" ||
	die "could not read the cut calls' rows: $(cat "$TMP/db.err")"
sed -n 's/^status \([0-9]*\) \([a-z_0-9]*\) \([0-9]*\)$/\3 × \1 \2/p' "$TMP/cut-kinds.out" >"$TMP/cut-kinds.txt"
# for a post-mortem (TG_STRESS_KEEP=1): every call wrk got no answer to that has a row
PSQL -F ' ' -c "CREATE TEMP TABLE u (cid text);" -c "\\copy u FROM '$TMP/unanswered.txt' WITH (FORMAT text)" \
	-c "SELECT 'cid status outcome stream endpoint started_s finished_s latency_ms'" \
	-c "SELECT r.client_request_id, r.status, r.outcome, r.stream, r.endpoint,
		round(((extract(epoch FROM r.created_at) * 1000 - $T0) / 1000)::numeric, 3),
		round(((extract(epoch FROM r.created_at) * 1000 + r.latency_us / 1000.0 - $T0) / 1000)::numeric, 3),
		round(r.latency_us / 1000.0, 1)
		FROM requests r JOIN u ON u.cid = r.client_request_id ORDER BY 6" >"$TMP/cut-rows.txt" 2>/dev/null || true
near() { # from to: unanswered calls placed in [from, to) s: all, recorded unknown, recorded served
	awk -v a="$1" -v b="$2" '$1 >= a && $1 < b { n++; if ($2 == "unknown") u++; else if ($2 != "") o++ }
		END { print n + 0, u + 0, o + 0 }' "$TMP/cut-times.txt"
}
plus() { echo "$1 $2" | awk '{ printf "%.1f", $1 + $2 }'; }

# ---- the table --------------------------------------------------------------------------------
say ""
say "=== what the scenario did and what it saw (DURATION ${DURATION}s; wrk -t$THREADS -c$CONNS; times in s after wrk started) ==="
more worker "; $cut_unknown rows with outcome unknown"
more pg "; the logger said: $(grep -o 'spool replayed into PostgreSQL rows=[0-9]*' "$TMP/tollgate.log" | sed 's/.*rows=//' | awk '{ s += $1; n++ } END { printf "%d row(s) replayed in %d replay(s)", s, n }')"
more down "; then route 'cheap' served by gemini $down_fallback, fast 503 (breaker open) $down_fast503, anthropic 5xx passed on $down_upstream5xx"
awk -F'\t' 'FNR == NR { x[$1] = x[$1] $2; next } { printf "  %6s  %-31s %s%s\n", $2, $3, $4, x[$1] }' "$ACTIONS.more" "$ACTIONS"
say ""
say "  by phase: calls wrk got no answer to (socket errors, or cut when it stopped), and the rows' latency:"
LAST=$(( (WRK_END - T0) / 1000 - 1 ))
WINDOWS="before the first fault|-999999|$(plus "$W_AT" -0.5)
from the worker kill|$(plus "$W_AT" -0.5)|$(plus "$L_AT" -0.5)
from the logger kill|$(plus "$L_AT" -0.5)|$(plus "$P_AT" -0.5)
from the PostgreSQL restart|$(plus "$P_AT" -0.5)|$(plus "$H_AT" -0.5)
from the SIGHUP|$(plus "$H_AT" -0.5)|$(plus "$D_AT" -0.5)
from anthropic down|$(plus "$D_AT" -0.5)|$LAST
the last second (wrk stopping)|$LAST|999999"
VALUES=$(echo "$WINDOWS" | awk -F'|' '{ printf "%s(%d, %s, %s)", (NR > 1 ? ", " : ""), NR, $2, $3 }')
PSQL -F ' ' -c "SELECT w.i, count(r.*), coalesce(round(percentile_cont(0.99) WITHIN GROUP (ORDER BY r.latency_us)::numeric / 1000, 1), 0),
	coalesce(round(max(r.latency_us)::numeric / 1000, 1), 0)
	FROM (VALUES $VALUES) w(i, a, b) LEFT JOIN requests r
	ON (extract(epoch FROM r.created_at) * 1000 - $T0) / 1000 >= w.a AND (extract(epoch FROM r.created_at) * 1000 - $T0) / 1000 < w.b
	GROUP BY w.i ORDER BY w.i" >"$TMP/windows.out" 2>"$TMP/db.err" || die "could not read latency by phase: $(cat "$TMP/db.err")"
say "    (unanswered: wrk got no answer; unknown: recorded so; served: recorded with an outcome all the same)"
printf '    %-40s %10s %8s %7s %9s %8s %8s\n' "phase (s after wrk started)" "unanswered" "unknown" "served" "rows" "p99 ms" "max ms"
i=0
echo "$WINDOWS" | while IFS='|' read -r name a b; do
	i=$((i + 1))
	set -- $(awk -v i="$i" '$1 == i { print $2, $3, $4 }' "$TMP/windows.out")
	case $a in -*) span="..$b" ;; *) case $b in 999999) span="$a.." ;; *) span="$a..$b" ;; esac ;; esac
	r=${1:-0} p=${2:-0} m=${3:-0}
	set -- $(near "$a" "$b")
	printf '    %-40s %10s %8s %7s %9s %8s %8s\n' "$name ($span)" "$1" "$2" "$3" "$r" "$p" "$m"
done
printf '    %-40s %10s   (wrk: connect %s, read %s, write %s, timeout %s)\n' "total" "$unanswered" "$connect" "$read" "$write" "$timeout"
say ""
say "  anthropic down $D_AT..$U_AT s: route 'cheap' served by gemini $down_fallback; fast 503 (breaker open) $down_fast503;"
say "    anthropic 5xx passed on after retries $down_upstream5xx; anthropic 200 $down_anthropic200; other $down_other"
say "  breaker transitions (provider from to count), log = audit_log:"
sed 's/^/    /' "$TMP/transitions.db.txt"
say "  audit_log: start $audit_start, reload $audit_reload (config_sha256 ${audit_reload_sha%"${audit_reload_sha#????????????}"}…)"
say "  gateway SIGTERM: exit $GW_RC after $STOP_S s; $(grep -o 'logger stopping spooled_rows=[0-9]*' "$TMP/tollgate.log" | tail -1)"
say "  rows that are not 200, by status, outcome and error:"
PSQL -F ' | ' -c "SELECT status, outcome, coalesce(left(error, 60), ''), count(*) FROM requests
	WHERE status <> 200 GROUP BY 1, 2, 3 ORDER BY 4 DESC" | sed 's/^/    /'
say ""
printf '  %-10s %12s %14s\n' "status" "wrk answers" "requests rows"
for s in $(sed -n 's/^TGSTRESS //p' "$TMP/wrk.out" | tr ' ' '\n' | sed -n 's/^s\([0-9]*\)=.*/\1/p'); do
	eval "w=\$s$s"
	eval "d=\${db_s$s:-0}"
	printf '  %-10s %12s %14s\n' "$s" "$w" "$d"
done
printf '  %-10s %12s %14s\n' "answered" "$answers" "$((rows - cut_unknown - cut_other - PROBE_ANSWERS))"
[ "$PROBE_ANSWERS" = 0 ] || printf '  %-10s %12s %14s\n' "+ probes" "$PROBE_ANSWERS" "(checked alike)"
printf '  %-10s %12s %14s\n' "unanswered" "$unanswered" "$((cut_unknown + cut_other))"
printf '    %-34s %s\n' "recorded as unknown (worker died)" "$cut_unknown (master: unknown_calls=$UNKNOWN_CALLS)"
printf '    %-34s %s\n' "recorded with an outcome" "$cut_other: $(tr '\n' ' ' <"$TMP/cut-kinds.txt")"
printf '    %-34s %s\n' "no row (never reached the gateway)" "$((unanswered - cut_unknown - cut_other)) (one is wrk's dry run of request())"
printf '  %-10s %12s %14s\n' "total" "$((answers + PROBE_ANSWERS + unanswered))" "$rows"
say "  lost $lost, doubled $dup_ids, wrong status $wrong_status, wrong cost $wrong_cost, unexpected $unexpected"
say "  cost: $costed answers told their cost, together $client_usd USD; their rows: $db_usd USD"
say "  attempts rows $attempt_rows (requests.attempts sums to $attempts_claimed)"
say "  wrk: $(echo "$answers $duration_us" | awk '{ printf "%.0f", $1 * 1e6 / $2 }') answers/s, latency p50 $(echo "$p50_us" | awk '{ printf "%.1f", $1 / 1000 }') ms, p99 $(echo "$p99_us" | awk '{ printf "%.1f", $1 / 1000 }') ms"
say ""
if [ -s "$FAILS" ]; then
	FAILED=1
	say "FAIL:"
	sed 's/^/  - /' "$FAILS"
	exit 1
fi
say "PASS: every answered call is in requests exactly once with the status wrk saw; every breaker transition is audited"
