// Shared by the SDK tests: where to send calls (read from the environment, so the
// same tests run against the simulator or through the gateway) and the token rule
// of tests/mock/profiles.json, restated here so usage assertions are exact.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export const BASE_URL = (process.env.TG_BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
export const API_KEY = process.env.TG_API_KEY || 'test-key';
export const BAD_KEY = 'wrong-' + API_KEY;
export const BAD_KEY_EXPECTED = process.env.TG_BAD_KEY_EXPECTED !== '0';
export const MODEL = {
  anthropic: process.env.TG_MODEL_ANTHROPIC || 'claude-haiku-4-5',
  gemini: process.env.TG_MODEL_GEMINI || 'gemini-2.5-flash',
  openai: process.env.TG_MODEL_OPENAI || 'gpt-4o-mini',
};
// The simulator's own control URL; tests of /__mock/ endpoints skip without it.
export const MOCK_URL = process.env.TG_MOCK_URL || '';

export const QUESTION = 'What is the capital of France?';
export const SYSTEM = 'Answer briefly.';

const profiles = JSON.parse(
  readFileSync(process.env.TG_MOCK_PROFILES || join(here, '..', 'mock', 'profiles.json'), 'utf8'));

// A text piece costs ceil(utf8 bytes / 4) tokens.
export function tokens(text) {
  return Math.ceil(Buffer.byteLength(text, 'utf8') / 4);
}

// Input tokens of a request whose text pieces are `pieces`, sent as `messages`
// messages (a system prompt counts as one): the sum plus the family's framing.
export function inputTokens(family, pieces, messages) {
  const f = profiles.families[family];
  return pieces.reduce((n, p) => n + tokens(p), 0) + f.base_tokens + f.message_tokens * messages;
}

export function profile(name) {
  return profiles.models.find((m) => m.name === name);
}

// Rejects with the error a promise (or async thunk) throws; fails if it resolves.
export async function caught(fn) {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error, the call succeeded');
}

// Through the gateway (TG_VIA_GATEWAY=1) the x-mock-* headers are not forwarded
// (a gateway passes no test hooks upstream), so faults are set on the simulator
// for the next `count` calls instead, and the provider's breaker is reset after.
export const VIA_GATEWAY = process.env.TG_VIA_GATEWAY === '1';
export const ADMIN_KEY = process.env.TG_ADMIN_KEY || '';
export const ADMIN_SOCKET = process.env.TG_ADMIN_SOCKET || '';

// Headers to send with the call that must fail with `kind` (empty through the gateway).
export async function fault(family, kind, { retryAfter, count = 1 } = {}) {
  if (!VIA_GATEWAY) {
    const h = { 'x-mock-fault': kind };
    if (retryAfter) h['x-mock-retry-after'] = String(retryAfter);
    return h;
  }
  const body = { fault: kind, provider: family, count, ...(retryAfter ? { retry_after: retryAfter } : {}) };
  const r = await fetch(`${MOCK_URL}/__mock/faults`, { method: 'POST', body: JSON.stringify(body) });
  if (r.status !== 200) throw new Error(`could not set the fault: ${await r.text()}`);
  return {};
}

// After a fault test through the gateway: clear the simulator's rule and the
// provider's throttle or disable, so the next test starts clean.
export async function recover(family) {
  if (!VIA_GATEWAY) return;
  await fetch(`${MOCK_URL}/__mock/faults`, { method: 'POST', body: JSON.stringify({ fault: 'none', provider: family }) });
  const r = await adminPost(`/admin/breakers/${family}/reset`);
  if (r.status !== 200) throw new Error(`could not reset the ${family} breaker: ${r.text}`);
}

// A POST to the gateway's admin API, which listens on its own unix socket (TG_ADMIN_SOCKET),
// never on the client port.
function adminPost(path) {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: ADMIN_SOCKET, method: 'POST', path,
      headers: { authorization: `Bearer ${ADMIN_KEY}` } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

// A test the gateway cannot pass yet is skipped through it, naming the issue that
// tracks the gap; against the simulator it runs.
export function gatewayGap(issue, what) {
  return VIA_GATEWAY ? `through the gateway: ${what} (issue ${issue})` : false;
}

// A prefix no earlier call has sent: the simulator's prompt cache lives as long as
// its process, and the suite may run twice against one simulator.
export function nonce() {
  return `run-${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e9)}`;
}

// Text of exactly n tokens under the token rule (4 bytes a token), after a nonce.
export function document(n) {
  const head = `${nonce()} `;
  const pad = (4 - (Buffer.byteLength(head) % 4)) % 4;
  return head + ' '.repeat(pad) + 'doc '.repeat(n - Math.ceil(Buffer.byteLength(head) / 4));
}

// The tools every family's tool tests offer, as JSON Schema.
export const WEATHER_SCHEMA = {
  type: 'object',
  properties: { location: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
  required: ['location'],
};
export const TIME_SCHEMA = { type: 'object', properties: {} };
// Arguments with escapes and non-ASCII text, written after the tool's name (the trigger).
export const HARD_ARGS = { location: 'Zürich "Altstadt" \\ 東京', unit: 'celsius' };
export const HARD_PROMPT = `Explain, then call get_weather ${JSON.stringify(HARD_ARGS)} and get_time`;
