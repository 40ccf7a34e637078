// `tollgate report --compare`: known rows go into a fresh database with SQL
// (three models with known costs, a shadow series, checks that pass, fail and
// cannot be decided, errors, a call with no model, an old call and another
// route), then the terminal table's figures are checked to the digit against
// an independent BigInt computation (the bootstrap included: the same seeded
// PRNG, written again here), no line passes 100 columns, the page has one
// series per model in each chart, USD axes, the shadow series marked, nothing
// from outside the page and every database string escaped, and headless
// Chromium renders it into something that is not blank.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { PROVIDER_ENV, ROOT, TOLLGATE, gatewayConfig, tmpdir } from './lib.mjs';
import { createDb, migrate, psql, requirePg } from './db.mjs';
import { formatUsd } from './money.mjs';
import { decode, stats } from '../png.mjs';

const run = promisify(execFile);
let db, dir, cfgPath;

// ---- the rows ----

const E12 = 1000000000000n;
const OK_AUTO = [];          // [{ model, shadow, cost, out, rsn, lat, run, passed, unknown }] in age order
const rowsSql = [];
let age = 0;                 // seconds before now(); each row one second older than the next

function row({ model, route = 'auto', shadow = false, outcome = 'ok', cost = 0n, out = 0, rsn = 0,
  lat = 0, run: checksRun = 0, passed = 0, unknown = 0, ageSec }) {
  const a = ageSec ?? (age += 1);
  const v = (s) => (s === null ? 'NULL' : `'${String(s).replace(/'/g, "''")}'`);
  rowsSql.push(`(gen_random_uuid(), now() - make_interval(secs => ${a}), '/v1/messages', ${v(route)},
    'anthropic', ${v(model)}, ${v(model)}, false, ${outcome === 'ok' ? 200 : 503}, ${v(outcome)}, 1, 20,
    ${out}, ${rsn}, 0, 0, ${formatUsd(cost)}, ${lat}, ${Math.floor(lat / 3)}, 100, true, 'delivered',
    'cheapest', ${shadow ? 'gen_random_uuid()' : 'NULL'}, ${checksRun | 0}, ${passed | 0}, ${unknown | 0})`);
}

// Oldest first is the report's order of calls within a series, so rows are made newest first
// and the expected arrays reversed at the end.
const series = {
  'claude-3-haiku': { shadow: false, costs: [], calls: 0, errors: 0 },
  'claude-haiku-4-5': { shadow: false, costs: [], calls: 0, errors: 0 },
  'gemini-2.5-flash': { shadow: false, costs: [], calls: 0, errors: 0 },
  'gemini-2.5-flash (shadow)': { shadow: true, costs: [], calls: 0, errors: 0 },
};
const BIT31 = -2147483648;   // bit 31 of an int4 bitmap

function ok(label, model, shadow, k, cost, { out, rsn = 0, lat, run: r = 1, passed = 1, unknown = 0 }) {
  row({ model, shadow, cost, out, rsn, lat, run: r, passed, unknown });
  const s = series[label];
  s.calls++;
  s.costs.push(cost);
  s.rows = s.rows || [];
  s.rows.push({ out, rsn, lat });
}

function fail(label, model, outcome) {
  row({ model, outcome, lat: 30000000 });
  series[label].calls++;
  series[label].errors++;
}

