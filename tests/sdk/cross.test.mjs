// Cross-family calls through the gateway's translation: each official SDK
// talks to a model of another family (OpenAI SDK -> Claude and Gemini,
// Anthropic SDK -> Gemini and OpenAI, Google SDK -> Claude and OpenAI),
// streamed and not, asserting text, stop reason and usage. Tool calls for all
// nine pairs are tools.test.mjs's. Only the gateway translates, so the file is
// skipped unless TG_CROSS=1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { GoogleGenAI } from '@google/genai';
import { API_KEY, BASE_URL, MODEL, QUESTION, SYSTEM, profile } from './common.js';

const skip = process.env.TG_CROSS === '1' ? false
  : 'set TG_CROSS=1 to run: only the gateway translates between families, not the simulator';
const thinks = (model) => profile(model)?.thinks_by_default ?? /gemini-2\.5-flash/.test(model);

const openai = () => new OpenAI({ apiKey: API_KEY, baseURL: BASE_URL + '/v1', maxRetries: 0 });
const anthropic = () => new Anthropic({ apiKey: API_KEY, baseURL: BASE_URL, maxRetries: 0 });
const google = () => new GoogleGenAI({ apiKey: API_KEY, httpOptions: { baseUrl: BASE_URL } });

// ---- OpenAI SDK -> Claude, Gemini ----

function assertOpenAIUsage(u, model) {
  assert.ok(u.prompt_tokens > 0, 'prompt_tokens');
  assert.ok(u.completion_tokens > 0, 'completion_tokens');
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
  assert.equal(typeof u.prompt_tokens_details.cached_tokens, 'number');
  const reasoning = u.completion_tokens_details.reasoning_tokens;
  assert.ok(reasoning <= u.completion_tokens, 'reasoning is inside completion_tokens');
  if (thinks(model))
    assert.ok(reasoning > 0, `${model} thinks: reasoning_tokens > 0`);
}

for (const target of ['anthropic', 'gemini']) {
  const model = MODEL[target];
  const request = (extra = {}) => ({
    model,
    max_completion_tokens: 1024,
    messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: QUESTION }],
    ...extra,
  });

  test(`cross: openai sdk -> ${target} (${model}), not streamed`, { skip }, async () => {
    const r = await openai().chat.completions.create(request());
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.model, model);
    assert.match(r.choices[0].message.content, /Paris/);
    assert.equal(r.choices[0].finish_reason, 'stop');
    assertOpenAIUsage(r.usage, model);
  });

  test(`cross: openai sdk -> ${target} (${model}), streamed with include_usage`, { skip }, async () => {
    const stream = await openai().chat.completions.create(request({
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
    assert.match(text, /Paris/);
    assert.equal(finish, 'stop');
    assert.ok(usage, 'a usage chunk');
    assertOpenAIUsage(usage, model);
  });

  test(`cross: openai sdk -> ${target}, stream helper`, { skip }, async () => {
    const final = await openai().chat.completions.stream(request()).finalChatCompletion();
    assert.match(final.choices[0].message.content, /Paris/);
    assert.equal(final.choices[0].finish_reason, 'stop');
  });
}

// ---- Anthropic SDK -> Gemini, OpenAI ----

function assertAnthropicMessage(msg, model) {
  const text = msg.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
  assert.match(text, /Paris/);
  assert.equal(msg.stop_reason, 'end_turn');
  assert.equal(msg.role, 'assistant');
  assert.equal(msg.model, model);
  assert.match(msg.id, /^msg_/);
  assert.ok(msg.usage.input_tokens > 0, 'input_tokens');
  assert.ok(msg.usage.output_tokens > 0, 'output_tokens');
  if (thinks(model))
    assert.ok(msg.usage.output_tokens_details?.thinking_tokens > 0, `${model} thinks`);
}

for (const target of ['gemini', 'openai']) {
  const model = MODEL[target];
  const request = () => ({
    model, max_tokens: 1024, system: SYSTEM, messages: [{ role: 'user', content: QUESTION }],
  });

  test(`cross: anthropic sdk -> ${target} (${model}), not streamed`, { skip }, async () => {
    assertAnthropicMessage(await anthropic().messages.create(request()), model);
  });

  test(`cross: anthropic sdk -> ${target} (${model}), streamed`, { skip }, async () => {
    const stream = anthropic().messages.stream(request());
    let deltas = '';
    stream.on('text', (t) => { deltas += t; });
    const msg = await stream.finalMessage();
    assertAnthropicMessage(msg, model);
    assert.equal(deltas, msg.content.filter((b) => b.type === 'text').map((b) => b.text).join(''));
  });
}

// ---- Google SDK -> Claude, OpenAI ----

function assertGeminiUsage(u) {
  assert.ok(u.promptTokenCount > 0, 'promptTokenCount');
  assert.ok(u.candidatesTokenCount > 0, 'candidatesTokenCount');
  assert.equal(u.totalTokenCount, u.promptTokenCount + u.candidatesTokenCount + (u.thoughtsTokenCount ?? 0));
}

for (const target of ['anthropic', 'openai']) {
  const model = MODEL[target];
  const request = () => ({
    model, contents: QUESTION, config: { systemInstruction: SYSTEM, maxOutputTokens: 1024 },
  });

  test(`cross: google sdk -> ${target} (${model}), not streamed`, { skip }, async () => {
    const r = await google().models.generateContent(request());
    assert.match(r.text, /Paris/);
    assert.equal(r.candidates[0].finishReason, 'STOP');
    assert.equal(r.modelVersion, model);
    assertGeminiUsage(r.usageMetadata);
  });

  test(`cross: google sdk -> ${target} (${model}), streamed`, { skip }, async () => {
    const stream = await google().models.generateContentStream(request());
    let text = '';
    let last;
    for await (const c of stream) {
      text += c.text ?? '';
      last = c;
    }
    assert.match(text, /Paris/);
    assert.equal(last.candidates[0].finishReason, 'STOP');
    assertGeminiUsage(last.usageMetadata);
  });
}
