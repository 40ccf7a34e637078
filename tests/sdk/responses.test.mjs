// The OpenAI Responses API (POST /v1/responses) with the official openai SDK
// (responses.create streamed and not, responses.stream, a function-tool round
// trip) and the Vercel AI SDK's default OpenAI provider (openai(model) speaks
// Responses). Against the simulator the OpenAI models answer it; through the
// gateway (TG_VIA_GATEWAY=1) every test runs against every target family:
// OpenAI passed through, Claude and Gemini translated. The gateway's refusals
// (what needs a response stored at OpenAI, OpenAI's own tools, background)
// are tested at the end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { APICallError, generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import {
  API_KEY, BASE_URL, HARD_ARGS, HARD_PROMPT, MODEL, QUESTION, SYSTEM, TIME_SCHEMA, VIA_GATEWAY,
  WEATHER_SCHEMA, caught, document, fault, inputTokens, profile, recover, tokens,
} from './common.js';

const model = MODEL.openai;
const client = () => new OpenAI({ apiKey: API_KEY, baseURL: BASE_URL + '/v1', maxRetries: 0 });
const onlyGateway = VIA_GATEWAY ? false : 'the simulator answers the Responses API for OpenAI models only';
// every family a Responses client reaches: the simulator alone serves OpenAI's
const TARGETS = VIA_GATEWAY ? ['openai', 'anthropic', 'gemini'] : ['openai'];
const thinks = (m) => profile(m)?.thinks_by_default ?? /gemini-2\.5-flash/.test(m);
// a function call's id as each family makes it (Gemini has none: the gateway makes one)
// a Gemini call's thoughtSignature rides in its call_id (issue 19), base64url after __tgs_
const CALL_ID = { openai: /^call_/, anthropic: /^toolu_/, gemini: /^call_[0-9a-f]{16}(__tgs_[A-Za-z0-9_-]+)?$/ };
// A tool's output as the simulator quotes it back: Gemini's functionResponse
// takes an object, so a text output reaches it as {"content": text}.
const echoed = (family, out) => (family === 'gemini' ? JSON.stringify({ content: out }) : out);

// output_text is the SDK's convenience on create(); the stream helper's final
// response, like the wire, has only the items
const textOf = (r) => r.output.filter((i) => i.type === 'message')
  .flatMap((i) => i.content).map((c) => c.text).join('');

// Usage as the simulator counts it for a family (common.js), in Responses' shape.
function assertUsage(r, family, m, text, pieces = [SYSTEM, QUESTION], messages = 2) {
  const u = r.usage;
  assert.equal(u.input_tokens, inputTokens(family, pieces, messages));
  assert.equal(u.input_tokens_details.cached_tokens, 0);
  if (thinks(m))
    assert.ok(u.output_tokens_details.reasoning_tokens > 0, `${m} reasons: reasoning_tokens > 0`);
  else
    assert.equal(u.output_tokens_details.reasoning_tokens, 0);
  // output_tokens includes the reasoning
  assert.equal(u.output_tokens, tokens(text) + u.output_tokens_details.reasoning_tokens);
  assert.equal(u.total_tokens, u.input_tokens + u.output_tokens);
}

const tools = [
  { type: 'function', name: 'get_weather', description: 'The weather in a place', parameters: WEATHER_SCHEMA, strict: false },
  { type: 'function', name: 'get_time', description: 'The time now', parameters: TIME_SCHEMA, strict: false },
];

// ---- every target family: the official openai SDK ----

