// Resilience (issue 6) against two simulators: transient failures retried
// once, nothing retried after the first streamed byte, a failing provider's
// breaker opening and failing fast while a route falls back, HALF_OPEN probes
// closing it again, a provider 429 throttling for exactly its Retry-After, a
// quota refusal disabling until an admin reset, and client keys rate-limited.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { PRICES, freePort, gatewayConfig, providerUrl, request, startGateway, startMock, tmpdir, waitFor } from './lib.mjs';

const KEY = 'resilience-client-key';
const LIMITED = 'resilience-limited-key';
const ADMIN = 'resilience-admin-key';
const sha = (s) => createHash('sha256').update(s).digest('hex');
let gw, mockA, mockB, cfg;

before(async () => {
  mockA = await startMock({ seed: 11 });
  mockB = await startMock({ seed: 12 });
  const port = await freePort();
  cfg = gatewayConfig({ port, mockPort: mockA.port, stateDir: tmpdir('tollgate-state-'), workers: 2,
    extra: {
      admin: { key_sha256: sha(ADMIN) },
      keys: [{ name: 'app', sha256: sha(KEY) }, { name: 'limited', sha256: sha(LIMITED), rpm: 5 }],
    } });
  const breaker = { window: 10, min_calls: 5, failure_rate: 0.5, consecutive_failures: 3,
    slow_first_byte_ms: 5000, open_ms: 1500, half_open_probes: 2 };
  const retry = { max_attempts: 2, base_ms: 10, max_ms: 2000, budget_ratio: 0.5 };
  Object.assign(cfg.providers.anthropic, { breaker, retry });
  Object.assign(cfg.providers.openai, { breaker, retry });
  cfg.providers['anthropic-b'] = { ...cfg.providers.anthropic, base_url: providerUrl(mockB.port) };
  cfg.models['claude-b'] = { provider: 'anthropic-b', upstream: 'claude-haiku-4-5', price_per_mtok: PRICES['claude-haiku-4-5'] };
  cfg.routes['claude-any'] = { strategy: 'fallback', targets: ['claude-haiku-4-5', 'claude-b'] };
  gw = await startGateway(cfg);
});

after(async () => {
  for (const p of [gw, mockA, mockB]) if (p) await p.stop('SIGKILL');
});

function claude(model = 'claude-haiku-4-5', { stream = false, key = KEY } = {}) {
  return request(gw.port, 'POST', '/v1/messages', {
    headers: { 'content-type': 'application/json', 'x-api-key': key, 'anthropic-version': '2023-06-01' },
    body: { model, max_tokens: 32, stream, messages: [{ role: 'user', content: 'What is the capital of France?' }] } });
}

function openai(key = KEY) {
  return request(gw.port, 'POST', '/v1/chat/completions', {
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'What is the capital of France?' }] } });
}

async function fault(mock, body) {
  const r = await request(mock.port, 'POST', '/__mock/faults', { body: { rate: 1, ...body } });
  assert.equal(r.status, 200, r.text);
}

async function calls(mock, family) {
  return (await request(mock.port, 'GET', '/__mock/stats')).json[family].calls;
}

async function breaker(provider) {
  const r = await request(gw.admin, 'GET', '/admin/breakers', { headers: { authorization: `Bearer ${ADMIN}` } });
  assert.equal(r.status, 200, r.text);
  return r.json.breakers.find((b) => b.provider === provider);
}

test('a single transient 503 is retried: the client gets 200 with x-tollgate-attempts 2', async () => {
  await fault(mockA, { fault: '503', provider: 'anthropic', count: 1 });
  const before = await calls(mockA, 'anthropic');
  const r = await claude();
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers['x-tollgate-attempts'], '2');
  assert.equal(await calls(mockA, 'anthropic'), before + 2);
});

test('a reset after the first streamed byte is not retried', async () => {
  await fault(mockA, { fault: 'reset-midstream', provider: 'anthropic', count: 1 });
  const before = await calls(mockA, 'anthropic');
  const r = await claude('claude-haiku-4-5', { stream: true });
  assert.equal(r.status, 200);
  assert.match(r.text, /\n: tollgate cost_usd=/);
  assert.equal(await calls(mockA, 'anthropic'), before + 1, 'exactly one upstream call');
});

test('a provider failing every call: breaker opens, calls fail fast, the route falls back; then it heals', async () => {
  await fault(mockA, { fault: '503', provider: 'anthropic' });
  await waitFor('the anthropic breaker to open', async () => {
    await claude();
    return (await breaker('anthropic')).state === 'open';
  }, 10000, 0);
  assert.ok(gw.logged(/breaker closed -> open provider=anthropic reason=(consecutive_failures|failure_rate)/));

  const before = await calls(mockA, 'anthropic');
  const times = [];
  for (let i = 0; i < 40; i++) {
    const t0 = process.hrtime.bigint();
    const r = await claude();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    assert.equal(r.status, 503, r.text);
    assert.ok(Number(r.headers['retry-after']) >= 1);
  }
  times.sort((a, b) => a - b);
  const p99 = times[Math.floor(times.length * 0.99) - 1];
  assert.equal(await calls(mockA, 'anthropic'), before, 'an open breaker sends nothing upstream');

  // failing fast means answering without the provider's wait: a tenth of a served call's time
  // (a ratio, not a wall-clock bound: sanitizer builds on a shared machine are slow)
  const t0 = process.hrtime.bigint();
  const viaRoute = await claude('claude-any');
  const served = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.equal(viaRoute.status, 200, viaRoute.text);
  assert.equal(viaRoute.headers['x-tollgate-model'], 'claude-b');
  assert.ok(p99 < served / 10, `fail-fast p99 ${p99.toFixed(2)} ms, a served call ${served.toFixed(1)} ms`);

  await fault(mockA, { fault: 'none', provider: 'anthropic' });
  await waitFor('HALF_OPEN then CLOSED', async () => {
    const r = await claude();
    return r.status === 200 && (await breaker('anthropic')).state === 'closed';
  }, 6000, 50);
  assert.ok(gw.logged(/breaker open -> half_open provider=anthropic/));
  assert.ok(gw.logged(/breaker half_open -> closed provider=anthropic/));
});

