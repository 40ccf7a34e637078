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

#define TG_RECORD_VERSION     2u
#define TG_RECORD_SIZE        2048u
#define TG_RECORD_MAX_ATTEMPTS 6       /* provider attempts one call may make, retries and fallbacks together */
#define TG_RECORD_NAME        64      /* every configured name fits whole (TG_NAME_MAX) */

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
	TG_OUTCOME_GATEWAY_CUT,     /* the gateway cut it (stop deadline): usage as seen so far */
	TG_OUTCOME_BUDGET,          /* refused: the key's budget would be exceeded (SPEC section 14) */
	TG_OUTCOME_COUNT
};

/* Lower-case names used in the database and metrics, indexed by enum tg_outcome. */
extern const char *const tg_outcome_names[TG_OUTCOME_COUNT];

/* Whether the client got the reply (requests.delivery). */
enum tg_delivery {
	TG_DELIVERY_UNKNOWN = 0,    /* recovered from a dead worker: the reply may or may not have left */
	TG_DELIVERY_DELIVERED,      /* every byte of the reply was handed to the client's socket */
	TG_DELIVERY_NOT_DELIVERED,  /* the client went away first */
	TG_DELIVERY_COUNT
};

extern const char *const tg_delivery_names[TG_DELIVERY_COUNT];

/* Why a route sent the call to its target (SPEC section 13); 0 when no route was named. */
enum tg_route_reason {
	TG_REASON_NONE = 0,
	TG_REASON_ONLY,             /* a route of one target */
	TG_REASON_FALLBACK,         /* fallback strategy's order, or the next target after a failure */
	TG_REASON_CHEAPEST,         /* cost strategy: lowest realised cost */
	TG_REASON_EXPLORE,          /* cost strategy: sampling an under-observed target */
	TG_REASON_WEIGHTED,         /* weighted strategy */
	TG_REASON_GUARD,            /* every cheaper target is over a guard */
	TG_REASON_COUNT
};

extern const char *const tg_route_reason_names[TG_REASON_COUNT];

/* Client-facing endpoints a request record names. */
enum tg_endpoint {
	TG_EP_NONE = 0,
	TG_EP_ANTHROPIC_MESSAGES,
	TG_EP_OPENAI_CHAT,
	TG_EP_GEMINI_GENERATE,
	TG_EP_GEMINI_STREAM,
	TG_EP_OPENAI_RESPONSES,
	TG_EP_SHADOW,               /* a shadow call the gateway made itself (SPEC section 13) */
	TG_EP_COUNT
};

/* Their paths, as stored in requests.endpoint, indexed by enum tg_endpoint. */
extern const char *const tg_endpoint_names[TG_EP_COUNT];

struct tg_attempt_rec {
	uint16_t status;              /* HTTP status from the provider, 0 if none */
	uint8_t  outcome;             /* enum tg_outcome */
	uint8_t  cost_unknown;        /* the provider may have billed it, we cannot tell how much */
	uint32_t latency_us;
	int64_t  cost_pusd;           /* what the provider billed for this attempt */
	char     provider_name[TG_RECORD_NAME];
	char     model_name[TG_RECORD_NAME];
};

struct tg_request_rec {
	uint8_t  request_id[16];      /* UUIDv7, the primary key */
	uint64_t created_us;          /* wall clock, µs since the epoch */
	uint16_t status;              /* what the client got (or was being sent) */
	uint8_t  outcome;             /* enum tg_outcome */
	uint8_t  stream;
	uint8_t  usage_complete;
	uint8_t  n_attempts;
	uint8_t  endpoint;            /* enum tg_endpoint */
	uint8_t  delivery;            /* enum tg_delivery */
	uint8_t  route_reason;        /* enum tg_route_reason */
	uint8_t  pad[7];
	int64_t  input_tokens, output_tokens, reasoning_tokens, cache_read_tokens, cache_write_tokens;
	int64_t  cost_pusd;           /* the client's charge for this request id */
	uint32_t latency_us, ttfb_us, overhead_us;
	uint32_t checks_run;          /* bit i: the route's check i ran (SPEC section 13) */
	uint32_t checks_passed;       /* bit i: and passed */
	uint32_t checks_unknown;      /* bit i: could not be decided (text over the bound) */
	uint8_t  shadow_of[16];       /* a shadow call: the client call's request_id; else zero */
	char     key_name[TG_RECORD_NAME];
	char     route[TG_RECORD_NAME];
	char     provider[TG_RECORD_NAME];
	char     model[TG_RECORD_NAME];
	char     upstream_model[128];
	char     upstream_request_id[128];
	char     client_request_id[256];   /* validated: at most 255 printable ASCII characters */
	char     error[160];
	struct tg_attempt_rec attempts[TG_RECORD_MAX_ATTEMPTS];
};

struct tg_audit_rec {
	uint8_t  event_id[16];        /* UUIDv7, so a replayed audit entry is written once */
	uint64_t at_us;
	char     actor[64];           /* "master", "worker", "admin:<key name>" */
	char     event[48];           /* "reload", "breaker_open", … */
	char     detail[1800];        /* a JSON object */
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
