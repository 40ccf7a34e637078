/*
 * Record version 1 (1 KiB records, names cut to 15-63 bytes, up to 8 attempts,
 * no delivery, route reason, checks or shadow fields): its layout, kept here
 * only, and its conversion to this build's records. Version 1 rows are
 * 'delivered' unless the client left ('cancelled') or the worker died
 * ('unknown'), as migration 0002 says of rows already in the database.
 */
#include <stddef.h>
#include <string.h>

#include "upgrade.h"
#include "tg_crc32c.h"
#include "tg_log.h"
#include "tg_ring.h"

#define V1_MAX_ATTEMPTS 8

struct v1_attempt {
	uint16_t status;
	uint8_t  outcome;
	uint8_t  provider;            /* index into the record's provider names: 0 = request's */
	uint32_t latency_us;
	int64_t  cost_pusd;
	char     provider_name[16];
};

struct v1_request {
	uint8_t  request_id[16];
	uint64_t created_us;
	uint16_t status;
	uint8_t  outcome;             /* enum tg_outcome: version 1 used the first ten values */
	uint8_t  stream;
	uint8_t  usage_complete;
	uint8_t  n_attempts;
	uint8_t  endpoint;            /* enum tg_endpoint: version 1 used the first five values */
	uint8_t  pad;
	int64_t  input_tokens, output_tokens, reasoning_tokens;
	int64_t  cache_read_tokens, cache_write_tokens;
	int64_t  cost_pusd;
	uint32_t latency_us, ttfb_us, overhead_us;
	uint32_t pad2;
	char     key_name[48];
	char     route[40];
	char     provider[24];
	char     model[48];
	char     upstream_model[64];
	char     upstream_request_id[64];
	char     client_request_id[256];
	char     error[64];
	struct v1_attempt attempts[V1_MAX_ATTEMPTS];
};

struct v1_audit {
	uint8_t  event_id[16];
	uint64_t at_us;
	char     actor[32];
	char     event[48];
	char     detail[880];
};

_Static_assert(sizeof(struct v1_request) == 960, "version 1 request body");
_Static_assert(sizeof(struct v1_audit) == 984, "version 1 audit body");
_Static_assert(64 + sizeof(struct v1_request) == 1024, "version 1 in-flight entry");

/* Copy a fixed-size text field that may fill its array with no NUL. */
#define COPY_NAME(dst, src) copy_name((dst), sizeof(dst), (src), sizeof(src))

static void
copy_name(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	size_t n = strnlen(src, srclen);

	if (n >= dstlen)
		n = dstlen - 1;
	memcpy(dst, src, n);
	memset(dst + n, 0, dstlen - n);
}