for (const family of TARGETS) {
  const m = MODEL[family];
  const name = `responses -> ${family} (${m})`;

  test(`${name}: create, not streamed: output items, output_text and usage`, async () => {
    const r = await client().responses.create({ model: m, instructions: SYSTEM, input: QUESTION });
    assert.match(r.id, family === 'openai' ? /^resp_[0-9a-f]{48}$/ : /^resp_/);
    assert.equal(r.object, 'response');
    assert.equal(r.status, 'completed');
    assert.equal(r.incomplete_details, null);
    assert.equal(r.output_text, 'Paris, France.');
    const msg = r.output.find((i) => i.type === 'message');
    assert.match(msg.id, /^msg_/);
    assert.equal(msg.role, 'assistant');
    assert.equal(msg.content[0].type, 'output_text');
    assert.match(r._request_id, VIA_GATEWAY ? /^[0-9a-f]{8}-[0-9a-f]{4}-7/ : /^req_/);
    if (family === 'openai')
      assert.equal(r.instructions, SYSTEM);
    else
      assert.equal(r.store, false, 'a translated response is stored nowhere, and says so');
    assertUsage(r, family, m, r.output_text);
  });

  test(`${name}: create, streamed: events in order with sequence numbers`, async () => {
    const stream = await client().responses.create({ model: m, instructions: SYSTEM, input: QUESTION, stream: true });
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
    assert.equal(done.status, 'completed');
    assert.equal(textOf(done), text);
    assertUsage(done, family, m, text);
  });

  test(`${name}: the stream helper gives the final response`, async () => {
    const stream = client().responses.stream({ model: m, instructions: SYSTEM, input: QUESTION });
    let deltas = '';
    stream.on('response.output_text.delta', (e) => { deltas += e.delta; });
    const r = await stream.finalResponse();
    assert.equal(textOf(r), 'Paris, France.');
    assert.equal(deltas, textOf(r));
    assertUsage(r, family, m, textOf(r));
  });

  test(`${name}: a function tool round trip with function_call_output`, async () => {
    const input = [{ role: 'user', content: 'What is the weather? Use get_weather.' }];
    const first = await client().responses.create({ model: m, input, tools });
    const call = first.output.find((i) => i.type === 'function_call');
    assert.equal(call.name, 'get_weather');
    assert.match(call.call_id, CALL_ID[family]);
    assert.match(call.id, /^fc_/);
    assert.deepEqual(JSON.parse(call.arguments), { location: 'Paris' });
    assert.equal(first.status, 'completed');
    const second = await client().responses.create({
      model: m, tools,
      input: [...input, call, { type: 'function_call_output', call_id: call.call_id, output: '18°C and clear' }],
    });
    assert.equal(second.output_text, `The get_weather tool returned: ${echoed(family, '18°C and clear')}.`);
    assert.equal(second.status, 'completed');
  });

  test(`${name}: streamed text, then parallel calls with escaped, non-ASCII and no arguments`, async () => {
    const stream = client().responses.stream({ model: m, input: HARD_PROMPT, tools });
    const deltas = {};
    stream.on('response.function_call_arguments.delta', (e) => { (deltas[e.output_index] ??= []).push(e.delta); });
    const r = await stream.finalResponse();
    assert.deepEqual(r.output.map((i) => i.type), ['message', 'function_call', 'function_call']);
    assert.equal(textOf(r), 'Let me call get_weather and get_time.');
    assert.deepEqual(JSON.parse(r.output[1].arguments), HARD_ARGS);
    assert.equal(deltas[1].join(''), r.output[1].arguments);
    // OpenAI and Anthropic stream arguments in fragments; Gemini sends a call whole
    if (family !== 'gemini')
      assert.ok(deltas[1].length > 4, 'arguments in fragments');
    assert.equal(r.output[2].arguments, '{}');
    assert.notEqual(r.output[1].call_id, r.output[2].call_id);
  });

  test(`${name}: max_output_tokens makes an incomplete response`, async () => {
    const ask = { model: m, input: 'Tell me a long story', max_output_tokens: 5 };
    if (family === 'gemini')
      ask.reasoning = { effort: 'none' };   // the cap would go to thinking first
    const r = await client().responses.create(ask);
    assert.equal(r.status, 'incomplete');
    assert.deepEqual(r.incomplete_details, { reason: 'max_output_tokens' });
    assert.equal(r.usage.output_tokens, 5);
    const events = [];
    for await (const e of await client().responses.create({ ...ask, stream: true }))
      events.push(e.type);
    assert.equal(events.at(-1), 'response.incomplete');
  });

  test(`${name}: a failure after the 200 is response.failed`, async () => {
    const types = [];
    let failed;
    const stream = await client().responses.create({ model: m, input: QUESTION, stream: true },
      { headers: await fault(family, 'error-midstream') });
    for await (const e of stream) {
      types.push(e.type);
      if (e.type === 'response.failed') failed = e.response;
    }
    await recover(family);
    assert.equal(types[0], 'response.created');
    assert.equal(types.at(-1), 'response.failed');
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error.code, 'server_error');
    // the stream helper does not throw on response.failed: its snapshot never completes
    const r = await client().responses.stream({ model: m, input: QUESTION },
      { headers: await fault(family, 'error-midstream') }).finalResponse();
    await recover(family);
    assert.notEqual(r.status, 'completed');
  });
}

// ---- OpenAI models: what only the real thing has ----

test('responses: a reasoning model has a reasoning item and reasoning tokens', async () => {
  const r = await client().responses.create({ model: 'o4-mini', instructions: SYSTEM, input: [{ role: 'user', content: QUESTION }] });
  assert.deepEqual(r.output.map((i) => i.type), ['reasoning', 'message']);
  assert.match(r.output[0].id, /^rs_/);
  assertUsage(r, 'openai', 'o4-mini', r.output_text);
});

test('responses: a repeated prefix is cached', async () => {
  const doc = document(1300);
  await client().responses.create({ model, instructions: doc, input: QUESTION });
  const r = await client().responses.create({ model, instructions: doc, input: 'And of Italy?' });
  const prefix = inputTokens('openai', [doc], 1);
  assert.equal(r.usage.input_tokens_details.cached_tokens, 1024 + Math.floor((prefix - 1024) / 128) * 128);
});

