// The admin API on its own listener (issue 14 items 3 and 4, SPEC sections 5 and
// 14): keys created, listed, changed and revoked over JSON through the logger
// (a worker never talks to PostgreSQL), each answered once the master has
// published the change to the shared key table; the ledger's spend per key and
// period; bad input named; PostgreSQL away answered 503 with nothing written;
// every change in audit_log with the acting admin key's name and never a
// secret or a hash; the budget and refusal metrics; and /readyz, /metrics and
// /admin/* never on the client port. The keys command and the API see the same
// keys.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createDb, formatUsd, psql, requirePg, rows, usdToPico, withDbname } from './db.mjs';
import {
  PROVIDER_ENV, ROOT, TOLLGATE, adminRequest, freePort, gatewayConfig, request, startGateway, startMock,
  tmpdir, waitFor,
} from './lib.mjs';

const sha = (s) => createHash('sha256').update(s).digest('hex');
const OPS = 'admin-ops-secret';
const AUDITOR = 'admin-auditor-secret';
const FILE_KEY = 'file-key-secret';
let db, dir, cfg, cfgPath, gw, mock;

const admin = (method, p, body, key = OPS) => adminRequest(gw, method, p, { key, body });

function keysCli(args) {
  const r = spawnSync(TOLLGATE, ['keys', '-c', cfgPath, ...args],
    { cwd: ROOT, env: { ...process.env, ...PROVIDER_ENV }, encoding: 'utf8', timeout: 30000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

// A chat call with a client key, to see whether the key authenticates.
const chat = (secret) => request(gw.port, 'POST', '/v1/chat/completions', {
  headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
  body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] } });

// What the one call made with app-1 cost (the create test makes it): its spend from then on.
let callCost = 0n;

before(async () => {
  db = await createDb('admin', requirePg());
  mock = await startMock({ seed: 5, args: ['--latency-ms', '0'] });
  dir = tmpdir('tollgate-admin-');
  cfg = gatewayConfig({ port: await freePort(), mockPort: mock.port, stateDir: path.join(dir, 'state'), extra: {
    keys: [{ name: 'file-key', sha256: sha(FILE_KEY) }],
    admin: { keys: [{ name: 'ops', sha256: sha(OPS) }, { name: 'auditor', sha256: sha(AUDITOR) }] },
  } });
  cfg.database.conninfo = db.conninfo;
  cfg.models['gpt-4o-mini'].max_output_tokens = 1000;
  cfgPath = path.join(dir, 'tollgate.json');
  writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
  const m = spawnSync(TOLLGATE, ['migrate', '-c', cfgPath], { cwd: ROOT, env: { ...process.env, ...PROVIDER_ENV }, encoding: 'utf8' });
  assert.equal(m.status, 0, m.stderr);
  gw = await startGateway(cfg, { dir });
  // admin changes go through the logger's connection: ready to serve is not yet connected
  await waitFor('the logger connected to PostgreSQL', async () =>
    /^tollgate_log_db_up 1$/m.test((await request(gw.admin, 'GET', '/metrics')).text), 10000);
});

after(async () => {
  if (gw) await gw.stop('SIGKILL');
  if (mock) await mock.stop('SIGKILL');
  if (db) await db.drop();
});

test('the admin socket has mode 0660; /readyz, /metrics and /admin/* are not on the client port', async () => {
  const st = statSync(cfg.admin.listen);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o660);
  for (const [method, p] of [['GET', '/readyz'], ['GET', '/metrics'], ['GET', '/admin/keys'],
    ['POST', '/admin/keys'], ['GET', '/admin/spend'], ['GET', '/admin/breakers']]) {
    const r = await request(gw.port, method, p, { headers: { authorization: `Bearer ${OPS}` } });
    assert.equal(r.status, 404, `${method} ${p}: ${r.text}`);
  }
  assert.equal((await request(gw.admin, 'GET', '/readyz')).status, 200);
  assert.equal((await request(gw.admin, 'GET', '/metrics')).status, 200);
});