for (let k = 0; k < 20; k++) {
  // mean 8,345,000 pico-USD: exactly half-way at 8 decimals, so half-even gives ...834
  ok('claude-3-haiku', 'claude-3-haiku', false, k, 8250000n + 10000n * BigInt(k),
    { out: 10 + (k % 7), lat: 400000 + k * 7919 });
}
fail('claude-3-haiku', 'claude-3-haiku', 'unavailable');
for (let k = 0; k < 10; k++) {
  ok('claude-haiku-4-5', 'claude-haiku-4-5', false, k, 33000000n + 1234567n * BigInt(k),
    { out: 12 + k, lat: 650000 + k * 10007, passed: k < 8 ? 1 : 0 });
}
for (let k = 0; k < 12; k++) {
  const cost = k === 5 ? 150000000n : 70000000n + 2345678n * BigInt(k);
  ok('gemini-2.5-flash', 'gemini-2.5-flash', false, k, cost,
    { out: 50 + k, rsn: 40 + 3 * k, lat: 1400000 + k * 33331, unknown: k === 3 ? 1 : 0,
      passed: k === 3 ? 0 : 1 });
}
fail('gemini-2.5-flash', 'gemini-2.5-flash', 'timeout');
fail('gemini-2.5-flash', 'gemini-2.5-flash', 'upstream_error');
for (let k = 0; k < 5; k++) {
  // bit 31 too: the bitmap arrives as a negative integer
  ok('gemini-2.5-flash (shadow)', 'gemini-2.5-flash', true, k, 72000000n + 1000001n * BigInt(k),
    { out: 55 + k, rsn: 44 + k, lat: 1500000 + k * 20011, run: 1 | BIT31,
      passed: k < 3 ? 1 | BIT31 : 1 });
}
for (const s of Object.values(series)) {
  s.costs.reverse();
  s.rows.reverse();
}
// left out of --route auto --since '1 day': refused before a model, another route, too old
row({ model: null, outcome: 'client_error' });
const EVIL = `x<b>&"'${'y'.repeat(56)}`;      // 63 characters, markup inside
row({ model: EVIL, route: 'other<i>', cost: 9000000n, out: 9, lat: 300000, run: 1, passed: 1 });
row({ model: 'claude-3-haiku', cost: 999999999n, out: 9, lat: 300000, ageSec: 3 * 86400 });

// ---- the arithmetic, again, in BigInt ----

function quot(num, den, decimals) {
  const neg = (num < 0n) !== (den < 0n) && num !== 0n;
  let n = num < 0n ? -num : num;
  const d = den < 0n ? -den : den;
  const scale = 10n ** BigInt(decimals);
  let q = (n * scale) / d;
  const r = (n * scale) % d;
  if (r * 2n > d || (r * 2n === d && q % 2n === 1n)) q++;
  const whole = (q / scale).toString();
  const frac = decimals ? '.' + (q % scale).toString().padStart(decimals, '0') : '';
  return (neg && q !== 0n ? '-' : '') + whole + frac;
}

const rank = (sorted, permille) => sorted[Math.max(1, Math.ceil((sorted.length * permille) / 1000)) - 1];
const M64 = (1n << 64n) - 1n;
const rotl = (x, k) => ((x << BigInt(k)) | (x >> BigInt(64 - k))) & M64;

// xoshiro256** seeded through splitmix64, Lemire's bounded draw, FNV-1a: logger/stats.c
function rng(seed) {
  let x = seed;
  const s = [];
  for (let i = 0; i < 4; i++) {
    x = (x + 0x9e3779b97f4a7c15n) & M64;
    let z = x;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
    s.push(z ^ (z >> 31n));
  }
  const next = () => {
    const out = (rotl((s[1] * 5n) & M64, 7) * 9n) & M64;
    const t = (s[1] << 17n) & M64;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45);
    return out;
  };
  return (bound) => {
    let m = next() * bound;
    if ((m & M64) < bound) {
      const floor = ((1n << 64n) - bound) % bound;
      while ((m & M64) < floor) m = next() * bound;
    }
    return Number(m >> 64n);
  };
}

function fnv(name, salt) {
  let h = 0xcbf29ce484222325n ^ salt;
  for (const b of Buffer.from(name, 'utf8')) h = ((h ^ BigInt(b)) * 0x100000001b3n) & M64;
  return h;
}

function bootstrap(costs, seed) {
  const below = rng(seed);
  const n = costs.length;
  const sums = [];
  for (let b = 0; b < 1000; b++) {
    let s = 0n;
    for (let i = 0; i < n; i++) s += costs[below(BigInt(n))];
    sums.push(s);
  }
  sums.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return [sums[24], sums[974]];
}

// The series by exact mean, cheapest first: the live Gemini calls carry an outlier
const meanCmp = ([, a], [, b]) => {
  const l = a.costs.reduce((x, y) => x + y, 0n) * BigInt(b.costs.length);
  const r = b.costs.reduce((x, y) => x + y, 0n) * BigInt(a.costs.length);
  return l < r ? -1 : l > r ? 1 : 0;
};
const BY_MEAN = Object.entries(series).sort(meanCmp).map(([label]) => label);

// ---- reading the terminal report ----

