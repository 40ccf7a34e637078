/*
 * Tool calls across families (worker/wire/, issue 19): streamed calls read
 * back as each client's SDK assembles them, Gemini's schema form turned into
 * JSON Schema, failed results and strict tools, fragments that do not decode,
 * reasoning state carried across a tool round trip (or thinking turned off
 * where it cannot be), and the Anthropic thread refused with the code its SDK
 * acts on. The fuzz target tests/fuzz/fuzz_tools.c cuts the same streams at
 * random.
 */
#include <check.h>

#include "tool_view.h"

#define A TG_FAMILY_ANTHROPIC
#define G TG_FAMILY_GEMINI
#define O TG_FAMILY_OPENAI

#define IR_SIG_MARK_TEXT "__tgs_"       /* worker/wire/ir.h's IR_SIG_MARK */

static const char *const names[] = { "anthropic", "gemini", "openai" };

/* A client body of family client into the provider's family, as the gateway checked it. */
static int
translate(enum tg_family client, enum tg_family provider, const char *body, struct tg_buf *out,
	  char *err, size_t errlen)
{
	struct tg_wire_request req = { .family = client };
	char perr[200];

	/* the request as the gateway parsed it: what it noted (a thread) is in req */
	if (client != G) {
		struct tg_wire_endpoint ep = { .family = client };
		if (tg_wire_parse_request(&ep, body, strlen(body), &req, perr, sizeof(perr)) == -1)
			ck_abort_msg("%s: %s", perr, body);
	}
	return tg_wire_upstream_body(&req, body, strlen(body), provider, "up", out, err, errlen);
}

static void
want(const struct tg_buf *b, const char *s)
{
	ck_assert_msg(b->p != NULL && strstr(b->p, s) != NULL, "no %s in\n%s", s,
		      b->p != NULL ? b->p : "(nothing)");
}

static void
lacks(const struct tg_buf *b, const char *s)
{
	ck_assert_msg(b->p == NULL || strstr(b->p, s) == NULL, "%s in\n%s", s, b->p);
}

/* ---- streamed calls ---- */

struct feed {
	struct tg_wire_stream *ws;
	struct tg_buf         *out;
};

static void
on_event(const struct tg_sse_event *ev, void *arg)
{
	struct feed *f = arg;

	(void)tg_wire_stream_event(f->ws, ev->event, ev->event_len, ev->data, ev->data_len, f->out);
}

/* The provider's SSE into the client's family: its bytes, and what the stream recorded. */
static void
stream(enum tg_family provider, enum tg_family client, const char *sse, size_t n,
       struct tg_buf *out, struct tg_usage_info *info)
{
	struct tg_wire_request req = { .family = client, .model = "m", .include_usage = true };
	struct feed f = { .out = out };
	struct tg_sse p;

	f.ws = tg_wire_stream_new(provider, &req);
	ck_assert_ptr_nonnull(f.ws);
	tg_sse_init(&p, 0);
	ck_assert_int_eq(tg_sse_feed(&p, sse, n, on_event, &f), 0);
	tg_wire_stream_finish(f.ws, NULL, out);
	tg_wire_stream_usage(f.ws, info);
	tg_sse_fini(&p);
	tg_wire_stream_free(f.ws);
}

static size_t
cut3(void *arg, size_t left)
{
	(void)arg;
	return left < 3 ? left : 3;
}

static size_t
cut1(void *arg, size_t left)
{
	(void)arg, (void)left;
	return 1;
}

/* Text, a call with escaped and non-ASCII arguments, a call without any. */
static void
calls(struct tv_stream *s)
{
	static const char args[] = "{\"location\":\"Z\xc3\xbcrich \\\"Altstadt\\\" \\\\ "
				   "\xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x8c\xa7\",\"unit\":\"celsius"
				   "\"}";

	tg_buf_puts(&s->text, "Let me call get_weather and get_time.");
	snprintf(s->calls[0].id, sizeof(s->calls[0].id), "toolu_01A");
	snprintf(s->calls[0].name, sizeof(s->calls[0].name), "get_weather");
	tg_buf_puts(&s->calls[0].args, args);
	snprintf(s->calls[1].id, sizeof(s->calls[1].id), "toolu_01B");
	snprintf(s->calls[1].name, sizeof(s->calls[1].name), "get_time");
	s->ncalls = 2;
}

