// The proxy core (issue 4) against the simulator: each family in and out,
// streamed and not, exact cost headers, every bad-input refusal before any
// provider call, and upstream failures mapped to 502/504 or passed through.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { PRICES, freePort, gatewayConfig, request, startGateway, startMock, tmpdir } from './lib.mjs';
import { costUsd, normalise } from './money.mjs';

const KEY = 'tg-test-client-key';
const Q = 'What is the capital of France?';
let gw, mock;

before(async () => {
  mock = await startMock({ seed: 7 });
  const port = await freePort();
  const cfg = gatewayConfig({ port, mockPort: mock.port, stateDir: tmpdir('tollgate-state-'), workers: 2,
    extra: { max_body_bytes: 65536,
      keys: [{ name: 'app-1', sha256: createHash('sha256').update(KEY).digest('hex') }] } });
  cfg.providers.gemini.first_byte_timeout_ms = 1500;
  cfg.providers.gemini.retry = { max_attempts: 1 };
  cfg.models.ghost = { provider: 'anthropic', upstream: 'claude-ghost-1', price_per_mtok: { input: '1', output: '1' } };
  gw = await startGateway(cfg);
});

after(async () => {
  if (gw) await gw.stop('SIGKILL');
  if (mock) await mock.stop('SIGKILL');
});

const bodies = {
  anthropic: (model, extra = {}) => ({ model, max_tokens: 64, messages: [{ role: 'user', content: Q }], ...extra }),
  openai: (model, extra = {}) => ({ model, messages: [{ role: 'user', content: Q }], ...extra }),
  gemini: (extra = {}) => ({ contents: [{ role: 'user', parts: [{ text: Q }] }], ...extra }),
};

