// Helpers for the integration tests: free ports, a private gateway and
// simulator per test file, plain HTTP on fresh connections, and waiting for
// a condition with a deadline (never sleep-and-hope).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BUILD = process.env.TG_BUILD_DIR || path.join(ROOT, 'build');
export const TOLLGATE = path.join(BUILD, 'tollgate');
export const MOCK = path.join(BUILD, 'tollgate-mock');
export const PG = process.env.TG_TEST_PG || '';

// Scratch directories: removed when the test file's process exits (TG_TEST_KEEP=1 keeps
// them), since a gateway's state dir holds a ring file whose blocks are all allocated.
const scratch = [];
process.on('exit', () => {
  if (process.env.TG_TEST_KEEP === '1') return;
  for (const d of scratch) {
    try { rmSync(d, { recursive: true, force: true }); } catch { /* a root-owned leftover: nothing to do */ }
  }
});

export function tmpdir(prefix = 'tollgate-test-') {
  const d = mkdtempSync(path.join(os.tmpdir(), prefix));
  scratch.push(d);
  return d;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export async function waitFor(what, pred, timeoutMs = 5000, everyMs = 20) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await pred();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

// Where cfg's admin API listens, as http.request options: { socketPath } or { host, port }.
export function adminAddress(cfg) {
  const l = cfg.admin && cfg.admin.listen;
  if (!l) return null;
  if (l.includes('/')) return { socketPath: path.resolve(ROOT, l) };
  const i = l.lastIndexOf(':');
  return { host: l.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(l.slice(i + 1)) };
}

// One request on a new connection (so successive calls can reach different workers). `port`
// is the client port, or an address object such as adminAddress's (gw.admin).
export function request(port, method, urlPath, { headers = {}, body } = {}) {
  const where = typeof port === 'object' ? port : { host: '127.0.0.1', port };
  return new Promise((resolve, reject) => {
    const req = http.request({ ...where, method, path: urlPath, headers, agent: false },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json;
          try { json = JSON.parse(text); } catch { json = undefined; }
          resolve({ status: res.statusCode, headers: res.headers, text, json });
        });
        res.on('error', reject);
      });
    req.on('error', reject);
    if (body !== undefined) req.write(typeof body === 'string' ? body : JSON.stringify(body));
    req.end();
  });
}

// One request to a gateway's admin listener (gw from startGateway); `key` sends it as the
// admin bearer key.
export function adminRequest(gw, method, urlPath, { key, headers = {}, body } = {}) {
  if (!gw.admin) throw new Error('this gateway has no admin listener (admin.listen)');
  const h = key ? { authorization: `Bearer ${key}`, ...headers } : headers;
  return request(gw.admin, method, urlPath, { headers: h, body });
}

// A running child process whose stderr lines are kept for assertions.
export class Proc {
  constructor(cmd, args, opts = {}) {
    this.lines = [];
    this.exited = new Promise((resolve) => {
      this.child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
      this.child.on('exit', (code, signal) => resolve({ code, signal }));
    });
    let partial = '';
    const keep = (chunk) => {
      partial += chunk.toString('utf8');
      const parts = partial.split('\n');
      partial = parts.pop();
      this.lines.push(...parts);
      if (process.env.TG_TEST_VERBOSE) for (const l of parts) console.error(`[${path.basename(cmd)}] ${l}`);
    };
    this.child.stderr.on('data', keep);
    this.child.stdout.on('data', keep);
  }
  get pid() { return this.child.pid; }
  logged(re) { return this.lines.some((l) => re.test(l)); }
  async waitLog(re, timeoutMs = 5000) {
    return waitFor(`log line ${re}`, () => this.lines.find((l) => re.test(l)), timeoutMs);
  }
  signal(sig) { this.child.kill(sig); }
  async stop(sig = 'SIGTERM', timeoutMs = 15000) {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill(sig);
      const t = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
      await this.exited;
      clearTimeout(t);
    }
    this.assertNoSanitizerReport();
    return this.exited;
  }
  // A sanitizer build that reported anything fails the test file, even if clients saw nothing.
  assertNoSanitizerReport() {
    const i = this.lines.findIndex((l) => /ERROR: (Address|Leak)Sanitizer|runtime error:/.test(l));
    if (i !== -1) throw new Error(`sanitizer report from ${path.basename(this.child.spawnargs[0])}:\n` +
      this.lines.slice(i, i + 30).join('\n'));
  }
}

