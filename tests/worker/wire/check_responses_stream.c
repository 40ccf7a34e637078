/*
 * A Responses client's streams (worker/wire/): each provider family's SSE
 * translated into the Responses events and read back the way the official
 * SDK's stream helper accumulates them (every event named and numbered,
 * items added before their parts and deltas, the last event repeating the
 * whole output and the usage), split at every byte; errors as
 * response.failed; and a Responses provider's own stream relayed as it is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "tg_json.h"
#include "tg_wire.h"

#define A TG_FAMILY_ANTHROPIC
#define G TG_FAMILY_GEMINI
#define O TG_FAMILY_OPENAI
#define R TG_FAMILY_RESPONSES

#define ANT_EV(name, data) "event: " name "\ndata: " data "\n\n"

#define ANT_BASIC \
	ANT_EV("message_start", "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_01ABC\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"c\",\"stop_reason\":null,\"usage\":{\"input_tokens\":14,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":1}}}") \
	ANT_EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}") \
	ANT_EV("ping", "{\"type\": \"ping\"}") \
	ANT_EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Paris\"}}") \
	ANT_EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\", \\\"France\\\" \\u00e9.\"}}") \
	ANT_EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}") \
	ANT_EV("message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":4}}") \
	ANT_EV("message_stop", "{\"type\":\"message_stop\"}")

#define ANT_TOOL \
	ANT_EV("message_start", "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_02\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"c\",\"usage\":{\"input_tokens\":20,\"cache_creation_input_tokens\":5,\"cache_read_input_tokens\":100,\"output_tokens\":1}}}") \
	ANT_EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}") \
	ANT_EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Need \"}}") \
	ANT_EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"weather.\"}}") \
	ANT_EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"c2ln\"}}") \
	ANT_EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}") \
	ANT_EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}") \
	ANT_EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"Checking.\"}}") \
	ANT_EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":1}") \
	ANT_EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01\",\"name\":\"get_weather\",\"input\":{}}}") \
	ANT_EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}") \
	ANT_EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"locati\"}}") \
	ANT_EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"on\\\": \\\"P\"}}") \
	ANT_EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"aris\\\"}\"}}") \
	ANT_EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":2}") \
	ANT_EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":3,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_02\",\"name\":\"get_time\",\"input\":{}}}") \
	ANT_EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}") \
	ANT_EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":3}") \
	ANT_EV("message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":50}}") \
	ANT_EV("message_stop", "{\"type\":\"message_stop\"}")

#define ANT_MAX \
	ANT_EV("message_start", "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_03\",\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}") \
	ANT_EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}") \
	ANT_EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Once upon\"}}") \
	ANT_EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}") \
	ANT_EV("message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\"},\"usage\":{\"output_tokens\":5}}") \
	ANT_EV("message_stop", "{\"type\":\"message_stop\"}")

#define ANT_ERROR \
	ANT_EV("message_start", "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_04\",\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}") \
	ANT_EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}") \
	ANT_EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Par\"}}") \
	ANT_EV("error", "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}")

#define GEM_CHUNK(parts, tail) "data: {\"candidates\":[{\"content\":{\"parts\":[" parts "],\"role\":\"model\"}" tail

#define GEM_BASIC \
	GEM_CHUNK("{\"text\":\"The capital\"}", ",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":8,\"candidatesTokenCount\":2,\"totalTokenCount\":31,\"thoughtsTokenCount\":21},\"responseId\":\"mJ1e\"}\n\n") \
	GEM_CHUNK("{\"text\":\" of France is Paris.\"}", ",\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":8,\"candidatesTokenCount\":7,\"totalTokenCount\":36,\"thoughtsTokenCount\":21},\"responseId\":\"mJ1e\"}\n\n")

#define GEM_TOOL \
	GEM_CHUNK("{\"text\":\"Thinking about it\",\"thought\":true}", ",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":83,\"candidatesTokenCount\":0,\"totalTokenCount\":187,\"thoughtsTokenCount\":104},\"responseId\":\"r3\"}\n\n") \
	GEM_CHUNK("{\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"location\":\"Paris\"}}},{\"functionCall\":{\"name\":\"get_time\",\"args\":{}}}", ",\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":83,\"candidatesTokenCount\":14,\"totalTokenCount\":201,\"thoughtsTokenCount\":104},\"responseId\":\"r3\"}\n\n")

#define GEM_CUT \
	GEM_CHUNK("{\"text\":\"The cap\"}", ",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":8,\"candidatesTokenCount\":2,\"totalTokenCount\":10},\"responseId\":\"r4\"}\n\n")

#define OAI_CHUNK "data: {\"id\":\"chatcmpl-ABfw\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"g\","
#define OAI_TOOL \
	OAI_CHUNK "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null},\"finish_reason\":null}]}\n\n" \
	OAI_CHUNK "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_W\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n" \
	OAI_CHUNK "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"location\\\":\"}}]},\"finish_reason\":null}]}\n\n" \
	OAI_CHUNK "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\" \\\"Paris\\\"}\"}}]},\"finish_reason\":null}]}\n\n" \
	OAI_CHUNK "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n" \
	OAI_CHUNK "\"choices\":[],\"usage\":{\"prompt_tokens\":60,\"completion_tokens\":80,\"total_tokens\":140,\"prompt_tokens_details\":{\"cached_tokens\":40},\"completion_tokens_details\":{\"reasoning_tokens\":64}}}\n\n" \
	"data: [DONE]\n\n"

struct fixture {
	const char *name;
	enum tg_family provider;
	const char *sse;
	bool completed;                 /* the transfer ended cleanly */
	const char *last;               /* the client's last event */
	const char *types;              /* the final output's item types */
	const char *text;               /* the message text the client assembles */
	const char *args;               /* the first call's arguments, or NULL */
	int64_t input, output, reasoning;
};

