/*
 * Usage accounting from provider replies: one reader per family fills raw
 * counters from a parsed JSON value, and normalise() maps them to struct
 * tg_usage per reference/providers.md §1. Relaying and pricing live elsewhere.
 */
#include <string.h>

#include "tg_json.h"
#include "tg_usage.h"

/* Replies are the provider's, not the client's: generous bounds, still bounded. */
#define BODY_MAX_TOKENS   (1 << 20)
#define EVENT_MAX_TOKENS  (1 << 18)
#define REPLY_MAX_DEPTH   256

static void
raw_reset(struct tg_usage_raw *r)
{
	r->in = r->out = r->cache_read = r->cache_write = r->reasoning = -1;
	r->tool_prompt = r->total = -1;
}

/* A count at key, or -1 when absent, null, not an integer or out of range. */
static int64_t
count(const struct tg_json *j, int obj, const char *key)
{
	int64_t v;
	int t = tg_json_get(j, obj, key);

	if (t == -1 || tg_json_int64(j, t, &v) == -1 || v < 0 || v > TG_USAGE_MAX_TOKENS)
		return -1;
	return v;
}

/* Overwrite *dst only with a reported value (Anthropic's "non-null fields win"). */
static void
take(int64_t *dst, int64_t v)
{
	if (v >= 0)
		*dst = v;
}

/* Copy s[0..n) as printable text: control bytes become spaces, the cut never splits UTF-8. */
static void
copy_raw(const char *s, size_t n, char *out, size_t cap)
{
	if (n > cap - 1) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	for (size_t k = 0; k < n; k++)
		out[k] = (unsigned char)s[k] < 0x20 || s[k] == 0x7f ? ' ' : s[k];
	out[n] = '\0';
}

/*
 * Copy string token t into out for logs and the database: unescaped when it
 * fits a scratch buffer, else the raw text.
 */
static void
copy_text(const struct tg_json *j, int t, char *out, size_t cap)
{
	char tmp[512];
	const char *s;
	size_t n;
	long dn;

	if (!tg_json_is_str(j, t))
		return;
	dn = tg_json_str(j, t, tmp, sizeof(tmp));
	if (dn >= 0) {
		s = tmp;
		n = (size_t)dn;
	} else {
		s = tg_json_raw(j, t, &n);
	}
	copy_raw(s, n, out, cap);
}

/* The error object of a reply: Anthropic error.type, OpenAI type or code, Gemini status. */
static void
read_error(struct tg_usage_stream *st, const struct tg_json *j, int root)
{
	int e = tg_json_get(j, root, "error");

	st->info.error = true;
	if (!tg_json_is_obj(j, e)) {
		copy_text(j, e, st->info.error_message, sizeof(st->info.error_message));
		return;
	}
	copy_text(j, tg_json_get(j, e, "message"), st->info.error_message,
		  sizeof(st->info.error_message));
	if (tg_json_is_str(j, tg_json_get(j, e, "type")))
		copy_text(j, tg_json_get(j, e, "type"), st->info.error_type, sizeof(st->info.error_type));
	else if (tg_json_is_str(j, tg_json_get(j, e, "status")))
		copy_text(j, tg_json_get(j, e, "status"), st->info.error_type,
			  sizeof(st->info.error_type));
	else
		copy_text(j, tg_json_get(j, e, "code"), st->info.error_type, sizeof(st->info.error_type));
}

/* A top-level "error" that is not null marks an error reply (OpenAI, Gemini). */
static bool
has_error(const struct tg_json *j, int root)
{
	int e = tg_json_get(j, root, "error");

	return e != -1 && !tg_json_is_null(j, e);
}

/* ---- Anthropic ---------------------------------------------------------- */

static void
anthropic_usage(struct tg_usage_stream *st, const struct tg_json *j, int u)
{
	struct tg_usage_raw *r = &st->raw;
	int64_t cw = count(j, u, "cache_creation_input_tokens");

	if (!tg_json_is_obj(j, u))
		return;
	st->saw_usage = true;
	take(&r->in, count(j, u, "input_tokens"));
	take(&r->out, count(j, u, "output_tokens"));
	take(&r->cache_read, count(j, u, "cache_read_input_tokens"));
	if (cw == -1) {
		/* only the split was given: its parts add up to the total */
		int cc = tg_json_get(j, u, "cache_creation");
		int64_t m5 = count(j, cc, "ephemeral_5m_input_tokens");
		int64_t h1 = count(j, cc, "ephemeral_1h_input_tokens");
		if (m5 >= 0 || h1 >= 0)
			cw = (m5 > 0 ? m5 : 0) + (h1 > 0 ? h1 : 0);
	}
	take(&r->cache_write, cw);
	take(&r->reasoning, count(j, tg_json_get(j, u, "output_tokens_details"), "thinking_tokens"));
}

/* A Message object: the whole non-streamed reply, or message_start's "message". */
static void
anthropic_message(struct tg_usage_stream *st, const struct tg_json *j, int m)
{
	copy_text(j, tg_json_get(j, m, "id"), st->info.response_id, sizeof(st->info.response_id));
	copy_text(j, tg_json_get(j, m, "stop_reason"), st->info.stop_reason,
		  sizeof(st->info.stop_reason));
	anthropic_usage(st, j, tg_json_get(j, m, "usage"));
}

