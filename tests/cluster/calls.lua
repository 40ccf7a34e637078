-- wrk script for tests/cluster/run.sh: OpenAI Chat Completions calls (not
-- streamed) with one client key, each with its own client id, x-request-id:
-- <tag>-<thread>-<n>. The gateway echoes it as x-client-request-id, so an
-- answer that carries it came from a tollgate node (HAProxy's own 502/503 do
-- not). Settings come from the environment (done() runs in wrk's main Lua
-- state, which never sees script arguments):
--   TGC_KEY    the client key          TGC_MODEL  the model (gpt-4o-mini)
--   TGC_OUT    where answers go        TGC_TAG    a prefix for the client ids
--   TGC_DELAY_MS  a pause before each call on a connection (0: none), so that a
--                 refused flood does not take the machine
-- Each thread writes TGC_OUT/answered-<tag>-<thread>.txt, one line per answer
-- from tollgate: "<client id> <status> <unix second>". done() prints one line,
-- TGCLUSTER tag=… answers=… s200=… …, with wrk's own totals and socket errors.

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("tid", #threads)
end

local n = 0
local out, body, headers, tag
counts = {}
unmatched = 0

function init(args)
  local key = os.getenv("TGC_KEY") or "none"
  local model = os.getenv("TGC_MODEL") or "gpt-4o-mini"
  tag = os.getenv("TGC_TAG") or "c"
  body = '{"model":"' .. model .. '","max_tokens":32,"messages":[{"role":"user",' ..
    '"content":"What is the capital of France?"}]}'
  headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key }
  out = io.open((os.getenv("TGC_OUT") or ".") .. "/answered-" .. tag .. "-" .. tid .. ".txt", "w")
  out:setvbuf("full", 65536)
end

local pause = tonumber(os.getenv("TGC_DELAY_MS") or "0")

function delay()
  return pause
end

function request()
  n = n + 1
  headers["x-request-id"] = tag .. "-" .. tid .. "-" .. n
  return wrk.format("POST", "/v1/chat/completions", headers, body)
end

local function header(h, want)
  local v = h[want]
  if v then return v end
  for name, x in pairs(h) do
    if string.lower(name) == want then return x end
  end
  return nil
end

function response(status, h, b)
  local id = header(h, "x-client-request-id")
  if id == nil then
    unmatched = unmatched + 1
    return
  end
  counts[status] = (counts[status] or 0) + 1
  out:write(id, " ", status, " ", os.time(), "\n")
end

function done(summary, latency, requests)
  local total, by, um = 0, {}, 0
  for _, t in ipairs(threads) do
    for s, c in pairs(t:get("counts")) do
      by[s] = (by[s] or 0) + c
      total = total + c
    end
    um = um + t:get("unmatched")
  end
  local e = summary.errors
  local line = string.format("tag=%s answers=%d requests=%d connect=%d read=%d write=%d " ..
    "timeout=%d not_tollgate=%d duration_us=%d rps=%.1f", os.getenv("TGC_TAG") or "c", total,
    summary.requests, e.connect, e.read, e.write, e.timeout, um, summary.duration,
    summary.requests / (summary.duration / 1e6))
  local st = {}
  for s in pairs(by) do st[#st + 1] = s end
  table.sort(st)
  for _, s in ipairs(st) do line = line .. string.format(" s%d=%d", s, by[s]) end
  io.write("TGCLUSTER " .. line .. "\n")
end