/*
 * Every provider into every other client: the calls arrive whole, a call
 * without arguments as "{}" for an OpenAI client too (defect 1: it got "").
 */
START_TEST(streamed_calls_arrive_whole)
{
	enum tg_family provider = (enum tg_family)(_i / 2);
	enum tg_family client = (enum tg_family)((provider + 1 + _i % 2) % 3);
	struct tv_stream src, view;
	struct tg_buf sse, out;
	struct tg_usage_info info;

	tv_init(&src, provider);
	calls(&src);
	if (provider == O)
		tg_buf_puts(&src.calls[1].args, "{}");  /* what OpenAI sends for no arguments */
	tg_buf_init(&sse);
	tg_buf_init(&out);
	tv_write(provider, &src, false, cut3, NULL, &sse);
	stream(provider, client, sse.p, sse.len, &out, &info);
	tv_init(&view, client);
	ck_assert_int_eq(tv_read(&view, out.p, out.len), 0);
	ck_assert_msg(!view.error && view.ended && view.bad == 0, "%s -> %s:\n%s",
		      names[provider], names[client], out.p);
	ck_assert_str_eq(view.text.p, "Let me call get_weather and get_time.");
	ck_assert_int_eq(view.ncalls, 2);
	for (int k = 0; k < 2; k++) {
		ck_assert_str_eq(view.calls[k].name, src.calls[k].name);
		ck_assert_msg(tv_same_args(&src.calls[k].args, &view.calls[k].args, client),
			      "%s -> %s: call %d arguments '%.*s'\n%s", names[provider],
			      names[client], k, (int)view.calls[k].args.len, view.calls[k].args.p,
			      out.p);
	}
	if (client == O)
		ck_assert_str_eq(view.calls[1].args.p, "{}");
	ck_assert_str_eq(info.xlate_error, "");
	tv_fini(&src);
	tv_fini(&view);
	tg_buf_fini(&sse);
	tg_buf_fini(&out);
}
END_TEST

/*
 * A fragment that does not decode (a surrogate pair cut in two) ends the
 * client's stream with its family's error event and is recorded; the usage
 * the provider billed is kept (defect 4: it was dropped without a word).
 */
START_TEST(undecodable_fragment_ends_the_stream)
{
	enum tg_family provider = _i < 2 ? A : O;
	enum tg_family client = (enum tg_family)((provider + 1 + _i % 2) % 3);
	struct tv_stream src, view;
	struct tg_buf sse, out;
	struct tg_usage_info info;

	tv_init(&src, provider);
	calls(&src);
	tg_buf_init(&sse);
	tg_buf_init(&out);
	/* one code unit at a time: the rain cloud's two halves go in two fragments */
	tv_write(provider, &src, true, cut1, NULL, &sse);
	ck_assert_msg(strstr(sse.p, "\\ud83c\"") != NULL, "%s", sse.p);
	stream(provider, client, sse.p, sse.len, &out, &info);
	tv_init(&view, client);
	ck_assert_int_eq(tv_read(&view, out.p, out.len), 0);
	ck_assert_msg(view.error, "%s -> %s: no error event\n%s", names[provider], names[client],
		      out.p);
	ck_assert_msg(strstr(info.xlate_error, "surrogate") != NULL, "%s", info.xlate_error);
	ck_assert(info.usage.complete);
	ck_assert_int_eq(info.usage.output, 20);
	/* nothing after the error: no call a client could take for whole */
	ck_assert_msg(!view.ended, "%s", out.p);
	if (client == G)
		ck_assert_int_eq(view.ncalls, 0);
	tv_fini(&src);
	tv_fini(&view);
	tg_buf_fini(&sse);
	tg_buf_fini(&out);
}
END_TEST

