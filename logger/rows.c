/*
 * Records → binary COPY rows: each field a 32-bit length (-1 = NULL) and its
 * value in PostgreSQL's send format, big-endian. A row is built in a buffer on
 * the stack (a record's text fields are bounded; cleaning never lengthens
 * them) and appended whole. Which table a row goes to is db.c's business.
 */
#include "rows.h"

#include <string.h>

#define ROW_MAX      4096               /* any record's row fits: 2 KiB records, 4-byte headers */
#define PG_EPOCH_US  946684800000000LL  /* 2000-01-01 00:00:00 UTC, PostgreSQL's timestamp zero */
#define PUSD_PER_USD 1000000000000ULL   /* cost_usd has 12 decimals: whole pico-USD */
#define NUMERIC_NEG  0x4000
#define COST_DSCALE  12

static const uint8_t zero_id[16];

static uint8_t *
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static uint8_t *
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return p + 4;
}

static uint8_t *
put64(uint8_t *p, uint64_t v)
{
	return put32(put32(p, (uint32_t)(v >> 32)), (uint32_t)v);
}

static uint8_t *
f_null(uint8_t *p)
{
	return put32(p, UINT32_MAX);
}

static uint8_t *
f_int4(uint8_t *p, int32_t v)
{
	return put32(put32(p, 4), (uint32_t)v);
}

static uint8_t *
f_int8(uint8_t *p, int64_t v)
{
	return put64(put32(p, 8), (uint64_t)v);
}

static uint8_t *
f_bool(uint8_t *p, bool v)
{
	p = put32(p, 1);
	*p = v ? 1 : 0;
	return p + 1;
}

static uint8_t *
f_uuid(uint8_t *p, const uint8_t id[16])
{
	p = put32(p, 16);
	memcpy(p, id, 16);
	return p + 16;
}

/* A nullable uuid: zero bytes mean none. */
static uint8_t *
f_uuid_or_null(uint8_t *p, const uint8_t id[16])
{
	return memcmp(id, zero_id, sizeof(zero_id)) != 0 ? f_uuid(p, id) : f_null(p);
}

/* timestamptz: µs since the Unix epoch → µs since PostgreSQL's. */
static uint8_t *
f_ts(uint8_t *p, uint64_t unix_us)
{
	return f_int8(p, (int64_t)unix_us - PG_EPOCH_US);
}

/* One of our own names (an enum's table): written as it is, "" included. */
static uint8_t *
f_name(uint8_t *p, const char *s)
{
	size_t n = strlen(s);

	p = put32(p, (uint32_t)n);
	memcpy(p, s, n);
	return p + n;
}

/* Length of a valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t need;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		need = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		need = 4;
	else
		return 0;
	if (n < need)
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;      /* no surrogates */
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return need;
}

/*
 * A fixed-size text field of a record: NULL when empty, control characters as
 * spaces and invalid UTF-8 as '?', so that no record's bytes can make
 * PostgreSQL refuse the batch. Never longer than the field.
 */
static uint8_t *
f_text(uint8_t *p, const char *s, size_t max)
{
	const unsigned char *in = (const unsigned char *)s;
	size_t n = strnlen(s, max);
	uint8_t *len = p, *o = p + 4;

	if (n == 0)
		return f_null(p);
	for (size_t i = 0; i < n;) {
		unsigned char ch = in[i];
		size_t k;

		if (ch >= 0x20 && ch < 0x7f) {
			*o++ = ch;
			i++;
		} else if (ch < 0x20 || ch == 0x7f) {
			*o++ = ' ';
			i++;
		} else if ((k = utf8_len(&in[i], n - i)) != 0) {
			memcpy(o, &in[i], k);
			o += k;
			i += k;
		} else {
			*o++ = '?';
			i++;
		}
	}
	put32(len, (uint32_t)(o - p - 4));
	return o;
}

#define F_TEXT(p, field) f_text((p), (field), sizeof(field))

