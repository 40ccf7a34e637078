// A provider's tokens-per-minute quota (issue 11, defect 3). An admitted
// attempt holds its estimate in the provider's TPM bucket; when the attempt
// ends, the estimate is settled once: used tokens, or all of it given back when
// the provider answered nothing. A failed attempt with no further attempt after
// it was given back twice, which handed the bucket tokens other calls still hold.
//
// A slow call holds SLOW_MAX of the quota; a call that fails holds FAIL_MAX
// and gives it back; a third call asking for more than what is left is refused
// before it reaches the provider. Given back twice, the failed call's estimate
// would have freed FAIL_MAX of the slow call's hold, and the third call would
// have fit.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freePort, gatewayConfig, request, startGateway, startMock, tmpdir, waitFor } from './lib.mjs';

const TPM = 6000;                  // refills 100 tokens a second: the test's few seconds do not matter
const SLOW_MAX = 3000, FAIL_MAX = 2000, THIRD_MAX = 4000;
let gw, mock;

before(async () => {
  mock = await startMock({ seed: 3 });
  const cfg = gatewayConfig({ port: await freePort(), mockPort: mock.port, stateDir: tmpdir('tollgate-quota-'),
    workers: 1 });
  Object.assign(cfg.providers.anthropic, { rate_limit: { tpm: TPM }, first_byte_timeout_ms: 5000,
    retry: { max_attempts: 1 } });
  gw = await startGateway(cfg);
});

after(async () => {
  if (gw) await gw.stop('SIGKILL');
  if (mock) await mock.stop('SIGKILL');
});

const mockCalls = async () => (await request(mock.port, 'GET', '/__mock/stats')).json.total;
const message = (maxTokens) => request(gw.port, 'POST', '/v1/messages', {
  headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'k' },
  body: { model: 'claude-haiku-4-5', max_tokens: maxTokens, messages: [{ role: 'user', content: 'hi' }] } });

test('a failed attempt gives its token estimate back once, not out of other calls\' holds', async () => {
  // the slow call: its first byte comes after 2 s, and it holds SLOW_MAX meanwhile
  const before = await mockCalls();
  await request(mock.port, 'POST', '/__mock/faults', { body: { fault: 'slow', provider: 'anthropic', count: 1 } });
  const slow = message(SLOW_MAX);
  await waitFor('the slow call upstream', async () => (await mockCalls()) === before + 1, 5000, 10);

  await request(mock.port, 'POST', '/__mock/faults', { body: { fault: '503', provider: 'anthropic', count: 1 } });
  const failed = await message(FAIL_MAX);
  assert.equal(failed.status, 503, failed.text);
  assert.equal(await mockCalls(), before + 2);

  // TPM - SLOW_MAX is left, less than THIRD_MAX: refused without a call upstream
  const third = await message(THIRD_MAX);
  assert.equal(third.status, 503, third.text);
  assert.match(third.text, /overloaded|unavailable|capacity/i);
  assert.equal(await mockCalls(), before + 2, 'the third call reached the provider');

  assert.equal((await slow).status, 200);
});