/* Fragments that add up to no object cannot become a Gemini call: an error, not args {}. */
START_TEST(broken_arguments_are_no_gemini_call)
{
	struct tv_stream src, view;
	struct tg_buf sse, out;
	struct tg_usage_info info;

	tv_init(&src, A);
	snprintf(src.calls[0].id, sizeof(src.calls[0].id), "toolu_01A");
	snprintf(src.calls[0].name, sizeof(src.calls[0].name), "get_weather");
	tg_buf_puts(&src.calls[0].args, "{\"location\":\"Par");
	src.ncalls = 1;
	tg_buf_init(&sse);
	tg_buf_init(&out);
	tv_write(A, &src, false, cut3, NULL, &sse);
	stream(A, G, sse.p, sse.len, &out, &info);
	tv_init(&view, G);
	ck_assert_int_eq(tv_read(&view, out.p, out.len), 0);
	ck_assert_msg(view.error && view.ncalls == 0, "%s", out.p);
	ck_assert_msg(strstr(info.xlate_error, "get_weather") != NULL, "%s", info.xlate_error);
	tv_fini(&src);
	tv_fini(&view);
	tg_buf_fini(&sse);
	tg_buf_fini(&out);
}
END_TEST

/* ---- Gemini's schema form (defect 2) ---- */

struct schema_row {
	const char *name;
	const char *parameters;         /* a functionDeclaration's "parameters" */
	const char *want[4];            /* in the OpenAI and Anthropic bodies */
	const char *absent[3];
	const char *refuse;
};

static const struct schema_row schemas[] = {
	{ "upper-case types",
	  "{\"type\":\"OBJECT\",\"properties\":{\"location\":{\"type\":\"STRING\"}},"
	  "\"required\":[\"location\"]}",
	  { "{\"type\":\"object\",\"properties\":{\"location\":{\"type\":\"string\"}},"
	    "\"required\":[\"location\"]}" }, { "OBJECT", "STRING" }, NULL },
	{ "nullable, enum format, ordering", "{\"type\":\"OBJECT\",\"properties\":{\"unit\":"
	  "{\"type\":\"STRING\",\"format\":\"enum\",\"enum\":[\"c\",\"f\"],\"nullable\":true},"
	  "\"n\":{\"type\":\"INTEGER\",\"format\":\"int32\",\"minimum\":1}},"
	  "\"propertyOrdering\":[\"unit\",\"n\"]}",
	  { "\"unit\":{\"type\":[\"string\",\"null\"],\"enum\":[\"c\",\"f\",null]}",
	    "\"n\":{\"type\":\"integer\",\"minimum\":1}" },
	  { "nullable", "propertyOrdering", "format" }, NULL },
	{ "arrays, counts as strings, example", "{\"type\":\"object\",\"properties\":{\"tags\":"
	  "{\"type\":\"ARRAY\",\"items\":{\"type\":\"STRING\"},\"max_items\":\"3\","
	  "\"example\":[\"a\"]},\"when\":{\"type\":\"STRING\",\"format\":\"date-time\"}}}",
	  { "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},"
	    "\"examples\":[[\"a\"]],\"maxItems\":3}",
	    "\"when\":{\"type\":\"string\",\"format\":\"date-time\"}" },
	  { "max_items", "\"example\"" }, NULL },
	{ "anyOf, nullable without a type", "{\"type\":\"OBJECT\",\"properties\":{\"v\":{\"anyOf\":"
	  "[{\"type\":\"NUMBER\"},{\"type\":\"BOOLEAN\"}],\"nullable\":true}}}",
	  { "\"v\":{\"anyOf\":[{\"type\":\"number\"},{\"type\":\"boolean\"},"
	    "{\"type\":\"null\"}]}" },
	  { "nullable" }, NULL },
	{ "a key outside the subset passes as it is", "{\"type\":\"OBJECT\","
	  "\"additionalProperties\":false,\"properties\":{}}",
	  { "\"additionalProperties\":false", "\"type\":\"object\"" }, { NULL }, NULL },
	{ "not a type", "{\"type\":\"OBJECT\",\"properties\":{\"x\":{\"type\":\"TUPLE\"}}}",
	  { NULL }, { NULL }, "functionDeclarations[].parameters.properties.x.type: unknown type" },
	{ "a count that is no integer", "{\"type\":\"ARRAY\",\"items\":{\"type\":\"STRING\"},"
	  "\"minItems\":\"two\"}", { NULL }, { NULL }, "minItems: expected an integer" },
};

