// The log pipeline's bookkeeping (issue 7), with no fault injected: 10,000
// calls of all three families become exactly 10,000 rows whose summed cost is
// what the clients were told to the last digit; refusals are rows too; starts
// and reloads are in audit_log with the config's hash.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { PRICES, freePort, gatewayConfig, request, startGateway, startMock, tmpdir, waitFor } from './lib.mjs';
import { costUsd, normalise } from './money.mjs';
import {
  CLIENT_KEY, KINDS, call, checkLedger, createDb, formatUsd, keepAliveAgent, load, migrate, requirePg,
  metrics, rows, summarise, tally, usdToPico,
} from './db.mjs';

let gw, mock, db, cfg, dir;

before(async () => {
  requirePg();
  db = await createDb('pipeline');
  mock = await startMock({ seed: 11, args: ['--latency-ms', '0'] });
  const port = await freePort();
  dir = tmpdir('tollgate-pipeline-');
  cfg = gatewayConfig({ port, mockPort: mock.port, stateDir: `${dir}/state`, workers: 2,
    extra: { keys: [{ name: 'pipeline', sha256: createHash('sha256').update(CLIENT_KEY).digest('hex') }] } });
  cfg.database.conninfo = db.conninfo;
  // 4096 records per worker ring: room for the whole run even if the logger
  // falls behind the load on a busy machine (the overload test below uses a small ring)
  cfg.database.ring_records = 262144;
  migrate(cfg, dir);
  gw = await startGateway(cfg, { dir });
});

after(async () => {
  if (gw) await gw.stop('SIGKILL');
  if (mock) await mock.stop('SIGKILL');
  if (db) await db.drop();
});

test('10,000 calls → exactly 10,000 rows; summed cost_usd equals what the clients were told', async () => {
  const N = 10000;
  const t0 = Date.now();
  const agent = keepAliveAgent(50);
  const results = await load(gw.port, { prefix: 'p1-', total: N, concurrency: 50, agent }).done
    .finally(() => agent.destroy());
  const elapsed = Date.now() - t0;
  const s = summarise(results);
  assert.equal(s.answered.length, N, `every call answered: ${JSON.stringify(s.errors)}`);
  assert.deepEqual(s.statuses, { 200: N });
  assert.equal(results.filter((r) => r.cost > 0n).length, N, 'every call reported a non-zero cost');
  // and the header is right, by the tests' own arithmetic from each non-streamed reply's usage
  const MODEL = { anthropic: 'claude-haiku-4-5', openai: 'gpt-4o-mini', gemini: 'gemini-2.5-flash' };
  for (const r of results) {
    const kind = KINDS[Number(r.clientId.slice(3)) % KINDS.length];
    if (kind.stream) continue;
    const j = JSON.parse(r.text);
    const want = costUsd(PRICES[MODEL[kind.family]], normalise(kind.family, kind.family === 'gemini' ? j.usageMetadata : j.usage));
    assert.equal(formatUsd(r.cost), want, `${r.clientId}`);
  }

  const t1 = Date.now();
  await waitFor('10,000 rows in requests', async () => (await tally(db.conninfo, 'p1-')).count >= N, 30000, 100);
  const lag = Date.now() - t1;
  const first = await tally(db.conninfo, 'p1-');
  // the count has reached N: it must stay there (nothing late, nothing doubled)
  await new Promise((r) => setTimeout(r, 500));
  const again = await tally(db.conninfo, 'p1-');
  assert.equal(first.count, N);
  assert.equal(again.count, N);
  assert.equal(usdToPico(again.sum), s.cost, `SUM(cost_usd)=${again.sum} vs the clients' ${formatUsd(s.cost)}`);

  // every gateway request id once, every client id once, each with its own cost
  const figures = await checkLedger(assert, db.conninfo, 'p1-', results);
  assert.equal(figures.rows, N);
  assert.equal(figures.dbCost, s.cost);
  const [[distinct]] = await rows(db.conninfo,
    "SELECT count(DISTINCT request_id) FROM requests WHERE client_request_id LIKE 'p1-%'");
  assert.equal(Number(distinct), N);
  // one attempt per call (no retries here), and the attempts add up to the same money
  const [[attemptRows, attemptSum]] = await rows(db.conninfo, `SELECT count(*), sum(a.cost_usd)::text
    FROM attempts a JOIN requests r USING (request_id) WHERE r.client_request_id LIKE 'p1-%'`);
  assert.equal(Number(attemptRows), N);
  assert.equal(usdToPico(attemptSum), s.cost);
  // the mix reached the database as sent: 3 endpoints' worth of each, half of them streamed
  const mix = await rows(db.conninfo, `SELECT endpoint, stream, count(*) FROM requests
    WHERE client_request_id LIKE 'p1-%' GROUP BY 1, 2 ORDER BY 1, 2`);
  assert.equal(mix.filter((m) => m[1] === 't').reduce((a, m) => a + Number(m[2]), 0), N / 2, JSON.stringify(mix));
  console.log(`# 10,000 calls in ${elapsed} ms (${Math.round(N / (elapsed / 1000))}/s); ` +
    `all rows in the database ${lag} ms after the last answer; SUM(cost_usd)=${again.sum} USD`);
});

