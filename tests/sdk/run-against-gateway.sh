#!/bin/sh
# Runs the SDK suite through the gateway: starts the simulator and build/tollgate
# (built beforehand) on free loopback ports with a config whose client key is
# TG_API_KEY, then `node --test` on every SDK file, the cross-format one
# included (TG_CROSS=1), or on the files named as arguments. Faults are set on
# the simulator (TG_VIA_GATEWAY=1), since the gateway forwards no test headers;
# tests of gaps the gateway still has skip there, naming their issue. Exit
# status is the tests'.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/tests/lib.sh"
KEY=${TG_API_KEY:-sdk-test-key}
ADMIN=sdk-test-admin
WORK=$(mktemp -d /tmp/tg-sdk-gw.XXXXXX)
MOCK_PID= GW_PID=

cleanup() {
	for p in $GW_PID $MOCK_PID; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

wait_http() {
	tg_wait_http "$1" || { echo "run-against-gateway: $1 does not answer" >&2; cat "$WORK"/*.log >&2; exit 2; }
}

MOCK_PORT=$(tg_free_port)
GW_PORT=$(tg_free_port)
(cd "$ROOT" && exec build/tollgate-mock --listen "127.0.0.1:$MOCK_PORT" --latency-ms 0) >"$WORK/mock.log" 2>&1 &
MOCK_PID=$!
wait_http "http://127.0.0.1:$MOCK_PORT/__mock/health"

node -e '
const crypto = require("crypto");
const [dst, gw, mock, key, admin, state] = process.argv.slice(1);
const sha = (s) => crypto.createHash("sha256").update(s).digest("hex");
const base = `http://127.0.0.1:${mock}`;
const p = (kind) => ({ kind, base_url: base, api_key_env: "TG_SDK_PROVIDER_KEY" });
const price = { input: "1.00", output: "5.00" };
require("fs").writeFileSync(dst, JSON.stringify({
  listen: `127.0.0.1:${gw}`, workers: 2, state_dir: state,
  database: { conninfo: process.env.TG_TEST_PG || "host=/nonexistent dbname=tollgate", log_backpressure: "allow" },
  admin: { key_sha256: sha(admin), listen: `${state}/admin.sock` },
  providers: { anthropic: p("anthropic"), gemini: p("gemini"), openai: p("openai") },
  models: {
    "claude-haiku-4-5": { provider: "anthropic", upstream: "claude-haiku-4-5", price_per_mtok: price },
    "gemini-2.5-flash": { provider: "gemini", upstream: "gemini-2.5-flash", price_per_mtok: price },
    "gpt-4o-mini": { provider: "openai", upstream: "gpt-4o-mini", price_per_mtok: price },
    "o4-mini": { provider: "openai", upstream: "o4-mini", price_per_mtok: price },
  },
  routes: { cheap: { strategy: "fallback", targets: ["claude-haiku-4-5", "gemini-2.5-flash"] } },
  keys: [{ name: "sdk", sha256: sha(key) }],
}));
' "$WORK/tollgate.json" "$GW_PORT" "$MOCK_PORT" "$KEY" "$ADMIN" "$WORK/state"

(cd "$ROOT" && TG_SDK_PROVIDER_KEY=sdk-provider-key exec build/tollgate -c "$WORK/tollgate.json") \
	>"$WORK/gateway.log" 2>&1 &
GW_PID=$!
wait_http "http://127.0.0.1:$GW_PORT/healthz"

cd "$HERE"
tg_npm_ci
[ $# -gt 0 ] || set -- anthropic.test.js openai.test.js gemini.test.js responses.test.mjs cross.test.mjs \
	tools.test.mjs
set +e
TG_BASE_URL="http://127.0.0.1:$GW_PORT" TG_MOCK_URL="http://127.0.0.1:$MOCK_PORT" TG_API_KEY="$KEY" \
	TG_ADMIN_KEY="$ADMIN" TG_ADMIN_SOCKET="$WORK/state/admin.sock" TG_VIA_GATEWAY=1 TG_CROSS=1 \
	node --test --test-concurrency=1 "$@"
rc=$?
set -e
[ $rc -eq 0 ] || tail -n 40 "$WORK/gateway.log" >&2
exit $rc
