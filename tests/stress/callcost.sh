#!/bin/sh
# The worker's cost per call, measured in ways that do not depend on how busy
# the machine is: CPU time from /proc over a wrk run divided by the calls
# served (cpu), instructions and allocations per call under callgrind
# (callgrind), system calls per call under strace (strace); or a perf profile
# of the workers (perf). Four cases each: Anthropic Messages JSON and SSE to an
# Anthropic provider (same family), and OpenAI Chat Completions JSON and SSE to
# it (translated both ways). 0 ms simulator, log_backpressure allow, no
# database (the logger spools) unless TG_BENCH_PG names one.
#
# Usage (repository root, after make): sh tests/stress/callcost.sh [cpu|callgrind|strace|perf]
# Knobs: SECONDS_PER=5 CONNS=64 (cpu, strace, perf), CG_SECONDS=4 CG_CONNS=4 (callgrind),
#        CASES="json sse tjson tsse", WORKERS=2 (cpu) / 1 (the others), TG_BUILD_DIR=build
#        PERF_SYM=symbol (perf: also print the call chains that end in it)
set -eu
. "$(dirname "$0")/../lib.sh"

MODE=${1:-cpu}
BUILD=${TG_BUILD_DIR:-build}
SECS=${SECONDS_PER:-5}
CONNS=${CONNS:-64}
CASES=${CASES:-json sse tjson tsse}
TMP=$(mktemp -d /tmp/tg-callcost.XXXXXX)
PIDS=""
case $MODE in cpu) WORKERS=${WORKERS:-2} ;; *) WORKERS=${WORKERS:-1} ;; esac

cleanup() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $PIDS; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
		kill -KILL "$p" 2>/dev/null || true
	done
	if [ "${KEEP:-}" = 1 ]; then echo "callcost: kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "callcost: $*" >&2; exit 1; }

MOCK_PORT=$(tg_free_port)
GW=$(tg_free_port)
"$BUILD/tollgate-mock" --listen "127.0.0.1:$MOCK_PORT" --latency-ms 0 --jitter-ms 0 --seed 1 \
	>"$TMP/mock.log" 2>&1 &
PIDS="$PIDS $!"
tg_wait_http "http://127.0.0.1:$MOCK_PORT/__mock/health" || die "the simulator did not come up"

CONNINFO=${TG_BENCH_PG:-host=$TMP/no-database dbname=tollgate connect_timeout=1}
cat >"$TMP/tollgate.json" <<CFG
{
  "listen": "127.0.0.1:$GW", "workers": $WORKERS, "state_dir": "$TMP/state",
  "admin": { "listen": "$TMP/state/admin.sock" }, "shutdown_timeout_ms": 5000,
  "database": { "conninfo": "$CONNINFO", "batch_rows": 1000, "flush_ms": 100,
                "ring_records": 262144, "log_backpressure": "allow" },
  "providers": { "anthropic": { "kind": "anthropic", "base_url": "http://127.0.0.1:$MOCK_PORT",
      "api_key_env": "TG_BENCH_ANTHROPIC_KEY", "rate_limit": { "rpm": 60000000, "tpm": 100000000000 } } },
  "models": { "claude-haiku-4-5": { "provider": "anthropic", "upstream": "claude-haiku-4-5",
      "price_per_mtok": { "input": "1.00", "output": "5.00", "cache_read": "0.10", "cache_write": "1.25" } } }
}
CFG
[ -z "${TG_BENCH_PG:-}" ] || "$BUILD/tollgate" migrate -c "$TMP/tollgate.json" >/dev/null ||
	die "tollgate migrate failed"
export TG_BENCH_ANTHROPIC_KEY=sk-ant-bench-not-a-real-key
if [ "$MODE" = callgrind ]; then
	valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$TMP/cg.%p" \
		"$BUILD/tollgate" -c "$TMP/tollgate.json" >"$TMP/tollgate.log" 2>&1 &
