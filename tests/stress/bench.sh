#!/bin/sh
# `make bench` (SPEC 12): wrk against the provider simulator directly, through
# nginx proxy_pass (keepalive pool) and through the gateway, interleaved, for a
# 0 ms upstream (throughput, 64 connections) and a 20 ms one (added latency, 8
# connections), Anthropic Messages streamed and not; then the gateway workers'
# memory at 1,000 open connections. Beside every run, the CPU time the serving
# processes took per call (from /proc: the gateway's workers, nginx's workers,
# the simulator) and, for the gateway, its logger's and PostgreSQL's per row
# written. Prints one table. Exits non-zero only when something fails to run (a
# tool missing, a process not starting, wrk failing, a target with no 2xx
# answer at all), never because a number is slow.
#
# Run from the repository root after `make`. Knobs (environment):
#   TG_BENCH_SECONDS=5  TG_BENCH_REPS=2  TG_BENCH_THREADS=2  TG_BENCH_CONNECTIONS=64
#   TG_BENCH_LAT_CONNECTIONS=8 (the 20 ms runs)
#   TG_BENCH_MEM_CONNECTIONS=1000  TG_BUILD_DIR=build  TG_BENCH_KEEP=1 (keep the temp dir)
#   TG_BENCH_PG=<conninfo>   log to this PostgreSQL (migrated first); "auto": start a
#                            private one with tests/pg.sh under the temp dir; unset: no
#                            database, the logger spools every row to disk
#   TG_BENCH_BACKPRESSURE=allow   serve calls the log ring cannot take (default reject,
#                            SPEC 8): measures the proxy path without the logger's ceiling
set -eu
. "$(dirname "$0")/../lib.sh"

BUILD=${TG_BUILD_DIR:-build}
DUR=${TG_BENCH_SECONDS:-5}
REPS=${TG_BENCH_REPS:-2}
THREADS=${TG_BENCH_THREADS:-2}
CONNS=${TG_BENCH_CONNECTIONS:-64}
LAT_CONNS=${TG_BENCH_LAT_CONNECTIONS:-8}
MEM_CONNS=${TG_BENCH_MEM_CONNECTIONS:-1000}
TOLLGATE=$BUILD/tollgate
MOCK=$BUILD/tollgate-mock
HERE=tests/stress
TMP=$(mktemp -d /tmp/tg-bench.XXXXXX)
PIDS=""
PGDIR=""

