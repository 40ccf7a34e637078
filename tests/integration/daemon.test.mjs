// The daemon's skeleton (issue 2): every worker serves, a killed worker is
// replaced, reloads keep serving (broken config) or take effect (valid one),
// SIGTERM exits 0 in time, and a SIGHUP under wrk load loses nothing.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import {
  TOLLGATE, ROOT, freePort, gatewayConfig, request, startGateway, tmpdir, waitFor, PROVIDER_ENV,
} from './lib.mjs';

let gw, cfg;

before(async () => {
  const port = await freePort();
  cfg = gatewayConfig({ port, mockPort: 9, stateDir: tmpdir('tollgate-state-'), workers: 2 });
  gw = await startGateway(cfg);
});

after(async () => { if (gw) await gw.stop('SIGKILL'); });

async function pidsSeen(want, timeoutMs = 5000) {
  const pids = new Map();
  await waitFor(`${want} distinct workers`, async () => {
    const r = await request(gw.port, 'GET', '/healthz');
    assert.equal(r.status, 200);
    pids.set(r.json.pid, r.json);
    return pids.size >= want;
  }, timeoutMs, 1);
  return pids;
}

test('tollgate -t accepts the shipped configs', () => {
  for (const f of ['etc/tollgate.json', 'etc/tollgate.demo.json']) {
    const out = execFileSync(TOLLGATE, ['-t', '-c', f], {
      cwd: ROOT, encoding: 'utf8',
      env: { ...process.env, ANTHROPIC_API_KEY: 'k', GEMINI_API_KEY: 'k', OPENAI_API_KEY: 'k' },
    });
    assert.match(out, /configuration is valid/);
  }
});

test('tollgate -t rejects a broken config with the JSON path, exit 1', () => {
  const dir = tmpdir();
  writeFileSync(`${dir}/bad.json`, JSON.stringify({ ...cfg, workers: 'two' }));
  let err;
  try {
    execFileSync(TOLLGATE, ['-t', '-c', `${dir}/bad.json`], { env: { ...process.env, ...PROVIDER_ENV }, stdio: 'pipe' });
  } catch (e) { err = e; }
  assert.ok(err, 'tollgate -t should fail');
  assert.equal(err.status, 1);
  assert.match(err.stderr.toString(), /bad\.json: workers: /);
});

test('every worker answers /healthz, /readyz says ready, unknown paths get a JSON 404', async () => {
  const pids = await pidsSeen(2);
  assert.equal(pids.size, 2);
  for (const w of pids.values()) assert.equal(w.generation, 1);
  const ready = await waitFor('readyz 200', async () => (await request(gw.admin, 'GET', '/readyz')).status === 200 || undefined);
  assert.ok(ready);
  const r = await request(gw.port, 'GET', '/nope');
  assert.equal(r.status, 404);
  assert.match(r.json.error.message, /no route for \/nope/);
  assert.match(r.headers['x-request-id'], /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);
});

test('/readyz, /metrics and /admin/* answer 404 on the client port; /healthz on both', async () => {
  for (const [method, p] of [['GET', '/readyz'], ['GET', '/metrics'], ['GET', '/admin/breakers'],
    ['GET', '/admin/keys'], ['POST', '/admin/keys'], ['GET', '/admin/spend'], ['POST', '/admin/breakers/openai/reset']]) {
    const r = await request(gw.port, method, p);
    assert.equal(r.status, 404, `${method} ${p} on the client port: ${r.status} ${r.text}`);
    assert.match(r.json.error.message, /served on the admin listener only \(admin\.listen\)/);
  }
  assert.equal((await request(gw.port, 'GET', '/healthz')).status, 200);
  assert.equal((await request(gw.admin, 'GET', '/healthz')).status, 200);
  // and the client's own endpoints are not on the admin listener
  assert.equal((await request(gw.admin, 'GET', '/v1/models')).status, 404);
});

test('accepting is balanced: under wrk both workers serve a fair share', async () => {
  const perSlot = async () => {
    const text = (await request(gw.admin, 'GET', '/metrics')).text;
    return Object.fromEntries([...text.matchAll(/^tollgate_worker_requests_total\{slot="(\d+)"\} (\d+)$/gm)]
      .map((m) => [m[1], Number(m[2])]));
  };
  const before = await perSlot();
  execFileSync('wrk', ['-t2', '-c32', '-d2s', `http://127.0.0.1:${gw.port}/healthz`], { stdio: 'ignore' });
  const after = await perSlot();
  const served = Object.keys(after).map((k) => after[k] - (before[k] || 0));
  assert.equal(served.length, 2, JSON.stringify(after));
  const total = served.reduce((a, b) => a + b, 0);
  assert.ok(total > 1000, `wrk made too few requests: ${total}`);
  for (const n of served)
    assert.ok(n > total * 0.2, `one worker served ${n} of ${total}: ${JSON.stringify(served)}`);
});

