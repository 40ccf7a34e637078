-- wrk script for tests/stress/scenario.sh: realistic calls of the three client
-- families (Anthropic Messages, OpenAI Chat Completions, Gemini), streamed and
-- not, to plain models and to the fallback route "cheap", cycled per request.
-- Every request carries a unique client id, x-request-id: <thread>-<n>; the
-- gateway echoes it as x-client-request-id, which tells response() which
-- request an answer belongs to.
--
-- Usage: TG_SCENARIO_OUT=DIR TG_SCENARIO_KEY=KEY wrk -t2 -c32 -d20s -s scenario.lua URL
-- (settings come from the environment, not wrk's script arguments: done()
-- runs in wrk's main Lua state, which never sees those). Each thread writes
-- DIR/answered-<thread>.txt, "<client id> <status> <cost>" per answer (the
-- exact cost the gateway told the client, \N when it told none); done() writes
-- DIR/unanswered.txt (ids sent and never answered: socket errors, calls cut
-- when wrk stopped) and prints one line, TGSTRESS key=value ..., with the
-- answers by status (s200=N ...), wrk's own totals and its socket errors.

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("tid", #threads)
end

local Q = "Hello! I am planning a weekend in Europe in April and I like museums, good food " ..
  "and walking. I have never been to France. First, a quick check: What is the capital of France?"
local SYSTEM = "You are a concise assistant for an online travel agency. Answer in one or two " ..
  "sentences, cite no sources, and never invent prices."

-- {path, headers builder, body}: family x model x streamed
local kinds

local function build_kinds(key)
  local anth = { ["Content-Type"] = "application/json", ["anthropic-version"] = "2023-06-01",
    ["x-api-key"] = key }
  local oai = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key }
  local gem = { ["Content-Type"] = "application/json", ["x-goog-api-key"] = key }
  local function anthropic(model, stream)
    return '{"model":"' .. model .. '","max_tokens":128,"system":"' .. SYSTEM .. '",' ..
      '"messages":[{"role":"user","content":"' .. Q .. '"}]' ..
      (stream and ',"stream":true' or '') .. '}'
  end
  local function openai(model, stream)
    return '{"model":"' .. model .. '","max_tokens":128,"messages":[' ..
      '{"role":"system","content":"' .. SYSTEM .. '"},{"role":"user","content":"' .. Q .. '"}]' ..
      (stream and ',"stream":true,"stream_options":{"include_usage":true}' or '') .. '}'
  end
  local gbody = '{"systemInstruction":{"parts":[{"text":"' .. SYSTEM .. '"}]},' ..
    '"contents":[{"role":"user","parts":[{"text":"' .. Q .. '"}]}]}'
  kinds = {
    { "/v1/messages", anth, anthropic("claude-haiku-4-5", false) },
    { "/v1/chat/completions", oai, openai("gpt-4o-mini", true) },
    { "/v1beta/models/gemini-2.5-flash:generateContent", gem, gbody },
    { "/v1/messages", anth, anthropic("cheap", true) },
    { "/v1/chat/completions", oai, openai("cheap", false) },
    { "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", gem, gbody },
    { "/v1/chat/completions", oai, openai("claude-haiku-4-5", false) },
    { "/v1/messages", anth, anthropic("claude-3-haiku", true) },
  }
end

-- per thread (each wrk thread has its own Lua state)
local n = 0
local out
local dir = os.getenv("TG_SCENARIO_OUT") or "."
counts = {}        -- status -> answers
outstanding = {}   -- client id -> true, sent and not answered yet
unmatched = 0      -- answers without x-client-request-id (cannot happen; checked)
cutstreams = 0     -- 200 SSE answers without the closing tollgate comment

function init(args)
  build_kinds(os.getenv("TG_SCENARIO_KEY") or "stress-client-key")
  out = io.open(dir .. "/answered-" .. tid .. ".txt", "w")
  out:setvbuf("full", 65536)
end

function request()
  n = n + 1
  local k = kinds[(n - 1) % #kinds + 1]
  local id = tid .. "-" .. n
  outstanding[id] = true
  local h = {}
  for name, v in pairs(k[2]) do h[name] = v end
  h["x-request-id"] = id
  return wrk.format("POST", k[1], h, k[3])
end

local function header(headers, want)
  local v = headers[want]
  if v then return v end
  for name, x in pairs(headers) do
    if string.lower(name) == want then return x end
  end
  return nil
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
  local id = header(headers, "x-client-request-id")
  if id == nil then
    unmatched = unmatched + 1
    return
  end
  outstanding[id] = nil
  -- the cost the client was told: a header on a JSON reply, the closing comment on a stream
  local cost = header(headers, "x-tollgate-cost-usd")
  if status == 200 then
    local ct = header(headers, "content-type") or ""
    if ct:find("text/event-stream", 1, true) then
      cost = body:match(": tollgate cost_usd=([0-9.]+)")
      if cost == nil then cutstreams = cutstreams + 1 end
    end
  end
  out:write(id, " ", status, " ", cost or "\\N", "\n")
end

-- main state, after every thread stopped; the threads' answer files are
-- flushed when wrk exits (stdio), which the caller checks by their line counts
function done(summary, latency, requests)
  local total, by, un, um, cs = 0, {}, {}, 0, 0
  for _, t in ipairs(threads) do
    for s, c in pairs(t:get("counts")) do
      by[s] = (by[s] or 0) + c
      total = total + c
    end
    for id in pairs(t:get("outstanding")) do un[#un + 1] = id end
    um = um + t:get("unmatched")
    cs = cs + t:get("cutstreams")
  end
  local e = summary.errors
  local line = string.format("answers=%d requests=%d connect=%d read=%d write=%d timeout=%d " ..
    "non2xx=%d unmatched=%d cutstreams=%d unanswered=%d p50_us=%d p99_us=%d duration_us=%d",
    total, summary.requests, e.connect, e.read, e.write, e.timeout, e.status, um, cs, #un,
    latency:percentile(50), latency:percentile(99), summary.duration)
  local st = {}
  for s in pairs(by) do st[#st + 1] = s end
  table.sort(st)
  for _, s in ipairs(st) do line = line .. string.format(" s%d=%d", s, by[s]) end
  io.write("TGSTRESS " .. line .. "\n")
  local f = io.open(dir .. "/unanswered.txt", "w")
  table.sort(un)
  for _, id in ipairs(un) do f:write(id, "\n") end
  f:close()
end
