/*
 * Unit tests of the provider simulator's pure part (tests/mock/): the token rule,
 * profile loading, the motivating-example numbers, faults, prompt caching, tool
 * calls, the Responses dialect, strict top-level fields, long-stream plans, and
 * that one seed gives the same bytes twice. The HTTP side is covered by tests/sdk/.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "mock/mock.h"

Suite *tg_mock_suite(void);

static const char *const FRANCE_ANT =
	"{\"model\":\"claude-3-haiku-20240307\",\"max_tokens\":100,"
	"\"messages\":[{\"role\":\"user\",\"content\":\"What is the capital of France?\"}]}";
static const char *const FRANCE_GEM =
	"{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"What is the capital of France?\"}]}]}";
static const char *const FRANCE_OAI =
	"{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\","
	"\"content\":\"What is the capital of France?\"}]}";

static void
setup_mock(struct tg_mock *m, uint64_t seed)
{
	char err[256];

	ck_assert_int_eq(tg_mock_init(m, seed, true), 0);
	m->latency_ms = 0;
	ck_assert_msg(tg_mock_profiles_load(&m->profiles, NULL, true, err, sizeof(err)) == 0, "%s",
		      err);
}

/* One call with every provider's key header set, as a client of that family would. */
static void
call(struct tg_mock *m, enum tg_mock_family fam, const char *path, const char *body,
     const char *fault, struct tg_mock_reply *r)
{
	struct tg_mock_req q;

	memset(&q, 0, sizeof(q));
	q.fam = fam;
	q.method = "POST";
	q.path = path;
	q.body = body;
	q.body_len = strlen(body);
	q.x_api_key = "k";
	q.authorization = "Bearer k";
	q.goog_key = "k";
	q.anthropic_version = "2023-06-01";
	q.fault_header = fault;
	q.alt_sse = true;
	q.now_s = 1;
	tg_mock_handle(m, &q, r);
}

/* Integer member "key":N of the last occurrence in body, or -1. */
static long
last_num(const struct tg_mock_reply *r, const char *key)
{
	char pat[64];
	const char *p = NULL, *s = r->body.p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	while (s != NULL && (s = strstr(s, pat)) != NULL)
		p = s++;
	return p ? strtol(p + strlen(pat), NULL, 10) : -1;
}

START_TEST(token_rule_is_ceil_bytes_over_four)
{
	ck_assert_int_eq(tg_mock_tokens(0), 0);
	ck_assert_int_eq(tg_mock_tokens(1), 1);
	ck_assert_int_eq(tg_mock_tokens(4), 1);
	ck_assert_int_eq(tg_mock_tokens(5), 2);
	ck_assert_int_eq(tg_mock_tokens(30), 8);        /* "What is the capital of France?" */
	ck_assert_int_eq(tg_mock_tokens(14), 4);        /* "Paris, France." */
	ck_assert_int_eq(tg_mock_piece_tokens(6, 14), 2);
}
END_TEST

