// @google/genai 2.x (x-goog-api-key) against the simulator or the gateway:
// generateContent and streamGenerateContent?alt=sse, usageMetadata with thoughts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, GoogleGenAI } from '@google/genai';
import {
  API_KEY, BAD_KEY, BAD_KEY_EXPECTED, BASE_URL, MODEL, QUESTION, SYSTEM, VIA_GATEWAY, caught, fault,
  inputTokens, profile, recover, tokens,
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