test('admin keys: hashed, compared with every one, 401 without or with a wrong one', async () => {
  let r = await adminRequest(gw, 'GET', '/admin/keys');
  assert.equal(r.status, 401);
  assert.match(r.json.error.message, /missing admin key/);
  r = await adminRequest(gw, 'GET', '/admin/keys', { key: 'nope' });
  assert.equal(r.status, 401);
  assert.match(r.json.error.message, /invalid admin key/);
  r = await adminRequest(gw, 'GET', '/admin/keys', { key: FILE_KEY });
  assert.equal(r.status, 401, 'a client key is no admin key');
  for (const k of [OPS, AUDITOR]) assert.equal((await admin('GET', '/admin/keys', undefined, k)).status, 200);
});

let secret1;
const timings = {};

test('create: the secret once, the key in the shared table when the answer arrives, audited', async () => {
  let t0 = Date.now();
  let r = await admin('POST', '/admin/keys', { name: 'app-1', rpm: 600, tpm: 100000, budget_usd: '0.01',
    period: 'day', models: ['gpt-4o-mini', 'cheap'] });
  timings.create = Date.now() - t0;
  assert.equal(r.status, 201, r.text);
  secret1 = r.json.secret;
  assert.match(secret1, /^tg_[0-9A-Za-z]{40}$/);
  assert.equal(r.json.live, true);
  assert.equal(r.json.changed, true);
  assert.deepEqual({ ...r.json.key, created_at: undefined, spend: undefined }, {
    name: 'app-1', source: 'postgresql', prefix: secret1.slice(0, 8), rpm: 600, tpm: 100000, budget_usd: '0.01',
    period: 'day', models: ['gpt-4o-mini', 'cheap'], created_at: undefined, revoked: false, revoked_at: null,
    spend: undefined });
  assert.match(r.json.key.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  // the budget is live: its period's spend restored, exact figures
  assert.deepEqual({ ...r.json.key.spend, period_start: undefined }, { period: 'day', period_start: undefined,
    ready: true, spent_usd: '0', held_usd: '0', remaining_usd: '0.01', overrun_usd: '0' });
  // the master had published it before the worker answered
  assert.ok(gw.logged(new RegExp(`key added name=app-1 source=postgresql prefix=${secret1.slice(0, 8)}`)));
  assert.ok(gw.logged(/budget spend restored key=app-1 period=day/));

  // PostgreSQL has its hash and prefix, never the secret
  const [[hash, prefix]] = await rows(db.conninfo, "SELECT encode(sha256, 'hex'), prefix FROM api_keys WHERE name = 'app-1'");
  assert.deepEqual([hash, prefix], [sha(secret1), secret1.slice(0, 8)]);
  // listed by the API from the shared table, and by the keys command from PostgreSQL
  r = await admin('GET', '/admin/keys');
  assert.deepEqual(r.json.keys.map((k) => [k.name, k.source]), [['app-1', 'postgresql'], ['file-key', 'config']]);
  const cli = keysCli(['list']);
  assert.equal(cli.code, 0, cli.err);
  assert.match(cli.out, new RegExp(`^app-1\\s+${secret1.slice(0, 8)}\\s+600\\s+100000\\s+0.01\\s+day\\s+0\\s+gpt-4o-mini,cheap`, 'm'));
  // and the other way: a key the command made is in the API's list within a second
  const made = keysCli(['create', 'cli-made', '--rpm', '5']);
  assert.equal(made.code, 0, made.err);
  await waitFor('cli-made in /admin/keys', async () => (await admin('GET', '/admin/keys/cli-made')).status === 200, 2000);

  // a call with the new key works on the next request
  const c = await chat(secret1);
  assert.equal(c.status, 200, c.text);
  callCost = usdToPico(c.headers['x-tollgate-cost-usd']);
  timings.createAgain = [];
  for (let i = 0; i < 5; i++) {
    t0 = Date.now();
    r = await admin('POST', '/admin/keys', { name: `lat-${i}` });
    timings.createAgain.push(Date.now() - t0);
    assert.equal(r.status, 201, r.text);
  }
});

test('set: any field, exact budget, audited with what changed; nothing to change writes nothing', async () => {
  let t0 = Date.now();
  let r = await admin('POST', '/admin/keys/app-1', { rpm: 60, budget_usd: '0.020000000001', models: [] });
  timings.set = Date.now() - t0;
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.live, true);
  assert.equal(r.json.key.rpm, 60);
  assert.equal(r.json.key.budget_usd, '0.020000000001');
  assert.deepEqual(r.json.key.models, []);
  assert.equal(r.json.key.spend.remaining_usd, formatUsd(usdToPico('0.020000000001') - callCost));
  assert.ok(gw.logged(/key changed name=app-1 source=postgresql/));
  r = await admin('POST', '/admin/keys/app-1', { rpm: 60 });
  assert.equal(r.status, 200);
  assert.equal(r.json.changed, false);
  // budget removed, then given again over a month
  r = await admin('POST', '/admin/keys/app-1', { budget_usd: null, period: null });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual([r.json.key.budget_usd, r.json.key.period, r.json.key.spend], [null, null, null]);
  r = await admin('POST', '/admin/keys/app-1', { budget_usd: '5', period: 'month' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.key.spend.period, 'month');
  assert.equal(r.json.key.spend.ready, true);
  const changes = await rows(db.conninfo, `SELECT actor, detail->'changes' FROM audit_log
    WHERE event = 'key_updated' AND detail->>'key' = 'app-1' ORDER BY at, id`);
  assert.deepEqual(changes.map((c) => [c[0], JSON.parse(c[1])]), [
    ['admin:ops', { rpm: { from: 600, to: 60 }, budget_usd: { from: '0.01', to: '0.020000000001' },
      models: { from: ['gpt-4o-mini', 'cheap'], to: [] } }],
    ['admin:ops', { budget_usd: { from: '0.020000000001', to: null }, period: { from: 'day', to: null } }],
    ['admin:ops', { budget_usd: { from: null, to: '5' }, period: { from: null, to: 'month' } }],
  ]);
});

test('revoke: refused from the next request on, once the answer arrives; revoking again changes nothing', async () => {
  const t0 = Date.now();
  let r = await admin('POST', '/admin/keys/app-1/revoke', undefined, AUDITOR);
  timings.revoke = Date.now() - t0;
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.key.revoked, true);
  assert.match(r.json.key.revoked_at, /^\d{4}-/);
  assert.equal(r.json.live, true);
  assert.ok(gw.logged(/key revoked name=app-1 source=postgresql: refused from the next request on/));
  // the shared table says so to every worker: each listing (over new connections) agrees
  for (let i = 0; i < 4; i++)
    assert.equal((await admin('GET', '/admin/keys/app-1')).json.key.revoked, true);
  const c = await chat(secret1);
  assert.equal(c.status, 401, c.text);
  r = await admin('POST', '/admin/keys/app-1/revoke');
  assert.equal(r.status, 200);
  assert.equal(r.json.changed, false);
  assert.equal(r.json.message, 'already revoked');
  const cli = keysCli(['list']);
  assert.match(cli.out.split('\n').find((l) => l.startsWith('app-1 ')), /\d\d:\d\d:\d\d\s+postgresql$/);
});