static const struct fixture fixtures[] = {
	{ "anthropic basic", A, ANT_BASIC, true, "response.completed", "message",
	  "Paris, \"France\" \xc3\xa9.", NULL, 14, 4, 0 },
	{ "anthropic thinking and two calls", A, ANT_TOOL, true, "response.completed",
	  "reasoning,message,function_call,function_call", "Checking.",
	  "{\"location\": \"Paris\"}", 125, 50, 0 },
	{ "anthropic max_tokens", A, ANT_MAX, true, "response.incomplete", "message", "Once upon",
	  NULL, 9, 5, 0 },
	{ "anthropic error", A, ANT_ERROR, true, "response.failed", "", "Par", NULL, 9, 1, 0 },
	{ "gemini basic", G, GEM_BASIC, true, "response.completed", "message",
	  "The capital of France is Paris.", NULL, 8, 28, 21 },
	{ "gemini thoughts and two calls", G, GEM_TOOL, true, "response.completed",
	  "reasoning,function_call,function_call", "", "{\"location\":\"Paris\"}", 83, 118, 104 },
	{ "gemini cut", G, GEM_CUT, false, "response.failed", "", "The cap", NULL, 8, 2, 0 },
	{ "openai chat tool", O, OAI_TOOL, true, "response.completed", "function_call", "",
	  "{\"location\": \"Paris\"}", 60, 80, 64 },
};

/* ---- feeding the provider's bytes ---- */

struct feed {
	struct tg_wire_stream *x;
	struct tg_buf *out;
	int bad;
};

static void
on_provider_event(const struct tg_sse_event *ev, void *arg)
{
	struct feed *f = arg;

	if (tg_wire_stream_event(f->x, ev->event, ev->event_len, ev->data, ev->data_len,
				 f->out) == TG_WIRE_EV_GARBAGE || f->out->failed)
		f->bad++;
}

/* The provider's stream into a Responses client, step bytes at a time; usage billed in *billed. */
static void
translate(const struct fixture *f, size_t step, struct tg_buf *out, struct tg_usage_info *billed)
{
	struct tg_wire_request req = { .family = R, .model = "asked-model" };
	struct feed fd = { .out = out };
	struct tg_sse in;
	size_t n = strlen(f->sse);

	fd.x = tg_wire_stream_new(f->provider, &req);
	ck_assert_ptr_nonnull(fd.x);
	ck_assert(tg_wire_stream_translating(fd.x));
	tg_sse_init(&in, 0);
	for (size_t k = 0; k < n; k += step)
		ck_assert_int_eq(tg_sse_feed(&in, f->sse + k, k + step > n ? n - k : step,
					     on_provider_event, &fd), 0);
	tg_wire_stream_finish(fd.x, f->completed ? NULL : "the provider's stream was cut off", out);
	tg_wire_stream_usage(fd.x, billed);
	tg_wire_stream_free(fd.x);
	tg_sse_fini(&in);
	ck_assert_int_eq(fd.bad, 0);
	ck_assert(!out->failed);
}

