// @anthropic-ai/sdk 0.x (x-api-key, anthropic-version 2023-06-01) against the
// simulator or the gateway: JSON and streamed replies, usage, prompt caching,
// tool use (the toolRunner helper too), typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { betaTool } from '@anthropic-ai/sdk/helpers/beta/json-schema';
import {
  API_KEY, BAD_KEY, BAD_KEY_EXPECTED, BASE_URL, HARD_ARGS, HARD_PROMPT, MODEL, QUESTION, SYSTEM,
  TIME_SCHEMA, VIA_GATEWAY, WEATHER_SCHEMA, caught, document, fault, gatewayGap, inputTokens,
  profile, recover, tokens,
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

// ---- prompt caching ----

// A system prompt whose second block carries the breakpoint, long enough to be cached.
function cachedRequest(doc, question, ttl) {
  const cc = ttl ? { type: 'ephemeral', ttl } : { type: 'ephemeral' };
  return request({
    system: [{ type: 'text', text: SYSTEM }, { type: 'text', text: doc, cache_control: cc }],
    messages: [{ role: 'user', content: question }],
  });
}
const cacheMin = profile(model)?.cache_min_tokens ?? 1024;

test('anthropic: cache_control writes the prefix, a repeat reads it', async () => {
  const doc = document(cacheMin + 100);
  const prefix = inputTokens('anthropic', [SYSTEM, doc], 1);
  const first = await client().messages.create(cachedRequest(doc, QUESTION));
  assert.equal(first.usage.cache_creation_input_tokens, prefix);
  assert.equal(first.usage.cache_creation.ephemeral_5m_input_tokens, prefix);
  assert.equal(first.usage.cache_creation.ephemeral_1h_input_tokens, 0);
  assert.equal(first.usage.cache_read_input_tokens, 0);
  // input_tokens is what follows the breakpoint: the question and its framing
  assert.equal(first.usage.input_tokens, tokens(QUESTION) + 3);
  const again = 'And the capital of Italy?';
  const second = await client().messages.create(cachedRequest(doc, again));
  assert.equal(second.usage.cache_read_input_tokens, prefix);
  assert.equal(second.usage.cache_creation_input_tokens, 0);
  assert.equal(second.usage.input_tokens, tokens(again) + 3);
});

test('anthropic: a 1h breakpoint, streamed, reports the 1h write in message_start', async () => {
  const doc = document(cacheMin + 7);
  const prefix = inputTokens('anthropic', [SYSTEM, doc], 1);
  const stream = client().messages.stream(cachedRequest(doc, QUESTION, '1h'));
  let start;
  stream.on('streamEvent', (e) => { if (e.type === 'message_start') start = e.message.usage; });
  const msg = await stream.finalMessage();
  assert.equal(start.cache_creation.ephemeral_1h_input_tokens, prefix);
  assert.equal(msg.usage.cache_creation_input_tokens, prefix);
  assert.equal(msg.usage.cache_read_input_tokens, 0);
  const read = await client().messages.stream(cachedRequest(doc, QUESTION, '1h')).finalMessage();
  assert.equal(read.usage.cache_read_input_tokens, prefix);
  assert.equal(read.usage.input_tokens + read.usage.cache_read_input_tokens,
    inputTokens('anthropic', [SYSTEM, doc, QUESTION], 2));
});

test('anthropic: a breakpoint below the model minimum caches nothing', async () => {
  const doc = document(Math.floor(cacheMin / 2));
  for (let i = 0; i < 2; i++) {
    const msg = await client().messages.create(cachedRequest(doc, QUESTION));
    assert.equal(msg.usage.cache_creation_input_tokens, 0);
    assert.equal(msg.usage.cache_read_input_tokens, 0);
    assert.equal(msg.usage.input_tokens, inputTokens('anthropic', [SYSTEM, doc, QUESTION], 2));
  }
});

// ---- tool use ----

const tools = [
  { name: 'get_weather', description: 'The weather in a place', input_schema: WEATHER_SCHEMA },
  { name: 'get_time', description: 'The time now', input_schema: TIME_SCHEMA },
];

test('anthropic: a named tool is called, its result answered in the next turn', async () => {
  const ask = { role: 'user', content: 'What is the weather? Use get_weather.' };
  const first = await client().messages.create(request({ tools, messages: [ask] }));
  assert.equal(first.stop_reason, 'tool_use');
  const use = first.content.find((b) => b.type === 'tool_use');
  assert.equal(use.name, 'get_weather');
  assert.match(use.id, /^toolu_/);
  assert.deepEqual(use.input, { location: 'Paris' });   // from the schema: required only
  assert.ok(first.usage.output_tokens > 0);
  const second = await client().messages.create(request({
    tools,
    messages: [ask, { role: 'assistant', content: first.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '18°C and clear' }] }],
  }));
  assert.equal(second.stop_reason, 'end_turn');
  assert.equal(second.content[0].text, 'The get_weather tool returned: 18°C and clear.');
});