test('bad input is refused naming it, and nothing is written', async () => {
  const before = await psql(db.conninfo, "SELECT md5(string_agg(api_keys::text, ',' ORDER BY name)) FROM api_keys");
  const audits = await psql(db.conninfo, 'SELECT count(*) FROM audit_log');
  const cases = [
    ['POST', '/admin/keys', { name: 'x1', budget_usd: 'ten', period: 'day' }, 400, /budget_usd: expected an amount of USD as a decimal string .* got "ten"/],
    ['POST', '/admin/keys', { name: 'x1', budget_usd: '-5', period: 'day' }, 400, /budget_usd: a budget cannot be negative, got "-5"/],
    ['POST', '/admin/keys', { name: 'x1', budget_usd: -5, period: 'day' }, 400, /budget_usd: a budget cannot be negative, got -5/],
    ['POST', '/admin/keys', { name: 'x1', budget_usd: '1e3', period: 'day' }, 400, /budget_usd: expected an amount of USD/],
    ['POST', '/admin/keys', { name: 'x1', budget_usd: '0.0000000000001', period: 'day' }, 400, /at most 12 decimals/],
    ['POST', '/admin/keys', { name: 'x1', budget_usd: '5', period: 'week' }, 400, /period: expected "day" \(UTC\) or "month" \(calendar, UTC\), got "week"/],
    ['POST', '/admin/keys', { name: 'x1', budget_usd: '5' }, 400, /budget_usd needs period/],
    ['POST', '/admin/keys', { name: 'x1', period: 'day' }, 400, /period needs budget_usd/],
    ['POST', '/admin/keys', { name: 'app-1' }, 409, /a key named "app-1" already exists \(nothing was changed\)/],
    ['POST', '/admin/keys', { name: 'file-key' }, 409, /"file-key" is a key of the config file .* \(keys\[0\]\): a name is either there or in PostgreSQL, never both/],
    ['POST', '/admin/keys', { name: 'x1', models: ['gpt-9'] }, 400, /models: "gpt-9" is neither a model nor a route of/],
    ['POST', '/admin/keys', { name: 'x1', models: 'gpt-4o-mini' }, 400, /models: expected an array of model or route names, got a string/],
    ['POST', '/admin/keys', { name: 'bad name' }, 400, /name: expected 1 to 63 letters, digits, '\.', '_' or '-', got "bad name"/],
    ['POST', '/admin/keys', { rpm: 5 }, 400, /name: required/],
    ['POST', '/admin/keys', { name: 'x1', rpm: -1 }, 400, /rpm: expected a whole number from 0 \(unlimited\) to 1000000000, got -1/],
    ['POST', '/admin/keys', { name: 'x1', tpm: 1.5 }, 400, /tpm: expected a whole number/],
    ['POST', '/admin/keys', { name: 'x1', colour: 'red' }, 400, /unknown field "colour": expected name, rpm, tpm, budget_usd, period, models/],
    ['POST', '/admin/keys', 'not json', 400, /body: invalid JSON/],
    ['POST', '/admin/keys', [], 400, /body: expected a JSON object, got an array/],
    ['POST', '/admin/keys/nobody', { rpm: 1 }, 404, /no key named "nobody" in PostgreSQL \(nothing was changed\)/],
    ['POST', '/admin/keys/file-key', { rpm: 1 }, 409, /is a key of the config file/],
    ['POST', '/admin/keys/file-key/revoke', undefined, 409, /is a key of the config file/],
    ['POST', '/admin/keys/cli-made', {}, 400, /nothing to change/],
    ['POST', '/admin/keys/cli-made', { name: 'other' }, 400, /name: a key cannot be renamed/],
    ['POST', '/admin/keys/cli-made', { period: 'day' }, 400, /period needs budget_usd: key "cli-made" has no budget yet/],
    ['POST', '/admin/keys/cli-made', { budget_usd: '1' }, 400, /budget_usd needs period \(day or month\): key "cli-made" has no budget period yet/],
    ['POST', '/admin/keys/cli-made', { period: null }, 400, /period: null removes the budget only with budget_usd: null/],
    ['POST', '/admin/keys/nobody/revoke', undefined, 404, /no key named "nobody" in PostgreSQL/],
    ['POST', '/admin/keys/cli-made/revoke', { now: true }, 400, /revoke takes no fields/],
    ['GET', '/admin/keys/nobody', undefined, 404, /no key named "nobody"/],
    ['GET', '/admin/keys/a/b', undefined, 404, /expected \/admin\/keys/],
    ['PUT', '/admin/keys', undefined, 405, /method not allowed/],
    ['GET', '/admin/spend?period=week', undefined, 400, /period: expected day \(UTC\) or month/],
    ['GET', '/admin/spend?periods=0', undefined, 400, /periods: expected a whole number from 1 to 120/],
    ['GET', '/admin/spend?period=day&periods=400', undefined, 400, /periods: expected a whole number from 1 to 366/],
    ['GET', '/admin/spend?key=bad%20name', undefined, 400, /key: expected a key name/],
    ['GET', '/admin/spend?key=nobody', undefined, 404, /no key named "nobody", and none in the ledger/],
  ];
  for (const [method, p, body, status, want] of cases) {
    const r = await admin(method, p, body);
    assert.equal(r.status, status, `${method} ${p} ${JSON.stringify(body)}: ${r.text}`);
    assert.match(r.json.error.message, want, `${method} ${p} ${JSON.stringify(body)}`);
    assert.equal(r.json.error.status, status);
  }
  assert.equal(await psql(db.conninfo, "SELECT md5(string_agg(api_keys::text, ',' ORDER BY name)) FROM api_keys"), before);
  assert.equal(await psql(db.conninfo, 'SELECT count(*) FROM audit_log'), audits, 'a refusal is no change: no audit row');
});

