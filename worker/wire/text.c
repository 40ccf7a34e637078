/*
 * The assistant's text of a reply or a stream, for a route's checks: read
 * through the intermediate form the translators already produce (a whole
 * reply's text parts; a stream's text deltas, through a sink that keeps them
 * instead of writing a client's events), at most a bound. What the checks
 * make of the text is worker/checks.c's.
 */
#include <stdlib.h>
#include <string.h>

#include "family.h"
#include "ir.h"
#include "stream.h"
#include "tg_wire.h"

/* A stream's collector: its own view of the provider's events, and the text so far. */
struct wire_text {
	struct wire_xlate x;            /* first: the sink gets it and finds the rest */
	struct tg_buf     text;
	struct tg_buf     scratch;      /* what the xs_ calls write for a client: dropped */
	size_t            max;
	bool              over;         /* the text went past max */
};

/* Append s[0..n) to b within max bytes in all; false when some did not fit. */
static bool
add_bounded(struct tg_buf *b, const char *s, size_t n, size_t max)
{
	size_t room = b->len < max ? max - b->len : 0;

	tg_buf_add(b, s, n < room ? n : room);
	return n <= room;
}

static void
sink_none(struct wire_xlate *x, struct tg_buf *out)
{
	(void)x;
	(void)out;
}

static void
sink_delta(struct wire_xlate *x, struct tg_buf *out, const char *s)
{
	struct wire_text *t = (struct wire_text *)x;

	(void)out;
	if (x->block == WIRE_BLOCK_TEXT && !add_bounded(&t->text, s, strlen(s), t->max))
		t->over = true;
}

static const struct wire_sink text_sink = {
	.start = sink_none,
	.open = sink_none,
	.delta = sink_delta,
	.signature = NULL,
	.close_block = sink_none,
	.stop = NULL,
	.close = sink_none,
	.ping = sink_none,
};

static void
write_no_error(struct tg_buf *out, const struct wire_err *e)
{
	(void)out;
	(void)e;
}

/* The collector as a "client family": it takes text deltas and writes nothing. */
static const struct wire_family text_family = {
	.family = TG_FAMILY_ANTHROPIC,          /* only for status mapping: any would do */
	.name = "text",
	.reply_id_prefix = "",
	.write_error = write_no_error,
	.sink = &text_sink,
};

struct wire_text *
wire_text_new(size_t max, const struct wire_family *up)
{
	struct wire_text *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	/* a family only ever relayed (Responses) is not read into the intermediate form */
	t->over = up->translate_event == NULL;
	t->x.client = &text_family;
	t->x.index = -1;
	tg_buf_init(&t->x.args);
	tg_buf_init(&t->text);
	tg_buf_init(&t->scratch);
	t->max = max;
	return t;
}

void
wire_text_free(struct wire_text *t)
{
	if (t == NULL)
		return;
	wire_xlate_fini(&t->x);
	tg_buf_fini(&t->text);
	tg_buf_fini(&t->scratch);
	free(t);
}

void
wire_text_event(struct wire_text *t, const struct wire_family *up, struct ir_ctx *c)
{
	if (up->translate_event == NULL)
		return;                 /* wire_text_new said so */
	up->translate_event(&t->x, c, &t->scratch);
	tg_buf_reset(&t->scratch);
}

const char *
wire_text_get(const struct wire_text *t, size_t *len, bool *complete)
{
	if (t == NULL || t->text.failed) {
		*len = 0;
		*complete = false;
		return "";
	}
	*len = t->text.len;
	*complete = !t->over;
	return t->text.len > 0 ? t->text.p : "";
}

int
tg_wire_reply_text(enum tg_family upstream, const char *body, size_t n, struct tg_buf *out,
		   size_t max, bool *complete)
{
	const struct wire_family *f = wire_family(upstream);
	struct ir_response r;
	struct ir_ctx c;
	size_t start = out->len;
	int rc = -1;

	*complete = true;
	if (f == NULL)
		return -1;
	if (f->read_reply == NULL) {
		*complete = false;      /* only ever relayed (Responses): no text to judge */
		return 0;
	}
	ir_ctx_init(&c, "text", NULL, 0);
	memset(&r, 0, sizeof(r));
	if (ir_parse_reply(&c, body, n) == 0 && f->read_reply(&c, &r) == 0) {
		for (size_t i = 0; i < r.nparts; i++) {
			const char *s = r.parts[i].text;

			if (r.parts[i].kind != IR_TEXT || s == NULL)
				continue;
			/* the bound is the text's, not the buffer's */
			if (out->len - start + strlen(s) > max) {
				tg_buf_add(out, s, max - (out->len - start));
				*complete = false;
				break;
			}
			tg_buf_add(out, s, strlen(s));
		}
		rc = out->failed ? -1 : 0;
	}
	ir_ctx_fini(&c);
	return rc;
}
