// A streamed tool call the gateway cannot translate (issue 19, defect 4): the
// simulator cuts a UTF-16 surrogate pair in an argument fragment, which no
// UTF-8 client can be given. The client's stream ends with its family's error
// event instead of arguments with a hole in them, and the call is recorded
// as a reply that could not be translated, billed for what the provider did.
// A client of the provider's own family gets the provider's bytes as they are.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { freePort, gatewayConfig, request, startGateway, startMock, tmpdir, waitFor } from './lib.mjs';
import { CLIENT_KEY, createDb, migrate, requirePg, rows } from './db.mjs';

let gw, mock, db;

before(async () => {
  requirePg();
  db = await createDb('tools');
  mock = await startMock({ seed: 19, args: ['--latency-ms', '0'] });
  const dir = tmpdir('tollgate-tools-');
  const cfg = gatewayConfig({ port: await freePort(), mockPort: mock.port, stateDir: `${dir}/state`, workers: 1,
    extra: { keys: [{ name: 'tools', sha256: createHash('sha256').update(CLIENT_KEY).digest('hex') }] } });
  cfg.database.conninfo = db.conninfo;
  migrate(cfg, dir);
  gw = await startGateway(cfg, { dir });
});

after(async () => {
  if (gw) await gw.stop('SIGKILL');
  if (mock) await mock.stop('SIGKILL');
  if (db) await db.drop();
});

const weather = { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] };
const ASK = 'Please run get_weather {"location":"Oslo"}';

async function row(id) {
  await waitFor('the row', async () => (await rows(db.conninfo,
    `SELECT 1 FROM requests WHERE client_request_id = '${id}'`)).length === 1, 10000, 50);
  const [[outcome, status, complete, output, cost, error]] = await rows(db.conninfo,
    `SELECT outcome, status, usage_complete, output_tokens, cost_usd, error FROM requests
     WHERE client_request_id = '${id}'`);
  return { outcome, status, complete, output: Number(output), cost: Number(cost), error };
}

const split = () => request(mock.port, 'POST', '/__mock/faults',
  { body: { fault: 'split-surrogate', provider: 'anthropic', count: 1 } });

test('an argument fragment that does not decode: the error event, recorded as untranslated', async () => {
  await split();
  const r = await request(gw.port, 'POST', '/v1/chat/completions', {
    headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_KEY}`, 'x-request-id': 'tools-split' },
    body: { model: 'claude-haiku-4-5', stream: true, messages: [{ role: 'user', content: ASK }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: weather } }] },
  });
  assert.equal(r.status, 200);
  const events = r.text.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice(6));
  const last = JSON.parse(events.at(-1));
  assert.match(last.error.message, /could not be translated: .*surrogate/, r.text);
  assert.ok(!r.text.includes('[DONE]'), 'nothing after the error');
  const rec = await row('tools-split');
  assert.equal(rec.outcome, 'upstream_error');
  assert.match(rec.error, /its reply could not be translated: .*surrogate/);
  // the provider did the work and billed it: the usage is whole and priced
  assert.equal(rec.complete, 't');
  assert.ok(rec.output > 0 && rec.cost > 0, JSON.stringify(rec));
});

test('the same fragment to a client of the provider\'s family passes as it is', async () => {
  await split();
  const r = await request(gw.port, 'POST', '/v1/messages', {
    headers: { 'content-type': 'application/json', 'x-api-key': CLIENT_KEY, 'anthropic-version': '2023-06-01',
      'x-request-id': 'tools-own' },
    body: { model: 'claude-haiku-4-5', max_tokens: 256, stream: true, messages: [{ role: 'user', content: ASK }],
      tools: [{ name: 'get_weather', input_schema: weather }] },
  });
  assert.equal(r.status, 200);
  assert.ok(r.text.includes('"partial_json":"\\ud83c'), r.text);
  assert.ok(r.text.includes('event: message_stop'), r.text);
  assert.equal((await row('tools-own')).outcome, 'ok');
});
