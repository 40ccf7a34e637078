#!/bin/sh
# Install the Debian packages tollgate needs to build, test and demo, when
# missing. As root it runs apt-get; otherwise it prints the exact command and fails.
# chromium and a font: a test renders the comparison report's page (tests/render_html.sh).
# redis-server, haproxy, iproute2: the cluster test (tests/cluster/run.sh); libhiredis-dev: the
# Redis client every worker runs when a cluster is configured.
set -eu

PACKAGES="build-essential pkg-config libevent-dev libcurl4-openssl-dev libpq-dev libjsmn-dev \
libhttp-parser-dev libhiredis-dev check postgresql wrk nginx-light prometheus clang libclang-rt-14-dev \
nodejs npm curl procps chromium fonts-dejavu-core redis-server haproxy iproute2"

missing=""
for p in $PACKAGES; do
	# nodejs/npm may come from elsewhere: the commands are what matter
	case $p in
	nodejs) command -v node >/dev/null 2>&1 && continue ;;
	npm) command -v npm >/dev/null 2>&1 && continue ;;
	esac
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "tollgate: missing packages:$missing" >&2
	echo "run: sudo apt-get update && sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "tollgate: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
