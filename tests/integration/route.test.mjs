// Routes that act on what calls really cost (issue 13), end to end through the
// simulator: the `cost` strategy learns from the bills and settles on the
// cheapest model per request (Claude 3 Haiku), not the cheapest per token;
// shadow calls are rows of their own with shadow_of, never reach the client,
// and stop at the route's max_usd_per_day to the digit; checks give the same
// results streamed and not, native and translated.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { adminRequest, freePort, gatewayConfig, request, startGateway, startMock, tmpdir, waitFor } from './lib.mjs';
import { CLIENT_KEY, createDb, migrate, requirePg, rows, usdToPico } from './db.mjs';

const Q = 'What is the capital of France?';
const SHADOW_CAP = '0.002';
let gw, mock, db;

before(async () => {
  requirePg();
  db = await createDb('route');
  mock = await startMock({ seed: 13, args: ['--latency-ms', '0'] });
  const dir = tmpdir('tollgate-route-');
  const cfg = gatewayConfig({ port: await freePort(), mockPort: mock.port, stateDir: `${dir}/state`, workers: 2,
    extra: { keys: [{ name: 'route', sha256: createHash('sha256').update(CLIENT_KEY).digest('hex') }] } });
  cfg.routes = {
    auto: { strategy: 'cost', targets: ['claude-3-haiku', 'claude-haiku-4-5', 'gemini-2.5-flash'],
      cost: { window_calls: 50, min_samples: 5, explore: 0.05 },
      checks: [{ name: 'says_paris', contains: 'Paris' }] },
    shadowed: { strategy: 'fallback', targets: ['claude-3-haiku'],
      shadow: { models: ['gemini-2.5-flash'], sample: 1, max_usd_per_day: SHADOW_CAP } },
    checked: { strategy: 'fallback', targets: ['claude-haiku-4-5'],
      checks: [{ name: 'says_paris', contains: 'Paris' }, { name: 'starts', regex: '^Paris' },
        { name: 'is_json', json: true }, { name: 'brief', max_output_tokens: 64 }] },
  };
  cfg.database.conninfo = db.conninfo;
  migrate(cfg, dir);
  gw = await startGateway(cfg, { dir });
});

after(async () => {
  if (gw) await gw.stop('SIGKILL');
  if (mock) await mock.stop('SIGKILL');
  if (db) await db.drop();
});

function call(family, model, stream, clientId) {
  const h = { 'content-type': 'application/json', 'x-request-id': clientId };
  if (family === 'anthropic')
    return request(gw.port, 'POST', '/v1/messages', { headers: { ...h, 'x-api-key': CLIENT_KEY, 'anthropic-version': '2023-06-01' },
      body: { model, max_tokens: 64, stream, messages: [{ role: 'user', content: Q }] } });
  if (family === 'openai')
    return request(gw.port, 'POST', '/v1/chat/completions', { headers: { ...h, authorization: `Bearer ${CLIENT_KEY}` },
      body: { model, max_tokens: 64, stream, messages: [{ role: 'user', content: Q }] } });
  return request(gw.port, 'POST', stream ? `/v1beta/models/${model}:streamGenerateContent?alt=sse`
    : `/v1beta/models/${model}:generateContent`, { headers: { ...h, 'x-goog-api-key': CLIENT_KEY },
    body: { contents: [{ role: 'user', parts: [{ text: Q }] }], generationConfig: { maxOutputTokens: 64 } } });
}

const FAMILIES = ['anthropic', 'openai', 'gemini'];
const model = (r) => r.headers['x-tollgate-model'];

