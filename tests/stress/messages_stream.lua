-- wrk script: the same Anthropic Messages body as messages.lua with
-- "stream": true (an SSE reply; wrk times it to the last byte).
-- Usage: wrk -t2 -c64 -d5s -s tests/stress/messages_stream.lua http://127.0.0.1:PORT
tg_stream = true
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "messages.lua")
