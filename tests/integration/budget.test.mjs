// Budgets with authorization holds, end to end (issue 14): a key with a
// 0.01 USD budget per day hammered through both workers with streamed and
// non-streamed calls of every family until it is refused; the ledger's sum of
// the key's cost for the period never passes 0.01 USD, to the last digit, and
// every refusal is a row. Then the same with a worker kill -9 and a gateway
// restart in the middle: holds of the dead worker are released, the spend is
// restored from the ledger, and the budget still holds.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { KINDS, call, createDb, migrate, requirePg, rows, usdToPico } from './db.mjs';
import { PROVIDER_ENV, ROOT, TOLLGATE, freePort, gatewayConfig, startGateway, startMock, tmpdir, waitFor } from './lib.mjs';

const BUDGET = '0.01';
const FILE_KEY = 'budget-file-key';
let db, mock, dir, cfg, cfgPath, secret;
const gateways = [];

before(async () => {
  db = await createDb('budget', requirePg());
  mock = await startMock({ seed: 9, args: ['--latency-ms', '5', '--jitter-ms', '10'] });
  dir = tmpdir('tollgate-budget-');
  cfg = gatewayConfig({ port: await freePort(), mockPort: mock.port, stateDir: path.join(dir, 'state'), workers: 2,
    extra: { keys: [{ name: 'file-key', sha256: createHash('sha256').update(FILE_KEY).digest('hex') }] } });
  // Gemini bodies name no output limit: the model's bounds the hold
  for (const m of Object.values(cfg.models)) m.max_output_tokens = 256;
  cfg.database.conninfo = db.conninfo;
  cfg.database.ring_records = 16384;
  cfgPath = migrate(cfg, dir);
  const r = spawnSync(TOLLGATE, ['keys', '-c', cfgPath, 'create', 'budgeted', '--budget', BUDGET, '--period', 'day'],
    { cwd: ROOT, env: { ...process.env, ...PROVIDER_ENV }, encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, r.stderr);
  secret = r.stdout.match(/^secret:\s+(tg_[0-9A-Za-z]{40})$/m)[1];
});

after(async () => {
  for (const gw of gateways) await gw.stop('SIGKILL');
  if (mock) await mock.stop('SIGKILL');
  if (db) await db.drop();
});

async function gateway() {
  const gw = await startGateway(cfg, { dir });
  gateways.push(gw);
  // the budgeted key is served once the master has loaded it and its spend is restored
  await waitFor('the budgeted key served', async () => {
    const r = await call(gw.port, KINDS[0], 'b-probe', { key: secret, body: { model: 'no-such-model',
      max_tokens: 8, messages: [{ role: 'user', content: 'x' }] } });
    return r.status === 404;
  }, 15000, 100);
  return gw;
}

// Calls of every kind with the budgeted key, `concurrency` at a time, until `stop()`.
function hammer(port, prefix, concurrency = 40) {
  const results = [];
  let next = 0;
  let stopped = false;
  const worker = async () => {
    while (!stopped) {
      const i = next++;
      results.push(await call(port, KINDS[i % KINDS.length], `${prefix}${i}`, { key: secret }));
    }
  };
  const done = Promise.all(Array.from({ length: concurrency }, worker)).then(() => results);
  return { results, done, stop: () => { stopped = true; } };
}

const refusedFully = (results, n) => results.slice(-n).length === n && results.slice(-n).every((r) => r.status === 429);

async function ledger(prefix) {
  const [[n, sum]] = await rows(db.conninfo, `SELECT count(*), coalesce(sum(cost_usd), 0)::text FROM requests
    WHERE key_name = 'budgeted' AND created_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`);
  const refusals = await rows(db.conninfo, `SELECT status, outcome, count(*) FROM requests
    WHERE client_request_id LIKE '${prefix}%' AND outcome = 'budget_exceeded' GROUP BY 1, 2`);
  return { rows: Number(n), spent: usdToPico(sum), refusals };
}

test('a key hammered past its budget: the ledger never passes it, and the refusals are rows', async () => {
  const gw = await gateway();
  const h = hammer(gw.port, 'b1-');
  await waitFor('the budget exhausted', () => refusedFully(h.results, 200), 90000, 100);
  h.stop();
  const results = await h.done;
  const refused = results.filter((r) => r.status === 429);
  assert.ok(refused.length > 0);
  for (const r of refused.slice(0, 20)) {
    assert.match(r.text, /budget_exceeded/, r.text);
    assert.equal(r.headers['x-should-retry'], 'false');
    assert.match(r.headers['x-tollgate-budget-remaining-usd'], /^\d+(\.\d+)?$/);
  }
  const served = results.filter((r) => r.status === 200).length;
  await waitFor('every call recorded', async () => Number((await rows(db.conninfo,
    `SELECT count(*) FROM requests WHERE client_request_id LIKE 'b1-%'`))[0][0]) === results.length, 20000, 100);
  const l = await ledger('b1-');
  assert.ok(l.spent <= usdToPico(BUDGET), `spent ${l.spent} pico-USD of a ${BUDGET} USD budget`);
  assert.deepEqual(l.refusals, [['429', 'budget_exceeded', String(refused.length)]]);
  console.log(`# budget ${BUDGET} USD: ${served} calls served, ${refused.length} refused; ledger ${l.spent} pico-USD`);
});

test('a worker kill -9 and a restart in the middle: the budget still holds, to the digit', async () => {
  // a fresh period's worth: yesterday's rows do not count, so raise nothing, only move on
  await rows(db.conninfo, `UPDATE requests SET created_at = created_at - interval '2 days' WHERE key_name = 'budgeted'`);
  let gw = gateways.at(-1);
  await gw.stop('SIGTERM');
  gw = await gateway();
  const h = hammer(gw.port, 'b2-');
  await waitFor('some calls served', () => h.results.filter((r) => r.status === 200).length >= 40, 30000, 50);
  const workers = execFileSync('ps', ['-o', 'pid=', '--ppid', String(gw.pid)], { encoding: 'utf8' })
    .split('\n').map((s) => Number(s.trim())).filter((p) => {
      try { return readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'tollgate-worker'; } catch { return false; }
    });
  process.kill(workers[0], 'SIGKILL');
  await waitFor('more calls served', () => h.results.filter((r) => r.status === 200).length >= 80, 30000, 50);
  h.stop();
  const first = await h.done;
  await gw.stop('SIGTERM');
  gw = await gateway();
  const h2 = hammer(gw.port, 'b3-');
  await waitFor('the budget exhausted', () => refusedFully(h2.results, 200), 90000, 100);
  h2.stop();
  const second = await h2.done;
  await waitFor('every call recorded', async () => Number((await rows(db.conninfo,
    `SELECT count(*) FROM requests WHERE client_request_id LIKE 'b3-%'`))[0][0]) === second.length, 20000, 100);
  const l = await ledger('b2-');
  assert.ok(l.spent <= usdToPico(BUDGET), `spent ${l.spent} pico-USD of a ${BUDGET} USD budget`);
  console.log(`# kill -9 and restart: ${first.filter((r) => r.status === 200).length} + ` +
    `${second.filter((r) => r.status === 200).length} calls served; ledger ${l.spent} pico-USD of ${usdToPico(BUDGET)}`);
});
