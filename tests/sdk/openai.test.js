// openai 6.x (Authorization: Bearer, base URL + /v1) against the simulator or the
// gateway: chat completions JSON and chunks, include_usage, typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import {
  API_KEY, BAD_KEY, BAD_KEY_EXPECTED, BASE_URL, MODEL, QUESTION, SYSTEM, VIA_GATEWAY, caught, fault,
  inputTokens, profile, recover, tokens,
} from './common.js';

const model = MODEL.openai;
const client = (key = API_KEY) => new OpenAI({ apiKey: key, baseURL: BASE_URL + '/v1', maxRetries: 0 });
const request = (extra = {}) => ({
  model,
  max_completion_tokens: 256,
  messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: QUESTION }],
  ...extra,
});
const expectedPrompt = inputTokens('openai', [SYSTEM, QUESTION], 2);
const reasons = profile(model)?.thinks_by_default ?? false;

function assertUsage(u, text) {
  assert.match(text, /Paris/);
  assert.equal(u.prompt_tokens, expectedPrompt);
  const reasoning = u.completion_tokens_details.reasoning_tokens;
  if (reasons)
    assert.ok(reasoning > 0);
  else
    assert.equal(reasoning, 0);
  assert.equal(u.completion_tokens, tokens(text) + reasoning);
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
  assert.equal(u.prompt_tokens_details.cached_tokens, 0);
}

test('openai: non-streamed reply, text and usage', async () => {
  const r = await client().chat.completions.create(request());
  assertUsage(r.usage, r.choices[0].message.content);
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.object, 'chat.completion');
  assert.match(r.id, /^chatcmpl-/);
  // the gateway's own request id (a UUIDv7) replaces the provider's
  assert.match(r._request_id, VIA_GATEWAY ? /^[0-9a-f]{8}-[0-9a-f]{4}-7/ : /^req_/);
});

test('openai: streamed chunks with include_usage', async () => {
  const stream = await client().chat.completions.create(request({
    stream: true, stream_options: { include_usage: true },
  }));
  let text = '';
  let usage = null;
  let finish = null;
  for await (const c of stream) {
    if (c.usage)
      usage = c.usage;
    for (const ch of c.choices) {
      text += ch.delta?.content ?? '';
      finish = ch.finish_reason ?? finish;
    }
  }
  assert.equal(finish, 'stop');
  assert.ok(usage, 'a usage chunk');
  assertUsage(usage, text);
});

test('openai: stream helper, no usage without include_usage', async () => {
  const stream = client().chat.completions.stream(request());
  let sawUsage = false;
  stream.on('chunk', (c) => { if (c.usage) sawUsage = true; });
  const final = await stream.finalChatCompletion();
  assert.match(final.choices[0].message.content, /Paris/);
  assert.equal(sawUsage, false);
});

test('openai: wrong key is an AuthenticationError', { skip: !BAD_KEY_EXPECTED }, async () => {
  const e = await caught(() => client(BAD_KEY).chat.completions.create(request()));
  assert.ok(e instanceof OpenAI.AuthenticationError, String(e));
  assert.equal(e.status, 401);
  assert.equal(e.code, 'invalid_api_key');
});

test('openai: x-mock-fault 429 is a RateLimitError', async () => {
  // a Retry-After longer than the gateway's backoff cap: it answers instead of waiting
  const headers = await fault('openai', '429', { retryAfter: 7 });
  const e = await caught(() => client().chat.completions.create(request(), { headers }));
  await recover('openai');
  assert.ok(e instanceof OpenAI.RateLimitError, String(e));
  assert.equal(e.status, 429);
  assert.equal(e.code, 'rate_limit_exceeded');
  assert.ok(e.headers.get('retry-after'));
});

test('openai: x-mock-fault quota is insufficient_quota', async () => {
  const headers = await fault('openai', 'quota');
  const e = await caught(() => client().chat.completions.create(request(), { headers }));
  await recover('openai');
  if (VIA_GATEWAY) {
    // the gateway's key is out of quota: the provider is disabled until an operator resets it
    assert.ok(e instanceof OpenAI.InternalServerError, String(e));
    assert.equal(e.status, 503);
    assert.match(e.message, /disabled/);
    return;
  }
  assert.ok(e instanceof OpenAI.RateLimitError, String(e));
  assert.equal(e.code, 'insufficient_quota');
});

test('openai: reset-midstream breaks the stream', async () => {
  const e = await caught(async () => {
    const stream = await client().chat.completions.create(request({ stream: true }), {
      headers: await fault('openai', 'reset-midstream'),
    });
    for await (const _ of stream);
  });
  await recover('openai');
  assert.ok(e instanceof Error, String(e));
});

test('openai: error-midstream raises an APIError', async () => {
  const e = await caught(async () => {
    const stream = await client().chat.completions.create(request({ stream: true }), {
      headers: await fault('openai', 'error-midstream'),
    });
    for await (const _ of stream);
  });
  await recover('openai');
  assert.ok(e instanceof OpenAI.APIError, String(e));
});