/* ---- reading the client's bytes back, as the SDK's stream helper does ---- */

#define MAX_ITEMS 8

struct view {
	const struct fixture *f;
	struct tg_wire_stream *relay;   /* the Responses usage reader, as on a pass-through */
	struct tg_buf ignored;
	char last[48];
	unsigned events, items;
	char type[MAX_ITEMS][16];
	struct tg_buf acc[MAX_ITEMS];   /* text, arguments or summary, from the deltas */
	struct tg_buf final_json;       /* the terminal event's response */
	bool summary_done;
	char encrypted[64];
	const char *fail;
};

static void
note_fail(struct view *v, const char *why)
{
	if (v->fail == NULL)
		v->fail = why;
}

static int
int_at(const struct tg_json *j, int obj, const char *key)
{
	int64_t n = -1;

	if (tg_json_int64(j, tg_json_get(j, obj, key), &n) == -1)
		return -1;
	return (int)n;
}

/* The event names an item already added, at output_index. */
static int
item_of(struct view *v, const struct tg_json *j, const char *want)
{
	int idx = int_at(j, 0, "output_index");

	if (idx < 0 || (unsigned)idx >= v->items || strcmp(v->type[idx], want) != 0) {
		note_fail(v, "an event names an item not added, or of another type");
		return -1;
	}
	return idx;
}

static void
append_str(const struct tg_json *j, int t, struct tg_buf *b)
{
	char buf[512];

	if (tg_json_str(j, t, buf, sizeof(buf)) >= 0)
		tg_buf_puts(b, buf);
}

static void
on_client_event(const struct tg_sse_event *ev, void *arg)
{
	struct view *v = arg;
	struct tg_json j;
	char err[64], type[48];
	int t, idx, item;

	(void)tg_wire_stream_event(v->relay, ev->event, ev->event_len, ev->data, ev->data_len,
				   &v->ignored);
	if (tg_json_parse(&j, ev->data, ev->data_len, 20000, 64, err, sizeof(err)) == -1) {
		note_fail(v, "an event is not JSON");
		return;
	}
	t = tg_json_get(&j, 0, "type");
	if (tg_json_str(&j, t, type, sizeof(type)) < 0 || strcmp(type, ev->event) != 0)
		note_fail(v, "an event's name is not its type");
	if (int_at(&j, 0, "sequence_number") != (int)v->events++)
		note_fail(v, "sequence numbers are not 0, 1, 2, ...");
	if (v->events == 1 && strcmp(type, "response.created") != 0)
		note_fail(v, "the first event is not response.created");
	snprintf(v->last, sizeof(v->last), "%s", type);
	item = tg_json_get(&j, 0, "item");
	if (strcmp(type, "response.output_item.added") == 0) {
		if (int_at(&j, 0, "output_index") != (int)v->items || v->items == MAX_ITEMS)
			note_fail(v, "an item added out of order");
		else if (tg_json_str(&j, tg_json_get(&j, item, "type"), v->type[v->items], 16) < 0)
			note_fail(v, "an item without a type");
		else
			v->items++;
	} else if (strcmp(type, "response.content_part.added") == 0) {
		(void)item_of(v, &j, "message");
	} else if (strcmp(type, "response.output_text.delta") == 0) {
		if ((idx = item_of(v, &j, "message")) >= 0)
			append_str(&j, tg_json_get(&j, 0, "delta"), &v->acc[idx]);
	} else if (strcmp(type, "response.function_call_arguments.delta") == 0) {
		if ((idx = item_of(v, &j, "function_call")) >= 0)
			append_str(&j, tg_json_get(&j, 0, "delta"), &v->acc[idx]);
	} else if (strcmp(type, "response.reasoning_summary_text.delta") == 0) {
		if ((idx = item_of(v, &j, "reasoning")) >= 0)
			append_str(&j, tg_json_get(&j, 0, "delta"), &v->acc[idx]);
	} else if (strcmp(type, "response.reasoning_summary_part.done") == 0) {
		v->summary_done = true;
	} else if (strcmp(type, "response.output_item.done") == 0) {
		idx = int_at(&j, 0, "output_index");
		if (idx < 0 || (unsigned)idx >= v->items) {
			note_fail(v, "an item done that was not added");
		} else if (strcmp(v->type[idx], "function_call") == 0) {
			char args[256];
			if (tg_json_str(&j, tg_json_get(&j, item, "arguments"), args,
					sizeof(args)) < 0 ||
			    strcmp(args, v->acc[idx].p != NULL ? v->acc[idx].p : "") != 0)
				note_fail(v, "a call's arguments are not its deltas");
		}
		if (tg_json_get(&j, item, "encrypted_content") != -1)
			(void)tg_json_str(&j, tg_json_get(&j, item, "encrypted_content"),
					  v->encrypted, sizeof(v->encrypted));
	} else if (strcmp(type, "response.completed") == 0 ||
		   strcmp(type, "response.incomplete") == 0 ||
		   strcmp(type, "response.failed") == 0) {
		size_t n;
		const char *raw = tg_json_raw(&j, tg_json_get(&j, 0, "response"), &n);
		tg_buf_add(&v->final_json, raw, n);
	}
	tg_json_fini(&j);
}

