// @google/genai 2.x (x-goog-api-key) against the simulator or the gateway:
// generateContent and streamGenerateContent?alt=sse, usageMetadata with thoughts,
// implicit caching, function calls and responses, typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, GoogleGenAI, Type } from '@google/genai';
import {
  API_KEY, BAD_KEY, BAD_KEY_EXPECTED, BASE_URL, HARD_ARGS, HARD_PROMPT, MODEL, QUESTION, SYSTEM,
  VIA_GATEWAY, WEATHER_SCHEMA, caught, document, fault, gatewayGap, inputTokens, profile, recover,
  tokens,
} from './common.js';

const model = MODEL.gemini;
const client = (key = API_KEY) => new GoogleGenAI({ apiKey: key, httpOptions: { baseUrl: BASE_URL } });
const request = (config = {}) => ({
  model,
  contents: QUESTION,
  config: { systemInstruction: SYSTEM, ...config },
});
const expectedPrompt = inputTokens('gemini', [SYSTEM, QUESTION], 2);
const thinks = profile(model)?.thinks_by_default ?? false;

function assertUsage(u, text, thinking = thinks) {
  assert.match(text, /Paris/);
  assert.equal(u.promptTokenCount, expectedPrompt);
  assert.equal(u.candidatesTokenCount, tokens(text));
  if (thinking)
    assert.ok(u.thoughtsTokenCount > 0, 'a thinking model reports thoughtsTokenCount');
  else
    assert.equal(u.thoughtsTokenCount ?? 0, 0);
  assert.equal(u.totalTokenCount, u.promptTokenCount + u.candidatesTokenCount + (u.thoughtsTokenCount ?? 0));
  assert.equal(u.promptTokensDetails[0].modality, 'TEXT');
  assert.equal(u.promptTokensDetails[0].tokenCount, expectedPrompt);
}

test('gemini: non-streamed reply, text and usageMetadata', async () => {
  const r = await client().models.generateContent(request());
  assertUsage(r.usageMetadata, r.text);
  assert.equal(r.candidates[0].finishReason, 'STOP');
  assert.ok(r.modelVersion.startsWith(model));
  assert.ok(r.responseId.length > 0);
});

test('gemini: streamed reply, cumulative usage, last chunk finishes', async () => {
  const stream = await client().models.generateContentStream(request());
  let text = '';
  let last;
  let chunks = 0;
  for await (const c of stream) {
    chunks++;
    text += c.text ?? '';
    last = c;
  }
  assert.ok(chunks >= 1);
  assert.equal(last.candidates[0].finishReason, 'STOP');
  assertUsage(last.usageMetadata, text);
});

test('gemini: includeThoughts returns thought parts counted in thoughtsTokenCount', { skip: !thinks }, async () => {
  const r = await client().models.generateContent(request({ thinkingConfig: { includeThoughts: true } }));
  const parts = r.candidates[0].content.parts;
  const thought = parts.filter((p) => p.thought).map((p) => p.text).join('');
  const text = parts.filter((p) => !p.thought).map((p) => p.text).join('');
  assert.ok(thought.length > 0);
  assert.equal(r.usageMetadata.thoughtsTokenCount, tokens(thought));
  assertUsage(r.usageMetadata, text);
});

test('gemini: thinkingBudget 0 turns thinking off', { skip: !thinks }, async () => {
  const r = await client().models.generateContent(request({ thinkingConfig: { thinkingBudget: 0 } }));
  assertUsage(r.usageMetadata, r.text, false);
});

test('gemini: wrong key is a 400 API_KEY_INVALID', { skip: !BAD_KEY_EXPECTED }, async () => {
  const e = await caught(() => client(BAD_KEY).models.generateContent(request()));
  assert.ok(e instanceof ApiError, String(e));
  if (VIA_GATEWAY) {
    // the gateway answers a bad client key with 401 in Gemini's error shape (SPEC section 5)
    assert.equal(e.status, 401);
    assert.match(e.message, /UNAUTHENTICATED/);
    return;
  }
  assert.equal(e.status, 400);
  assert.match(e.message, /API_KEY_INVALID/);
});

test('gemini: x-mock-fault 429 is a RESOURCE_EXHAUSTED ApiError', async () => {
  const headers = await fault('gemini', '429', { retryAfter: 7 });
  const e = await caught(() => client().models.generateContent(request({ httpOptions: { headers } })));
  await recover('gemini');
  assert.ok(e instanceof ApiError, String(e));
  assert.equal(e.status, 429);
  assert.match(e.message, /RESOURCE_EXHAUSTED/);
});

test('gemini: reset-midstream breaks the stream', async () => {
  const e = await caught(async () => {
    const stream = await client().models.generateContentStream(request({
      httpOptions: { headers: await fault('gemini', 'reset-midstream') },
    }));
    for await (const _ of stream);
  });
  await recover('gemini');
  assert.ok(e instanceof Error, String(e));
});

test('gemini: error-midstream raises the in-stream error', async () => {
  const e = await caught(async () => {
    const stream = await client().models.generateContentStream(request({
      httpOptions: { headers: await fault('gemini', 'error-midstream') },
    }));
    for await (const _ of stream);
  });
  await recover('gemini');
  assert.ok(e instanceof ApiError, String(e));
  assert.equal(e.status, 503);
});

// ---- implicit caching ----

