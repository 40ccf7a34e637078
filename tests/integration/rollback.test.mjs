// Reloads that cannot go ahead at once (issue 11 items 6 and 11).
//
// A reload whose new workers cannot all be forked, with a real fault: the
// master is moved into a pids cgroup (v1 or v2) whose pids.max lets one more
// process in, so the reload's second fork fails with EAGAIN. The reload must be
// rolled back: the worker that did start is stopped, the old generation keeps
// serving every position, audit_log says reload_failed, and the next reload
// works. Skipped where no pids cgroup can be made (not root, no pids controller).
//
// A SIGHUP while the previous generation still finishes a call waits for it:
// logged once however many SIGHUPs come, the call is not cut, then it runs.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { freePort, gatewayConfig, request, startGateway, startMock, tmpdir, waitFor } from './lib.mjs';
import { createDb, migrate, requirePg, rows } from './db.mjs';

let gw, mock, db, cfg, dir, cg;

// Where the pids controller is mounted: { root, v2 }, or null.
function pidsHierarchy() {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!post) continue;
    const [fstype, , opts = ''] = post.split(' ');
    const mnt = pre.split(' ')[4];
    if (fstype === 'cgroup' && opts.split(',').includes('pids')) return { root: mnt, v2: false };
    if (fstype === 'cgroup2') {
      try {
        if (readFileSync(`${mnt}/cgroup.controllers`, 'utf8').split(/\s+/).includes('pids')) return { root: mnt, v2: true };
      } catch { /* not readable: try the next mount */ }
    }
  }
  return null;
}

// A fresh pids cgroup: { dir, home(pid) } where home is the pid's own cgroup directory; or a reason string.
function makePidsCgroup() {
  const h = pidsHierarchy();
  if (h === null) return 'no pids cgroup controller is mounted';
  // what an interrupted earlier run left: empty by now, so rmdir takes it
  try {
    for (const e of readdirSync(h.root)) if (e.startsWith('tollgate-rollback-')) try { rmdirSync(`${h.root}/${e}`); } catch { /* busy */ }
  } catch { /* unreadable root: mkdir below says why */ }
  const dirName = `${h.root}/tollgate-rollback-${process.pid}-${Date.now()}`;
  try {
    if (h.v2) {
      try { writeFileSync(`${h.root}/cgroup.subtree_control`, '+pids'); } catch { /* may be on already */ }
    }
    mkdirSync(dirName);
  } catch (e) {
    return `could not create a pids cgroup under ${h.root}: ${e.message}`;
  }
  if (!existsSync(`${dirName}/pids.max`)) {
    rmdirSync(dirName);
    return `the cgroup under ${h.root} has no pids.max`;
  }
  const home = (pid) => {
    for (const l of readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')) {
      const [, ctrls, p] = l.split(':');
      if (p !== undefined && (h.v2 ? ctrls === '' : ctrls.split(',').includes('pids'))) return `${h.root}${p}`;
    }
    throw new Error(`no pids cgroup for pid ${pid}`);
  };
  return { dir: dirName, home };
}

before(async () => {
  requirePg();
  db = await createDb('rollback');
  dir = tmpdir('tollgate-rollback-');
  // every provider call takes 3 s: long enough to hold an old generation, short of its 5 s stop deadline
  mock = await startMock({ seed: 11, args: ['--latency-ms', '3000'] });
  cfg = gatewayConfig({ port: await freePort(), mockPort: mock.port, stateDir: `${dir}/state`, workers: 2 });
  cfg.database.conninfo = db.conninfo;
  migrate(cfg, dir);
  gw = await startGateway(cfg, { dir });
});

after(async () => {
  if (gw) await gw.stop('SIGKILL');
  if (cg?.dir) {
    // the master's children follow it out (PR_SET_PDEATHSIG); rmdir needs the cgroup empty
    await waitFor('the test cgroup to empty', () => readFileSync(`${cg.dir}/cgroup.procs`, 'utf8').trim() === '', 5000)
      .then(() => rmdirSync(cg.dir), () => {});
  }
  if (mock) await mock.stop('SIGKILL');
  if (db) await db.drop();
});

async function generationsServing(n) {
  const seen = new Map();
  for (let i = 0; i < n; i++) {
    const r = await request(gw.port, 'GET', '/healthz');
    assert.equal(r.status, 200);
    seen.set(r.json.pid, r.json.generation);
  }
  return seen;
}

