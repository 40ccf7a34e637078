/*
 * The logger's records as rows of PostgreSQL's binary COPY format
 * (logger-internal): requests, attempt_log and audit_log, and the staging
 * tables that have the same columns after a leading seq. Sending them and the
 * transactions around them are db.c's.
 */
#ifndef TG_ROWS_H
#define TG_ROWS_H

#include <stdbool.h>
#include <stdint.h>

#include "tg_buf.h"
#include "tg_record.h"

#define TG_ROWS_REQ_COLS "request_id, client_request_id, created_at, key_name, endpoint, route, " \
	"provider, model, upstream_model, stream, status, outcome, attempts, input_tokens, " \
	"output_tokens, reasoning_tokens, cache_read_tokens, cache_write_tokens, cost_usd, " \
	"latency_us, ttfb_us, overhead_us, usage_complete, upstream_request_id, error, " \
	"delivery, route_reason, shadow_of, checks_run, checks_passed, checks_unknown, " \
	"attempt_status, attempt_outcome, attempt_latency_us, attempt_cost_usd"
#define TG_ROWS_ATT_COLS "request_id, n, provider, model, status, outcome, latency_us, cost_usd"
#define TG_ROWS_AUD_COLS "id, at, actor, event, detail"

#define TG_ROWS_NO_SEQ (-1)             /* a row for the table itself, not for its staging table */

/* Start and end one COPY ... (FORMAT binary) stream in b. */
void tg_rows_begin(struct tg_buf *b);
void tg_rows_end(struct tg_buf *b);

/*
 * Whether q's last attempt goes in its requests row (attempt_status and the
 * three after it) rather than in attempt_log: it was made on the target that
 * requests.provider and requests.model name, as the attempts view shows it.
 */
bool tg_rows_last_attempt_inline(const struct tg_request_rec *q);

/*
 * Append q as a row of requests (seq TG_ROWS_NO_SEQ) or of its staging table,
 * and its attempts that are not inline as rows of attempt_log to att (NULL:
 * none); returns how many attempt rows. Text fields become valid UTF-8 with
 * no control characters and an empty one NULL, so that no record's bytes can
 * make PostgreSQL refuse a batch; out-of-range values can (a timestamp past
 * PostgreSQL's range), and are the batch's fault.
 */
void tg_rows_request(struct tg_buf *b, int32_t seq, const struct tg_request_rec *q);
uint32_t tg_rows_attempts(struct tg_buf *att, int32_t seq, const struct tg_request_rec *q);

/* Append a as a row of audit_log or of its staging table. */
void tg_rows_audit(struct tg_buf *b, int32_t seq, const struct tg_audit_rec *a);

#endif /* TG_ROWS_H */
