/*
 * Faults on demand: which fault a call gets (header, run-time rule, run flags),
 * how a body fault reshapes a rendered reply plan, the /__mock/faults document,
 * and the per-family call counters behind /__mock/stats.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"

static const char *const fault_names[TG_FAULT_NKINDS] = {
	"none", "429", "quota", "500", "503", "529", "timeout", "reset", "reset-midstream",
	"error-midstream", "garbage", "slow", "403", "403-content", "split-surrogate",
};

/* A slow reply: this long before the first byte, then this long between pieces. */
#define SLOW_FIRST_MS 2000
#define SLOW_GAP_MS   250
#define SLOW_PIECES   8

const char *
tg_mock_fault_name(enum tg_mock_fault f)
{
	return (unsigned)f < TG_FAULT_NKINDS ? fault_names[f] : "?";
}

int
tg_mock_fault_parse(const char *name, enum tg_mock_fault *out)
{
	for (int i = 0; i < TG_FAULT_NKINDS; i++)
		if (strcmp(name, fault_names[i]) == 0) {
			*out = (enum tg_mock_fault)i;
			return 0;
		}
	return -1;
}

/* Whether a rule fires on this call; consumes one of its counted calls. */
static bool
rule_fires(struct tg_mock *m, struct tg_mock_fault_rule *rule)
{
	if (rule->kind == TG_FAULT_NONE)
		return false;
	if (rule->count > 0) {
		if (--rule->count == 0) {
			rule->kind = TG_FAULT_NONE;
			rule->count = 0;
			rule->rate_ppm = 0;
			/* this was the last counted call: it still gets the fault */
			return true;
		}
		return true;
	}
	if (rule->rate_ppm >= 1000000)
		return true;
	return tg_mock_rng_below(&m->fault_rng, 1000000) < rule->rate_ppm;
}

enum tg_mock_fault
tg_mock_fault_pick(struct tg_mock *m, enum tg_mock_family fam, const char *header)
{
	enum tg_mock_fault f;
	enum tg_mock_fault kind;

	m->last_retry_after_s = 0;
	if (header != NULL && tg_mock_fault_parse(header, &f) == 0)
		return f;
	kind = m->rule[fam].kind;
	m->last_retry_after_s = m->rule[fam].retry_after_s;
	if (rule_fires(m, &m->rule[fam]))
		return kind;
	m->last_retry_after_s = 0;
	if (rule_fires(m, &m->run_rule))
		return m->run_rule.kind;
	return TG_FAULT_NONE;
}

/* Cut a single-piece body into n pieces so it can be trickled or broken. */
static void
split_body(struct tg_mock_reply *r, int n)
{
	size_t len = r->body.len;
	uint32_t first = r->nev > 0 ? r->ev_delay_ms[0] : 0;

	r->nev = 0;
	for (int i = 1; i <= n; i++) {
		size_t end = len * (size_t)i / (size_t)n;

		if (end == 0 || (r->nev > 0 && end == r->ev_end[r->nev - 1]))
			continue;
		r->body.len = end;
		tg_mock_reply_event(r, 0);
	}
	r->body.len = len;
	if (r->nev > 0)
		r->ev_delay_ms[0] = first;
	r->chunked = true;
}

static void
garbage(struct tg_mock_req *q, struct tg_mock_reply *r)
{
	tg_buf_reset(&r->body);
	r->nev = 0;
	if (!q->stream) {
		/* a JSON content-type over a body cut mid-string */
		tg_buf_puts(&r->body, "{\"id\":\"garbage\",\"content\":[{\"type\":\"text\",\"text\":\"Par");
		tg_mock_reply_event(r, 0);
		return;
	}
	if (q->fam == TG_MOCK_ANTHROPIC || q->responses)
		tg_buf_puts(&r->body, "event: message_start\n");
	tg_buf_puts(&r->body, "data: {\"type\":\"message_start\",\"message\":{\"id\":\n\n");
	tg_mock_reply_event(r, 0);
	if (q->fam == TG_MOCK_ANTHROPIC || q->responses)
		tg_buf_puts(&r->body, "event: content_block_delta\n");
	tg_buf_puts(&r->body, "data: }}not json{{\n\n");
	tg_mock_reply_event(r, 0);
}

/*
 * The first streamed argument fragment that is not empty (Anthropic
 * partial_json, OpenAI function.arguments) starts with \ud83c, the first half
 * of a UTF-16 surrogate pair whose second half never comes: what a provider
 * cutting code units rather than characters would send. JSON allows the
 * escape; no UTF-8 text can hold it. Events after it move by its length.
 */
