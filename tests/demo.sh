#!/bin/sh
# make demo: a private PostgreSQL under var/, the provider simulator, the
# gateway; the same question to Claude 3 Haiku, Claude Haiku 4.5 and Gemini
# 2.5 Flash and the cost report from the database; then the same question to
# the route `auto` (strategy cost), which explores the three, learns from their
# bills and settles on the cheapest per request, and the comparison report with
# its page under var/demo/. Touches no system service.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh

VAR="$PWD/var/demo"
PGDIR="$VAR/pg"
GW_PORT=${TG_DEMO_PORT:-8080}
MOCK_PORT=${TG_DEMO_MOCK_PORT:-9090}
ROUNDS=${TG_DEMO_ROUNDS:-20}
ROUTE_CALLS=${TG_DEMO_ROUTE_CALLS:-120}
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

ask_openai() {
	curl -sf -o /dev/null "$GW/v1/chat/completions" -H 'content-type: application/json' \
		-H 'authorization: Bearer demo' \
		-d "{\"model\":\"$1\",\"max_tokens\":256,\"messages\":[{\"role\":\"user\",\"content\":\"$2\"}]}"
}
Q="What is the capital of France?"
echo "== asking \"$Q\" $ROUNDS times of each model through the gateway"
# the three models side by side, each asked in turn (a bare `wait` would wait for the
# gateway and the simulator too: only these are waited for)
askers=""
for m in claude-3-haiku claude-haiku-4-5 gemini-2.5-flash; do
	(
		i=0
		while [ $i -lt "$ROUNDS" ]; do
			case $m in claude*) ask_claude "$m" "$Q" ;; *) ask_gemini "$m" "$Q" ;; esac
			i=$((i + 1))
		done
	) &
	askers="$askers $!"
done
# shellcheck disable=SC2086
wait $askers
echo "== asking the route \"auto\" (strategy cost) $ROUTE_CALLS times, in every SDK's format"
# four at a time: each call's target is chosen from the bills of the calls before it
i=0
while [ $i -lt "$ROUTE_CALLS" ]; do
	askers=""
	for k in 0 1 2 3; do
		case $(((i + k) % 3)) in
		0) ask_claude auto "$Q" & ;;
		1) ask_gemini auto "$Q" & ;;
		*) ask_openai auto "$Q" & ;;
		esac
		askers="$askers $!"
	done
	# shellcheck disable=SC2086
	wait $askers
	i=$((i + 4))
done
echo "== stopping the gateway (the logger flushes every record first)"
kill -TERM "$gw_pid"
wait "$gw_pid" || true
gw_pid=""
echo
./build/tollgate report -c "$VAR/tollgate.json" --since '1 hour' --by model
echo
echo "== where the route \"auto\" sent its calls, in its first and second half, and why"
psql "$conninfo" -X -q -P footer=off -c "
	WITH r AS (SELECT model, route_reason, ntile(2) OVER (ORDER BY created_at) AS half
		FROM requests WHERE route = 'auto' AND endpoint <> 'shadow')
	SELECT CASE half WHEN 1 THEN 'first half' ELSE 'second half' END AS calls, model,
		count(*) AS n, string_agg(DISTINCT route_reason, ', ') AS reasons
	FROM r GROUP BY half, model ORDER BY half, n DESC"
./build/tollgate report -c "$VAR/tollgate.json" --compare --route auto --since '1 hour' \
	--html "$VAR/compare.html"
echo
echo "== the comparison as a page: $VAR/compare.html"
