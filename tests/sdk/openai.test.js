// openai 6.x (Authorization: Bearer, base URL + /v1) against the simulator or the
// gateway: chat completions JSON and chunks, include_usage, automatic prompt
// caching, tool calls (the stream and runTools helpers too), typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import {
  API_KEY, BAD_KEY, BAD_KEY_EXPECTED, BASE_URL, HARD_ARGS, HARD_PROMPT, MODEL, QUESTION, SYSTEM,
  TIME_SCHEMA, VIA_GATEWAY, WEATHER_SCHEMA, caught, document, fault, gatewayGap, inputTokens, profile,
  recover, tokens,
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

// ---- automatic prompt caching ----

test('openai: a repeated prefix of 1,024+ tokens is cached in 128-token steps', async () => {
  const doc = document(1500);
  const ask = (q) => request({ messages: [{ role: 'system', content: doc }, { role: 'user', content: q }] });
  const first = await client().chat.completions.create(ask(QUESTION));
  assert.equal(first.usage.prompt_tokens_details.cached_tokens, 0);
  // the system message ends at 3 + 3 + 1,500 tokens; the cache counts from 1,024 in 128s
  const prefix = inputTokens('openai', [doc], 1);
  const second = await client().chat.completions.create(ask('And of Italy?'));
  assert.equal(second.usage.prompt_tokens_details.cached_tokens, 1024 + Math.floor((prefix - 1024) / 128) * 128);
  assert.equal(second.usage.prompt_tokens, inputTokens('openai', [doc, 'And of Italy?'], 2));
  // streamed too: the usage chunk carries it
  const stream = await client().chat.completions.create({
    ...ask('And of Spain?'), stream: true, stream_options: { include_usage: true },
  });
  let usage;
  for await (const c of stream) usage = c.usage ?? usage;
  assert.equal(usage.prompt_tokens_details.cached_tokens, second.usage.prompt_tokens_details.cached_tokens);
});

test('openai: a prompt under 1,024 tokens is never cached', async () => {
  const doc = document(900);
  for (let i = 0; i < 2; i++) {
    const r = await client().chat.completions.create(request({ messages: [{ role: 'system', content: doc }, { role: 'user', content: QUESTION }] }));
    assert.equal(r.usage.prompt_tokens_details.cached_tokens, 0);
  }
});

// ---- tool calls ----

const tools = [
  { type: 'function', function: { name: 'get_weather', description: 'The weather in a place', parameters: WEATHER_SCHEMA } },
  { type: 'function', function: { name: 'get_time', description: 'The time now', parameters: TIME_SCHEMA } },
];

test('openai: a named tool is called, the role "tool" answer is used in the next turn', async () => {
  const ask = { role: 'user', content: 'What is the weather? Use get_weather.' };
  const first = await client().chat.completions.create(request({ tools, messages: [ask] }));
  const choice = first.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.content, null);
  const call = choice.message.tool_calls[0];
  assert.match(call.id, /^call_/);
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.function.arguments), { location: 'Paris' });
  const second = await client().chat.completions.create(request({
    tools,
    messages: [ask, choice.message, { role: 'tool', tool_call_id: call.id, content: '18°C and clear' }],
  }));
  assert.equal(second.choices[0].finish_reason, 'stop');
  assert.equal(second.choices[0].message.content, 'The get_weather tool returned: 18°C and clear.');
});