static enum tg_usage_ev
anthropic_event(struct tg_usage_stream *st, const struct tg_json *j, const char *name,
		size_t name_len)
{
	int type = tg_json_get(j, 0, "type");

	if ((name_len == 5 && memcmp(name, "error", 5) == 0) || tg_json_eq(j, type, "error")) {
		read_error(st, j, 0);
		return TG_USAGE_EV_ERROR;
	}
	if (tg_json_eq(j, type, "message_start")) {
		anthropic_message(st, j, tg_json_get(j, 0, "message"));
	} else if (tg_json_eq(j, type, "message_delta")) {
		copy_text(j, tg_json_get(j, tg_json_get(j, 0, "delta"), "stop_reason"),
			  st->info.stop_reason, sizeof(st->info.stop_reason));
		anthropic_usage(st, j, tg_json_get(j, 0, "usage"));
	} else if (tg_json_eq(j, type, "message_stop")) {
		st->saw_end = true;
	}
	return TG_USAGE_EV_PLAIN;
}

/* ---- Gemini ------------------------------------------------------------- */

static enum tg_usage_ev
gemini_chunk(struct tg_usage_stream *st, const struct tg_json *j)
{
	int m = tg_json_get(j, 0, "usageMetadata");
	int c0 = tg_json_first(j, tg_json_get(j, 0, "candidates"));
	int fr = tg_json_get(j, c0, "finishReason");
	int br = tg_json_get(j, tg_json_get(j, 0, "promptFeedback"), "blockReason");

	if (has_error(j, 0)) {
		read_error(st, j, 0);
		return TG_USAGE_EV_ERROR;
	}
	copy_text(j, tg_json_get(j, 0, "responseId"), st->info.response_id,
		  sizeof(st->info.response_id));
	if (tg_json_is_obj(j, m)) {
		/* each chunk's usageMetadata is a cumulative snapshot: the last one replaces all */
		struct tg_usage_raw *r = &st->raw;
		raw_reset(r);
		r->in = count(j, m, "promptTokenCount");
		r->out = count(j, m, "candidatesTokenCount");
		r->reasoning = count(j, m, "thoughtsTokenCount");
		r->cache_read = count(j, m, "cachedContentTokenCount");
		r->tool_prompt = count(j, m, "toolUsePromptTokenCount");
		r->total = count(j, m, "totalTokenCount");
		st->saw_usage = true;
	}
	if (tg_json_is_str(j, fr) || tg_json_is_str(j, br)) {
		/* a blocked prompt has no candidates and ends the reply just the same */
		copy_text(j, tg_json_is_str(j, fr) ? fr : br, st->info.stop_reason,
			  sizeof(st->info.stop_reason));
		st->saw_end = true;
	}
	return TG_USAGE_EV_PLAIN;
}

/* ---- OpenAI ------------------------------------------------------------- */

static enum tg_usage_ev
openai_chunk(struct tg_usage_stream *st, const struct tg_json *j)
{
	int u = tg_json_get(j, 0, "usage");
	int ch = tg_json_get(j, 0, "choices");
	int fr = tg_json_get(j, tg_json_first(j, ch), "finish_reason");

	if (has_error(j, 0)) {
		read_error(st, j, 0);
		return TG_USAGE_EV_ERROR;
	}
	if (st->info.response_id[0] == '\0')
		copy_text(j, tg_json_get(j, 0, "id"), st->info.response_id,
			  sizeof(st->info.response_id));
	if (tg_json_is_str(j, fr))
		copy_text(j, fr, st->info.stop_reason, sizeof(st->info.stop_reason));
	if (!tg_json_is_obj(j, u))
		return TG_USAGE_EV_PLAIN;       /* absent or null: keep the last one seen */
	/* compatible servers may repeat usage on every chunk: the last wins whole */
	raw_reset(&st->raw);
	st->raw.in = count(j, u, "prompt_tokens");
	st->raw.out = count(j, u, "completion_tokens");
	st->raw.total = count(j, u, "total_tokens");
	st->raw.cache_read = count(j, tg_json_get(j, u, "prompt_tokens_details"), "cached_tokens");
	st->raw.cache_write = count(j, tg_json_get(j, u, "prompt_tokens_details"),
				    "cache_write_tokens");
	st->raw.reasoning = count(j, tg_json_get(j, u, "completion_tokens_details"),
				  "reasoning_tokens");
	st->saw_usage = true;
	if (tg_json_is_arr(j, ch) && tg_json_first(j, ch) == -1)
		return TG_USAGE_EV_USAGE_ONLY;
	return TG_USAGE_EV_PLAIN;
}

/* ---- common ------------------------------------------------------------- */

static int64_t
z(int64_t v)
{
	return v < 0 ? 0 : v;
}

