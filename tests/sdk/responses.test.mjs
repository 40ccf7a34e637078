// The OpenAI Responses API (POST /v1/responses) against the simulator, with the
// official openai SDK (responses.create streamed and not, responses.stream, a
// function-tool round trip) and the Vercel AI SDK's default OpenAI provider
// (openai(model) speaks Responses). Through the gateway every test is skipped:
// it has no /v1/responses route yet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import {
  API_KEY, BASE_URL, HARD_ARGS, HARD_PROMPT, MODEL, QUESTION, SYSTEM, TIME_SCHEMA, WEATHER_SCHEMA,
  caught, document, fault, gatewayGap, inputTokens, profile, recover, tokens,
} from './common.js';

const skip = gatewayGap(17, 'the gateway does not serve /v1/responses yet');
const model = MODEL.openai;
const client = () => new OpenAI({ apiKey: API_KEY, baseURL: BASE_URL + '/v1', maxRetries: 0 });
const expectedInput = inputTokens('openai', [SYSTEM, QUESTION], 2);

// output_text is the SDK's convenience on create(); the stream helper's final
// response, like the wire, has only the items
const textOf = (r) => r.output.filter((i) => i.type === 'message')
  .flatMap((i) => i.content).map((c) => c.text).join('');

function assertUsage(r, m = model) {
  const reasons = profile(m)?.thinks_by_default ?? false;
  const u = r.usage;
  assert.equal(u.input_tokens, expectedInput);
  assert.equal(u.input_tokens_details.cached_tokens, 0);
  if (reasons)
    assert.ok(u.output_tokens_details.reasoning_tokens > 0, 'a reasoning model reports reasoning tokens');
  else
    assert.equal(u.output_tokens_details.reasoning_tokens, 0);
  // output_tokens includes the reasoning
  assert.equal(u.output_tokens, tokens(r.output_text) + u.output_tokens_details.reasoning_tokens);
  assert.equal(u.total_tokens, u.input_tokens + u.output_tokens);
}

test('responses: create, not streamed: output items, output_text and usage', { skip }, async () => {
  const r = await client().responses.create({ model, instructions: SYSTEM, input: QUESTION });
  assert.match(r.id, /^resp_[0-9a-f]{48}$/);
  assert.equal(r.object, 'response');
  assert.equal(r.status, 'completed');
  assert.equal(r.incomplete_details, null);
  assert.equal(r.instructions, SYSTEM);
  assert.equal(r.output_text, 'Paris, France.');
  const msg = r.output.find((i) => i.type === 'message');
  assert.match(msg.id, /^msg_/);
  assert.equal(msg.content[0].type, 'output_text');
  assert.match(r._request_id, /^req_/);
  assertUsage(r);
});

test('responses: a reasoning model has a reasoning item and reasoning tokens', { skip }, async () => {
  const r = await client().responses.create({ model: 'o4-mini', instructions: SYSTEM, input: [{ role: 'user', content: QUESTION }] });
  assert.deepEqual(r.output.map((i) => i.type), ['reasoning', 'message']);
  assert.match(r.output[0].id, /^rs_/);
  assertUsage(r, 'o4-mini');
});

test('responses: create, streamed: events in order with sequence numbers', { skip }, async () => {
  const stream = await client().responses.create({ model, instructions: SYSTEM, input: QUESTION, stream: true });
  const types = [];
  let seq = 0;
  let text = '';
  let done;
  for await (const e of stream) {
    assert.equal(e.sequence_number, seq++);
    types.push(e.type);
    if (e.type === 'response.output_text.delta') text += e.delta;
    if (e.type === 'response.completed') done = e.response;
  }
  assert.deepEqual(types.slice(0, 4), ['response.created', 'response.in_progress',
    'response.output_item.added', 'response.content_part.added']);
  assert.deepEqual(types.slice(-4), ['response.output_text.done', 'response.content_part.done',
    'response.output_item.done', 'response.completed']);
  assert.equal(text, 'Paris, France.');
  assert.equal(done.output[0].content[0].text, text);
  assertUsage({ ...done, output_text: text });
});

test('responses: the stream helper gives the final response', { skip }, async () => {
  const stream = client().responses.stream({ model, instructions: SYSTEM, input: QUESTION });
  let deltas = '';
  stream.on('response.output_text.delta', (e) => { deltas += e.delta; });
  const r = await stream.finalResponse();
  assert.equal(textOf(r), 'Paris, France.');
  assert.equal(deltas, textOf(r));
  assertUsage({ ...r, output_text: textOf(r) });
});

const tools = [
  { type: 'function', name: 'get_weather', description: 'The weather in a place', parameters: WEATHER_SCHEMA, strict: false },
  { type: 'function', name: 'get_time', description: 'The time now', parameters: TIME_SCHEMA, strict: false },
];

test('responses: a function tool round trip with function_call_output', { skip }, async () => {
  const input = [{ role: 'user', content: 'What is the weather? Use get_weather.' }];
  const first = await client().responses.create({ model, input, tools });
  const call = first.output.find((i) => i.type === 'function_call');
  assert.equal(call.name, 'get_weather');
  assert.match(call.call_id, /^call_/);
  assert.match(call.id, /^fc_/);
  assert.deepEqual(JSON.parse(call.arguments), { location: 'Paris' });
  assert.equal(first.status, 'completed');
  const second = await client().responses.create({
    model, tools,
    input: [...input, call, { type: 'function_call_output', call_id: call.call_id, output: '18°C and clear' }],
  });
  assert.equal(second.output_text, 'The get_weather tool returned: 18°C and clear.');
});