else
	"$BUILD/tollgate" -c "$TMP/tollgate.json" >"$TMP/tollgate.log" 2>&1 &
fi
GW_PID=$!
PIDS="$PIDS $GW_PID"
tg_wait_http "http://127.0.0.1:$GW/healthz" 1200 || die "the gateway did not come up: $(cat "$TMP/tollgate.log")"

# the chat bodies: messages.lua's conversation in OpenAI form (chat.lua), streamed or not
sed 's/"messages":\[{"role":"system"/"stream":true,"messages":[{"role":"system"/' \
	tests/stress/chat.lua >"$TMP/chat_stream.lua"
grep -q '"stream":true' "$TMP/chat_stream.lua" || die "could not make the streamed chat body"
script_of() {
	case $1 in
	json) echo tests/stress/messages.lua ;;
	sse) echo tests/stress/messages_stream.lua ;;
	tjson) echo tests/stress/chat.lua ;;
	tsse) echo "$TMP/chat_stream.lua" ;;
	esac
}

# under valgrind the comm is the tool's: find workers by their slot in ps's tree instead
worker_pids_any() {
	if [ "$MODE" = callgrind ]; then
		# the master's children: the logger first, then the workers (forked after it)
		ps -o pid=,lstart= --ppid "$GW_PID" --sort=start_time | awk 'NR > 1 { print $1 }'
	else
		ps -o pid=,comm= --ppid "$GW_PID" | awk '$2 == "tollgate-worker" { print $1 }'
	fi
}
ticks() { for p in $(worker_pids_any); do awk '{ print $14 + $15 }' "/proc/$p/stat"; done | awk '{ s += $1 } END { print s + 0 }'; }
HZ=$(getconf CLK_TCK)
wrk_run() { # case seconds conns -> requests in $REQS
	wrk -t2 -c"$3" -d"$2s" --timeout 10s -s "$(script_of "$1")" "http://127.0.0.1:$GW" >"$TMP/wrk.out" 2>&1 ||
		die "wrk failed: $(cat "$TMP/wrk.out")"
	REQS=$(sed -n 's/^TGBENCH requests=\([0-9]*\).*non2xx=\([0-9]*\).*/\1 \2/p' "$TMP/wrk.out")
	set -- $REQS
	[ "${2:-1}" = 0 ] || die "$1: $2 non-2xx answers"
	REQS=$1
}

for c in $CASES; do wrk_run "$c" 1 8; done     # warm every path once
echo "callcost $MODE: $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg), $WORKERS worker(s), git $(git rev-parse --short HEAD 2>/dev/null)"

case $MODE in
cpu)
	for c in $CASES; do
		# software counters only (this machine has no hardware ones): faults, switches
		perf stat -x, -e page-faults,context-switches -p "$(worker_pids_any | paste -sd, -)" \
			-o "$TMP/stat.$c" 2>/dev/null &
		SPID=$!
		t0=$(ticks)
		wrk_run "$c" "$SECS" "$CONNS"
		t1=$(ticks)
		kill -INT "$SPID" 2>/dev/null || true
		wait "$SPID" 2>/dev/null || true
		pf=$(awk -F, '$3 == "page-faults" { print $1 }' "$TMP/stat.$c" 2>/dev/null)
		cs=$(awk -F, '$3 == "context-switches" { print $1 }' "$TMP/stat.$c" 2>/dev/null)
		awk -v c="$c" -v n="$REQS" -v t="$((t1 - t0))" -v hz="$HZ" -v s="$SECS" -v pf="${pf:-0}" \
			-v cs="${cs:-0}" 'BEGIN {
			printf "  %-6s %8d calls %7.0f/s  worker CPU %6.2f us/call  %5.2f page faults/call  %5.2f context switches/call\n",
				c, n, n / s, t / hz * 1e6 / n, pf / n, cs / n }'
	done
	;;
