#!/bin/sh
# Long streams (SPEC 12, issue 15 item 3): the simulator trickles each streamed
# reply over MS milliseconds (--stream-ms, --output-tokens), and STREAMS
# concurrent streams at a time are held through nginx proxy_pass and through
# the gateway, 2 workers each, by tests/stress/streams_client.mjs. Per round:
# streams completed intact (status 200, the provider's last event, and from the
# gateway its closing cost comment), time to first byte p50/p99, the serving
# workers' memory per open stream (RSS and RssAnon, summed over the workers,
# sampled with every stream open, over the same workers idle just before), and
# their CPU per streamed event (utime + stime over the round / data: lines the
# client read). Rounds alternate nginx and gateway. Exits non-zero only when
# something fails to run.
#
# Run from the repository root after `make`. Knobs: TG_STREAMS="2000 10000",
# TG_STREAM_MS=20000, TG_STREAM_TOKENS=40, TG_STREAM_RATE=2000 (streams opened
# per second), TG_BUILD_DIR=build, TG_BENCH_PG (as bench.sh: a conninfo, or "auto"
# for a private PostgreSQL under the temp dir; unset: spool),
# TG_BENCH_KEEP=1.
set -eu
. "$(dirname "$0")/../lib.sh"

BUILD=${TG_BUILD_DIR:-build}
STREAMS=${TG_STREAMS:-2000 10000}
MS=${TG_STREAM_MS:-20000}
TOKENS=${TG_STREAM_TOKENS:-40}
RATE=${TG_STREAM_RATE:-2000}
TMP=$(mktemp -d /tmp/tg-streams.XXXXXX)
PIDS=""
PGDIR=""
HERE=tests/stress

say() { printf '%s\n' "$*"; }
die() { printf 'streams_bench: %s\n' "$*" >&2; exit 1; }
cleanup() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $PIDS; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
		kill -KILL "$p" 2>/dev/null || true
	done
	[ -z "$PGDIR" ] || sh tests/pg.sh stop "$PGDIR" >/dev/null 2>&1 || true
	if [ "${TG_BENCH_KEEP:-}" = 1 ]; then say "streams_bench: kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || die "nginx is not installed (sh tests/deps.sh)"
[ -x "$BUILD/tollgate" ] && [ -x "$BUILD/tollgate-mock" ] || die "$BUILD/tollgate is not built (make)"
MAX=0
for n in $STREAMS; do [ "$n" -le "$MAX" ] || MAX=$n; done
ulimit -n 65536 2>/dev/null || true
# the client holds MAX sockets; a worker of each server half of them twice (client + upstream)
[ "$(ulimit -n)" -ge $((MAX + 512)) ] || die "ulimit -n is $(ulimit -n): too low for $MAX streams"

MOCK_PORT=$(tg_free_port)
"$BUILD/tollgate-mock" --listen "127.0.0.1:$MOCK_PORT" --seed 1 --latency-ms 0 --jitter-ms 0 \
	--stream-ms "$MS" --output-tokens "$TOKENS" >"$TMP/mock.log" 2>&1 &
PIDS="$PIDS $!"
tg_wait_http "http://127.0.0.1:$MOCK_PORT/__mock/health" || die "the simulator did not come up"

