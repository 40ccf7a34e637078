#!/bin/sh
# Build each libFuzzer target (clang, ASan + UBSan) and run it for a bounded
# time from the checked-in seed corpus. Exits non-zero if any target crashes.
# Targets: the SSE parser under every family's stream (sse), the usage readers
# (usage_json), request checks and the splice (request), the translator's
# request and reply readers and provider errors (translate), recorded tool-call
# streams cut at random through the stream translator (tools), the HTTP request
# parsing of the worker's server (http), OpenAI's Responses API: its client
# bodies, usage reader, replies and event streams (responses), and what is read
# from the request line and headers before the body: the query string, each
# family's endpoint, the client headers passed upstream (query).
# FUZZ_TIME=<seconds per target> (default 20), FUZZ_BUILD=<dir> (default build-fuzz),
# FUZZ_CC (default clang), FUZZ_CORE (the core/ sources linked in; for trying a patch),
# FUZZ_TARGETS (default all of the above).
set -u
cd "$(dirname "$0")/../.." || exit 2

OUT=${FUZZ_BUILD:-build-fuzz}
TIME=${FUZZ_TIME:-20}
CC=${FUZZ_CC:-clang}
FLAGS="-std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"
FLAGS="$FLAGS -Wall -Wextra -Werror -Iinclude -D_GNU_SOURCE"
CORE=${FUZZ_CORE:-"core/json.c core/buf.c core/query.c"}
# worker/wire/ is pure: it links with core/ and shm/retry.c (Retry-After) alone
WIRE="$(echo worker/wire/*.c) shm/retry.c"
status=0

mkdir -p "$OUT" || exit 2
for t in ${FUZZ_TARGETS:-sse usage_json request translate tools http responses query}; do
	deps=$WIRE libs=""
	# libhttp-parser itself is not instrumented: the coverage guiding this one is our layer's
	[ "$t" = http ] && deps="worker/http_parse.c" libs="-lhttp_parser"
	echo "fuzz: building fuzz_$t"
	# shellcheck disable=SC2086
	if ! $CC $FLAGS "tests/fuzz/fuzz_$t.c" $deps $CORE $libs -o "$OUT/fuzz_$t"; then
		echo "fuzz: could not build fuzz_$t" >&2
		status=1
		continue
	fi
	# the first directory collects new inputs; the checked-in seeds stay read-only
	mkdir -p "$OUT/corpus/$t"
	echo "fuzz: running fuzz_$t for ${TIME}s"
	case $OUT in /*) bin="$OUT/fuzz_$t" ;; *) bin="./$OUT/fuzz_$t" ;; esac
	if ! "$bin" -max_total_time="$TIME" -timeout=10 -rss_limit_mb=2048 \
		-max_len=16384 -print_final_stats=1 -artifact_prefix="$OUT/crash-$t-" \
		"$OUT/corpus/$t" "tests/fuzz/corpus/$t" >"$OUT/fuzz_$t.log" 2>&1; then
		echo "fuzz: fuzz_$t FAILED; see $OUT/fuzz_$t.log and $OUT/crash-$t-*" >&2
		tail -40 "$OUT/fuzz_$t.log" >&2
		status=1
		continue
	fi
	grep -E '^(Done|stat::number_of_executed_units)' "$OUT/fuzz_$t.log" | sed "s/^/fuzz: $t: /"
done
exit $status