static void
view_init(struct view *v, const struct fixture *f)
{
	struct tg_wire_request req = { .family = R, .model = "m" };

	memset(v, 0, sizeof(*v));
	v->f = f;
	v->relay = tg_wire_stream_new(R, &req);
	ck_assert_ptr_nonnull(v->relay);
	ck_assert(!tg_wire_stream_translating(v->relay));
	tg_buf_init(&v->ignored);
	tg_buf_init(&v->final_json);
	for (int k = 0; k < MAX_ITEMS; k++)
		tg_buf_init(&v->acc[k]);
}

static void
view_fini(struct view *v)
{
	tg_wire_stream_free(v->relay);
	tg_buf_fini(&v->ignored);
	tg_buf_fini(&v->final_json);
	for (int k = 0; k < MAX_ITEMS; k++)
		tg_buf_fini(&v->acc[k]);
}

static void
read_back(struct view *v, const struct tg_buf *out)
{
	struct tg_sse back;

	tg_sse_init(&back, 0);
	ck_assert_int_eq(tg_sse_feed(&back, out->p, out->len, on_client_event, v), 0);
	ck_assert_msg(!tg_sse_pending(&back), "the client stream ends mid-event");
	tg_sse_fini(&back);
	/* a relayed Responses stream writes nothing of its own */
	ck_assert_uint_eq(v->ignored.len, 0);
}

/* The final response's output item types, comma-separated, and its message text. */
static void
final_output(const struct tg_buf *resp, char *types, size_t cap, struct tg_buf *text)
{
	struct tg_json j;
	char err[64];
	int out;
	size_t n = 0;

	types[0] = '\0';
	ck_assert_int_eq(tg_json_parse(&j, resp->p, resp->len, 20000, 64, err, sizeof(err)), 0);
	out = tg_json_get(&j, 0, "output");
	for (int e = tg_json_first(&j, out); e != -1; e = tg_json_after(&j, out, e)) {
		char t[32];
		int c = tg_json_get(&j, e, "content");

		ck_assert(tg_json_str(&j, tg_json_get(&j, e, "type"), t, sizeof(t)) > 0);
		n += (size_t)snprintf(types + n, cap - n, "%s%s", n > 0 ? "," : "", t);
		for (int p = tg_json_first(&j, c); p != -1; p = tg_json_after(&j, c, p))
			append_str(&j, tg_json_get(&j, p, "text"), text);
	}
	tg_json_fini(&j);
}

