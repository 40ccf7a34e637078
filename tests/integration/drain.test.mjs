// Long streams across reloads, stops and worker deaths (issue 11, defects 11-13):
// a reload storm lets every open stream finish; a stop cuts what outlives its
// deadline cleanly (the family's error event, the closing chunk, a row saying
// the gateway cut it, with the usage seen so far); a worker killed while it
// holds many streams leaves one row for every one of them.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { freePort, gatewayConfig, startGateway, startMock, tmpdir, waitFor } from './lib.mjs';
import { CLIENT_KEY, createDb, migrate, requirePg, rows } from './db.mjs';

const STREAM_MS = Number(process.env.TG_DRAIN_STREAM_MS || 6000);
const STREAMS = Number(process.env.TG_DRAIN_STREAMS || 120);
let mock, db;

before(async () => {
  requirePg();
  db = await createDb('drain');
  // every stream lasts STREAM_MS, its events spread evenly over it
  mock = await startMock({ seed: 3, args: ['--latency-ms', '0', '--stream-ms', String(STREAM_MS), '--output-tokens', '60'] });
});

after(async () => {
  if (mock) await mock.stop('SIGKILL');
  if (db) await db.drop();
});

async function gateway(extra = {}) {
  const port = await freePort();
  const dir = tmpdir('tollgate-drain-');
  const cfg = gatewayConfig({ port, mockPort: mock.port, stateDir: `${dir}/state`, workers: 2,
    extra: { keys: [{ name: 'drain', sha256: createHash('sha256').update(CLIENT_KEY).digest('hex') }], ...extra } });
  cfg.database.conninfo = db.conninfo;
  cfg.database.ring_records = 16384;
  // a stream lasts STREAM_MS: the providers' whole-call deadline must outlast it, or it cuts them
  for (const p of Object.values(cfg.providers)) p.total_timeout_ms = STREAM_MS + 10000;
  migrate(cfg, dir);
  return startGateway(cfg, { dir });
}

const FAMILIES = ['anthropic', 'openai', 'gemini'];

// One streamed call on its own connection; resolves with what the client saw. Its
// `begun` promise resolves once `bytes` of the stream have arrived.
function stream(port, family, clientId, bytes = 1) {
  const q = [{ role: 'user', content: 'Tell me a long story.' }];
  const shape = {
    anthropic: { path: '/v1/messages', headers: { 'x-api-key': CLIENT_KEY, 'anthropic-version': '2023-06-01' },
      body: { model: 'claude-haiku-4-5', max_tokens: 200, stream: true, messages: q } },
    openai: { path: '/v1/chat/completions', headers: { authorization: `Bearer ${CLIENT_KEY}` },
      body: { model: 'gpt-4o-mini', stream: true, messages: q } },
    gemini: { path: '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse',
      headers: { 'x-goog-api-key': CLIENT_KEY }, body: { contents: [{ role: 'user', parts: [{ text: q[0].content }] }] } },
  }[family];
  const payload = JSON.stringify(shape.body);
  let begin;
  const begun = new Promise((r) => { begin = r; });
  const done = new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: shape.path, agent: false,
      headers: { ...shape.headers, 'content-type': 'application/json', 'x-request-id': clientId,
        'content-length': Buffer.byteLength(payload) } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; if (text.length >= bytes) begin(); });
      res.on('end', () => resolve({ clientId, family, status: res.statusCode, text, ended: true }));
      res.on('aborted', () => resolve({ clientId, family, status: res.statusCode, text, ended: false }));
      res.on('error', () => resolve({ clientId, family, status: res.statusCode, text, ended: false }));
    });
    req.on('error', (e) => resolve({ clientId, family, error: e.code, ended: false }));
    req.end(payload);
  });
  done.then(begin);
  return Object.assign(done, { begun });
}

// The stream finished as the provider finished it, and tollgate's cost comment closed it.
function whole(r) {
  const end = { anthropic: /event: message_stop/, openai: /data: \[DONE\]/, gemini: /"finishReason":"STOP"/ }[r.family];
  return r.ended && r.status === 200 && end.test(r.text) && /\n: tollgate cost_usd=\S+ [^\n]*\n\n$/.test(r.text);
}

