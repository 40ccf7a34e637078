#!/bin/sh
# Check etc/tollgate.service with systemd's own tools: `systemd-analyze verify`
# (syntax, directives, the ExecStart binary) and `systemd-analyze security`
# (the exposure score of its hardening). verify needs the binary at the unit's
# absolute path, so as root the build is bind-mounted there in a private mount
# namespace; nothing on the host changes. Needs systemd-analyze (package systemd).
set -eu
cd "$(dirname "$0")/../.."

command -v systemd-analyze >/dev/null || { echo "verify_unit: systemd-analyze is not installed (apt-get install systemd)" >&2; exit 2; }
[ -x build/tollgate ] || { echo "verify_unit: build/tollgate is not built (make)" >&2; exit 2; }
bin=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' etc/tollgate.service)
dir=$(dirname "$bin")
stage=$(mktemp -d /tmp/tg-unit.XXXXXX)
trap 'rm -rf "$stage"' EXIT
cp build/tollgate "$stage/tollgate"

if [ -x "$bin" ]; then
	systemd-analyze verify etc/tollgate.service
elif [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
	unshare -m sh -c "mkdir -p '$dir' && mount --bind '$stage' '$dir' && systemd-analyze verify etc/tollgate.service"
else
	echo "verify_unit: $bin is not installed and this is not root: run make install first" >&2
	exit 2
fi
echo "verify_unit: systemd-analyze verify etc/tollgate.service: ok"
systemd-analyze security --offline=yes etc/tollgate.service | tail -n 1
