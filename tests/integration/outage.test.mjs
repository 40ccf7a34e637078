// The log pipeline across database outages (issue 7), on a private PostgreSQL
// this file starts and stops itself: a 10 s outage is absorbed by the spool and
// replayed once; with the spool unusable too, billable calls are refused with
// 503 + Retry-After instead of being served unrecorded, until the database returns.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { ROOT, freePort, gatewayConfig, startGateway, startMock, tmpdir, waitFor } from './lib.mjs';
import {
  CLIENT_KEY, KINDS, call, checkLedger, createDb, keepAliveAgent, load, metrics, migrate, requirePg, tally,
} from './db.mjs';

const sh = promisify(execFile);
let gw, mock, db, cfg, dir, pgDir, pgConn;

// The private server lives under the repo's var/ (reachable by the postgres user pg.sh runs it as).
async function pg(cmd) {
  try {
    return (await sh('sh', [path.join(ROOT, 'tests/pg.sh'), cmd, pgDir], { timeout: 60000 })).stdout.trim();
  } catch (e) {
    let log = '';
    try { log = readFileSync(path.join(pgDir, 'postgres.log'), 'utf8').split('\n').slice(-15).join('\n'); } catch {}
    throw new Error(`tests/pg.sh ${cmd} ${pgDir} failed (${e.code}): ${e.stderr}\n${log}`);
  }
}

before(async () => {
  requirePg();
  pgDir = path.join(ROOT, 'var', `test-pg-outage-${process.pid}`);
  mkdirSync(pgDir, { recursive: true });
  pgConn = await pg('start');
  db = await createDb('outage', pgConn);
  mock = await startMock({ seed: 3, args: ['--latency-ms', '0'] });
  const port = await freePort();
  dir = tmpdir('tollgate-outage-');
  cfg = gatewayConfig({ port, mockPort: mock.port, stateDir: `${dir}/state`, workers: 2,
    extra: { keys: [{ name: 'outage', sha256: createHash('sha256').update(CLIENT_KEY).digest('hex') }] } });
  cfg.database.conninfo = db.conninfo;
  cfg.database.ring_records = 262144;
  migrate(cfg, dir);
  gw = await startGateway(cfg, { dir });
});

after(async () => {
  if (gw) await gw.stop('SIGKILL');
  if (mock) await mock.stop('SIGKILL');
  if (pgDir) {
    await pg('stop').catch(() => {});
    rmSync(pgDir, { recursive: true, force: true });
  }
});

const answered = (results) => results.filter((r) => r.answered).length;
const loggerPid = (p) => {
  const l = [...p.lines].reverse().find((x) => /started logger pid=\d+/.test(x));
  return Number(l.match(/started logger pid=(\d+)/)[1]);
};

test('PostgreSQL stopped for 10 s mid-run (logger killed twice): calls keep getting 200, the spool fills, then replays once', async () => {
  const agent = keepAliveAgent(20);
  const run = load(gw.port, { prefix: 'o3-', concurrency: 20, agent, pauseMs: 10 });
  try {
    await outageDuring(run);
  } finally {
    run.stop();
    agent.destroy();
  }
});

async function outageDuring(run) {
  await waitFor('300 calls answered', () => answered(run.results) >= 300, 20000);
  const t0 = Date.now();
  await pg('stop');
  const atStop = answered(run.results);
  const spooling = await waitFor('tollgate_log_spooled_rows > 0', async () => {
    const m = await metrics(gw);
    return m.tollgate_log_spooled_rows > 0 ? m.tollgate_log_spooled_rows : undefined;
  }, 8000, 100);
  // the spool survives its writer: kill -9 the logger halfway through the outage
  await waitFor('5 s into the outage', () => Date.now() - t0 >= 5000, 6000, 100);
  const first = loggerPid(gw);
  process.kill(first, 'SIGKILL');
  await gw.waitLog(new RegExp(`logger pid=${first} died: killed by signal 9`), 5000);
  await waitFor('a new logger', () => loggerPid(gw) !== first, 5000);
  await waitFor('a 10 s outage', () => Date.now() - t0 >= 10000, 11000, 100);
  const duringOutage = answered(run.results) - atStop;
  const spooledPeak = (await metrics(gw)).tollgate_log_spooled_rows;
  assert.ok(spooledPeak > spooling, `the new logger kept counting the spool: ${spooledPeak}`);
  await pg('start');
  const t1 = Date.now();
  const before = (await tally(db.conninfo, 'o3-')).count;
  // and kill it again once the replay is under way: a segment replayed twice still counts once
  await waitFor('the replay under way', async () => (await tally(db.conninfo, 'o3-')).count >= before + 1000, 15000, 20);
  const second = loggerPid(gw);
  const midReplay = (await metrics(gw)).tollgate_log_spooled_rows;
  process.kill(second, 'SIGKILL');
  await gw.waitLog(new RegExp(`logger pid=${second} died: killed by signal 9`), 5000);
  await waitFor('one more second of calls', () => Date.now() - t1 >= 1000, 2000, 50);
  run.stop();
  const results = await run.done;
  await waitFor('the spool replayed', async () => (await metrics(gw)).tollgate_log_spooled_rows === 0, 20000, 100);
  const replayMs = Date.now() - t1;
  await waitFor('every answered call in the database', async () =>
    (await tally(db.conninfo, 'o3-')).count >= answered(results), 20000, 100);
  const f = await checkLedger(assert, db.conninfo, 'o3-', results);
  assert.deepEqual(f.statuses, { 200: results.length }, `every call served: ${JSON.stringify(f.errors)}`);
  assert.equal(f.rows, results.length);
  assert.equal(f.dbCost, f.clientCost);
  assert.ok(gw.logged(/spooling/), 'the logger said it was spooling');
  assert.ok(gw.logged(/spool replayed into PostgreSQL rows=\d+/), 'and that it replayed');
  // the segments are gone once committed
  await waitFor('no spool segment left', () => {
    try { return !readdirSync(`${cfg.state_dir}/spool`).some((n) => n.endsWith('.tgs')); } catch { return false; }
  }, 5000);
  console.log(`# outage: ${duringOutage} calls answered during 10 s without PostgreSQL (spool peak ${spooledPeak} rows, ` +
    `first seen ${spooling}; logger killed at 5 s); logger killed again mid-replay (spool gauge then ${midReplay}); ` +
    `spool empty ${replayMs} ms after the restart; ${f.rows} rows = ${results.length} calls`);
}

