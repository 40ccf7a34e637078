#!/bin/sh
# Render a page of `tollgate report --compare --html` to a PNG in headless
# Chromium, then trim the empty page below the content (tests/png.mjs).
#   tests/render_html.sh PAGE.html OUT.png [WIDTH]
#   tests/render_html.sh --sample OUT.png [PAGE.html]
#       first make the page from tests/compare_sample.sql in a database of its own
#       (on $TG_TEST_PG, or a private PostgreSQL under var/sample-pg), print the
#       terminal report too; this is how docs/compare.png is made.
# Exit status: 0 done, 2 failed, 3 no Chromium (tests/deps.sh installs the package).
set -eu
cd "$(dirname "$0")/.."

usage() {
	echo "usage: $0 PAGE.html OUT.png [WIDTH] | $0 --sample OUT.png [PAGE.html]" >&2
	exit 2
}

chromium_bin() {
	for c in chromium chromium-browser; do
		command -v "$c" 2>/dev/null && return 0
	done
	return 1
}

# render PAGE OUT WIDTH
render() {
	bin=$(chromium_bin) || {
		echo "render_html.sh: chromium is not installed (apt-get install chromium; tests/deps.sh does it)" >&2
		exit 3
	}
	profile=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-chromium.XXXXXX")
	page=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
	rm -f "$2"
	# Without the networking flags Chromium waits on a closed network; without
	# --no-sandbox it refuses to run as root. A tall window, trimmed afterwards,
	# takes the whole page in one shot without any script in the page.
	if ! timeout 90 "$bin" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--hide-scrollbars --force-device-scale-factor=1 --user-data-dir="$profile" \
		--screenshot="$2" --window-size="$3,4000" "file://$page" >"$profile.log" 2>&1 ||
	   [ ! -s "$2" ]; then
		echo "render_html.sh: chromium did not write $2; its last words:" >&2
		tail -n 5 "$profile.log" >&2
		rm -rf "$profile" "$profile.log"
		exit 2
	fi
	rm -rf "$profile" "$profile.log"
	node tests/png.mjs trim "$2"
}

[ $# -ge 2 ] || usage
if [ "$1" != "--sample" ]; then
	[ -f "$1" ] || { echo "render_html.sh: no page at $1" >&2; exit 2; }
	render "$1" "$2" "${3:-1040}"
	exit 0
fi

out=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-sample.XXXXXX")
html=${3:-$work/compare.html}
db=tollgate_sample_$$
started=""
cleanup() {
	[ -n "${server:-}" ] && psql "$(admin_conninfo)" -Xqc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
	[ -n "$started" ] && sh tests/pg.sh stop "$PWD/var/sample-pg" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

if [ -n "${TG_TEST_PG:-}" ]; then
	server=$TG_TEST_PG
else
	server=$(sh tests/pg.sh start "$PWD/var/sample-pg")
	started=1
fi
admin_conninfo() { printf '%s\n' "$server" | sed 's/dbname=[^ ]*/dbname=postgres/'; }
conninfo=$(printf '%s\n' "$server" | sed "s/dbname=[^ ]*/dbname=$db/")
psql "$(admin_conninfo)" -Xqc "CREATE DATABASE $db"

# the demo's config with the route the sample's calls took
node -e '
const fs = require("fs");
const [src, dst, conninfo] = process.argv.slice(1);
const c = JSON.parse(fs.readFileSync(src, "utf8"));
c.database.conninfo = conninfo;
c.routes.auto = { strategy: "fallback", targets: ["claude-3-haiku", "claude-haiku-4-5", "gemini-2.5-flash"] };
fs.writeFileSync(dst, JSON.stringify(c, null, 2));
' etc/tollgate.demo.json "$work/tollgate.json" "$conninfo"
./build/tollgate migrate -c "$work/tollgate.json" >/dev/null
psql "$conninfo" -Xq -v ON_ERROR_STOP=1 -f tests/compare_sample.sql >/dev/null
./build/tollgate report --compare -c "$work/tollgate.json" --since '1 day' --route auto --html "$html"
render "$html" "$out" 1040