test('two creates of one name at once: one key, one 409', async () => {
  const [a, b] = await Promise.all([admin('POST', '/admin/keys', { name: 'race' }), admin('POST', '/admin/keys', { name: 'race' })]);
  assert.deepEqual([a.status, b.status].sort(), [201, 409]);
  assert.equal(await psql(db.conninfo, "SELECT count(*) FROM api_keys WHERE name = 'race'"), '1');
});

test('spend per key and period, from the ledger, with the live budget beside it', async () => {
  // rows as the logger writes them: today's, last month's, a shadow call (nobody's spend)
  await psql(db.conninfo, `INSERT INTO requests (request_id, created_at, key_name, endpoint, stream, status,
      outcome, attempts, input_tokens, output_tokens, reasoning_tokens, cache_read_tokens, cache_write_tokens,
      cost_usd, latency_us, ttfb_us, overhead_us, usage_complete, delivery) VALUES
    (gen_random_uuid(), now(), 'cli-made', '/v1/messages', false, 200, 'ok', 1, 1, 1, 0, 0, 0, 0.004, 1, 1, 1, true, 'delivered'),
    (gen_random_uuid(), now(), 'cli-made', '/v1/messages', false, 200, 'ok', 1, 1, 1, 0, 0, 0, 0.000000000001, 1, 1, 1, true, 'delivered'),
    (gen_random_uuid(), now(), 'cli-made', '/v1/messages', false, 429, 'refused', 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, true, 'delivered'),
    (gen_random_uuid(), date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '1 day', 'cli-made',
     '/v1/messages', false, 200, 'ok', 1, 1, 1, 0, 0, 0, 1.5, 1, 1, 1, true, 'delivered'),
    (gen_random_uuid(), now(), 'cli-made', 'shadow', false, 200, 'ok', 1, 1, 1, 0, 0, 0, 7, 1, 1, 1, true, 'delivered'),
    (gen_random_uuid(), now(), 'app-1', '/v1/messages', false, 200, 'ok', 1, 1, 1, 0, 0, 0, 0.25, 1, 1, 1, true, 'delivered')`);
  let r = await admin('GET', '/admin/spend');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.period, 'month');
  assert.equal(r.json.next, null);
  const byKey = Object.fromEntries(r.json.keys.map((k) => [k.key, k]));
  assert.deepEqual(byKey['cli-made'].periods.map((p) => [p.requests, p.spent_usd]), [[3, '0.004000000001']]);
  assert.equal(byKey['cli-made'].budget, null);
  assert.deepEqual(byKey['app-1'].periods.map((p) => p.spent_usd), [formatUsd(usdToPico('0.25') + callCost)]);
  // app-1's budget runs by month now: the live figures beside the ledger's
  assert.equal(byKey['app-1'].budget.budget_usd, '5');
  r = await admin('GET', '/admin/spend?key=cli-made&periods=2');
  assert.deepEqual(r.json.keys.map((k) => k.key), ['cli-made']);
  assert.deepEqual(r.json.keys[0].periods.map((p) => [p.requests, p.spent_usd]), [[1, '1.5'], [3, '0.004000000001']]);
  assert.ok(r.json.keys[0].periods[0].start < r.json.keys[0].periods[1].start);
  r = await admin('GET', '/admin/spend?period=day&key=lat-0');
  assert.deepEqual(r.json.keys, [{ key: 'lat-0', periods: [], budget: null }]);
  // paging by key: after= starts past a name
  r = await admin('GET', '/admin/spend?after=app-1');
  assert.deepEqual(r.json.keys.map((k) => k.key), ['cli-made']);
});