test('a 429 with Retry-After: 3 makes the provider fail fast for 3 s, breaker still closed', async () => {
  await fault(mockA, { fault: '429', provider: 'openai', count: 1, retry_after: 3 });
  const t0 = Date.now();
  const first = await openai();
  assert.equal(first.status, 429, first.text);
  assert.equal(first.headers['retry-after'], '3');
  const before = await calls(mockA, 'openai');
  const during = await openai();
  assert.equal(during.status, 503, during.text);
  assert.ok(Number(during.headers['retry-after']) >= 1 && Number(during.headers['retry-after']) <= 3);
  assert.equal(await calls(mockA, 'openai'), before, 'a throttled provider is not called');
  const b = await breaker('openai');
  assert.equal(b.state, 'closed');
  assert.ok(b.throttled_for_ms > 0);
  await waitFor('the provider to serve again', async () => (await openai()).status === 200, 5000, 100);
  assert.ok(Date.now() - t0 >= 2900, `served again after ${Date.now() - t0} ms, before the 3 s`);
});

test('an insufficient_quota 429 disables the provider until an admin reset', async () => {
  await fault(mockA, { fault: 'quota', provider: 'openai', count: 1 });
  const r = await openai();
  assert.equal(r.status, 503, r.text);
  assert.match(r.json.error.message, /disabled/);
  assert.equal((await breaker('openai')).disabled, 'quota');
  assert.match((await request(gw.admin, 'GET', '/metrics')).text, /^tollgate_provider_disabled\{provider="openai"\} 1$/m);
  assert.equal((await openai()).status, 503, 'still disabled');

  const noKey = await request(gw.admin, 'POST', '/admin/breakers/openai/reset');
  assert.equal(noKey.status, 401);
  const reset = await request(gw.admin, 'POST', '/admin/breakers/openai/reset', { headers: { authorization: `Bearer ${ADMIN}` } });
  assert.equal(reset.status, 200, reset.text);
  assert.equal(reset.json.disabled, null);
  assert.match((await request(gw.admin, 'GET', '/metrics')).text, /^tollgate_provider_disabled\{provider="openai"\} 0$/m);
  assert.equal((await openai()).status, 200);
});

test('a client key over its RPM gets 429 with Retry-After and x-ratelimit headers', async () => {
  const seen = [];
  for (let i = 0; i < 6; i++) seen.push(await openai(LIMITED));
  for (const r of seen.slice(0, 5)) assert.equal(r.status, 200, r.text);
  const last = seen[5];
  assert.equal(last.status, 429, last.text);
  assert.ok(Number(last.headers['retry-after']) >= 1);
  assert.equal(last.headers['x-ratelimit-limit-requests'], '5');
  assert.equal(last.headers['x-ratelimit-remaining-requests'], '0');
  assert.match(last.headers['x-ratelimit-reset-requests'], /^\d+ms$/);
  assert.equal(seen[0].headers['x-ratelimit-remaining-requests'], '4');
});

test('a reload keeps the state of providers and keys that still exist', async () => {
  // a limited key at its RPM and an open breaker, then a reload that changes other things
  await fault(mockA, { fault: '503', provider: 'anthropic' });
  await waitFor('the anthropic breaker to open', async () => {
    await claude();
    return (await breaker('anthropic')).state === 'open';
  }, 10000, 0);
  for (let i = 0; i < 6; i++) await openai(LIMITED);
  assert.equal((await openai(LIMITED)).status, 429);

  const gen = 2 + gw.lines.filter((l) => /reloaded generation=/.test(l)).length;
  cfg.models['reloaded-model'] = { provider: 'openai', upstream: 'gpt-4o-mini', price_per_mtok: PRICES['gpt-4o-mini'] };
  writeFileSync(gw.cfgPath, JSON.stringify(cfg));
  gw.signal('SIGHUP');
  await gw.waitLog(new RegExp(`reloaded generation=${gen} `), 10000);
  const models = await request(gw.port, 'GET', '/v1/models');
  assert.ok(models.json.data.some((m) => m.id === 'reloaded-model'), 'the new config serves');

  assert.equal((await breaker('anthropic')).state, 'open', 'the breaker stayed open across the reload');
  const r = await claude();
  assert.equal(r.status, 503, 'and still fails fast');
  assert.equal((await openai(LIMITED)).status, 429, 'the key\'s bucket stayed spent across the reload');
  await fault(mockA, { fault: 'none', provider: 'anthropic' });
});
