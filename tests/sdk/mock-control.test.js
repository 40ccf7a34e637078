// The simulator's control endpoints (/__mock/faults, /__mock/stats, /__mock/reset)
// and its test headers (x-mock-output-tokens, x-mock-stream-ms), driven through
// the SDKs. Only against the simulator: skipped unless TG_MOCK_URL is set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { GoogleGenAI } from '@google/genai';
import { API_KEY, BASE_URL, MOCK_URL, MODEL, QUESTION, caught, document, inputTokens } from './common.js';

const skip = !MOCK_URL;

async function control(path, body) {
  const r = await fetch(MOCK_URL + path, body === undefined ? {} : {
    method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' },
  });
  return { status: r.status, json: await r.json() };
}

test('mock: a counted run-time fault takes gemini down for N calls, then it recovers', { skip }, async () => {
  const ai = new GoogleGenAI({ apiKey: API_KEY, httpOptions: { baseUrl: BASE_URL } });
  const call = () => ai.models.generateContent({ model: MODEL.gemini, contents: QUESTION });
  const before = (await control('/__mock/stats')).json.gemini;
  const set = await control('/__mock/faults', { fault: '503', provider: 'gemini', count: 2 });
  assert.equal(set.status, 200);
  assert.equal(set.json.gemini.fault, '503');
  for (let i = 0; i < 2; i++) {
    const e = await caught(call);
    assert.equal(e.status, 503);
  }
  const ok = await call();
  assert.match(ok.text, /Paris/);
  const after = (await control('/__mock/stats')).json.gemini;
  assert.equal(after.calls - before.calls, 3);
  assert.equal(after.faults - before.faults, 2);
  assert.equal(after.ok - before.ok, 1);
});

test('mock: fault "none" brings a provider back; other providers were never touched', { skip }, async () => {
  const oai = new OpenAI({ apiKey: API_KEY, baseURL: BASE_URL + '/v1', maxRetries: 0 });
  const call = () => oai.chat.completions.create({
    model: MODEL.openai, messages: [{ role: 'user', content: QUESTION }],
  });
  await control('/__mock/faults', { fault: '429', provider: 'openai', rate: 1 });
  const e = await caught(call);
  assert.ok(e instanceof OpenAI.RateLimitError);
  const faults = (await control('/__mock/faults')).json;
  assert.equal(faults.anthropic.fault, 'none');
  await control('/__mock/faults', { fault: 'none', provider: 'all' });
  const r = await call();
  assert.match(r.choices[0].message.content, /Paris/);
});

test('mock: a bad fault document is a 400 that names the problem', { skip }, async () => {
  const r = await control('/__mock/faults', { fault: 'meltdown' });
  assert.equal(r.status, 400);
  assert.match(r.json.error, /fault/);
});

test('mock: x-mock-output-tokens forces the length of a stream, in every family', { skip }, async () => {
  const headers = { 'x-mock-output-tokens': '300' };
  const oai = new OpenAI({ apiKey: API_KEY, baseURL: BASE_URL + '/v1', maxRetries: 0 });
  const stream = await oai.chat.completions.create({
    model: MODEL.openai, stream: true, stream_options: { include_usage: true },
    messages: [{ role: 'user', content: QUESTION }],
  }, { headers });
  let chunks = 0;
  let text = '';
  let usage;
  for await (const c of stream) {
    if (c.choices[0]?.delta?.content) chunks++;
    text += c.choices[0]?.delta?.content ?? '';
    usage = c.usage ?? usage;
  }
  assert.equal(chunks, 300);
  assert.equal(usage.completion_tokens, 300);
  assert.equal(Buffer.byteLength(text), 1200);
  const ant = new Anthropic({ apiKey: API_KEY, baseURL: BASE_URL, maxRetries: 0 });
  const msg = await ant.messages.stream({
    model: MODEL.anthropic, max_tokens: 100, messages: [{ role: 'user', content: QUESTION }],
  }, { headers }).finalMessage();
  // max_tokens still caps it
  assert.equal(msg.usage.output_tokens, 100);
  assert.equal(msg.stop_reason, 'max_tokens');
  const ai = new GoogleGenAI({ apiKey: API_KEY, httpOptions: { baseUrl: BASE_URL } });
  let last;
  for await (const c of await ai.models.generateContentStream({
    model: MODEL.gemini, contents: QUESTION, config: { thinkingConfig: { thinkingBudget: 0 }, httpOptions: { headers } },
  })) last = c;
  assert.equal(last.usageMetadata.candidatesTokenCount, 300);
});

test('mock: x-mock-stream-ms spreads a stream evenly over that long', { skip }, async () => {
  const oai = new OpenAI({ apiKey: API_KEY, baseURL: BASE_URL + '/v1', maxRetries: 0 });
  const stream = await oai.chat.completions.create({
    model: MODEL.openai, stream: true, messages: [{ role: 'user', content: QUESTION }],
  }, { headers: { 'x-mock-output-tokens': '40', 'x-mock-stream-ms': '800' } });
  const at = [];
  for await (const c of stream) if (c.choices[0]?.delta?.content) at.push(performance.now());
  const span = at.at(-1) - at[0];
  // 43 events over 800 ms: the 40 text chunks span 39/42 of it (a loaded machine may stretch it)
  assert.ok(span > 600 && span < 1600, `the text spanned ${span.toFixed(0)} ms`);
  const gaps = at.slice(1).map((t, i) => t - at[i]).sort((a, b) => a - b);
  const median = gaps[gaps.length >> 1];
  assert.ok(median > 8 && median < 40, `events are even, not bunched: median gap ${median.toFixed(1)} ms`);
});

test('mock: /__mock/stats counts cache tokens and tool calls; /__mock/reset forgets the cache', { skip }, async () => {
  const oai = new OpenAI({ apiKey: API_KEY, baseURL: BASE_URL + '/v1', maxRetries: 0 });
  const doc = document(1100);
  const ask = () => oai.chat.completions.create({
    model: MODEL.openai, messages: [{ role: 'system', content: doc }, { role: 'user', content: QUESTION }],
  });
  await ask();
  const before = (await control('/__mock/stats')).json.openai;
  assert.equal((await ask()).usage.prompt_tokens_details.cached_tokens, 1024);
  const after = (await control('/__mock/stats')).json.openai;
  assert.equal(after.cache_read_tokens - before.cache_read_tokens, 1024);
  assert.equal((await control('/__mock/reset', {})).status, 200);
  assert.equal((await ask()).usage.prompt_tokens_details.cached_tokens, 0);
  assert.equal((await control('/__mock/stats')).json.openai.calls, 1);
  assert.ok(inputTokens('openai', [doc, QUESTION], 2) > 1024);
});