START_TEST(stream_rows)
{
	const struct fixture *f = &fixtures[_i];
	struct tg_usage_info billed, told;
	struct tg_buf out, text;
	struct view v;
	char types[128];
	bool failed = strcmp(f->last, "response.failed") == 0;

	tg_buf_init(&out);
	tg_buf_init(&text);
	translate(f, 1u << 20, &out, &billed);
	view_init(&v, f);
	read_back(&v, &out);
	ck_assert_msg(v.fail == NULL, "%s: %s in\n%s", f->name, v.fail, out.p);
	ck_assert_msg(strcmp(v.last, f->last) == 0, "%s: last event %s in\n%s", f->name, v.last,
		      out.p);
	ck_assert_msg(v.final_json.len > 0, "%s: no final response", f->name);
	final_output(&v.final_json, types, sizeof(types), &text);
	/* a failed response lists what had finished; the others what was streamed */
	if (!failed)
		ck_assert_msg(strcmp(types, f->types) == 0, "%s: output %s in\n%s", f->name, types,
			      out.p);
	if (!failed && strcmp(f->types, "reasoning,function_call,function_call") != 0)
		ck_assert_msg(strcmp(text.p != NULL ? text.p : "", f->text) == 0, "%s: text '%s'",
			      f->name, text.p);
	for (unsigned k = 0; k < v.items; k++) {
		if (strcmp(v.type[k], "message") == 0)
			ck_assert_msg(strcmp(v.acc[k].p != NULL ? v.acc[k].p : "", f->text) == 0,
				      "%s: deltas '%s'", f->name, v.acc[k].p);
	}
	if (f->args != NULL) {
		unsigned k = 0;
		while (k < v.items && strcmp(v.type[k], "function_call") != 0)
			k++;
		ck_assert_msg(k < v.items && strcmp(v.acc[k].p, f->args) == 0, "%s: args", f->name);
		/* a call without arguments is the empty object, whole */
		if (k + 1 < v.items)
			ck_assert_str_eq(v.acc[k + 1].p, "{}");
	}
	/* the usage the client reads back is the provider's, token for token */
	tg_wire_stream_usage(v.relay, &told);
	ck_assert_int_eq(told.usage.input + told.usage.cache_read + told.usage.cache_write,
			 f->input);
	ck_assert_int_eq(told.usage.input, billed.usage.input);
	ck_assert_int_eq(told.usage.cache_read, billed.usage.cache_read);
	ck_assert_int_eq(told.usage.output, f->output);
	ck_assert_int_eq(told.usage.reasoning, f->reasoning);
	ck_assert_int_eq(billed.usage.output, f->output);
	ck_assert(told.usage.complete == !failed);
	ck_assert(told.error == failed);
	ck_assert(billed.usage.complete == !failed);
	view_fini(&v);
	tg_buf_fini(&out);
	tg_buf_fini(&text);
}
END_TEST

/* Bytes after "created_at": are the clock's: the same whatever else happens. */
static void
mask_clock(struct tg_buf *b)
{
	static const char key[] = "\"created_at\":";

	for (char *p = b->p; p != NULL && (p = strstr(p, key)) != NULL;) {
		p += sizeof(key) - 1;
		while (*p >= '0' && *p <= '9')
			*p++ = '0';
	}
}

/* The same stream split at every byte gives the same client bytes. */
START_TEST(stream_split_at_every_byte)
{
	const struct fixture *f = &fixtures[_i];
	struct tg_usage_info b1, b2;
	struct tg_buf whole, bytes;

	tg_buf_init(&whole);
	tg_buf_init(&bytes);
	translate(f, 1u << 20, &whole, &b1);
	translate(f, 1, &bytes, &b2);
	mask_clock(&whole);
	mask_clock(&bytes);
	ck_assert_msg(whole.len == bytes.len && memcmp(whole.p, bytes.p, whole.len) == 0,
		      "%s:\n%s\n---\n%s", f->name, whole.p, bytes.p);
	ck_assert(memcmp(&b1.usage, &b2.usage, sizeof(b1.usage)) == 0);
	tg_buf_fini(&whole);
	tg_buf_fini(&bytes);
}
END_TEST