START_TEST(defaults_load_and_match_the_file)
{
	struct tg_mock_profiles a, b;
	const struct tg_mock_profile *p;
	char err[256];
	FILE *f;

	ck_assert_msg(tg_mock_profiles_load(&a, NULL, true, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_ge(a.n, 5);
	p = tg_mock_profiles_find(&a, TG_MOCK_ANTHROPIC, "claude-haiku-4-5");
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->reported, "claude-haiku-4-5-20251001");
	p = tg_mock_profiles_find(&a, TG_MOCK_GEMINI, "gemini-2.5-flash");
	ck_assert_ptr_nonnull(p);
	ck_assert(p->thinks_by_default);
	ck_assert_int_eq(p->think_mean, 24);
	ck_assert_ptr_null(tg_mock_profiles_find(&a, TG_MOCK_OPENAI, "gemini-2.5-flash"));
	ck_assert_int_eq(a.framing[TG_MOCK_ANTHROPIC].base_tokens, 3);
	ck_assert_int_eq(a.framing[TG_MOCK_GEMINI].message_tokens, 0);
	/* the embedded copy is the file's bytes: they cannot drift apart */
	f = fopen("tests/mock/profiles.json", "r");
	if (f != NULL) {
		fclose(f);
		ck_assert_msg(tg_mock_profiles_load(&b, "tests/mock/profiles.json", false, err,
						    sizeof(err)) == 0, "%s", err);
		ck_assert_int_eq(a.n, b.n);
		ck_assert_int_eq(memcmp(a.v, b.v, sizeof(*a.v) * (size_t)a.n), 0);
		tg_mock_profiles_fini(&b);
	}
	tg_mock_profiles_fini(&a);
}
END_TEST

static const struct {
	const char *json, *want;
} bad_profiles[] = {
	{ "[]", "must be an object" },
	{ "{}", "\"models\" must be an array" },
	{ "{\"models\":[{}]}", "needs a string \"name\"" },
	{ "{\"models\":[{\"name\":\"x\"}]}", "needs \"family\"" },
	{ "{\"models\":[{\"name\":\"x\",\"family\":\"mistral\"}]}", "unknown family mistral" },
	{ "{\"models\":[{\"name\":\"x\",\"family\":\"openai\",\"ttft_ms\":\"fast\"}]}",
	  "wrong type" },
	{ "{\"models\":[{\"name\":\"x\",\"family\":\"openai\",\"answers\":[{\"match\":1}]}]}",
	  "an answer needs" },
	{ "{\"families\":{\"openai\":{\"base_tokens\":-1}},\"models\":[]}", "families.openai" },
	{ "{\"models\":", "invalid JSON" },
};

START_TEST(bad_profiles_are_rejected_with_a_reason)
{
	struct tg_mock_profiles p;
	char err[256] = "";
	const char *js = bad_profiles[_i].json;

	ck_assert_int_eq(tg_mock_profiles_parse(&p, js, strlen(js), err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, bad_profiles[_i].want) != NULL, "for %s said: %s", js, err);
}
END_TEST

START_TEST(motivating_example_counts)
{
	struct tg_mock m;
	struct tg_mock_reply r;
	long thoughts;

	setup_mock(&m, 42);
	tg_mock_reply_init(&r);

	call(&m, TG_MOCK_ANTHROPIC, "/v1/messages", FRANCE_ANT, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body.p, "\"text\":\"Paris, France.\""));
	ck_assert_int_eq(last_num(&r, "input_tokens"), 14);
	ck_assert_int_eq(last_num(&r, "output_tokens"), 4);

	call(&m, TG_MOCK_GEMINI, "/v1beta/models/gemini-2.5-flash:generateContent", FRANCE_GEM, NULL,
	     &r);
	ck_assert_int_eq(r.status, 200);
	thoughts = last_num(&r, "thoughtsTokenCount");
	ck_assert_int_eq(last_num(&r, "promptTokenCount"), 8);
	ck_assert_int_eq(last_num(&r, "candidatesTokenCount"), 4);
	ck_assert(thoughts >= 20 && thoughts <= 28);
	ck_assert_int_eq(last_num(&r, "totalTokenCount"), 8 + 4 + thoughts);

	call(&m, TG_MOCK_OPENAI, "/v1/chat/completions", FRANCE_OAI, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(last_num(&r, "prompt_tokens"), 14);
	ck_assert_int_eq(last_num(&r, "completion_tokens"), 4);
	ck_assert_int_eq(last_num(&r, "reasoning_tokens"), 0);

	tg_mock_reply_fini(&r);
	tg_mock_fini(&m);
}
END_TEST

START_TEST(gemini_thinking_budget_zero_thinks_not)
{
	struct tg_mock m;
	struct tg_mock_reply r;

	setup_mock(&m, 1);
	tg_mock_reply_init(&r);
	call(&m, TG_MOCK_GEMINI, "/v1beta/models/gemini-2.5-flash:generateContent",
	     "{\"contents\":[{\"parts\":[{\"text\":\"What is the capital of France?\"}]}],"
	     "\"generation_config\":{\"thinking_config\":{\"thinking_budget\":0}}}", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_null(strstr(r.body.p, "thoughtsTokenCount"));
	ck_assert_int_eq(last_num(&r, "totalTokenCount"), 12);
	tg_mock_reply_fini(&r);
	tg_mock_fini(&m);
}
END_TEST

/* 256 words of 5 bytes: 320 tokens */
#define WORDS_16 "word word word word word word word word word word word word word word word word "
#define WORDS_64 WORDS_16 WORDS_16 WORDS_16 WORDS_16
#define WORDS_256 WORDS_64 WORDS_64 WORDS_64 WORDS_64

/* A fixed mix of calls whose every byte (headers too) is appended to out. */
static void
run_sequence(uint64_t seed, struct tg_buf *out)
{
	static const struct {
		enum tg_mock_family fam;
		const char *path, *body, *fault;
	} seq[] = {
		{ TG_MOCK_ANTHROPIC, "/v1/messages", FRANCE_ANT, NULL },
		{ TG_MOCK_ANTHROPIC, "/v1/messages",
		  "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":4000,\"stream\":true,"
		  "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2000},"
		  "\"messages\":[{\"role\":\"user\",\"content\":\"Tell me about tokens\"}]}", NULL },
		{ TG_MOCK_GEMINI, "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
		  "{\"contents\":[{\"parts\":[{\"text\":\"Write a paragraph\"}]}]}", NULL },
		{ TG_MOCK_OPENAI, "/v1/chat/completions",
		  "{\"model\":\"o4-mini\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
		  "\"messages\":[{\"role\":\"user\",\"content\":\"Explain caching\"}]}", NULL },
		{ TG_MOCK_OPENAI, "/v1/chat/completions", FRANCE_OAI, "429" },
		{ TG_MOCK_ANTHROPIC, "/v1/messages", FRANCE_ANT, "error-midstream" },
		{ TG_MOCK_OPENAI, "/v1/chat/completions",
		  "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"tools\":[{\"type\":\"function\","
		  "\"function\":{\"name\":\"a\"}},{\"type\":\"function\",\"function\":{\"name\":"
		  "\"b\"}}],\"messages\":[{\"role\":\"user\",\"content\":\"explain a and b\"}]}", NULL },
		{ TG_MOCK_OPENAI, "/v1/responses",
		  "{\"model\":\"o4-mini\",\"stream\":true,\"input\":\"Explain caching\"}", NULL },
		{ TG_MOCK_ANTHROPIC, "/v1/messages",
		  "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":9,\"system\":[{\"type\":\"text\","
		  "\"text\":\"" WORDS_256 WORDS_256 WORDS_256 WORDS_256 "\",\"cache_control\":{\"type\":"
		  "\"ephemeral\"}}],\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", NULL },
	};
	struct tg_mock m;
	struct tg_mock_reply r;

	setup_mock(&m, seed);
	tg_mock_reply_init(&r);
	/* twice over: the second pass reads what the first cached */
	for (size_t i = 0; i < 2 * sizeof(seq) / sizeof(seq[0]); i++) {
		size_t k = i % (sizeof(seq) / sizeof(seq[0]));

		call(&m, seq[k].fam, seq[k].path, seq[k].body, seq[k].fault, &r);
		tg_buf_printf(out, "%d %d %d\n", r.status, r.nev, r.cache.read);
		tg_buf_add(out, r.hdr.p, r.hdr.len);
		tg_buf_add(out, r.body.p, r.body.len);
		for (int e = 0; e < r.nev; e++)
			tg_buf_printf(out, " %u", r.ev_end[e]);
	}
	tg_mock_reply_fini(&r);
	tg_mock_fini(&m);
}

START_TEST(same_seed_same_bytes)
{
	struct tg_buf a, b, c;

	tg_buf_init(&a);
	tg_buf_init(&b);
	tg_buf_init(&c);
	run_sequence(7, &a);
	run_sequence(7, &b);
	run_sequence(8, &c);
	ck_assert(!a.failed && a.len > 1000);
	/* (headers hold NULs: search the bytes, not a C string) */
	ck_assert_ptr_nonnull(memmem(a.p, a.len, "\"cache_read_input_tokens\":1286", 29));
	ck_assert_ptr_nonnull(memmem(a.p, a.len, "\"name\":\"b\"", 10));
	ck_assert_ptr_nonnull(memmem(a.p, a.len, "response.completed", 18));
	ck_assert_uint_eq(a.len, b.len);
	ck_assert_int_eq(memcmp(a.p, b.p, a.len), 0);
	ck_assert(c.len != a.len || memcmp(a.p, c.p, a.len) != 0);
	tg_buf_fini(&a);
	tg_buf_fini(&b);
	tg_buf_fini(&c);
}
END_TEST

START_TEST(refusals_in_each_dialect)
{
	struct tg_mock m;
	struct tg_mock_reply r;
	struct tg_mock_req q;

	setup_mock(&m, 3);
	m.key = "right";
	tg_mock_reply_init(&r);

	call(&m, TG_MOCK_ANTHROPIC, "/v1/messages", FRANCE_ANT, NULL, &r);
	ck_assert_int_eq(r.status, 401);
	ck_assert_ptr_nonnull(strstr(r.body.p, "\"authentication_error\""));
	call(&m, TG_MOCK_GEMINI, "/v1beta/models/gemini-2.5-flash:generateContent", FRANCE_GEM, NULL,
	     &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_ptr_nonnull(strstr(r.body.p, "API_KEY_INVALID"));
	call(&m, TG_MOCK_OPENAI, "/v1/chat/completions", FRANCE_OAI, NULL, &r);
	ck_assert_int_eq(r.status, 401);
	ck_assert_ptr_nonnull(strstr(r.body.p, "\"invalid_api_key\""));

	m.key = NULL;
	call(&m, TG_MOCK_ANTHROPIC, "/v1/messages",
	     "{\"model\":\"claude-3-haiku-20240307\",\"messages\":[]}", NULL, &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_ptr_nonnull(strstr(r.body.p, "max_tokens"));
	call(&m, TG_MOCK_ANTHROPIC, "/v1/messages",
	     "{\"model\":\"claude-9\",\"max_tokens\":5,\"messages\":[]}", NULL, &r);
	ck_assert_int_eq(r.status, 404);
	ck_assert_ptr_nonnull(strstr(r.body.p, "not_found_error"));
	call(&m, TG_MOCK_GEMINI, "/v1beta/models/gemini-9:generateContent", FRANCE_GEM, NULL, &r);
	ck_assert_int_eq(r.status, 404);
	ck_assert_ptr_nonnull(strstr(r.body.p, "NOT_FOUND"));
	call(&m, TG_MOCK_OPENAI, "/v1/chat/completions",
	     "{\"model\":\"gpt-9\",\"messages\":[]}", NULL, &r);
	ck_assert_int_eq(r.status, 404);
	ck_assert_ptr_nonnull(strstr(r.body.p, "model_not_found"));

	/* no anthropic-version header */
	memset(&q, 0, sizeof(q));
	q.fam = TG_MOCK_ANTHROPIC;
	q.method = "POST";
	q.path = "/v1/messages";
	q.body = FRANCE_ANT;
	q.body_len = strlen(FRANCE_ANT);
	q.x_api_key = "k";
	tg_mock_handle(&m, &q, &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_ptr_nonnull(strstr(r.body.p, "anthropic-version"));

	tg_mock_reply_fini(&r);
	tg_mock_fini(&m);
}
END_TEST

static int
set_faults(struct tg_mock *m, const char *json)
{
	char err[128];

	return tg_mock_faults_set(m, json, strlen(json), err, sizeof(err));
}

START_TEST(faults_shape_the_plan)
{
	struct tg_mock m;
	struct tg_mock_reply r;
	int full;

	setup_mock(&m, 5);
	tg_mock_reply_init(&r);
	call(&m, TG_MOCK_ANTHROPIC, "/v1/messages",
	     "{\"model\":\"claude-3-haiku-20240307\",\"max_tokens\":100,\"stream\":true,"
	     "\"messages\":[{\"role\":\"user\",\"content\":\"What is the capital of France?\"}]}",
	     NULL, &r);
	full = r.nev;
	ck_assert_int_ge(full, 8);
	ck_assert_ptr_nonnull(strstr(r.body.p, "event: message_stop"));

	call(&m, TG_MOCK_ANTHROPIC, "/v1/messages",
	     "{\"model\":\"claude-3-haiku-20240307\",\"max_tokens\":100,\"stream\":true,"
	     "\"messages\":[{\"role\":\"user\",\"content\":\"What is the capital of France?\"}]}",
	     "reset-midstream", &r);
	ck_assert_int_eq(r.action, TG_ACT_RESET_AFTER);
	ck_assert_int_lt(r.nev, full);
	ck_assert_ptr_null(strstr(r.body.p, "message_stop"));

	call(&m, TG_MOCK_OPENAI, "/v1/chat/completions",
	     "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[{\"role\":\"user\","
	     "\"content\":\"hello\"}]}", "error-midstream", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body.p, "data: {\"error\":"));
	ck_assert_ptr_null(strstr(r.body.p, "[DONE]"));

	call(&m, TG_MOCK_GEMINI, "/v1beta/models/gemini-2.5-flash:generateContent", FRANCE_GEM,
	     "quota", &r);
	ck_assert_int_eq(r.status, 429);
	ck_assert_ptr_nonnull(strstr(r.body.p, "RESOURCE_EXHAUSTED"));

	call(&m, TG_MOCK_OPENAI, "/v1/chat/completions", FRANCE_OAI, "timeout", &r);
	ck_assert_int_eq(r.action, TG_ACT_HOLD);

	/* run time: the next two gemini calls only */
	ck_assert_int_eq(set_faults(&m, "{\"fault\":\"503\",\"provider\":\"gemini\",\"count\":2}"),
			 0);
	ck_assert_int_eq(tg_mock_fault_pick(&m, TG_MOCK_OPENAI, NULL), TG_FAULT_NONE);
	ck_assert_int_eq(tg_mock_fault_pick(&m, TG_MOCK_GEMINI, NULL), TG_FAULT_503);
	ck_assert_int_eq(tg_mock_fault_pick(&m, TG_MOCK_GEMINI, NULL), TG_FAULT_503);
	ck_assert_int_eq(tg_mock_fault_pick(&m, TG_MOCK_GEMINI, NULL), TG_FAULT_NONE);
	ck_assert_int_eq(set_faults(&m, "{\"fault\":\"melt\"}"), -1);
	ck_assert_int_eq(set_faults(&m, "{\"fault\":\"429\",\"rate\":2}"), -1);
	ck_assert_int_eq(set_faults(&m, "{\"fault\":\"429\",\"provider\":\"azure\"}"), -1);

	tg_mock_reply_fini(&r);
	tg_mock_fini(&m);
}
END_TEST

/* ---- helpers for the new dialects ---- */

/* One call at a chosen time (an unseeded mock keeps it), with optional extra headers. */
static void
call_at(struct tg_mock *m, enum tg_mock_family fam, const char *path, const char *body,
	int64_t now_s, struct tg_mock_reply *r)
{
	struct tg_mock_req q;

	memset(&q, 0, sizeof(q));
	q.fam = fam;
	q.method = "POST";
	q.path = path;
	q.body = body;
	q.body_len = strlen(body);
	q.x_api_key = "k";
	q.authorization = "Bearer k";
	q.goog_key = "k";
	q.anthropic_version = "2023-06-01";
	q.alt_sse = true;
	q.responses = strcmp(path, "/v1/responses") == 0;
	q.now_s = now_s;
	tg_mock_handle(m, &q, r);
}

/* A body with "%s" replaced by n copies of "word " (n * 5 bytes of text). */
static char *
with_words(const char *fmt, int n)
{
	size_t len = strlen(fmt) + (size_t)n * 5 + 1;
	char *words = malloc((size_t)n * 5 + 1), *out = malloc(len);

	ck_assert_ptr_nonnull(words);
	ck_assert_ptr_nonnull(out);
	for (int i = 0; i < n; i++)
		memcpy(words + i * 5, "word ", 5);
	words[n * 5] = '\0';
	snprintf(out, len, fmt, words);
	free(words);
	return out;
}

/* The data: payloads of an SSE body, NUL-terminated copies, at most max. */
static int
sse_data(const struct tg_mock_reply *r, char **out, int max)
{
	int n = 0;

	for (const char *p = r->body.p; p != NULL && n < max; ) {
		const char *d = strstr(p, "data: "), *e;

		if (d == NULL)
			break;
		d += 6;
		e = strchr(d, '\n');
		if (e == NULL)
			break;
		out[n] = strndup(d, (size_t)(e - d));
		n++;
		p = e + 1;
	}
	return n;
}

static void
free_all(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
}

/* The decoded string member key of JSON text s (first occurrence, any depth), or "". */
static void
json_member(const char *s, const char *key, char *out, size_t cap)
{
	struct tg_json j;
	char why[64];

	out[0] = '\0';
	ck_assert_msg(tg_json_parse(&j, s, strlen(s), 4096, 32, why, sizeof(why)) == 0,
		      "not JSON (%s): %s", why, s);
	for (int i = 0; i + 1 < j.ntok; i++)
		if (tg_json_is_str(&j, i) && tg_json_eq(&j, i, key) && tg_json_is_str(&j, i + 1)) {
			ck_assert(tg_json_str(&j, i + 1, out, cap) >= 0);
			break;
		}
	tg_json_fini(&j);
}

#define ANT_CACHED \
	"{\"model\":\"claude-3-haiku-20240307\",\"max_tokens\":50,\"system\":[{\"type\":\"text\"," \
	"\"text\":\"%s\",\"cache_control\":{\"type\":\"ephemeral\"}}],\"messages\":[{\"role\":" \
	"\"user\",\"content\":\"What is the capital of France?\"}]}"

START_TEST(anthropic_cache_writes_then_reads_within_the_ttl)
{
	struct tg_mock m;
	struct tg_mock_reply r;
	char *body = with_words(ANT_CACHED, 2000);     /* 10,000 bytes: 2,500 tokens */
	/* the prefix: 3 base + 3 for the system message + 2,500; after it 3 + 8 */
	const long prefix = 2506, rest = 11;

	setup_mock(&m, 1);
	m.seeded = false;
	tg_mock_reply_init(&r);
	call_at(&m, TG_MOCK_ANTHROPIC, "/v1/messages", body, 1000, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(last_num(&r, "cache_creation_input_tokens"), prefix);
	ck_assert_int_eq(last_num(&r, "ephemeral_5m_input_tokens"), prefix);
	ck_assert_int_eq(last_num(&r, "ephemeral_1h_input_tokens"), 0);
	ck_assert_int_eq(last_num(&r, "cache_read_input_tokens"), 0);
	ck_assert_int_eq(last_num(&r, "input_tokens"), rest);
	/* a repeat inside five minutes reads, and the read refreshes the entry */
	call_at(&m, TG_MOCK_ANTHROPIC, "/v1/messages", body, 1000 + 299, &r);
	ck_assert_int_eq(last_num(&r, "cache_read_input_tokens"), prefix);
	ck_assert_int_eq(last_num(&r, "cache_creation_input_tokens"), 0);
	ck_assert_int_eq(last_num(&r, "input_tokens"), rest);
	call_at(&m, TG_MOCK_ANTHROPIC, "/v1/messages", body, 1000 + 299 + 299, &r);
	ck_assert_int_eq(last_num(&r, "cache_read_input_tokens"), prefix);
	/* five idle minutes later it is gone and written again */
	call_at(&m, TG_MOCK_ANTHROPIC, "/v1/messages", body, 1000 + 598 + 300, &r);
	ck_assert_int_eq(last_num(&r, "cache_read_input_tokens"), 0);
	ck_assert_int_eq(last_num(&r, "cache_creation_input_tokens"), prefix);
	/* POST /__mock/reset forgets it */
	tg_mock_reset(&m);
	call_at(&m, TG_MOCK_ANTHROPIC, "/v1/messages", body, 1000 + 900, &r);
	ck_assert_int_eq(last_num(&r, "cache_read_input_tokens"), 0);
	ck_assert_int_eq(m.stats[TG_MOCK_ANTHROPIC].cache_write_tokens, prefix);
	free(body);
	tg_mock_reply_fini(&r);
	tg_mock_fini(&m);
}
END_TEST

START_TEST(anthropic_cache_splits_ttls_and_honours_the_minimum)
{
	struct tg_mock m;
	struct tg_mock_reply r;
	/* a 1h breakpoint on the tools, a 5m one on the system prompt, one too short */
	char *body = with_words(
		"{\"model\":\"claude-3-haiku-20240307\",\"max_tokens\":50,\"tools\":[{\"name\":\"t\","
		"\"input_schema\":{\"type\":\"object\",\"description\":\"%s\"},\"cache_control\":"
		"{\"type\":\"ephemeral\",\"ttl\":\"1h\"}}],\"system\":[{\"type\":\"text\",\"text\":"
		"\"Answer briefly.\",\"cache_control\":{\"type\":\"ephemeral\"}}],\"messages\":"
		"[{\"role\":\"user\",\"content\":\"hi\"}]}", 2000);
	char *small = with_words(ANT_CACHED, 100);
	long tools, sys;

	setup_mock(&m, 2);
	m.seeded = false;
	tg_mock_reply_init(&r);
	call_at(&m, TG_MOCK_ANTHROPIC, "/v1/messages", body, 50, &r);
	ck_assert_int_eq(r.status, 200);
	tools = last_num(&r, "ephemeral_1h_input_tokens");
	sys = last_num(&r, "ephemeral_5m_input_tokens");
	/* 3 base + 1 for the name + the schema's JSON text (10,000 bytes of words and more) */
	ck_assert_int_gt(tools, 2500);
	ck_assert_int_eq(sys, 3 + 4);   /* the system message's framing and "Answer briefly." */
	ck_assert_int_eq(last_num(&r, "cache_creation_input_tokens"), tools + sys);
	/* usage arithmetic: input + creation + read is the whole prompt */
	ck_assert_int_eq(last_num(&r, "input_tokens") + tools + sys, r.in_tokens);
	/* below Claude 3 Haiku's 2,048 tokens nothing is cached, with no error */
	call_at(&m, TG_MOCK_ANTHROPIC, "/v1/messages", small, 60, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(last_num(&r, "cache_creation_input_tokens"), 0);
	call_at(&m, TG_MOCK_ANTHROPIC, "/v1/messages", small, 61, &r);
	ck_assert_int_eq(last_num(&r, "cache_read_input_tokens"), 0);
	ck_assert_int_eq(last_num(&r, "input_tokens"), r.in_tokens);
	free(body);
	free(small);
	tg_mock_reply_fini(&r);
	tg_mock_fini(&m);
}
END_TEST

START_TEST(anthropic_cache_reads_an_earlier_breakpoint_as_a_conversation_grows)
{
	struct tg_mock m;
	struct tg_mock_reply r;
	char *turn1 = with_words(
		"{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":50,\"messages\":[{\"role\":\"user\","
		"\"content\":[{\"type\":\"text\",\"text\":\"%s\",\"cache_control\":{\"type\":"
		"\"ephemeral\"}}]}]}", 1000);
	/* the next turn moves the breakpoint to its last block; the old one is looked back to */
	char *turn2 = with_words(
		"{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":50,\"messages\":[{\"role\":\"user\","
		"\"content\":[{\"type\":\"text\",\"text\":\"%s\"}]},{\"role\":\"assistant\",\"content\":"
		"\"Noted.\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"And now?\","
		"\"cache_control\":{\"type\":\"ephemeral\"}}]}]}", 1000);
	long first;

	setup_mock(&m, 3);
	m.seeded = false;
	tg_mock_reply_init(&r);
	call_at(&m, TG_MOCK_ANTHROPIC, "/v1/messages", turn1, 10, &r);
	first = last_num(&r, "cache_creation_input_tokens");
	ck_assert_int_eq(first, 3 + 3 + 1250);
	call_at(&m, TG_MOCK_ANTHROPIC, "/v1/messages", turn2, 20, &r);
	ck_assert_int_eq(last_num(&r, "cache_read_input_tokens"), first);
	ck_assert_int_eq(last_num(&r, "cache_creation_input_tokens"), r.in_tokens - first);
	ck_assert_int_eq(last_num(&r, "input_tokens"), 0);
	free(turn1);
	free(turn2);
	tg_mock_reply_fini(&r);
	tg_mock_fini(&m);
}
END_TEST

START_TEST(anthropic_refuses_a_fifth_breakpoint)
{
	struct tg_mock m;
	struct tg_mock_reply r;
	const char *cc = "\"cache_control\":{\"type\":\"ephemeral\"}";
	char body[1024];

	snprintf(body, sizeof(body),
		 "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":5,\"system\":[{\"type\":\"text\","
		 "\"text\":\"a\",%s},{\"type\":\"text\",\"text\":\"b\",%s}],\"messages\":[{\"role\":"
		 "\"user\",\"content\":[{\"type\":\"text\",\"text\":\"c\",%s},{\"type\":\"text\","
		 "\"text\":\"d\",%s},{\"type\":\"text\",\"text\":\"e\",%s}]}]}", cc, cc, cc, cc, cc);
	setup_mock(&m, 4);
	tg_mock_reply_init(&r);
	call(&m, TG_MOCK_ANTHROPIC, "/v1/messages", body, NULL, &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_ptr_nonnull(strstr(r.body.p, "A maximum of 4 blocks with cache_control"));
	tg_mock_reply_fini(&r);
	tg_mock_fini(&m);
}
END_TEST

START_TEST(openai_and_gemini_cache_repeated_prefixes)
{
	struct tg_mock m;
	struct tg_mock_reply r;
	char *a1 = with_words("{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"system\",\"content\":"
			      "\"%s\"},{\"role\":\"user\",\"content\":\"first\"}]}", 1200);
	char *a2 = with_words("{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"system\",\"content\":"
			      "\"%s\"},{\"role\":\"user\",\"content\":\"second\"}]}", 1200);
	char *s1 = with_words("{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"system\",\"content\":"
			      "\"%s\"},{\"role\":\"user\",\"content\":\"first\"}]}", 700);
	char *g1 = with_words("{\"systemInstruction\":{\"parts\":[{\"text\":\"%s\"}]},\"contents\":"
			      "[{\"parts\":[{\"text\":\"first\"}]}]}", 2000);
	char *g2 = with_words("{\"systemInstruction\":{\"parts\":[{\"text\":\"%s\"}]},\"contents\":"
			      "[{\"parts\":[{\"text\":\"second\"}]}]}", 2000);
	const char *gpath = "/v1beta/models/gemini-2.5-flash:generateContent";

	setup_mock(&m, 5);
	tg_mock_reply_init(&r);
	call(&m, TG_MOCK_OPENAI, "/v1/chat/completions", a1, NULL, &r);
	ck_assert_int_eq(last_num(&r, "cached_tokens"), 0);
	call(&m, TG_MOCK_OPENAI, "/v1/chat/completions", a2, NULL, &r);
	/* the system message ends at 3 + 3 + 1,500 = 1,506: cached in 128-token steps from 1,024 */
	ck_assert_int_eq(last_num(&r, "cached_tokens"), 1024 + 3 * 128);
	ck_assert_int_eq(last_num(&r, "prompt_tokens"), 1506 + 3 + 2);
	/* shorter than 1,024 tokens: never cached */
	call(&m, TG_MOCK_OPENAI, "/v1/chat/completions", s1, NULL, &r);
	call(&m, TG_MOCK_OPENAI, "/v1/chat/completions", s1, NULL, &r);
	ck_assert_int_eq(last_num(&r, "cached_tokens"), 0);
	call(&m, TG_MOCK_GEMINI, gpath, g1, NULL, &r);
	ck_assert_int_eq(last_num(&r, "cachedContentTokenCount"), -1);
	call(&m, TG_MOCK_GEMINI, gpath, g2, NULL, &r);
	/* promptTokenCount includes the cached tokens; totalTokenCount does not change */
	ck_assert_int_eq(last_num(&r, "cachedContentTokenCount"), 2500);
	ck_assert_int_eq(last_num(&r, "promptTokenCount"), 2502);
	ck_assert_int_eq(last_num(&r, "totalTokenCount"),
			 2502 + last_num(&r, "candidatesTokenCount") +
				 last_num(&r, "thoughtsTokenCount"));
	free(a1);
	free(a2);
	free(s1);
	free(g1);
	free(g2);
	tg_mock_reply_fini(&r);
	tg_mock_fini(&m);
}
END_TEST

#define ANT_TOOLS \
	"\"tools\":[{\"name\":\"get_weather\",\"description\":\"Weather\",\"input_schema\":" \
	"{\"type\":\"object\",\"properties\":{\"location\":{\"type\":\"string\"},\"unit\":" \
	"{\"type\":\"string\",\"enum\":[\"celsius\",\"fahrenheit\"]}},\"required\":" \
	"[\"location\",\"unit\"]}},{\"name\":\"get_time\",\"input_schema\":{\"type\":\"object\"," \
	"\"properties\":{}}}]"

START_TEST(anthropic_tool_call_streams_arguments_split_inside_keys_and_strings)
{
	struct tg_mock m;
	struct tg_mock_reply r;
	char *ev[256], frag[256], args[512] = "";
	bool in_key = false, in_value = false;
	int n, empty = 0;
	const char *body =
		"{\"model\":\"claude-haiku-4-5\",\"max_tokens\":200,\"stream\":true," ANT_TOOLS ","
		"\"messages\":[{\"role\":\"user\",\"content\":\"Explain, then call get_weather "
		"{\\\"location\\\":\\\"Z\\u00fcrich \\\\\\\"Altstadt\\\\\\\"\\\",\\\"unit\\\":"
		"\\\"celsius\\\"} and get_time\"}]}";
	const char *want = "{\"location\":\"Zürich \\\"Altstadt\\\"\",\"unit\":\"celsius\"}";

	setup_mock(&m, 6);
	tg_mock_reply_init(&r);
	call(&m, TG_MOCK_ANTHROPIC, "/v1/messages", body, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	n = sse_data(&r, ev, 256);
	for (int i = 0; i < n; i++) {
		if (strstr(ev[i], "\"input_json_delta\"") == NULL || strstr(ev[i], "\"index\":1") == NULL)
			continue;
		json_member(ev[i], "partial_json", frag, sizeof(frag));
		if (frag[0] == '\0') {
			empty++;
			continue;
		}
		/* a cut that ends inside "location" or inside the value */
		if (strlen(args) + strlen(frag) < sizeof(args)) {
			size_t before = strlen(args);

			strcat(args, frag);
			if (before > 2 && before < 10)
				in_key = true;
			if (before > 14 && before < 30)
				in_value = true;
		}
	}
	ck_assert_int_eq(empty, 1);             /* the first fragment is "" */
	ck_assert_str_eq(args, want);
	ck_assert(in_key && in_value);
	/* block 0 is the preface, block 2 the call without arguments: "" and nothing else */
	ck_assert_ptr_nonnull(strstr(r.body.p, "\"content_block\":{\"type\":\"text\""));
	ck_assert_ptr_nonnull(strstr(r.body.p, "\"text\":\" get_time.\""));
	ck_assert_ptr_nonnull(strstr(r.body.p, "\"index\":2,\"content_block\":{\"type\":\"tool_use\""));
	ck_assert_ptr_nonnull(strstr(r.body.p, "\"index\":2,\"delta\":{\"type\":\"input_json_delta\","
					       "\"partial_json\":\"\"}}\n\nevent: content_block_stop"));
	ck_assert_ptr_nonnull(strstr(r.body.p, "\"stop_reason\":\"tool_use\""));
	free_all(ev, n);
	tg_mock_reply_fini(&r);
	tg_mock_fini(&m);
}
END_TEST

START_TEST(tool_args_pieces_never_cut_escapes_or_characters)
{
	const char *s = "{\"k\":\"a\\\"b\\u00e9c\\\\d\",\"\xc3\xa9\":\"\xe6\x9d\xb1\"}";
	size_t len = strlen(s);
	int k = 0;

	for (size_t pos = 0, end; pos < len; pos = end, k++) {
		end = tg_mock_args_piece(s, len, pos, k);
		ck_assert_uint_gt(end, pos);
		/* not inside a UTF-8 sequence */
		ck_assert_msg(end == len || ((unsigned char)s[end] & 0xc0) != 0x80, "cut at %zu", end);
		/* not between a backslash and what it escapes */
		ck_assert_msg(end == 0 || s[end - 1] != '\\' || (end >= 2 && s[end - 2] == '\\'),
			      "cut after a backslash at %zu", end);
		/* nor inside \u00e9, bytes 10 to 15 */
		ck_assert_msg(end <= 10 || end >= 16, "cut inside \\u00e9 at %zu", end);
	}
}
END_TEST

START_TEST(tool_choice_forces_and_parallel_can_be_off)
{
	struct tg_mock m;
	struct tg_mock_reply r;

	setup_mock(&m, 7);
	tg_mock_reply_init(&r);
	/* forced: a prompt that names no tool still gets the call, arguments from the schema */
	call(&m, TG_MOCK_ANTHROPIC, "/v1/messages",
	     "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":50," ANT_TOOLS ",\"tool_choice\":"
	     "{\"type\":\"tool\",\"name\":\"get_weather\"},\"messages\":[{\"role\":\"user\","
	     "\"content\":\"hello\"}]}", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body.p, "\"input\":{\"location\":\"Paris\",\"unit\":\"celsius\"}"));
	ck_assert_ptr_null(strstr(r.body.p, "\"type\":\"text\""));
	/* two named, parallel off: one call */
	call(&m, TG_MOCK_OPENAI, "/v1/chat/completions",
	     "{\"model\":\"gpt-4o-mini\",\"parallel_tool_calls\":false,\"tools\":[{\"type\":\"function\","
	     "\"function\":{\"name\":\"a\"}},{\"type\":\"function\",\"function\":{\"name\":\"b\"}}],"
	     "\"messages\":[{\"role\":\"user\",\"content\":\"use a and b\"}]}", NULL, &r);
	ck_assert_ptr_nonnull(strstr(r.body.p, "\"content\":null,\"tool_calls\":[{\"id\":\"call_"));
	ck_assert_ptr_null(strstr(r.body.p, "\"name\":\"b\""));
	ck_assert_ptr_nonnull(strstr(r.body.p, "\"arguments\":\"{}\""));
	ck_assert_ptr_nonnull(strstr(r.body.p, "\"finish_reason\":\"tool_calls\""));
	/* tool_choice none: text even though a tool is named */
	call(&m, TG_MOCK_OPENAI, "/v1/chat/completions",
	     "{\"model\":\"gpt-4o-mini\",\"tool_choice\":\"none\",\"tools\":[{\"type\":\"function\","
	     "\"function\":{\"name\":\"a\"}}],\"messages\":[{\"role\":\"user\",\"content\":\"use a\"}]}",
	     NULL, &r);
	ck_assert_ptr_null(strstr(r.body.p, "tool_calls"));
	/* Gemini ANY with one allowed name forces it */
	call(&m, TG_MOCK_GEMINI, "/v1beta/models/gemini-2.5-flash-lite:generateContent",
	     "{\"tools\":[{\"functionDeclarations\":[{\"name\":\"a\"},{\"name\":\"b\",\"parameters\":"
	     "{\"type\":\"OBJECT\",\"properties\":{\"n\":{\"type\":\"INTEGER\"}}}}]}],\"toolConfig\":"
	     "{\"functionCallingConfig\":{\"mode\":\"ANY\",\"allowedFunctionNames\":[\"b\"]}},"
	     "\"contents\":[{\"parts\":[{\"text\":\"hi\"}]}]}", NULL, &r);
	ck_assert_ptr_nonnull(strstr(r.body.p, "{\"functionCall\":{\"name\":\"b\",\"args\":{\"n\":1}}}"));
	ck_assert_ptr_nonnull(strstr(r.body.p, "\"finishMessage\":\"Model generated function call(s).\""));
	tg_mock_reply_fini(&r);
	tg_mock_fini(&m);
}
END_TEST

START_TEST(tool_results_are_answered_and_ids_must_pair)
{
	struct tg_mock m;
	struct tg_mock_reply r;

	setup_mock(&m, 8);
	tg_mock_reply_init(&r);
	call(&m, TG_MOCK_ANTHROPIC, "/v1/messages",
	     "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":50," ANT_TOOLS ",\"messages\":[{\"role\":"
	     "\"user\",\"content\":\"get_time\"},{\"role\":\"assistant\",\"content\":[{\"type\":"
	     "\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_time\",\"input\":{}}]},{\"role\":\"user\","
	     "\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\",\"content\":"
	     "[{\"type\":\"text\",\"text\":\"12:00 UTC\"}]}]}]}", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body.p, "\"text\":\"The get_time tool returned: 12:00 UTC.\""));
	ck_assert_ptr_nonnull(strstr(r.body.p, "\"stop_reason\":\"end_turn\""));
	call(&m, TG_MOCK_ANTHROPIC, "/v1/messages",
	     "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":50," ANT_TOOLS ",\"messages\":[{\"role\":"
	     "\"user\",\"content\":\"get_time\"},{\"role\":\"assistant\",\"content\":[{\"type\":"
	     "\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_time\",\"input\":{}}]},{\"role\":\"user\","
	     "\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_9\",\"content\":\"x\"}]}]}",
	     NULL, &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_ptr_nonnull(strstr(r.body.p, "unexpected `tool_use_id` found in `tool_result` "
					       "blocks: toolu_9"));
	/* OpenAI: parallel results, both answered, names found by tool_call_id */
	call(&m, TG_MOCK_OPENAI, "/v1/chat/completions",
	     "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"a and b\"},"
	     "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":"
	     "\"function\",\"function\":{\"name\":\"a\",\"arguments\":\"{}\"}},{\"id\":\"call_2\","
	     "\"type\":\"function\",\"function\":{\"name\":\"b\",\"arguments\":\"{}\"}}]},{\"role\":"
	     "\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"one\"},{\"role\":\"tool\","
	     "\"tool_call_id\":\"call_2\",\"content\":\"two\"}]}", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body.p, "The a tool returned: one. The b tool returned: two."));
	call(&m, TG_MOCK_OPENAI, "/v1/chat/completions",
	     "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
	     "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":"
	     "\"function\",\"function\":{\"name\":\"a\",\"arguments\":\"{}\"}}]},{\"role\":\"user\","
	     "\"content\":\"well?\"}]}", NULL, &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_ptr_nonnull(strstr(r.body.p, "did not have response messages: call_1"));
	/* Gemini: a function response turn must answer every call of the turn before */
	call(&m, TG_MOCK_GEMINI, "/v1beta/models/gemini-2.5-flash:generateContent",
	     "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"a\"}]},{\"role\":\"model\","
	     "\"parts\":[{\"functionCall\":{\"name\":\"a\",\"args\":{}}},{\"functionCall\":{\"name\":"
	     "\"a\",\"args\":{}}}]},{\"role\":\"user\",\"parts\":[{\"functionResponse\":{\"name\":\"a\","
	     "\"response\":{\"ok\":true}}}]}]}", NULL, &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_ptr_nonnull(strstr(r.body.p, "number of function response parts"));
	tg_mock_reply_fini(&r);
	tg_mock_fini(&m);
}
END_TEST

START_TEST(responses_events_are_numbered_in_order)
{
	struct tg_mock m;
	struct tg_mock_reply r;
	char *ev[256], type[64], num[32];
	static const char *const order[] = {
		"response.created", "response.in_progress", "response.output_item.added",
		"response.output_item.done", "response.output_item.added",
		"response.content_part.added",
	};
	int n;

	setup_mock(&m, 9);
	tg_mock_reply_init(&r);
	call(&m, TG_MOCK_OPENAI, "/v1/responses",
	     "{\"model\":\"o4-mini\",\"stream\":true,\"instructions\":\"Answer briefly.\","
	     "\"input\":\"What is the capital of France?\"}", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	n = sse_data(&r, ev, 256);
	ck_assert_int_gt(n, 8);
	for (int i = 0; i < n; i++) {
		const char *sn = strstr(ev[i], "\"sequence_number\":");

		json_member(ev[i], "type", type, sizeof(type));
		ck_assert_ptr_nonnull(sn);
		snprintf(num, sizeof(num), "%d", i);
		ck_assert_msg(strncmp(sn + 18, num, strlen(num)) == 0 &&
				      !isdigit((unsigned char)sn[18 + strlen(num)]),
			      "event %d (%s) has the wrong sequence_number", i, type);
		if (i < (int)(sizeof(order) / sizeof(order[0])))
			ck_assert_str_eq(type, order[i]);
	}
	/* the reasoning item comes first, then the message; usage counts the reasoning */
	ck_assert_ptr_nonnull(strstr(ev[2], "\"type\":\"reasoning\""));
	json_member(ev[n - 1], "type", type, sizeof(type));
	ck_assert_str_eq(type, "response.completed");
	ck_assert_ptr_nonnull(strstr(ev[n - 1], "\"text\":\"Paris, France.\""));
	ck_assert_int_gt(last_num(&r, "reasoning_tokens"), 0);
	ck_assert_int_eq(last_num(&r, "output_tokens"), 4 + last_num(&r, "reasoning_tokens"));
	ck_assert_int_eq(last_num(&r, "input_tokens"), 3 + 3 + 4 + 3 + 8);
	ck_assert_int_eq(last_num(&r, "total_tokens"),
			 last_num(&r, "input_tokens") + last_num(&r, "output_tokens"));
	free_all(ev, n);
	tg_mock_reply_fini(&r);
	tg_mock_fini(&m);
}
END_TEST

START_TEST(responses_function_calls_outputs_and_limits)
{
	struct tg_mock m;
	struct tg_mock_reply r;

	setup_mock(&m, 10);
	tg_mock_reply_init(&r);
	call(&m, TG_MOCK_OPENAI, "/v1/responses",
	     "{\"model\":\"gpt-4o-mini\",\"tools\":[{\"type\":\"function\",\"name\":\"get_weather\","
	     "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}],"
	     "\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":"
	     "\"get_weather for me\"}]}]}", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body.p, "\"type\":\"function_call\",\"status\":\"completed\","
					       "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\",\"call_id\":\"call_"));
	call(&m, TG_MOCK_OPENAI, "/v1/responses",
	     "{\"model\":\"gpt-4o-mini\",\"input\":[{\"role\":\"user\",\"content\":\"get_weather\"},"
	     "{\"type\":\"function_call\",\"call_id\":\"call_7\",\"name\":\"get_weather\",\"arguments\":"
	     "\"{}\"},{\"type\":\"function_call_output\",\"call_id\":\"call_7\",\"output\":\"rain\"}]}",
	     NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body.p, "\"text\":\"The get_weather tool returned: rain.\""));
	call(&m, TG_MOCK_OPENAI, "/v1/responses",
	     "{\"model\":\"gpt-4o-mini\",\"input\":[{\"type\":\"function_call_output\",\"call_id\":"
	     "\"call_8\",\"output\":\"rain\"}]}", NULL, &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_ptr_nonnull(strstr(r.body.p, "No tool call found for function call output with "
					       "call_id call_8."));
	call(&m, TG_MOCK_OPENAI, "/v1/responses",
	     "{\"model\":\"gpt-4o-mini\",\"max_output_tokens\":3,\"input\":\"Tell me a story\"}", NULL,
	     &r);
	ck_assert_ptr_nonnull(strstr(r.body.p, "\"status\":\"incomplete\",\"background\":false,"
					       "\"error\":null,\"incomplete_details\":{\"reason\":"
					       "\"max_output_tokens\"}"));
	ck_assert_int_eq(last_num(&r, "output_tokens"), 3);
	call(&m, TG_MOCK_OPENAI, "/v1/responses",
	     "{\"model\":\"gpt-4o-mini\",\"previous_response_id\":\"resp_1\",\"input\":\"x\"}", NULL, &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_ptr_nonnull(strstr(r.body.p, "\"code\":\"previous_response_not_found\""));
	call(&m, TG_MOCK_OPENAI, "/v1/responses", "{\"model\":\"gpt-4o-mini\",\"input\":\"x\"}", "503",
	     &r);
	ck_assert_int_eq(r.status, 503);
	ck_assert_ptr_nonnull(strstr(r.body.p, "\"type\":\"server_error\""));
	tg_mock_reply_fini(&r);
	tg_mock_fini(&m);
}
END_TEST

/* Top-level fields each family refuses (echoing the name) and ones the SDKs send. */
static const struct {
	enum tg_mock_family fam;
	const char *path, *body;
	int status;
	const char *want;
} field_rows[] = {
	{ TG_MOCK_ANTHROPIC, "/v1/messages",
	  "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":5,\"billing\":1,\"messages\":[]}", 400,
	  "\"message\":\"billing: Extra inputs are not permitted\"" },
	{ TG_MOCK_ANTHROPIC, "/v1/messages/count_tokens",
	  "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":5,\"messages\":[]}", 400,
	  "max_tokens: Extra inputs are not permitted" },
	{ TG_MOCK_ANTHROPIC, "/v1/messages",
	  "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":5,\"metadata\":{\"user_id\":\"u\"},"
	  "\"service_tier\":\"auto\",\"stop_sequences\":[],\"temperature\":1,\"top_k\":5,\"top_p\":1,"
	  "\"cache_control\":{\"type\":\"ephemeral\"},\"messages\":[{\"role\":\"user\",\"content\":"
	  "\"hi\"}]}", 200, "\"type\":\"message\"" },
	{ TG_MOCK_OPENAI, "/v1/chat/completions",
	  "{\"model\":\"gpt-4o-mini\",\"credit balance\":true,\"messages\":[]}", 400,
	  "\"message\":\"Unrecognized request argument supplied: credit balance\","
	  "\"type\":\"invalid_request_error\",\"param\":\"credit balance\"" },
	{ TG_MOCK_OPENAI, "/v1/chat/completions",
	  "{\"model\":\"gpt-4o-mini\",\"stream\":false,\"stream_options\":null,\"n\":1,\"seed\":1,"
	  "\"store\":false,\"user\":\"u\",\"reasoning_effort\":\"low\",\"response_format\":{\"type\":"
	  "\"text\"},\"prompt_cache_key\":\"k\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
	  200, "\"object\":\"chat.completion\"" },
	{ TG_MOCK_OPENAI, "/v1/responses",
	  "{\"model\":\"gpt-4o-mini\",\"messages\":[],\"input\":\"x\"}", 400,
	  "\"message\":\"Unknown parameter: 'messages'.\",\"type\":\"invalid_request_error\","
	  "\"param\":\"messages\",\"code\":\"unknown_parameter\"" },
	{ TG_MOCK_OPENAI, "/v1/chat/completions",
	  "{\"model\":\"gpt-4o-mini\",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
	  "\"w\",\"parameters\":{\"type\":\"OBJECT\"}}}],\"messages\":[]}", 400,
	  "'OBJECT' is not valid under any of the given schemas.\",\"type\":\"invalid_request_error\","
	  "\"param\":\"tools[0].function.parameters\",\"code\":\"invalid_function_parameters\"" },
	{ TG_MOCK_ANTHROPIC, "/v1/messages",
	  "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":5,\"tools\":[{\"name\":\"w\","
	  "\"input_schema\":{\"type\":\"object\",\"properties\":{\"type\":{\"type\":\"STRING\"}}}}],"
	  "\"messages\":[]}", 400, "tools.0.custom.input_schema: JSON schema is invalid" },
	{ TG_MOCK_GEMINI, "/v1beta/models/gemini-2.5-flash:generateContent",
	  "{\"contents\":[{\"parts\":[{\"text\":\"hi\"}]}],\"spend_limit\":0}", 400,
	  "Invalid JSON payload received. Unknown name \\\"spend_limit\\\": Cannot find field." },
	{ TG_MOCK_GEMINI, "/v1beta/models/gemini-2.5-flash:generateContent",
	  "{\"contents\":[{\"parts\":[{\"text\":\"hi\"}]}],\"generation_config\":{},"
	  "\"safetySettings\":[],\"toolConfig\":{},\"system_instruction\":{\"parts\":[]}}", 200,
	  "\"candidates\"" },
};

START_TEST(unknown_top_level_fields_are_refused_known_ones_kept)
{
	struct tg_mock m;
	struct tg_mock_reply r;

	setup_mock(&m, 11);
	tg_mock_reply_init(&r);
	call(&m, field_rows[_i].fam, field_rows[_i].path, field_rows[_i].body, NULL, &r);
	ck_assert_msg(r.status == field_rows[_i].status, "%s: status %d: %s", field_rows[_i].body,
		      r.status, r.body.p);
	ck_assert_msg(strstr(r.body.p, field_rows[_i].want) != NULL, "%s said: %s",
		      field_rows[_i].body, r.body.p);
	tg_mock_reply_fini(&r);
	tg_mock_fini(&m);
}
END_TEST

START_TEST(content_403_differs_from_the_keys)
{
	struct tg_mock m;
	struct tg_mock_reply r;

	setup_mock(&m, 12);
	tg_mock_reply_init(&r);
	call(&m, TG_MOCK_GEMINI, "/v1beta/models/gemini-2.5-flash:generateContent", FRANCE_GEM,
	     "403", &r);
	ck_assert_int_eq(r.status, 403);
	ck_assert_ptr_nonnull(strstr(r.body.p, "\"reason\":\"API_KEY_SERVICE_BLOCKED\""));
	call(&m, TG_MOCK_GEMINI, "/v1beta/models/gemini-2.5-flash:generateContent", FRANCE_GEM,
	     "403-content", &r);
	ck_assert_int_eq(r.status, 403);
	ck_assert_ptr_nonnull(strstr(r.body.p, "\"status\":\"PERMISSION_DENIED\""));
	ck_assert_ptr_null(strstr(r.body.p, "\"reason\""));
	call(&m, TG_MOCK_OPENAI, "/v1/chat/completions", FRANCE_OAI, "403", &r);
	ck_assert_ptr_nonnull(strstr(r.body.p, "\"code\":\"unsupported_country_region_territory\""));
	call(&m, TG_MOCK_OPENAI, "/v1/chat/completions", FRANCE_OAI, "403-content", &r);
	ck_assert_int_eq(r.status, 403);
	ck_assert_ptr_nonnull(strstr(r.body.p, "\"type\":\"invalid_request_error\",\"param\":"
					       "\"messages\""));
	call(&m, TG_MOCK_ANTHROPIC, "/v1/messages", FRANCE_ANT, "403-content", &r);
	ck_assert_int_eq(r.status, 403);
	ck_assert_ptr_nonnull(strstr(r.body.p, "\"type\":\"permission_error\""));
	ck_assert_ptr_nonnull(strstr(r.body.p, "file_011CNha8iCJcU1wXNR6q4V8w"));
	ck_assert_int_eq(m.stats[TG_MOCK_ANTHROPIC].faults, 1);
	tg_mock_reply_fini(&r);
	tg_mock_fini(&m);
}
END_TEST

/* A long stream is a template event sent N times, whatever N: memory does not grow with it. */
START_TEST(forced_length_streams_are_one_repeated_event)
{
	struct tg_mock m;
	struct tg_mock_reply r;
	struct tg_mock_req q;
	size_t small_body;
	int small_nev;

	setup_mock(&m, 13);
	tg_mock_reply_init(&r);
	memset(&q, 0, sizeof(q));
	q.fam = TG_MOCK_ANTHROPIC;
	q.method = "POST";
	q.path = "/v1/messages";
	q.body = "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":100000,\"stream\":true,"
		 "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
	q.body_len = strlen(q.body);
	q.x_api_key = "k";
	q.anthropic_version = "2023-06-01";
	q.output_tokens_header = "10";
	q.stream_ms_header = "20000";
	tg_mock_handle(&m, &q, &r);
	small_body = r.body.len;
	small_nev = r.nev;
	ck_assert_int_eq(r.rep_count, 10);
	ck_assert_int_eq(tg_mock_reply_events(&r), r.nev - 1 + 10);
	ck_assert_uint_eq(r.spread_ms, 20000);
	ck_assert_int_eq(last_num(&r, "output_tokens"), 10);
	q.output_tokens_header = "50000";
	tg_mock_handle(&m, &q, &r);
	ck_assert_int_eq(r.rep_count, 50000);
	ck_assert_int_eq(last_num(&r, "output_tokens"), 50000);
	ck_assert_int_eq(r.nev, small_nev);
	ck_assert_uint_le(r.body.len, small_body + 8);
	/* a cut keeps half of the events the client would get, copies counted */
	tg_mock_reply_keep(&r, 1000);
	ck_assert_int_eq(tg_mock_reply_events(&r), 1000);
	/* Gemini's counts grow in each copy: numbers the server fills in */
	q.fam = TG_MOCK_GEMINI;
	q.path = "/v1beta/models/gemini-2.5-flash-lite:streamGenerateContent";
	q.body = "{\"contents\":[{\"parts\":[{\"text\":\"hi\"}]}]}";
	q.body_len = strlen(q.body);
	q.goog_key = "k";
	q.alt_sse = true;
	q.output_tokens_header = "95";
	tg_mock_handle(&m, &q, &r);
	ck_assert_int_eq(r.rep_count, 9);
	ck_assert_int_eq(r.nrep_num, 2);
	ck_assert_int_eq(r.rep_num[0].base, 10);
	ck_assert_int_eq(r.rep_num[0].step, 10);
	ck_assert_int_eq(last_num(&r, "candidatesTokenCount"), 95);
	tg_mock_reply_fini(&r);
	tg_mock_fini(&m);
}
END_TEST

Suite *
tg_mock_suite(void)
{
	Suite *s = suite_create("mock");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, token_rule_is_ceil_bytes_over_four);
	tcase_add_test(tc, defaults_load_and_match_the_file);
	tcase_add_loop_test(tc, bad_profiles_are_rejected_with_a_reason, 0,
			    (int)(sizeof(bad_profiles) / sizeof(bad_profiles[0])));
	tcase_add_test(tc, motivating_example_counts);
	tcase_add_test(tc, gemini_thinking_budget_zero_thinks_not);
	tcase_add_test(tc, same_seed_same_bytes);
	tcase_add_test(tc, refusals_in_each_dialect);
	tcase_add_test(tc, faults_shape_the_plan);
	tcase_add_test(tc, anthropic_cache_writes_then_reads_within_the_ttl);
	tcase_add_test(tc, anthropic_cache_splits_ttls_and_honours_the_minimum);
	tcase_add_test(tc, anthropic_cache_reads_an_earlier_breakpoint_as_a_conversation_grows);
	tcase_add_test(tc, anthropic_refuses_a_fifth_breakpoint);
	tcase_add_test(tc, openai_and_gemini_cache_repeated_prefixes);
	tcase_add_test(tc, anthropic_tool_call_streams_arguments_split_inside_keys_and_strings);
	tcase_add_test(tc, tool_args_pieces_never_cut_escapes_or_characters);
	tcase_add_test(tc, tool_choice_forces_and_parallel_can_be_off);
	tcase_add_test(tc, tool_results_are_answered_and_ids_must_pair);
	tcase_add_test(tc, responses_events_are_numbered_in_order);
	tcase_add_test(tc, responses_function_calls_outputs_and_limits);
	tcase_add_loop_test(tc, unknown_top_level_fields_are_refused_known_ones_kept, 0,
			    (int)(sizeof(field_rows) / sizeof(field_rows[0])));
	tcase_add_test(tc, content_403_differs_from_the_keys);
	tcase_add_test(tc, forced_length_streams_are_one_repeated_event);
	suite_add_tcase(s, tc);
	return s;
}