static void
split_surrogate(struct tg_mock_req *q, struct tg_mock_reply *r)
{
	static const char *const keys[] = { "\"partial_json\":\"", "\"arguments\":\"" };
	static const char half[] = "\\ud83c";
	const char *at = NULL;
	size_t off, n = strlen(half);

	if (!q->stream || r->rep_ev >= 0 || r->body.p == NULL)
		return;
	for (const char *p = r->body.p; at == NULL && p != NULL;) {
		const char *a = strstr(p, keys[0]), *b = strstr(p, keys[1]);
		const char *k = a != NULL && (b == NULL || a < b) ? a : b;
		size_t klen = k == a ? strlen(keys[0]) : strlen(keys[1]);
		if (k == NULL)
			break;
		if (k[klen] != '"')
			at = k + klen;
		p = k + klen;
	}
	if (at == NULL)
		return;
	off = (size_t)(at - r->body.p);
	tg_buf_add(&r->body, half, n);          /* room at the end, then moved into place */
	if (r->body.failed)
		return;
	memmove(r->body.p + off + n, r->body.p + off, r->body.len - n - off);
	memcpy(r->body.p + off, half, n);
	for (int i = 0; i < r->nev; i++) {
		if (r->ev_end[i] > off)
			r->ev_end[i] += (uint32_t)n;
	}
}

void
tg_mock_fault_shape(struct tg_mock *m, struct tg_mock_req *q, struct tg_mock_reply *r,
		    const struct tg_mock_family_ops *ops, enum tg_mock_fault f)
{
	uint32_t first = r->nev > 0 ? r->ev_delay_ms[0] : 0;
	int half;

	(void)m;
	r->fault = true;
	switch (f) {
	case TG_FAULT_TIMEOUT:
		r->action = TG_ACT_HOLD;
		break;
	case TG_FAULT_RESET:
		r->action = TG_ACT_RESET;
		break;
	case TG_FAULT_RESET_MIDSTREAM:
		if (r->nev < 2)
			split_body(r, 2);
		half = (int)((tg_mock_reply_events(r) + 1) / 2);
		tg_mock_reply_keep(r, half);
		r->chunked = true;
		r->action = TG_ACT_RESET_AFTER;
		break;
	case TG_FAULT_ERROR_MIDSTREAM:
		if (!q->stream) {
			/* a whole JSON reply cannot carry an error after its 200 */
			tg_mock_reply_reset(r);
			ops->error(q, r, TG_MOCK_E_INTERNAL, NULL);
			tg_mock_reply_event(r, 0);
			r->ev_delay_ms[0] = first;
			r->fault = true;
			break;
		}
		half = (int)((tg_mock_reply_events(r) + 1) / 2);
		tg_mock_reply_keep(r, half);
		ops->stream_error(q, r);
		tg_mock_reply_event(r, 0);
		break;
	case TG_FAULT_GARBAGE:
		garbage(q, r);
		r->ev_delay_ms[0] = first;
		break;
	case TG_FAULT_SPLIT_SURROGATE:
		split_surrogate(q, r);
		break;
	case TG_FAULT_SLOW:
		if (r->nev < 2)
			split_body(r, SLOW_PIECES);
		r->ev_delay_ms[0] = first > SLOW_FIRST_MS ? first : SLOW_FIRST_MS;
		for (int i = 1; i < r->nev; i++)
			if (r->ev_delay_ms[i] < SLOW_GAP_MS)
				r->ev_delay_ms[i] = SLOW_GAP_MS;
		break;
	default:
		break;
	}
}

/* ---- run-time control ---- */

