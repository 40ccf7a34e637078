// The log pipeline across process deaths (issue 7): a logger killed with -9
// mid-run, a SIGTERM mid-run, and every tollgate process killed with -9 at
// once then started again on the same state_dir — each time every call a
// client got an answer for is in the database exactly once.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { freePort, gatewayConfig, request, startGateway, startMock, tmpdir, waitFor } from './lib.mjs';
import { CLIENT_KEY, checkLedger, createDb, keepAliveAgent, load, migrate, requirePg, rows, tally } from './db.mjs';

let gw, mock, db, cfg, dir;

before(async () => {
  requirePg();
  db = await createDb('crash');
  // 20-40 ms upstream so that a kill finds calls in flight inside the workers
  mock = await startMock({ seed: 5, args: ['--latency-ms', '20', '--jitter-ms', '20'] });
  const port = await freePort();
  dir = tmpdir('tollgate-crash-');
  cfg = gatewayConfig({ port, mockPort: mock.port, stateDir: `${dir}/state`, workers: 2,
    extra: { keys: [{ name: 'crash', sha256: createHash('sha256').update(CLIENT_KEY).digest('hex') }] } });
  cfg.database.conninfo = db.conninfo;
  cfg.database.ring_records = 262144;   /* 4096 per ring: these tests are about deaths, not overload */
  migrate(cfg, dir);
  gw = await startGateway(cfg, { dir });
});

after(async () => {
  if (gw) await gw.stop('SIGKILL');
  if (mock) await mock.stop('SIGKILL');
  if (db) await db.drop();
});