START_TEST(gemini_schema_becomes_json_schema)
{
	const struct schema_row *r = &schemas[_i / 2];
	enum tg_family provider = _i % 2 ? A : O;
	struct tg_buf body, out;
	char err[200];
	int rc;

	tg_buf_init(&body);
	tg_buf_init(&out);
	tg_buf_printf(&body, "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}],"
		      "\"tools\":[{\"functionDeclarations\":[{\"name\":\"f\","
		      "\"parameters\":%s}]}]}",
		      r->parameters);
	rc = translate(G, provider, body.p, &out, err, sizeof(err));
	if (r->refuse != NULL) {
		ck_assert_msg(rc == -1 && strstr(err, r->refuse) != NULL, "%s: %s", r->name, err);
	} else {
		ck_assert_msg(rc == 0, "%s: %s", r->name, err);
		for (int k = 0; k < 4 && r->want[k] != NULL; k++)
			want(&out, r->want[k]);
		for (int k = 0; k < 3 && r->absent[k] != NULL; k++)
			lacks(&out, r->absent[k]);
		want(&out, provider == A ? "\"input_schema\":{" : "\"parameters\":{");
	}
	tg_buf_fini(&body);
	tg_buf_fini(&out);
}
END_TEST

/* parametersJsonSchema is JSON Schema already; responseSchema is Gemini's form too. */
START_TEST(gemini_json_schema_passes_as_it_is)
{
	static const char body[] =
		"{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}],"
		"\"generationConfig\":{\"responseSchema\":{\"type\":\"OBJECT\",\"properties\":"
		"{\"a\":{\"type\":\"STRING\",\"nullable\":true}}}},"
		"\"tools\":[{\"functionDeclarations\":[{\"name\":\"f\",\"parametersJsonSchema\":"
		"{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"STRING\"}},"
		"\"additionalProperties\":false}}]}]}";
	struct tg_buf out;
	char err[200];

	tg_buf_init(&out);
	ck_assert_msg(translate(G, O, body, &out, err, sizeof(err)) == 0, "%s", err);
	/* as the client wrote it, even what is not JSON Schema: the provider judges */
	want(&out, "\"parameters\":{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"STRING\"}"
		   "},"
	     "\"additionalProperties\":false}");
	want(&out, "\"schema\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":"
	     "[\"string\",\"null\"]}}}");
	tg_buf_fini(&out);
}
END_TEST

/* ---- failed results and strict tools (defect 3) ---- */

static const char ant_round[] =
	"{\"model\":\"m\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":\"go\"},"
	"{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":"
	"\"get_weather\",\"input\":{\"location\":\"Oslo\"}}]},{\"role\":\"user\",\"content\":"
	"[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\",\"is_error\":true,\"content\":"
	"\"station offline\"}]}],\"tools\":[{\"name\":\"get_weather\",%s"
	"\"input_schema\":{\"type\":\"object\"}}]}";

/* ant_round with its tool strict or not. */
static const char *
round_trip(struct tg_buf *b, bool strict)
{
	tg_buf_reset(b);
	tg_buf_printf(b, ant_round, strict ? "\"strict\":true," : "");
	return b->p;
}

START_TEST(failed_result_is_carried)
{
	static const char gem[] =
		"{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"go\"}]},{\"role\":\"model"
		"\","
		"\"parts\":[{\"functionCall\":{\"name\":\"get_weather\",\"args\":{}}}]},{\"role\":"
		"\"user\","
		"\"parts\":[{\"functionResponse\":{\"name\":\"get_weather\",\"response\":{\"error\""
		":"
		"\"station offline\"}}}]}]}";
	struct tg_buf out, ant;
	char err[200];

	tg_buf_init(&out);
	tg_buf_init(&ant);
	round_trip(&ant, false);
	/* OpenAI's tool message has no flag: the text says it first */
	ck_assert_msg(translate(A, O, ant.p, &out, err, sizeof(err)) == 0, "%s", err);
	want(&out, "{\"role\":\"tool\",\"tool_call_id\":\"toolu_1\",\"content\":\"Error: station "
	     "offline\"}");
	tg_buf_reset(&out);
	/* Gemini documents "error" in the response for a failure */
	ck_assert_msg(translate(A, G, ant.p, &out, err, sizeof(err)) == 0, "%s", err);
	want(&out, "\"response\":{\"error\":\"station offline\"}");
	tg_buf_reset(&out);
	/* and a response with "error" alone is a failure on the way back */
	ck_assert_msg(translate(G, A, gem, &out, err, sizeof(err)) == 0, "%s", err);
	want(&out, "\"content\":\"station offline\",\"is_error\":true");
	tg_buf_fini(&out);
	tg_buf_fini(&ant);
}
END_TEST