test('responses: the provider\'s refusals are OpenAI error bodies', async () => {
  // to an OpenAI model the body passes through: the refusal is the provider's own
  let e = await caught(() => client().responses.create({ model, input: 'x', previous_response_id: 'resp_123' }));
  assert.ok(e instanceof OpenAI.BadRequestError, String(e));
  assert.equal(e.code, 'previous_response_not_found');
  assert.equal(e.param, 'previous_response_id');
  e = await caught(() => client().responses.create({ model, input: 'x', messages: [] }));
  assert.equal(e.code, 'unknown_parameter');
  assert.equal(e.param, 'messages');
  e = await caught(() => client().responses.create({ model: 'gpt-9', input: 'x' }));
  assert.ok(e instanceof OpenAI.NotFoundError, String(e));
  const headers = await fault('openai', '429', { retryAfter: 7 });
  e = await caught(() => client().responses.create({ model, input: 'x' }, { headers }));
  await recover('openai');
  assert.ok(e instanceof OpenAI.RateLimitError, String(e));
  assert.equal(e.code, 'rate_limit_exceeded');
});

// ---- translated: reasoning, JSON output, routes ----

test('responses -> anthropic: reasoning.effort is extended thinking, replayed with its signature', { skip: onlyGateway }, async () => {
  const m = MODEL.anthropic;
  const input = [{ role: 'user', content: 'Use get_weather {"location":"Oslo"}' }];
  const first = await client().responses.create({ model: m, input, tools, reasoning: { effort: 'low', summary: 'auto' } });
  assert.deepEqual(first.output.map((i) => i.type), ['reasoning', 'function_call']);
  const rs = first.output[0];
  assert.match(rs.id, /^rs_/);
  assert.equal(rs.summary[0].type, 'summary_text');
  assert.ok(rs.summary[0].text.length > 0, 'the thinking, shown as a summary');
  assert.match(rs.encrypted_content, /^anthropic-signature:./);
  // Anthropic bills thinking as output and reports no count of its own
  assert.ok(first.usage.output_tokens > tokens(rs.summary[0].text));
  const call = first.output[1];
  const second = await client().responses.create({
    model: m, tools, reasoning: { effort: 'low' },
    input: [...input, ...first.output, { type: 'function_call_output', call_id: call.call_id, output: 'rain' }],
  });
  assert.equal(second.output_text, 'The get_weather tool returned: rain.');
  // streamed: the thinking arrives as reasoning summary deltas
  const types = new Set();
  let summary = '';
  for await (const e of await client().responses.create({ model: m, input: QUESTION, stream: true, reasoning: { effort: 'low', summary: 'auto' } })) {
    types.add(e.type);
    if (e.type === 'response.reasoning_summary_text.delta') summary += e.delta;
    if (e.type === 'response.output_item.done' && e.item.type === 'reasoning')
      assert.match(e.item.encrypted_content, /^anthropic-signature:./);
  }
  assert.ok(summary.length > 0);
  assert.ok(types.has('response.reasoning_summary_part.done'));
});

test('responses -> gemini: text.format json_schema is its response schema', { skip: onlyGateway }, async () => {
  const r = await client().responses.create({
    model: MODEL.gemini, input: QUESTION,
    text: { format: { type: 'json_schema', name: 'answer', schema: { type: 'object', properties: { city: { type: 'string' } } } } },
  });
  assert.equal(r.status, 'completed');
  // Anthropic has no JSON mode the gateway could map to: refused, not dropped
  const e = await caught(() => client().responses.create({
    model: MODEL.anthropic, input: QUESTION, text: { format: { type: 'json_object' } } }));
  assert.ok(e instanceof OpenAI.BadRequestError, String(e));
  assert.match(e.message, /JSON response format is not supported when translating to anthropic/);
});

test('responses: a route name reaches its first target', { skip: onlyGateway }, async () => {
  const { data, response } = await client().responses.create({ model: 'cheap', input: QUESTION }).withResponse();
  assert.equal(response.headers.get('x-tollgate-model'), 'claude-haiku-4-5');
  assert.equal(data.output_text, 'Paris, France.');
});

// ---- refused by the gateway, naming what ----