const comm = (pid) => { try { return readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { return null; } };
const children = (pid) => execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
  .split('\n').map((s) => Number(s.trim())).filter(Boolean);
const loggerPid = (p) => {
  const l = [...p.lines].reverse().find((x) => /started logger pid=\d+/.test(x));
  return Number(l.match(/started logger pid=(\d+)/)[1]);
};
const answered = (results) => results.filter((r) => r.answered).length;

// Wait until every answered call of `prefix` is in the database, then compare the ledger.
async function settled(prefix, results, timeoutMs = 20000) {
  const want = answered(results);
  await waitFor(`${want} answered calls of ${prefix} in the database`,
    async () => (await tally(db.conninfo, prefix)).count >= want, timeoutMs, 100);
  return checkLedger(assert, db.conninfo, prefix, results);
}

test('kill -9 of the logger mid-run: still one row per call, and the master restarts it', async () => {
  const victim = loggerPid(gw);
  assert.equal(comm(victim), 'tollgate-logger');
  const agent = keepAliveAgent(50);
  const run = load(gw.port, { prefix: 'c2-', total: 6000, concurrency: 50, agent });
  await waitFor('1,500 calls answered', () => answered(run.results) >= 1500, 20000);
  process.kill(victim, 'SIGKILL');
  const atKill = answered(run.results);
  await gw.waitLog(new RegExp(`logger pid=${victim} died: killed by signal 9`), 5000);
  const fresh = await waitFor('a new logger', () => { const p = loggerPid(gw); return p !== victim ? p : undefined; }, 5000);
  // a child names itself just after the fork: until then it still reads as the master
  await waitFor('the new logger named', () => comm(fresh) === 'tollgate-logger', 2000);
  const results = await run.done.finally(() => agent.destroy());
  const f = await settled('c2-', results);
  assert.deepEqual(f.statuses, { 200: results.length }, JSON.stringify(f.errors));
  assert.equal(f.rows, results.length);
  assert.equal(f.dbCost, f.clientCost);
  console.log(`# logger ${victim} killed after ${atKill} answers, replaced by ${fresh}; ${f.rows} rows for ${results.length} calls`);
});

test('kill -9 of a worker mid-run: every answered call once, its calls in flight recorded as unknown', async () => {
  const workers = children(gw.pid).filter((p) => comm(p) === 'tollgate-worker');
  assert.equal(workers.length, 2);
  const victim = workers[0];
  const agent = keepAliveAgent(50);
  const run = load(gw.port, { prefix: 'c3-', total: 5000, concurrency: 50, agent });
  await waitFor('1,500 calls answered', () => answered(run.results) >= 1500, 20000);
  process.kill(victim, 'SIGKILL');
  const line = await gw.waitLog(new RegExp(`worker pid=${victim} slot=\\d+ died: killed by signal 9.* unknown_calls=(\\d+)`), 5000);
  const recovered = Number(line.match(/unknown_calls=(\d+)/)[1]);
  const results = await run.done.finally(() => agent.destroy());
  const f = await settled('c3-', results);
  assert.equal(f.dbCost, f.clientCost);
  assert.ok(f.extraRows.unknown + f.extraRows.other <= f.unanswered);
  // the master recovers every entry in use: calls still open (unknown rows) and calls already
  // settled, whose rows carry the provider's bill whether or not their client got the reply
  assert.ok(f.extraRows.unknown <= recovered, `unknown rows ${f.extraRows.unknown} vs unknown_calls=${recovered} in the log`);
  await waitFor('a replacement worker', () => children(gw.pid).filter((p) => comm(p) === 'tollgate-worker' && p !== victim).length === 2, 5000)
    .catch((e) => { throw new Error(`${e.message}\ngateway log:\n${gw.lines.slice(-30).join('\n')}`); });
  console.log(`# worker ${victim} killed: ${f.answered} answered, all once; not answered ${f.unanswered} ` +
    `${JSON.stringify(f.errors)}; unknown_calls=${recovered}, unknown rows ${f.extraRows.unknown}, served-but-cut ${f.extraRows.other}`);
});

test('SIGHUP mid-run (new workers, logger restarted to take the new settings): every call once', async () => {
  const agent = keepAliveAgent(50);
  const run = load(gw.port, { prefix: 'c7-', total: 5000, concurrency: 50, agent });
  await waitFor('1,500 calls answered', () => answered(run.results) >= 1500, 20000);
  const oldLogger = loggerPid(gw);
  const gen = 2 + gw.lines.filter((l) => /reloaded generation=/.test(l)).length;
  gw.signal('SIGHUP');
  await gw.waitLog(new RegExp(`reloaded generation=${gen} `), 10000);
  await waitFor('the logger restarted', () => loggerPid(gw) !== oldLogger, 10000);
  const results = await run.done.finally(() => agent.destroy());
  const f = await settled('c7-', results);
  assert.equal(f.unanswered, 0, `no accepted connection is dropped: ${JSON.stringify(f.errors)}`);
  assert.deepEqual(f.statuses, { 200: 5000 });
  assert.equal(f.rows, 5000);
  assert.equal(f.dbCost, f.clientCost);
});

test('SIGTERM mid-run: exit 0, and every answered call is already in the database', async () => {
  const agent = keepAliveAgent(50);
  const run = load(gw.port, { prefix: 'c4-', concurrency: 50, agent, maxMs: 30000 });
  let exit, stopMs;
  try {
    await waitFor('1,000 calls answered', () => answered(run.results) >= 1000, 20000);
    const t0 = Date.now();
    gw.signal('SIGTERM');
    exit = await gw.exited;
    stopMs = Date.now() - t0;
  } finally {
    run.stop();
  }
  const results = await run.done.finally(() => agent.destroy());
  assert.deepEqual(exit, { code: 0, signal: null });
  const lastStop = gw.lines.filter((l) => /logger stopping spooled_rows=/.test(l)).at(-1);
  assert.match(lastStop, /spooled_rows=0$/, 'the logger drained into the database');
  assert.ok(gw.logged(/info master pid=\d+ stopped$/), 'the master says it stopped');
  // no waiting: the gateway has exited, so everything must already be committed
  const f = await checkLedger(assert, db.conninfo, 'c4-', results);
  assert.equal(f.rows - f.extraRows.unknown - f.extraRows.other, f.answered);
  assert.deepEqual(Object.keys(f.statuses), ['200']);
  assert.equal(f.extraRows.unknown, 0, 'a graceful stop leaves no call unknown');
  assert.equal(f.dbCost, f.clientCost);
  console.log(`# SIGTERM: exit 0 in ${stopMs} ms; ${f.answered} answered, all in the database; ` +
    `not answered ${f.unanswered} (${JSON.stringify(f.errors)}), of which recorded ${f.extraRows.other}`);
});

test('kill -9 of master, workers and logger at once, then a restart: every answered call once', async () => {
  gw = await startGateway(cfg, { dir });
  const agent = keepAliveAgent(50);
  const run = load(gw.port, { prefix: 'c5-', concurrency: 50, agent, maxMs: 30000 });
  let pids;
  try {
    await waitFor('1,500 calls answered', () => answered(run.results) >= 1500, 20000);
    // four calls surely in flight at the kill, whatever the scheduler did to the client:
    // held by the simulator for 2 s before their first byte
    const faults = async () => Object.values((await request(mock.port, 'GET', '/__mock/stats')).json)
      .reduce((n, fam) => n + (fam.faults ?? 0), 0);
    const held = await faults() + 4;
    assert.equal((await request(mock.port, 'POST', '/__mock/faults',
      { body: { fault: 'slow', provider: 'all', rate: 1, count: 4 } })).status, 200);
    await waitFor('4 calls held by the simulator', async () => await faults() >= held, 5000, 10);
    pids = children(gw.pid);
    assert.deepEqual(pids.map(comm).sort(), ['tollgate-logger', 'tollgate-worker', 'tollgate-worker']);
    // one kill(1): children first so none is told of the master's death by PDEATHSIG
    execFileSync('kill', ['-KILL', ...pids.map(String), String(gw.pid)]);
  } finally {
    run.stop();
  }
  const exit = await gw.exited;
  assert.equal(exit.signal, 'SIGKILL');
  await waitFor('every child gone', () => pids.every((p) => comm(p) === null), 5000);
  const results = await run.done.finally(() => agent.destroy());
  const before = (await tally(db.conninfo, 'c5-')).count;

  const t0 = Date.now();
  gw = await startGateway(cfg, { dir });
  const f = await settled('c5-', results);
  const ms = Date.now() - t0;
  assert.equal(f.dbCost, f.clientCost, 'the answered calls cost what the clients were told');
  assert.ok(f.rows <= results.length);
  assert.equal(f.rows, f.answered + f.extraRows.unknown + f.extraRows.other);
  // the killed workers' calls in flight are rows all the same: unknown while the provider had
  // not answered, else as settled (checkLedger: never as delivered when the client got nothing)
  assert.ok(f.extraRows.unknown + f.extraRows.other > 0, 'calls in flight in the killed workers are recorded');
  const unknown = await rows(db.conninfo, `SELECT status, usage_complete, error, cost_usd::text FROM requests
    WHERE client_request_id LIKE 'c5-%' AND outcome = 'unknown' GROUP BY 1, 2, 3, 4`);
  assert.deepEqual(unknown, [['0', 'f', 'worker died', '0.000000000000']]);
  console.log(`# kill -9 all: ${f.answered} answered (${before} in the database before the restart, ` +
    `all ${f.answered} ${ms} ms after it); not answered ${f.unanswered} ${JSON.stringify(f.errors)}: ` +
    `recorded as unknown ${f.extraRows.unknown}, as served ${f.extraRows.other}`);
  // and the restarted gateway serves and records as before
  const again = await load(gw.port, { prefix: 'c6-', total: 300, concurrency: 20 }).done;
  const g = await settled('c6-', again);
  assert.equal(g.rows, 300);
});