/* Claude's thinking: reasoning summary events, the signature kept for the replay. */
START_TEST(stream_thinking_is_a_summary)
{
	struct tg_usage_info billed;
	struct tg_buf out;
	struct view v;

	tg_buf_init(&out);
	translate(&fixtures[1], 7, &out, &billed);
	view_init(&v, &fixtures[1]);
	read_back(&v, &out);
	ck_assert_str_eq(v.type[0], "reasoning");
	ck_assert_str_eq(v.acc[0].p, "Need weather.");
	ck_assert(v.summary_done);
	ck_assert_str_eq(v.encrypted, "anthropic-signature:c2ln");
	ck_assert_msg(strstr(out.p, "\"call_id\":\"toolu_01\"") != NULL, "%s", out.p);
	view_fini(&v);
	tg_buf_fini(&out);
}
END_TEST

/* An error before anything was said: the error event, which the SDK throws at once. */
START_TEST(stream_error_before_start)
{
	static const char err[] = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
				  "\"message\":\"Overloaded\"}}";
	struct tg_wire_request req = { .family = R, .model = "m" };
	struct tg_wire_stream *x = tg_wire_stream_new(A, &req);
	struct tg_buf out;

	tg_buf_init(&out);
	ck_assert_int_eq(tg_wire_stream_event(x, "error", 5, err, strlen(err), &out),
			 TG_WIRE_EV_ERROR);
	ck_assert_str_eq(out.p, "event: error\ndata: {\"type\":\"error\",\"sequence_number\":0,"
			 "\"code\":\"server_error\",\"message\":\"Overloaded\",\"param\":null,"
			 "\"error\":{\"type\":\"server_error\",\"code\":\"server_error\",\"message\":"
			 "\"Overloaded\",\"param\":null}}\n\n");
	tg_buf_reset(&out);
	tg_wire_stream_finish(x, NULL, &out);
	ck_assert_uint_eq(out.len, 0);
	tg_wire_stream_free(x);
	tg_buf_fini(&out);
}
END_TEST

/* ---- a Responses provider's own stream, relayed ---- */

#define R_EV(name, rest) "event: " name "\ndata: {\"type\":\"" name "\",\"sequence_number\":" rest "}\n\n"
#define R_HEAD "\"response\":{\"id\":\"resp_9\",\"object\":\"response\",\"status\":\"in_progress\",\"error\":null,\"output\":[],\"usage\":null}"
#define R_START R_EV("response.created", "0," R_HEAD) R_EV("response.in_progress", "1," R_HEAD) \
	R_EV("response.output_item.added", "2,\"output_index\":0,\"item\":{\"id\":\"msg_1\",\"type\":\"message\",\"content\":[]}") \
	R_EV("response.output_text.delta", "3,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Paris.\"")
#define R_DONE(type, status, extra) R_EV(type, "4,\"response\":{\"id\":\"resp_9\",\"object\":\"response\",\"status\":\"" status "\"" extra ",\"output\":[],\"usage\":{\"input_tokens\":1321,\"input_tokens_details\":{\"cached_tokens\":1280},\"output_tokens\":70,\"output_tokens_details\":{\"reasoning_tokens\":64},\"total_tokens\":1391}}")

struct relay_row {
	const char *name;
	const char *sse;
	bool completed, complete, error;
	const char *stop;
	const char *tail;               /* what the gateway appends, or "" */
};

static const struct relay_row relays[] = {
	{ "completed", R_START R_DONE("response.completed", "completed", ",\"error\":null"), true,
	  true, false, "completed", "" },
	{ "incomplete", R_START R_DONE("response.incomplete", "incomplete",
				       ",\"incomplete_details\":{\"reason\":\"max_output_tokens\"}"),
	  true, true, false, "max_output_tokens", "" },
	{ "failed", R_START R_EV("response.failed", "4,\"response\":{\"id\":\"resp_9\",\"status\":"
				 "\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"x\"},"
				 "\"usage\":null}"), true, false, true, "failed", "" },
	{ "an error event", R_START R_EV("error", "4,\"code\":\"server_error\",\"message\":\"x\","
					 "\"param\":null"), true, false, true, "in_progress", "" },
	{ "cut", R_START, false, false, false, "in_progress",
	  "event: error\ndata: {\"type\":\"error\",\"sequence_number\":4,\"code\":\"server_error\","
	  "\"message\":\"stream ended early: the provider's stream was cut off\",\"param\":null,"
	  "\"error\":{\"type\":\"server_error\",\"code\":\"server_error\",\"message\":\"stream "
	  "ended early: the provider's stream was cut off\",\"param\":null}}\n\n" },
};