static void
normalise(enum tg_family f, const struct tg_usage_raw *r, struct tg_usage *u)
{
	int64_t prompt = z(r->in), cached = z(r->cache_read), written = z(r->cache_write);

	memset(u, 0, sizeof(*u));
	u->output = z(r->out);
	u->reasoning = z(r->reasoning);
	u->cache_read = cached;
	u->cache_write = written;
	switch (f) {
	case TG_FAMILY_ANTHROPIC:
		/* input_tokens already excludes both cache reads and writes */
		u->input = prompt;
		break;
	case TG_FAMILY_GEMINI:
		/* promptTokenCount includes the cached part; tool-use prompt is billed as input */
		u->input = prompt - (cached < prompt ? cached : prompt) + z(r->tool_prompt);
		u->cache_write = 0;
		/* candidates exclude thoughts, unless the total shows they were already inside */
		if (!(r->total >= 0 && prompt + z(r->tool_prompt) + u->output == r->total))
			u->output += u->reasoning;
		break;
	case TG_FAMILY_OPENAI:
		/* prompt_tokens counts every input token, cached and cache-written ones too */
		u->input = prompt - (cached < prompt ? cached : prompt);
		u->input -= written < u->input ? written : u->input;
		break;
	default:
		break;
	}
}

void
tg_usage_stream_init(struct tg_usage_stream *st, enum tg_family f)
{
	memset(st, 0, sizeof(*st));
	st->family = f;
	raw_reset(&st->raw);
}

void
tg_usage_stream_finish(const struct tg_usage_stream *st, struct tg_usage_info *out)
{
	*out = st->info;
	normalise(st->family, &st->raw, &out->usage);
	out->usage.complete = st->saw_usage && st->saw_end && !st->info.error;
}

/* Anthropic events that never carry usage or errors are not worth parsing. */
static bool
anthropic_skip(const char *name, size_t n)
{
	static const char *const skip[] = { "content_block_delta", "content_block_start",
					    "content_block_stop", "ping" };

	for (size_t k = 0; k < sizeof(skip) / sizeof(skip[0]); k++) {
		if (n == strlen(skip[k]) && memcmp(name, skip[k], n) == 0)
			return true;
	}
	return false;
}

enum tg_usage_ev
tg_usage_stream_event(struct tg_usage_stream *st, const char *name, size_t name_len,
		      const char *data, size_t data_len)
{
	struct tg_json j;
	char err[64];
	enum tg_usage_ev ev;
	bool parsed;

	st->events++;
	if (st->family == TG_FAMILY_ANTHROPIC && anthropic_skip(name, name_len))
		return TG_USAGE_EV_PLAIN;
	if (st->family == TG_FAMILY_OPENAI && data_len >= 6 && memcmp(data, "[DONE]", 6) == 0) {
		/* the SDK stops at data starting with [DONE]; complete only if usage came first */
		if (st->saw_usage)
			st->saw_end = true;
		return TG_USAGE_EV_DONE;
	}
	parsed = tg_json_parse(&j, data, data_len, EVENT_MAX_TOKENS, REPLY_MAX_DEPTH, err,
			       sizeof(err)) == 0;
	if (!parsed || !tg_json_is_obj(&j, 0)) {
		if (parsed)
			tg_json_fini(&j);
		st->garbage++;
		if (st->family == TG_FAMILY_ANTHROPIC && name_len == 5 && memcmp(name, "error", 5) == 0) {
			/* an error event is one even when its payload is not the usual JSON */
			st->info.error = true;
			copy_raw(data, data_len, st->info.error_message,
				 sizeof(st->info.error_message));
			return TG_USAGE_EV_ERROR;
		}
		return TG_USAGE_EV_GARBAGE;
	}
	if (st->family == TG_FAMILY_ANTHROPIC)
		ev = anthropic_event(st, &j, name, name_len);
	else if (st->family == TG_FAMILY_GEMINI)
		ev = gemini_chunk(st, &j);
	else
		ev = openai_chunk(st, &j);
	tg_json_fini(&j);
	return ev;
}

int
tg_usage_from_json(enum tg_family f, const char *body, size_t n, struct tg_usage_info *out)
{
	struct tg_usage_stream st;
	struct tg_json j;
	char err[64];

	memset(out, 0, sizeof(*out));
	if (tg_json_parse(&j, body, n, BODY_MAX_TOKENS, REPLY_MAX_DEPTH, err, sizeof(err)) == -1)
		return -1;
	if (!tg_json_is_obj(&j, 0)) {
		tg_json_fini(&j);
		return -1;
	}
	tg_usage_stream_init(&st, f);
	if (f == TG_FAMILY_ANTHROPIC) {
		if (tg_json_eq(&j, tg_json_get(&j, 0, "type"), "error") || has_error(&j, 0))
			read_error(&st, &j, 0);
		else
			anthropic_message(&st, &j, 0);
	} else if (f == TG_FAMILY_GEMINI) {
		(void)gemini_chunk(&st, &j);
	} else {
		(void)openai_chunk(&st, &j);
	}
	/* a whole body is its own end: usage present means the final usage */
	st.saw_end = true;
	tg_json_fini(&j);
	tg_usage_stream_finish(&st, out);
	return 0;
}