function call(family, { model, stream = false, body, headers = {} } = {}) {
  if (family === 'anthropic')
    return request(gw.port, 'POST', '/v1/messages', {
      headers: { 'content-type': 'application/json', 'x-api-key': KEY, 'anthropic-version': '2023-06-01', ...headers },
      body: body ?? bodies.anthropic(model ?? 'claude-haiku-4-5', stream ? { stream: true } : {}) });
  if (family === 'openai')
    return request(gw.port, 'POST', '/v1/chat/completions', {
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}`, ...headers },
      body: body ?? bodies.openai(model ?? 'gpt-4o-mini', stream ? { stream: true } : {}) });
  const m = model ?? 'gemini-2.5-flash';
  const p = stream ? `/v1beta/models/${m}:streamGenerateContent?alt=sse` : `/v1beta/models/${m}:generateContent`;
  return request(gw.port, 'POST', p, {
    headers: { 'content-type': 'application/json', 'x-goog-api-key': KEY, ...headers }, body: body ?? bodies.gemini() });
}

async function mockFault(fault, provider, count = 1) {
  const r = await request(mock.port, 'POST', '/__mock/faults', { body: { fault, rate: 1, provider, count } });
  assert.equal(r.status, 200, r.text);
}

async function mockCalls() {
  return (await request(mock.port, 'GET', '/__mock/stats')).json;
}

function sseData(text) {
  return text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
}

function closingComment(text) {
  const m = text.match(/\n: tollgate cost_usd=(\S+) input_tokens=(\d+) output_tokens=(\d+) reasoning_tokens=(\d+)\n\n$/);
  assert.ok(m, `stream should end with the tollgate comment and a blank line:\n${text.slice(-300)}`);
  return { cost: m[1], input: +m[2], output: +m[3], reasoning: +m[4] };
}

const MODELS = { anthropic: 'claude-haiku-4-5', openai: 'gpt-4o-mini', gemini: 'gemini-2.5-flash' };

for (const family of ['anthropic', 'openai', 'gemini']) {
  test(`${family}: non-streamed call passes through with an exact x-tollgate-cost-usd`, async () => {
    const r = await call(family);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['x-tollgate-model'], MODELS[family]);
    assert.equal(r.headers['x-tollgate-attempts'], '1');
    assert.match(r.headers['x-request-id'], /^[0-9a-f-]{36}$/);
    if (family === 'anthropic') assert.equal(r.headers['request-id'], r.headers['x-request-id']);
    const usage = family === 'gemini' ? r.json.usageMetadata : r.json.usage;
    const want = costUsd(PRICES[MODELS[family]], normalise(family, usage));
    assert.equal(r.headers['x-tollgate-cost-usd'], want);
    assert.notEqual(want, '0');
  });

  test(`${family}: streamed call is relayed and closed by the cost comment`, async () => {
    const r = await call(family, { stream: true });
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers['content-type'], /text\/event-stream/);
    const data = sseData(r.text);
    let usage;
    for (const d of data) {
      if (d === '[DONE]') continue;
      const j = JSON.parse(d);
      if (family === 'anthropic' && j.type === 'message_start') usage = { ...j.message.usage };
      if (family === 'anthropic' && j.type === 'message_delta') usage = { ...usage, ...j.usage };
      if (family === 'gemini' && j.usageMetadata) usage = j.usageMetadata;
      if (family === 'openai' && j.usage) usage = j.usage;
    }
    const c = closingComment(r.text);
    if (family === 'openai') {
      // the client did not ask for include_usage: the gateway asked upstream and dropped the chunk
      assert.equal(usage, undefined, 'usage chunk must be removed when the client did not ask');
      assert.ok(data.includes('[DONE]'));
      assert.ok(c.input > 0 && c.output > 0);
      return;
    }
    const t = normalise(family, usage);
    assert.deepEqual([c.input, c.output, c.reasoning], [t.input, t.output, t.reasoning]);
    assert.equal(c.cost, costUsd(PRICES[MODELS[family]], t));
  });
}

test('openai: a stream that asks for include_usage keeps its usage chunk and the cost matches', async () => {
  const r = await call('openai', { body: bodies.openai('gpt-4o-mini', { stream: true, stream_options: { include_usage: true } }) });
  const chunks = sseData(r.text).filter((d) => d !== '[DONE]').map((d) => JSON.parse(d));
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, []);
  const c = closingComment(r.text);
  const t = normalise('openai', last.usage);
  assert.equal(c.cost, costUsd(PRICES['gpt-4o-mini'], t));
});

test('a route name reaches its first same-family target', async () => {
  const r = await call('anthropic', { model: 'cheap' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers['x-tollgate-model'], 'claude-haiku-4-5');
});

test('GET /v1/models lists models and routes', async () => {
  const r = await request(gw.port, 'GET', '/v1/models');
  assert.equal(r.status, 200);
  const ids = r.json.data.map((m) => m.id);
  for (const id of ['claude-3-haiku', 'claude-haiku-4-5', 'gemini-2.5-flash', 'gpt-4o-mini', 'cheap'])
    assert.ok(ids.includes(id), id);
});

test('bad input is refused before any provider call, naming the problem in the family format', async () => {
  const before = await mockCalls();
  const cases = [
    ['openai', { body: '{"model": "gpt-4o-mini", "messages": [' }, 400, /invalid JSON/],
    ['openai', { body: { messages: [{ role: 'user', content: 'x' }] } }, 400, /model/],
    ['openai', { body: { model: 'gpt-4o-mini', messages: 'hello' } }, 400, /messages: expected an array/],
    ['anthropic', { body: { model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'x' }] } }, 400, /max_tokens/],
    ['anthropic', { body: { model: 42, max_tokens: 5, messages: [] } }, 400, /model: expected a string/],
    ['openai', { model: 'no-such-model' }, 404, /no model or route named no-such-model/],
    ['openai', { body: { model: 'claude-haiku-4-5', n: 2, messages: [{ role: 'user', content: 'x' }] } }, 400, /n > 1 is not supported when translating to anthropic/],
    ['openai', { body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x'.repeat(70000) }] } }, 413, /over the limit/],
    ['openai', { body: `{"model":"gpt-4o-mini","messages":[${'['.repeat(100)}${']'.repeat(100)}]}` }, 400, /nesting deeper/],
    ['openai', { headers: { authorization: 'Bearer wrong' } }, 401, /invalid API key/],
    ['gemini', { headers: { 'x-goog-api-key': 'wrong' } }, 401, /invalid API key/],
    ['openai', { headers: { 'x-request-id': 'x'.repeat(256) } }, 400, /x-request-id/],
  ];
  for (const [family, opts, status, re] of cases) {
    const r = await call(family, opts);
    assert.equal(r.status, status, `${re}: ${r.text}`);
    const msg = family === 'anthropic' ? r.json.error.message : r.json.error.message;
    assert.match(msg, re);
    if (family === 'anthropic') assert.equal(r.json.type, 'error');
    if (family === 'gemini') assert.equal(typeof r.json.error.status, 'string');
    if (family === 'openai') assert.equal(typeof r.json.error.type, 'string');
  }
  assert.deepEqual(await mockCalls(), before, 'no refused call may reach the provider');
});

test('admin endpoints are refused with 403 when no admin key is configured', async () => {
  const r = await request(gw.admin, 'GET', '/admin/breakers', { headers: { authorization: 'Bearer anything' } });
  assert.equal(r.status, 403);
  assert.match(r.json.error.message, /no admin key is configured/);
});

test('a client request id is echoed and never replaces the gateway id', async () => {
  const r = await call('openai', { headers: { 'x-request-id': 'client-abc-123' } });
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-client-request-id'], 'client-abc-123');
  assert.notEqual(r.headers['x-request-id'], 'client-abc-123');
});

test('provider errors: 4xx and a 5xx after the last retry are passed through; garbage 502; no first byte 504', async () => {
  // a model id the provider does not know: its own 404 comes back unchanged
  let r = await call('anthropic', { model: 'ghost' });
  assert.equal(r.status, 404, r.text);
  assert.equal(r.json.type, 'error');
  assert.equal(r.json.error.type, 'not_found_error');

  await mockFault('500', 'anthropic', 2);
  r = await call('anthropic');
  assert.equal(r.status, 500, r.text);
  assert.equal(r.json.type, 'error');
  assert.equal(r.json.error.type, 'api_error', 'the provider\'s own error body');
  assert.equal(r.headers['x-tollgate-attempts'], '2', 'a 500 is retried once (max_attempts 2)');

  await mockFault('garbage', 'openai');
  r = await call('openai');
  assert.equal(r.status, 502, r.text);
  assert.match(r.json.error.message, /garbage/);

  await mockFault('timeout', 'gemini');
  const t0 = Date.now();
  r = await call('gemini');
  assert.equal(r.status, 504, r.text);
  assert.equal(r.json.error.status, 'DEADLINE_EXCEEDED');
  assert.ok(Date.now() - t0 < 4000, 'first_byte_timeout_ms must cut the wait');
});

test('a stream cut by the provider ends with the family\'s error event and the usage seen so far', async () => {
  await mockFault('reset-midstream', 'anthropic');
  let r = await call('anthropic', { stream: true });
  assert.equal(r.status, 200);
  assert.match(r.text, /event: error\ndata: \{"type":"error","error":\{"type":"api_error","message":"stream ended early/);
  assert.doesNotMatch(r.text, /message_stop/);
  const c = closingComment(r.text);
  assert.ok(c.input > 0, 'input tokens from message_start are kept');

  await mockFault('reset-midstream', 'openai');
  r = await call('openai', { stream: true });
  assert.match(r.text, /data: \{"error":\{"message":"stream ended early/);
  assert.doesNotMatch(r.text, /\[DONE\]/);
});

test('the client going away cancels the upstream call', async () => {
  await mockFault('slow', 'openai');
  await new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: gw.port, method: 'POST', path: '/v1/chat/completions',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` }, agent: false });
    req.on('error', () => resolve());
    req.on('response', (res) => { res.destroy(); resolve(); });
    req.end(JSON.stringify(bodies.openai('gpt-4o-mini', { stream: true })));
    setTimeout(() => { req.destroy(); resolve(); }, 300);
  });
  const r = await call('openai');
  assert.equal(r.status, 200, 'the worker keeps serving after a client disconnect');
});