test('no database and no spool: 503 with Retry-After, not served unrecorded; served again when PostgreSQL returns', async () => {
  const spool = `${cfg.state_dir}/spool`;
  assert.ok(statSync(spool).isDirectory());
  await pg('start');   /* whatever the test before left */
  await waitFor('an empty spool', async () => (await metrics(gw)).tollgate_log_spooled_rows === 0, 20000, 100);
  // Root ignores permission bits, so chmod 000 would not stop it. A regular FILE where
  // the spool directory was makes every new segment's open() fail with ENOTDIR, for
  // root too. The logger holds no open segment now (the replay above closed it).
  renameSync(spool, `${spool}.away`);
  writeFileSync(spool, 'not a directory\n');
  const results = [];
  let i = 0;
  const one = async () => {
    const r = await call(gw.port, KINDS[i % KINDS.length], `o6-${i}`);
    i++;
    results.push(r);
    return r;
  };
  try {
    await pg('stop');
    // the calls until the logger finds neither the database nor the spool are served
    // and wait in the ring file; from then on billable calls are refused
    const first503 = await waitFor('a 503', async () => ((await one()).status === 503 ? i : undefined), 15000, 20);
    for (let k = 0; k < 30; k++) {
      const r = await one();
      assert.equal(r.status, 503, r.text);
      assert.equal(r.retryAfter, '1');
      assert.match(r.text, /calls cannot be recorded right now/);
    }
    await pg('start');
    const t0 = Date.now();
    await waitFor('a call served again', async () => ((await one()).status === 200), 20000, 100);
    const backMs = Date.now() - t0;
    for (let k = 0; k < 12; k++) assert.equal((await one()).status, 200);
    // every answer, 200 or 503, is in the database once
    await waitFor('every answered call in the database', async () =>
      (await tally(db.conninfo, 'o6-')).count >= answered(results), 20000, 100);
    const f = await checkLedger(assert, db.conninfo, 'o6-', results);
    assert.equal(f.rows, results.length);
    assert.equal(f.unanswered, 0);
    assert.ok(gw.logged(/could not create spool segment .*Not a directory/), 'the spool failure was logged');
    console.log(`# no spool, no database: served ${first503 - 1} before the first 503, then 503s; served again ` +
      `${backMs} ms after PostgreSQL returned; ${JSON.stringify(f.statuses)} all ${f.rows} in the database`);
  } finally {
    rmSync(spool, { force: true });
    renameSync(`${spool}.away`, spool);
    await pg('start');
  }
});

test('SIGTERM while PostgreSQL is away: exit 0 with the rows in the spool; the next start replays them', async () => {
  await waitFor('an empty spool', async () => (await metrics(gw)).tollgate_log_spooled_rows === 0, 20000, 100);
  await pg('stop');
  const results = [];
  try {
    for (let i = 0; i < 60; i++) results.push(await call(gw.port, KINDS[i % KINDS.length], `o8-${i}`));
    assert.deepEqual(results.map((r) => r.status), results.map(() => 200));
    gw.signal('SIGTERM');
    const exit = await gw.exited;
    assert.deepEqual(exit, { code: 0, signal: null });
    const stopping = gw.lines.find((l) => /logger stopping spooled_rows=/.test(l) && !/spooled_rows=0$/.test(l));
    assert.ok(stopping, 'the logger stopped with rows in the spool');
    assert.ok(readdirSync(`${cfg.state_dir}/spool`).some((n) => n.endsWith('.tgs')));
  } finally {
    await pg('start');
  }
  gw = await startGateway(cfg, { dir });
  await waitFor('the spool replayed by the next start', async () =>
    (await tally(db.conninfo, 'o8-')).count >= results.length, 20000, 100);
  const f = await checkLedger(assert, db.conninfo, 'o8-', results);
  assert.equal(f.rows, 60);
  assert.equal(f.dbCost, f.clientCost);
  await waitFor('the spool gauge back to 0', async () => (await metrics(gw)).tollgate_log_spooled_rows === 0, 10000, 100);
});
