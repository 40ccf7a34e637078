#!/bin/sh
# Hostile clients beside a well-behaved one (issue 12). A gateway with two
# workers serves one client with a key (wrk, tests/stress/chat.lua, against a
# 20 ms simulator) for DURATION seconds alone, then for DURATION seconds while
# clients without a key attack it (tests/stress/hostile_attack.mjs): heads
# trickled one byte every 4 s, heads over the 64 KiB cap, and 4 MiB bodies
# sent slowly. It reports the workers' private memory (RssAnon) before, during
# (the peak) and after the attack, and the good client's p50/p99 and errors
# with and without it.
#
# Run from anywhere after `make`: sh tests/stress/hostile.sh
# Knobs: DURATION (s per phase, default 20, at least 4), TRICKLE HEADERS BODIES
# (attacking connections of each kind, default 200 20 200), GOOD_CONNS (wrk
# connections, 4), TG_BUILD_DIR (build), TG_STRESS_KEEP=1 keeps the work dir.
# Bounds, checked at the end (exit 1 when one is broken): no error for the
# good client; its p99 under attack within P99_FACTOR (3) of its p99 alone;
# the workers' memory after within RSS_FACTOR (1.5) of before, and during within
# RSS_DURING_MIB (64) MiB of before; every trickle ended by client_timeout_ms
# (5 s) plus 1.5 s; the attackers answered 408, 431 and 401 (and only that).
# The last line is machine-readable (`hostile: key=value ...`).
set -eu
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.."
ROOT=$PWD

DURATION=${DURATION:-20}
BUILD=${TG_BUILD_DIR:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
TOLLGATE=$BUILD/tollgate
MOCK=$BUILD/tollgate-mock
TRICKLE=${TRICKLE:-200}
HEADERS=${HEADERS:-20}
BODIES=${BODIES:-200}
GOOD_CONNS=${GOOD_CONNS:-4}
P99_FACTOR=${P99_FACTOR:-3}
RSS_FACTOR=${RSS_FACTOR:-1.5}
RSS_DURING_MIB=${RSS_DURING_MIB:-64}
CLIENT_TIMEOUT_MS=5000
CLIENT_KEY=bench-key            # the key chat.lua sends

TMP=$(mktemp -d /tmp/tg-hostile.XXXXXX)
MOCK_PID="" GW_PID="" ATTACK_PID="" SAMPLER_PID=""
FAILED=0

say() { printf '%s\n' "$*"; }
die() {
	printf 'hostile: %s\n' "$*" >&2
	FAILED=1
	exit 2
}
now_ms() { date +%s%3N; }
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
	[ -z "$SAMPLER_PID" ] || kill "$SAMPLER_PID" 2>/dev/null || true
	[ -z "$ATTACK_PID" ] || kill -KILL "$ATTACK_PID" 2>/dev/null || true
	stop_pid "$GW_PID" 15
	stop_pid "$MOCK_PID" 5
	if [ "$rc" != 0 ] || [ "$FAILED" != 0 ] || [ "${TG_STRESS_KEEP:-}" = 1 ]; then
		say "hostile: logs kept in $TMP"
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in wrk curl node awk; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (sh tests/deps.sh)"
done
[ -x "$TOLLGATE" ] && [ -x "$MOCK" ] || die "$TOLLGATE or $MOCK is not built (make)"
case $DURATION in '' | *[!0-9]*) die "DURATION must be whole seconds, got '$DURATION'" ;; esac
[ "$DURATION" -ge 4 ] || die "DURATION must be at least 4 s (a trickle needs 5 s to be cut)"

poll() { # ms command...
	_end=$(( $(now_ms) + $1 ))
	shift
	until "$@"; do
		[ "$(now_ms)" -lt "$_end" ] || return 1
		sleep 0.05
	done
}
up() { curl -s -o /dev/null "$1"; }
logged() { grep -q -- "$1" "$TMP/tollgate.log"; }
sha256() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
# The workers' private memory (RssAnon: heap and stacks; not the shared region or the ring
# file, whose pages grow with the records written, attack or not), in KiB: "sum max"
rss() {
	for p in $WORKERS; do
		awk '/^RssAnon:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0
	done | awk '{ s += $1; if ($1 > m) m = $1 } END { print s + 0, m + 0 }'
}
# Client connections the gateway's workers hold open (their sockets on its port).
held() {
	for p in $WORKERS; do
		ls -l "/proc/$p/fd" 2>/dev/null | sed -n 's/.*socket:\[\([0-9]*\)\]$/\1/p'
	done >"$TMP/inodes"
	awk -v p=":$(printf '%04X' "$GW_PORT")" 'FNR == NR { want[$1] = 1; next }
		$4 != "0A" && substr($2, length($2) - 4) == p && ($10 in want) { n++ } END { print n + 0 }' \
		"$TMP/inodes" /proc/net/tcp
}
# wrk with the good client for $1 seconds; its TGBENCH line goes to $2
good() {
	wrk -t1 -c"$GOOD_CONNS" -d"$1"s -s tests/stress/chat.lua "http://127.0.0.1:$GW_PORT" >"$2.out" 2>&1 ||
		die "wrk failed: $(cat "$2.out")"
	grep '^TGBENCH ' "$2.out" >"$2" || die "wrk printed no TGBENCH line: $(cat "$2.out")"
}
field() { sed -n "s/.* $2=\([0-9]*\).*/\1/p" "$1"; }
ms() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }
errors() { # a TGBENCH file: non-2xx answers and socket errors
	echo $(( $(field "$1" non2xx) + $(field "$1" connect) + $(field "$1" read) + $(field "$1" write) +
		$(field "$1" timeout) ))
}

