// Cross-family calls through the gateway's translation: each official SDK
// talks to a model of another family (OpenAI SDK -> Claude and Gemini,
// Anthropic SDK -> Gemini and OpenAI, Google SDK -> Claude and OpenAI),
// streamed and not, asserting text, stop reason and usage, and a tool round
// trip with the simulator's tool calls upstream. Only the gateway translates,
// so the file is skipped unless TG_CROSS=1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { GoogleGenAI, Type } from '@google/genai';
import {
  API_KEY, BASE_URL, HARD_ARGS, HARD_PROMPT, MODEL, QUESTION, SYSTEM, TIME_SCHEMA, WEATHER_SCHEMA,
  profile,
} from './common.js';

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

// ---- tool calls across families: parallel, escaped and non-ASCII, without arguments ----

// Each case: call the tools (HARD_PROMPT names get_weather with HARD_ARGS, and
// get_time), check the calls as the client's SDK sees them, then send the results
// back and check the answer quotes them. gap: [issue, what] for a known defect.
const GAP_NO_ARGS = [19, 'a streamed call without arguments from an Anthropic provider reaches an OpenAI client as arguments ""'];

function toolCase(name, target, stream, run, gap) {
  const skipIt = skip || (gap ? `through the gateway: ${gap[1]} (issue ${gap[0]})` : false);
  test(`cross tools: ${name} -> ${target} (${MODEL[target]}), ${stream ? 'streamed' : 'not streamed'}`,
    { skip: skipIt }, () => run(MODEL[target], stream));
}

async function openaiTools(model, stream) {
  const tools = [
    { type: 'function', function: { name: 'get_weather', parameters: WEATHER_SCHEMA } },
    { type: 'function', function: { name: 'get_time', parameters: TIME_SCHEMA } },
  ];
  const ask = { role: 'user', content: HARD_PROMPT };
  const final = stream
    ? await openai().chat.completions.stream({ model, max_completion_tokens: 512, tools, messages: [ask] }).finalChatCompletion()
    : await openai().chat.completions.create({ model, max_completion_tokens: 512, tools, messages: [ask] });
  const msg = final.choices[0].message;
  assert.equal(final.choices[0].finish_reason, 'tool_calls');
  assert.deepEqual(msg.tool_calls.map((c) => c.function.name), ['get_weather', 'get_time']);
  assert.deepEqual(JSON.parse(msg.tool_calls[0].function.arguments), HARD_ARGS);
  assert.equal(msg.tool_calls[1].function.arguments, '{}');
  const next = await openai().chat.completions.create({
    model, max_completion_tokens: 512, tools,
    messages: [ask, msg, ...msg.tool_calls.map((c, i) => ({ role: 'tool', tool_call_id: c.id, content: `result ${i}` }))],
  });
  assert.match(next.choices[0].message.content, /get_weather tool returned: .*result 0/);
  assert.match(next.choices[0].message.content, /get_time tool returned: .*result 1/);
}

async function anthropicTools(model, stream) {
  const tools = [
    { name: 'get_weather', input_schema: WEATHER_SCHEMA },
    { name: 'get_time', input_schema: TIME_SCHEMA },
  ];
  const ask = { role: 'user', content: HARD_PROMPT };
  const body = { model, max_tokens: 512, tools, messages: [ask] };
  const msg = stream ? await anthropic().messages.stream(body).finalMessage() : await anthropic().messages.create(body);
  const uses = msg.content.filter((b) => b.type === 'tool_use');
  assert.equal(msg.stop_reason, 'tool_use');
  assert.deepEqual(uses.map((u) => u.name), ['get_weather', 'get_time']);
  assert.deepEqual(uses[0].input, HARD_ARGS);
  assert.deepEqual(uses[1].input, {});
  const next = await anthropic().messages.create({
    model, max_tokens: 512, tools,
    messages: [ask, { role: 'assistant', content: msg.content },
      { role: 'user', content: uses.map((u, i) => ({ type: 'tool_result', tool_use_id: u.id, content: `result ${i}` })) }],
  });
  const text = next.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
  assert.match(text, /get_weather tool returned: .*result 0/);
  assert.match(text, /get_time tool returned: .*result 1/);
}

async function googleTools(model, stream) {
  const config = {
    maxOutputTokens: 512,
    tools: [{ functionDeclarations: [
      { name: 'get_weather', parametersJsonSchema: WEATHER_SCHEMA },
      { name: 'get_time', parametersJsonSchema: TIME_SCHEMA },
    ] }],
  };
  const ask = { role: 'user', parts: [{ text: HARD_PROMPT }] };
  let calls = [];
  let parts = [];
  if (stream) {
    for await (const c of await google().models.generateContentStream({ model, contents: [ask], config })) {
      calls.push(...(c.functionCalls ?? []));
      parts.push(...(c.candidates?.[0]?.content?.parts ?? []));
    }
  } else {
    const r = await google().models.generateContent({ model, contents: [ask], config });
    calls = r.functionCalls;
    parts = r.candidates[0].content.parts;
  }
  assert.deepEqual(calls.map((c) => [c.name, c.args]), [['get_weather', HARD_ARGS], ['get_time', {}]]);
  const next = await google().models.generateContent({
    model, config,
    contents: [ask, { role: 'model', parts },
      { role: 'user', parts: calls.map((c, i) => ({ functionResponse: { id: c.id, name: c.name, response: { output: `result ${i}` } } })) }],
  });
  assert.match(next.text, /get_weather tool returned: .*result 0/);
  assert.match(next.text, /get_time tool returned: .*result 1/);
}

for (const stream of [false, true]) {
  toolCase('openai sdk', 'anthropic', stream, openaiTools, stream ? GAP_NO_ARGS : null);
  toolCase('openai sdk', 'gemini', stream, openaiTools);
  toolCase('anthropic sdk', 'gemini', stream, anthropicTools);
  toolCase('anthropic sdk', 'openai', stream, anthropicTools);
  toolCase('google sdk', 'anthropic', stream, googleTools);
  toolCase('google sdk', 'openai', stream, googleTools);
}

// Gemini's documented schema form (upper-case OpenAPI types) must become JSON Schema
// on its way to OpenAI and Anthropic, which refuse "OBJECT" (as the simulator does).
for (const target of ['anthropic', 'openai']) {
  test(`cross tools: google sdk -> ${target}, a function declared with Gemini's parameters`,
    { skip: skip || `through the gateway: Gemini-style schemas reach ${target} unconverted (issue 19)` }, async () => {
      const r = await google().models.generateContent({
        model: MODEL[target], contents: 'Use get_weather',
        config: {
          maxOutputTokens: 512,
          tools: [{ functionDeclarations: [{
            name: 'get_weather',
            parameters: { type: Type.OBJECT, properties: { location: { type: Type.STRING } }, required: ['location'] },
          }] }],
        },
      });
      assert.deepEqual(r.functionCalls.map((c) => [c.name, c.args]), [['get_weather', { location: 'Paris' }]]);
    });
}