test('openai: streamed text, then parallel calls with escaped, non-ASCII and no arguments', async () => {
  const stream = await client().chat.completions.create(request({
    tools, stream: true, messages: [{ role: 'user', content: HARD_PROMPT }],
  }));
  let text = '';
  let finish;
  const calls = [];
  const pieces = {};
  for await (const c of stream) {
    for (const ch of c.choices) {
      text += ch.delta.content ?? '';
      finish = ch.finish_reason ?? finish;
      for (const t of ch.delta.tool_calls ?? []) {
        if (t.id) calls[t.index] = { id: t.id, name: t.function.name, arguments: t.function.arguments };
        else calls[t.index].arguments += t.function.arguments;
        (pieces[t.index] ??= []).push(t.function.arguments);
      }
    }
  }
  assert.equal(text, 'Let me call get_weather and get_time.');
  assert.equal(finish, 'tool_calls');
  assert.deepEqual(calls.map((c) => c.name), ['get_weather', 'get_time']);
  assert.deepEqual(JSON.parse(calls[0].arguments), HARD_ARGS);
  assert.ok(pieces[0].length > 4, 'arguments in fragments');
  // a call without arguments always carries "{}"
  assert.equal(calls[1].arguments, '{}');
});

test('openai: the stream helper and runTools complete a round trip', async () => {
  const final = await client().chat.completions.stream(request({
    tools, messages: [{ role: 'user', content: 'call get_time' }],
  })).finalChatCompletion();
  assert.equal(final.choices[0].message.tool_calls[0].function.arguments, '{}');
  const seen = [];
  const runner = client().chat.completions.runTools({
    model,
    messages: [{ role: 'user', content: 'Use get_weather {"location":"Oslo","unit":"celsius"} please' }],
    tools: [{
      type: 'function',
      function: {
        name: 'get_weather', parameters: WEATHER_SCHEMA, parse: JSON.parse,
        function: (args) => { seen.push(args); return `rain in ${args.location}`; },
      },
    }],
  });
  assert.equal(await runner.finalContent(), 'The get_weather tool returned: rain in Oslo.');
  assert.deepEqual(seen, [{ location: 'Oslo', unit: 'celsius' }]);
});

test('openai: parallel_tool_calls false makes one call; a stray tool_call_id is refused', async () => {
  const one = await client().chat.completions.create(request({
    tools, parallel_tool_calls: false, messages: [{ role: 'user', content: 'get_weather and get_time' }],
  }));
  assert.equal(one.choices[0].message.tool_calls.length, 1);
  const e = await caught(() => client().chat.completions.create(request({
    tools,
    messages: [{ role: 'user', content: 'x' }, one.choices[0].message,
      { role: 'tool', tool_call_id: 'call_nope', content: 'x' }],
  })));
  assert.ok(e instanceof OpenAI.BadRequestError, String(e));
  assert.match(e.message, /'tool_call_id' of 'call_nope' not found/);
});

// ---- refusals that concern the client, not the key ----

test('openai: an unknown argument is the provider\'s 400 naming it', async () => {
  const e = await caught(() => client().chat.completions.create({ ...request(), not_a_field: true }));
  assert.ok(e instanceof OpenAI.BadRequestError, String(e));
  assert.equal(e.error.message, 'Unrecognized request argument supplied: not_a_field');
  assert.equal(e.param, 'not_a_field');
  assert.match((await client().chat.completions.create(request())).choices[0].message.content, /Paris/);
});

test('openai: a refusal echoing "insufficient_quota" leaves the provider up for others',
  { skip: gatewayGap(12, 'a client-echoing 400 that mentions insufficient_quota disables the provider') }, async () => {
    const e = await caught(() => client().chat.completions.create({ ...request(), insufficient_quota: 1 }));
    assert.equal(e.status, 400);
    assert.equal(e.param, 'insufficient_quota');
    assert.match((await client().chat.completions.create(request())).choices[0].message.content, /Paris/);
  });

test('openai: a 403 about the request\'s content is a PermissionDeniedError and nothing more',
  { skip: gatewayGap(12, 'any provider 403 is taken for a refused key and disables the provider') }, async () => {
    const headers = await fault('openai', '403-content');
    const e = await caught(() => client().chat.completions.create(request(), { headers }));
    assert.ok(e instanceof OpenAI.PermissionDeniedError, String(e));
    assert.equal(e.param, 'messages');
    assert.match((await client().chat.completions.create(request())).choices[0].message.content, /Paris/);
  });
