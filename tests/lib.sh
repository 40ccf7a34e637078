# Shell helpers shared by the demo, test and benchmark scripts (sourced, POSIX sh).

# A free TCP port on loopback.
tg_free_port() {
	node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Wait until URL answers over HTTP, in 50 ms steps, at most TRIES of them (default 200 = 10 s).
# Returns 1 if it never does.
tg_wait_http() {
	_i=0
	until curl -s -o /dev/null "$1"; do
		_i=$((_i + 1))
		[ "$_i" -le "${2:-200}" ] || return 1
		sleep 0.05
	done
}

# In the current directory (tests/sdk): install the SDKs when node_modules is missing or
# older than the lockfile (npm ci writes node_modules/.package-lock.json).
tg_npm_ci() {
	if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
		npm ci --no-audit --no-fund >&2
	fi
}