/*
 * numeric(20,12) from pico-USD, exactly: base-10000 digits, the fraction being
 * three whole digits (12 decimals), leading and trailing zero digits left out.
 */
static uint8_t *
f_cost(uint8_t *p, int64_t pusd)
{
	uint64_t a = pusd < 0 ? -(uint64_t)pusd : (uint64_t)pusd;
	uint64_t whole = a / PUSD_PER_USD, frac = a % PUSD_PER_USD;
	uint16_t d[8], lead[6];
	int nd = 0, nl = 0, first = 0, weight;

	while (whole > 0) {
		lead[nl++] = (uint16_t)(whole % 10000);
		whole /= 10000;
	}
	while (nl > 0)
		d[nd++] = lead[--nl];
	weight = nd - 1;
	d[nd++] = (uint16_t)(frac / 100000000);
	d[nd++] = (uint16_t)(frac / 10000 % 10000);
	d[nd++] = (uint16_t)(frac % 10000);
	while (first < nd && d[first] == 0) {
		first++;
		weight--;
	}
	while (nd > first && d[nd - 1] == 0)
		nd--;
	if (nd == first)
		weight = 0;     /* zero: no digits */
	p = put32(p, (uint32_t)(8 + 2 * (nd - first)));
	p = put16(p, (uint16_t)(nd - first));
	p = put16(p, (uint16_t)(int16_t)weight);
	p = put16(p, pusd < 0 && nd > first ? NUMERIC_NEG : 0);
	p = put16(p, COST_DSCALE);
	for (int i = first; i < nd; i++)
		p = put16(p, d[i]);
	return p;
}

static const char *
outcome_name(uint8_t o)
{
	return o < TG_OUTCOME_COUNT ? tg_outcome_names[o] : "unknown";
}

