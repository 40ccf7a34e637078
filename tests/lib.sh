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
