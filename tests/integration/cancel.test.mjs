// A client that goes away (issue 11): the call is recorded as cancelled and
// not delivered, the provider transfer is stopped (its connection closes), and
// a breaker probe the call held is handed back — the next call is let through
// rather than failed fast behind a probe nobody will ever settle.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { freePort, gatewayConfig, request, startGateway, startMock, tmpdir, waitFor } from './lib.mjs';
import { CLIENT_KEY, createDb, migrate, requirePg, rows } from './db.mjs';

let gw, mock, db;

before(async () => {
  requirePg();
  db = await createDb('cancel');
  mock = await startMock({ seed: 4, args: ['--latency-ms', '0'] });
  const dir = tmpdir('tollgate-cancel-');
  const cfg = gatewayConfig({ port: await freePort(), mockPort: mock.port, stateDir: `${dir}/state`, workers: 1,
    extra: { keys: [{ name: 'cancel', sha256: createHash('sha256').update(CLIENT_KEY).digest('hex') }] } });
  // one probe at a time, a short open state, and no retries: the probe is this test's subject
  cfg.providers.openai.breaker = { window: 10, min_calls: 10, failure_rate: 1, consecutive_failures: 2,
    open_ms: 300, half_open_probes: 1 };
  cfg.providers.openai.retry = { max_attempts: 1 };
  cfg.database.conninfo = db.conninfo;
  migrate(cfg, dir);
  gw = await startGateway(cfg, { dir });
});

after(async () => {
  if (gw) await gw.stop('SIGKILL');
  if (mock) await mock.stop('SIGKILL');
  if (db) await db.drop();
});

const body = (id) => ({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: `hi ${id}` }] });
const headers = (id) => ({ 'content-type': 'application/json', authorization: `Bearer ${CLIENT_KEY}`, 'x-request-id': id });

// Established TCP connections to the simulator's port (any process): /proc/net/tcp, no ss needed.
function toMock() {
  const hex = mock.port.toString(16).toUpperCase().padStart(4, '0');
  return ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((f) => readFileSync(f, 'utf8').split('\n').slice(1))
    .map((l) => l.trim().split(/\s+/)).filter((c) => c.length > 3 && c[3] === '01' && c[2].endsWith(`:${hex}`)).length;
}

const mockCalls = async () => (await request(mock.port, 'GET', '/__mock/stats')).json.total;

// Start a call and leave once the simulator has it; resolves with the connections to the
// simulator while it had it (the gateway's pool and the call's own).
async function leaveEarly(id) {
  const before = await mockCalls();
  const req = http.request({ host: '127.0.0.1', port: gw.port, method: 'POST', path: '/v1/chat/completions',
    headers: headers(id), agent: false });
  req.on('error', () => {});
  req.end(JSON.stringify(body(id)));
  await waitFor('the call upstream', async () => (await mockCalls()) > before, 5000, 10);
  const during = toMock();
  req.destroy();
  return during;
}

test('the client going away: cancelled row, upstream transfer stopped, breaker probe handed back', async () => {
  // trip the breaker, and let its open time pass: the next call is the only probe
  await request(mock.port, 'POST', '/__mock/faults', { body: { fault: '500', provider: 'openai', count: 2 } });
  for (let i = 0; i < 2; i++)
    assert.equal((await request(gw.port, 'POST', '/v1/chat/completions', { headers: headers(`x-trip-${i}`),
      body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] } })).status, 500);
  const open = await request(gw.port, 'POST', '/v1/chat/completions', { headers: headers('x-open'),
    body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] } });
  assert.equal(open.status, 503, 'the breaker is open');
  await new Promise((r) => setTimeout(r, 350));     // open_ms: the breaker's own clock, not a race

  // the probe call is slow upstream; its client leaves while it waits
  await request(mock.port, 'POST', '/__mock/faults', { body: { fault: 'slow', provider: 'openai', count: 1 } });
  const during = await leaveEarly('x-gone');
  // a transfer cut mid-reply is not returned to the pool: its connection closes
  await waitFor('the upstream transfer stopped', () => toMock() < during, 5000, 20);

  // the probe came back: the next call is let through (and closes the breaker)
  const next = await request(gw.port, 'POST', '/v1/chat/completions', { headers: headers('x-next'),
    body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] } });
  assert.equal(next.status, 200, next.text);

  await waitFor('the row', async () => (await rows(db.conninfo,
    "SELECT 1 FROM requests WHERE client_request_id = 'x-gone'")).length === 1, 10000, 50);
  const [[status, outcome, delivery, att]] = await rows(db.conninfo, `SELECT status, outcome, delivery, attempts
    FROM requests WHERE client_request_id = 'x-gone'`);
  assert.deepEqual([status, outcome, delivery, att], ['499', 'cancelled', 'not_delivered', '1']);
});
