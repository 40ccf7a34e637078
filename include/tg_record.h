/*
 * The log record: one fixed-size, self-contained entry per finished call (with
 * all its provider attempts) or per audit event. Workers fill it and push it to
 * their ring (tg_ring.h); the logger writes it to PostgreSQL; the spool stores
 * it byte for byte. Bump TG_RECORD_VERSION on any change of size or order.
 */
#ifndef TG_RECORD_H
#define TG_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define TG_RECORD_VERSION     1u
#define TG_RECORD_SIZE        1024u
#define TG_RECORD_MAX_ATTEMPTS 8

enum tg_record_kind { TG_REC_REQUEST = 1, TG_REC_AUDIT = 2 };

/* What happened to a call (requests.outcome, attempts.outcome, metrics label). */
enum tg_outcome {
	TG_OUTCOME_OK = 0,          /* 2xx from the provider, answered */
	TG_OUTCOME_CLIENT_ERROR,    /* refused by the gateway: bad request, auth, unknown model */
	TG_OUTCOME_RATE_LIMITED,    /* client key over its RPM/TPM */
	TG_OUTCOME_UNAVAILABLE,     /* failed fast: breaker open, provider throttled/disabled, backpressure */
	TG_OUTCOME_UPSTREAM_4XX,    /* the provider refused the request itself */
	TG_OUTCOME_UPSTREAM_ERROR,  /* 5xx, garbage, connection failure */
	TG_OUTCOME_TIMEOUT,         /* connect, first byte or total timeout */
	TG_OUTCOME_INCOMPLETE,      /* a stream that broke after the first byte */
	TG_OUTCOME_CANCELLED,       /* the client went away */
	TG_OUTCOME_UNKNOWN,         /* in flight in a worker that died */
	TG_OUTCOME_COUNT
};

/* Lower-case names used in the database and metrics, indexed by enum tg_outcome. */
extern const char *const tg_outcome_names[TG_OUTCOME_COUNT];

/* Client-facing endpoints a request record names. */
enum tg_endpoint {
	TG_EP_NONE = 0,
	TG_EP_ANTHROPIC_MESSAGES,
	TG_EP_OPENAI_CHAT,
	TG_EP_GEMINI_GENERATE,
	TG_EP_GEMINI_STREAM,
	TG_EP_COUNT
};

/* Their paths, as stored in requests.endpoint, indexed by enum tg_endpoint. */
extern const char *const tg_endpoint_names[TG_EP_COUNT];

struct tg_attempt_rec {
	uint16_t status;              /* HTTP status from the provider, 0 if none */
	uint8_t  outcome;             /* enum tg_outcome */
	uint8_t  provider;            /* index into the record's provider names: 0 = request's */
	uint32_t latency_us;
	int64_t  cost_pusd;           /* what the provider billed for this attempt */
	char     provider_name[16];
};

struct tg_request_rec {
	uint8_t  request_id[16];      /* UUIDv7, the primary key */
	uint64_t created_us;          /* wall clock, µs since the epoch */
	uint16_t status;              /* what the client got */
	uint8_t  outcome;             /* enum tg_outcome */
	uint8_t  stream;
	uint8_t  usage_complete;
	uint8_t  n_attempts;
	uint8_t  endpoint;            /* enum tg_endpoint */
	uint8_t  pad;
	int64_t  input_tokens, output_tokens, reasoning_tokens, cache_read_tokens, cache_write_tokens;
	int64_t  cost_pusd;           /* the client's charge for this request id */
	uint32_t latency_us, ttfb_us, overhead_us;
	uint32_t pad2;
	char     key_name[48];
	char     route[40];
	char     provider[24];
	char     model[48];
	char     upstream_model[64];
	char     upstream_request_id[64];
	char     client_request_id[256];   /* validated: at most 255 printable ASCII characters */
	char     error[64];
	struct tg_attempt_rec attempts[TG_RECORD_MAX_ATTEMPTS];
};

struct tg_audit_rec {
	uint8_t  event_id[16];        /* UUIDv7, so a replayed audit entry is written once */
	uint64_t at_us;
	char     actor[32];           /* "master", "worker", "admin" */
	char     event[48];           /* "reload", "breaker_open", … */
	char     detail[880];         /* a JSON object */
};

struct tg_record {
	uint32_t len;                 /* bytes of the body that follows the header */
	uint32_t crc;                 /* CRC32C of kind..end of body */
	uint16_t kind;                /* enum tg_record_kind */
	uint16_t version;             /* TG_RECORD_VERSION */
	uint32_t reserved;
	union {
		struct tg_request_rec req;
		struct tg_audit_rec   audit;
		uint8_t               raw[TG_RECORD_SIZE - 16];
	} u;
};

_Static_assert(sizeof(struct tg_request_rec) <= TG_RECORD_SIZE - 16, "request record fits");
_Static_assert(sizeof(struct tg_audit_rec) <= TG_RECORD_SIZE - 16, "audit record fits");
_Static_assert(sizeof(struct tg_record) == TG_RECORD_SIZE, "records are fixed-size");
_Static_assert(offsetof(struct tg_record, u) == 16, "header layout is stored on disk");

#endif /* TG_RECORD_H */
