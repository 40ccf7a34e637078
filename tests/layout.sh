#!/bin/sh
# The shape issue 11 gave worker/, checked on every build: no two files of
# worker/ call into each other (the objects' symbols say who calls whom), and
# outside worker/wire/ no file tests or switches on an API family (the wire
# formats' tables do that). worker/wire/'s purity is the Makefile's (poisoned
# libevent and libcurl headers). Exit 1 naming each offence.
set -eu
cd "$(dirname "$0")/.."
BUILD=${TG_BUILD_DIR:-build}
status=0

# "file symbol" for every function an object defines, and for every one it calls
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for c in worker/*.c; do
	f=$(basename "$c" .c)
	o=$BUILD/worker/$f.o
	nm "$o" | awk -v f="$f" '$2 == "T" { print f, $3 }' >>"$tmp/defs"
	nm "$o" | awk -v f="$f" '$1 == "U" { print f, $2 }' >>"$tmp/uses"
done
# who calls whom, then the pairs that go both ways
awk 'NR == FNR { def[$2] = $1; next } ($2 in def) && def[$2] != $1 { print $1, def[$2] }' \
	"$tmp/defs" "$tmp/uses" | sort -u >"$tmp/edges"
awk '{ e[$1 " " $2] = 1 } END { for (k in e) { split(k, p, " "); if ((p[2] " " p[1]) in e && p[1] < p[2])
	print "worker/" p[1] ".c and worker/" p[2] ".c call each other" } }' "$tmp/edges" >"$tmp/cycles"
if [ -s "$tmp/cycles" ]; then
	cat "$tmp/cycles" >&2
	status=1
fi

if grep -nE '(case|[=!]=) *TG_FAMILY_|TG_FAMILY_[A-Z]+ *[=!]=' worker/*.c >&2; then
	echo "layout: the lines above decide on an API family outside worker/wire/" >&2
	status=1
fi
[ "$status" = 0 ] && echo "layout: worker/ files call one way; no family decided outside worker/wire/"
exit "$status"