NG_PORT=$(tg_free_port)
mkdir -p "$TMP/nginx/tmp"
chmod 755 "$TMP" "$TMP/nginx"
chmod 777 "$TMP/nginx/tmp"
cat >"$TMP/nginx/nginx.conf" <<NGX
worker_processes 2;
worker_rlimit_nofile $(ulimit -n);
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log error;
events { worker_connections $(( $(ulimit -n) - 64 )); }
http {
	access_log off;
	client_body_temp_path $TMP/nginx/tmp;
	proxy_temp_path $TMP/nginx/tmp;
	fastcgi_temp_path $TMP/nginx/tmp;
	uwsgi_temp_path $TMP/nginx/tmp;
	scgi_temp_path $TMP/nginx/tmp;
	upstream mock { server 127.0.0.1:$MOCK_PORT; keepalive 128; }
	proxy_http_version 1.1;
	proxy_set_header Connection "";
	proxy_buffering off;
	proxy_max_temp_file_size 0;
	proxy_read_timeout 120s;
	server { listen 127.0.0.1:$NG_PORT backlog=16384; location / { proxy_pass http://mock; } }
}
NGX
"$NGINX" -e "$TMP/nginx/error.log" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" &
NGINX_PID=$!
PIDS="$PIDS $NGINX_PID"
tg_wait_http "http://127.0.0.1:$NG_PORT/__mock/health" || die "nginx did not come up"

GW_PORT=$(tg_free_port)
if [ "${TG_BENCH_PG:-}" = auto ]; then
	PGDIR=$TMP/pg
	TG_BENCH_PG=$(sh tests/pg.sh start "$PGDIR") || die "could not start PostgreSQL with tests/pg.sh"
fi
CONNINFO=${TG_BENCH_PG:-host=$TMP/no-database dbname=tollgate connect_timeout=1}
cat >"$TMP/tollgate.json" <<CFG
{
  "listen": "127.0.0.1:$GW_PORT", "workers": 2, "state_dir": "$TMP/state",
  "admin": { "listen": "$TMP/state/admin.sock" }, "shutdown_timeout_ms": 5000,
  "max_connections": $((MAX + 256)),
  "database": { "conninfo": "$CONNINFO", "batch_rows": 1000, "flush_ms": 100 },
  "providers": { "anthropic": { "kind": "anthropic", "base_url": "http://127.0.0.1:$MOCK_PORT",
      "api_key_env": "TG_BENCH_ANTHROPIC_KEY", "connect_timeout_ms": 5000,
      "first_byte_timeout_ms": 30000, "total_timeout_ms": $((MS * 3)),
      "rate_limit": { "rpm": 60000000, "tpm": 100000000000 } } },
  "models": { "claude-haiku-4-5": { "provider": "anthropic", "upstream": "claude-haiku-4-5",
      "price_per_mtok": { "input": "1.00", "output": "5.00" } } }
}
CFG
[ -z "${TG_BENCH_PG:-}" ] || "$BUILD/tollgate" migrate -c "$TMP/tollgate.json" >/dev/null ||
	die "tollgate migrate failed"
TG_BENCH_ANTHROPIC_KEY=sk-ant-bench-not-a-real-key "$BUILD/tollgate" -c "$TMP/tollgate.json" \
	>"$TMP/tollgate.log" 2>&1 &
GW_PID=$!
PIDS="$PIDS $GW_PID"
tg_wait_http "http://127.0.0.1:$GW_PORT/healthz" || die "the gateway did not come up: $(cat "$TMP/tollgate.log")"

HZ=$(getconf CLK_TCK)
serving() { # target -> the worker pids
	if [ "$1" = nginx ]; then
		ps -o pid= --ppid "$NGINX_PID"
	else
		ps -o pid=,comm= --ppid "$GW_PID" | awk '$2 == "tollgate-worker" { print $1 }'
	fi
}
ticks() { for p in "$@"; do awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0; done |
	awk '{ s += $1 } END { print s + 0 }'; }
# KiB of resident and of private anonymous memory, summed over pids
mem() { for p in "$@"; do awk '/^VmRSS/ { r = $2 } /^RssAnon/ { a = $2 } END { print r + 0, a + 0 }' \
	"/proc/$p/status" 2>/dev/null || echo 0 0; done | awk '{ r += $1; a += $2 } END { print r + 0, a + 0 }'; }
port_of() { if [ "$1" = nginx ]; then echo "$NG_PORT"; else echo "$GW_PORT"; fi; }

# warm both paths with one short round, so that idle figures are not cold starts
for t in nginx gateway; do
	node "$HERE/streams_client.mjs" "$(port_of $t)" 20 --rate 1000 --timeout-s $((MS / 1000 + 30)) \
		>"$TMP/warm.$t" 2>&1 || die "the client failed against $t: $(cat "$TMP/warm.$t")"
done

RESULTS=$TMP/results
: >"$RESULTS"
say "long streams: $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg); each stream $TOKENS tokens over $MS ms, opened at $RATE/s"
for n in $STREAMS; do
	for t in nginx gateway; do
		pids=$(serving $t)
		set -- $(mem $pids)
		idle_rss=$1 idle_anon=$2
		c0=$(ticks $pids)
		flag=""
		[ $t = gateway ] && flag=--gateway
		node "$HERE/streams_client.mjs" "$(port_of $t)" "$n" --rate "$RATE" $flag \
			--timeout-s $((MS / 1000 + 60)) >"$TMP/client.out" 2>"$TMP/client.err" &
		cp=$!
		i=0
		until grep -q '^open ' "$TMP/client.out" 2>/dev/null; do
			i=$((i + 1))
			kill -0 "$cp" 2>/dev/null || break
			[ $i -lt $((MS / 50)) ] || break
			sleep 0.05
		done
		# sample while every stream is open: a quarter of a stream's length after the last opened
		sleep "$(awk -v ms="$MS" 'BEGIN { print ms / 4000 }')"
		set -- $(mem $pids)
		open_rss=$1 open_anon=$2
		wait "$cp" || die "the client failed against $t: $(cat "$TMP/client.err")"
		c1=$(ticks $pids)
		line=$(grep '^{' "$TMP/client.out") || die "no result from the client against $t: $(cat "$TMP/client.out" "$TMP/client.err")"
		node -e '
const [t, n, line, ir, ia, or_, oa, dc, hz] = process.argv.slice(1);
const r = JSON.parse(line);
const cpu = Number(dc) / Number(hz) * 1e6 / Math.max(1, r.events);
console.log([t, n, r.completed, r.ttfb_p50_ms, r.ttfb_p99_ms, (or_ - ir) / n, (oa - ia) / n, cpu,
  r.events, JSON.stringify(r.failures).replace(/ /g, "_")].join(" "));
' "$t" "$n" "$line" "$idle_rss" "$idle_anon" "$open_rss" "$open_anon" $((c1 - c0)) "$HZ" >>"$RESULTS"
		tail -1 "$RESULTS" | awk '{ printf "  %-7s %6d streams: %6d intact, ttfb p50 %7.2f p99 %8.2f ms, %5.1f KiB RSS %5.1f KiB anon per open stream, %5.2f us CPU per event (%d events)%s\n",
			$1, $2, $3, $4, $5, $6, $7, $8, $9, ($10 == "[]" ? "" : ", failures " $10) }'
		# the next round starts with the streams of this one gone
		sleep 2
	done
done
say ""
say "streams   target     intact   ttfb p50/p99 ms    KiB/open stream RSS/anon   us CPU/event   gateway/nginx: anon, CPU"
awk '{ k = $2; if ($1 == "nginx") { na[k] = $7; nc[k] = $8 } else { ga[k] = $7; gc[k] = $8 }
	printf "%7d   %-8s %6d/%-6d %8.2f/%-8.2f %10.1f/%-10.1f %12.2f", $2, $1, $3, $2, $4, $5, $6, $7, $8
	if ($1 == "gateway" && (k in na)) printf "   %5.2fx, %5.2fx", (na[k] > 0 ? ga[k] / na[k] : 0), (nc[k] > 0 ? gc[k] / nc[k] : 0)
	printf "\n" }' "$RESULTS"
say "targets (SPEC 12): 10,000 held; <= 16 KiB per open stream (below nginx's); CPU per event <= 1.2x nginx's"
