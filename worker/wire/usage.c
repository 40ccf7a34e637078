/*
 * What the families' usage readers share: the state of one reading, counts
 * taken from JSON (bounded), printable text for logs and the database, error
 * objects, and the one place counts become struct tg_usage. The readers
 * themselves, one per family, are in <family>_reply.c.
 */
#include <string.h>

#include "family.h"

void
wire_usage_reset_counts(struct wire_usage *u)
{
	u->in = u->out = u->cache_read = u->cache_write = u->reasoning = -1;
	u->tool_prompt = u->total = -1;
}

void
wire_usage_init(struct wire_usage *u)
{
	memset(u, 0, sizeof(*u));
	wire_usage_reset_counts(u);
}

int64_t
wire_count(const struct tg_json *j, int obj, const char *key)
{
	int64_t v;
	int t = tg_json_get(j, obj, key);

	if (t == -1 || tg_json_int64(j, t, &v) == -1 || v < 0 || v > TG_USAGE_MAX_TOKENS)
		return -1;
	return v;
}

void
wire_take(int64_t *dst, int64_t v)
{
	if (v >= 0)
		*dst = v;
}

void
wire_copy_raw(const char *s, size_t n, char *out, size_t cap)
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

void
wire_copy_text(const struct tg_json *j, int t, char *out, size_t cap)
{
	char tmp[512];
	const char *s;
	size_t n;
	long dn;

	if (!tg_json_is_str(j, t))
		return;
	/* unescaped when it fits a scratch buffer, else the raw text */
	dn = tg_json_str(j, t, tmp, sizeof(tmp));
	if (dn >= 0) {
		s = tmp;
		n = (size_t)dn;
	} else {
		s = tg_json_raw(j, t, &n);
	}
	wire_copy_raw(s, n, out, cap);
}

bool
wire_has_error(const struct tg_json *j, int root)
{
	int e = tg_json_get(j, root, "error");

	return e != -1 && !tg_json_is_null(j, e);
}

/* Anthropic error.type, OpenAI type or code, Gemini status: whichever the object has. */
void
wire_usage_error(struct wire_usage *u, const struct tg_json *j)
{
	int e = tg_json_get(j, 0, "error");

	u->info.error = true;
	if (!tg_json_is_obj(j, e)) {
		wire_copy_text(j, e, u->info.error_message, sizeof(u->info.error_message));
		return;
	}
	wire_copy_text(j, tg_json_get(j, e, "message"), u->info.error_message,
		       sizeof(u->info.error_message));
	if (tg_json_is_str(j, tg_json_get(j, e, "type")))
		wire_copy_text(j, tg_json_get(j, e, "type"), u->info.error_type,
			       sizeof(u->info.error_type));
	else if (tg_json_is_str(j, tg_json_get(j, e, "status")))
		wire_copy_text(j, tg_json_get(j, e, "status"), u->info.error_type,
			       sizeof(u->info.error_type));
	else
		wire_copy_text(j, tg_json_get(j, e, "code"), u->info.error_type,
			       sizeof(u->info.error_type));
}

void
wire_usage_counts(const struct wire_family *f, const struct wire_usage *u, struct tg_usage *out)
{
	f->normalise(u, out);
	/* reasoning is a part of output in every family: more of it than output is garbage */
	if (out->reasoning > out->output)
		out->reasoning = out->output;
}

void
wire_usage_result(const struct wire_family *f, const struct wire_usage *u,
		  struct tg_usage_info *out)
{
	*out = u->info;
	wire_usage_counts(f, u, &out->usage);
	out->usage.complete = u->saw_usage && u->saw_end && !u->info.error;
}