// { title → { label → { header → cell } } }; cells are apart by two spaces or more
function parseTables(text) {
  const tables = {};
  const blocks = text.split('\n\n');
  for (const b of blocks) {
    const lines = b.split('\n').filter((l) => l !== '');
    const h = lines.findIndex((l) => l.startsWith('model  '));
    if (h < 1) continue;
    const heads = lines[h].split(/\s{2,}/);
    const t = (tables[lines[h - 1]] = tables[lines[h - 1]] || {});
    for (const l of lines.slice(h + 1)) {
      if (!/\s{2,}/.test(l) || l.startsWith('uN:')) continue;
      const cells = l.split(/\s{2,}/);
      t[cells[0]] = Object.fromEntries(heads.map((hd, i) => [hd, cells[i]]));
    }
  }
  return tables;
}

const columns = (line) => [...line].length;

async function report(args, { expectFail = false } = {}) {
  try {
    const { stdout, stderr } = await run(TOLLGATE, ['report', '-c', cfgPath, ...args],
      { cwd: ROOT, env: { ...process.env, ...PROVIDER_ENV }, timeout: 30000 });
    assert.ok(!expectFail, `report ${args.join(' ')} should have failed`);
    return { stdout, stderr, code: 0 };
  } catch (e) {
    if (!expectFail) throw e;
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

before(async () => {
  requirePg();
  dir = tmpdir('tollgate-compare-');
  db = await createDb('compare');
  const cfg = gatewayConfig({ port: 1, mockPort: 2, stateDir: path.join(dir, 'state') });
  cfg.database.conninfo = db.conninfo;
  cfg.routes.auto = { strategy: 'fallback', targets: ['claude-3-haiku', 'claude-haiku-4-5', 'gemini-2.5-flash'] };
  cfgPath = migrate(cfg, dir);
  await psql(db.conninfo, `INSERT INTO requests (request_id, created_at, endpoint, route, provider, model,
    upstream_model, stream, status, outcome, attempts, input_tokens, output_tokens, reasoning_tokens,
    cache_read_tokens, cache_write_tokens, cost_usd, latency_us, ttfb_us, overhead_us, usage_complete,
    delivery, route_reason, shadow_of, checks_run, checks_passed, checks_unknown) VALUES ${rowsSql.join(',\n')}`);
});

after(async () => {
  if (db) await db.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the table: exact means, bootstrap intervals, percentiles, ratios, error and pass rates', { timeout: 60000 }, async () => {
  const { stdout } = await report(['--compare', '--since', '1 day', '--route', 'auto']);
  for (const l of stdout.split('\n')) assert.ok(columns(l) <= 100, `a line of ${columns(l)} columns:\n${l}`);
  assert.match(stdout, /Models compared on route auto: 50 calls/);
  assert.match(stdout, /Left out, refused before a model was chosen: 1 calls/);
  const t = parseTables(stdout);
  const cost = t['Cost per successful call, USD (8 decimals)'];
  const usage = t['Calls, and tokens and latency of the successful ones'];
  const checks = t['Checks: pass rate of the calls where each was decided'];
  assert.ok(cost && usage && checks, `tables missing in:\n${stdout}`);
  // cheapest mean first; the shadow series is its own row
  assert.deepEqual(Object.keys(cost), BY_MEAN);

  const haiku = series['claude-3-haiku'];
  const sumOf = (s) => s.costs.reduce((a, b) => a + b, 0n);
  assert.equal(cost['claude-3-haiku'].mean, '0.00000834', 'half-even: 8,345,000 pico-USD is a tie at 8 decimals');
  for (const [label, s] of Object.entries(series)) {
    const n = BigInt(s.costs.length);
    const sum = sumOf(s);
    const sorted = [...s.costs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const usd = (num, den) => quot(num, den * E12, 8);
    const name = label.replace(' (shadow)', '');
    const [lo, hi] = bootstrap(s.costs, fnv(name, s.shadow ? 1n : 0n));
    const c = cost[label];
    assert.equal(c.mean, usd(sum, n), `${label} mean`);
    assert.equal(c['95% low'], usd(lo, n), `${label} CI low`);
    assert.equal(c['95% high'], usd(hi, n), `${label} CI high`);
    assert.ok(lo <= sum && sum <= hi, `${label}: the interval holds the mean`);
    assert.equal(c.p50, usd(rank(sorted, 500), 1n), `${label} p50`);
    assert.equal(c.p95, usd(rank(sorted, 950), 1n), `${label} p95`);
    const hn = BigInt(haiku.costs.length);
    assert.equal(c['vs cheapest'], `${quot(sum * hn, sumOf(haiku) * n, 2)}×`, `${label} ratio`);
    const u = usage[label];
    assert.equal(u.calls, String(s.calls));
    assert.equal(u['error %'], `${quot(BigInt(s.errors) * 100n, BigInt(s.calls), 1)}%`, `${label} errors`);
    const lat = s.rows.map((r) => BigInt(r.lat)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    assert.equal(u['ms p50'], quot(rank(lat, 500), 1000n, 1));
    assert.equal(u['ms p95'], quot(rank(lat, 950), 1000n, 1));
  }
  assert.equal(cost['gemini-2.5-flash']['vs cheapest'], '10.62×');
  assert.equal(cost['gemini-2.5-flash (shadow)']['vs cheapest'], '8.87×');
  assert.equal(usage['claude-3-haiku']['error %'], '4.8%');
  assert.equal(usage['gemini-2.5-flash']['error %'], '14.3%');

  // percentiles agree with PostgreSQL's percentile_disc
  const pg = await psql(db.conninfo, `SELECT model || CASE WHEN shadow_of IS NULL THEN '' ELSE ' (shadow)' END,
      percentile_disc(0.5) WITHIN GROUP (ORDER BY output_tokens), percentile_disc(0.95) WITHIN GROUP (ORDER BY output_tokens),
      percentile_disc(0.5) WITHIN GROUP (ORDER BY reasoning_tokens), percentile_disc(0.95) WITHIN GROUP (ORDER BY reasoning_tokens)
    FROM requests WHERE route = 'auto' AND outcome = 'ok' AND created_at >= now() - interval '1 day'
    GROUP BY 1`);
  for (const line of pg.split('\n')) {
    const [label, o50, o95, r50, r95] = line.split('|');
    assert.deepEqual([usage[label]['out p50'], usage[label]['out p95'], usage[label]['rsn p50'],
      usage[label]['rsn p95']], [o50, o95, r50, r95], `${label} token percentiles`);
  }

  // checks: decided runs only; undecided ones said; bit 31 read from a negative integer
  assert.equal(checks['claude-3-haiku']['check#0'], '100.0%');
  assert.equal(checks['claude-haiku-4-5']['check#0'], '80.0%');
  assert.equal(checks['gemini-2.5-flash']['check#0'], '100.0% u1');
  assert.equal(checks['gemini-2.5-flash (shadow)']['check#0'], '100.0%');
  assert.equal(checks['gemini-2.5-flash (shadow)']['check#31'], '60.0%');
  assert.equal(checks['claude-3-haiku']['check#31'], '-');
  assert.match(stdout, /^uN: N calls whose check could not be decided/m);

  // the same rows give the same report, interval included
  const again = await report(['--compare', '--since', '1 day', '--route', 'auto']);
  assert.equal(again.stdout.replace(/from .* UTC/, ''), stdout.replace(/from .* UTC/, ''));
});

test('every route: a 63-character name and two routes\' checks stay within 100 columns', { timeout: 30000 }, async () => {
  const { stdout } = await report(['--compare', '--since', '1 day']);
  for (const l of stdout.split('\n')) assert.ok(columns(l) <= 100, `a line of ${columns(l)} columns:\n${l}`);
  assert.match(stdout, /Models compared on every route: 51 calls/);
  assert.match(stdout, /auto\/check#0/);
  assert.match(stdout, /other<i>\/check#0/);
  assert.match(stdout, /x<b>&"'y+…/, 'the long name is cut, and said to be');
});

test('bad arguments are refused by name', { timeout: 30000 }, async () => {
  let r = await report(['--compare', '--since', 'fortnight'], { expectFail: true });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--since "fortnight" is not an interval PostgreSQL accepts/);
  r = await report(['--compare', '--since', '-1 day'], { expectFail: true });
  assert.match(r.stderr, /--since "-1 day" expected an interval after zero/);
  r = await report(['--route', 'auto'], { expectFail: true });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--route needs report --compare/);
  r = await report(['--compare', '--by', 'key'], { expectFail: true });
  assert.equal(r.code, 1);
  // the plain report is as it was
  const plain = await report(['--since', '1 day']);
  assert.match(plain.stdout, /^model\s+calls\s+ok\s+other/m);
});

test('a period without calls says so, in the table and on the page', { timeout: 30000 }, async () => {
  const page = path.join(dir, 'empty.html');
  const { stdout } = await report(['--compare', '--since', '1 day', '--route', 'nosuch', '--html', page]);
  assert.match(stdout, /Models compared on route nosuch: 0 calls/);
  assert.match(stdout, /\(no calls in the period\)/);
  assert.match(readFileSync(page, 'utf8'), /No calls in the period\./);
});

function series_in(html, id) {
  const svg = html.match(new RegExp(`<svg id="${id}"[\\s\\S]*?</svg>`));
  assert.ok(svg, `no <svg id="${id}">`);
  return [...svg[0].matchAll(/<g class="series" data-model="([^"]*)" data-shadow="([01])">/g)]
    .map((m) => `${m[1]}${m[2] === '1' ? ' (shadow)' : ''}`);
}

test('the page: one series per model in each chart, USD axes, shadow marked, nothing from outside, escaped, rendered',
  { timeout: 120000 }, async () => {
    const page = path.join(dir, 'compare.html');
    await report(['--compare', '--since', '1 day', '--route', 'auto', '--html', page]);
    const html = readFileSync(page, 'utf8');
    const want = BY_MEAN;
    assert.deepEqual(series_in(html, 'cost-distribution'), want);
    assert.deepEqual(series_in(html, 'cost-latency'), want);
    assert.match(html, /<svg id="cost-distribution"[\s\S]*?cost per successful call \(USD[^<]*\)<\/text>/);
    assert.match(html, /<svg id="cost-latency"[\s\S]*?latency \(ms\)[\s\S]*?cost per successful call \(USD[^<]*\)<\/text>/);
    assert.match(html, /<h1>[^<]*route <code>auto<\/code><\/h1>/);
    assert.match(html, /<p class="sub">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d to \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
    assert.equal((html.match(/gemini-2\.5-flash <em>\(shadow\)<\/em>/g) || []).length, 4,
      'the shadow series is marked in the legend and in each table');
    assert.match(html, /<td><b>0\.00000834<\/b><\/td>/);
    assert.match(html, /<td><b>10\.62×<\/b><\/td>/);
    // self-contained: no scripts, links, sources, imports or URLs of any kind
    for (const bad of [/https?:/i, /\bsrc\s*=/i, /<script/i, /<link/i, /@import/i, /url\(/i, /<img/i, /<iframe/i])
      assert.doesNotMatch(html, bad);

    // strings from the database are escaped, in text and in attributes
    const all = path.join(dir, 'all.html');
    await report(['--compare', '--since', '1 day', '--html', all]);
    const html2 = readFileSync(all, 'utf8');
    assert.ok(!html2.includes('x<b>&"\''), 'a model name went into the page unescaped');
    assert.ok(html2.includes('x&lt;b&gt;&amp;&quot;&#39;y'), 'the escaped name is there');
    assert.ok(html2.includes('other&lt;i&gt;/check#0'));
    assert.ok(!html2.includes('<i>'));

    // rendered by headless Chromium, the page is not blank
    const png = path.join(dir, 'compare.png');
    const r = spawnSync('sh', ['tests/render_html.sh', page, png], { cwd: ROOT, encoding: 'utf8', timeout: 100000 });
    if (r.status === 3) {
      assert.fail('Chromium is not installed, so the page could not be rendered: apt-get install chromium ' +
        '(make test installs it through tests/deps.sh)');
    }
    assert.equal(r.status, 0, `render_html.sh failed:\n${r.stderr}`);
    const s = stats(decode(readFileSync(png)));
    assert.equal(s.width, 1040);
    assert.ok(s.height > 900, `the rendering is ${s.height} px tall: the charts are missing`);
    assert.ok(s.colours >= 200, `only ${s.colours} colours: a blank or unstyled page`);
    assert.ok(s.inkedPermille >= 200, `only ${s.inkedPermille} per mille of the pixels differ from the background`);
  });
