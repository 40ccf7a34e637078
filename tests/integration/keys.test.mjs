// Keys in PostgreSQL (issue 14, SPEC section 14), master side: the `keys`
// command end to end against the test PostgreSQL (create, list, set, revoke,
// bad input, the database down, no gateway running); a running gateway told
// through its pid file and publishing the change to the shared key table
// within a second; the key cache that lets a restart with PostgreSQL down
// still load keys; the admin listener. Workers do not authenticate against
// the shared table yet (the lead's call path will): what the table holds is
// read from the master's log lines, written after each publish.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createDb, migrate, psql, requirePg, rows } from './db.mjs';
import { PROVIDER_ENV, ROOT, TOLLGATE, freePort, gatewayConfig, startGateway, tmpdir, waitFor } from './lib.mjs';

const sha = (s) => createHash('sha256').update(s).digest('hex');
const FILE_KEY = 'file-key-secret';
let db, dir, cfg, cfgPath;
const gateways = [];

function keys(args, file = cfgPath) {
  const r = spawnSync(TOLLGATE, ['keys', '-c', file, ...args],
    { cwd: ROOT, env: { ...process.env, ...PROVIDER_ENV }, encoding: 'utf8', timeout: 30000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function secretOf(out) {
  const m = out.match(/^secret:\s+(tg_[0-9A-Za-z]{40})$/m);
  assert.ok(m, `no secret in:\n${out}`);
  return m[1];
}

function config(stateDir, extra = {}) {
  return gatewayConfig({ port: 1, mockPort: 1, stateDir, workers: 2, extra: {
    keys: [{ name: 'file-key', sha256: sha(FILE_KEY), rpm: 10 }],
    admin: { listen: path.join(stateDir, 'admin.sock') },
    ...extra,
  } });
}

async function gateway(c) {
  c.listen = `127.0.0.1:${await freePort()}`;
  const gw = await startGateway(c, { dir: tmpdir() });
  gateways.push(gw);
  return gw;
}

before(async () => {
  db = await createDb('keys', requirePg());
  dir = tmpdir();
  cfg = config(path.join(dir, 'state'));
  cfg.database.conninfo = db.conninfo;
  cfgPath = migrate(cfg, dir);
});

after(async () => {
  for (const gw of gateways) await gw.stop('SIGKILL');
  if (db) await db.drop();
});

test('keys create, list, set and revoke with no gateway running', async () => {
  let r = keys(['create', 'app-1', '--rpm', '60', '--tpm', '1000', '--budget', '0.01', '--period', 'day',
    '--models', 'claude-haiku-4-5,cheap']);
  assert.equal(r.code, 0, r.err);
  const secret = secretOf(r.out);
  assert.match(r.out, new RegExp(`^prefix:\\s+${secret.slice(0, 8)}$`, 'm'));
  assert.match(r.out, /the gateway is not running \(no live master in .*tollgate\.pid\): it picks the change up when it starts/);
  const [[hash, prefix, rpm, tpm, budget, period, models]] = await rows(db.conninfo,
    "SELECT encode(sha256, 'hex'), prefix, rpm, tpm, budget_usd, period, models FROM api_keys WHERE name = 'app-1'");
  assert.deepEqual([hash, prefix, rpm, tpm, budget, period, models],
    [sha(secret), secret.slice(0, 8), '60', '1000', '0.010000000000', 'day', '{claude-haiku-4-5,cheap}']);
  // only the hash and the prefix are kept: the secret itself is nowhere in the row
  assert.doesNotMatch(await psql(db.conninfo, 'SELECT api_keys::text FROM api_keys'), new RegExp(secret));

  // spent this period: today's calls of the key, not yesterday's, not shadow calls
  await psql(db.conninfo, `INSERT INTO requests (request_id, created_at, key_name, endpoint, stream, status,
      outcome, attempts, input_tokens, output_tokens, reasoning_tokens, cache_read_tokens, cache_write_tokens,
      cost_usd, latency_us, ttfb_us, overhead_us, usage_complete, delivery) VALUES
    (gen_random_uuid(), now(), 'app-1', '/v1/messages', false, 200, 'ok', 1, 1, 1, 0, 0, 0, 0.004, 1, 1, 1, true, 'delivered'),
    (gen_random_uuid(), now(), 'app-1', '/v1/messages', false, 200, 'ok', 1, 1, 1, 0, 0, 0, 0.000000000001, 1, 1, 1, true, 'delivered'),
    (gen_random_uuid(), now() - interval '2 days', 'app-1', '/v1/messages', false, 200, 'ok', 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, true, 'delivered'),
    (gen_random_uuid(), now(), 'app-1', 'shadow', false, 200, 'ok', 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, true, 'delivered')`);
  r = keys(['create', 'app-2']);
  assert.equal(r.code, 0, r.err);
  r = keys(['list']);
  assert.equal(r.code, 0, r.err);
  const line = (name) => r.out.split('\n').find((l) => l.startsWith(`${name} `)).split(/\s+/);
  assert.deepEqual(line('app-1').slice(0, 8),
    ['app-1', secret.slice(0, 8), '60', '1000', '0.01', 'day', '0.004000000001', 'claude-haiku-4-5,cheap']);
  assert.equal(line('app-1').at(-2), '-');                       // not revoked
  assert.deepEqual(line('app-2').slice(2, 8), ['0', '0', '-', '-', '-', '*']);
  assert.deepEqual(line('file-key').slice(1, 3).concat(line('file-key').at(-1)), ['-', '10', 'config']);

  r = keys(['set', 'app-1', '--rpm', '120', '--budget', '0.02']);
  assert.equal(r.code, 0, r.err);
  r = keys(['set', 'app-2', '--budget', '5', '--period', 'month', '--models', 'cheap']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(await rows(db.conninfo, 'SELECT name, rpm, budget_usd, period, models FROM api_keys ORDER BY name'),
    [['app-1', '120', '0.020000000000', 'day', '{claude-haiku-4-5,cheap}'], ['app-2', '0', '5.000000000000', 'month', '{cheap}']]);
  r = keys(['set', 'app-2', '--no-budget', '--models', '']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(await rows(db.conninfo, "SELECT budget_usd, period, models FROM api_keys WHERE name = 'app-2'"),
    [['', '', '{}']]);

  r = keys(['revoke', 'app-2']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /revoked key app-2: refused from the next request on/);
  r = keys(['revoke', 'app-2']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /key app-2 was already revoked at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
  r = keys(['list']);
  assert.match(r.out.split('\n').find((l) => l.startsWith('app-2 ')), /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+postgresql$/);
});

test('bad input is refused naming it, and nothing is written', async () => {
  const before = await psql(db.conninfo, 'SELECT md5(string_agg(api_keys::text, \',\' ORDER BY name)) FROM api_keys');
  const cases = [
    [['create', 'x1', '--budget', 'ten', '--period', 'day'], /--budget: expected an amount of USD as a decimal such as "10" or "0.50".*got "ten"/],
    [['create', 'x1', '--budget', '-5', '--period', 'day'], /--budget: a budget cannot be negative, got "-5"/],
    [['create', 'x1', '--budget', '0.0000000000001', '--period', 'day'], /--budget: expected an amount of USD.*at most 12 decimals/],
    [['create', 'x1', '--budget', '1e3', '--period', 'day'], /--budget: expected an amount of USD/],
    [['create', 'x1', '--budget', '5', '--period', 'week'], /--period: expected day \(UTC\) or month \(calendar, UTC\), got "week"/],
    [['create', 'x1', '--budget', '5'], /--budget needs --period day\|month/],
    [['create', 'app-1'], /a key named "app-1" already exists \(nothing was changed\)/],
    [['create', 'file-key'], /"file-key" is a key of the config file .* \(keys\[0\]\): a name is either there or in PostgreSQL, never both/],
    [['revoke', 'file-key'], /"file-key" is a key of the config file/],
    [['create', 'bad name'], /expected a key name of 1 to 63 letters, digits, '\.', '_' or '-', got "bad name"/],
    [['create', 'x1', '--models', 'gpt-9'], /--models: "gpt-9" is neither a model nor a route of/],
    [['create', 'x1', '--rpm', '-1'], /--rpm: expected a whole number from 0 \(unlimited\) to 1000000000, got "-1"/],
    [['set', 'nobody', '--rpm', '1'], /no key named "nobody" in PostgreSQL \(nothing was changed\)/],
    [['set', 'app-2', '--period', 'day'], /--period needs --budget USD: key "app-2" has no budget yet/],
    [['set', 'app-1'], /nothing to change/],
    [['revoke', 'nobody'], /no key named "nobody" in PostgreSQL/],
    [['rotate', 'app-1'], /unknown command 'rotate'/],
  ];
  for (const [args, want] of cases) {
    const r = keys(args);
    assert.equal(r.code, 1, `${args.join(' ')}: exit ${r.code}\n${r.err}`);
    assert.match(r.err, want, args.join(' '));
    assert.equal(r.out, '', `${args.join(' ')} printed: ${r.out}`);
  }
  assert.equal(await psql(db.conninfo, 'SELECT md5(string_agg(api_keys::text, \',\' ORDER BY name)) FROM api_keys'), before);
});

test('PostgreSQL down: a clear error, exit 2, nothing printed as created', () => {
  const down = structuredClone(cfg);
  down.database.conninfo = 'host=/nonexistent dbname=tollgate connect_timeout=2';
  const file = path.join(tmpdir(), 'down.json');
  writeFileSync(file, JSON.stringify(down));
  let r = keys(['create', 'app-9', '--budget', '1', '--period', 'day'], file);
  assert.equal(r.code, 2);
  assert.match(r.err, /^tollgate: keys: could not connect to PostgreSQL: .*\(nothing was changed\)$/m);
  assert.doesNotMatch(r.out, /secret/);
  r = keys(['list'], file);
  assert.equal(r.code, 2);
  assert.match(r.err, /could not connect to PostgreSQL/);
});

let live, liveSecret;

test('a running gateway publishes a change to its shared key table within a second', async () => {
  const gw = await gateway(structuredClone(cfg));
  const stateDir = cfg.state_dir;
  live = gw;
  // the logger read api_keys and the master published them
  await gw.waitLog(/keys published keys=3 config=1 postgresql=2 added=2/, 5000);
  assert.equal(readFileSync(path.join(stateDir, 'tollgate.pid'), 'utf8'), `${gw.pid}\n`);

  let r = keys(['create', 'app-live', '--budget', '1', '--period', 'month']);
  let t0 = Date.now();
  assert.equal(r.code, 0, r.err);
  liveSecret = secretOf(r.out);
  assert.match(r.out, new RegExp(`the running gateway \\(pid ${gw.pid}\\) applies the change within a second`));
  await gw.waitLog(new RegExp(`key added name=app-live source=postgresql prefix=${liveSecret.slice(0, 8)}`), 1000);
  const added = Date.now() - t0;

  r = keys(['revoke', 'app-1']);
  t0 = Date.now();
  assert.equal(r.code, 0, r.err);
  await gw.waitLog(/key revoked name=app-1 source=postgresql: refused from the next request on/, 1000);
  const revoked = Date.now() - t0;
  // the budget of the new key: its month's spend restored from the ledger before it is admitted
  await gw.waitLog(/budget spend restored key=app-live period=month start_us=\d+ usd=0/, 2000);
  console.log(`# published in the shared table ${added} ms after keys create, ${revoked} ms after keys revoke`);

  // the cache: 0600, the set PostgreSQL has, checked whole
  const cache = path.join(stateDir, 'keys.cache');
  assert.equal(statSync(cache).mode & 0o777, 0o600);
  const text = readFileSync(cache, 'utf8');
  // … then created_at and revoked_at, wall µs (0: not revoked)
  assert.match(text, new RegExp(`^key app-live ${sha(liveSecret)} ${liveSecret.slice(0, 8)} 0 0 1000000000000 month 1 - \\d{16} 0$`, 'm'));
  assert.match(text, /^key app-1 .* 3 claude-haiku-4-5,cheap \d{16} \d{16}$/m);  // flags 3: PostgreSQL, revoked
  assert.doesNotMatch(text, new RegExp(liveSecret));
});

test('the admin listener: a unix socket with mode 0660 that accepts connections', async () => {
  const sock = cfg.admin.listen;
  const st = statSync(sock);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o660);
  assert.ok(live.logged(new RegExp(`admin listener on ${sock} mode=0660`)));
  await new Promise((resolve, reject) => {
    const c = net.connect({ path: sock }, () => { c.destroy(); resolve(); });
    c.on('error', reject);
  });
});

test('a loopback admin port accepts connections; a non-loopback one is refused at -t', async () => {
  const c = config(tmpdir('tollgate-state-'));
  c.database.conninfo = db.conninfo;
  const port = await freePort();
  c.admin = { listen: `127.0.0.1:${port}` };
  const gw = await gateway(c);
  assert.ok(gw.logged(new RegExp(`admin listener on 127\\.0\\.0\\.1:${port}$`)));
  await new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(); });
    s.on('error', reject);
  });
  await gw.stop();

  c.admin = { listen: '0.0.0.0:9999' };
  const file = path.join(tmpdir(), 'bad.json');
  writeFileSync(file, JSON.stringify(c));
  const r = spawnSync(TOLLGATE, ['-t', '-c', file], { cwd: ROOT, env: { ...process.env, ...PROVIDER_ENV }, encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /admin\.listen: the admin API listens only on a unix socket path or a loopback address \(127\.0\.0\.1, ::1, localhost\), got "0\.0\.0\.0:9999"/);
});

test('a PostgreSQL key with the name of a config key: refused by -t and by the running master, never shadowed', async () => {
  // -t reads the last key cache: app-live is a PostgreSQL key
  const c = structuredClone(cfg);
  c.keys.push({ name: 'app-live', sha256: sha('other') });
  const file = path.join(tmpdir(), 'clash.json');
  writeFileSync(file, JSON.stringify(c));
  const r = spawnSync(TOLLGATE, ['-t', '-c', file], { cwd: ROOT, env: { ...process.env, ...PROVIDER_ENV }, encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /keys\[1\]\.name: the same name as PostgreSQL key "app-live" \(.*keys\.cache\): a key lives in the config file or in PostgreSQL, never both/);

  // written behind the command's back, straight into the table: the master says no
  await psql(db.conninfo, `INSERT INTO api_keys (name, sha256, prefix) VALUES ('file-key', decode('${sha('sneaky')}', 'hex'), 'tg_sneak')`);
  live.signal('SIGUSR2');
  await live.waitLog(/could not load PostgreSQL key file-key: a key of the config file has the same name or SHA-256; the config file's key is used/, 2000);
  await psql(db.conninfo, "DELETE FROM api_keys WHERE name = 'file-key'");
  live.signal('SIGUSR2');
  const cache = path.join(cfg.state_dir, 'keys.cache');
  await waitFor('the cache without file-key', () => !/^key file-key /m.test(readFileSync(cache, 'utf8')), 2000);
});

test('a restart with PostgreSQL down still loads the keys from the cache; a corrupt cache is refused', async () => {
  const stateDir = cfg.state_dir;
  await live.stop();
  assert.equal(existsSync(path.join(stateDir, 'tollgate.pid')), false, 'the pid file goes with the master');
  assert.equal(existsSync(cfg.admin.listen), false, 'the admin socket goes with the master');

  const down = structuredClone(cfg);
  down.database.conninfo = 'host=/nonexistent dbname=tollgate connect_timeout=1';
  let gw = await gateway(down);
  // app-1, app-2 and app-live from the cache, and the config file's key
  assert.ok(gw.logged(/keys published keys=4 config=1 postgresql=3 added=4 changed=0 revoked=0 removed=0 refused=0/),
    gw.lines.filter((l) => /keys/.test(l)).join('\n'));
  await gw.stop();

  const cache = path.join(stateDir, 'keys.cache');
  writeFileSync(cache, readFileSync(cache, 'utf8').replace('app-live', 'app-LIVE'), { mode: 0o600 });
  gw = await gateway(down);
  assert.ok(gw.logged(/could not load the key cache .*keys\.cache: checksum does not match its contents \(corrupt or edited\); PostgreSQL keys apply once the logger rewrites it, and until then no caller is let in without a key/));
  assert.ok(gw.logged(/keys published keys=1 config=1 postgresql=0/));
  await gw.stop();
});
