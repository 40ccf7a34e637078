#!/bin/sh
# The long run of tests/integration/durability.test.mjs (issue 18): a too-small
# state_dir, a full state_dir with PostgreSQL down, every PostgreSQL process
# killed with -9 under load on a cluster whose default is synchronous_commit =
# off, and a spool at its cap — each load phase PHASE_SECONDS long (default 20; the
# `make test` version runs 4). Needs root (tmpfs mounts), as CI has.
# Run after `make`: PHASE_SECONDS=30 sh tests/stress/durability.sh
# Exit 0 when every check holds, non-zero otherwise.
set -eu
cd "$(dirname "$0")/../.."

PGDIR="$PWD/var/stress-pg-durability"
TG_TEST_PG=$(sh tests/pg.sh start "$PGDIR")
export TG_TEST_PG
trap 'sh tests/pg.sh stop "$PGDIR" >/dev/null 2>&1 || true' EXIT INT TERM

TG_DURABILITY_SECONDS=${PHASE_SECONDS:-20} \
	node --test --test-concurrency=1 tests/integration/durability.test.mjs
