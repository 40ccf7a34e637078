// Durability under a full disk and a crashing database (issue 18), on a private
// PostgreSQL this file starts, stops and kills itself, and on small tmpfs file
// systems it mounts and unmounts (root only, as CI runs):
//  - a state_dir too small for the ring file is refused at start, naming the size;
//  - state_dir on a small file system with PostgreSQL down: load until it is full
//    gives 503 + Retry-After, no process dies, and once PostgreSQL returns every
//    call answered 200 is in `requests` once with the cost its client was told;
//  - every PostgreSQL process killed with -9 under load, on a cluster whose default
//    is synchronous_commit = off (tests/pg.sh): lost = doubled = 0;
//  - a spool at database.spool_max_bytes drops keyless refusals, never a billable call.
// Bounded: about 40 s. `make stress` runs the long versions (tests/stress/durability.sh).
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { Proc, ROOT, TOLLGATE, PROVIDER_ENV, freePort, gatewayConfig, request, startGateway, startMock, tmpdir, waitFor } from './lib.mjs';
import { CLIENT_KEY, KINDS, call, createDb, keepAliveAgent, load, metrics, migrate, psql, requirePg, rows, usdToPico } from './db.mjs';

const sh = promisify(execFile);
const isRoot = process.getuid && process.getuid() === 0;
const SECONDS = Number(process.env.TG_DURABILITY_SECONDS || 4);   // load per phase; make stress raises it
let mock, db, pgDir, pgConn;
const mounts = [];

async function pg(cmd) {
  try {
    return (await sh('sh', [path.join(ROOT, 'tests/pg.sh'), cmd, pgDir], { timeout: 60000 })).stdout.trim();
  } catch (e) {
    throw new Error(`tests/pg.sh ${cmd} ${pgDir} failed (${e.code}): ${e.stderr}`);
  }
}

function mountTmpfs(dir, size) {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
  mounts.push(dir);
}

function unmount(dir) {
  try { execFileSync('umount', [dir], { stdio: 'ignore' }); } catch {
    try { execFileSync('umount', ['-l', dir], { stdio: 'ignore' }); } catch {}
  }
  const i = mounts.indexOf(dir);
  if (i !== -1) mounts.splice(i, 1);
}

before(async () => {
  if (!isRoot) return;
  requirePg();
  pgDir = path.join(ROOT, 'var', `test-pg-durability-${process.pid}`);
  mkdirSync(pgDir, { recursive: true });
  pgConn = await pg('start');
  db = await createDb('durability', pgConn);
  mock = await startMock({ seed: 11, args: ['--latency-ms', '0'] });
});

after(async () => {
  if (mock) await mock.stop('SIGKILL');
  for (const m of [...mounts]) unmount(m);
  if (pgDir) {
    await pg('stop').catch(() => {});
    rmSync(pgDir, { recursive: true, force: true });
  }
});

function config(stateDir, extra = {}) {
  return gatewayConfig({ port: 0, mockPort: mock.port, stateDir, workers: 2,
    extra: { keys: [{ name: 'durable', sha256: createHash('sha256').update(CLIENT_KEY).digest('hex') }], ...extra } });
}

async function withPort(cfg) {
  const port = await freePort();
  cfg.listen = `127.0.0.1:${port}`;
  return cfg;
}

// The postmaster's pid and its children's, from the data directory's postmaster.pid.
function postgresPids() {
  const candidates = [path.join(pgDir, 'data/postmaster.pid'),
    `/tmp/tollgate-pg-${execFileSync('sh', ['-c', `printf '%s' "${pgDir}" | cksum | cut -d' ' -f1`], { encoding: 'utf8' }).trim()}/data/postmaster.pid`];
  const file = candidates.find((f) => existsSync(f));
  assert.ok(file, 'postmaster.pid found');
  const master = Number(readFileSync(file, 'utf8').split('\n')[0]);
  const kids = execFileSync('ps', ['-o', 'pid=', '--ppid', String(master)], { encoding: 'utf8' })
    .split('\n').map((s) => Number(s.trim())).filter(Boolean);
  return { master, kids };
}

