/*
 * The internal representation every family is read into and written from:
 * one parser and one emitter per family (xlate_<family>.c), no pairwise code.
 * Strings are NUL-terminated copies in the context's arena.
 */
#ifndef TG_XLATE_IR_H
#define TG_XLATE_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_buf.h"
#include "tg_cfg.h"
#include "tg_json.h"

enum xl_part_kind { XL_TEXT = 0, XL_IMAGE, XL_THINKING, XL_TOOL_CALL, XL_TOOL_RESULT };

struct xl_part {
	enum xl_part_kind kind;
	const char *text;           /* TEXT, THINKING; TOOL_RESULT content */
	const char *mime;           /* IMAGE: media type, NULL when only a URL is known */
	const char *data;           /* IMAGE: base64 bytes, or NULL */
	const char *url;            /* IMAGE: a URL, or NULL */
	const char *id, *name;      /* TOOL_CALL, TOOL_RESULT (name may be NULL) */
	const char *args;           /* TOOL_CALL: a JSON object's text */
	const char *signature;      /* THINKING: Anthropic signature, or redacted data */
	bool redacted;              /* THINKING: Anthropic redacted_thinking */
	bool is_error;              /* TOOL_RESULT */
};

enum xl_role { XL_USER = 0, XL_ASSISTANT };

struct xl_msg {
	enum xl_role    role;
	struct xl_part *parts;
	size_t          nparts;
};

struct xl_tool {
	const char *name, *description;
	const char *params;         /* JSON schema text, or NULL */
};

enum xl_choice { XL_CHOICE_UNSET = 0, XL_CHOICE_AUTO, XL_CHOICE_ANY, XL_CHOICE_NONE, XL_CHOICE_TOOL };
enum xl_think { XL_THINK_UNSET = 0, XL_THINK_OFF, XL_THINK_BUDGET, XL_THINK_AUTO };
enum xl_format { XL_FORMAT_UNSET = 0, XL_FORMAT_JSON, XL_FORMAT_SCHEMA };

struct xl_request {
	const char     *system;     /* joined system text, or NULL */
	struct xl_msg  *msgs;
	size_t          nmsgs;
	struct xl_tool *tools;
	size_t          ntools;
	enum xl_choice  choice;
	const char     *choice_name;        /* XL_CHOICE_TOOL */
	int             parallel;           /* -1 unset, 0 no, 1 yes */
	/* numbers are kept as their JSON text: no float round trip */
	const char     *temperature, *top_p, *presence, *frequency, *seed;
	int64_t         top_k;              /* -1 unset */
	const char    **stops;
	size_t          nstops;
	int64_t         max_tokens;         /* 0 absent */
	enum xl_think   think;
	int64_t         budget;             /* XL_THINK_BUDGET */
	bool            include_thoughts;
	enum xl_format  format;
	const char     *schema, *schema_name;
	bool            stream, include_usage;
	const char     *user;
};

enum xl_stop { XL_STOP_NONE = 0, XL_STOP_END, XL_STOP_SEQUENCE, XL_STOP_MAX, XL_STOP_TOOL,
	       XL_STOP_REFUSAL, XL_STOP_PAUSE, XL_STOP_CONTEXT };

/* input counts every prompt token (cached ones too); output counts reasoning too. */
struct xl_usage {
	int64_t input, cache_read, cache_write, output, reasoning;
	bool    seen;
};

struct xl_response {
	const char     *id;
	struct xl_part *parts;
	size_t          nparts;
	enum xl_stop    stop;
	const char     *stop_seq;
	struct xl_usage usage;
};

struct xl_chunk;

/* One translation's scratch: the arena, the parsed document, the error text. */
struct xl_ctx {
	struct xl_chunk      *arena;
	struct tg_json        j;
	bool                  parsed;
	enum tg_family target;       /* the family being written */
	const char           *model;        /* the provider's model, when known */
	char                 *err;
	size_t                errlen;
	char                  errbuf[8];    /* when the caller gave none */
};

#define XL_MAX_TOKENS 200000
#define XL_MAX_DEPTH  64

