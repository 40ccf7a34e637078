// The database side of the log-pipeline tests: psql helpers (one database of
// its own per test file inside the TG_TEST_PG server, migrated with
// `tollgate migrate`), and the client's ledger of answered calls, made by
// real calls of all three families, that the tests compare with `requests`.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { PG, PROVIDER_ENV, ROOT, TOLLGATE } from './lib.mjs';
import { formatUsd } from './money.mjs';

const run = promisify(execFile);

export function requirePg() {
  if (!PG) {
    throw new Error('TG_TEST_PG is not set: the log-pipeline tests need a PostgreSQL. Run\n' +
      '  export TG_TEST_PG=$(sh tests/pg.sh start /tmp/tgpg)\nthen the tests again.');
  }
  return PG;
}

// The same conninfo with another dbname.
export function withDbname(conninfo, dbname) {
  return /\bdbname=\S+/.test(conninfo) ? conninfo.replace(/\bdbname=\S+/, `dbname=${dbname}`)
    : `${conninfo} dbname=${dbname}`;
}

// Run SQL with psql; resolves to its unaligned, tuples-only output (trimmed).
export async function psql(conninfo, sql, { timeoutMs = 30000 } = {}) {
  const { stdout } = await run('psql', [conninfo, '-X', '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql],
    { timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 });
  return stdout.replace(/\n$/, '');
}

// Rows of psql output as arrays of fields ('|' separated).
export async function rows(conninfo, sql) {
  const out = await psql(conninfo, sql);
  return out === '' ? [] : out.split('\n').map((l) => l.split('|'));
}

// A fresh database tollgate_<tag>_<random> on the server of `server`; returns its conninfo.
export async function createDb(tag, server = requirePg()) {
  const name = `tollgate_${tag.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  await psql(withDbname(server, 'postgres'), `CREATE DATABASE ${name}`);
  const conninfo = withDbname(server, name);
  return { name, conninfo, drop: () => dropDb(server, name) };
}

export async function dropDb(server, name) {
  await psql(withDbname(server, 'postgres'), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
}

// Write cfg to dir/tollgate.json and apply the migrations to its database.
export function migrate(cfg, dir) {
  const cfgPath = path.join(dir, 'tollgate.json');
  writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
  execFileSync(TOLLGATE, ['migrate', '-c', cfgPath],
    { cwd: ROOT, env: { ...process.env, ...PROVIDER_ENV }, stdio: 'pipe', timeout: 30000 });
  return cfgPath;
}

// Rows whose client_request_id starts with prefix: count and summed cost (exact, as text).
export async function tally(conninfo, prefix) {
  const [[count, sum]] = await rows(conninfo, `SELECT count(*), coalesce(sum(cost_usd), 0)::text
    FROM requests WHERE client_request_id LIKE '${prefix}%'`);
  return { count: Number(count), sum };
}

// An exact decimal such as "1.234500000000" (NUMERIC text or a cost header) → pico-USD BigInt.
export function usdToPico(text) {
  const neg = text.startsWith('-');
  const [whole, frac = ''] = (neg ? text.slice(1) : text).split('.');
  const v = BigInt(whole) * 1000000000000n + BigInt((frac + '000000000000').slice(0, 12));
  return neg ? -v : v;
}

export { formatUsd };

// ---- the client side: calls of the three families and what each got ----

export const CLIENT_KEY = 'tg-pipeline-client-key';
const Q = 'What is the capital of France?';

// The six kinds of call used for load: family × streamed or not.
export const KINDS = [
  { family: 'anthropic', stream: false }, { family: 'anthropic', stream: true },
  { family: 'openai', stream: false }, { family: 'openai', stream: true },
  { family: 'gemini', stream: false }, { family: 'gemini', stream: true },
];

function callShape(kind, key = CLIENT_KEY) {
  const h = { 'content-type': 'application/json' };
  if (kind.family === 'anthropic') {
    return { path: '/v1/messages',
      headers: { ...h, 'x-api-key': key, 'anthropic-version': '2023-06-01' },
      body: { model: 'claude-haiku-4-5', max_tokens: 64, messages: [{ role: 'user', content: Q }],
        ...(kind.stream ? { stream: true } : {}) } };
  }
  if (kind.family === 'openai') {
    return { path: '/v1/chat/completions', headers: { ...h, authorization: `Bearer ${key}` },
      body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: Q }], ...(kind.stream ? { stream: true } : {}) } };
  }
  return { path: kind.stream ? '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse'
    : '/v1beta/models/gemini-2.5-flash:generateContent',
  headers: { ...h, 'x-goog-api-key': key },
  body: { contents: [{ role: 'user', parts: [{ text: Q }] }] } };
}

const CLOSING = /\n: tollgate cost_usd=(\S+) input_tokens=\d+ output_tokens=\d+ reasoning_tokens=\d+\n\n$/;

/*
 * One call. Resolves (never rejects) to
 *   { clientId, answered: true, status, requestId, cost: BigInt pico-USD, retryAfter }
 * when the client got a whole answer (for a stream: through the closing comment), or
 *   { clientId, answered: false, requestId?, error } when it did not.
 */
export function call(port, kind, clientId, { agent = false, body, pathOverride, key } = {}) {
  const shape = callShape(kind, key);
  const payload = body !== undefined ? (typeof body === 'string' ? body : JSON.stringify(body))
    : JSON.stringify(shape.body);
  return new Promise((resolve) => {
    let settled = false;
    const done = (v) => { if (!settled) { settled = true; resolve({ clientId, ...v }); } };
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: pathOverride ?? shape.path, agent,
      headers: { ...shape.headers, 'x-request-id': clientId, 'content-length': Buffer.byteLength(payload) } },
    (res) => {
      const chunks = [];
      const requestId = res.headers['x-request-id'];
      res.on('data', (c) => chunks.push(c));
      res.on('aborted', () => done({ answered: false, requestId, error: 'aborted' }));
      res.on('error', (e) => done({ answered: false, requestId, error: e.code || e.message }));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let cost = 0n;
        const sse = /text\/event-stream/.test(res.headers['content-type'] || '');
        if (sse) {
          const m = text.match(CLOSING);
          if (!m) return done({ answered: false, requestId, status: res.statusCode, error: 'stream without closing comment' });
          cost = usdToPico(m[1]);
        } else if (res.headers['x-tollgate-cost-usd'] !== undefined) {
          cost = usdToPico(res.headers['x-tollgate-cost-usd']);
        }
        done({ answered: true, status: res.statusCode, requestId, cost, text, headers: res.headers,
          retryAfter: res.headers['retry-after'] });
      });
    });
    req.on('error', (e) => done({ answered: false, error: e.code || e.message }));
    req.setTimeout(30000, () => req.destroy(new Error('client timeout')));
    req.end(payload);
  });
}

/*
 * Load: `total` calls (or until stop() when total is Infinity; at most maxMs), `concurrency`
 * at a time, cycling through KINDS, client ids `${prefix}${i}`. Returns
 * { done: Promise<results[]>, results, stop() }; results fill as calls end.
 */
export function load(port, { prefix, total = Infinity, concurrency = 50, agent, pauseMs = 0, maxMs = 60000 }) {
  const results = [];
  const until = Date.now() + maxMs;   // a failed test that never calls stop() must not spin forever
  let next = 0;
  let stopped = false;
  const worker = async () => {
    while (!stopped && next < total && Date.now() < until) {
      const i = next++;
      results.push(await call(port, KINDS[i % KINDS.length], `${prefix}${i}`, { agent }));
      if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
    }
  };
  const done = Promise.all(Array.from({ length: concurrency }, worker)).then(() => results);
  return { done, results, stop: () => { stopped = true; } };
}

export function keepAliveAgent(maxSockets = 50) {
  return new http.Agent({ keepAlive: true, maxSockets });
}

// Summary of a ledger: answered calls, their status histogram, summed cost, and the rest.
export function summarise(results) {
  const answered = results.filter((r) => r.answered);
  const statuses = {};
  for (const r of answered) statuses[r.status] = (statuses[r.status] || 0) + 1;
  const errors = {};
  for (const r of results) if (!r.answered) errors[r.error] = (errors[r.error] || 0) + 1;
  return { answered, unanswered: results.filter((r) => !r.answered), statuses, errors,
    cost: answered.reduce((s, r) => s + r.cost, 0n) };
}

/*
 * Compare a ledger with the database: every answered call is there exactly
 * once (by the gateway's request id and by the client's), with the status and
 * cost the client saw, not as 'unknown' and not as undelivered; unanswered
 * calls are there at most once (the primary key) and, if there, never as
 * delivered (a worker that died after settling a call records what the
 * provider billed, with delivery unknown); and nothing else carries the
 * prefix. Returns the figures.
 */
export async function checkLedger(assert, conninfo, prefix, results) {
  const s = summarise(results);
  const db = await rows(conninfo, `SELECT request_id, client_request_id, status, outcome, cost_usd::text,
    delivery FROM requests WHERE client_request_id LIKE '${prefix}%'`);
  const byClient = new Map();
  for (const [rid, cid, status, outcome, cost, delivery] of db) {
    assert.ok(!byClient.has(cid), `client id ${cid} recorded twice`);
    byClient.set(cid, { rid, status: Number(status), outcome, cost, delivery });
  }
  let dbCost = 0n;
  for (const r of s.answered) {
    const row = byClient.get(r.clientId);
    assert.ok(row, `answered call ${r.clientId} (request ${r.requestId}, status ${r.status}) is not in the database`);
    assert.equal(row.rid, r.requestId, `${r.clientId}: request_id`);
    assert.equal(row.status, r.status, `${r.clientId}: status`);
    assert.notEqual(row.outcome, 'unknown', `${r.clientId}: an answered call recorded as unknown`);
    assert.notEqual(row.delivery, 'not_delivered', `${r.clientId}: an answered call recorded as not delivered`);
    if (r.status === 200) assert.equal(usdToPico(row.cost), r.cost, `${r.clientId}: cost`);
    dbCost += usdToPico(row.cost);
  }
  const answeredIds = new Set(s.answered.map((r) => r.clientId));
  const sent = new Set(results.map((r) => r.clientId));
  // a row may lack the client's answer only when its delivery is unknown (its worker died
  // before the reply left) or the client went away: never as delivered
  const extra = { unknown: 0, other: 0 };
  for (const [cid, row] of byClient) {
    assert.ok(sent.has(cid), `row for ${cid} that the client never sent`);
    if (answeredIds.has(cid)) continue;
    assert.notEqual(row.delivery, 'delivered', `${cid}: recorded as delivered, but the client got no answer`);
    if (row.outcome === 'unknown') extra.unknown++;
    else extra.other++;
  }
  return { rows: db.length, answered: s.answered.length, unanswered: s.unanswered.length,
    statuses: s.statuses, errors: s.errors, clientCost: s.cost, dbCost, extraRows: extra };
}

// GET /metrics on the gateway's admin listener (gw from startGateway, or an address such
// as adminAddress's) → { name: number } for unlabelled series.
export function metrics(gw) {
  const where = gw.admin || gw;
  return new Promise((resolve, reject) => {
    http.get({ ...where, path: '/metrics', agent: false }, (res) => {
      let t = '';
      res.on('data', (c) => { t += c; });
      res.on('end', () => {
        const m = {};
        for (const l of t.split('\n')) {
          const x = l.match(/^([a-z_]+) (\S+)$/);
          if (x) m[x[1]] = Number(x[2]);
        }
        resolve(m);
      });
    }).on('error', reject);
  });
}
