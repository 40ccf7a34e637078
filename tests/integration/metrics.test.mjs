// GET /metrics (SPEC 9) after real calls through the gateway: request counts by
// model and outcome, token and cost counters that add up exactly to what the
// clients were told (x-tollgate-cost-usd, or the closing SSE comment), histogram
// counts, and a scrape that Prometheus' own `promtool check metrics` accepts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { freePort, gatewayConfig, request, startGateway, startMock, tmpdir } from './lib.mjs';
import { normalise } from './money.mjs';

const Q = 'What is the capital of France?';
let gw, mock;

before(async () => {
  mock = await startMock({ seed: 11 });
  const port = await freePort();
  // no keys: loopback accepts any caller (SPEC 4)
  gw = await startGateway(gatewayConfig({ port, mockPort: mock.port, stateDir: tmpdir('tollgate-state-'), workers: 2 }));
});

after(async () => {
  if (gw) await gw.stop('SIGKILL');
  if (mock) await mock.stop('SIGKILL');
});

// Exact decimal USD ↔ pico-USD BigInt, never through a float.
function pico(usd) {
  assert.match(usd, /^\d+(\.\d{1,12})?$/, `not an exact decimal: ${usd}`);
  const [whole, frac = ''] = usd.split('.');
  return BigInt(whole) * 10n ** 12n + BigInt(frac.padEnd(12, '0'));
}

function call(family, model, stream) {
  const json = { 'content-type': 'application/json' };
  if (family === 'anthropic')
    return request(gw.port, 'POST', '/v1/messages', {
      headers: { ...json, 'anthropic-version': '2023-06-01' },
      body: { model, max_tokens: 64, messages: [{ role: 'user', content: Q }], ...(stream ? { stream: true } : {}) } });
  if (family === 'openai')
    return request(gw.port, 'POST', '/v1/chat/completions', {
      headers: json, body: { model, messages: [{ role: 'user', content: Q }], ...(stream ? { stream: true } : {}) } });
  const p = stream ? `/v1beta/models/${model}:streamGenerateContent?alt=sse` : `/v1beta/models/${model}:generateContent`;
  return request(gw.port, 'POST', p, { headers: json, body: { contents: [{ role: 'user', parts: [{ text: Q }] }] } });
}

// What the client was told: cost and tokens, from the headers and body or from the stream's closing comment.
function charged(family, r, stream) {
  assert.equal(r.status, 200, r.text);
  if (stream) {
    const m = r.text.match(/\n: tollgate cost_usd=(\S+) input_tokens=(\d+) output_tokens=(\d+) reasoning_tokens=(\d+)\n\n$/);
    assert.ok(m, `stream must end with the tollgate comment:\n${r.text.slice(-300)}`);
    return { cost: pico(m[1]), input: BigInt(m[2]), output: BigInt(m[3]), reasoning: BigInt(m[4]) };
  }
  const usd = r.headers['x-tollgate-cost-usd'];
  assert.ok(usd, 'a non-streamed 200 carries x-tollgate-cost-usd');
  const t = normalise(family, family === 'gemini' ? r.json.usageMetadata : r.json.usage);
  return { cost: pico(usd), input: BigInt(t.input), output: BigInt(t.output), reasoning: BigInt(t.reasoning) };
}

// Prometheus text → Map of `name{labels}` (labels as printed) → value string.
function parse(text) {
  const samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/);
    assert.ok(m, `malformed sample line: ${line}`);
    assert.ok(!samples.has(m[1]), `duplicate series: ${m[1]}`);
    samples.set(m[1], m[2]);
  }
  return samples;
}

function sample(samples, key) {
  assert.ok(samples.has(key), `missing series ${key}`);
  return samples.get(key);
}

async function scrape() {
  const r = await request(gw.admin, 'GET', '/metrics');
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  return r.text;
}

const PLAN = [
  ['anthropic', 'claude-haiku-4-5', 'anthropic', [false, true, false]],
  ['anthropic', 'claude-3-haiku', 'anthropic', [true]],
  ['openai', 'gpt-4o-mini', 'openai', [false, true]],
  ['gemini', 'gemini-2.5-flash', 'gemini', [false, true, true]],
];

