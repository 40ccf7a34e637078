// POST /v1/responses through the gateway (issue 17), metered like any call:
// to each provider family, streamed and not, the cost the client is told
// (x-tollgate-cost-usd, or the stream's closing comment) is a BigInt
// computation from what the provider said, to the digit — from the
// Responses usage in its own bytes when it is OpenAI, from the simulator's
// count of what it billed when the call was translated — and the usage the
// client reads is that same usage. Routes, key limits and refusals behave as
// on every endpoint, and each call is a row of its own in `requests`.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { PG, PRICES, freePort, gatewayConfig, request, startGateway, startMock, tmpdir, waitFor } from './lib.mjs';
import { costUsd } from './money.mjs';
import { createDb, migrate, rows, usdToPico } from './db.mjs';

const KEY = 'tg-responses-client-key';
const TINY = 'tg-responses-tiny-key';
const Q = 'What is the capital of France?';
const MODELS = { anthropic: 'claude-haiku-4-5', gemini: 'gemini-2.5-flash', openai: 'gpt-4o-mini' };
let gw, mock, db;
const toldCost = new Map();   // client_request_id → the cost the client was told

before(async () => {
  mock = await startMock({ seed: 17, args: ['--latency-ms', '0'] });
  const port = await freePort();
  const dir = tmpdir('tollgate-responses-');
  const sha = (s) => createHash('sha256').update(s).digest('hex');
  const cfg = gatewayConfig({ port, mockPort: mock.port, stateDir: `${dir}/state`, workers: 2,
    extra: { keys: [{ name: 'app', sha256: sha(KEY) }, { name: 'tiny', sha256: sha(TINY), tpm: 500 }] } });
  if (PG) {
    db = await createDb('responses');
    cfg.database.conninfo = db.conninfo;
    migrate(cfg, dir);
  }
  gw = await startGateway(cfg, { dir });
});

after(async () => {
  if (gw) await gw.stop('SIGKILL');
  if (mock) await mock.stop('SIGKILL');
  if (db) await db.drop();
});

