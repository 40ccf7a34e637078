// Route fallback after a failed attempt (issue 11, defect 1): a route [A, B]
// whose first target fails in every way that leaves nothing at the client —
// 5xx, 429 with a Retry-After beyond the retry cap, no first byte, a reset
// connection, garbage (a stream whose first event does not parse included) —
// must answer with B, for B's price only, whatever the client's family, with
// B of A's family or of another, streamed or not; and every attempt is a row
// of `attempts` with its own outcome. A and B are two simulators, so a fault
// on A's never touches B.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { PRICES, freePort, gatewayConfig, request, startGateway, startMock, tmpdir, waitFor } from './lib.mjs';
import { CLIENT_KEY, createDb, migrate, requirePg, rows, usdToPico } from './db.mjs';

const Q = 'What is the capital of France?';
let gw, mockA, mockB, db;

before(async () => {
  requirePg();
  db = await createDb('fallback');
  mockA = await startMock({ seed: 11, args: ['--latency-ms', '0'] });
  mockB = await startMock({ seed: 12, args: ['--latency-ms', '0'] });
  const port = await freePort();
  const dir = tmpdir('tollgate-fallback-');
  const cfg = gatewayConfig({ port, mockPort: mockB.port, stateDir: `${dir}/state`, workers: 2,
    extra: { keys: [{ name: 'fb', sha256: createHash('sha256').update(CLIENT_KEY).digest('hex') }] } });
  const base = (m) => `http://127.0.0.1:${m.port}`;
  // A retries once, with a budget that always allows it, and never trips its breaker here:
  // these tests are about a failed attempt moving on, not about the breaker skipping A
  cfg.providers.pa = { kind: 'anthropic', base_url: base(mockA), api_key_env: 'TG_TEST_ANTHROPIC_KEY',
    connect_timeout_ms: 1000, first_byte_timeout_ms: 400, total_timeout_ms: 20000,
    retry: { max_attempts: 2, base_ms: 10, max_ms: 2000, budget_ratio: 1 },
    breaker: { window: 100, min_calls: 100, failure_rate: 1, consecutive_failures: 1000 } };
  cfg.models['a-claude'] = { provider: 'pa', upstream: 'claude-haiku-4-5', price_per_mtok: PRICES['claude-haiku-4-5'] };
  cfg.routes = { same: { strategy: 'fallback', targets: ['a-claude', 'claude-3-haiku'] },
    other: { strategy: 'fallback', targets: ['a-claude', 'gemini-2.5-flash'] } };
  cfg.database.conninfo = db.conninfo;
  migrate(cfg, dir);
  gw = await startGateway(cfg, { dir });
});

after(async () => {
  if (gw) await gw.stop('SIGKILL');
  for (const m of [mockA, mockB]) if (m) await m.stop('SIGKILL');
  if (db) await db.drop();
});

function call(family, route, stream, clientId) {
  const h = { 'content-type': 'application/json', 'x-request-id': clientId };
  if (family === 'anthropic')
    return request(gw.port, 'POST', '/v1/messages', {
      headers: { ...h, 'x-api-key': CLIENT_KEY, 'anthropic-version': '2023-06-01' },
      body: { model: route, max_tokens: 64, stream, messages: [{ role: 'user', content: Q }] } });
  if (family === 'openai')
    return request(gw.port, 'POST', '/v1/chat/completions', {
      headers: { ...h, authorization: `Bearer ${CLIENT_KEY}` },
      body: { model: route, stream, messages: [{ role: 'user', content: Q }] } });
  return request(gw.port, 'POST', stream ? `/v1beta/models/${route}:streamGenerateContent?alt=sse`
    : `/v1beta/models/${route}:generateContent`, {
    headers: { ...h, 'x-goog-api-key': CLIENT_KEY }, body: { contents: [{ role: 'user', parts: [{ text: Q }] }] } });
}

const B = { same: { model: 'claude-3-haiku', family: 'anthropic' }, other: { model: 'gemini-2.5-flash', family: 'gemini' } };

