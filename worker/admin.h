/*
 * The admin API inside a worker (worker-internal): who may call it
 * (admin.c), the keys (admin_keys.c), the ledger's spend (admin_spend.c),
 * and the round trip through the logger that every change takes
 * (admin_op.c). Served on the admin listener only (worker.c's route table).
 */
#ifndef TG_WORKER_ADMIN_H
#define TG_WORKER_ADMIN_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "http.h"
#include "tg_adminbox.h"
#include "tg_buf.h"
#include "tg_keygen.h"
#include "tg_keys.h"

/*
 * Check the caller's admin key (Authorization: Bearer), hashed and compared
 * in constant time with every configured admin key. Fills actor with
 * "admin:<key name>" and returns true; otherwise answers 403 (no admin key is
 * configured) or 401 and returns false.
 */
bool tg_admin_authorize(struct tg_http_req *req, char actor[TG_ADMIN_ACTOR_MAX]);

/* An admin error: {"error":{"status":N,"message":"…"}}. */
void tg_admin_error(struct tg_http_req *req, int status, const char *message);

/* Answer b as JSON with status (503 when b ran out of memory); finishes b. */
void tg_admin_send(struct tg_http_req *req, int status, struct tg_buf *b);

/* Pico-USD as an exact decimal JSON string ("0.000000000007"), never through a float. */
void tg_admin_json_usd(struct tg_buf *b, int64_t pusd);

/* A UTC wall time as "2026-12-05T00:29:50Z" in JSON, or null for 0. */
void tg_admin_json_time(struct tg_buf *b, uint64_t wall_us);

/* Every key of the shared table, sorted by name (a copy). Free with free(). */
struct tg_key_view *tg_admin_keys_snapshot(uint32_t *n);

/* The key named name in a snapshot, or NULL. */
const struct tg_key_view *tg_admin_keys_find(const struct tg_key_view *keys, uint32_t n,
					     const char *name);

/*
 * One key as the admin API shows it: its definition (never the hash) and,
 * with a budget, its current period's exact figures from the shared region.
 * index is the key's table index, or UINT32_MAX for figures unknown.
 */
void tg_admin_key_json(struct tg_buf *b, const struct tg_key_def *d, uint32_t index,
		       uint64_t wall_us);

/* ---- a request that goes through the logger (admin_op.c) ---- */

struct tg_admin_op;

/*
 * Called once when the round trip ended, if the client is still there: op->res
 * holds the logger's answer (rc OK), and for a change the master has
 * published it (op->live says whether it did within the wait). Answers req.
 * Not called for failures: admin_op.c answers those itself.
 */
typedef void tg_admin_done_fn(struct tg_admin_op *op, struct tg_http_req *req);

struct tg_admin_op {
	struct tg_http_req     *req;          /* NULL once the client left */
	struct tg_keyop         op;           /* what was posted */
	struct tg_keyop_result *res;          /* the answer (owned) */
	tg_admin_done_fn       *done;
	bool                    live;         /* the change is in the shared key table */
	char                    secret[TG_KEYGEN_LEN + 1];  /* create: shown once, then wiped */
	/* admin_op.c's own */
	struct tg_adminbox_ticket ticket;
	struct event           *timer;
	uint32_t                phase;
	uint64_t                started_us, deadline_ms;
};

/*
 * Post op (copied) for the logger and answer req when it is done: done for
 * success, a JSON error (400, 404, 409, 503, 504) otherwise. A secret (create)
 * is copied in and wiped once answered. Refuses at once with 503 when
 * PostgreSQL is away or every mailbox slot is in use: nothing is posted then.
 * req must not be answered by the caller after this.
 */
void tg_admin_op_start(struct tg_http_req *req, const struct tg_keyop *op, const char *secret,
		       tg_admin_done_fn *done);

/* Requests waiting for the logger in this worker (a draining worker waits for them). */
uint32_t tg_admin_op_count(void);

/* The worker stops: stop waiting for every request (503), leaving the logger to finish. */
void tg_admin_op_cut_all(void);

#endif /* TG_WORKER_ADMIN_H */
