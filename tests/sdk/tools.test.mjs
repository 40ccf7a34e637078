// Tool calls for the 3 x 3 family pairs (issue 19): each official SDK calls a
// model of each family, streamed and not, with the simulator's tool calls
// upstream (a single call; text before parallel calls, one with escaped and
// non-ASCII arguments, one without any), then sends the results back in a
// second turn. The SDKs' own helpers run too (openai runTools, the Anthropic
// 1.x toolRunner, whose thread only Anthropic holds), and the features one
// family has and another lacks are carried, mapped or refused by name.
// Against the simulator only the same-family pairs run: only the gateway
// translates (TG_CROSS=1 runs all nine).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import Anthropic1 from 'anthropic-sdk-1';
import { betaTool } from 'anthropic-sdk-1/helpers/beta/json-schema';
import OpenAI from 'openai';
import { GoogleGenAI, Type } from '@google/genai';
import {
  API_KEY, BASE_URL, HARD_ARGS, HARD_PROMPT, MODEL, TIME_SCHEMA, WEATHER_SCHEMA,
} from './common.js';

const CROSS = process.env.TG_CROSS === '1';
const FAMILY = { openai: 'openai', anthropic: 'anthropic', google: 'gemini' };
// a pair runs where something serves it: the simulator speaks each family to its own SDK
const skipFor = (sdk, target) => (CROSS || FAMILY[sdk] === target ? false
  : 'set TG_CROSS=1 to run: only the gateway translates between families, not the simulator');

const openai = () => new OpenAI({ apiKey: API_KEY, baseURL: BASE_URL + '/v1', maxRetries: 0 });
const anthropic = () => new Anthropic({ apiKey: API_KEY, baseURL: BASE_URL, maxRetries: 0 });
const anthropic1 = () => new Anthropic1({ apiKey: API_KEY, baseURL: BASE_URL, maxRetries: 0 });
const google = () => new GoogleGenAI({ apiKey: API_KEY, httpOptions: { baseUrl: BASE_URL } });

const SINGLE_PROMPT = 'Please run get_weather {"location":"Oslo"}';
const PREFACE = 'Let me call get_weather and get_time.';

// ---- each SDK's round trip: first turn's calls as its SDK returns them, then the results ----

// Returns { text, calls: [{ name, args }], next(results) -> answer text }.
const sdks = {
  async openai(model, stream, prompt) {
    const tools = [
      { type: 'function', function: { name: 'get_weather', parameters: WEATHER_SCHEMA } },
      { type: 'function', function: { name: 'get_time', parameters: TIME_SCHEMA } },
    ];
    const ask = { role: 'user', content: prompt };
    const body = { model, max_completion_tokens: 512, tools, messages: [ask] };
    const r = stream ? await openai().chat.completions.stream(body).finalChatCompletion()
      : await openai().chat.completions.create(body);
    const msg = r.choices[0].message;
    assert.equal(r.choices[0].finish_reason, 'tool_calls');
    return {
      text: msg.content ?? '',
      // JSON.parse, as runTools does: "" throws
      calls: msg.tool_calls.map((c) => ({ name: c.function.name, args: JSON.parse(c.function.arguments) })),
      async next(results) {
        const r2 = await openai().chat.completions.create({
          model, max_completion_tokens: 512, tools,
          messages: [ask, msg, ...msg.tool_calls.map((c, i) => ({ role: 'tool', tool_call_id: c.id, content: results[i] }))],
        });
        return r2.choices[0].message.content;
      },
    };
  },

  async anthropic(model, stream, prompt) {
    const tools = [
      { name: 'get_weather', input_schema: WEATHER_SCHEMA },
      { name: 'get_time', input_schema: TIME_SCHEMA },
    ];
    const ask = { role: 'user', content: prompt };
    const body = { model, max_tokens: 512, tools, messages: [ask] };
    const msg = stream ? await anthropic().messages.stream(body).finalMessage()
      : await anthropic().messages.create(body);
    assert.equal(msg.stop_reason, 'tool_use');
    const uses = msg.content.filter((b) => b.type === 'tool_use');
    return {
      text: msg.content.filter((b) => b.type === 'text').map((b) => b.text).join(''),
      calls: uses.map((u) => ({ name: u.name, args: u.input })),
      async next(results) {
        const r2 = await anthropic().messages.create({
          model, max_tokens: 512, tools,
          messages: [ask, { role: 'assistant', content: msg.content },
            { role: 'user', content: uses.map((u, i) => ({ type: 'tool_result', tool_use_id: u.id, content: results[i] })) }],
        });
        return r2.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
      },
    };
  },

  async google(model, stream, prompt) {
    const config = {
      maxOutputTokens: 512,
      tools: [{ functionDeclarations: [
        { name: 'get_weather', parametersJsonSchema: WEATHER_SCHEMA },
        { name: 'get_time', parametersJsonSchema: TIME_SCHEMA },
      ] }],
    };
    const ask = { role: 'user', parts: [{ text: prompt }] };
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
    return {
      text: parts.filter((p) => p.text && !p.thought).map((p) => p.text).join(''),
      calls: calls.map((c) => ({ name: c.name, args: c.args })),
      async next(results) {
        const r2 = await google().models.generateContent({
          model, config,
          contents: [ask, { role: 'model', parts },
            { role: 'user', parts: calls.map((c, i) => ({ functionResponse: { id: c.id, name: c.name, response: { output: results[i] } } })) }],
        });
        return r2.text;
      },
    };
  },
};

