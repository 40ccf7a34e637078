// Reload under load (issue 8): wrk posts Anthropic calls through the gateway
// while a SIGHUP changes models, routes, keys, limits and breaker settings.
// Zero socket errors and zero non-2xx answers; the new config serves after.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { PRICES, ROOT, freePort, gatewayConfig, request, startGateway, startMock, tmpdir } from './lib.mjs';

const sha = (s) => createHash('sha256').update(s).digest('hex');
let gw, mock, cfg;

before(async () => {
  mock = await startMock({ seed: 21, args: ['--latency-ms', '2'] });
  cfg = gatewayConfig({ port: await freePort(), mockPort: mock.port, stateDir: tmpdir('tollgate-state-'),
    extra: { keys: [{ name: 'bench', sha256: sha('bench-key'), rpm: 1000000, tpm: 2000000000 }] } });
  cfg.database.log_backpressure = 'allow';
  gw = await startGateway(cfg);
});

after(async () => {
  if (gw) await gw.stop('SIGKILL');
  if (mock) await mock.stop('SIGKILL');
});

test('SIGHUP under wrk load changing models, routes, keys, limits and breakers: no error at all', async () => {
  const wrk = spawn('wrk', ['-t2', '-c32', '-d6s', '-s', 'tests/stress/messages.lua', `http://127.0.0.1:${gw.port}`],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  wrk.stdout.on('data', (c) => { out += c; });
  const done = new Promise((r) => wrk.on('exit', r));
  await new Promise((r) => setTimeout(r, 2500)); // mid-run: the load is the point, not a wait for state

  cfg.models['claude-3-haiku-2'] = { provider: 'anthropic', upstream: 'claude-3-haiku-20240307', price_per_mtok: PRICES['claude-3-haiku'] };
  cfg.routes.anthropic_only = { strategy: 'fallback', targets: ['claude-haiku-4-5', 'claude-3-haiku-2'] };
  cfg.keys = [{ name: 'bench', sha256: sha('bench-key'), rpm: 900000, tpm: 1900000000 },
    { name: 'second', sha256: sha('second-key'), rpm: 10 }];
  cfg.providers.anthropic.breaker = { window: 50, min_calls: 20, failure_rate: 0.6, consecutive_failures: 8, open_ms: 5000 };
  cfg.providers.anthropic.rate_limit = { rpm: 5000000, tpm: 5000000000 };
  writeFileSync(gw.cfgPath, JSON.stringify(cfg));
  gw.signal('SIGHUP');
  await gw.waitLog(/reloaded generation=2 /, 5000);
  await done;

  const reqs = Number((out.match(/(\d+) requests in/) || [])[1]);
  assert.ok(reqs > 1000, `wrk made too few requests:\n${out}`);
  assert.doesNotMatch(out, /Socket errors/, out);
  assert.doesNotMatch(out, /Non-2xx/, out);

  const viaRoute = await request(gw.port, 'POST', '/v1/messages', {
    headers: { 'content-type': 'application/json', 'x-api-key': 'second-key', 'anthropic-version': '2023-06-01' },
    body: { model: 'anthropic_only', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] } });
  assert.equal(viaRoute.status, 200, 'the new key, route and model serve after the reload');
  assert.equal(viaRoute.headers['x-ratelimit-limit-requests'], '10');
});