export async function startMock({ seed = 1, args = [] } = {}) {
  const port = await freePort();
  const p = new Proc(MOCK, ['--listen', `127.0.0.1:${port}`, '--seed', String(seed),
    '--profiles', path.join(ROOT, 'tests/mock/profiles.json'), ...args], { cwd: ROOT });
  p.port = port;
  await waitFor('simulator to listen', async () => (await request(port, 'GET', '/__mock/stats')).status === 200);
  return p;
}

export const PRICES = {
  'claude-3-haiku': { input: '0.25', output: '1.25', cache_read: '0.03', cache_write: '0.30' },
  'claude-haiku-4-5': { input: '1.00', output: '5.00', cache_read: '0.10', cache_write: '1.25' },
  'gemini-2.5-flash': { input: '0.30', output: '2.50', cache_read: '0.075' },
  'gpt-4o-mini': { input: '0.15', output: '0.60', cache_read: '0.075' },
};

// The simulator's address as a provider's base_url. At 127.0.0.1 the workers reach it with
// their own HTTP/1.1 client; TG_TEST_PROVIDER_HOST=localhost sends the same calls through
// libcurl, the engine of https:// providers and host names (tests/run.sh runs both).
export function providerUrl(port) {
  return `http://${process.env.TG_TEST_PROVIDER_HOST || '127.0.0.1'}:${port}`;
}

// A gateway config against a simulator on mockPort; `extra` is merged over the top level,
// except `admin`, merged over the default admin listener: a unix socket in the state dir
// (`/readyz`, `/metrics` and `/admin/*` are served there only; `adminRequest` reaches it).
export function gatewayConfig({ port, mockPort, stateDir, workers = 2, extra = {} }) {
  const base = providerUrl(mockPort);
  const provider = (kind) => ({
    kind, base_url: base, api_key_env: `TG_TEST_${kind.toUpperCase()}_KEY`,
    connect_timeout_ms: 1000, first_byte_timeout_ms: 5000, total_timeout_ms: 20000,
  });
  return {
    listen: `127.0.0.1:${port}`,
    workers,
    state_dir: stateDir,
    shutdown_timeout_ms: 5000,
    database: { conninfo: PG || 'host=/nonexistent dbname=tollgate', batch_rows: 500, flush_ms: 50,
      ring_records: 8192 },
    providers: { anthropic: provider('anthropic'), gemini: provider('gemini'), openai: provider('openai') },
    models: {
      'claude-3-haiku': { provider: 'anthropic', upstream: 'claude-3-haiku-20240307', price_per_mtok: PRICES['claude-3-haiku'] },
      'claude-haiku-4-5': { provider: 'anthropic', upstream: 'claude-haiku-4-5', price_per_mtok: PRICES['claude-haiku-4-5'] },
      'gemini-2.5-flash': { provider: 'gemini', upstream: 'gemini-2.5-flash', price_per_mtok: PRICES['gemini-2.5-flash'] },
      'gpt-4o-mini': { provider: 'openai', upstream: 'gpt-4o-mini', price_per_mtok: PRICES['gpt-4o-mini'] },
    },
    routes: { cheap: { strategy: 'fallback', targets: ['claude-haiku-4-5', 'gemini-2.5-flash'] } },
    ...extra,
    admin: { listen: path.join(path.resolve(ROOT, stateDir), 'admin.sock'), ...(extra.admin || {}) },
  };
}

export const PROVIDER_ENV = {
  TG_TEST_ANTHROPIC_KEY: 'sk-ant-test-provider-key',
  TG_TEST_GEMINI_KEY: 'AIza-test-provider-key',
  TG_TEST_OPENAI_KEY: 'sk-test-provider-key',
};

export async function startGateway(cfg, { env = {}, dir = tmpdir() } = {}) {
  const cfgPath = path.join(dir, 'tollgate.json');
  writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
  const p = new Proc(TOLLGATE, ['-c', cfgPath], { cwd: ROOT, env: { ...process.env, ...PROVIDER_ENV, ...env } });
  p.cfgPath = cfgPath;
  p.port = Number(cfg.listen.split(':').pop());
  p.admin = adminAddress(cfg);
  await p.waitLog(/ready: \d+ workers serving/, 10000);
  return p;
}
