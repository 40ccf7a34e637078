/*
 * The internal representation every family is read into and written from:
 * one parser and one emitter per family (xlate_<family>.c), no pairwise code.
 * Strings are NUL-terminated copies in the context's arena.
 */
#ifndef TG_WIRE_IR_H
#define TG_WIRE_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_buf.h"
#include "tg_cfg.h"
#include "tg_json.h"

enum ir_part_kind { IR_TEXT = 0, IR_IMAGE, IR_THINKING, IR_TOOL_CALL, IR_TOOL_RESULT };

struct ir_part {
	enum ir_part_kind kind;
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

enum ir_role { IR_USER = 0, IR_ASSISTANT };

struct ir_msg {
	enum ir_role    role;
	struct ir_part *parts;
	size_t          nparts;
};

struct ir_tool {
	const char *name, *description;
	const char *params;         /* JSON schema text, or NULL */
};

enum ir_choice { IR_CHOICE_UNSET = 0, IR_CHOICE_AUTO, IR_CHOICE_ANY, IR_CHOICE_NONE, IR_CHOICE_TOOL };
enum ir_think { IR_THINK_UNSET = 0, IR_THINK_OFF, IR_THINK_BUDGET, IR_THINK_AUTO };
enum ir_format { IR_FORMAT_UNSET = 0, IR_FORMAT_JSON, IR_FORMAT_SCHEMA };

struct ir_request {
	const char     *system;     /* joined system text, or NULL */
	struct ir_msg  *msgs;
	size_t          nmsgs;
	struct ir_tool *tools;
	size_t          ntools;
	enum ir_choice  choice;
	const char     *choice_name;        /* IR_CHOICE_TOOL */
	int             parallel;           /* -1 unset, 0 no, 1 yes */
	/* numbers are kept as their JSON text: no float round trip */
	const char     *temperature, *top_p, *presence, *frequency, *seed;
	int64_t         top_k;              /* -1 unset */
	const char    **stops;
	size_t          nstops;
	int64_t         max_tokens;         /* 0 absent */
	enum ir_think   think;
	int64_t         budget;             /* IR_THINK_BUDGET */
	bool            include_thoughts;
	enum ir_format  format;
	const char     *schema, *schema_name;
	bool            stream, include_usage;
	const char     *user;
};

enum ir_stop { IR_STOP_NONE = 0, IR_STOP_END, IR_STOP_SEQUENCE, IR_STOP_MAX, IR_STOP_TOOL,
	       IR_STOP_REFUSAL, IR_STOP_PAUSE, IR_STOP_CONTEXT };

/* input counts every prompt token (cached ones too); output counts reasoning too. */
struct ir_usage {
	int64_t input, cache_read, cache_write, output, reasoning;
	bool    seen;
};

struct ir_response {
	const char     *id;
	struct ir_part *parts;
	size_t          nparts;
	enum ir_stop    stop;
	const char     *stop_seq;
	struct ir_usage usage;
};

struct ir_chunk;

/* One translation's scratch: the arena, the parsed document, the error text. */
struct ir_ctx {
	struct ir_chunk      *arena;
	struct tg_json        j;
	bool                  parsed;
	enum tg_family target;       /* the family being written */
	const char           *model;        /* the provider's model, when known */
	char                 *err;
	size_t                errlen;
	char                  errbuf[8];    /* when the caller gave none */
};

#define IR_MAX_TOKENS 200000
#define IR_MAX_DEPTH  64

void ir_ctx_init(struct ir_ctx *c, enum tg_family target, char *err, size_t errlen);
void ir_ctx_fini(struct ir_ctx *c);
/* Parse src into c->j; -1 with a message. */
int ir_parse(struct ir_ctx *c, const char *src, size_t n);
/* Write a message into c->err; always returns -1. */
int ir_fail(struct ir_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Zeroed arena memory, or NULL. */
void *ir_alloc(struct ir_ctx *c, size_t n);
char *ir_dup(struct ir_ctx *c, const char *s, size_t n);
/* Unescaped copy of string token i; NULL when i is not a string (or OOM). */
const char *ir_str(struct ir_ctx *c, int i);
/* Copy of token i's JSON text, quotes included for strings. */
const char *ir_raw(struct ir_ctx *c, int i);
/* Value of key a, else of key b (snake_case spelling), else -1. */
int ir_get(struct ir_ctx *c, int obj, const char *a, const char *b);
/* Number token's text (copied) or NULL; -1 via err when present but not a number. */
int ir_num(struct ir_ctx *c, int obj, const char *a, const char *b, const char **out);
int ir_int(struct ir_ctx *c, int obj, const char *a, const char *b, int64_t *out);
/* A usage count: key's non-negative integer value, 0 when absent or not one. */
int64_t ir_count(struct ir_ctx *c, int obj, const char *key);
/* s parses as one JSON object. */
bool ir_is_json_object(const char *s);
/* Append s as a quoted JSON string. */
void ir_jstr(struct tg_buf *b, const char *s);
/* Look up each tool result's function name from the call with its id (Gemini needs names). */
void ir_name_results(struct ir_request *r);
/* Does key k (a key token) belong to the NULL-ended list? */
bool ir_key_in(struct ir_ctx *c, int k, const char *const *keys);
/* Refuse every key of object obj outside known; ignored keys are accepted and dropped. */
int ir_check_keys(struct ir_ctx *c, int obj, const char *where, const char *const *known);

const char *ir_family(enum tg_family k);
/* Unique tool call id for a family that has none (Gemini). */
const char *ir_make_id(struct ir_ctx *c, const char *prefix, const char *seed, size_t k);

/* Thinking budget for an OpenAI reasoning_effort, and back. */
int64_t ir_effort_budget(const char *effort, const char *model);
const char *ir_budget_effort(int64_t budget);

/* Per family: one parser and one emitter (xlate_anthropic.c, xlate_openai.c, xlate_gemini.c). */
int ir_anthropic_parse_request(struct ir_ctx *c, struct ir_request *r);
int ir_anthropic_emit_request(struct ir_ctx *c, const struct ir_request *r, const char *model,
			      struct tg_buf *out);
int ir_anthropic_parse_response(struct ir_ctx *c, struct ir_response *r);
void ir_anthropic_emit_response(const struct ir_response *r, const char *model, struct tg_buf *out);
const char *ir_anthropic_stop(enum ir_stop s);
enum ir_stop ir_anthropic_stop_from(const char *s);
void ir_anthropic_usage(const struct ir_usage *u, bool with_input, struct tg_buf *out);

int ir_openai_parse_request(struct ir_ctx *c, struct ir_request *r);
int ir_openai_emit_request(struct ir_ctx *c, const struct ir_request *r, const char *model,
			   struct tg_buf *out);
int ir_openai_parse_response(struct ir_ctx *c, struct ir_response *r);
void ir_openai_emit_response(const struct ir_response *r, const char *model, struct tg_buf *out);
const char *ir_openai_stop(enum ir_stop s);
enum ir_stop ir_openai_stop_from(const char *s);
void ir_openai_usage(const struct ir_usage *u, struct tg_buf *out);
/* Read an OpenAI usage object at token i into u. */
void ir_openai_read_usage(struct ir_ctx *c, int i, struct ir_usage *u);

int ir_gemini_parse_request(struct ir_ctx *c, struct ir_request *r);
int ir_gemini_emit_request(struct ir_ctx *c, const struct ir_request *r, const char *model,
			   struct tg_buf *out);
int ir_gemini_parse_response(struct ir_ctx *c, struct ir_response *r);
void ir_gemini_emit_response(const struct ir_response *r, const char *model, struct tg_buf *out);
const char *ir_gemini_stop(enum ir_stop s);
enum ir_stop ir_gemini_stop_from(const char *s);
void ir_gemini_usage(const struct ir_usage *u, struct tg_buf *out);
void ir_gemini_read_usage(struct ir_ctx *c, int i, struct ir_usage *u);
void ir_anthropic_read_usage(struct ir_ctx *c, int i, struct ir_usage *u);

/* The error type / status names each family uses for an HTTP status. */
const char *ir_anthropic_error_type(int status);
const char *ir_openai_error_type(int status);
const char *ir_gemini_error_status(int status);

#endif /* TG_WIRE_IR_H */
