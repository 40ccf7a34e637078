/*
 * A translated stream's state, shared by stream.c (the object the worker
 * holds), the provider-side readers (<family>_stream.c: one provider event at
 * a time, into the xs_ calls below) and the client-side writers (each
 * family's wire_sink: that family's SSE events).
 */
#ifndef TG_WIRE_STREAM_H
#define TG_WIRE_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "family.h"
#include "ir.h"
#include "tg_buf.h"

enum wire_block { WIRE_BLOCK_NONE = 0, WIRE_BLOCK_TEXT, WIRE_BLOCK_THINKING, WIRE_BLOCK_TOOL };

/* A Responses client's stream (responses_stream.c): numbering, and what its last event repeats. */
struct wire_responses_state {
	uint32_t      seq;            /* the next event's sequence_number */
	unsigned      items;          /* output items opened so far */
	bool          message;        /* a message item went out */
	bool          summary;        /* the open reasoning item's summary part is open */
	char          item_id[48];    /* the open item's id */
	struct tg_buf done;           /* the finished items, JSON, comma-separated */
	struct tg_buf text;           /* the open item's text, arguments or summary so far */
	struct tg_buf sig;            /* the open reasoning item's signature */
};

/* What the client of a translated stream has been told so far. */
struct wire_xlate {
	const struct wire_family *client;
	struct tg_usage usage;          /* the provider's counts so far, from its usage reader */
	bool     include_usage;         /* OpenAI client asked for the usage chunk */
	char     model[TG_WIRE_MODEL_MAX];  /* what the client asked for, echoed */
	char     id[128];               /* the provider's response id, in the client's shape */
	int64_t  created;
	bool     started;               /* the client's first event went out */
	bool     stopped;               /* the provider said how it stopped */
	bool     finish_sent;           /* OpenAI client: the finish_reason chunk went out */
	bool     closed;                /* the client's closing events went out */
	bool     errored;               /* an in-stream error went out: nothing follows */
	bool     any_tool;
	enum ir_stop    stop;
	enum wire_block block;          /* the client's open block */
	int      index;                 /* Anthropic client: open block's index, -1 before any */
	int      tools;                 /* OpenAI client: tool calls opened so far */
	bool     skip;                  /* Anthropic provider: ignoring a block we do not relay */
	bool     redacted;              /* the open thinking block is a redacted_thinking */
	size_t   calls;                 /* Gemini provider: calls seen, for their ids */
	size_t   tool_bytes;            /* argument bytes of the open call so far */
	struct tg_buf tool_id;          /* the open call's id (a Gemini signature inside it) */
	char     tool_name[128];
	struct tg_buf args;             /* Gemini client: a call's arguments until it ends */
	struct tg_buf thinking;         /* OpenAI client: the open thinking block's text */
	struct tg_buf signed_blocks;    /* OpenAI client: thinking_blocks items so far (JSON) */
	char     failure[96];           /* why the gateway ended the stream, "" while it has not */
	struct wire_responses_state rs; /* Responses client */
};

/* One family's client-side events. Text is unescaped; out gets SSE bytes. */
struct wire_sink {
	void (*start)(struct wire_xlate *x, struct tg_buf *out);
	void (*open)(struct wire_xlate *x, struct tg_buf *out);     /* x->block was just opened */
	void (*delta)(struct wire_xlate *x, struct tg_buf *out, const char *s);
	/* the open thinking block's signature (x->redacted: its redacted data); or NULL */
	void (*signature)(struct wire_xlate *x, struct tg_buf *out, const char *sig);
	void (*close_block)(struct wire_xlate *x, struct tg_buf *out);
	void (*stop)(struct wire_xlate *x, struct tg_buf *out);     /* x->stop is known; or NULL */
	void (*close)(struct wire_xlate *x, struct tg_buf *out);
	void (*ping)(struct wire_xlate *x, struct tg_buf *out);
	/* the in-stream error, for a family that numbers its events; NULL: wire_stream_error */
	void (*error)(struct wire_xlate *x, struct tg_buf *out, const struct wire_err *e);
};

/* Free what a wire_xlate owns (stream.c; text.c's collector has one too). */
void wire_xlate_fini(struct wire_xlate *x);

/*
 * The assistant's text of a stream (text.c): a second wire_xlate over the
 * provider's events whose client is a sink that keeps the text deltas.
 */
struct wire_text;
/* max bytes of text from provider family up's events; NULL when out of memory. */
struct wire_text *wire_text_new(size_t max, const struct wire_family *up);
void wire_text_free(struct wire_text *t);
/* One provider event, parsed into c (the same as the stream's own translation reads). */
void wire_text_event(struct wire_text *t, const struct wire_family *up, struct ir_ctx *c);
/* The text so far; "" for a NULL t (complete false then). */
const char *wire_text_get(const struct wire_text *t, size_t *len, bool *complete);

/*
 * What a provider's reader calls (stream.c): each keeps the state and asks the
 * client's sink, and does nothing once the stream has errored or closed.
 */
void xs_start(struct wire_xlate *x, struct tg_buf *out);
void xs_open(struct wire_xlate *x, struct tg_buf *out, enum wire_block kind, const char *id,
	     const char *name);
void xs_delta(struct wire_xlate *x, struct tg_buf *out, const char *s);
/* Text of kind: opens a block of that kind when another is open. */
void xs_text(struct wire_xlate *x, struct tg_buf *out, enum wire_block kind, const char *s);
void xs_signature(struct wire_xlate *x, struct tg_buf *out, const char *sig);
void xs_close_block(struct wire_xlate *x, struct tg_buf *out);
void xs_stop(struct wire_xlate *x, struct tg_buf *out, enum ir_stop stop);
void xs_close(struct wire_xlate *x, struct tg_buf *out);
/*
 * The client family's in-stream error for status, with the provider's message
 * (its type names are the provider's family's, which the client does not speak).
 */
void xs_error(struct wire_xlate *x, struct tg_buf *out, int status, const char *message);
/*
 * The provider's reply cannot be put in the client's family (a fragment that
 * does not decode, arguments that are not an object): the client's in-stream
 * error, and why kept in x->failure for the call's record. Nothing follows.
 */
void xs_fail(struct wire_xlate *x, struct tg_buf *out, const char *why);
void xs_ping(struct wire_xlate *x, struct tg_buf *out);
/* The provider's response id, in the client family's shape. */
void xs_set_id(struct wire_xlate *x, const char *id);

#endif /* TG_WIRE_STREAM_H */