test('anthropic: streamed text, then parallel calls with escaped, non-ASCII and no arguments', async () => {
  const stream = client().messages.stream(request({ tools, messages: [{ role: 'user', content: HARD_PROMPT }] }));
  const fragments = {};
  stream.on('streamEvent', (e) => {
    if (e.type === 'content_block_delta' && e.delta.type === 'input_json_delta')
      (fragments[e.index] ??= []).push(e.delta.partial_json);
  });
  const msg = await stream.finalMessage();
  assert.deepEqual(msg.content.map((b) => b.type), ['text', 'tool_use', 'tool_use']);
  assert.equal(msg.content[0].text, 'Let me call get_weather and get_time.');
  assert.deepEqual(msg.content[1].input, HARD_ARGS);
  assert.deepEqual(msg.content[2].input, {});
  assert.notEqual(msg.content[1].id, msg.content[2].id);
  // fragments: "" first, then pieces that cut the JSON text; none for a call without arguments
  assert.equal(fragments[1][0], '');
  assert.ok(fragments[1].length > 4);
  assert.equal(fragments[1].join(''), JSON.stringify(HARD_ARGS));
  assert.deepEqual(fragments[2], ['']);
  assert.equal(msg.stop_reason, 'tool_use');
});

test('anthropic: tool_choice forces a tool; a wrong tool_use_id is refused', async () => {
  const forced = await client().messages.create(request({
    tools, tool_choice: { type: 'tool', name: 'get_time' }, messages: [{ role: 'user', content: 'hello' }],
  }));
  assert.deepEqual(forced.content.map((b) => [b.type, b.name]), [['tool_use', 'get_time']]);
  const e = await caught(() => client().messages.create(request({
    tools,
    messages: [{ role: 'user', content: 'hello' }, { role: 'assistant', content: forced.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01nope', content: 'x' }] }],
  })));
  assert.ok(e instanceof Anthropic.BadRequestError, String(e));
  assert.match(e.error.error.message, /unexpected `tool_use_id` found in `tool_result` blocks: toolu_01nope/);
});

test('anthropic: the toolRunner helper completes a round trip', async () => {
  const calls = [];
  const runner = client().beta.messages.toolRunner({
    model,
    max_tokens: 256,
    messages: [{ role: 'user', content: 'Please run get_weather {"location":"Oslo"}' }],
    tools: [betaTool({
      name: 'get_weather', description: 'The weather in a place', inputSchema: WEATHER_SCHEMA,
      run: (input) => { calls.push(input); return `rain in ${input.location}`; },
    })],
  });
  const final = await runner.runUntilDone();
  assert.deepEqual(calls, [{ location: 'Oslo' }]);
  assert.equal(final.content[0].text, 'The get_weather tool returned: rain in Oslo.');
});

// ---- refusals that concern the client, not the key ----

test('anthropic: an unknown top-level field is the provider\'s 400 naming it', async () => {
  const e = await caught(() => client().messages.create({ ...request(), not_a_field: true }));
  assert.ok(e instanceof Anthropic.BadRequestError, String(e));
  assert.equal(e.error.error.type, 'invalid_request_error');
  assert.equal(e.error.error.message, 'not_a_field: Extra inputs are not permitted');
  assert.match((await client().messages.create(request())).content[0].text, /Paris/);
});

test('anthropic: a refusal echoing "billing" leaves the provider up for others',
  { skip: gatewayGap(12, 'a client-echoing 400 that mentions billing disables the provider') }, async () => {
    const e = await caught(() => client().messages.create({ ...request(), billing: 1 }));
    assert.equal(e.status, 400);
    assert.equal(e.error.error.message, 'billing: Extra inputs are not permitted');
    assert.match((await client().messages.create(request())).content[0].text, /Paris/);
  });

test('anthropic: a 403 about the request\'s content is a PermissionDeniedError and nothing more',
  { skip: gatewayGap(12, 'any provider 403 is taken for a refused key and disables the provider') }, async () => {
    const headers = await fault('anthropic', '403-content');
    const e = await caught(() => client().messages.create(request(), { headers }));
    assert.ok(e instanceof Anthropic.PermissionDeniedError, String(e));
    assert.equal(e.error.error.type, 'permission_error');
    assert.match(e.error.error.message, /file_011/);
    assert.match((await client().messages.create(request())).content[0].text, /Paris/);
  });