void
tg_rows_begin(struct tg_buf *b)
{
	/* signature, flags (no OIDs), no header extension */
	static const char hdr[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";

	tg_buf_add(b, hdr, sizeof(hdr));
}

void
tg_rows_end(struct tg_buf *b)
{
	tg_buf_add(b, "\377\377", 2);
}

bool
tg_rows_last_attempt_inline(const struct tg_request_rec *q)
{
	const struct tg_attempt_rec *a;

	if (q->n_attempts == 0 || q->n_attempts > TG_RECORD_MAX_ATTEMPTS)
		return false;
	a = &q->attempts[q->n_attempts - 1];
	/* an attempt without a provider name is the call's provider's (record version 1) */
	return strncmp(a->model_name, q->model, sizeof(q->model)) == 0 &&
	       (a->provider_name[0] == '\0' ||
		strncmp(a->provider_name, q->provider, sizeof(q->provider)) == 0);
}

/* The leading seq of a staging table's row, and the field count. */
static uint8_t *
row_start(uint8_t *p, int32_t seq, uint16_t fields)
{
	if (seq == TG_ROWS_NO_SEQ)
		return put16(p, fields);
	return f_int4(put16(p, fields + 1), seq);
}

void
tg_rows_request(struct tg_buf *b, int32_t seq, const struct tg_request_rec *q)
{
	uint8_t row[ROW_MAX], *p = row_start(row, seq, 35);

	p = f_uuid(p, q->request_id);
	p = F_TEXT(p, q->client_request_id);
	p = f_ts(p, q->created_us);
	p = F_TEXT(p, q->key_name);
	p = f_name(p, q->endpoint < TG_EP_COUNT ? tg_endpoint_names[q->endpoint] : "");
	p = F_TEXT(p, q->route);
	p = F_TEXT(p, q->provider);
	p = F_TEXT(p, q->model);
	p = F_TEXT(p, q->upstream_model);
	p = f_bool(p, q->stream);
	p = f_int4(p, q->status);
	p = f_name(p, outcome_name(q->outcome));
	p = f_int4(p, q->n_attempts);
	p = f_int8(p, q->input_tokens);
	p = f_int8(p, q->output_tokens);
	p = f_int8(p, q->reasoning_tokens);
	p = f_int8(p, q->cache_read_tokens);
	p = f_int8(p, q->cache_write_tokens);
	p = f_cost(p, q->cost_pusd);
	p = f_int8(p, q->latency_us);
	p = f_int8(p, q->ttfb_us);
	p = f_int8(p, q->overhead_us);
	p = f_bool(p, q->usage_complete);
	p = F_TEXT(p, q->upstream_request_id);
	p = F_TEXT(p, q->error);
	p = f_name(p, q->delivery < TG_DELIVERY_COUNT ? tg_delivery_names[q->delivery] : "unknown");
	if (q->route_reason != TG_REASON_NONE && q->route_reason < TG_REASON_COUNT)
		p = f_name(p, tg_route_reason_names[q->route_reason]);
	else
		p = f_null(p);
	p = f_uuid_or_null(p, q->shadow_of);
	/* bit 31 of a bitmap reads as a negative integer: the bits are what count */
	p = f_int4(p, (int32_t)q->checks_run);
	p = f_int4(p, (int32_t)q->checks_passed);
	p = f_int4(p, (int32_t)q->checks_unknown);
	if (tg_rows_last_attempt_inline(q)) {
		const struct tg_attempt_rec *a = &q->attempts[q->n_attempts - 1];

		p = f_int4(p, a->status);
		p = f_name(p, outcome_name(a->outcome));
		p = f_int8(p, a->latency_us);
		/* NULL, not 0: the provider may have billed it and nobody can say how much */
		p = a->cost_unknown ? f_null(p) : f_cost(p, a->cost_pusd);
	} else {
		for (int i = 0; i < 4; i++)
			p = f_null(p);
	}
	tg_buf_add(b, row, (size_t)(p - row));
}

uint32_t
tg_rows_attempts(struct tg_buf *att, int32_t seq, const struct tg_request_rec *q)
{
	uint32_t n = q->n_attempts < TG_RECORD_MAX_ATTEMPTS ? q->n_attempts
							     : TG_RECORD_MAX_ATTEMPTS;

	if (tg_rows_last_attempt_inline(q))
		n--;
	for (uint32_t i = 0; i < n && att != NULL; i++) {
		const struct tg_attempt_rec *a = &q->attempts[i];
		uint8_t row[ROW_MAX], *p = row_start(row, seq, 8);

		p = f_uuid(p, q->request_id);
		p = f_int4(p, (int32_t)i + 1);
		/* none named (record version 1): the call's provider */
		p = a->provider_name[0] != '\0' ? F_TEXT(p, a->provider_name)
						 : F_TEXT(p, q->provider);
		p = F_TEXT(p, a->model_name);
		p = f_int4(p, a->status);
		p = f_name(p, outcome_name(a->outcome));
		p = f_int8(p, a->latency_us);
		p = a->cost_unknown ? f_null(p) : f_cost(p, a->cost_pusd);
		tg_buf_add(att, row, (size_t)(p - row));
	}
	return n;
}

void
tg_rows_audit(struct tg_buf *b, int32_t seq, const struct tg_audit_rec *a)
{
	uint8_t row[ROW_MAX], *p = row_start(row, seq, 5), *len;

	p = f_uuid(p, a->event_id);
	p = f_ts(p, a->at_us);
	p = F_TEXT(p, a->actor);
	p = F_TEXT(p, a->event);
	/* jsonb's send format: a version byte, then the text */
	len = p;
	p = F_TEXT(p, a->detail);
	if (len[0] != 0xff) {
		uint32_t n = (uint32_t)(p - len - 4);

		memmove(len + 5, len + 4, n);
		len[4] = 1;
		put32(len, n + 1);
		p++;
	}
	tg_buf_add(b, row, (size_t)(p - row));
}
