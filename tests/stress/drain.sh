#!/bin/sh
# Long streams across a reload storm, a stop and a worker kill, at full size
# (issue 11): 300 streams of 20 s under a SIGHUP every 0.5 s, then 1,000 streams
# with a worker killed. `make test` runs the same file smaller
# (tests/integration/drain.test.mjs); this is `make stress`'s version.
set -eu
cd "$(dirname "$0")/../.."
PGDIR="$PWD/var/stress-pg"
TG_TEST_PG=$(sh tests/pg.sh start "$PGDIR")
export TG_TEST_PG
trap 'sh tests/pg.sh stop "$PGDIR" >/dev/null 2>&1 || true' EXIT INT TERM
TG_DRAIN_STREAM_MS=${TG_DRAIN_STREAM_MS:-20000} TG_DRAIN_STREAMS=${TG_DRAIN_STREAMS:-300} \
	node --test --test-concurrency=1 tests/integration/drain.test.mjs
