// A call's deadline (issue 11, defect 8): total_timeout_ms bounds a call from
// its start, retries included. Each retry gets what is left of it, not a whole
// total_timeout_ms of its own, so a provider that answers slowly and fails
// cannot stretch one call past its deadline.
//
// The first attempt sends no first byte within FIRST_BYTE_MS (the mock's slow
// fault) and is retried; the retry has TOTAL_MS - FIRST_BYTE_MS left, less than
// the LATENCY_MS the provider needs, so the call ends at its deadline with 504.
// A retry with a clock of its own would have answered 200 at
// FIRST_BYTE_MS + LATENCY_MS.
//
// A stream that outlasts total_timeout_ms is cut at the deadline, and the client
// is told that it was the deadline, not the provider, that ended it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freePort, gatewayConfig, providerUrl, request, startGateway, startMock, tmpdir } from './lib.mjs';

const TOTAL_MS = 1000;
const FIRST_BYTE_MS = 700;
const LATENCY_MS = 500;
const STREAM_MS = 3000;
let gw, mock, streamMock;

before(async () => {
  mock = await startMock({ seed: 8, args: ['--latency-ms', String(LATENCY_MS)] });
  streamMock = await startMock({ seed: 8, args: ['--latency-ms', '0', '--stream-ms', String(STREAM_MS)] });
  const cfg = gatewayConfig({ port: await freePort(), mockPort: mock.port, stateDir: tmpdir('tollgate-deadline-'),
    workers: 1 });
  Object.assign(cfg.providers.anthropic, { total_timeout_ms: TOTAL_MS, first_byte_timeout_ms: FIRST_BYTE_MS,
    retry: { max_attempts: 2, base_ms: 10, max_ms: 100, budget_ratio: 1 } });
  Object.assign(cfg.providers.openai, { base_url: providerUrl(streamMock.port),
    total_timeout_ms: TOTAL_MS, first_byte_timeout_ms: FIRST_BYTE_MS });
  gw = await startGateway(cfg);
});

after(async () => {
  if (gw) await gw.stop('SIGKILL');
  if (mock) await mock.stop('SIGKILL');
  if (streamMock) await streamMock.stop('SIGKILL');
});

test('a retry gets what is left of the call\'s deadline, not a deadline of its own', async () => {
  await request(mock.port, 'POST', '/__mock/faults', { body: { fault: 'slow', provider: 'anthropic', count: 1 } });
  const t0 = Date.now();
  const r = await request(gw.port, 'POST', '/v1/messages', {
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'k' },
    body: { model: 'claude-haiku-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] } });
  const took = Date.now() - t0;
  assert.equal(r.status, 504, r.text);
  assert.equal(r.headers['x-tollgate-attempts'], '2');
  assert.ok(took < TOTAL_MS + 300, `the call took ${took} ms against a ${TOTAL_MS} ms deadline`);
});

test('a stream longer than the deadline is cut there, and the client is told it was the deadline', async () => {
  const t0 = Date.now();
  const r = await request(gw.port, 'POST', '/v1/chat/completions', {
    headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
    body: { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Tell me a long story.' }] } });
  const took = Date.now() - t0;
  assert.equal(r.status, 200, r.text);
  assert.ok(took < TOTAL_MS + 300, `the stream lasted ${took} ms against a ${TOTAL_MS} ms deadline`);
  assert.match(r.text, /"message":"stream ended early: no end within the provider's total_timeout_ms"/);
  assert.doesNotMatch(r.text, /data: \[DONE\]/);
});