for (const sdk of Object.keys(sdks)) {
  for (const target of ['anthropic', 'gemini', 'openai']) {
    for (const stream of [false, true]) {
      const how = `${sdk} sdk -> ${target} (${MODEL[target]}), ${stream ? 'streamed' : 'not streamed'}`;

      test(`tools: ${how}: one call, its result next`, { skip: skipFor(sdk, target) }, async () => {
        const turn = await sdks[sdk](MODEL[target], stream, SINGLE_PROMPT);
        assert.deepEqual(turn.calls, [{ name: 'get_weather', args: { location: 'Oslo' } }]);
        assert.match(await turn.next(['rain in Oslo']), /get_weather tool returned: .*rain in Oslo/);
      });

      test(`tools: ${how}: text, then parallel calls (escaped, non-ASCII, none), results next`,
        { skip: skipFor(sdk, target) }, async () => {
          const turn = await sdks[sdk](MODEL[target], stream, HARD_PROMPT);
          assert.equal(turn.text, PREFACE);
          assert.deepEqual(turn.calls, [{ name: 'get_weather', args: HARD_ARGS }, { name: 'get_time', args: {} }]);
          const answer = await turn.next(['result 0', 'result 1']);
          assert.match(answer, /get_weather tool returned: .*result 0/);
          assert.match(answer, /get_time tool returned: .*result 1/);
        });
    }
  }
}

// ---- the SDKs' helpers ----

for (const target of ['anthropic', 'gemini', 'openai']) {
  // a tool without arguments, streamed: its arguments must be "{}" for JSON.parse (defect 1)
  test(`tools: openai runTools, streamed, a tool without arguments -> ${target}`,
    { skip: skipFor('openai', target) }, async () => {
      const runner = openai().chat.completions.runTools({
        model: MODEL[target], max_completion_tokens: 512, stream: true,
        messages: [{ role: 'user', content: 'call get_time' }],
        tools: [{ type: 'function', function: { name: 'get_time', parameters: TIME_SCHEMA, parse: JSON.parse, function: () => 'noon' } }],
      });
      assert.match(await runner.finalContent(), /^The get_time tool returned: .*noon/);
    });

  // the 1.x toolRunner threads by default; what cannot hold a thread refuses it with the
  // code on which the SDK goes on with the whole conversation (defect 6)
  test(`tools: anthropic 1.x toolRunner -> ${target}`, { skip: skipFor('anthropic', target) }, async () => {
    const calls = [];
    const runner = anthropic1().beta.messages.toolRunner({
      model: MODEL[target], max_tokens: 256,
      messages: [{ role: 'user', content: SINGLE_PROMPT }],
      tools: [betaTool({
        name: 'get_weather', description: 'The weather in a place', inputSchema: WEATHER_SCHEMA,
        run: (input) => { calls.push(input); return `rain in ${input.location}`; },
      })],
    });
    const final = await runner.runUntilDone();
    assert.deepEqual(calls, [{ location: 'Oslo' }]);
    assert.match(final.content.filter((b) => b.type === 'text').map((b) => b.text).join(''),
      /get_weather tool returned: .*rain in Oslo/);
  });
}

// ---- what one family has and another lacks ----