test('counters add up to the calls made and to the exact cost the clients were told', async () => {
  const before = parse(await scrape());
  const base = (k) => BigInt(before.get(k) ?? '0');
  const durBase = base('tollgate_request_duration_seconds_count');
  const ttfbBase = base('tollgate_upstream_ttfb_seconds_count');

  const want = new Map();
  let calls = 0n;
  for (const [family, model, provider, streams] of PLAN) {
    const w = { provider, n: 0n, cost: 0n, input: 0n, output: 0n, reasoning: 0n };
    for (const stream of streams) {
      const c = charged(family, await call(family, model, stream), stream);
      w.n += 1n; w.cost += c.cost; w.input += c.input; w.output += c.output; w.reasoning += c.reasoning;
      calls += 1n;
    }
    want.set(model, w);
  }

  // each worker counts before it answers, so the scrape (any worker) already sees every call
  const s = parse(await scrape());
  for (const [model, w] of want) {
    const lbl = `provider="${w.provider}",model="${model}"`;
    const got = BigInt(sample(s, `tollgate_requests_total{${lbl},outcome="ok"}`)) - base(`tollgate_requests_total{${lbl},outcome="ok"}`);
    assert.equal(got, w.n, `${model}: requests ok`);
    for (const kind of ['input', 'output', 'reasoning']) {
      const key = `tollgate_tokens_total{${lbl},kind="${kind}"}`;
      assert.equal(BigInt(sample(s, key)) - base(key), w[kind], `${model}: ${kind} tokens`);
    }
    assert.ok(w.input > 0n && w.output > 0n, `${model}: the simulator reports usage`);
    const costKey = `tollgate_cost_usd_total{${lbl}}`;
    const cost = pico(sample(s, costKey)) - pico(before.get(costKey) ?? '0');
    assert.equal(cost, w.cost, `${model}: cost counter equals the sum of what clients were charged`);
    assert.ok(cost > 0n, `${model}: cost is non-zero`);
  }
  assert.equal(BigInt(sample(s, 'tollgate_request_duration_seconds_count')) - durBase, calls, 'duration histogram count');
  assert.equal(BigInt(sample(s, 'tollgate_upstream_ttfb_seconds_count')) - ttfbBase, calls, 'ttfb histogram count');
  for (const h of ['tollgate_request_duration_seconds', 'tollgate_upstream_ttfb_seconds']) {
    assert.equal(sample(s, `${h}_bucket{le="+Inf"}`), sample(s, `${h}_count`), `${h}: +Inf bucket = count`);
    let prev = 0n;
    for (const [k, v] of s) {
      if (!k.startsWith(`${h}_bucket{`)) continue;
      assert.ok(BigInt(v) >= prev, `${h}: buckets are cumulative (${k})`);
      prev = BigInt(v);
    }
    assert.ok(Number(sample(s, `${h}_sum`)) > 0, `${h}: sum`);
  }
  for (const p of ['anthropic', 'gemini', 'openai'])
    assert.equal(sample(s, `tollgate_breaker_state{provider="${p}"}`), '0', `${p}: breaker closed`);
  for (const g of ['tollgate_log_ring_used', 'tollgate_log_ring_overflow_total', 'tollgate_log_rows_written_total',
    'tollgate_log_spooled_rows', 'tollgate_ratelimited_total{scope="key"}', 'tollgate_ratelimited_total{scope="provider"}'])
    assert.match(sample(s, g), /^\d+$/, g);
});

test('a refused call is timed but never counted as ok or charged', async () => {
  const before = parse(await scrape());
  const r = await request(gw.port, 'POST', '/v1/messages', {
    headers: { 'content-type': 'application/json' },
    body: { model: 'claude-haiku-4-5', messages: [{ role: 'user', content: Q }] } });   // no max_tokens
  assert.equal(r.status, 400, r.text);
  const s = parse(await scrape());
  const d = (k) => BigInt(sample(s, k)) - BigInt(before.get(k) ?? '0');
  assert.equal(d('tollgate_request_duration_seconds_count'), 1n);
  assert.equal(d('tollgate_requests_total{provider="anthropic",model="claude-haiku-4-5",outcome="ok"}'), 0n);
  assert.equal(pico(sample(s, 'tollgate_cost_usd_total{provider="anthropic",model="claude-haiku-4-5"}')),
    pico(before.get('tollgate_cost_usd_total{provider="anthropic",model="claude-haiku-4-5"}')));
});

test('promtool check metrics accepts the scrape', async () => {
  const which = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  assert.ok(!which.error, 'promtool is not installed: it comes with the Debian package "prometheus" ' +
    '(apt-get install --no-install-recommends prometheus; tests/deps.sh should install it)');
  const text = await scrape();
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(r.status, 0, `promtool check metrics failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
});