# ---- the simulator and the gateway ------------------------------------------------------------
MOCK_PORT=$(tg_free_port)
"$MOCK" --listen "127.0.0.1:$MOCK_PORT" --seed 9 --latency-ms 20 >"$TMP/mock.log" 2>&1 &
MOCK_PID=$!
poll 10000 up "http://127.0.0.1:$MOCK_PORT/__mock/health" || die "the simulator did not come up: $(cat "$TMP/mock.log")"

GW_PORT=$(tg_free_port)
export TG_HOSTILE_ANTHROPIC_KEY=sk-ant-hostile-not-a-real-key
# no database: every record goes to the spool in state_dir, as in an outage
cat >"$TMP/tollgate.json" <<CFG
{
  "listen": "127.0.0.1:$GW_PORT",
  "workers": 2,
  "state_dir": "$TMP/state",
  "client_timeout_ms": $CLIENT_TIMEOUT_MS,
  "database": { "conninfo": "host=/nonexistent dbname=tollgate connect_timeout=1" },
  "providers": {
    "anthropic": { "kind": "anthropic", "base_url": "http://127.0.0.1:$MOCK_PORT",
      "api_key_env": "TG_HOSTILE_ANTHROPIC_KEY",
      "connect_timeout_ms": 1000, "first_byte_timeout_ms": 10000, "total_timeout_ms": 20000 }
  },
  "models": {
    "claude-haiku-4-5": { "provider": "anthropic", "upstream": "claude-haiku-4-5",
      "price_per_mtok": { "input": "1.00", "output": "5.00" } }
  },
  "keys": [ { "name": "good", "sha256": "$(sha256 "$CLIENT_KEY")" } ]
}
CFG
"$TOLLGATE" -c "$TMP/tollgate.json" >"$TMP/tollgate.log" 2>&1 &
GW_PID=$!
poll 15000 logged 'ready: 2 workers serving' || die "the gateway did not become ready: $(tail -20 "$TMP/tollgate.log")"
WORKERS=$(sed -n 's/.*started worker pid=\([0-9]*\) slot=.*/\1/p' "$TMP/tollgate.log" | tr '\n' ' ')
say "hostile: gateway pid $GW_PID, workers $WORKERS; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- the good client alone, then under attack ---------------------------------------------------
good 1 "$TMP/warmup"
say "hostile: the good client alone for ${DURATION}s (wrk -c$GOOD_CONNS, 20 ms upstream)"
good "$DURATION" "$TMP/base"
read -r RSS_BEFORE RSS_BEFORE_MAX <<EOF
$(rss)
EOF

say "hostile: attack for ${DURATION}s: $TRICKLE trickling heads, $HEADERS oversized heads, $BODIES slow keyless 4 MiB bodies"
# the peak RSS, sampled every 100 ms while the attack runs
( peak=0; pmax=0
  while :; do
	read -r sum max <<EOF
$(rss)
EOF
	[ "$sum" -le "$peak" ] || peak=$sum
	[ "$max" -le "$pmax" ] || pmax=$max
	echo "$peak $pmax" >"$TMP/peak.new" && mv "$TMP/peak.new" "$TMP/peak"
	sleep 0.1
  done ) &
SAMPLER_PID=$!
node tests/stress/hostile_attack.mjs "$GW_PORT" $((DURATION + 2)) "$TRICKLE" "$HEADERS" "$BODIES" \
	>"$TMP/attack.json" 2>"$TMP/attack.err" &
ATTACK_PID=$!
sleep 1.5                       # the attackers are all connected after their first second
HELD_DURING=$(held)
good "$DURATION" "$TMP/attack"
wait "$ATTACK_PID" || die "the attackers failed: $(cat "$TMP/attack.err")"
ATTACK_PID=""
kill "$SAMPLER_PID" 2>/dev/null || true
wait "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=""
read -r RSS_DURING RSS_DURING_MAX <"$TMP/peak"