function call(body, { key = KEY, id } = {}) {
  return request(gw.port, 'POST', '/v1/responses', {
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`,
      ...(id ? { 'x-request-id': id } : {}) },
    body });
}

// What the simulator billed for one provider family since `before`.
async function stats() {
  return (await request(mock.port, 'GET', '/__mock/stats')).json;
}

function billedSince(before, after, family) {
  const d = (k) => after[family][k] - before[family][k];
  const cacheRead = d('cache_read_tokens'), cacheWrite = d('cache_write_tokens');
  return { total: d('input_tokens'), input: d('input_tokens') - cacheRead - cacheWrite,
    output: d('output_tokens'), cacheRead, cacheWrite };
}

// A Responses usage object → the gateway's normalised counts (money.mjs's shape).
function fromResponses(u) {
  const cached = u.input_tokens_details?.cached_tokens ?? 0;
  const written = u.input_tokens_details?.cache_write_tokens ?? 0;
  return { input: u.input_tokens - cached - written, output: u.output_tokens,
    reasoning: u.output_tokens_details?.reasoning_tokens ?? 0, cacheRead: cached, cacheWrite: written };
}

function events(text) {
  const out = [];
  for (const block of text.split('\n\n')) {
    const name = block.match(/^event: (.*)$/m)?.[1];
    const data = block.match(/^data: (.*)$/m)?.[1];
    if (name && data) out.push({ name, data: JSON.parse(data) });
  }
  return out;
}

function closingComment(text) {
  const m = text.match(/\n: tollgate cost_usd=(\S+) input_tokens=(\d+) output_tokens=(\d+) reasoning_tokens=(\d+)\n\n$/);
  assert.ok(m, `the stream ends with the tollgate comment:\n${text.slice(-300)}`);
  return { cost: m[1], input: +m[2], output: +m[3], reasoning: +m[4] };
}

// The provider's counts against the client's: same tokens, and the same cost to the digit.
function assertBilled(family, model, billed, told, cost) {
  if (family !== 'openai') {
    // translated: the provider's own counts are the simulator's
    assert.deepEqual([told.input, told.output, told.cacheRead, told.cacheWrite],
      [billed.input, billed.output, billed.cacheRead, billed.cacheWrite]);
  }
  assert.equal(cost, costUsd(PRICES[model], told));
  assert.equal(cost, costUsd(PRICES[model], { ...billed, reasoning: told.reasoning }));
  assert.notEqual(cost, '0');
}

for (const family of ['openai', 'anthropic', 'gemini']) {
  const model = MODELS[family];

  test(`${family}: a reply's x-tollgate-cost-usd is the provider's usage priced, to the digit`, async () => {
    const s0 = await stats();
    const r = await call({ model, instructions: 'Answer briefly.', input: Q }, { id: `resp-${family}-json` });
    const s1 = await stats();
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['x-tollgate-model'], model);
    assert.equal(r.json.object, 'response');
    assert.equal(r.json.status, 'completed');
    const told = fromResponses(r.json.usage);
    assert.equal(r.json.usage.total_tokens, r.json.usage.input_tokens + r.json.usage.output_tokens);
    assertBilled(family, model, billedSince(s0, s1, family), told, r.headers['x-tollgate-cost-usd']);
    toldCost.set(`resp-${family}-json`, r.headers['x-tollgate-cost-usd']);
  });

  test(`${family}: a stream's closing comment is the provider's usage priced, to the digit`, async () => {
    const s0 = await stats();
    const r = await call({ model, input: Q, stream: true }, { id: `resp-${family}-sse` });
    const s1 = await stats();
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers['content-type'], /text\/event-stream/);
    const ev = events(r.text);
    ev.forEach((e, i) => assert.equal(e.data.sequence_number, i, `${e.name} is number ${i}`));
    assert.equal(ev.at(-1).name, 'response.completed');
    const told = fromResponses(ev.at(-1).data.response.usage);
    const c = closingComment(r.text);
    assert.deepEqual([c.input, c.output, c.reasoning], [told.input, told.output, told.reasoning]);
    assertBilled(family, model, billedSince(s0, s1, family), told, c.cost);
    toldCost.set(`resp-${family}-sse`, c.cost);
  });
}

test('cached input is billed at the cache price: OpenAI passed through, Gemini translated', async () => {
  for (const [family, n] of [['openai', 1300], ['gemini', 2300]]) {
    const model = MODELS[family];
    const doc = `${family}-${process.pid}-${Date.now()} ` + 'doc '.repeat(n);
    await call({ model, instructions: doc, input: Q });
    const s0 = await stats();
    const r = await call({ model, instructions: doc, input: 'And of Italy?' });
    const s1 = await stats();
    assert.equal(r.status, 200, r.text);
    const told = fromResponses(r.json.usage);
    assert.ok(told.cacheRead > 1000, `${family}: cached ${told.cacheRead}`);
    assertBilled(family, model, billedSince(s0, s1, family), told, r.headers['x-tollgate-cost-usd']);
  }
});

test('a route name is a model here too', async () => {
  const r = await call({ model: 'cheap', input: Q });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers['x-tollgate-model'], 'claude-haiku-4-5');
  assert.equal(r.json.model, 'cheap');
});

test('key limits count max_output_tokens like max_tokens', async () => {
  const r = await call({ model: MODELS.anthropic, input: Q, max_output_tokens: 100000 }, { key: TINY });
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.error.message, /more than the 500 tokens per minute of key tiny/);
});

test('refusals are OpenAI error bodies naming the field, and no provider is called', async () => {
  const s0 = await stats();
  const cases = [
    [{ model: MODELS.anthropic, input: Q, previous_response_id: 'resp_1' }, /previous_response_id is not supported when translating to anthropic/],
    [{ model: MODELS.gemini, input: Q, tools: [{ type: 'web_search' }] }, /tools\[0\]: web_search is a tool OpenAI runs itself/],
    [{ model: MODELS.openai, input: Q, background: true }, /background: true is not supported/],
    [{ model: MODELS.openai, input: 7 }, /input: expected a string or an array/],
  ];
  for (const [body, want] of cases) {
    const r = await call(body);
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.type, 'invalid_request_error');
    assert.match(r.json.error.message, want);
  }
  const s1 = await stats();
  assert.equal(s1.total, s0.total, 'no provider call for a refused request');
  const r = await request(gw.port, 'POST', '/v1/responses/resp_1/cancel',
    { headers: { authorization: `Bearer ${KEY}` }, body: {} });
  assert.equal(r.status, 404);
  assert.match(r.json.error.message, /only POST \/v1\/responses is served/);
});

test('each call is a row of its own, with the endpoint and the cost the client was told', { skip: PG ? false : 'TG_TEST_PG is not set' }, async () => {
  await waitFor('the Responses rows', async () => Number((await rows(db.conninfo,
    "SELECT count(*) FROM requests WHERE client_request_id LIKE 'resp-%'"))[0][0]) >= 6, 10000, 50);
  const got = await rows(db.conninfo, `SELECT client_request_id, endpoint, provider, stream, status,
    usage_complete, cost_usd::text FROM requests WHERE client_request_id LIKE 'resp-%' ORDER BY 1`);
  assert.equal(got.length, 6);
  for (const [id, endpoint, provider, stream, status, complete, cost] of got) {
    assert.equal(endpoint, '/v1/responses', id);
    assert.equal(provider, id.split('-')[1]);
    assert.equal(stream, id.endsWith('sse') ? 't' : 'f');
    assert.equal(status, '200');
    assert.equal(complete, 't');
    assert.equal(usdToPico(cost), usdToPico(toldCost.get(id)), id);
  }
});
