#!/bin/sh
# A private PostgreSQL for tests and the demo, listening only on a unix socket
# in DIR/sock (no TCP). Idempotent; every wait has a deadline.
#   tests/pg.sh start DIR     initdb if needed, start, create database tollgate, print conninfo
#   tests/pg.sh stop DIR      fast shutdown (no-op when not running)
#   tests/pg.sh restart DIR   stop then start
#   tests/pg.sh status DIR    exit 0 when accepting connections
#   tests/pg.sh conninfo DIR  print the conninfo only
set -eu

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
	echo "usage: $0 start|stop|restart|status|conninfo DIR" >&2
	exit 1
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
# As root the server runs as postgres, which must reach DIR; a checkout under a private
# (0700) directory is out of its reach, so such a DIR gets its cluster in a /tmp directory
# named after it instead (the same one for start, stop and status).
if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$dir" 2>/dev/null; then
	dir=/tmp/tollgate-pg-$(printf '%s' "$dir" | cksum | cut -d' ' -f1)
	mkdir -p "$dir"
	chmod 0700 "$dir"
fi
data="$dir/data"
sock="$dir/sock"
log="$dir/postgres.log"

bindir=""
for d in /usr/lib/postgresql/*/bin; do
	[ -x "$d/initdb" ] && bindir=$d
done
if [ -z "$bindir" ]; then
	p=$(command -v initdb 2>/dev/null || true)
	[ -n "$p" ] && bindir=$(dirname "$p")
fi
if [ -z "$bindir" ]; then
	echo "pg.sh: no PostgreSQL server found (apt-get install postgresql)" >&2
	exit 2
fi

# PostgreSQL refuses to run as root: run it as the postgres user, which owns DIR.
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}
pguser=$(if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi)
conninfo="host=$sock dbname=tollgate user=$pguser"

running() {
	[ -f "$data/postmaster.pid" ] && as_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1
}

wait_ready() {
	i=0
	while [ $i -lt 300 ]; do
		if "$bindir/pg_isready" -q -h "$sock" -U "$pguser" -d postgres 2>/dev/null; then
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	echo "pg.sh: PostgreSQL in $dir not ready after 30 s; see $log" >&2
	exit 2
}

start() {
	mkdir -p "$sock"
	if [ "$(id -u)" = 0 ]; then
		chown postgres "$dir" "$sock"
		[ -d "$data" ] && chown -R postgres "$data"
		touch "$log" && chown postgres "$log"
	fi
	if [ ! -f "$data/PG_VERSION" ]; then
		rm -rf "$data"
		as_pg "$bindir/initdb" -D "$data" -U "$pguser" -A trust -E UTF8 --locale=C.UTF-8 \
			--no-sync >"$dir/initdb.log" 2>&1 ||
			as_pg "$bindir/initdb" -D "$data" -U "$pguser" -A trust -E UTF8 --locale=C \
				--no-sync >"$dir/initdb.log" 2>&1 || {
			echo "pg.sh: initdb failed; see $dir/initdb.log" >&2
			exit 2
		}
		# fsync and synchronous_commit off make the cluster fast, and are kept off on
		# purpose: the logger must set synchronous_commit = on in its own session,
		# and tests/integration/durability.test.mjs kills this cluster to check it does.
		cat >>"$data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$sock'
max_connections = 50
shared_buffers = 32MB
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
CONF
	fi
	if ! running; then
		as_pg "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 30 start >/dev/null || {
			echo "pg.sh: PostgreSQL did not start; see $log" >&2
			exit 2
		}
	fi
	wait_ready
	if [ "$(as_pg "$bindir/psql" -h "$sock" -U "$pguser" -d postgres -tAc \
		"SELECT 1 FROM pg_database WHERE datname = 'tollgate'")" != 1 ]; then
		as_pg "$bindir/psql" -h "$sock" -U "$pguser" -d postgres -qc "CREATE DATABASE tollgate" >/dev/null
	fi
	echo "$conninfo"
}

stop() {
	if running; then
		as_pg "$bindir/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null
	fi
}

case $cmd in
start) start ;;
stop) stop ;;
restart) stop; start ;;
status) running && "$bindir/pg_isready" -q -h "$sock" -U "$pguser" -d postgres ;;
conninfo) echo "$conninfo" ;;
*) echo "usage: $0 start|stop|restart|status|conninfo DIR" >&2; exit 1 ;;
esac