test('a worker killed with SIGKILL is replaced within 2 s', async () => {
  const before = await pidsSeen(2);
  const victim = [...before.keys()][0];
  const t0 = Date.now();
  process.kill(victim, 'SIGKILL');
  await gw.waitLog(new RegExp(`worker pid=${victim} slot=\\d+ died: killed by signal 9`), 2000);
  const fresh = new Map();
  await waitFor('a replacement worker serving', async () => {
    const r = await request(gw.port, 'GET', '/healthz');
    if (r.json.pid !== victim && !before.has(r.json.pid)) fresh.set(r.json.pid, true);
    return fresh.size > 0;
  }, 2000 - (Date.now() - t0), 1);
});

test('SIGHUP with a broken config keeps serving and logs why', async () => {
  const good = JSON.stringify(cfg);
  writeFileSync(gw.cfgPath, good.replace('"workers":2', '"workers":"many"'));
  gw.signal('SIGHUP');
  await gw.waitLog(/could not reload, keeping the running configuration: .*workers: expected/);
  const r = await request(gw.port, 'GET', '/healthz');
  assert.equal(r.status, 200);
  assert.equal(r.json.generation, 1);
  writeFileSync(gw.cfgPath, good);
});

test('SIGHUP with a valid changed config starts a new generation that serves it', async () => {
  cfg = { ...cfg, models: { ...cfg.models, 'reloaded-model': { provider: 'openai', upstream: 'gpt-4o-mini',
    price_per_mtok: { input: '1', output: '2' } } } };
  writeFileSync(gw.cfgPath, JSON.stringify(cfg));
  gw.signal('SIGHUP');
  await gw.waitLog(/reloaded generation=2/);
  const gen2 = new Map();
  await waitFor('2 workers of generation 2', async () => {
    const r = await request(gw.port, 'GET', '/healthz');
    if (r.json.generation === 2) gen2.set(r.json.pid, true);
    return gen2.size >= 2;
  }, 5000, 1);
  await waitFor('the new model to be listed by every worker', async () => {
    for (let i = 0; i < 6; i++) {
      const r = await request(gw.port, 'GET', '/v1/models');
      if (!r.json.data.some((m) => m.id === 'reloaded-model')) return false;
    }
    return true;
  }, 5000, 20);
});

test('a second SIGHUP during a reload is deferred, not lost; growing workers needs a restart', async () => {
  await waitFor('the previous generation to be gone', () => gw.logged(/worker pid=\d+ slot=\d+ exited/), 5000);
  cfg = { ...cfg, shutdown_timeout_ms: 4000 };
  writeFileSync(gw.cfgPath, JSON.stringify(cfg));
  gw.signal('SIGHUP');
  await gw.waitLog(/reloaded generation=3/, 8000);
  // generation 2 is still draining: this one must wait for it, then run
  gw.signal('SIGHUP');
  await gw.waitLog(/reloaded generation=4/, 8000);
  writeFileSync(gw.cfgPath, JSON.stringify({ ...cfg, workers: 5 }));
  gw.signal('SIGHUP');
  await gw.waitLog(/could not reload, keeping the running configuration: workers can grow to 2 without a restart/, 8000);
  writeFileSync(gw.cfgPath, JSON.stringify(cfg));
});

test('a SIGHUP under wrk load: zero socket errors, zero non-2xx', async () => {
  const wrk = spawn('wrk', ['-t2', '-c64', '-d6s', `http://127.0.0.1:${gw.port}/healthz`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  wrk.stdout.on('data', (c) => { out += c; });
  const done = new Promise((r) => wrk.on('exit', r));
  await new Promise((r) => setTimeout(r, 2500)); // mid-run: the load is the point, not a wait for state
  gw.signal('SIGHUP');
  await gw.waitLog(/reloaded generation=5/, 8000);
  await done;
  const reqs = Number((out.match(/(\d+) requests in/) || [])[1]);
  assert.ok(reqs > 1000, `wrk made too few requests:\n${out}`);
  assert.doesNotMatch(out, /Socket errors/, out);
  assert.doesNotMatch(out, /Non-2xx/, out);
});

test('SIGTERM stops with exit status 0 within shutdown_timeout_ms', async () => {
  const t0 = Date.now();
  gw.signal('SIGTERM');
  const { code } = await gw.exited;
  assert.equal(code, 0);
  assert.ok(Date.now() - t0 < cfg.shutdown_timeout_ms + 2000, `took ${Date.now() - t0} ms`);
  assert.ok(gw.logged(/stopped/));
});