test('responses: what needs OpenAI is refused with a 400 naming it', { skip: onlyGateway }, async () => {
  for (const family of ['anthropic', 'gemini']) {
    const m = MODEL[family];
    const refused = async (body, want) => {
      const e = await caught(() => client().responses.create({ model: m, input: QUESTION, ...body }));
      assert.ok(e instanceof OpenAI.BadRequestError, `${family} ${JSON.stringify(body)}: ${e}`);
      assert.match(e.message, want);
      assert.match(e.message, new RegExp(`translat(ing|ed) to ${family}`));
    };
    await refused({ previous_response_id: 'resp_123' }, /previous_response_id is not supported/);
    await refused({ conversation: 'conv_123' }, /conversation is not supported/);
    await refused({ prompt: { id: 'pmpt_1' } }, /prompt is not supported/);
    for (const type of ['web_search', 'file_search', 'code_interpreter', 'computer_use_preview', 'image_generation'])
      await refused({ tools: [{ type }] }, new RegExp(`tools\\[0\\]: ${type} is a tool OpenAI runs itself`));
    await refused({ input: [{ type: 'item_reference', id: 'msg_1' }] }, /item_reference msg_1 is not supported/);
    await refused({ truncation: 'auto' }, /truncation/);
    await refused({ top_logprobs: 3 }, /top_logprobs/);
  }
  // background responses are polled later, never metered when answered: refused for every target
  for (const family of TARGETS) {
    const e = await caught(() => client().responses.create({ model: MODEL[family], input: QUESTION, background: true }));
    assert.ok(e instanceof OpenAI.BadRequestError, String(e));
    assert.match(e.message, /background: true is not supported/);
  }
});

// ---- the Vercel AI SDK: openai(model) is the Responses API ----

const provider = () => createOpenAI({ apiKey: API_KEY, baseURL: BASE_URL + '/v1' });

for (const family of TARGETS) {
  const m = MODEL[family];

  test(`ai sdk -> ${family}: generateText with openai(model)`, async () => {
    const r = await generateText({ model: provider()(m), system: SYSTEM, prompt: QUESTION, maxRetries: 0 });
    assert.equal(r.text, 'Paris, France.');
    assert.equal(r.finishReason, 'stop');
    assert.equal(r.usage.inputTokens, inputTokens(family, [SYSTEM, QUESTION], 2));
    assert.equal(r.usage.outputTokens, tokens(r.text) + (r.usage.reasoningTokens ?? 0));
    assert.match(r.response.id, /^resp_/);
  });

  test(`ai sdk -> ${family}: streamText with openai(model)`, async () => {
    const r = streamText({ model: provider()(m), system: SYSTEM, prompt: QUESTION, maxRetries: 0 });
    let text = '';
    for await (const t of r.textStream) text += t;
    assert.equal(text, 'Paris, France.');
    const usage = await r.usage;
    assert.equal(usage.inputTokens, inputTokens(family, [SYSTEM, QUESTION], 2));
    assert.equal(usage.outputTokens, tokens(text) + (usage.reasoningTokens ?? 0));
    if (thinks(m)) assert.ok(usage.reasoningTokens > 0);
    assert.equal(await r.finishReason, 'stop');
  });

  test(`ai sdk -> ${family}: a tool loop over two steps`, async () => {
    const seen = [];
    const r = await generateText({
      model: provider()(m),
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
    assert.equal(r.steps[0].finishReason, 'tool-calls');
    assert.equal(r.text, `The get_weather tool returned: ${echoed(family, 'rain in Oslo')}.`);
  });
}

test('ai sdk -> o4-mini: streamText with a reasoning model', async () => {
  const r = streamText({ model: provider()('o4-mini'), system: SYSTEM, prompt: QUESTION, maxRetries: 0 });
  let text = '';
  for await (const t of r.textStream) text += t;
  assert.equal(text, 'Paris, France.');
  const usage = await r.usage;
  assert.equal(usage.inputTokens, inputTokens('openai', [SYSTEM, QUESTION], 2));
  assert.ok(usage.reasoningTokens > 0);
  assert.equal(usage.outputTokens, tokens(text) + usage.reasoningTokens);
  assert.equal(await r.finishReason, 'stop');
});

// The AI SDK refers to earlier output by item id (store defaults to true):
// to a translated target that is refused by name; with store: false it sends
// the items themselves, and the conversation goes on.
test('ai sdk -> anthropic: a second turn needs store: false', { skip: onlyGateway }, async () => {
  const m = provider()(MODEL.anthropic);
  const first = await generateText({ model: m, prompt: QUESTION, maxRetries: 0 });
  const messages = [{ role: 'user', content: QUESTION }, ...first.response.messages,
    { role: 'user', content: 'And of Italy?' }];
  const e = await caught(() => generateText({ model: m, messages, maxRetries: 0 }));
  assert.ok(APICallError.isInstance(e), String(e));
  assert.equal(e.statusCode, 400);
  assert.match(e.message, /item_reference msg_\w+ is not supported when translating to anthropic/);
  const r = await generateText({ model: m, messages, maxRetries: 0,
    providerOptions: { openai: { store: false } } });
  assert.equal(r.finishReason, 'stop');
  assert.ok(r.text.length > 0);
});
