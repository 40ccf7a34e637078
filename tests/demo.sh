#!/bin/sh
# make demo: a private PostgreSQL under var/, the provider simulator, the
# gateway, the same questions to Claude 3 Haiku, Claude Haiku 4.5 and Gemini
# 2.5 Flash, then the cost report from the database. Touches no system service.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh

VAR="$PWD/var/demo"
PGDIR="$VAR/pg"
GW_PORT=${TG_DEMO_PORT:-8080}
MOCK_PORT=${TG_DEMO_MOCK_PORT:-9090}
ROUNDS=${TG_DEMO_ROUNDS:-20}
# every demo starts from nothing, so the report shows this run's calls only
sh tests/pg.sh stop "$PGDIR" >/dev/null 2>&1 || true
rm -rf "$VAR"
mkdir -p "$VAR"

cleanup() {
	[ -n "${gw_pid:-}" ] && kill "$gw_pid" 2>/dev/null && wait "$gw_pid" 2>/dev/null || true
	[ -n "${mock_pid:-}" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null || true
	sh tests/pg.sh stop "$PGDIR" >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

wait_http() {
	tg_wait_http "http://127.0.0.1:$1$2" || { echo "demo: nothing answered on port $1 after 10 s" >&2; exit 2; }
}

echo "== starting a private PostgreSQL in $PGDIR"
conninfo=$(sh tests/pg.sh start "$PGDIR")

# The demo config, pointed at this PostgreSQL and these ports.
node -e '
const fs = require("fs");
const [src, dst, conninfo, gw, mock, state] = process.argv.slice(1);
const c = JSON.parse(fs.readFileSync(src, "utf8"));
c.listen = `127.0.0.1:${gw}`;
c.state_dir = state;
c.admin.listen = `${state}/admin.sock`;
c.database.conninfo = conninfo;
for (const p of Object.values(c.providers)) p.base_url = `http://127.0.0.1:${mock}`;
fs.writeFileSync(dst, JSON.stringify(c, null, 2));
' etc/tollgate.demo.json "$VAR/tollgate.json" "$conninfo" "$GW_PORT" "$MOCK_PORT" "$VAR/state"

export ANTHROPIC_API_KEY=demo-anthropic-key GEMINI_API_KEY=demo-gemini-key OPENAI_API_KEY=demo-openai-key

echo "== applying migrations"
./build/tollgate migrate -c "$VAR/tollgate.json"

echo "== starting the simulator on :$MOCK_PORT and the gateway on :$GW_PORT"
./build/tollgate-mock --listen "127.0.0.1:$MOCK_PORT" --seed 42 --profiles tests/mock/profiles.json \
	>"$VAR/mock.log" 2>&1 &
mock_pid=$!
wait_http "$MOCK_PORT" /__mock/stats
./build/tollgate -c "$VAR/tollgate.json" >"$VAR/tollgate.log" 2>&1 &
gw_pid=$!
wait_http "$GW_PORT" /healthz

GW="http://127.0.0.1:$GW_PORT"
ask_claude() {
	curl -sf -o /dev/null "$GW/v1/messages" -H 'content-type: application/json' \
		-H 'anthropic-version: 2023-06-01' -H 'x-api-key: demo' \
		-d "{\"model\":\"$1\",\"max_tokens\":256,\"messages\":[{\"role\":\"user\",\"content\":\"$2\"}]}"
}
ask_gemini() {
	curl -sf -o /dev/null "$GW/v1beta/models/$1:generateContent" -H 'content-type: application/json' \
		-H 'x-goog-api-key: demo' \
		-d "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"$2\"}]}]}"
}

Q="What is the capital of France?"
echo "== asking \"$Q\" $ROUNDS times of each model through the gateway"
i=0
while [ $i -lt "$ROUNDS" ]; do
	ask_claude claude-3-haiku "$Q"
	ask_claude claude-haiku-4-5 "$Q"
	ask_gemini gemini-2.5-flash "$Q"
	i=$((i + 1))
done

echo "== stopping the gateway (the logger flushes every record first)"
kill -TERM "$gw_pid"
wait "$gw_pid" || true
gw_pid=""

echo
./build/tollgate report -c "$VAR/tollgate.json" --since '1 hour' --by model
