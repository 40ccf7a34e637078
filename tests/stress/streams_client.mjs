// Hold many long SSE streams open at once, for tests/stress/streams_bench.sh: N
// connections, each one streamed Anthropic Messages call (the body of
// messages_stream.lua), opened at RATE per second, read to the end. Raw
// sockets, no HTTP library, so that 10,000 streams cost the client little.
// Prints "open N" once every stream has its first byte, then one JSON line:
// streams opened, completed (status 200, the stream's last event, and with
// --gateway the closing cost comment), failed, events (data: lines) read, time
// to first byte p50/p99 (from the request written to the first byte of the
// reply) and the first failures.
// Usage: node streams_client.mjs PORT N [--rate 2000] [--gateway] [--timeout-s 60]
import net from "node:net";

const args = process.argv.slice(2);
const port = Number(args[0]);
const n = Number(args[1]);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i === -1 ? dflt : args[i + 1];
};
const rate = Number(opt("--rate", 2000));
const gateway = args.includes("--gateway");
const timeoutMs = Number(opt("--timeout-s", 60)) * 1000;

const system = "You are a concise assistant for an online travel agency. Answer in one or two " +
  "sentences, cite no sources, and never invent prices. If the user asks about bookings, " +
  "tell them to use the bookings page. Keep a friendly, plain tone.";
const body = JSON.stringify({
  model: "claude-haiku-4-5", max_tokens: 256, temperature: 0.2, stream: true,
  system,
  messages: [{ role: "user", content: "What is the capital of France? And is April a good month to visit it?" }],
});
const request = Buffer.from(`POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
  "Content-Type: application/json\r\nanthropic-version: 2023-06-01\r\nx-api-key: bench-key\r\n" +
  `Connection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);

const COST = /\n: tollgate cost_usd=\S+ [^\n]*\n\n/;
let opened = 0, firstBytes = 0, done = 0, completed = 0, failed = 0, events = 0;
const ttfb = [];
const failures = [];

function fail(why) {
  failed++;
  if (failures.length < 5) failures.push(why);
}

function one() {
  const s = net.connect({ port, host: "127.0.0.1" });
  let t0 = 0, first = false, tail = "", carry = "", head = "", status = 0, sawEnd = false, sawCost = false;
  s.setNoDelay(true);
  s.on("connect", () => {
    opened++;
    t0 = performance.now();
    s.write(request);
  });
  s.on("data", (buf) => {
    if (!first) {
      first = true;
      ttfb.push(performance.now() - t0);
      if (++firstBytes === n) console.log(`open ${n}`);
    }
    // only the last bytes are kept: a stream's memory here must not grow with its length
    let text = buf.toString("latin1");
    if (status === 0) {
      head += text;
      const e = head.indexOf("\r\n\r\n");
      if (e === -1) return;
      status = Number(head.slice(9, 12));
      text = head.slice(e + 4);
      head = "";
    }
    // a match needs 6 bytes, so none lies wholly in the 5 carried: each is counted once
    const scan = carry + text;
    for (let i = scan.indexOf("\ndata:"); i !== -1; i = scan.indexOf("\ndata:", i + 6)) events++;
    carry = scan.slice(-5);
    const win = (tail + text).slice(-400);
    if (win.includes("message_stop")) sawEnd = true;
    if (COST.test(win)) sawCost = true;
    tail = win;
  });
  s.on("error", (e) => fail(`socket: ${e.code || e.message}`));
  s.on("close", () => {
    done++;
    if (status === 200 && sawEnd && (!gateway || sawCost)) completed++;
    else if (failed < done - completed) fail(`status ${status}, end ${sawEnd}, cost comment ${sawCost}`);
    if (done === n) finish();
  });
  s.setTimeout(timeoutMs, () => s.destroy(new Error("timeout")));
}

function pct(a, p) {
  if (a.length === 0) return 0;
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

function finish() {
  console.log(JSON.stringify({
    streams: n, opened, completed, failed: n - completed, events,
    ttfb_p50_ms: Number(pct(ttfb, 50).toFixed(2)), ttfb_p99_ms: Number(pct(ttfb, 99).toFixed(2)),
    failures,
  }));
  process.exit(0);
}

// open at `rate` per second, in 10 ms steps
let started = 0;
const step = Math.max(1, Math.round(rate / 100));
const timer = setInterval(() => {
  for (let i = 0; i < step && started < n; i++, started++) one();
  if (started >= n) clearInterval(timer);
}, 10);
setTimeout(() => { console.error("streams_client: gave up"); finish(); }, timeoutMs + 30000).unref();