void xl_ctx_init(struct xl_ctx *c, enum tg_family target, char *err, size_t errlen);
void xl_ctx_fini(struct xl_ctx *c);
/* Parse src into c->j; -1 with a message. */
int xl_parse(struct xl_ctx *c, const char *src, size_t n);
/* Write a message into c->err; always returns -1. */
int xl_fail(struct xl_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Zeroed arena memory, or NULL. */
void *xl_alloc(struct xl_ctx *c, size_t n);
char *xl_dup(struct xl_ctx *c, const char *s, size_t n);
/* Unescaped copy of string token i; NULL when i is not a string (or OOM). */
const char *xl_str(struct xl_ctx *c, int i);
/* Copy of token i's JSON text, quotes included for strings. */
const char *xl_raw(struct xl_ctx *c, int i);
/* Value of key a, else of key b (snake_case spelling), else -1. */
int xl_get(struct xl_ctx *c, int obj, const char *a, const char *b);
/* Number token's text (copied) or NULL; -1 via err when present but not a number. */
int xl_num(struct xl_ctx *c, int obj, const char *a, const char *b, const char **out);
int xl_int(struct xl_ctx *c, int obj, const char *a, const char *b, int64_t *out);
/* A usage count: key's non-negative integer value, 0 when absent or not one. */
int64_t xl_count(struct xl_ctx *c, int obj, const char *key);
/* s parses as one JSON object. */
bool xl_is_json_object(const char *s);
/* Append s as a quoted JSON string. */
void xl_jstr(struct tg_buf *b, const char *s);
/* Look up each tool result's function name from the call with its id (Gemini needs names). */
void xl_name_results(struct xl_request *r);
/* Does key k (a key token) belong to the NULL-ended list? */
bool xl_key_in(struct xl_ctx *c, int k, const char *const *keys);
/* Refuse every key of object obj outside known; ignored keys are accepted and dropped. */
int xl_check_keys(struct xl_ctx *c, int obj, const char *where, const char *const *known);

const char *xl_family(enum tg_family k);
/* Unique tool call id for a family that has none (Gemini). */
const char *xl_make_id(struct xl_ctx *c, const char *prefix, const char *seed, size_t k);

/* Thinking budget for an OpenAI reasoning_effort, and back. */
int64_t xl_effort_budget(const char *effort, const char *model);
const char *xl_budget_effort(int64_t budget);

/* Per family: one parser and one emitter (xlate_anthropic.c, xlate_openai.c, xlate_gemini.c). */
int xl_anthropic_parse_request(struct xl_ctx *c, struct xl_request *r);
int xl_anthropic_emit_request(struct xl_ctx *c, const struct xl_request *r, const char *model,
			      struct tg_buf *out);
int xl_anthropic_parse_response(struct xl_ctx *c, struct xl_response *r);
void xl_anthropic_emit_response(const struct xl_response *r, const char *model, struct tg_buf *out);
const char *xl_anthropic_stop(enum xl_stop s);
enum xl_stop xl_anthropic_stop_from(const char *s);
void xl_anthropic_usage(const struct xl_usage *u, bool with_input, struct tg_buf *out);

int xl_openai_parse_request(struct xl_ctx *c, struct xl_request *r);
int xl_openai_emit_request(struct xl_ctx *c, const struct xl_request *r, const char *model,
			   struct tg_buf *out);
int xl_openai_parse_response(struct xl_ctx *c, struct xl_response *r);
void xl_openai_emit_response(const struct xl_response *r, const char *model, struct tg_buf *out);
const char *xl_openai_stop(enum xl_stop s);
enum xl_stop xl_openai_stop_from(const char *s);
void xl_openai_usage(const struct xl_usage *u, struct tg_buf *out);
/* Read an OpenAI usage object at token i into u. */
void xl_openai_read_usage(struct xl_ctx *c, int i, struct xl_usage *u);

int xl_gemini_parse_request(struct xl_ctx *c, struct xl_request *r);
int xl_gemini_emit_request(struct xl_ctx *c, const struct xl_request *r, const char *model,
			   struct tg_buf *out);
int xl_gemini_parse_response(struct xl_ctx *c, struct xl_response *r);
void xl_gemini_emit_response(const struct xl_response *r, const char *model, struct tg_buf *out);
const char *xl_gemini_stop(enum xl_stop s);
enum xl_stop xl_gemini_stop_from(const char *s);
void xl_gemini_usage(const struct xl_usage *u, struct tg_buf *out);
void xl_gemini_read_usage(struct xl_ctx *c, int i, struct xl_usage *u);
void xl_anthropic_read_usage(struct xl_ctx *c, int i, struct xl_usage *u);

/* The error type / status names each family uses for an HTTP status. */
const char *xl_anthropic_error_type(int status);
const char *xl_openai_error_type(int status);
const char *xl_gemini_error_status(int status);

#endif /* TG_XLATE_IR_H */
