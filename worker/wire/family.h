/*
 * One table of operations per API family: everything worker/wire/ knows about
 * a format sits behind it, and wire.c and stream.c call it without knowing
 * which format it is (as nginx's upstream core calls a protocol module's
 * create_request, process_header and input_filter). Internal to worker/wire/.
 */
#ifndef TG_WIRE_FAMILY_H
#define TG_WIRE_FAMILY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir.h"
#include "tg_buf.h"
#include "tg_json.h"
#include "tg_wire.h"

struct wire_family;
struct wire_xlate;
struct wire_sink;

/* ---- checking a client's request (request.c) ---- */

/* One check of a client body: the parsed document, where refusals go, media found. */
struct wire_check {
	const struct tg_json *j;
	char   *err;
	size_t  errlen;
	int    *media;          /* payload string of each media part found, -1 for none */
	size_t  nmedia, media_cap;
};

/* A member a check reads; several spellings of one member share a slot. */
struct wire_key {
	const char *name;
	int         slot;
};

/* Write a refusal into c->err; always returns -1. */
int wire_bad(struct wire_check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Find the members of obj named in keys (NULL-ended) into idx[0..nslots),
 * the value token or -1; a second member for one slot, escaped spellings
 * included ("mod\u0065l"), is refused as a duplicate, naming prefix and key.
 */
int wire_members(struct wire_check *c, int obj, const struct wire_key *keys, int nslots,
		 int *idx, const char *prefix);

/*
 * The one value of obj under any of names (NULL-ended, escaped spellings
 * decoded): its token, -1 when absent, -2 when there are several.
 */
int wire_unique(const struct tg_json *j, int obj, const char *const *names);

/* model: a non-empty string of at most TG_WIRE_MODEL_MAX - 1 bytes; sets req's model and span. */
int wire_model(struct wire_check *c, int t, struct tg_wire_request *req);

/* name: an array (non-empty if asked) of objects; -1 with the index of the first that is not. */
int wire_want_array(struct wire_check *c, int t, const char *name, bool non_empty);

/* An output limit, when present: an integer from 1 to TG_WIRE_MAX_TOKENS_CAP. */
int wire_max_tokens(struct wire_check *c, int t, const char *name, int64_t *v);

/* A boolean flag, when present. */
int wire_flag(struct wire_check *c, int t, const char *name, bool *v);

/* One media part, whose payload (inline data or a reference) is string token t, or -1. */
int wire_media(struct wire_check *c, int t);

/*
 * est_input_tokens and max_input_tokens of a checked body of n bytes (the
 * rules are tg_wire.h's): string bytes, and the media parts the check noted.
 */
void wire_estimate(struct wire_check *c, size_t n, struct tg_wire_request *req);

/* One edit of a client's body: bytes [start, end) replaced by text (NULL: the model, quoted). */
struct wire_edit {
	size_t      start, end;         /* start == end inserts */
	const char *text;
};

/* Append body with ne (at most 2) edits made to out; -1 when memory ran out. */
int wire_splice(const char *body, size_t n, struct wire_edit *e, int ne, const char *model,
		struct tg_buf *out);
/* The body with its "model" value replaced (unchanged where the body names none). */
int wire_splice_model(const struct tg_wire_request *req, const char *body, size_t n,
		      const char *model, struct tg_buf *out);

/* ---- reading usage, the one reader per family (usage.c and each family) ---- */

/*
 * What one reply says about usage, whole or one streamed event at a time.
 * Counts are the provider's own fields, -1 until reported; the family's
 * normalise op turns them into struct tg_usage for billing and translation.
 */
struct wire_usage {
	struct tg_usage_info info;      /* info.usage is set by wire_usage_result */
	int64_t  in, out, cache_read, cache_write, reasoning, tool_prompt, total;
	bool     saw_usage;             /* some usage object was read */
	bool     saw_end;               /* the end came after the final usage */
	bool     saw_marker;            /* its end marker: message_stop, [DONE], finishReason */
	uint32_t events, garbage;       /* events seen; data that was not the JSON expected */
};

void wire_usage_init(struct wire_usage *u);
/* Forget the counts read so far (a cumulative snapshot replaces them all). */
void wire_usage_reset_counts(struct wire_usage *u);
/* The count at key of obj: -1 when absent, null, not an integer or over TG_USAGE_MAX_TOKENS. */
int64_t wire_count(const struct tg_json *j, int obj, const char *key);
/* A reported count replaces *dst; v == -1 (absent) keeps it. */
void wire_take(int64_t *dst, int64_t v);
/* String token t as printable text for logs and the database, cut on a UTF-8 boundary. */
void wire_copy_text(const struct tg_json *j, int t, char *out, size_t cap);
void wire_copy_raw(const char *s, size_t n, char *out, size_t cap);
/* The counts so far as struct tg_usage: the family's normalise op, and nothing else, decides. */
void wire_usage_counts(const struct wire_family *f, const struct wire_usage *u,
		       struct tg_usage *out);
/* The usage so far: its counts, complete after a proper end without error. */
void wire_usage_result(const struct wire_family *f, const struct wire_usage *u,
		       struct tg_usage_info *out);
/* The error object at the root (its type, status or code, and message) into u->info. */
void wire_usage_error(struct wire_usage *u, const struct tg_json *j);
/* A top-level "error" that is not null. */
bool wire_has_error(const struct tg_json *j, int root);

/* ---- errors ---- */

/* A provider's error body as its family documents it; strings in the context's arena. */
struct wire_perr {
	bool        shaped;         /* the body is the family's error object */
	int         code;           /* Gemini error.code, else 0 */
	const char *type;           /* Anthropic, OpenAI error.type; Gemini error.status */
	const char *code_name;      /* OpenAI error.code; Anthropic error.details.error_code */
	const char *param;          /* OpenAI error.param */
	const char *message;
	const char *reason;         /* Gemini: the reason of an ErrorInfo in details */
	bool        quota_failure;  /* Gemini: details hold a QuotaFailure */
	bool        retry_info;     /* Gemini: details hold a RetryInfo */
	int64_t     retry_ms;       /* its retryDelay, -1 when none */
};

/* An error to write in a family's format. */
struct wire_err {
	int         status;         /* what the client gets */
	bool        own;            /* the gateway's own error: the family's names for status */
	const char *type;           /* the family's own name for it; NULL: the table's for status */
	/* OpenAI error.code, NULL writes null (own: the table's); Anthropic details.error_code */
	const char *code;
	const char *param;          /* OpenAI error.param; NULL writes null */
	const char *reason;         /* a type of the gateway's own ("budget_exceeded"), or NULL */
	const char *message;
};

/* A provider's message without our account's identifiers in it (org-…, proj_…), or NULL. */
const char *wire_redact(struct ir_ctx *c, const char *message);

/* The family's in-stream error event: its error body, framed as its stream frames one. */
void wire_stream_error(const struct wire_family *f, struct tg_buf *out, const struct wire_err *e);

/* ---- the table ---- */

struct wire_family {
	enum tg_family family;
	const char    *name;                /* "anthropic", in refusals */
	const char    *request_id_header;   /* where its SDK reads a request id, or NULL */
	const char    *reply_id_prefix;     /* ids of replies written in this family start so */
	const char    *error_event;         /* SSE event name of an in-stream error, or NULL */
	uint32_t       speaks;              /* as a provider: the families it speaks, as bits */
	bool           status_529;          /* 529 is this family's overload; others get 503 */

	/* a client's request */
	int  (*endpoint)(const char *path, size_t len, const char *query, size_t qlen,
			 struct tg_wire_endpoint *ep, int *status, char *err, size_t errlen);
	int  (*check)(struct wire_check *c, const struct tg_wire_endpoint *ep,
		      struct tg_wire_request *req);
	int  (*rewrite)(const struct tg_wire_request *req, const char *body, size_t n,
			const char *model, struct tg_buf *out);

	/* the intermediate form */
	int  (*read_request)(struct ir_ctx *c, struct ir_request *r);
	int  (*write_request)(struct ir_ctx *c, const struct ir_request *r, const char *model,
			      struct tg_buf *out);
	int  (*read_reply)(struct ir_ctx *c, struct ir_response *r);
	void (*write_reply)(const struct ir_response *r, const char *model, struct tg_buf *out);

	/* usage: the one reader, for billing, streams and translation alike */
	void (*read_reply_usage)(struct wire_usage *u, const struct tg_json *j);
	bool (*event_without_usage)(const char *name, size_t len);
	enum tg_wire_ev (*read_event)(struct wire_usage *u, const char *name, size_t name_len,
				      const char *data, size_t data_len, const struct tg_json *j);
	void (*normalise)(const struct wire_usage *u, struct tg_usage *out);

	/* errors: one table per family, read and written */
	int  (*read_error)(struct ir_ctx *c, struct wire_perr *e);
	void (*write_error)(struct tg_buf *out, const struct wire_err *e);
	enum tg_wire_signal (*classify)(int status, const struct wire_perr *e);

	/* the upstream call */
	int  (*call)(const char *base_url, const char *model, bool stream,
		     const struct tg_secret *key, tg_wire_header_fn *client_header, void *arg,
		     struct tg_wire_call *out);

	/* streams: provider events into the intermediate calls, and the client's events */
	void (*translate_event)(struct wire_xlate *x, struct ir_ctx *c, struct tg_buf *out);
	const struct wire_sink *sink;
};

extern const struct wire_family wire_anthropic;
extern const struct wire_family wire_gemini;
extern const struct wire_family wire_openai;
extern const struct wire_family wire_responses;      /* its own declarations: responses.h */

/* The family's table, or NULL for one not served. */
const struct wire_family *wire_family(enum tg_family f);

/* Whether a name=value pair of a query string (percent-decoded) is there. */
bool wire_query_has(const char *q, size_t n, const char *name, const char *value);

/* Append a "name: value" line (value_len bytes of value) to a call's headers; -1 when it
 * does not fit. */
int wire_call_header(struct tg_wire_call *c, const char *name, const char *value, size_t value_len);
/* "Authorization: Bearer <key>"; -1 when it does not fit. */
int wire_call_bearer(struct tg_wire_call *c, const struct tg_secret *key);
/* The call's URL: the strings given, up to a NULL, one after another; -1 when it does not fit. */
int wire_call_url(struct tg_wire_call *c, ...) __attribute__((sentinel));

/* ---- each family's files: <f>.c (requests, table), <f>_reply.c, <f>_stream.c ---- */

/* Replies through the intermediate form. */
int  wire_anthropic_read_reply(struct ir_ctx *c, struct ir_response *r);
void wire_anthropic_write_reply(const struct ir_response *r, const char *model,
				struct tg_buf *out);
int  wire_gemini_read_reply(struct ir_ctx *c, struct ir_response *r);
void wire_gemini_write_reply(const struct ir_response *r, const char *model, struct tg_buf *out);
int  wire_openai_read_reply(struct ir_ctx *c, struct ir_response *r);
void wire_openai_write_reply(const struct ir_response *r, const char *model, struct tg_buf *out);

/*
 * Gemini's Schema (the OpenAPI subset of parameters and responseSchema) at
 * token t as JSON Schema text: types in lower case, nullable as a type with
 * "null", Gemini-only formats and propertyOrdering left out, example as
 * examples, integers given as strings as numbers; keys outside the subset
 * are passed on as they are. NULL with a message naming where (via c).
 */
const char *wire_gemini_schema(struct ir_ctx *c, int t, const char *where);

/* Content read the same way in requests and replies. */
int  wire_anthropic_block(struct ir_ctx *c, int e, struct ir_part *p);
/* OpenAI tool_calls into msg (room was allocated); a Gemini signature is taken out of each id. */
int  wire_openai_read_tool_calls(struct ir_ctx *c, int tc, struct ir_msg *msg);
/* The ,"tool_calls":[…] member for the tool call parts; carry: Gemini signatures in the ids. */
void wire_openai_tool_calls(struct tg_buf *b, const struct ir_part *parts, size_t n, bool carry);
/*
 * Anthropic's signed thinking in the OpenAI format, which has no place for it:
 * an assistant message's thinking_blocks (LiteLLM's convention), read into
 * msg (room was allocated) and written (,"thinking_blocks":[…], or nothing).
 */
int  wire_openai_read_thinking_blocks(struct ir_ctx *c, int tb, struct ir_msg *msg);
void wire_openai_thinking_blocks(struct tg_buf *b, const struct ir_part *parts, size_t n);

/* The usage readers and normalisers (the table's usage ops). */
void wire_anthropic_reply_usage(struct wire_usage *u, const struct tg_json *j);
bool wire_anthropic_event_without_usage(const char *name, size_t len);
enum tg_wire_ev wire_anthropic_read_event(struct wire_usage *u, const char *name,
					  size_t name_len, const char *data, size_t data_len,
					  const struct tg_json *j);
void wire_anthropic_normalise(const struct wire_usage *u, struct tg_usage *out);
void wire_gemini_reply_usage(struct wire_usage *u, const struct tg_json *j);
enum tg_wire_ev wire_gemini_read_event(struct wire_usage *u, const char *name, size_t name_len,
				       const char *data, size_t data_len, const struct tg_json *j);
void wire_gemini_normalise(const struct wire_usage *u, struct tg_usage *out);
void wire_openai_reply_usage(struct wire_usage *u, const struct tg_json *j);
enum tg_wire_ev wire_openai_read_event(struct wire_usage *u, const char *name, size_t name_len,
				       const char *data, size_t data_len, const struct tg_json *j);
void wire_openai_normalise(const struct wire_usage *u, struct tg_usage *out);

/* Usage objects as each family writes them (replies and streams). */
void wire_anthropic_usage(const struct tg_usage *u, bool with_input, struct tg_buf *out);
void wire_gemini_usage(const struct tg_usage *u, struct tg_buf *out);
void wire_openai_usage(const struct tg_usage *u, struct tg_buf *out);

/* Stop reasons in and out of each family's names. */
const char *wire_anthropic_stop(enum ir_stop s);
enum ir_stop wire_anthropic_stop_from(const char *s);
const char *wire_gemini_stop(enum ir_stop s);
enum ir_stop wire_gemini_stop_from(const char *s);
const char *wire_openai_stop(enum ir_stop s);
enum ir_stop wire_openai_stop_from(const char *s);

/* Errors: each family's table, reader, writer and judge. */
int  wire_anthropic_read_error(struct ir_ctx *c, struct wire_perr *e);
void wire_anthropic_write_error(struct tg_buf *out, const struct wire_err *e);
enum tg_wire_signal wire_anthropic_classify(int status, const struct wire_perr *e);
/* The status an Anthropic error type stands for (in-stream errors carry no status). */
int  wire_anthropic_error_status(const char *type);
int  wire_gemini_read_error(struct ir_ctx *c, struct wire_perr *e);
void wire_gemini_write_error(struct tg_buf *out, const struct wire_err *e);
enum tg_wire_signal wire_gemini_classify(int status, const struct wire_perr *e);
int  wire_openai_read_error(struct ir_ctx *c, struct wire_perr *e);
void wire_openai_write_error(struct tg_buf *out, const struct wire_err *e);
enum tg_wire_signal wire_openai_classify(int status, const struct wire_perr *e);

/* The stream halves: provider events in (translate_event), client events out (sink). */
void wire_anthropic_translate(struct wire_xlate *x, struct ir_ctx *c, struct tg_buf *out);
void wire_gemini_translate(struct wire_xlate *x, struct ir_ctx *c, struct tg_buf *out);
void wire_openai_translate(struct wire_xlate *x, struct ir_ctx *c, struct tg_buf *out);
extern const struct wire_sink wire_anthropic_sink;
extern const struct wire_sink wire_gemini_sink;
extern const struct wire_sink wire_openai_sink;

#endif /* TG_WIRE_FAMILY_H */