# after: the attackers' connections are gone (a lingering close takes up to 2 s)
_end=$(( $(now_ms) + 5000 ))
while [ "$(held)" -gt 0 ] && [ "$(now_ms)" -lt "$_end" ]; do sleep 0.1; done
HELD_AFTER=$(held)
sleep 1.2                       # a worker gives its heap back at most once a second
read -r RSS_AFTER RSS_AFTER_MAX <<EOF
$(rss)
EOF

# ---- the report ---------------------------------------------------------------------------------
A=$TMP/attack.json
jget() { node -e 'const s=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));
	const v=process.argv[2].split(".").reduce((o,k)=>o==null?undefined:o[k],s);
	console.log(typeof v==="object"?Object.entries(v).map(([k,n])=>k+":"+n).join(",")||"-":v??0)' "$A" "$1"; }
BASE_P50=$(field "$TMP/base" p50_us) BASE_P99=$(field "$TMP/base" p99_us)
ATT_P50=$(field "$TMP/attack" p50_us) ATT_P99=$(field "$TMP/attack" p99_us)
BASE_ERR=$(errors "$TMP/base") ATT_ERR=$(errors "$TMP/attack")
say ""
printf '%-26s %10s %10s %9s %7s %16s %16s\n' "phase" "good p50" "good p99" "requests" "errors" \
	"RssAnon KiB" "largest worker"
printf '%-26s %8s ms %8s ms %9s %7s %16s %16s\n' "alone" "$(ms "$BASE_P50")" "$(ms "$BASE_P99")" \
	"$(field "$TMP/base" requests)" "$BASE_ERR" "$RSS_BEFORE" "$RSS_BEFORE_MAX"
printf '%-26s %8s ms %8s ms %9s %7s %16s %16s\n' "under attack (RSS: peak)" "$(ms "$ATT_P50")" \
	"$(ms "$ATT_P99")" "$(field "$TMP/attack" requests)" "$ATT_ERR" "$RSS_DURING" "$RSS_DURING_MAX"
printf '%-26s %10s %10s %9s %7s %16s %16s\n' "after" "-" "-" "-" "-" "$RSS_AFTER" "$RSS_AFTER_MAX"
say ""
say "attackers: connections held during the attack $HELD_DURING, after it $HELD_AFTER"
say "  trickle: $(jget trickle.connections) connections, answers $(jget trickle.statuses), longest $(jget trickle.longest_ms) ms"
say "  headers: $(jget headers.connections) connections, answers $(jget headers.statuses), $(( $(jget headers.bytes_sent) >> 20 )) MiB sent"
say "  bodies:  $(jget bodies.connections) connections, answers $(jget bodies.statuses), $(( $(jget bodies.bytes_sent) >> 20 )) MiB sent"

# ---- the bounds ---------------------------------------------------------------------------------
broken=""
bound() { # ok-expression (awk) what
	awk "BEGIN { exit !($1) }" || broken="$broken
  $2"
}
bound "$BASE_ERR == 0 && $ATT_ERR == 0" "the good client saw errors: $BASE_ERR alone, $ATT_ERR under attack"
bound "$ATT_P99 <= $P99_FACTOR * $BASE_P99" "good p99 under attack $(ms "$ATT_P99") ms > $P99_FACTOR x $(ms "$BASE_P99") ms"
bound "$RSS_AFTER <= $RSS_FACTOR * $RSS_BEFORE" "RSS after $RSS_AFTER KiB > $RSS_FACTOR x $RSS_BEFORE KiB before"
bound "$RSS_DURING <= $RSS_BEFORE + $RSS_DURING_MIB * 1024" "RSS during $RSS_DURING KiB > $RSS_BEFORE KiB + $RSS_DURING_MIB MiB"
bound "$(jget trickle.longest_ms) <= $CLIENT_TIMEOUT_MS + 1500" "a trickle lived $(jget trickle.longest_ms) ms"
for kind in trickle:408 headers:431 bodies:401; do
	answers=$(jget "${kind%%:*}.statuses" | tr ',' '\n')
	other=$(echo "$answers" | grep -v "^${kind#*:}:\|^none:" || true)
	[ -z "$other" ] || broken="$broken
  ${kind%%:*} attackers were answered $other (only ${kind#*:} is right)"
	echo "$answers" | grep -q "^${kind#*:}:" || broken="$broken
  no ${kind%%:*} attacker was answered ${kind#*:}"
done
say "hostile: rss_before_kib=$RSS_BEFORE rss_during_kib=$RSS_DURING rss_after_kib=$RSS_AFTER" \
	"base_p50_us=$BASE_P50 base_p99_us=$BASE_P99 attack_p50_us=$ATT_P50 attack_p99_us=$ATT_P99" \
	"base_errors=$BASE_ERR attack_errors=$ATT_ERR trickle_longest_ms=$(jget trickle.longest_ms)" \
	"held_after=$HELD_AFTER"
if [ -n "$broken" ]; then
	FAILED=1
	say "hostile: FAILED:$broken"
	exit 1
fi
say "hostile: ok"