test('responses: streamed text, then parallel calls with escaped, non-ASCII and no arguments', { skip }, async () => {
  const stream = client().responses.stream({ model, input: HARD_PROMPT, tools });
  const deltas = {};
  stream.on('response.function_call_arguments.delta', (e) => { (deltas[e.output_index] ??= []).push(e.delta); });
  const r = await stream.finalResponse();
  assert.deepEqual(r.output.map((i) => i.type), ['message', 'function_call', 'function_call']);
  assert.equal(textOf(r), 'Let me call get_weather and get_time.');
  assert.deepEqual(JSON.parse(r.output[1].arguments), HARD_ARGS);
  assert.ok(deltas[1].length > 4, 'arguments in fragments');
  assert.equal(r.output[2].arguments, '{}');
});

test('responses: max_output_tokens makes an incomplete response', { skip }, async () => {
  const r = await client().responses.create({ model, input: 'Tell me a long story', max_output_tokens: 5 });
  assert.equal(r.status, 'incomplete');
  assert.deepEqual(r.incomplete_details, { reason: 'max_output_tokens' });
  assert.equal(r.usage.output_tokens, 5);
  const events = [];
  for await (const e of await client().responses.create({ model, input: 'Tell me a long story', max_output_tokens: 5, stream: true }))
    events.push(e.type);
  assert.equal(events.at(-1), 'response.incomplete');
});

test('responses: a repeated prefix is cached', { skip }, async () => {
  const doc = document(1300);
  await client().responses.create({ model, instructions: doc, input: QUESTION });
  const r = await client().responses.create({ model, instructions: doc, input: 'And of Italy?' });
  const prefix = inputTokens('openai', [doc], 1);
  assert.equal(r.usage.input_tokens_details.cached_tokens, 1024 + Math.floor((prefix - 1024) / 128) * 128);
});

test('responses: refusals are OpenAI error bodies', { skip }, async () => {
  let e = await caught(() => client().responses.create({ model, input: 'x', previous_response_id: 'resp_123' }));
  assert.ok(e instanceof OpenAI.BadRequestError, String(e));
  assert.equal(e.code, 'previous_response_not_found');
  assert.equal(e.param, 'previous_response_id');
  e = await caught(() => client().responses.create({ model, input: 'x', messages: [] }));
  assert.equal(e.code, 'unknown_parameter');
  assert.equal(e.param, 'messages');
  e = await caught(() => client().responses.create({ model: 'gpt-9', input: 'x' }));
  assert.ok(e instanceof OpenAI.NotFoundError, String(e));
  e = await caught(() => client().responses.create({ model, input: 'x' }, { headers: { 'x-mock-fault': '429' } }));
  assert.ok(e instanceof OpenAI.RateLimitError, String(e));
  assert.equal(e.code, 'rate_limit_exceeded');
});

test('responses: a failure after the 200 is response.failed', { skip }, async () => {
  const types = [];
  let failed;
  const stream = await client().responses.create({ model, input: QUESTION, stream: true },
    { headers: await fault('openai', 'error-midstream') });
  for await (const e of stream) {
    types.push(e.type);
    if (e.type === 'response.failed') failed = e.response;
  }
  await recover('openai');
  assert.equal(types[0], 'response.created');
  assert.equal(types.at(-1), 'response.failed');
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error.code, 'server_error');
  // the stream helper does not throw on response.failed: its snapshot never completes
  const r = await client().responses.stream({ model, input: QUESTION },
    { headers: await fault('openai', 'error-midstream') }).finalResponse();
  await recover('openai');
  assert.notEqual(r.status, 'completed');
});

// ---- the Vercel AI SDK: openai(model) is the Responses API ----

const provider = () => createOpenAI({ apiKey: API_KEY, baseURL: BASE_URL + '/v1' });

test('ai sdk: generateText with openai(model)', { skip }, async () => {
  const r = await generateText({ model: provider()(model), system: SYSTEM, prompt: QUESTION, maxRetries: 0 });
  assert.equal(r.text, 'Paris, France.');
  assert.equal(r.finishReason, 'stop');
  assert.equal(r.usage.inputTokens, expectedInput);
  assert.equal(r.usage.outputTokens, tokens(r.text));
  assert.match(r.response.id, /^resp_/);
});

test('ai sdk: streamText with openai(model), a reasoning model', { skip }, async () => {
  const r = streamText({ model: provider()('o4-mini'), system: SYSTEM, prompt: QUESTION, maxRetries: 0 });
  let text = '';
  for await (const t of r.textStream) text += t;
  assert.equal(text, 'Paris, France.');
  const usage = await r.usage;
  assert.equal(usage.inputTokens, expectedInput);
  assert.ok(usage.reasoningTokens > 0);
  assert.equal(usage.outputTokens, tokens(text) + usage.reasoningTokens);
  assert.equal(await r.finishReason, 'stop');
});

test('ai sdk: a tool loop over two steps', { skip }, async () => {
  const seen = [];
  const r = await generateText({
    model: provider()(model),
    prompt: 'Please use get_weather {"location":"Oslo"}',
    tools: {
      get_weather: tool({
        description: 'The weather in a place',
        inputSchema: jsonSchema(WEATHER_SCHEMA),
        execute: async (input) => { seen.push(input); return `rain in ${input.location}`; },
      }),
    },
    stopWhen: stepCountIs(2),
    maxRetries: 0,
  });
  assert.deepEqual(seen, [{ location: 'Oslo' }]);
  assert.equal(r.steps.length, 2);
  assert.equal(r.text, 'The get_weather tool returned: rain in Oslo.');
});