START_TEST(strict_is_mapped_or_refused)
{
	static const char oai[] =
		"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"go\"}],\"tools\":"
		"[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"strict\":true,"
		"\"parameters\":{\"type\":\"object\",\"properties\":{},\"additionalProperties\":fal"
		"se}}},"
		"{\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"strict\":false}}]}";
	struct tg_buf out, ant;
	char err[200];

	tg_buf_init(&out);
	tg_buf_init(&ant);
	round_trip(&ant, true);
	/* Anthropic holds strict tools to their schema as OpenAI does */
	ck_assert_msg(translate(O, A, oai, &out, err, sizeof(err)) == 0, "%s", err);
	want(&out, "\"additionalProperties\":false},\"strict\":true}");
	want(&out, "{\"name\":\"get_time\",\"input_schema\":{\"type\":\"object\"}}");
	tg_buf_reset(&out);
	ck_assert_msg(translate(A, O, ant.p, &out, err, sizeof(err)) == 0, "%s", err);
	want(&out, "\"parameters\":{\"type\":\"object\"},\"strict\":true}");
	tg_buf_reset(&out);
	/* Gemini has none: refused, naming it, never dropped */
	ck_assert_int_eq(translate(O, G, oai, &out, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "strict (on tool get_weather) is not supported when translating to "
			 "gemini");
	ck_assert_int_eq(translate(A, G, ant.p, &out, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "strict") != NULL, "%s", err);
	tg_buf_fini(&out);
	tg_buf_fini(&ant);
}
END_TEST

/* ---- reasoning state across a tool round trip (defect 5) ---- */

static const char ant_thinking_reply[] =
	"{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"c\",\"content\":"
	"["
	"{\"type\":\"thinking\",\"thinking\":\"Need the weather.\",\"signature\":\"c2lnMQ==\"},"
	"{\"type\":\"redacted_thinking\",\"data\":\"cmVk\"},"
	"{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\",\"input\":{\"location\""
	":"
	"\"Oslo\"}}],\"stop_reason\":\"tool_use\",\"stop_sequence\":null,\"usage\":"
	"{\"input_tokens\":10,\"output_tokens\":30}}";

/* The second turn of an OpenAI client that kept (or not) the first turn's message. */
static void
second_turn(struct tg_buf *b, const char *assistant)
{
	tg_buf_printf(b, "{\"model\":\"m\",\"reasoning_effort\":\"low\",\"messages\":[{\"role\":\"u"
			 "ser\","
		      "\"content\":\"go\"},%s,{\"role\":\"tool\",\"tool_call_id\":\"toolu_1\","
		      "\"content\":\"rain\"}],\"tools\":[{\"type\":\"function\",\"function\":"
		      "{\"name\":\"get_weather\"}}]}", assistant);
}

START_TEST(anthropic_thinking_round_trips_through_openai)
{
	struct tg_buf reply, body, out;
	struct tg_json j;
	char err[200];
	int c0, msg;

	tg_buf_init(&reply);
	tg_buf_init(&body);
	tg_buf_init(&out);
	ck_assert_int_eq(tg_wire_translate_reply(A, O, ant_thinking_reply,
						 strlen(ant_thinking_reply), "m", &reply), 0);
	want(&reply, "\"thinking_blocks\":[{\"type\":\"thinking\",\"thinking\":\"Need the weather."
		     "\","
	     "\"signature\":\"c2lnMQ==\"},{\"type\":\"redacted_thinking\",\"data\":\"cmVk\"}]");
	/* the message as the SDK returns it goes back, thinking_blocks and all */
	ck_assert_int_eq(tg_json_parse(&j, reply.p, reply.len, 1000, 64, err, sizeof(err)), 0);
	c0 = tg_json_first(&j, tg_json_get(&j, 0, "choices"));
	msg = tg_json_get(&j, c0, "message");
	{
		size_t n;
		const char *raw = tg_json_raw(&j, msg, &n);
		struct tg_buf m;
		tg_buf_init(&m);
		tg_buf_add(&m, raw, n);
		second_turn(&body, m.p);
		tg_buf_fini(&m);
	}
	tg_json_fini(&j);
	ck_assert_msg(translate(O, A, body.p, &out, err, sizeof(err)) == 0, "%s", err);
	want(&out, "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":"
	     "\"Need the weather.\",\"signature\":\"c2lnMQ==\"},{\"type\":\"redacted_thinking\","
	     "\"data\":\"cmVk\"},{\"type\":\"tool_use\",\"id\":\"toolu_1\"");
	want(&out, "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1024}");
	tg_buf_fini(&reply);
	tg_buf_fini(&body);
	tg_buf_fini(&out);
}
END_TEST

START_TEST(thinking_goes_off_when_it_cannot_be_carried)
{
	static const char bare[] =
		"{\"role\":\"assistant\",\"content\":null,\"reasoning_content\":\"Need the weather."
		"\","
		"\"tool_calls\":[{\"id\":\"toolu_1\",\"type\":\"function\",\"function\":{\"name\":"
		"\"get_weather\",\"arguments\":\"{}\"}}]}";
	static const char fresh[] =
		"{\"model\":\"m\",\"reasoning_effort\":\"low\",\"messages\":[{\"role\":\"user\","
		"\"content\":\"go\"},%s,{\"role\":\"tool\",\"tool_call_id\":\"toolu_1\",\"content\""
		":"
		"\"rain\"},{\"role\":\"assistant\",\"content\":\"It rains.\"},{\"role\":\"user\","
		"\"content\":\"and tomorrow?\"}]}";
	struct tg_buf body, out;
	char err[200];

	tg_buf_init(&body);
	tg_buf_init(&out);
	second_turn(&body, bare);
	ck_assert_msg(translate(O, A, body.p, &out, err, sizeof(err)) == 0, "%s", err);
	want(&out, "\"thinking\":{\"type\":\"disabled\"}");
	lacks(&out, "budget_tokens");
	/* a new user turn needs no earlier thinking: it keeps its own */
	tg_buf_reset(&body);
	tg_buf_reset(&out);
	tg_buf_printf(&body, fresh, bare);
	ck_assert_msg(translate(O, A, body.p, &out, err, sizeof(err)) == 0, "%s", err);
	want(&out, "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1024}");
	tg_buf_fini(&body);
	tg_buf_fini(&out);
}
END_TEST

/* Anthropic's signed thinking streamed to an OpenAI client: one chunk with thinking_blocks. */
START_TEST(streamed_thinking_blocks)
{
	static const char sse[] =
		"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_"
		"1\","
		"\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n"
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
		"\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n"
		"\n"
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
		"\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Need \"}}\n\n"
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
		"\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"\\\"weather\\\".\"}}\n\n"
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
		"\"delta\":{\"type\":\"signature_delta\",\"signature\":\"c2ln\"}}\n\n"
		"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,"
		"\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_time\","
		"\"input\":{}}}\n\n"
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
		"\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n"
		"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\""
		":"
		"\"tool_use\"},\"usage\":{\"output_tokens\":9}}\n\n"
		"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
	struct tg_buf out;
	struct tg_usage_info info;
	const char *blocks, *finish;

	tg_buf_init(&out);
	stream(A, O, sse, strlen(sse), &out, &info);
	want(&out, "\"delta\":{\"thinking_blocks\":[{\"type\":\"thinking\",\"thinking\":"
	     "\"Need \\\"weather\\\".\",\"signature\":\"c2ln\"}]}");
	/* before the finish chunk, which the SDK's stream helper may end on */
	blocks = strstr(out.p, "thinking_blocks");
	finish = strstr(out.p, "\"finish_reason\":\"tool_calls\"");
	ck_assert_msg(blocks != NULL && finish != NULL && blocks < finish, "%s", out.p);
	tg_buf_fini(&out);
}
END_TEST

/* A Gemini call's thoughtSignature goes to the client in the id and back to Gemini. */
START_TEST(gemini_signature_rides_in_the_id)
{
	static const char reply[] =
		"{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"get_weathe"
		"r\","
		"\"args\":{\"location\":\"Oslo\"}},\"thoughtSignature\":\"ab+/cd==\"}],\"role\":\"m"
		"odel\"},"
		"\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":5,"
		"\"candidatesTokenCount\":5,\"totalTokenCount\":10},\"responseId\":\"r1\"}";
	enum tg_family client = _i == 0 ? O : A;
	struct tg_buf out, body, gem, ant;
	struct tv_stream view;
	struct tg_usage_info info;
	char err[200], id[256];
	const char *p;

	tg_buf_init(&out);
	tg_buf_init(&body);
	tg_buf_init(&gem);
	tg_buf_init(&ant);
	ck_assert_int_eq(tg_wire_translate_reply(G, client, reply, strlen(reply), "m", &out), 0);
	/* base64url in the id: Anthropic's id alphabet, and no padding */
	p = strstr(out.p, IR_SIG_MARK_TEXT "ab-_cd\"");
	ck_assert_msg(p != NULL, "%s", out.p);
	while (p > out.p && p[-1] != '"')
		p--;
	snprintf(id, sizeof(id), "%.*s", (int)(strchr(p, '"') - p), p);
	/* streamed, the signature in the id too */
	tg_buf_reset(&out);
	{
		static const char sse_head[] = "data: ";
		struct tg_buf sse;
		tg_buf_init(&sse);
		tg_buf_printf(&sse, "%s%s\n\n", sse_head, reply);
		stream(G, client, sse.p, sse.len, &out, &info);
		tg_buf_fini(&sse);
	}
	tv_init(&view, client);
	ck_assert_int_eq(tv_read(&view, out.p, out.len), 0);
	ck_assert_int_eq(view.ncalls, 1);
	p = strstr(view.calls[0].id, IR_SIG_MARK_TEXT);
	ck_assert_msg(p != NULL && strcmp(p, IR_SIG_MARK_TEXT "ab-_cd") == 0, "%s",
		      view.calls[0].id);
	tv_fini(&view);
	/* the next turn: the signature back on the call for Gemini, the plain id elsewhere */
	if (client == O)
		tg_buf_printf(&body, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\""
				     ":\"go\"},"
			      "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"%"
			      "s\","
			      "\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"argum"
			      "ents\":"
			      "\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"%s\",\"content\":\""
			      "rain\"}]}",
			      id, id);
	else
		tg_buf_printf(&body, "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"u"
				     "ser\","
			      "\"content\":\"go\"},{\"role\":\"assistant\",\"content\":[{\"type\":"
			      "\"tool_use\",\"id\":\"%s\",\"name\":\"get_weather\",\"input\":{}}]},"
			      "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use"
			      "_id\":"
			      "\"%s\",\"content\":\"rain\"}]}]}", id, id);
	ck_assert_msg(translate(client, G, body.p, &gem, err, sizeof(err)) == 0, "%s", err);
	want(&gem, "{\"functionCall\":{\"name\":\"get_weather\",\"args\":{}},\"thoughtSignature\":"
	     "\"ab+/cd==\"}");
	ck_assert_msg(translate(client, client == O ? A : O, body.p, &ant, err, sizeof(err)) == 0,
		      "%s", err);
	lacks(&ant, IR_SIG_MARK_TEXT);
	tg_buf_fini(&out);
	tg_buf_fini(&body);
	tg_buf_fini(&gem);
	tg_buf_fini(&ant);
}
END_TEST

/* ---- the Anthropic thread (defect 6) ---- */

START_TEST(thread_is_refused_with_its_code)
{
	static const char body[] =
		"{\"model\":\"m\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\""
		"hi\"}],"
		"\"thread\":{\"type\":\"create\"}}";
	static const char none[] =
		"{\"model\":\"m\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\""
		"hi\"}],"
		"\"thread\":null}";
	static const char lost[] =
		"{\"type\":\"error\",\"error\":{\"type\":\"not_found_error\",\"message\":\"no threa"
		"d\","
		"\"details\":{\"error_code\":\"thread_not_found\"}}}";
	struct tg_wire_endpoint ep = { .family = A };
	struct tg_wire_request req;
	struct tg_buf out;
	char err[200];

	tg_buf_init(&out);
	ck_assert_int_eq(tg_wire_parse_request(&ep, body, strlen(body), &req, err, sizeof(err)), 0);
	/* Anthropic holds threads: the body goes as it is */
	ck_assert_int_eq(tg_wire_upstream_body(&req, body, strlen(body), A, "c", &out, err,
					       sizeof(err)), 0);
	want(&out, "\"thread\":{\"type\":\"create\"}");
	ck_assert_ptr_null(tg_wire_refusal_code(&req, A));
	for (enum tg_family f = G; f <= O; f++) {
		tg_buf_reset(&out);
		ck_assert_int_eq(tg_wire_upstream_body(&req, body, strlen(body), f, "x", &out, err,
						       sizeof(err)), -1);
		ck_assert_msg(strncmp(err, "thread is not supported when translating to ", 44) == 0,
			      "%s", err);
		ck_assert_str_eq(tg_wire_refusal_code(&req, f), "thread_unsupported_request");
	}
	/* the refusal as the SDK reads it: error.details.error_code */
	tg_buf_reset(&out);
	tg_wire_error_code(A, 400, "thread_unsupported_request", "thread is not supported", &out);
	ck_assert_str_eq(out.p, "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
			 "\"message\":\"thread is not supported\",\"details\":{\"error_code\":"
			 "\"thread_unsupported_request\"}}}");
	tg_buf_reset(&out);
	tg_wire_error_code(O, 400, "thread_unsupported_request", "x", &out);
	want(&out, "\"code\":\"thread_unsupported_request\"");
	/* null is no thread */
	ck_assert_int_eq(tg_wire_parse_request(&ep, none, strlen(none), &req, err, sizeof(err)), 0);
	ck_assert_ptr_null(tg_wire_refusal_code(&req, O));
	tg_buf_reset(&out);
	ck_assert_msg(tg_wire_upstream_body(&req, none, strlen(none), O, "x", &out, err,
					    sizeof(err)) == 0, "%s", err);
	/* Anthropic's own code reaches an Anthropic client: a lost thread is replayed */
	tg_buf_reset(&out);
	tg_wire_provider_error(A, A, 404, lost, strlen(lost), &out);
	want(&out, "\"details\":{\"error_code\":\"thread_not_found\"}");
	tg_buf_reset(&out);
	tg_wire_provider_error(A, O, 404, lost, strlen(lost), &out);
	lacks(&out, "thread_not_found");
	tg_buf_fini(&out);
}
END_TEST

Suite *tg_wire_tools_suite(void);

Suite *
tg_wire_tools_suite(void)
{
	Suite *s = suite_create("wire_tools");
	TCase *st = tcase_create("streams");
	TCase *rq = tcase_create("requests");

	tcase_set_timeout(st, 20);
	tcase_add_loop_test(st, streamed_calls_arrive_whole, 0, 6);
	tcase_add_loop_test(st, undecodable_fragment_ends_the_stream, 0, 4);
	tcase_add_test(st, broken_arguments_are_no_gemini_call);
	tcase_add_test(st, streamed_thinking_blocks);
	suite_add_tcase(s, st);
	tcase_set_timeout(rq, 20);
	tcase_add_loop_test(rq, gemini_schema_becomes_json_schema, 0,
			    (int)(sizeof(schemas) / sizeof(schemas[0])) * 2);
	tcase_add_test(rq, gemini_json_schema_passes_as_it_is);
	tcase_add_test(rq, failed_result_is_carried);
	tcase_add_test(rq, strict_is_mapped_or_refused);
	tcase_add_test(rq, anthropic_thinking_round_trips_through_openai);
	tcase_add_test(rq, thinking_goes_off_when_it_cannot_be_carried);
	tcase_add_loop_test(rq, gemini_signature_rides_in_the_id, 0, 2);
	tcase_add_test(rq, thread_is_refused_with_its_code);
	suite_add_tcase(s, rq);
	return s;
}
