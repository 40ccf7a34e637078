// @anthropic-ai/sdk 0.x (x-api-key, anthropic-version 2023-06-01) against the
// simulator or the gateway: JSON and streamed replies, usage, typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import {
  API_KEY, BAD_KEY, BAD_KEY_EXPECTED, BASE_URL, MODEL, QUESTION, SYSTEM, VIA_GATEWAY, caught, fault,
  inputTokens, recover, tokens,
} from './common.js';

const model = MODEL.anthropic;
const client = (key = API_KEY) => new Anthropic({ apiKey: key, baseURL: BASE_URL, maxRetries: 0 });
const request = (extra = {}) => ({
  model,
  max_tokens: 256,
  system: SYSTEM,
  messages: [{ role: 'user', content: QUESTION }],
  ...extra,
});
const expectedInput = inputTokens('anthropic', [SYSTEM, QUESTION], 2);

function assertUsage(msg) {
  const text = msg.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
  const thinking = msg.content.filter((b) => b.type === 'thinking').map((b) => b.thinking).join('');
  assert.match(text, /Paris/);
  assert.equal(msg.usage.input_tokens, expectedInput);
  assert.equal(msg.usage.output_tokens, tokens(text) + (thinking ? tokens(thinking) : 0));
  assert.equal(msg.usage.cache_creation_input_tokens, 0);
  assert.equal(msg.usage.cache_read_input_tokens, 0);
  assert.equal(msg.stop_reason, 'end_turn');
  assert.equal(msg.role, 'assistant');
  assert.ok(msg.model.startsWith(model.replace(/-\d{8}$/, '')), `model ${msg.model}`);
  return { text, thinking };
}

test('anthropic: non-streamed reply, text and usage', async () => {
  const msg = await client().messages.create(request());
  const { thinking } = assertUsage(msg);
  assert.equal(thinking, '');
  assert.equal(msg.usage.service_tier, 'standard');
  assert.match(msg.id, /^msg_/);
  // the gateway's own request id (a UUIDv7) replaces the provider's
  assert.match(msg._request_id, VIA_GATEWAY ? /^[0-9a-f]{8}-[0-9a-f]{4}-7/ : /^req_/);
});

test('anthropic: streamed reply, text and usage', async () => {
  const stream = client().messages.stream(request());
  let deltas = '';
  stream.on('text', (t) => { deltas += t; });
  const msg = await stream.finalMessage();
  const { text } = assertUsage(msg);
  assert.equal(deltas, text);
});

test('anthropic: streamed reply with extended thinking', async () => {
  const stream = client().messages.stream(request({
    max_tokens: 4096,
    thinking: { type: 'enabled', budget_tokens: 2048 },
  }));
  const msg = await stream.finalMessage();
  const { thinking } = assertUsage(msg);
  assert.ok(thinking.length > 0, 'a thinking block');
  assert.equal(msg.content[0].type, 'thinking');
  assert.ok(msg.content[0].signature.length > 0);
});

test('anthropic: missing max_tokens is a 400', async () => {
  const { max_tokens: _, ...body } = request();
  const e = await caught(() => client().messages.create(body));
  assert.ok(e instanceof Anthropic.BadRequestError, String(e));
  assert.equal(e.status, 400);
});

test('anthropic: wrong key is an AuthenticationError', { skip: !BAD_KEY_EXPECTED }, async () => {
  const e = await caught(() => client(BAD_KEY).messages.create(request()));
  assert.ok(e instanceof Anthropic.AuthenticationError, String(e));
  assert.equal(e.status, 401);
  assert.equal(e.error.error.type, 'authentication_error');
});

test('anthropic: x-mock-fault 429 is a RateLimitError with retry-after', async () => {
  const headers = await fault('anthropic', '429', { retryAfter: 7 });
  const e = await caught(() => client().messages.create(request(), { headers }));
  await recover('anthropic');
  assert.ok(e instanceof Anthropic.RateLimitError, String(e));
  assert.equal(e.status, 429);
  assert.equal(e.headers.get('retry-after'), '7');
  assert.equal(e.error.error.type, 'rate_limit_error');
});

test('anthropic: x-mock-fault 529 is an overloaded_error', async () => {
  // through the gateway both tries (max_attempts 2) meet the overload; the last is passed on
  const headers = await fault('anthropic', '529', { count: 2 });
  const e = await caught(() => client().messages.create(request(), { headers }));
  await recover('anthropic');
  assert.ok(e instanceof Anthropic.InternalServerError, String(e));
  assert.equal(e.status, 529);
  assert.equal(e.error.error.type, 'overloaded_error');
});

test('anthropic: reset-midstream breaks the stream', async () => {
  const stream = client().messages.stream(request(), { headers: await fault('anthropic', 'reset-midstream') });
  const e = await caught(() => stream.finalMessage());
  await recover('anthropic');
  assert.ok(e instanceof Error, String(e));
});

test('anthropic: error-midstream surfaces the in-stream error event', async () => {
  const stream = client().messages.stream(request(), { headers: await fault('anthropic', 'error-midstream') });
  const e = await caught(() => stream.finalMessage());
  await recover('anthropic');
  assert.ok(e instanceof Anthropic.APIError, String(e));
  assert.match(String(e.message), /overloaded|Overloaded/);
});