test('metrics: each budget exactly, and refusals by reason', async () => {
  await admin('POST', '/admin/keys', { name: 'budgeted', budget_usd: '0.000000000007', period: 'day' });
  const unauth = await chat('tg_not_a_key');
  assert.equal(unauth.status, 401);
  const text = (await request(gw.admin, 'GET', '/metrics')).text;
  assert.match(text, /^tollgate_budget_usd\{key="budgeted",period="day"\} 0\.000000000007$/m);
  assert.match(text, /^tollgate_budget_spent_usd\{key="budgeted",period="day"\} 0$/m);
  assert.match(text, /^tollgate_budget_held_usd\{key="budgeted",period="day"\} 0$/m);
  assert.match(text, /^tollgate_budget_usd\{key="app-1",period="month"\} 5$/m);
  assert.doesNotMatch(text, /key="cli-made"/, 'a key without a budget has no budget series');
  for (const reason of ['unauthenticated', 'rate_limited', 'revoked', 'budget', 'budget_not_ready', 'model_not_allowed'])
    assert.match(text, new RegExp(`^tollgate_refused_total\\{reason="${reason}"\\} \\d+$`, 'm'));
  const n = Number(text.match(/^tollgate_refused_total\{reason="unauthenticated"\} (\d+)$/m)[1]);
  assert.ok(n >= 1);
  assert.equal(n, Number(text.match(/^tollgate_refused_unauthenticated_total (\d+)$/m)[1]));
});

