-- wrk script: the same conversation as messages.lua in OpenAI Chat Completions
-- form, sent to a Claude model, so the gateway translates it both ways (the
-- translated case of `make bench`). Prints the same TGBENCH line.
-- Usage: wrk -t2 -c64 -d5s -s tests/stress/chat.lua http://127.0.0.1:PORT
local system = "You are a concise assistant for an online travel agency. Answer in one or two " ..
  "sentences, cite no sources, and never invent prices. If the user asks about bookings, " ..
  "tell them to use the bookings page. Keep a friendly, plain tone."

wrk.method = "POST"
wrk.path = "/v1/chat/completions"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench-key"
wrk.body = table.concat({
  '{"model":"claude-haiku-4-5","max_tokens":256,"temperature":0.2,"user":"bench-user-0001",',
  '"messages":[{"role":"system","content":"', system, '"},',
  '{"role":"user","content":"Hello! I am planning a weekend in Europe in April and I like museums, ',
  'good food and walking. I have never been to France."},',
  '{"role":"assistant","content":"That sounds lovely. France has many cities that fit: Paris, Lyon ',
  'and Bordeaux are all good for museums, food and walking. Would you like a suggestion?"},',
  '{"role":"user","content":[{"type":"text","text":"Yes please. First, though, a quick check: ',
  'What is the capital of France? And is April a good month to visit it?"}]}]}',
})

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "TGBENCH requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
    "non2xx=%d connect=%d read=%d write=%d timeout=%d bytes=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.status, e.connect, e.read, e.write, e.timeout,
    summary.bytes))
end