static void
upgrade_request(const struct v1_request *o, struct tg_request_rec *q)
{
	uint32_t n = o->n_attempts < V1_MAX_ATTEMPTS ? o->n_attempts : V1_MAX_ATTEMPTS;

	memset(q, 0, sizeof(*q));
	memcpy(q->request_id, o->request_id, sizeof(q->request_id));
	q->created_us = o->created_us;
	q->status = o->status;
	q->outcome = o->outcome <= TG_OUTCOME_UNKNOWN ? o->outcome : TG_OUTCOME_UNKNOWN;
	q->stream = o->stream;
	q->usage_complete = o->usage_complete;
	/* requests.attempts keeps the call's own count even where the attempts table cannot */
	q->n_attempts = (uint8_t)n;
	q->endpoint = o->endpoint <= TG_EP_GEMINI_STREAM ? o->endpoint : TG_EP_NONE;
	q->delivery = q->outcome == TG_OUTCOME_CANCELLED ? TG_DELIVERY_NOT_DELIVERED
		    : q->outcome == TG_OUTCOME_UNKNOWN     ? TG_DELIVERY_UNKNOWN
							   : TG_DELIVERY_DELIVERED;
	q->route_reason = TG_REASON_NONE;
	q->input_tokens = o->input_tokens;
	q->output_tokens = o->output_tokens;
	q->reasoning_tokens = o->reasoning_tokens;
	q->cache_read_tokens = o->cache_read_tokens;
	q->cache_write_tokens = o->cache_write_tokens;
	q->cost_pusd = o->cost_pusd;
	q->latency_us = o->latency_us;
	q->ttfb_us = o->ttfb_us;
	q->overhead_us = o->overhead_us;
	COPY_NAME(q->key_name, o->key_name);
	COPY_NAME(q->route, o->route);
	COPY_NAME(q->provider, o->provider);
	COPY_NAME(q->model, o->model);
	COPY_NAME(q->upstream_model, o->upstream_model);
	COPY_NAME(q->upstream_request_id, o->upstream_request_id);
	COPY_NAME(q->client_request_id, o->client_request_id);
	COPY_NAME(q->error, o->error);
	for (uint32_t i = 0; i < n && i < TG_RECORD_MAX_ATTEMPTS; i++) {
		q->attempts[i].status = o->attempts[i].status;
		q->attempts[i].outcome = o->attempts[i].outcome <= TG_OUTCOME_UNKNOWN
					 ? o->attempts[i].outcome : TG_OUTCOME_UNKNOWN;
		q->attempts[i].latency_us = o->attempts[i].latency_us;
		q->attempts[i].cost_pusd = o->attempts[i].cost_pusd;
		/* empty: the writer then names the request's provider, as version 1 meant */
		COPY_NAME(q->attempts[i].provider_name, o->attempts[i].provider_name);
	}
	if (n > TG_RECORD_MAX_ATTEMPTS) {
		int64_t lost = 0;

		for (uint32_t i = TG_RECORD_MAX_ATTEMPTS; i < n; i++)
			lost += o->attempts[i].cost_pusd;
		/* the provider cost of the attempts with no row is named here, once */
		tg_log_warn(NULL, "version 1 record with %u attempts: attempts %d to %u have no "
			    "row of their own in attempts (their provider cost %lld pico-USD)", n,
			    TG_RECORD_MAX_ATTEMPTS + 1, n, (long long)lost);
	}
}

static void
upgrade_audit(const struct v1_audit *o, struct tg_audit_rec *a)
{
	memset(a, 0, sizeof(*a));
	memcpy(a->event_id, o->event_id, sizeof(a->event_id));
	a->at_us = o->at_us;
	COPY_NAME(a->actor, o->actor);
	COPY_NAME(a->event, o->event);
	COPY_NAME(a->detail, o->detail);
}

uint32_t
tg_upgrade_body_max(uint16_t version)
{
	if (version == TG_RECORD_VERSION)
		return (uint32_t)sizeof(((struct tg_record *)0)->u);
	if (version == 1)
		return (uint32_t)sizeof(struct v1_audit);
	return 0;
}

bool
tg_upgrade_record(struct tg_record *rec)
{
	struct tg_record out;

	if (rec->version == TG_RECORD_VERSION)
		return tg_record_check(rec);
	if (rec->version != 1)
		return false;
	if (!(rec->kind == TG_REC_REQUEST && rec->len == sizeof(struct v1_request)) &&
	    !(rec->kind == TG_REC_AUDIT && rec->len == sizeof(struct v1_audit)))
		return false;
	/* version 1 sealed the same way: CRC32C of kind..end of body */
	if (rec->crc != tg_crc32c(0, &rec->kind, offsetof(struct tg_record, u) - 8 + rec->len))
		return false;
	memset(&out, 0, sizeof(out));
	out.kind = rec->kind;
	if (rec->kind == TG_REC_REQUEST)
		upgrade_request((const struct v1_request *)rec->u.raw, &out.u.req);
	else
		upgrade_audit((const struct v1_audit *)rec->u.raw, &out.u.audit);
	if (tg_record_seal(&out) == -1)
		return false;
	memcpy(rec, &out, sizeof(out));
	return true;
}

int
tg_upgrade_inflight(const void *body, uint32_t version, struct tg_record *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = TG_REC_REQUEST;
	if (version == TG_RECORD_VERSION)
		memcpy(&out->u.req, body, sizeof(out->u.req));
	else if (version == 1)
		upgrade_request(body, &out->u.req);
	else
		return -1;
	return 0;
}
