#!/bin/sh
# Everything `make test` runs once the trees are built: the Check unit tests
# in the plain and the sanitizer build, then the integration and SDK suites,
# all against one private PostgreSQL under var/ that this script starts and stops.
set -eu
cd "$(dirname "$0")/.."

PGDIR="$PWD/var/test-pg"
TG_TEST_PG=$(sh tests/pg.sh start "$PGDIR")
export TG_TEST_PG
trap 'sh tests/pg.sh stop "$PGDIR" >/dev/null 2>&1 || true' EXIT INT TERM

echo "== the layout of worker/ (tests/layout.sh)"
sh tests/layout.sh

echo "== unit tests (build/)"
./build/check_tollgate
echo "== unit tests under ASan/UBSan (build-asan/)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 ./build-asan/check_tollgate

echo "== integration tests"
node --test --test-concurrency=1 tests/integration/

echo "== proxy, resilience, deadline and cancel tests again through libcurl (providers at localhost)"
# the simulator is http://127.0.0.1, which the workers' own HTTP/1.1 client carries; libcurl
# carries https:// providers and host names, so the same assertions run through it here
TG_TEST_PROVIDER_HOST=localhost node --test --test-concurrency=1 tests/integration/proxy.test.mjs \
	tests/integration/resilience.test.mjs tests/integration/deadline.test.mjs \
	tests/integration/cancel.test.mjs

echo "== proxy, resilience, daemon and hostile-client integration tests against the ASan/UBSan build"
TG_BUILD_DIR="$PWD/build-asan" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
	node --test --test-concurrency=1 tests/integration/proxy.test.mjs \
	tests/integration/resilience.test.mjs tests/integration/daemon.test.mjs \
	tests/integration/hostile.test.mjs

echo "== three nodes in network namespaces, one Redis, HAProxy (tests/cluster/run.sh)"
sh tests/cluster/run.sh

echo "== SDK tests against the simulator"
sh tests/sdk/run-against-mock.sh

echo "== SDK tests through the gateway (every SDK, every provider, translated and not)"
sh tests/sdk/run-against-gateway.sh