callgrind)
	CG_SECS=${CG_SECONDS:-4}
	CG_CONNS=${CG_CONNS:-4}
	W=$(worker_pids_any | tail -1)
	for c in $CASES; do
		callgrind_control -z "$W" >/dev/null
		wrk_run "$c" "$CG_SECS" "$CG_CONNS"
		sleep 0.5
		rm -f "$TMP"/cg."$W".*
		callgrind_control -d "$c" "$W" >/dev/null
		sleep 0.5
		f=$(ls -t "$TMP"/cg."$W".* | head -1)
		cp "$f" "$TMP/$c.callgrind"
		# callgrind's format names a function once, "(id) name", then by "(id)" alone;
		# allocations are calls into malloc, calloc or realloc from outside the allocator
		awk -v c="$c" -v n="$REQS" -v sites="${ALLOC_SITES:-0}" '
			function nm(s,   id, rest) {
				if (!match(s, /^\([0-9]+\)/)) return s
				id = substr(s, 2, RLENGTH - 2); rest = substr(s, RLENGTH + 2)
				if (rest != "") name[id] = rest
				return name[id]
			}
			/^fn=/ { fn = nm(substr($0, 4)) }
			/^cfn=/ { cur = nm(substr($0, 5)) }
			/^calls=/ { split(substr($0, 7), a, " ")
				if (cur ~ /^(malloc|calloc|realloc)$/ && fn !~ /^(malloc|calloc|realloc|_int_.*)$/) {
					allocs += a[1]; by[fn] += a[1] }
				if (cur == "tg_call_start") calls += a[1] }
			/^summary:/ { ir = $2 }
			END { n = calls > 0 ? calls : n
				printf "  %-6s %6d calls  %8.0f instructions/call  %5.1f allocations/call\n", c, n, ir / n, allocs / n
				if (sites) for (k in by) if (by[k] / n >= 0.5) printf "           %5.1f from %s\n", by[k] / n, k }' "$f"
	done
	echo "  (callgrind files kept in $TMP with KEEP=1: callgrind_annotate $TMP/json.callgrind)"
	;;
strace)
	for c in $CASES; do
		args=""
		for p in $(worker_pids_any); do args="$args -p $p"; done
		strace -c -f $args -o "$TMP/strace.$c" &
		SPID=$!
		sleep 1
		wrk_run "$c" "$SECS" "$CONNS"
		kill -INT "$SPID"
		wait "$SPID" 2>/dev/null || true
		# strace -c: % time, seconds, usecs/call, calls, [errors,] syscall
		awk -v c="$c" -v n="$REQS" '
			$1 ~ /^[0-9.]+$/ && $NF != "total" { k = $NF; per[k] = $4; tot += $4 }
			END { printf "  %-6s %6d calls  %5.2f syscalls/call:", c, n, tot / n
				for (k in per) if (per[k] / n >= 0.05) printf " %s %.2f", k, per[k] / n; printf "\n" }' "$TMP/strace.$c"
	done
	;;
perf)
	for c in $CASES; do
		args=$(worker_pids_any | paste -sd, -)
		perf record -F 2000 -g -p "$args" -o "$TMP/perf.$c" >/dev/null 2>&1 &
		SPID=$!
		sleep 0.5
		wrk_run "$c" "$SECS" "$CONNS"
		kill -INT "$SPID"
		wait "$SPID" 2>/dev/null || true
		echo "== $c: $REQS calls"
		[ -z "${PERF_SYM:-}" ] || perf report -i "$TMP/perf.$c" --no-children -S "$PERF_SYM" -G --stdio 2>/dev/null | grep -v "^#" | head -60
		perf report -i "$TMP/perf.$c" --no-children --sort dso,sym --stdio 2>/dev/null |
			grep -v '^#' | grep -v '^$' | grep '%' | head -${PERF_TOP:-40}
		perf report -i "$TMP/perf.$c" --no-children --sort dso --stdio 2>/dev/null |
			grep '%' | grep -v '^#' | head -12
	done
	;;
*) die "mode is cpu, callgrind, strace or perf" ;;
esac