const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const children = (pid) => execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
  .split('\n').map((s) => Number(s.trim())).filter(Boolean);

// Every call answered 200 is in `requests` exactly once with the cost it was told; returns figures.
async function settle(conninfo, prefix, results, timeoutMs = 30000) {
  const ok = results.filter((r) => r.answered && r.status === 200);
  const want = new Map(ok.map((r) => [r.clientId, r]));
  let got = [];
  await waitFor(`${ok.length} answered calls of ${prefix} in the database`, async () => {
    got = await rows(conninfo, `SELECT client_request_id, request_id, cost_usd::text FROM requests
      WHERE client_request_id LIKE '${prefix}%'`);
    const ids = new Set(got.map((g) => g[0]));
    return ok.every((r) => ids.has(r.clientId));
  }, timeoutMs, 500).catch(() => {});
  const seen = new Map();
  let doubled = 0, wrongCost = 0;
  for (const [cid, rid, cost] of got) {
    if (seen.has(cid)) doubled++;
    seen.set(cid, { rid, cost });
    const r = want.get(cid);
    if (r && (rid !== r.requestId || usdToPico(cost) !== r.cost)) wrongCost++;
  }
  const lost = ok.filter((r) => !seen.has(r.clientId)).length;
  const told = ok.reduce((s, r) => s + r.cost, 0n);
  const ledger = ok.reduce((s, r) => s + (seen.has(r.clientId) ? usdToPico(seen.get(r.clientId).cost) : 0n), 0n);
  return { answered200: ok.length, rows: got.length, lost, doubled, wrongCost, told, ledger };
}

