/*
 * Model profiles (tests/mock/profiles.json, embedded as the default), the token
 * rule, the seeded RNG and the answer generator. Pure: no I/O except reading the
 * profiles file; the HTTP layer and the families live elsewhere.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"

/*
 * The default profiles are the bytes of profiles.json itself, so the file and
 * the binary cannot disagree (tests/check_mock.c also compares them).
 */
__asm__(".section .rodata\n"
	".global tg_mock_default_profiles\n"
	"tg_mock_default_profiles:\n"
	".incbin \"tests/mock/profiles.json\"\n"
	".byte 0\n"
	".previous\n");

static const char *const family_names[TG_MOCK_NFAMILIES] = { "anthropic", "gemini", "openai" };

const char *
tg_mock_family_name(enum tg_mock_family f)
{
	return (unsigned)f < TG_MOCK_NFAMILIES ? family_names[f] : "?";
}

uint64_t
tg_mock_rng_next(struct tg_mock_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint32_t
tg_mock_rng_below(struct tg_mock_rng *r, uint32_t n)
{
	/* the bias of a 64-bit modulo over small n is far below what any test sees */
	return (uint32_t)(tg_mock_rng_next(r) % n);
}

int
tg_mock_rng_spread(struct tg_mock_rng *r, int mean, int spread)
{
	int v = mean;

	if (spread > 0)
		v += (int)tg_mock_rng_below(r, (uint32_t)(2 * spread + 1)) - spread;
	return v < 0 ? 0 : v;
}

void
tg_mock_rng_id(struct tg_mock_rng *r, char *out, size_t n)
{
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

	for (size_t i = 0; i < n; i++)
		out[i] = abc[tg_mock_rng_below(r, 62)];
	out[n] = '\0';
}

int
tg_mock_tokens(size_t bytes)
{
	return (int)((bytes + 3) / 4);
}

/* ---- profiles ---- */

static int
get_int(const struct tg_json *j, int obj, const char *key, int dflt, int *out)
{
	int t = tg_json_get(j, obj, key);
	int64_t v;

	if (t == -1) {
		*out = dflt;
		return 0;
	}
	if (tg_json_int64(j, t, &v) == -1 || v < 0 || v > 100000000)
		return -1;
	*out = (int)v;
	return 0;
}

static int
get_str(const struct tg_json *j, int obj, const char *key, char *out, size_t cap, bool required)
{
	int t = tg_json_get(j, obj, key);

	if (t == -1) {
		if (required)
			return -1;
		out[0] = '\0';
		return 0;
	}
	return tg_json_str(j, t, out, cap) < 0 ? -1 : 0;
}

static int
parse_dist(const struct tg_json *j, int obj, const char *key, int *mean, int *spread)
{
	int t = tg_json_get(j, obj, key);

	*mean = 0;
	*spread = 0;
	if (t == -1)
		return 0;
	if (!tg_json_is_obj(j, t))
		return -1;
	if (get_int(j, t, "mean", 0, mean) == -1 || get_int(j, t, "spread", 0, spread) == -1)
		return -1;
	return 0;
}

static int
parse_model(const struct tg_json *j, int t, struct tg_mock_profile *pr, char *err, size_t errlen)
{
	char fam[32];
	int a;
	bool b = false;

	memset(pr, 0, sizeof(*pr));
	if (!tg_json_is_obj(j, t) || get_str(j, t, "name", pr->name, sizeof(pr->name), true) == -1 ||
	    pr->name[0] == '\0') {
		snprintf(err, errlen, "a model needs a string \"name\"");
		return -1;
	}
	if (get_str(j, t, "family", fam, sizeof(fam), true) == -1) {
		snprintf(err, errlen, "model %s: needs \"family\"", pr->name);
		return -1;
	}
	for (a = 0; a < TG_MOCK_NFAMILIES; a++)
		if (strcmp(fam, family_names[a]) == 0)
			break;
	if (a == TG_MOCK_NFAMILIES) {
		snprintf(err, errlen, "model %s: unknown family %s", pr->name, fam);
		return -1;
	}
	pr->family = (enum tg_mock_family)a;
	if (get_str(j, t, "reported", pr->reported, sizeof(pr->reported), false) == -1 ||
	    get_str(j, t, "style", pr->style, sizeof(pr->style), false) == -1 ||
	    parse_dist(j, t, "output_tokens", &pr->out_mean, &pr->out_spread) == -1 ||
	    parse_dist(j, t, "thinking_tokens", &pr->think_mean, &pr->think_spread) == -1 ||
	    get_int(j, t, "ttft_ms", 300, &pr->ttft_ms) == -1 ||
	    get_int(j, t, "tokens_per_sec", 100, &pr->tokens_per_sec) == -1 ||
	    get_int(j, t, "cache_min_tokens", 1024, &pr->cache_min_tokens) == -1) {
		snprintf(err, errlen, "model %s: a field has the wrong type or range", pr->name);
		return -1;
	}
	if (pr->reported[0] == '\0')
		snprintf(pr->reported, sizeof(pr->reported), "%s", pr->name);
	if (pr->out_mean == 0)
		pr->out_mean = 50;
	if (pr->tokens_per_sec == 0)
		pr->tokens_per_sec = 100;
	a = tg_json_get(j, t, "thinks_by_default");
	if (a != -1 && tg_json_bool(j, a, &b) == -1) {
		snprintf(err, errlen, "model %s: thinks_by_default must be a boolean", pr->name);
		return -1;
	}
	pr->thinks_by_default = b;
	a = tg_json_get(j, t, "answers");
	if (a == -1)
		return 0;
	if (!tg_json_is_arr(j, a)) {
		snprintf(err, errlen, "model %s: answers must be an array", pr->name);
		return -1;
	}
	for (int k = tg_json_first(j, a); k != -1; k = tg_json_after(j, a, k)) {
		struct tg_mock_answer *an;

		if (pr->nanswers == TG_MOCK_MAX_ANSWERS) {
			snprintf(err, errlen, "model %s: more than %d answers", pr->name,
				 TG_MOCK_MAX_ANSWERS);
			return -1;
		}
		an = &pr->answers[pr->nanswers++];
		if (!tg_json_is_obj(j, k) ||
		    get_str(j, k, "match", an->match, sizeof(an->match), true) == -1 ||
		    get_str(j, k, "text", an->text, sizeof(an->text), true) == -1) {
			snprintf(err, errlen, "model %s: an answer needs string match and text",
				 pr->name);
			return -1;
		}
		for (char *c = an->match; *c; c++)
			*c = (char)tolower((unsigned char)*c);
	}
	return 0;
}

int
tg_mock_profiles_parse(struct tg_mock_profiles *p, const char *json, size_t len, char *err,
		       size_t errlen)
{
	struct tg_json j;
	int fams, models, n = 0;

	memset(p, 0, sizeof(*p));
	if (tg_json_parse(&j, json, len, 1 << 16, 16, err, errlen) == -1)
		return -1;
	if (!tg_json_is_obj(&j, 0)) {
		snprintf(err, errlen, "profiles: the document must be an object");
		goto fail;
	}
	fams = tg_json_get(&j, 0, "families");
	for (int f = 0; f < TG_MOCK_NFAMILIES; f++) {
		int t = fams == -1 ? -1 : tg_json_get(&j, fams, family_names[f]);

		if (t == -1)
			continue;
		if (get_int(&j, t, "base_tokens", 0, &p->framing[f].base_tokens) == -1 ||
		    get_int(&j, t, "message_tokens", 0, &p->framing[f].message_tokens) == -1) {
			snprintf(err, errlen, "profiles: families.%s has a bad number", family_names[f]);
			goto fail;
		}
	}
	models = tg_json_get(&j, 0, "models");
	if (models == -1 || !tg_json_is_arr(&j, models)) {
		snprintf(err, errlen, "profiles: \"models\" must be an array");
		goto fail;
	}
	for (int k = tg_json_first(&j, models); k != -1; k = tg_json_after(&j, models, k))
		n++;
	p->v = calloc((size_t)(n ? n : 1), sizeof(*p->v));
	if (p->v == NULL) {
		snprintf(err, errlen, "profiles: out of memory");
		goto fail;
	}
	for (int k = tg_json_first(&j, models); k != -1; k = tg_json_after(&j, models, k))
		if (parse_model(&j, k, &p->v[p->n++], err, errlen) == -1)
			goto fail;
	tg_json_fini(&j);
	return 0;
fail:
	tg_json_fini(&j);
	tg_mock_profiles_fini(p);
	return -1;
}

int
tg_mock_profiles_load(struct tg_mock_profiles *p, const char *path, bool allow_default, char *err,
		      size_t errlen)
{
	struct tg_buf b;
	char chunk[4096];
	size_t n;
	FILE *f = path != NULL ? fopen(path, "r") : NULL;
	int rc;

	if (f == NULL) {
		if (allow_default)
			return tg_mock_profiles_parse(p, tg_mock_default_profiles,
						      strlen(tg_mock_default_profiles), err, errlen);
		snprintf(err, errlen, "could not open %s: %s", path ? path : "(none)",
			 strerror(errno));
		return -1;
	}
	tg_buf_init(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		tg_buf_add(&b, chunk, n);
	fclose(f);
	if (b.failed || b.len == 0) {
		snprintf(err, errlen, "could not read %s", path);
		tg_buf_fini(&b);
		return -1;
	}
	rc = tg_mock_profiles_parse(p, b.p, b.len, err, errlen);
	tg_buf_fini(&b);
	return rc;
}

void
tg_mock_profiles_fini(struct tg_mock_profiles *p)
{
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

const struct tg_mock_profile *
tg_mock_profiles_find(const struct tg_mock_profiles *p, enum tg_mock_family fam, const char *model)
{
	for (int i = 0; i < p->n; i++)
		if (p->v[i].family == fam && strcmp(p->v[i].name, model) == 0)
			return &p->v[i];
	return NULL;
}

/* ---- generation ---- */

static const char *const filler[] = {
	"the", "model", "answer", "is", "that", "a", "simple", "request", "can", "cost",
	"more", "than", "it", "seems", "because", "every", "token", "counts", "and", "billing",
	"follows", "usage", "so", "we", "measure", "each", "call", "carefully", "before", "choosing",
	"which", "provider", "serves", "traffic", "when", "prices", "change", "over", "time", "while",
	"latency", "matters", "too", "for", "users", "waiting", "on", "replies", "in", "practice",
	"cheaper", "models", "think", "longer", "sometimes", "hidden", "reasoning", "adds", "output",
	"tokens", "quietly", "then", "totals", "grow",
};

#define NFILLER (sizeof(filler) / sizeof(filler[0]))

/* Appends words until the text costs at least want tokens; sentences end with a period. */
static void
fill_words(struct tg_buf *b, struct tg_mock_rng *rng, int want, int sentence_words)
{
	int in_sentence = 0;

	while (tg_mock_tokens(b->len) < want && !b->failed) {
		const char *w = filler[tg_mock_rng_below(rng, (uint32_t)NFILLER)];

		if (b->len > 0)
			tg_buf_add(b, " ", 1);
		if (in_sentence == 0) {
			char cap = (char)toupper((unsigned char)w[0]);

			tg_buf_add(b, &cap, 1);
			tg_buf_puts(b, w + 1);
		} else {
			tg_buf_puts(b, w);
		}
		if (++in_sentence == sentence_words) {
			tg_buf_add(b, ".", 1);
			in_sentence = 0;
		}
	}
	if (in_sentence > 0 && tg_mock_tokens(b->len + 1) == tg_mock_tokens(b->len))
		tg_buf_add(b, ".", 1);
}

void
tg_mock_gen_init(struct tg_mock_gen *g)
{
	memset(g, 0, sizeof(*g));
	tg_buf_init(&g->text);
	tg_buf_init(&g->thought);
}

void
tg_mock_gen_fini(struct tg_mock_gen *g)
{
	tg_buf_fini(&g->text);
	tg_buf_fini(&g->thought);
}

static const struct tg_mock_answer *
match_answer(const struct tg_mock_profile *pr, const char *prompt)
{
	char low[1024];
	size_t i;

	for (i = 0; prompt[i] != '\0' && i < sizeof(low) - 1; i++)
		low[i] = (char)tolower((unsigned char)prompt[i]);
	low[i] = '\0';
	for (int k = 0; k < pr->nanswers; k++)
		if (strstr(low, pr->answers[k].match) != NULL)
			return &pr->answers[k];
	return NULL;
}

void
tg_mock_generate(struct tg_mock_gen *g, const struct tg_mock_profile *pr,
		 const struct tg_mock_gen_opts *o, struct tg_mock_rng *rng)
{
	const struct tg_mock_answer *an = o->fixed ? NULL : match_answer(pr, o->prompt);
	int words = strcmp(pr->style, "terse") == 0 ? 6 : strcmp(pr->style, "verbose") == 0 ? 18 : 11;
	long max_tokens = o->max_tokens;

	tg_buf_reset(&g->text);
	tg_buf_reset(&g->thought);
	g->truncated = false;
	g->think_tokens = 0;
	g->call_tokens = 0;
	g->rep = 0;
	/* sample thinking first so a canned answer does not shift the RNG stream */
	if (o->think && pr->think_mean > 0) {
		g->think_tokens = tg_mock_rng_spread(rng, pr->think_mean, pr->think_spread);
		if (g->think_tokens == 0)
			g->think_tokens = 1;
		if (o->think_cap > 0 && g->think_tokens > o->think_cap)
			g->think_tokens = (int)o->think_cap;
	}
	if (o->fixed != NULL) {
		tg_buf_puts(&g->text, o->fixed);
	} else if (o->force_tokens > 0) {
		/* one repeated 4-byte piece: a stream of any length is one template event */
		g->rep = (int)(max_tokens > 0 && max_tokens < o->force_tokens ? max_tokens
									       : o->force_tokens);
		g->truncated = g->rep < o->force_tokens;
		for (int i = 0; i < g->rep && !g->text.failed; i++)
			tg_buf_add(&g->text, TG_MOCK_REP_PIECE, 4);
		max_tokens = 0;
	} else if (an != NULL) {
		tg_buf_puts(&g->text, an->text);
	} else {
		int want = tg_mock_rng_spread(rng, pr->out_mean, pr->out_spread);

		fill_words(&g->text, rng, want > 0 ? want : 1, words);
	}
	if (o->show_thought && g->think_tokens > 0) {
		fill_words(&g->thought, rng, g->think_tokens, 9);
		/* the thinking text is what is billed: make the count follow the text */
		g->think_tokens = tg_mock_tokens(g->thought.len);
	}
	if (max_tokens > 0 && tg_mock_tokens(g->text.len) > max_tokens) {
		g->text.len = (size_t)max_tokens * 4;
		/* never cut a UTF-8 sequence in two */
		while (g->text.len > 0 && ((unsigned char)g->text.p[g->text.len] & 0xc0) == 0x80)
			g->text.len--;
		g->text.p[g->text.len] = '\0';
		g->truncated = true;
	}
	g->text_tokens = tg_mock_tokens(g->text.len);
}