test('refused calls are rows too, with their outcome and status', async () => {
  const bad = [
    [KINDS[2], { body: '{"model": "gpt-4o-mini", "messages": [' }, 400],
    [KINDS[2], { body: { model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] } }, 404],
    [KINDS[0], { body: { model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'x' }] } }, 400],
    [KINDS[4], { pathOverride: '/v1beta/models/no-such-model:generateContent' }, 404],
  ];
  const got = [];
  for (const [i, [kind, opts, status]] of bad.entries()) {
    const r = await call(gw.port, kind, `p7-${i}`, opts);
    assert.ok(r.answered, r.error);
    assert.equal(r.status, status, r.text);
    got.push(r);
  }
  // a wrong key: refused before anything else, and only counted (issue 12: a keyless flood
  // must not fill the spool), with one audit entry summing such refusals per worker and period
  const before401 = (await metrics(gw)).tollgate_refused_unauthenticated_total;
  const unauth = await request(gw.port, 'POST', '/v1/chat/completions', {
    headers: { 'content-type': 'application/json', authorization: 'Bearer wrong', 'x-request-id': 'p7-401' },
    body: { model: 'gpt-4o-mini', messages: [] } });
  assert.equal(unauth.status, 401);
  assert.equal((await metrics(gw)).tollgate_refused_unauthenticated_total, before401 + 1);
  await waitFor('an audit entry for refused keyless calls', async () => Number((await rows(db.conninfo,
    `SELECT count(*) FROM audit_log WHERE event = 'unauthenticated_refused'`))[0][0]) > 0, 10000, 50);

  await waitFor('refusals in requests', async () => (await tally(db.conninfo, 'p7-')).count >= got.length, 10000, 50);
  const recs = await rows(db.conninfo, `SELECT client_request_id, request_id, status, outcome, cost_usd::text, error, endpoint
    FROM requests WHERE client_request_id LIKE 'p7-%' ORDER BY client_request_id`);
  assert.equal(recs.length, got.length, 'the keyless call is not a row');
  const by = new Map(recs.map((r) => [r[0], r]));
  for (const g of got) {
    const [, rid, status, outcome, cost, error, endpoint] = by.get(g.clientId);
    assert.equal(rid, g.requestId);
    assert.equal(Number(status), g.status);
    assert.equal(outcome, 'client_error');
    assert.equal(cost, '0.000000000000');
    assert.ok(error.length > 0, 'the reason is kept');
    assert.ok(endpoint.startsWith('/v1'), endpoint);
  }
  // the invalid client id itself cannot be stored: the row is found by the gateway's id
  const badId = await request(gw.port, 'POST', '/v1/chat/completions', {
    headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_KEY}`, 'x-request-id': 'x'.repeat(256) },
    body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] } });
  assert.equal(badId.status, 400);
  const rid = badId.headers['x-request-id'];
  const row = await waitFor('the bad-id refusal row', async () => {
    const r = await rows(db.conninfo, `SELECT status, outcome, client_request_id FROM requests WHERE request_id = '${rid}'`);
    return r.length ? r[0] : undefined;
  }, 10000, 50);
  assert.deepEqual(row, ['400', 'client_error', '']);
});

test('audit_log has the start and each reload, with the config sha256', async () => {
  const sha = (p) => createHash('sha256').update(readFileSync(p)).digest('hex');
  const startSha = sha(gw.cfgPath);
  const audit = async () => rows(db.conninfo,
    "SELECT event, actor, detail->>'config_sha256', detail->>'generation' FROM audit_log ORDER BY at, id");
  await waitFor('the start audit row', async () => (await audit()).some((r) => r[0] === 'start'), 10000, 50);
  const starts = (await audit()).filter((r) => r[0] === 'start');
  assert.deepEqual(starts, [['start', 'master', startSha, '1']]);

  // two reloads: the config changes each time, and each hash is recorded
  const shas = [];
  for (const [gen, bytes] of [[2, 65536], [3, 131072]]) {
    const c = { ...cfg, max_body_bytes: bytes };
    writeFileSync(gw.cfgPath, JSON.stringify(c, null, 2));
    shas.push(sha(gw.cfgPath));
    gw.signal('SIGHUP');
    await gw.waitLog(new RegExp(`reloaded generation=${gen} config_sha256=${shas.at(-1)}`), 10000);
    await waitFor(`reload ${gen} in audit_log`, async () =>
      (await audit()).some((r) => r[0] === 'reload' && r[3] === String(gen)), 15000, 50);
    // a SIGHUP while the previous generation still drains is refused, not queued: wait it out
    await waitFor(`generation ${gen - 1} gone`, () =>
      gw.lines.filter((l) => /worker pid=\d+ slot=\d+ exited: exit status 0/.test(l)).length >= 2 * (gen - 1), 10000);
  }
  const reloads = (await audit()).filter((r) => r[0] === 'reload');
  assert.deepEqual(reloads, [['reload', 'master', shas[0], '2'], ['reload', 'master', shas[1], '3']]);
  assert.notEqual(shas[0], startSha);

  // an invalid config is not a reload: no audit row, and calls are still served and recorded
  writeFileSync(gw.cfgPath, '{"listen": ');
  gw.signal('SIGHUP');
  await gw.waitLog(/could not reload, keeping the running configuration/, 5000);
  const r = await call(gw.port, KINDS[0], 'p8-after');
  assert.equal(r.status, 200);
  await waitFor('the call after the failed reload', async () => (await tally(db.conninfo, 'p8-')).count === 1, 10000, 50);
  assert.equal((await audit()).filter((x) => x[0] === 'reload').length, 2);
});

test('overload: a full ring refuses calls with 503 + Retry-After, and every call served is still recorded', async () => {
  // a second gateway, same database, with the smallest rings, whose logger writes once a
  // second (a batch is due by flush_ms only: batch_rows is more than the rings hold), so
  // the rings fill under 50 calls at a time however fast the logger writes
  const port = await freePort();
  const d = tmpdir('tollgate-overload-');
  const c = { ...cfg, listen: `127.0.0.1:${port}`, state_dir: `${d}/state`,
    admin: { ...cfg.admin, listen: `${d}/state/admin.sock` },
    database: { ...cfg.database, ring_records: 1024, batch_rows: 2048, flush_ms: 1000 } };
  const small = await startGateway(c, { dir: d });
  try {
    const agent = keepAliveAgent(50);
    const results = await load(port, { prefix: 'p9-', total: 3000, concurrency: 50, agent }).done
      .finally(() => agent.destroy());
    const s = summarise(results);
    assert.equal(s.unanswered.length, 0, JSON.stringify(s.errors));
    assert.ok(s.statuses[503] > 0, `the ring filled: ${JSON.stringify(s.statuses)}`);
    for (const r of s.answered.filter((x) => x.status === 503)) {
      assert.equal(r.retryAfter, '1');
      assert.match(r.text, /calls cannot be recorded right now/);
    }
    const m = await waitFor('the rings drained', async () => {
      const x = await metrics(small);
      return x.tollgate_log_ring_used === 0 ? x : undefined;
    }, 15000, 50);
    const served = s.answered.filter((r) => r.status === 200);
    const inDb = new Set((await rows(db.conninfo,
      "SELECT client_request_id FROM requests WHERE client_request_id LIKE 'p9-%' AND status = 200")).map((r) => r[0]));
    const lost = served.filter((r) => !inDb.has(r.clientId));
    console.log(`# overload: ${JSON.stringify(s.statuses)}; ring overflow ${m.tollgate_log_ring_overflow_total}, ` +
      `backpressure ${m.tollgate_log_backpressure_total}; served but not recorded: ${lost.length}`);
    assert.equal(lost.length, 0, `${lost.length} of ${served.length} calls answered 200 are not in the database ` +
      `(e.g. ${lost.slice(0, 3).map((r) => r.requestId).join(', ')})`);
    // the 200s are exactly right; a 503 refused because the ring was full is recorded when
    // it takes no slot a served call counts on, else only counted (ring overflow)
    const all = await rows(db.conninfo, `SELECT client_request_id, status, cost_usd::text
      FROM requests WHERE client_request_id LIKE 'p9-%'`);
    const byStatus = new Map(s.answered.map((r) => [r.clientId, r.status]));
    const seen = new Set();
    let dbCost = 0n;
    for (const [cid, status, cost] of all) {
      assert.ok(!seen.has(cid), `${cid} recorded twice`);
      seen.add(cid);
      assert.equal(Number(status), byStatus.get(cid), `${cid}: the status the client saw`);
      if (Number(status) === 200) dbCost += usdToPico(cost);
    }
    assert.equal(dbCost, served.reduce((t, r) => t + r.cost, 0n), 'recorded cost of the 200s');
  } finally {
    await small.stop('SIGKILL');
  }
});