test('a reload whose second fork fails is rolled back: the old generation serves, audited as failed', async (t) => {
  const made = makePidsCgroup();
  if (typeof made === 'string') {
    t.skip(made);
    return;
  }
  cg = made;
  const before = await waitFor('both workers of generation 1', async () => {
    const s = await generationsServing(20);
    return s.size === 2 ? s : undefined;
  });
  const home = cg.home(gw.pid);

  // the master alone in a cgroup with room for one more process: the first fork works, the second fails
  writeFileSync(`${cg.dir}/cgroup.procs`, String(gw.pid));
  const inside = Number(readFileSync(`${cg.dir}/pids.current`, 'utf8'));
  writeFileSync(`${cg.dir}/pids.max`, String(inside + 1));
  writeFileSync(gw.cfgPath, JSON.stringify({ ...cfg, models: { ...cfg.models,
    'rolled-back-model': { provider: 'openai', upstream: 'gpt-4o-mini', price_per_mtok: { input: '1', output: '2' } } } }));
  gw.signal('SIGHUP');
  try {
    await gw.waitLog(/could not fork a worker: Resource temporarily unavailable/, 5000);
    await gw.waitLog(/could not reload, rolled back to generation=1: could not fork worker 2 of 2: Resource temporarily unavailable/, 5000);
  } finally {
    writeFileSync(`${cg.dir}/pids.max`, 'max');
    writeFileSync(`${home}/cgroup.procs`, String(gw.pid));
  }

  // the one new worker that started is stopped; the old ones stay, past the old 5 s readiness wait
  await gw.waitLog(/worker pid=\d+ slot=\d+ exited: .*generation=2/, 10000);
  // not a wait for a condition but past a timer: the old code retired the old generation
  // anyway once the new one had not all reported ready within 5 s
  await new Promise((r) => setTimeout(r, 5500));
  const after = await generationsServing(40);
  assert.deepEqual([...after.entries()].sort(), [...before.entries()].sort(), 'the same two generation-1 workers serve');
  assert.ok(!gw.logged(/reloaded generation=2/), 'a rolled-back reload is not a reload');
  const models = await request(gw.port, 'GET', '/v1/models');
  assert.ok(!models.json.data.some((m) => m.id === 'rolled-back-model'), 'the old config serves');

  const audit = async () => rows(db.conninfo, "SELECT event, detail->>'generation', detail->>'serving_generation', " +
    "detail->>'reason' FROM audit_log WHERE event LIKE 'reload%' ORDER BY at, id");
  const failed = await waitFor('the reload_failed audit row', async () => (await audit()).find((r) => r[0] === 'reload_failed'), 15000, 50);
  assert.deepEqual(failed.slice(0, 3), ['reload_failed', '2', '1']);
  assert.match(failed[3], /^could not fork worker 2 of 2: Resource temporarily unavailable$/);
  assert.equal((await audit()).filter((r) => r[0] === 'reload').length, 0, 'no reload audited as a success');

  // with room again the same file reloads, as a generation of its own
  gw.signal('SIGHUP');
  await gw.waitLog(/reloaded generation=3 /, 10000);
  await waitFor('the new model on every worker', async () => {
    for (let i = 0; i < 6; i++) {
      const r = await request(gw.port, 'GET', '/v1/models');
      if (!r.json.data.some((m) => m.id === 'rolled-back-model')) return false;
    }
    return true;
  }, 10000, 20);
  await waitFor('the reload in audit_log', async () => (await audit()).some((r) => r[0] === 'reload' && r[1] === '3'), 15000, 50);
});

test('a SIGHUP while the old generation finishes a call waits for it, logged once, and cuts nothing', async () => {
  const reloads = () => gw.lines.filter((l) => /reloaded generation=\d+ /.test(l)).length;
  const deferrals = () => gw.lines.filter((l) => /reload deferred/.test(l)).length;
  const gen = (await request(gw.port, 'GET', '/healthz')).json.generation;
  const numbers = (re) => new Set(gw.lines.map((l) => (l.match(re) || [])[1]).filter(Boolean).map(Number));
  await waitFor('every generation but the serving one gone', () => {
    const gone = numbers(/generation=(\d+) is gone/);
    return [...numbers(/started worker .* generation=(\d+)/)].every((g) => g === gen || gone.has(g));
  }, 10000);
  const calls = async () => (await request(mock.port, 'GET', '/__mock/stats')).json.total;
  const before = await calls();
  const call = request(gw.port, 'POST', '/v1/messages', {
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: { model: 'claude-haiku-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hold on' }] } });
  await waitFor('the call to reach the provider', async () => (await calls()) > before, 5000);

  const [r0, d0] = [reloads(), deferrals()];
  gw.signal('SIGHUP');
  await waitFor('the first reload', () => reloads() > r0, 10000);
  for (let i = 0; i < 3; i++) gw.signal('SIGHUP');
  await gw.waitLog(new RegExp(`reload deferred until generation=${gen} is gone`), 5000);
  const answer = await call;
  assert.equal(answer.status, 200, `the call across two SIGHUPs: ${answer.text}`);
  assert.match(answer.text, /"stop_reason"/);
  await waitFor('the deferred reload', () => reloads() > r0 + 1, 10000);
  assert.equal(deferrals() - d0, 1, 'the wait is logged once, however many SIGHUPs came');
});