say() { printf '%s\n' "$*"; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# Stop what we started (only those pids), gateways by SIGTERM so they drain.
cleanup() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $PIDS; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
		kill -KILL "$p" 2>/dev/null || true
	done
	[ -z "$PGDIR" ] || sh tests/pg.sh stop "$PGDIR" >/dev/null 2>&1 || true
	if [ "${TG_BENCH_KEEP:-}" = 1 ]; then say "bench: kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
for tool in wrk curl node "$NGINX"; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (sh tests/deps.sh)"
done
[ -x "$TOLLGATE" ] && [ -x "$MOCK" ] || die "$TOLLGATE or $MOCK is not built (make)"
[ -f "$HERE/messages.lua" ] || die "run from the repository root"
# wrk -c1000 and the gateway's 1,000 sockets need more than the usual 1024 descriptors
ulimit -n 65536 2>/dev/null || true
[ "$(ulimit -n)" -ge $((MEM_CONNS + 256)) ] || die "ulimit -n is $(ulimit -n): too low for $MEM_CONNS connections"


# Wait until URL answers (any HTTP status), at most 10 s.
wait_up() {
	i=0
	until curl -s -o /dev/null "$1"; do
		i=$((i + 1))
		[ $i -lt 200 ] || die "$1 did not come up (logs in $TMP; TG_BENCH_KEEP=1 keeps them)"
		sleep 0.05
	done
}

# ---- the simulators: 0 ms and 20 ms to the first byte -------------------------
start_mock() { # name latency_ms -> sets MOCK_PORT
	MOCK_PORT=$(tg_free_port)
	"$MOCK" --listen "127.0.0.1:$MOCK_PORT" --seed 1 --latency-ms "$2" --jitter-ms 0 \
		>"$TMP/$1.log" 2>&1 &
	MOCK_PID=$!
	PIDS="$PIDS $!"
	wait_up "http://127.0.0.1:$MOCK_PORT/__mock/stats"
}
start_mock mock0 0
M0=$MOCK_PORT M0_PID=$MOCK_PID
start_mock mock20 20
M20=$MOCK_PORT M20_PID=$MOCK_PID

# ---- nginx proxy_pass with an upstream keepalive pool, same worker count --------
N0=$(tg_free_port)
N20=$(tg_free_port)
mkdir -p "$TMP/nginx/tmp"
chmod 755 "$TMP" "$TMP/nginx"
chmod 777 "$TMP/nginx/tmp"
cat >"$TMP/nginx/nginx.conf" <<NGX
worker_processes 2;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log error;
events { worker_connections 8192; }
http {
	access_log off;
	client_body_temp_path $TMP/nginx/tmp;
	proxy_temp_path $TMP/nginx/tmp;
	fastcgi_temp_path $TMP/nginx/tmp;
	uwsgi_temp_path $TMP/nginx/tmp;
	scgi_temp_path $TMP/nginx/tmp;
	keepalive_requests 1000000;
	upstream mock0 { server 127.0.0.1:$M0; keepalive 128; keepalive_requests 1000000; }
	upstream mock20 { server 127.0.0.1:$M20; keepalive 128; keepalive_requests 1000000; }
	# what an LLM proxy needs: HTTP/1.1 keep-alive upstream, SSE relayed unbuffered
	proxy_http_version 1.1;
	proxy_set_header Connection "";
	proxy_buffering off;
	proxy_max_temp_file_size 0;
	server { listen 127.0.0.1:$N0; location / { proxy_pass http://mock0; } }
	server { listen 127.0.0.1:$N20; location / { proxy_pass http://mock20; } }
}
NGX
"$NGINX" -e "$TMP/nginx/error.log" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" &
NGINX_PID=$!
PIDS="$PIDS $!"
wait_up "http://127.0.0.1:$N0/__mock/stats"
wait_up "http://127.0.0.1:$N20/__mock/stats"

# ---- the gateways: workers 2, metering, breaker, rate limits and logging on -----
if [ "${TG_BENCH_PG:-}" = auto ]; then
	PGDIR=$TMP/pg
	TG_BENCH_PG=$(sh tests/pg.sh start "$PGDIR") || die "could not start PostgreSQL with tests/pg.sh"
fi
if [ -n "${TG_BENCH_PG:-}" ]; then
	CONNINFO=$TG_BENCH_PG
	DBNOTE="database: PostgreSQL (TG_BENCH_PG); every call is written to requests"
else
	CONNINFO="host=$TMP/no-database dbname=tollgate connect_timeout=1"
	DBNOTE="database: none (TG_BENCH_PG unset); the logger spools every row to disk (fdatasync per batch)"
fi
BACKPRESSURE=${TG_BENCH_BACKPRESSURE:-reject}
case $BACKPRESSURE in reject | allow) ;; *) die "TG_BENCH_BACKPRESSURE must be reject or allow" ;; esac
DBNOTE="$DBNOTE; log_backpressure $BACKPRESSURE"
CONNINFO_JSON=$(printf '%s' "$CONNINFO" | sed 's/\\/\\\\/g; s/"/\\"/g')
export TG_BENCH_ANTHROPIC_KEY=sk-ant-bench-not-a-real-key

gateway_config() { # name mock_port listen_port
	mkdir -p "$TMP/$1"
	cat >"$TMP/$1/tollgate.json" <<CFG
{
  "listen": "127.0.0.1:$3",
  "workers": 2,
  "state_dir": "$TMP/$1/state",
  "admin": { "listen": "$TMP/$1/state/admin.sock" },
  "shutdown_timeout_ms": 5000,
  "database": { "conninfo": "$CONNINFO_JSON", "batch_rows": 1000, "flush_ms": 100,
                "ring_records": 65536, "log_backpressure": "$BACKPRESSURE" },
  "providers": {
    "anthropic": { "kind": "anthropic", "base_url": "http://127.0.0.1:$2",
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
}

start_gateway() { # name mock_port -> sets GW_PORT, GW_PID
	GW_PORT=$(tg_free_port)
	gateway_config "$1" "$2" "$GW_PORT"
	if [ -n "${TG_BENCH_PG:-}" ]; then
		"$TOLLGATE" migrate -c "$TMP/$1/tollgate.json" >"$TMP/$1/migrate.log" 2>&1 ||
			die "tollgate migrate failed: $(cat "$TMP/$1/migrate.log")"
	fi
	"$TOLLGATE" -c "$TMP/$1/tollgate.json" >"$TMP/$1/tollgate.log" 2>&1 &
	GW_PID=$!
	PIDS="$PIDS $GW_PID"
	wait_up "http://127.0.0.1:$GW_PORT/healthz"
}
start_gateway gw0 "$M0"
G0=$GW_PORT G0_PID=$GW_PID
start_gateway gw20 "$M20"
G20=$GW_PORT G20_PID=$GW_PID

# ---- CPU time, from /proc (utime + stime, in clock ticks) --------------------------
HZ=$(getconf CLK_TCK)
ticks_of() { # pids...
	for p in "$@"; do awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0; done |
		awk '{ s += $1 } END { print s + 0 }'
}
children() { ps -o pid= --ppid "$1" 2>/dev/null || true; }
worker_pids() { # master pid
	ps -o pid=,comm= --ppid "$1" | awk '$2 == "tollgate-worker" { print $1 }'
}
logger_pid() { ps -o pid=,comm= --ppid "$1" | awk '$2 == "tollgate-logger" { print $1 }'; }
# the PostgreSQL the gateways write to, if it runs here: its postmaster, found as the
# parent of the logger's backend (which stays connected); every process it started counts
PG_PM=""
if [ -n "${TG_BENCH_PG:-}" ] && command -v psql >/dev/null 2>&1; then
	i=0
	while [ -z "$PG_PM" ] && [ $i -lt 100 ]; do
		be=$(psql "$CONNINFO" -XAtc "SELECT max(pid) FROM pg_stat_activity WHERE \
			application_name = 'tollgate'" 2>/dev/null || true)
		[ -z "$be" ] || PG_PM=$(awk '{ print $4 }' "/proc/$be/stat" 2>/dev/null || true)
		i=$((i + 1))
		[ -n "$PG_PM" ] || sleep 0.1
	done
fi
# the postmaster's children that have exited (an autovacuum worker, say) count in its cutime
# and cstime: without them a round's PostgreSQL CPU could come out negative
pg_ticks() {
	[ -z "$PG_PM" ] && { echo 0; return; }
	{ ticks_of $(children "$PG_PM"); awk '{ print $14 + $15 + $16 + $17 }' "/proc/$PG_PM/stat"; } |
		awk '{ s += $1 } END { print s + 0 }'
}
metric() { # gateway name, metric
	curl -s --unix-socket "$TMP/$1/state/admin.sock" http://admin/metrics |
		awk -v m="$2" '$1 == m { v = $2 } END { print v + 0 }'
}
# wait until the gateway's logger has taken every record out of its rings (at most 30 s)
drain_rings() { # gateway name
	i=0
	while [ "$(metric "$1" tollgate_log_ring_used)" != 0 ] && [ $i -lt 600 ]; do
		sleep 0.05
		i=$((i + 1))
	done
}

# ---- measuring ---------------------------------------------------------------
RESULTS=$TMP/results
: >"$RESULTS"

# One wrk run; sets requests, duration_us, p50_us, p99_us, non2xx, connect, read, write, timeout.
run_wrk() { # conns seconds script url
	out=$TMP/wrk.out
	wrk -t"$THREADS" -c"$1" -d"$2s" --timeout 10s -s "$3" "$4" >"$out" 2>&1 ||
		die "wrk failed against $4: $(cat "$out")"
	grep -q '^TGBENCH ' "$out" || die "wrk printed no TGBENCH line against $4: $(cat "$out")"
	parse_tgbench "$out"
}

# wrk's TGBENCH key=value line (all integers) as shell variables.
parse_tgbench() {
	eval "$(sed -n 's/^TGBENCH //p' "$1" | tr ' ' '\n' | grep -E '^[a-z0-9_]+=[0-9]+$')"
}

ms() { echo "$1" | awk '{ printf "%.3f", $1 / 1000 }'; }

# The processes whose CPU a run of this target is charged: what serves the calls.
serving_pids() { # phase target
	case $1:$2 in
	0ms:direct) echo "$M0_PID" ;;
	20ms:direct) echo "$M20_PID" ;;
	*:nginx) children "$NGINX_PID" ;;
	0ms:gateway) worker_pids "$G0_PID" ;;
	20ms:gateway) worker_pids "$G20_PID" ;;
	esac
}

measure() { # phase mode target rep url script conns
	sp=$(serving_pids "$1" "$3")
	gw=gw0 gwp=$G0_PID
	[ "$1" = 0ms ] || gw=gw20 gwp=$G20_PID
	lp=$(logger_pid "$gwp")
	t0=$(ticks_of $sp) l0=$(ticks_of $lp) g0=$(pg_ticks) w0=$(metric $gw tollgate_log_rows_written_total)
	run_wrk "$7" "$DUR" "$6" "$5"
	t1=$(ticks_of $sp)
	if [ "$3" = gateway ]; then
		# what the run left in the rings is written before the next run starts, and counted
		drain_rings $gw
		sleep 0.2
	fi
	l1=$(ticks_of $lp) g1=$(pg_ticks) w1=$(metric $gw tollgate_log_rows_written_total)
	[ "$3" = gateway ] || { l1=$l0 g1=$g0 w1=$w0; }
	errs=$((non2xx + connect + read + write + timeout))
	# errors (a 503 from log backpressure, say) are results, reported; no 2xx at all is a failure
	[ "$requests" -gt "$non2xx" ] || die "no 2xx answer from $3 at $5: see $TMP (TG_BENCH_KEEP=1)"
	echo "$1 $2 $3 $4 $requests $duration_us $p50_us $p99_us $errs $((t1 - t0)) $((l1 - l0)) $((g1 - g0)) $((w1 - w0))" >>"$RESULTS"
	printf '  %-4s %-6s %-7s rep %s: %8s ok/s  p50 %8s ms  p99 %8s ms  errors %s of %s  cpu %s us/call\n' \
		"$1" "$2" "$3" "$4" "$(echo "$requests $errs $duration_us" | awk '{ printf "%.0f", ($1 - $2) * 1e6 / $3 }')" \
		"$(ms "$p50_us")" "$(ms "$p99_us")" "$errs" "$requests" \
		"$(awk -v t=$((t1 - t0)) -v n="$requests" -v hz="$HZ" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }')"
}

say "tollgate bench: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -r)"
say "wrk -t$THREADS -c$CONNS (0 ms) / -c$LAT_CONNS (20 ms) -d${DUR}s, $REPS interleaved repetitions; $DBNOTE"
say "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
say "warming up (1 s per target)"
for url in "http://127.0.0.1:$M0" "http://127.0.0.1:$N0" "http://127.0.0.1:$G0" \
	"http://127.0.0.1:$M20" "http://127.0.0.1:$N20" "http://127.0.0.1:$G20"; do
	run_wrk "$CONNS" 1 "$HERE/messages.lua" "$url"
done

for phase in 0ms 20ms; do
	if [ $phase = 0ms ]; then d=$M0 n=$N0 g=$G0 c=$CONNS; else d=$M20 n=$N20 g=$G20 c=$LAT_CONNS; fi
	for mode in json stream; do
		if [ $mode = json ]; then s=$HERE/messages.lua; else s=$HERE/messages_stream.lua; fi
		rep=1
		while [ $rep -le "$REPS" ]; do
			measure $phase $mode direct $rep "http://127.0.0.1:$d" "$s" $c
			measure $phase $mode nginx $rep "http://127.0.0.1:$n" "$s" $c
			measure $phase $mode gateway $rep "http://127.0.0.1:$g" "$s" $c
			rep=$((rep + 1))
		done
	done
done

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
# ---- memory per worker with MEM_CONNS open connections (20 ms upstream) --------------
# total RSS, private (clean + dirty) and PSS of the workers, KiB
worker_mem() {
	for p in $(worker_pids "$G20_PID"); do
		rss=$(ps -o rss= -p "$p" 2>/dev/null || echo 0)
		awk -v rss="$rss" '/^Private_(Clean|Dirty):/ { priv += $2 } /^Pss:/ { pss = $2 }
			END { print rss + 0, priv + 0, pss + 0 }' "/proc/$p/smaps_rollup" 2>/dev/null || echo "$rss 0 0"
	done | awk '{ r += $1; v += $2; s += $3; n++ } END { print n + 0, r + 0, v + 0, s + 0 }'
}
# ESTABLISHED sockets whose local port is the gateway's: its side of each client connection
open_conns() {
	hex=$(printf '%04X' "$G20")
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
		awk -v p=":$hex" '$4 == "01" && substr($2, length($2) - 4) == p { n++ } END { print n + 0 }'
}

set -- $(worker_mem)
IDLE_N=$1 IDLE_RSS=$2 IDLE_PRIV=$3
MEM_DUR=$((DUR + 3))
say "memory: wrk -t$THREADS -c$MEM_CONNS -d${MEM_DUR}s against the gateway (20 ms upstream)"
wrk -t"$THREADS" -c"$MEM_CONNS" -d"${MEM_DUR}s" --timeout 10s -s "$HERE/messages.lua" \
	"http://127.0.0.1:$G20" >"$TMP/wrk-mem.out" 2>&1 &
WRK_PID=$!
PIDS="$PIDS $WRK_PID"
PEAK_CONNS=0 PEAK_N=0 PEAK_RSS=0 PEAK_PRIV=0 PEAK_PSS=0
i=0
# sample every 0.5 s while wrk runs, once its connections are up; keep the largest RSS
while kill -0 "$WRK_PID" 2>/dev/null; do
	sleep 0.5
	i=$((i + 1))
	[ $i -ge 3 ] && kill -0 "$WRK_PID" 2>/dev/null || continue
	c=$(open_conns)
	set -- $(worker_mem)
	if [ "$2" -gt "$PEAK_RSS" ]; then
		PEAK_CONNS=$c PEAK_N=$1 PEAK_RSS=$2 PEAK_PRIV=$3 PEAK_PSS=$4
	fi
done
wait "$WRK_PID" || die "wrk failed against the gateway: $(cat "$TMP/wrk-mem.out")"
grep -q '^TGBENCH ' "$TMP/wrk-mem.out" || die "wrk printed no TGBENCH line: $(cat "$TMP/wrk-mem.out")"
parse_tgbench "$TMP/wrk-mem.out"
MEM_ERRS=$((non2xx + connect + read + write + timeout))
[ "$PEAK_N" -gt 0 ] || die "found no tollgate-worker processes under pid $G20_PID"

# ---- the table -----------------------------------------------------------------
say ""
say "=== results: mean of $REPS runs each; 2xx/s counts successful answers only; latency is"
say "=== wrk's per-run percentile over all answers, averaged; errors = non-2xx + socket errors ==="
awk -v hz="$HZ" -v c0="$CONNS" -v c20="$LAT_CONNS" '
{ k = $1 " " $2 " " $3; n[k]++; rps[k] += ($5 - $9) * 1e6 / $6; p50[k] += $7; p99[k] += $8; err[k] += $9; all[k] += $5
  cpu[k] += $10; lcpu[k] += $11; pcpu[k] += $12; rows[k] += $13 }
END {
	printf "%-9s %-7s %-8s %10s %10s %10s %9s %12s %18s\n", "upstream", "reply", "target", "2xx/s", "p50 ms",
		"p99 ms", "errors", "cpu us/call", "logger+pg us/row"
	split("0ms 20ms", ph, " "); split("json stream", md, " "); split("direct nginx gateway", tg, " ")
	for (i = 1; i <= 2; i++) for (j = 1; j <= 2; j++) for (t = 1; t <= 3; t++) {
		k = ph[i] " " md[j] " " tg[t]
		if (!(k in n)) continue
		R[k] = rps[k] / n[k]; P50[k] = p50[k] / n[k] / 1000; P99[k] = p99[k] / n[k] / 1000
		C[k] = cpu[k] * 1e6 / hz / all[k]
		lp = rows[k] > 0 ? sprintf("%5.2f+%5.2f", lcpu[k] * 1e6 / hz / rows[k], pcpu[k] * 1e6 / hz / rows[k]) : "-"
		printf "%-9s %-7s %-8s %10.0f %10.3f %10.3f %8.1f%% %12.1f %18s\n", ph[i], md[j], tg[t], R[k], P50[k],
			P99[k], 100 * err[k] / all[k], C[k], lp
	}
	print ""
	printf "%-14s %-7s %14s %13s %22s %22s %14s\n", "upstream", "reply", "gateway/nginx", "nginx/direct",
		"gateway-direct p50/p99", "nginx-direct p50/p99", "cpu gw/nginx"
	for (i = 1; i <= 2; i++) for (j = 1; j <= 2; j++) {
		d = ph[i] " " md[j] " direct"; x = ph[i] " " md[j] " nginx"; g = ph[i] " " md[j] " gateway"
		if (!(d in R) || !(x in R) || !(g in R)) continue
		printf "%-14s %-7s %13.2fx %12.2fx %+10.3f/%+8.3f ms %+10.3f/%+8.3f ms %13.2fx\n",
			ph[i] " (c" (i == 1 ? c0 : c20) ")", md[j], R[g] / R[x], R[x] / R[d], P50[g] - P50[d],
			P99[g] - P99[d], P50[x] - P50[d], P99[x] - P99[d], C[g] / C[x]
	}
}' "$RESULTS"
say "targets (SPEC 12): gateway/nginx >= 0.6x at 0 ms with PostgreSQL logging; gateway CPU <= 25 us/call;"
say "  logger + PostgreSQL <= 8 us/row; at 20 ms and 8 connections added p50 <= 0.1 ms and p99 <= nginx's"
say "cpu us/call: the serving processes' CPU (gateway workers; nginx workers; the simulator for direct) per"
say "  answer; logger+pg us/row: the gateway's logger + PostgreSQL CPU per row written (0 without a database)"
say "load average: $LOAD_AFTER after the runs, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
say ""
say "memory with $MEM_CONNS connections (20 ms upstream, $PEAK_CONNS established on the gateway port at the sample):"
awk -v n="$PEAK_N" -v r="$PEAK_RSS" -v v="$PEAK_PRIV" -v s="$PEAK_PSS" -v ir="$IDLE_RSS" -v iv="$IDLE_PRIV" \
	-v in_="$IDLE_N" -v c="$MEM_CONNS" 'BEGIN {
	printf "  workers %d: RSS %.1f MiB per worker (idle %.1f), private %.1f MiB per worker (idle %.1f), PSS %.1f MiB per worker\n",
		n, r / n / 1024, ir / in_ / 1024, v / n / 1024, iv / in_ / 1024, s / n / 1024
	printf "  private growth per connection: %.1f KiB\n", (v - iv) / c
}'
say "  wrk: $requests requests, $MEM_ERRS errors, p99 $(ms "$p99_us") ms"

say ""
say "logging (from each gateway's /metrics):"
for g in "$G0" "$G20"; do
	name=gw0
	[ "$g" = "$G20" ] && name=gw20
	curl -s --unix-socket "$TMP/$name/state/admin.sock" http://admin/metrics | awk -v g="$g" '
		/^tollgate_requests_total/ { req += $2 }
		/^tollgate_log_rows_written_total / { w = $2 } /^tollgate_log_spooled_rows / { sp = $2 }
		/^tollgate_log_ring_overflow_total / { o = $2 } /^tollgate_log_backpressure_total / { b = $2 }
		/^tollgate_log_ring_used / { u = $2 }
		END { printf "  gateway :%s calls %d, rows written %d, spooled %d, in rings %d, ring overflow %d, backpressure %d\n", g, req, w, sp, u, o, b }'
done