START_TEST(relayed_as_it_is)
{
	const struct relay_row *row = &relays[_i];
	struct tg_wire_request req = { .family = R, .model = "m" };
	struct tg_wire_stream *x = tg_wire_stream_new(tg_wire_upstream_family(O, R), &req);
	struct feed fd = { .x = x };
	struct tg_usage_info i;
	struct tg_buf out;
	struct tg_sse in;

	tg_buf_init(&out);
	fd.out = &out;
	tg_sse_init(&in, 0);
	ck_assert(!tg_wire_stream_translating(x));
	ck_assert_int_eq(tg_sse_feed(&in, row->sse, strlen(row->sse), on_provider_event, &fd), 0);
	ck_assert_int_eq(fd.bad, 0);
	/* the provider's bytes are the client's: nothing is written until the end */
	ck_assert_uint_eq(out.len, 0);
	tg_wire_stream_finish(x, row->completed ? NULL : "the provider's stream was cut off", &out);
	ck_assert_str_eq(out.p != NULL ? out.p : "", row->tail);
	tg_wire_stream_usage(x, &i);
	ck_assert_msg(i.usage.complete == row->complete && i.error == row->error, "%s", row->name);
	ck_assert_str_eq(i.stop_reason, row->stop);
	ck_assert_str_eq(i.response_id, "resp_9");
	if (row->complete) {
		ck_assert_int_eq(i.usage.input, 41);
		ck_assert_int_eq(i.usage.cache_read, 1280);
		ck_assert_int_eq(i.usage.output, 70);
		ck_assert_int_eq(i.usage.reasoning, 64);
	}
	tg_sse_fini(&in);
	tg_wire_stream_free(x);
	tg_buf_fini(&out);
}
END_TEST

/* A first event that is not the family's: garbage, and the attempt fails before a byte is sent. */
START_TEST(relayed_garbage)
{
	struct tg_wire_request req = { .family = R, .model = "m" };
	struct tg_wire_stream *x = tg_wire_stream_new(R, &req);
	struct tg_buf out;

	tg_buf_init(&out);
	ck_assert_int_eq(tg_wire_stream_event(x, "", 0, "not json", 8, &out), TG_WIRE_EV_GARBAGE);
	ck_assert_int_eq(tg_wire_stream_event(x, "", 0, "{\"a\":1}", 7, &out), TG_WIRE_EV_GARBAGE);
	/* a delta is passed on unread: the bulk of a long stream */
	ck_assert_int_eq(tg_wire_stream_event(x, "response.output_text.delta", 26, "not json", 8,
					      &out), TG_WIRE_EV_PLAIN);
	ck_assert_int_eq(tg_wire_stream_event(x, "", 0, "{\"error\":{\"message\":\"m\"}}", 25,
					      &out), TG_WIRE_EV_ERROR);
	ck_assert_uint_eq(out.len, 0);
	tg_wire_stream_free(x);
	tg_buf_fini(&out);
}
END_TEST

Suite *tg_wire_responses_stream_suite(void);

Suite *
tg_wire_responses_stream_suite(void)
{
	Suite *s = suite_create("wire_responses_stream");
	TCase *tc = tcase_create("stream");
	int n = (int)(sizeof(fixtures) / sizeof(fixtures[0]));

	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, stream_rows, 0, n);
	tcase_add_loop_test(tc, stream_split_at_every_byte, 0, n);
	tcase_add_test(tc, stream_thinking_is_a_summary);
	tcase_add_test(tc, stream_error_before_start);
	tcase_add_loop_test(tc, relayed_as_it_is, 0, (int)(sizeof(relays) / sizeof(relays[0])));
	tcase_add_test(tc, relayed_garbage);
	suite_add_tcase(s, tc);
	return s;
}
