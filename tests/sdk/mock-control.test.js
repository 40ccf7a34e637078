// The simulator's control endpoints (/__mock/faults, /__mock/stats), driven
// through the SDKs. Only against the simulator: skipped unless TG_MOCK_URL is set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { GoogleGenAI } from '@google/genai';
import { API_KEY, BASE_URL, MOCK_URL, MODEL, QUESTION, caught } from './common.js';

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