test('cost: after exploring, the route settles on the cheapest model per request, not per token', async () => {
  const got = [];
  for (let i = 0; i < 200; i++) {
    const r = await call(FAMILIES[i % 3], 'auto', i % 2 === 1, `r1-${i}`);
    assert.equal(r.status, 200, r.text);
    got.push(model(r));
  }
  // every target explored first (min_samples each), then the bills decide
  for (const m of ['claude-3-haiku', 'claude-haiku-4-5', 'gemini-2.5-flash'])
    assert.ok(got.slice(0, 30).filter((x) => x === m).length >= 5, `${m} explored: ${got.slice(0, 30)}`);
  const late = got.slice(100);
  const share = late.filter((x) => x === 'claude-3-haiku').length / late.length;
  assert.ok(share >= 0.9, `claude-3-haiku took ${(share * 100).toFixed(0)} % of the last 100 calls`);
  await waitFor('every call recorded', async () => Number((await rows(db.conninfo,
    "SELECT count(*) FROM requests WHERE client_request_id LIKE 'r1-%'"))[0][0]) === 200, 15000, 100);
  const reasons = Object.fromEntries(await rows(db.conninfo, `SELECT route_reason, count(*) FROM requests
    WHERE client_request_id LIKE 'r1-%' GROUP BY 1`));
  assert.ok(Number(reasons.explore) >= 15 && Number(reasons.cheapest) > 100, JSON.stringify(reasons));
  // the route's check ran on every call of it, streamed or not, native or translated
  const checks = await rows(db.conninfo, `SELECT checks_run, checks_passed, count(*) FROM requests
    WHERE client_request_id LIKE 'r1-%' GROUP BY 1, 2`);
  assert.deepEqual(checks, [['1', '1', '200']]);
  const text = (await adminRequest(gw, 'GET', '/metrics')).text;
  assert.match(text, /^tollgate_route_cost_usd_mean\{route="auto",model="claude-3-haiku"\} 0\.\d+$/m);
});

test('shadow calls: rows of their own with shadow_of, never the client\'s, and never past the day\'s cap', async () => {
  for (let i = 0; i < 80; i++) {
    const r = await call(FAMILIES[i % 3], 'shadowed', i % 2 === 1, `r2-${i}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(model(r), 'claude-3-haiku', 'the client gets its own model only');
    assert.equal(r.headers['x-tollgate-attempts'], '1', 'a shadow call is no attempt of the client\'s');
  }
  const clients = new Set((await rows(db.conninfo, `SELECT request_id FROM requests
    WHERE client_request_id LIKE 'r2-%'`)).map((x) => x[0]));
  await waitFor('the shadow calls recorded', async () => {
    const m = (await adminRequest(gw, 'GET', '/metrics')).text;
    const made = Number(m.match(/^tollgate_route_shadow_calls_total\{route="shadowed",model="gemini-2.5-flash",result="made"\} (\d+)$/m)[1]);
    const n = Number((await rows(db.conninfo, "SELECT count(*) FROM requests WHERE endpoint = 'shadow' AND route = 'shadowed'"))[0][0]);
    return made > 0 && n === made;
  }, 15000, 100);
  const shadows = await rows(db.conninfo, `SELECT shadow_of, model, key_name, cost_usd::text, outcome FROM requests
    WHERE endpoint = 'shadow' AND route = 'shadowed'`);
  for (const [of, m, key, , outcome] of shadows) {
    assert.ok(clients.has(of), `shadow_of ${of} is one of the route's client calls`);
    assert.equal(m, 'gemini-2.5-flash');
    assert.equal(key, '', 'never counted against a client key');
    assert.equal(outcome, 'ok');
  }
  const spent = shadows.reduce((a, r) => a + usdToPico(r[3]), 0n);
  assert.ok(spent <= usdToPico(SHADOW_CAP), `shadow spend ${spent} pico-USD within a ${SHADOW_CAP} USD day`);
  const dropped = Number((await adminRequest(gw, 'GET', '/metrics')).text
    .match(/^tollgate_route_shadow_calls_total\{route="shadowed",model="gemini-2.5-flash",result="dropped"\} (\d+)$/m)[1]);
  assert.ok(dropped > 0 && shadows.length > 0, `${shadows.length} made, ${dropped} dropped at the cap`);
  console.log(`# ${shadows.length} shadow calls made, ${dropped} dropped; ${spent} pico-USD of a ${SHADOW_CAP} USD day`);
});

test('checks give the same results streamed and not, native and translated', async () => {
  for (const [i, family] of FAMILIES.entries())
    for (const stream of [false, true])
      assert.equal((await call(family, 'checked', stream, `r3-${family}-${stream}-${i}`)).status, 200);
  await waitFor('the checked calls recorded', async () => Number((await rows(db.conninfo,
    "SELECT count(*) FROM requests WHERE client_request_id LIKE 'r3-%'"))[0][0]) === 6, 10000, 50);
  // "Paris, France.": contains and regex pass, it is not JSON, and it is brief
  const bits = await rows(db.conninfo, `SELECT checks_run, checks_passed, checks_unknown, count(*) FROM requests
    WHERE client_request_id LIKE 'r3-%' GROUP BY 1, 2, 3`);
  assert.deepEqual(bits, [['15', '11', '0', '6']]);
});