const cacheMin = profile(model)?.cache_min_tokens ?? 1024;

test('gemini: a repeated prefix over the minimum is reported in cachedContentTokenCount', async () => {
  const doc = document(cacheMin + 300);
  const ask = (q) => ({ model, contents: q, config: { systemInstruction: doc } });
  const first = await client().models.generateContent(ask(QUESTION));
  assert.equal(first.usageMetadata.cachedContentTokenCount ?? 0, 0);
  const second = await client().models.generateContent(ask('And of Italy?'));
  const u = second.usageMetadata;
  assert.equal(u.cachedContentTokenCount, inputTokens('gemini', [doc], 1));
  // promptTokenCount includes the cached tokens; totalTokenCount adds nothing for them
  assert.equal(u.promptTokenCount, inputTokens('gemini', [doc, 'And of Italy?'], 2));
  assert.equal(u.totalTokenCount, u.promptTokenCount + u.candidatesTokenCount + (u.thoughtsTokenCount ?? 0));
  assert.equal(u.cacheTokensDetails[0].tokenCount, u.cachedContentTokenCount);
});

// ---- function calls ----

// Gemini's OpenAPI subset: upper-case types
const declarations = [
  {
    name: 'get_weather', description: 'The weather in a place',
    parameters: { type: Type.OBJECT, properties: { location: { type: Type.STRING }, unit: { type: Type.STRING, enum: ['celsius', 'fahrenheit'] } }, required: ['location'] },
  },
  { name: 'get_time', description: 'The time now' },
];

test('gemini: a named function is called whole, its functionResponse answered next', async () => {
  const ask = { role: 'user', parts: [{ text: 'What is the weather? Use get_weather.' }] };
  const config = { tools: [{ functionDeclarations: declarations }] };
  const first = await client().models.generateContent({ model, contents: [ask], config });
  assert.deepEqual(first.functionCalls.map((c) => [c.name, c.args]), [['get_weather', { location: 'Paris' }]]);
  assert.equal(first.candidates[0].finishReason, 'STOP');
  const called = first.candidates[0].content;
  const second = await client().models.generateContent({
    model, config,
    contents: [ask, called, { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { temperature: '18°C' } } }] }],
  });
  assert.equal(second.text, 'The get_weather tool returned: {"temperature":"18°C"}.');
});

test('gemini: streamed text, then parallel calls with escaped, non-ASCII and no arguments', async () => {
  const stream = await client().models.generateContentStream({
    model, contents: HARD_PROMPT, config: { tools: [{ functionDeclarations: declarations }] },
  });
  let text = '';
  const calls = [];
  let last;
  for await (const c of stream) {
    text += c.text ?? '';
    calls.push(...(c.functionCalls ?? []));
    last = c;
  }
  assert.equal(text, 'Let me call get_weather and get_time.');
  assert.deepEqual(calls.map((c) => [c.name, c.args]), [['get_weather', HARD_ARGS], ['get_time', {}]]);
  assert.equal(last.candidates[0].finishReason, 'STOP');
  const u = last.usageMetadata;
  assert.equal(u.totalTokenCount, u.promptTokenCount + u.candidatesTokenCount + (u.thoughtsTokenCount ?? 0));
});

test('gemini: mode ANY with one allowed function forces it; a lone response turn is refused', async () => {
  const r = await client().models.generateContent({
    model, contents: 'hello',
    config: {
      tools: [{ functionDeclarations: declarations }],
      toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_time'] } },
    },
  });
  assert.deepEqual(r.functionCalls.map((c) => c.name), ['get_time']);
  const e = await caught(() => client().models.generateContent({
    model, contents: [{ role: 'user', parts: [{ functionResponse: { name: 'get_time', response: {} } }] }],
  }));
  assert.ok(e instanceof ApiError, String(e));
  assert.equal(e.status, 400);
  assert.match(e.message, /function response turn comes immediately after a function call turn/);
});

// ---- refusals that concern the client, not the key ----

test('gemini: an unknown field is INVALID_ARGUMENT naming it', async () => {
  const r = await fetch(`${BASE_URL}/v1beta/models/${model}:generateContent`, {
    method: 'POST', headers: { 'x-goog-api-key': API_KEY, 'content-type': 'application/json' },
    body: JSON.stringify({ contents: [{ parts: [{ text: QUESTION }] }], not_a_field: 1 }),
  });
  assert.equal(r.status, 400);
  const body = await r.json();
  assert.equal(body.error.status, 'INVALID_ARGUMENT');
  assert.equal(body.error.message, 'Invalid JSON payload received. Unknown name "not_a_field": Cannot find field.');
  assert.match((await client().models.generateContent(request())).text, /Paris/);
});

test('gemini: a 403 about the request\'s content is PERMISSION_DENIED without a key reason',
  { skip: gatewayGap(12, 'any provider 403 is taken for a refused key and disables the provider') }, async () => {
    const headers = await fault('gemini', '403-content');
    const e = await caught(() => client().models.generateContent(request({ httpOptions: { headers } })));
    assert.ok(e instanceof ApiError, String(e));
    assert.equal(e.status, 403);
    assert.match(e.message, /PERMISSION_DENIED/);
    assert.doesNotMatch(e.message, /API_KEY/);
    assert.match((await client().models.generateContent(request())).text, /Paris/);
  });