// What the client was told it cost: the header, or a stream's closing comment.
function costOf(r) {
  if (r.headers['x-tollgate-cost-usd'] !== undefined) return r.headers['x-tollgate-cost-usd'];
  const m = r.text.match(/\n: tollgate cost_usd=(\S+) /);
  assert.ok(m, `a stream ends with the cost comment:\n${r.text.slice(-200)}`);
  return m[1];
}

// What A's attempts must look like for each failure (A retries only what it did not process).
// A 429 also throttles A for its Retry-After, so it comes last, and the calls that find A
// throttled skip it (one attempt, B's).
const FAILURES = [
  { fault: '500', attempts: 2, outcome: 'upstream_error', costUnknown: false },
  { fault: 'timeout', attempts: 2, outcome: 'timeout', costUnknown: true },
  { fault: 'reset', attempts: 1, outcome: 'upstream_error', costUnknown: true },
  { fault: 'garbage', attempts: 1, outcome: 'upstream_error', costUnknown: true },
  { fault: '429', retryAfter: 5, attempts: 1, outcome: 'rate_limited', costUnknown: false, throttles: true },
];

for (const f of FAILURES) {
  test(`A fails with ${f.fault}: B answers every client family, same and other family, streamed and not`, async () => {
    const r0 = await request(mockA.port, 'POST', '/__mock/faults',
      { body: { fault: f.fault, provider: 'anthropic', rate: 1, ...(f.retryAfter ? { retry_after: f.retryAfter } : {}) } });
    assert.equal(r0.status, 200, r0.text);
    const cases = [];
    for (const family of ['anthropic', 'openai', 'gemini'])
      for (const route of ['same', 'other'])
        for (const stream of [false, true])
          cases.push({ family, route, stream, id: `fb-${f.fault}-${family}-${route}-${stream ? 's' : 'j'}` });
    const replies = await Promise.all(cases.map((c) => call(c.family, c.route, c.stream, c.id)));
    await request(mockA.port, 'POST', '/__mock/faults', { body: { fault: 'none', provider: 'all' } });

    for (const [i, c] of cases.entries()) {
      const r = replies[i];
      assert.equal(r.status, 200, `${c.id}: ${r.text.slice(0, 300)}`);
      assert.equal(r.headers['x-tollgate-model'], B[c.route].model, c.id);
      c.attempts = Number(r.headers['x-tollgate-attempts']) - 1;    // A's
      if (!f.throttles || c.attempts !== 0) assert.equal(c.attempts, f.attempts, c.id);
      if (c.stream) assert.doesNotMatch(r.text, /"error"/, `${c.id}: a stream that fell back carries no error`);
    }
    assert.ok(cases.some((c) => c.attempts > 0), 'some calls reached A');
    // the ledger: B's price only, and each attempt with its own outcome
    await waitFor('every call recorded', async () => (await rows(db.conninfo,
      `SELECT count(*) FROM requests WHERE client_request_id LIKE 'fb-${f.fault}-%'`))[0][0] === String(cases.length), 15000, 100);
    for (const [i, c] of cases.entries()) {
      const [[model, cost, n]] = await rows(db.conninfo, `SELECT model, cost_usd::text, attempts FROM requests
        WHERE client_request_id = '${c.id}'`);
      assert.equal(model, B[c.route].model, c.id);
      assert.equal(Number(n), c.attempts + 1, c.id);
      assert.equal(usdToPico(cost), usdToPico(costOf(replies[i])), `${c.id}: the client is billed for B only`);
      const att = await rows(db.conninfo, `SELECT a.n, a.model, a.outcome, a.cost_usd IS NULL FROM attempts a
        JOIN requests r USING (request_id) WHERE r.client_request_id = '${c.id}' ORDER BY a.n`);
      assert.equal(att.length, c.attempts + 1, `${c.id}: ${JSON.stringify(att)}`);
      for (const a of att.slice(0, -1)) {
        assert.equal(a[1], 'a-claude', c.id);
        assert.equal(a[2], f.outcome, `${c.id}: attempt ${a[0]}`);
        assert.equal(a[3], f.costUnknown ? 't' : 'f', `${c.id}: attempt ${a[0]} cost known?`);
      }
      assert.deepEqual(att.at(-1).slice(1, 3), [B[c.route].model, 'ok'], c.id);
    }
  });
}