// Gemini's documented schema form (upper-case OpenAPI types, nullable, format enum) must
// become JSON Schema on its way to OpenAI and Anthropic, which refuse "OBJECT" (defect 2).
for (const target of ['anthropic', 'openai']) {
  test(`tools: google sdk -> ${target}, a function declared with Gemini's parameters`,
    { skip: skipFor('google', target) }, async () => {
      const r = await google().models.generateContent({
        model: MODEL[target], contents: 'Use get_weather',
        config: {
          maxOutputTokens: 512,
          tools: [{ functionDeclarations: [{
            name: 'get_weather',
            parameters: {
              type: Type.OBJECT,
              properties: {
                location: { type: Type.STRING },
                unit: { type: Type.STRING, format: 'enum', enum: ['celsius', 'fahrenheit'], nullable: true },
              },
              required: ['location'],
              propertyOrdering: ['location', 'unit'],
            },
          }] }],
        },
      });
      assert.deepEqual(r.functionCalls.map((c) => [c.name, c.args]), [['get_weather', { location: 'Paris' }]]);
    });
}

// A failed result (Anthropic is_error) reaches each provider as a failure it can read (defect 3).
const FAILED = { anthropic: /get_weather tool failed: station offline/, openai: /returned: Error: station offline/,
  gemini: /returned: \{"error":"station offline"\}/ };
for (const target of ['anthropic', 'gemini', 'openai']) {
  test(`tools: anthropic sdk -> ${target}, a failed result says so`, { skip: skipFor('anthropic', target) }, async () => {
    const tools = [{ name: 'get_weather', input_schema: WEATHER_SCHEMA }];
    const ask = { role: 'user', content: SINGLE_PROMPT };
    const msg = await anthropic().messages.create({ model: MODEL[target], max_tokens: 256, tools, messages: [ask] });
    const use = msg.content.find((b) => b.type === 'tool_use');
    const r = await anthropic().messages.create({
      model: MODEL[target], max_tokens: 256, tools,
      messages: [ask, { role: 'assistant', content: msg.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, is_error: true, content: 'station offline' }] }],
    });
    assert.match(r.content[0].text, FAILED[target]);
  });
}

// OpenAI strict tools: Anthropic has them, Gemini does not and refuses by name (defect 3).
for (const target of ['anthropic', 'gemini', 'openai']) {
  test(`tools: openai sdk -> ${target}, a strict tool`, { skip: skipFor('openai', target) }, async () => {
    const body = {
      model: MODEL[target], max_completion_tokens: 256, messages: [{ role: 'user', content: 'call get_time' }],
      tools: [{ type: 'function', function: { name: 'get_time', strict: true, parameters: { ...TIME_SCHEMA, additionalProperties: false } } }],
    };
    if (target === 'gemini') {
      const e = await openai().chat.completions.create(body).then(() => null, (err) => err);
      assert.ok(e instanceof OpenAI.BadRequestError, String(e));
      assert.match(e.message, /strict \(on tool get_time\) is not supported when translating to gemini/);
      return;
    }
    const r = await openai().chat.completions.create(body);
    assert.deepEqual(r.choices[0].message.tool_calls.map((c) => c.function.name), ['get_time']);
  });
}

// An OpenAI client asking a Claude model to reason: the signed thinking goes back in the
// message's thinking_blocks, which the SDK keeps; a client that drops them gets the second
// turn without thinking rather than Anthropic's refusal (defect 5).
for (const stream of [false, true]) {
  test(`tools: openai sdk -> anthropic with reasoning_effort, ${stream ? 'streamed' : 'not streamed'}: thinking across the round trip`,
    { skip: skipFor('openai', 'anthropic') }, async () => {
      const tools = [{ type: 'function', function: { name: 'get_weather', parameters: WEATHER_SCHEMA } }];
      const ask = { role: 'user', content: SINGLE_PROMPT };
      const body = { model: MODEL.anthropic, max_completion_tokens: 512, reasoning_effort: 'low', tools, messages: [ask] };
      const r = stream ? await openai().chat.completions.stream(body).finalChatCompletion()
        : await openai().chat.completions.create(body);
      const msg = r.choices[0].message;
      assert.equal(msg.thinking_blocks?.[0]?.type, 'thinking');
      assert.ok(msg.thinking_blocks[0].signature.length > 0);
      const results = msg.tool_calls.map((c) => ({ role: 'tool', tool_call_id: c.id, content: 'rain' }));
      for (const assistant of [msg, { role: 'assistant', content: null, tool_calls: msg.tool_calls }]) {
        const r2 = await openai().chat.completions.create({ ...body, messages: [ask, assistant, ...results] });
        assert.match(r2.choices[0].message.content, /get_weather tool returned: rain/);
      }
    });
}
