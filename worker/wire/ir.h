/*
 * The intermediate form every family is read into and written from: one
 * reader and one writer per family (its table in family.h), no pairwise code.
 * Strings are NUL-terminated copies in the context's arena. Usage is not read
 * here: it comes from the family's one usage reader (family.h).
 */
#ifndef TG_WIRE_IR_H
#define TG_WIRE_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_buf.h"
#include "tg_json.h"
#include "tg_money.h"

enum ir_part_kind { IR_TEXT = 0, IR_IMAGE, IR_THINKING, IR_TOOL_CALL, IR_TOOL_RESULT };

struct ir_part {
	enum ir_part_kind kind;
	const char *text;           /* TEXT, THINKING; TOOL_RESULT content */
	const char *mime;           /* IMAGE: media type, NULL when only a URL is known */
	const char *data;           /* IMAGE: base64 bytes, or NULL */
	const char *url;            /* IMAGE: a URL, or NULL */
	const char *id, *name;      /* TOOL_CALL, TOOL_RESULT (name may be NULL) */
	const char *args;           /* TOOL_CALL: a JSON object's text */
	/* THINKING: Anthropic signature, or redacted data; TOOL_CALL: Gemini thoughtSignature */
	const char *signature;
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
	bool        strict;         /* calls must follow params exactly (OpenAI, Anthropic) */
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


struct ir_response {
	const char     *id;
	struct ir_part *parts;
	size_t          nparts;
	enum ir_stop    stop;
	const char     *stop_seq;
	struct tg_usage usage;      /* normalised: input uncached, output with reasoning */
};

struct ir_chunk;

/* One translation's scratch: the arena, the parsed document, the error text. */
struct ir_ctx {
	struct ir_chunk *arena;
	struct tg_json   j;
	bool             parsed;
	const char      *target;        /* name of the family being written, for messages */
	const char      *model;         /* the provider's model, when known */
	int              bad_str;       /* first string token that would not decode, or -1 */
	bool             oom;           /* an arena allocation failed */
	char            *err;
	size_t           errlen;
	char             errbuf[8];     /* when the caller gave none */
};

#define IR_MAX_TOKENS 200000           /* a client's request */
#define IR_MAX_DEPTH  64
#define IR_REPLY_MAX_TOKENS (1 << 20)   /* a provider's reply: generous, still bounded */
#define IR_REPLY_MAX_DEPTH  256

/* target: the name of the family being written ("anthropic"), for refusals. */
void ir_ctx_init(struct ir_ctx *c, const char *target, char *err, size_t errlen);
void ir_ctx_fini(struct ir_ctx *c);
/* Parse a client's src into c->j, which must be an object; -1 with a message. */
int ir_parse(struct ir_ctx *c, const char *src, size_t n);
/* The same for a provider's reply or event, with the reply bounds. */
int ir_parse_reply(struct ir_ctx *c, const char *src, size_t n);
/*
 * Write a message into c->err; always returns -1. When a string would not
 * decode or memory ran out before, that is the real reason and is said instead
 * (a NULL from ir_str is often reported as "missing" by its caller).
 */
int ir_fail(struct ir_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 0, or -1 with the reason when a string would not decode or memory ran out. */
int ir_check(struct ir_ctx *c);
/* Zeroed arena memory, or NULL. */
void *ir_alloc(struct ir_ctx *c, size_t n);
char *ir_dup(struct ir_ctx *c, const char *s, size_t n);
/*
 * Unescaped copy of string token i; NULL when i is not a string, or when it
 * does not decode (an unpaired UTF-16 surrogate) or memory ran out: both are
 * remembered for ir_fail and ir_check.
 */
const char *ir_str(struct ir_ctx *c, int i);
/* Copy of token i's JSON text, quotes included for strings. */
const char *ir_raw(struct ir_ctx *c, int i);
/* Value of key a, else of key b (snake_case spelling), else -1. */
int ir_get(struct ir_ctx *c, int obj, const char *a, const char *b);
/* Number token's text (copied) or NULL; -1 via err when present but not a number. */
int ir_num(struct ir_ctx *c, int obj, const char *a, const char *b, const char **out);
int ir_int(struct ir_ctx *c, int obj, const char *a, const char *b, int64_t *out);
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

/* Unique tool call id for a family that has none (Gemini). */
const char *ir_make_id(struct ir_ctx *c, const char *prefix, const char *seed, size_t k);

/*
 * A Gemini thoughtSignature travels through the families that have no place
 * for it inside the call's id, the one field every client returns verbatim
 * (with the call and with its result): id, IR_SIG_MARK, then the signature
 * in base64url without padding, so the id keeps to Anthropic's id alphabet.
 * ir_jstr_call_id appends the id so made as a quoted JSON string (the plain id
 * when sig is NULL or is not base64); ir_call_id_text returns it as arena text.
 */
#define IR_SIG_MARK "__tgs_"
void ir_jstr_call_id(struct tg_buf *b, const char *id, const char *sig);
const char *ir_call_id_text(struct ir_ctx *c, const char *id, const char *sig);
/*
 * The provider's id and the signature of an id a client sent back: *sig is
 * NULL when the id carries none (and *id is then the id as it came). Returns
 * -1 only when memory ran out.
 */
int ir_split_call_id(struct ir_ctx *c, const char **id, const char **sig);

/* Thinking budget for an OpenAI reasoning_effort, and back. */
int64_t ir_effort_budget(const char *effort, const char *model);
const char *ir_budget_effort(int64_t budget);

#endif /* TG_WIRE_IR_H */