int
tg_mock_faults_set(struct tg_mock *m, const char *json, size_t len, char *err, size_t errlen)
{
	struct tg_json j;
	struct tg_mock_fault_rule rule = { TG_FAULT_NONE, 1000000, -1, 0 };
	char name[32] = "", prov[32] = "all";
	int t;
	int64_t count;

	if (tg_json_parse(&j, json, len, 64, 4, err, errlen) == -1)
		return -1;
	if (!tg_json_is_obj(&j, 0)) {
		snprintf(err, errlen, "the body must be a JSON object");
		goto fail;
	}
	t = tg_json_get(&j, 0, "fault");
	if (t == -1 || tg_json_str(&j, t, name, sizeof(name)) < 0 ||
	    tg_mock_fault_parse(name, &rule.kind) == -1) {
		snprintf(err, errlen, "\"fault\" must be one of none, 429, quota, 500, 503, 529, "
			 "403, 403-content, timeout, reset, reset-midstream, error-midstream, "
			 "garbage, slow, split-surrogate");
		goto fail;
	}
	t = tg_json_get(&j, 0, "rate");
	if (t != -1) {
		char num[32];
		size_t n;
		const char *raw = tg_json_raw(&j, t, &n);
		double rate;

		if (!tg_json_is_num(&j, t) || n >= sizeof(num)) {
			snprintf(err, errlen, "\"rate\" must be a number from 0 to 1");
			goto fail;
		}
		memcpy(num, raw, n);
		num[n] = '\0';
		rate = strtod(num, NULL);
		if (!(rate >= 0.0 && rate <= 1.0)) {
			snprintf(err, errlen, "\"rate\" must be a number from 0 to 1");
			goto fail;
		}
		rule.rate_ppm = (uint32_t)(rate * 1000000.0 + 0.5);
	}
	t = tg_json_get(&j, 0, "count");
	if (t != -1) {
		if (tg_json_int64(&j, t, &count) == -1 || count < 1) {
			snprintf(err, errlen, "\"count\" must be a positive integer");
			goto fail;
		}
		rule.count = (long)count;
	}
	t = tg_json_get(&j, 0, "retry_after");
	if (t != -1) {
		int64_t secs;
		if (tg_json_int64(&j, t, &secs) == -1 || secs < 1 || secs > 86400) {
			snprintf(err, errlen, "\"retry_after\" must be whole seconds from 1 to 86400");
			goto fail;
		}
		rule.retry_after_s = (int)secs;
	}
	t = tg_json_get(&j, 0, "provider");
	if (t != -1 && tg_json_str(&j, t, prov, sizeof(prov)) < 0) {
		snprintf(err, errlen, "\"provider\" must be a string");
		goto fail;
	}
	if (rule.kind == TG_FAULT_NONE)
		rule = (struct tg_mock_fault_rule){ TG_FAULT_NONE, 0, 0, 0 };
	if (strcmp(prov, "all") != 0 && strcmp(prov, "anthropic") != 0 &&
	    strcmp(prov, "gemini") != 0 && strcmp(prov, "openai") != 0) {
		snprintf(err, errlen, "\"provider\" must be anthropic, gemini, openai or all");
		goto fail;
	}
	for (int f = 0; f < TG_MOCK_NFAMILIES; f++)
		if (strcmp(prov, "all") == 0 || strcmp(prov, tg_mock_family_name(f)) == 0)
			m->rule[f] = rule;
	tg_json_fini(&j);
	return 0;
fail:
	tg_json_fini(&j);
	return -1;
}

static void
rule_json(struct tg_buf *out, const struct tg_mock_fault_rule *r)
{
	tg_buf_printf(out, "{\"fault\":\"%s\",\"rate\":%u.%06u,\"count\":%ld}",
		      tg_mock_fault_name(r->kind), r->rate_ppm / 1000000, r->rate_ppm % 1000000,
		      r->count);
}

void
tg_mock_faults_json(const struct tg_mock *m, struct tg_buf *out)
{
	tg_buf_puts(out, "{\"run\":");
	rule_json(out, &m->run_rule);
	for (int f = 0; f < TG_MOCK_NFAMILIES; f++) {
		tg_buf_printf(out, ",\"%s\":", tg_mock_family_name(f));
		rule_json(out, &m->rule[f]);
	}
	tg_buf_puts(out, "}\n");
}

void
tg_mock_stats_json(const struct tg_mock *m, struct tg_buf *out)
{
	uint64_t total = 0;

	tg_buf_puts(out, "{");
	for (int f = 0; f < TG_MOCK_NFAMILIES; f++) {
		const struct tg_mock_stats *s = &m->stats[f];

		total += s->calls;
		tg_buf_printf(out,
			      "\"%s\":{\"calls\":%llu,\"streams\":%llu,\"ok\":%llu,\"errors\":%llu,"
			      "\"faults\":%llu,\"input_tokens\":%llu,\"output_tokens\":%llu,"
			      "\"cache_read_tokens\":%llu,\"cache_write_tokens\":%llu,"
			      "\"tool_calls\":%llu},",
			      tg_mock_family_name(f), (unsigned long long)s->calls,
			      (unsigned long long)s->streams, (unsigned long long)s->ok,
			      (unsigned long long)s->errors, (unsigned long long)s->faults,
			      (unsigned long long)s->input_tokens, (unsigned long long)s->output_tokens,
			      (unsigned long long)s->cache_read_tokens,
			      (unsigned long long)s->cache_write_tokens,
			      (unsigned long long)s->tool_calls);
	}
	tg_buf_printf(out, "\"total\":%llu}\n", (unsigned long long)total);
}

void
tg_mock_stats_reset(struct tg_mock *m)
{
	memset(m->stats, 0, sizeof(m->stats));
}