test('PostgreSQL away: 503 at once, nothing written; back: the same request works', async () => {
  const server = withDbname(db.conninfo, 'postgres');
  await psql(server, `ALTER DATABASE ${db.name} ALLOW_CONNECTIONS false`);
  await psql(server, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${db.name}'`);
  try {
    // the logger finds out on its next statement or reconnect; every answer meanwhile is a
    // clear refusal with nothing changed, whichever of the two noticed first
    const m = await waitFor('the logger to see the database gone', async () => {
      const r = await admin('POST', '/admin/keys', { name: 'while-down' });
      return r.status !== 201 ? r : undefined;
    }, 10000, 100);
    assert.equal(m.status, 503, m.text);
    assert.match(m.json.error.message, /nothing was changed/);
    await waitFor('tollgate_log_db_up 0', async () => /^tollgate_log_db_up 0$/m.test((await request(gw.admin, 'GET', '/metrics')).text), 10000, 100);
    const t0 = Date.now();
    for (const [method, p, body] of [['POST', '/admin/keys', { name: 'while-down' }], ['POST', '/admin/keys/cli-made', { rpm: 9 }],
      ['POST', '/admin/keys/cli-made/revoke'], ['GET', '/admin/spend']]) {
      const r = await admin(method, p, body);
      assert.equal(r.status, 503, `${method} ${p}: ${r.text}`);
      assert.match(r.json.error.message, /PostgreSQL is unavailable.*nothing was changed/);
    }
    assert.ok(Date.now() - t0 < 1000, 'refused at once, not after a timeout');
    // what lives in the shared table still answers
    assert.equal((await admin('GET', '/admin/keys/cli-made')).json.key.rpm, 5);
  } finally {
    await psql(server, `ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`);
  }
  await waitFor('tollgate_log_db_up 1', async () => /^tollgate_log_db_up 1$/m.test((await request(gw.admin, 'GET', '/metrics')).text), 15000, 100);
  assert.equal(await psql(db.conninfo, "SELECT count(*) FROM api_keys WHERE name = 'while-down'"), '0');
  assert.equal(await psql(db.conninfo, "SELECT rpm FROM api_keys WHERE name = 'cli-made'"), '5');
  assert.equal(await psql(db.conninfo, "SELECT count(*) FROM api_keys WHERE name = 'cli-made' AND revoked_at IS NOT NULL"), '0');
  const r = await admin('POST', '/admin/keys', { name: 'while-down' });
  assert.equal(r.status, 201, r.text);
});

test('audit_log: every change with the admin key that made it, never a secret or a hash', async () => {
  const r = await admin('POST', '/admin/breakers/openai/reset', undefined, AUDITOR);
  assert.equal(r.status, 200, r.text);
  await waitFor('the breaker reset in audit_log', async () =>
    (await psql(db.conninfo, "SELECT count(*) FROM audit_log WHERE event = 'breaker_reset'")) === '1', 5000, 50);
  const all = await rows(db.conninfo, `SELECT actor, event, detail::text FROM audit_log
    WHERE actor LIKE 'admin:%' ORDER BY at, id`);
  const events = all.map(([actor, event, detail]) => [actor, event, JSON.parse(detail).key ?? JSON.parse(detail).provider]);
  assert.deepEqual(events.filter((e) => e[2] === 'app-1' || e[1] === 'breaker_reset'), [
    ['admin:ops', 'key_created', 'app-1'],
    ['admin:ops', 'key_updated', 'app-1'],
    ['admin:ops', 'key_updated', 'app-1'],
    ['admin:ops', 'key_updated', 'app-1'],
    ['admin:auditor', 'key_revoked', 'app-1'],
    ['admin:auditor', 'breaker_reset', 'openai'],
  ]);
  // the keys command's changes are audited the same way, as the user who ran it
  assert.deepEqual(await rows(db.conninfo, "SELECT actor, event FROM audit_log WHERE detail->>'key' = 'cli-made'"),
    [[`cli:${os.userInfo().username}`, 'key_created']]);
  const created = JSON.parse(all.find((a) => a[1] === 'key_created' && a[2].includes('"app-1"'))[2]);
  assert.deepEqual(created, { key: 'app-1', prefix: secret1.slice(0, 8), rpm: 600, tpm: 100000, budget_usd: '0.01',
    period: 'day', models: ['gpt-4o-mini', 'cheap'] });
  const everything = await psql(db.conninfo, 'SELECT string_agg(detail::text, \' \') FROM audit_log');
  assert.doesNotMatch(everything, new RegExp(secret1.slice(8)), 'no secret in audit_log');
  assert.doesNotMatch(everything, new RegExp(sha(secret1)), 'no key hash in audit_log');
  // nor anywhere in the gateway's log
  assert.ok(!gw.lines.some((l) => l.includes(secret1.slice(8)) || l.includes(sha(secret1))));
  // the round trips, for the report: logger + master's publish (its 100 ms tick)
  const sorted = [...timings.createAgain].sort((a, b) => a - b);
  console.log(`# admin round trips (ms): create with a budget ${timings.create}, create ${sorted.join('/')}, ` +
    `set ${timings.set}, revoke ${timings.revoke}`);
});

test('no admin.listen: tollgate -t warns, the admin API is served nowhere', async () => {
  const c = structuredClone(cfg);
  delete c.admin.listen;
  const file = path.join(tmpdir(), 'no-admin.json');
  writeFileSync(file, JSON.stringify(c));
  const r = spawnSync(TOLLGATE, ['-t', '-c', file], { cwd: ROOT, env: { ...process.env, ...PROVIDER_ENV }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /warning: admin\.listen is not set: \/readyz, \/metrics and \/admin\/\* are not served \(never on the client port\)/);
});
