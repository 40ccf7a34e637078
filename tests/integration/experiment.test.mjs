// The motivating experiment (issue 5): the same question through
// /v1/chat/completions to Claude Haiku 4.5, Claude 3 Haiku and Gemini 2.5
// Flash. The database shows Flash's hidden reasoning tokens, and the per-request
// cost ratio computed from the records equals the one computed by hand from the
// usage the client saw and the price table.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { PG, PRICES, ROOT, TOLLGATE, freePort, gatewayConfig, request, startGateway, startMock, tmpdir } from './lib.mjs';
import { normalise, picoPerToken } from './money.mjs';

const ROUNDS = 20;
const MODELS = ['claude-haiku-4-5', 'claude-3-haiku', 'gemini-2.5-flash'];
let gw, mock, conninfo;

function psql(info, sql) {
  return execFileSync('psql', [info, '-v', 'ON_ERROR_STOP=1', '-At', '-c', sql], { encoding: 'utf8' }).trim();
}

before(async () => {
  assert.ok(PG, 'TG_TEST_PG must name a PostgreSQL conninfo (make test starts one)');
  const db = `tollgate_experiment_${process.pid}`;
  const admin = PG.replace(/dbname=\S+/, 'dbname=postgres');
  psql(admin, `DROP DATABASE IF EXISTS ${db}`);
  psql(admin, `CREATE DATABASE ${db}`);
  conninfo = PG.replace(/dbname=\S+/, `dbname=${db}`);
  mock = await startMock({ seed: 3 });
  const cfg = gatewayConfig({ port: await freePort(), mockPort: mock.port, stateDir: tmpdir('tollgate-state-') });
  cfg.database.conninfo = conninfo;
  const dir = tmpdir();
  gw = await startGateway(cfg, { dir });
  execFileSync(TOLLGATE, ['migrate', '-c', gw.cfgPath], { cwd: ROOT });
});

after(async () => {
  if (gw) await gw.stop('SIGKILL');
  if (mock) await mock.stop('SIGKILL');
});

test('the hidden reasoning bill, from the records and by hand, agree exactly', async () => {
  const hand = Object.fromEntries(MODELS.map((m) => [m, { n: 0n, pico: 0n, reasoning: 0 }]));
  const ask = (model) => request(gw.port, 'POST', '/v1/chat/completions', {
    headers: { 'content-type': 'application/json' },
    body: { model, messages: [{ role: 'user', content: 'What is the capital of France?' }] } })
    .then((r) => ({ model, r }));
  // the simulator answers at each profile's pace: ask all rounds at once
  const answers = await Promise.all(Array.from({ length: ROUNDS }, () => MODELS.map(ask)).flat());
  for (const { model, r } of answers) {
    {
      assert.equal(r.status, 200, r.text);
      // the client sees OpenAI's shape whatever answered: prompt, completion, reasoning
      const u = normalise('openai', r.json.usage);
      const p = PRICES[model];
      const pico = BigInt(u.input) * picoPerToken(p.input) + BigInt(u.output) * picoPerToken(p.output);
      hand[model].n += 1n;
      hand[model].pico += pico;
      hand[model].reasoning += u.reasoning;
    }
  }
  const { code } = await gw.stop('SIGTERM');
  assert.equal(code, 0);

  const rows = psql(conninfo, `SELECT model, count(*), sum(reasoning_tokens), min(reasoning_tokens),
      (sum(cost_usd) * 1000000000000)::bigint FROM requests GROUP BY model ORDER BY model`)
    .split('\n').map((l) => l.split('|'));
  const db = Object.fromEntries(rows.map(([m, n, rs, rmin, pico]) =>
    [m, { n: BigInt(n), reasoning: Number(rs), minReasoning: Number(rmin), pico: BigInt(pico) }]));
  for (const m of MODELS) {
    assert.equal(db[m].n, BigInt(ROUNDS), `${m}: one row per call`);
    assert.equal(db[m].pico, hand[m].pico, `${m}: recorded cost equals the hand computation`);
    assert.equal(db[m].reasoning, hand[m].reasoning, `${m}: reasoning tokens`);
  }
  assert.ok(db['gemini-2.5-flash'].minReasoning > 0, 'every Flash answer spent hidden reasoning tokens');
  assert.equal(db['claude-haiku-4-5'].reasoning, 0);

  // cost per request ratio: (G/nG)/(C/nC), compared as exact fractions
  for (const cheap of ['claude-haiku-4-5', 'claude-3-haiku']) {
    const g = db['gemini-2.5-flash'], c = db[cheap];
    const fromRecords = [g.pico * c.n, c.pico * g.n];
    const byHand = [hand['gemini-2.5-flash'].pico * hand[cheap].n, hand[cheap].pico * hand['gemini-2.5-flash'].n];
    assert.equal(fromRecords[0] * byHand[1], byHand[0] * fromRecords[1], `ratio against ${cheap}`);
    const ratio = Number(fromRecords[0] * 100n / fromRecords[1]) / 100;
    console.log(`# gemini-2.5-flash costs ${ratio}x ${cheap} per request`);
    assert.ok(ratio > 1.5, `Flash should cost more per request than ${cheap}, got ${ratio}x`);
  }
});
