/*
 * A streamed translation's state, shared by the provider-side reader
 * (xlate_stream.c: one provider SSE event at a time) and the client-side
 * writer (xlate_sink.c: the client family's SSE events).
 */
#ifndef TG_XLATE_STREAM_H
#define TG_XLATE_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_buf.h"
#include "tg_cfg.h"
#include "ir.h"

enum xs_block { XS_NONE = 0, XS_TEXT, XS_THINKING, XS_TOOL };

struct tg_xlate_stream {
	enum tg_family provider, client;
	bool     include_usage;         /* OpenAI client asked for the usage chunk */
	char     model[128];            /* what the client asked for, echoed */
	char     id[128];               /* the provider's response id */
	int64_t  created;
	bool     started;               /* the client's first event went out */
	bool     stopped;               /* the provider said how it stopped */
	bool     finish_sent;           /* OpenAI client: the finish_reason chunk went out */
	bool     closed;                /* the client's closing events went out */
	bool     errored;               /* an in-stream error went out: nothing follows */
	bool     any_tool;
	enum ir_stop    stop;
	struct ir_usage usage;          /* cumulative snapshot */
	enum xs_block   block;          /* the client's open block */
	int      index;                 /* Anthropic client: open block's index, -1 before any */
	int      tools;                 /* OpenAI client: tool calls opened so far */
	bool     skip;                  /* Anthropic provider: ignoring a block we do not relay */
	size_t   calls;                 /* Gemini provider: calls seen, for their ids */
	char     tool_id[128], tool_name[128];
	struct tg_buf args;             /* Gemini client: a call's arguments until it ends */
};

/* The client-side writer (xlate_sink.c). Text is unescaped; out gets SSE bytes. */
void xs_start(struct tg_xlate_stream *x, struct tg_buf *out);
void xs_open(struct tg_xlate_stream *x, struct tg_buf *out, enum xs_block kind, const char *id,
	     const char *name);
void xs_delta(struct tg_xlate_stream *x, struct tg_buf *out, const char *s);
/* Text of kind: opens a block of that kind when another is open. */
void xs_text(struct tg_xlate_stream *x, struct tg_buf *out, enum xs_block kind, const char *s);
void xs_signature(struct tg_xlate_stream *x, struct tg_buf *out, const char *sig);
void xs_close_block(struct tg_xlate_stream *x, struct tg_buf *out);
void xs_stop(struct tg_xlate_stream *x, struct tg_buf *out, enum ir_stop stop);
void xs_close(struct tg_xlate_stream *x, struct tg_buf *out);
void xs_error(struct tg_xlate_stream *x, struct tg_buf *out, int status, const char *type,
	      const char *message);
void xs_ping(struct tg_xlate_stream *x, struct tg_buf *out);

#endif /* TG_XLATE_STREAM_H */