const comm = (pid) => { try { return readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { return null; } };
const workers = (pid) => execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
  .split('\n').map((s) => Number(s.trim())).filter((p) => p && comm(p) === 'tollgate-worker');

// Open n streams, spread over the families; resolves once each has sent `bytes`.
async function open(port, prefix, n, bytes = 1) {
  const calls = Array.from({ length: n }, (_, i) => stream(port, FAMILIES[i % 3], `${prefix}${i}`, bytes));
  await Promise.all(calls.map((c) => c.begun));
  return calls;
}

test('a reload storm lets every open stream finish', async () => {
  const gw = await gateway({ shutdown_timeout_ms: 1000 });
  try {
    const calls = await open(gw.port, 'd1-', STREAMS);
    const storm = Date.now() + STREAM_MS * 0.8;
    let reloads = 0;
    while (Date.now() < storm) {
      gw.signal('SIGHUP');
      reloads++;
      await new Promise((r) => setTimeout(r, 500));
    }
    const got = await Promise.all(calls);
    const cut = got.filter((r) => !whole(r));
    assert.equal(cut.length, 0, `${cut.length} of ${got.length} streams cut by ${reloads} SIGHUPs, e.g. ` +
      JSON.stringify(cut[0] && { ...cut[0], text: cut[0].text?.slice(-300) }));
    await waitFor('every stream recorded', async () => Number((await rows(db.conninfo,
      `SELECT count(*) FROM requests WHERE client_request_id LIKE 'd1-%'`))[0][0]) === got.length, 15000, 100);
    const outcomes = await rows(db.conninfo, `SELECT outcome, delivery, count(*) FROM requests
      WHERE client_request_id LIKE 'd1-%' GROUP BY 1, 2`);
    assert.deepEqual(outcomes, [['ok', 'delivered', String(got.length)]]);
    console.log(`# ${got.length} streams of ${STREAM_MS} ms, ${reloads} SIGHUPs every 0.5 s: none cut`);
  } finally {
    await gw.stop('SIGKILL');
  }
});

test('a stop cuts what outlives its deadline cleanly, and records it as cut by the gateway', async () => {
  const gw = await gateway({ shutdown_timeout_ms: 1500 });
  // every stream is well under way (a few hundred bytes of tokens) before the stop
  const calls = await open(gw.port, 'd2-', 30, 600);
  gw.signal('SIGTERM');
  const got = await Promise.all(calls);
  const exit = await gw.exited;
  assert.deepEqual(exit, { code: 0, signal: null });
  for (const r of got) {
    assert.equal(r.status, 200, r.clientId);
    assert.ok(r.ended, `${r.clientId}: the stream was ended, not dropped`);
    assert.ok(!whole(r), `${r.clientId}: a stream of ${STREAM_MS} ms cannot have finished`);
    const err = { anthropic: /event: error\ndata: \{"type":"error"/, openai: /data: \{"error":/, gemini: /data: \{"error":/ }[r.family];
    assert.match(r.text, err, `${r.clientId}: the family's in-stream error`);
    assert.match(r.text, /\n: tollgate cost_usd=\S+ [^\n]*\n\n$/, `${r.clientId}: the cost comment still closes it`);
  }
  const recs = await rows(db.conninfo, `SELECT outcome, delivery, status, usage_complete, count(*)
    FROM requests WHERE client_request_id LIKE 'd2-%' GROUP BY 1, 2, 3, 4`);
  assert.deepEqual(recs, [['gateway_cut', 'delivered', '200', 'f', String(got.length)]]);
  // the usage seen so far: Anthropic and Gemini report it as they go, OpenAI only at its end
  const seen = await rows(db.conninfo, `SELECT endpoint, bool_and(input_tokens > 0), count(*) FROM requests
    WHERE client_request_id LIKE 'd2-%' GROUP BY 1 ORDER BY 1`);
  assert.deepEqual(seen.map((r) => r[0] === '/v1/chat/completions' ? r[2] : r[1]), ['10', 't', 't'],
    JSON.stringify(seen));
});

test('a worker killed while it holds many streams leaves a row for every one', async () => {
  const gw = await gateway({ shutdown_timeout_ms: 1000 });
  try {
    const n = Number(process.env.TG_DRAIN_KILL_STREAMS || 1000);
    const calls = await open(gw.port, 'd3-', n);
    const [victim] = workers(gw.pid);
    process.kill(victim, 'SIGKILL');
    const got = await Promise.all(calls);
    const cut = got.filter((r) => !whole(r)).length;
    await waitFor(`${n} rows`, async () => Number((await rows(db.conninfo,
      `SELECT count(*) FROM requests WHERE client_request_id LIKE 'd3-%'`))[0][0]) === n, 20000, 100);
    const byOutcome = await rows(db.conninfo, `SELECT outcome, count(*) FROM requests
      WHERE client_request_id LIKE 'd3-%' GROUP BY 1 ORDER BY 1`);
    assert.ok(cut > 0, 'the killed worker held some of the streams');
    console.log(`# ${n} streams, one worker killed: ${cut} cut, rows by outcome ${JSON.stringify(byOutcome)}`);
  } finally {
    await gw.stop('SIGKILL');
  }
});