test('a state_dir too small for the ring file is refused at start, naming the size it needs', { skip: !isRoot && 'needs root to mount a tmpfs' }, async () => {
  const dir = tmpdir('tollgate-small-');
  mountTmpfs(`${dir}/state`, '1m');
  try {
    const cfg = await withPort(config(`${dir}/state`));
    cfg.database.conninfo = db.conninfo;
    const p = new Proc(TOLLGATE, ['-c', migrate(cfg, dir)], { cwd: ROOT, env: { ...process.env, ...PROVIDER_ENV } });
    const exit = await p.exited;
    assert.deepEqual(exit, { code: 2, signal: null }, p.lines.join('\n'));
    const line = p.lines.find((l) => /could not open the log rings/.test(l));
    assert.ok(line, p.lines.join('\n'));
    assert.match(line, new RegExp(`could not allocate \\d+ bytes for ${dir}/state/rings\\.tg \\(5 rings`));
    assert.match(line, /No space left on device; lower database\.ring_records or max_connections/);
    assert.deepEqual(readdirSync(`${dir}/state`), [], 'no half-made file left behind');
    console.log(`# too small: ${line.replace(/^.*could not allocate/, 'could not allocate')}`);
  } finally {
    unmount(`${dir}/state`);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a full disk with PostgreSQL down: 503 + Retry-After, no process dies, every 200 recorded once after', { skip: !isRoot && 'needs root to mount a tmpfs' }, async () => {
  const dir = tmpdir('tollgate-full-');
  // ring file: 5 rings x (256 records + 64 in flight) x 2 KiB = 3.2 MiB; the spool gets the rest
  mountTmpfs(`${dir}/state`, '6m');
  let gw;
  const agent = keepAliveAgent(20);
  try {
    const cfg = await withPort(config(`${dir}/state`, { max_connections: 64 }));
    cfg.database.conninfo = db.conninfo;
    cfg.database.ring_records = 1024;
    migrate(cfg, dir);
    gw = await startGateway(cfg, { dir });
    const kids = children(gw.pid);
    await pg('stop');
    const run = load(gw.port, { prefix: 'f1-', concurrency: 20, agent, maxMs: 60000 });
    const first503 = await waitFor('a 503 once the disk is full', () =>
      run.results.find((r) => r.answered && r.status === 503), 30000, 50);
    const full = await metrics(gw);
    // keep the load on a full disk for a while: refusals only
    const t0 = Date.now();
    await waitFor('load on a full disk', () => Date.now() - t0 >= SECONDS * 1000, SECONDS * 1000 + 1000, 100);
    const segs = readdirSync(`${cfg.state_dir}/spool`);
    await pg('start');
    const t1 = Date.now();
    await waitFor('calls served again', async () => (await call(gw.port, KINDS[0], `f1-probe-${Date.now()}`)).status === 200, 20000, 100);
    const backMs = Date.now() - t1;
    run.stop();
    const results = await run.done;
    const refused = results.filter((r) => r.answered && r.status === 503);
    for (const r of refused) {
      assert.equal(r.retryAfter, '1', `503 with Retry-After: ${r.text}`);
    }
    assert.ok(refused.length > 0);
    const other = results.filter((r) => !r.answered || (r.status !== 200 && r.status !== 503));
    assert.deepEqual(other.map((r) => r.error || r.status), [], 'every call answered 200 or 503');
    // no process died: same children, nothing in the log about a death or a signal
    assert.ok(alive(gw.pid), 'the master is alive');
    assert.deepEqual(children(gw.pid).sort(), kids.sort(), 'the same workers and logger');
    assert.ok(!gw.logged(/died|killed by signal|SIGBUS/), gw.lines.filter((l) => /died|signal/.test(l)).join('\n'));
    assert.equal(full.tollgate_log_db_up, 0);
    // failed writes leave no empty segment behind
    assert.ok(segs.filter((n) => n.endsWith('.tgs')).length < 40, `segments: ${segs.length}`);
    const f = await settle(db.conninfo, 'f1-', results);
    assert.equal(f.lost, 0, `lost ${f.lost}`);
    assert.equal(f.doubled, 0);
    assert.equal(f.wrongCost, 0);
    assert.equal(f.ledger, f.told);
    await waitFor('the spool replayed', async () => (await metrics(gw)).tollgate_log_spooled_rows === 0, 20000, 100);
    const m = await metrics(gw);
    assert.equal(m.tollgate_log_db_up, 1);
    assert.equal(m.tollgate_log_spool_writable, 1);
    console.log(`# full disk: ${f.answered200} answered 200, ${refused.length} refused 503 (first after ` +
      `${results.indexOf(first503)} calls; spool_writable=${full.tollgate_log_spool_writable} ` +
      `spooled_rows=${full.tollgate_log_spooled_rows}); served again ${backMs} ms after PostgreSQL returned; ` +
      `rows ${f.rows}, lost ${f.lost}, doubled ${f.doubled}, cost mismatches ${f.wrongCost}`);
  } finally {
    agent.destroy();
    if (gw) await gw.stop('SIGKILL');
    await pg('start').catch(() => {});
    unmount(`${dir}/state`);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every PostgreSQL process killed with -9 under load, synchronous_commit off by default: lost = doubled = 0', { skip: !isRoot && 'needs root for the private cluster' }, async () => {
  const dir = tmpdir('tollgate-pgkill-');
  let gw;
  const agent = keepAliveAgent(30);
  try {
    assert.equal(await psql(db.conninfo, 'SHOW synchronous_commit'), 'off', 'the server default this test is about');
    const cfg = await withPort(config(`${dir}/state`));
    cfg.database.conninfo = db.conninfo;
    cfg.database.ring_records = 65536;
    cfg.database.flush_ms = 20;
    cfg.database.batch_rows = 200;
    migrate(cfg, dir);
    gw = await startGateway(cfg, { dir });
    const run = load(gw.port, { prefix: 'k1-', concurrency: 30, agent, maxMs: 20000 + SECONDS * 4000 });
    const kills = [];
    for (let k = 0; k < (SECONDS >= 10 ? 5 : 2); k++) {
      const t0 = Date.now();
      await waitFor('load before the crash', () => Date.now() - t0 >= SECONDS * 500, SECONDS * 500 + 1000, 50);
      const { master, kids } = postgresPids();
      const committed = Number(await psql(db.conninfo, `SELECT count(*) FROM requests WHERE client_request_id LIKE 'k1-%'`));
      // one kill(1): the server dies as a whole, WAL buffers not yet written included
      execFileSync('kill', ['-KILL', String(master), ...kids.map(String)]);
      kills.push({ at: run.results.length, committed });
      await waitFor('the server gone', () => !alive(master), 5000, 20);
      await waitFor('a second without the server', () => Date.now() - t0 >= SECONDS * 500 + 1000, SECONDS * 500 + 3000, 50);
      await waitFor('PostgreSQL restarted', async () => { await pg('start'); return true; }, 30000, 500);
    }
    const t2 = Date.now();
    await waitFor('load after the crashes', () => Date.now() - t2 >= 1000, 3000, 50);
    run.stop();
    const results = await run.done;
    const f = await settle(db.conninfo, 'k1-', results);
    assert.equal(results.filter((r) => r.answered && r.status !== 200).length, 0, 'every call served');
    assert.equal(f.lost, 0, `lost ${f.lost}`);
    assert.equal(f.doubled, 0);
    assert.equal(f.wrongCost, 0);
    assert.equal(f.ledger, f.told);
    assert.ok(!gw.logged(/died/), 'no tollgate process died');
    console.log(`# postmaster kill -9 x${kills.length} (${kills.map((k) => `after ${k.at} calls, ${k.committed} rows`).join('; ')}): ` +
      `${f.answered200} answered, ${f.rows} rows, lost ${f.lost}, doubled ${f.doubled}, cost mismatches ${f.wrongCost}`);
  } finally {
    agent.destroy();
    if (gw) await gw.stop('SIGKILL');
    await pg('start').catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a spool at its cap drops the oldest refusals, never a billable call', { skip: !isRoot && 'needs root for the private cluster' }, async () => {
  const dir = tmpdir('tollgate-cap-');
  let gw;
  try {
    const cfg = await withPort(config(`${dir}/state`));
    cfg.database.conninfo = db.conninfo;
    cfg.database.spool_max_bytes = 1048576;
    migrate(cfg, dir);
    gw = await startGateway(cfg, { dir });
    await pg('stop');
    // ~2 KiB a refusal: 1,500 calls for a model that does not exist fill a 1 MiB spool and more
    const body = { model: 'no-such-model', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] };
    for (let i = 0; i < 1500; i += 50) {
      const rs = await Promise.all(Array.from({ length: 50 }, () => request(gw.port, 'POST', '/v1/messages',
        { headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01',
          'x-api-key': CLIENT_KEY }, body })));
      for (const r of rs) assert.equal(r.status, 404);
    }
    await waitFor('refusals dropped', async () => (await metrics(gw)).tollgate_log_spool_dropped_total > 0, 10000, 100);
    const results = [];
    for (let i = 0; i < 60; i++) results.push(await call(gw.port, KINDS[i % KINDS.length], `s1-${i}`));
    assert.deepEqual(results.map((r) => r.status), results.map(() => 200), 'billable calls still served');
    const m = await metrics(gw);
    await pg('start');
    const f = await settle(db.conninfo, 's1-', results);
    assert.equal(f.lost, 0);
    assert.equal(f.doubled, 0);
    assert.equal(f.ledger, f.told);
    console.log(`# spool cap 1 MiB: ${m.tollgate_log_spool_dropped_total} refusals dropped, ` +
      `${f.answered200} billable calls served and recorded (spool_writable=${m.tollgate_log_spool_writable})`);
  } finally {
    if (gw) await gw.stop('SIGKILL');
    await pg('start').catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
});
