/*
 * The admin API's round trip through the logger (admin.h): a worker never
 * talks to PostgreSQL (SPEC section 2), so a key change or a spend query is
 * posted to the shared mailbox (tg_adminbox.h), polled on a timer while the
 * loop serves everything else, and — for a change — answered only once the
 * master has published it to the shared key table, so that a created key
 * works, and a revoked one is refused, when the answer arrives.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "tg_budget.h"
#include "tg_clock.h"
#include "tg_log.h"
#include "worker.h"

#define POLL_MS      2          /* how often a waiting request is looked at */
#define TAKE_MS      5000       /* the logger writes a batch at most this long, normally */
#define PUBLISH_MS   5000       /* the master loads keys every 100 ms; the spend restore waits
				 * for the rings to drain (flush_ms) */
#define DB_GRACE_MS  5000       /* the logger's bound on one round trip: statement timeout + this */
#define ROUND_TRIPS  6          /* the most one request takes (BEGIN … COMMIT, ROLLBACK) */
#define LOGGER_STALE_MS 3000    /* as /readyz: a logger silent this long is not running */

enum phase { P_QUEUED = 0, P_RUNNING, P_PUBLISH };

/* Requests in flight in this worker, for the drain. */
struct node {
	struct tg_admin_op op;
	struct node       *prev, *next;
};

static struct node *pending;
static uint32_t n_pending;

static const char *const kind_names[] = {
	[TG_KEYOP_NONE] = "none", [TG_KEYOP_CREATE] = "create", [TG_KEYOP_SET] = "set",
	[TG_KEYOP_REVOKE] = "revoke", [TG_KEYOP_SPEND] = "spend",
};

static void
on_delivered(void *owner)
{
	struct tg_admin_op *a = owner;

	a->req = NULL;
}

static const struct tg_http_owner owner_cb = { .on_delivered = on_delivered,
					       .on_gone = on_delivered };

/*
 * The request to answer, or NULL when the client left. Once detached, no
 * callback of the server reaches a: it may be freed before the reply is out.
 */
static struct tg_http_req *
detach(struct tg_admin_op *a)
{
	struct tg_http_req *req = a->req;

	if (req != NULL)
		tg_http_set_owner(req, NULL, NULL);
	a->req = NULL;
	return req;
}

/* Unlink and free a; the secret is wiped whatever happened. */
static void
op_free(struct tg_admin_op *a)
{
	struct node *n = (struct node *)a;

	if (n->prev != NULL)
		n->prev->next = n->next;
	else
		pending = n->next;
	if (n->next != NULL)
		n->next->prev = n->prev;
	n_pending--;
	if (a->timer != NULL)
		event_free(a->timer);
	explicit_bzero(a->secret, sizeof(a->secret));
	free(a->res);
	free(n);
}

/* Answer a failure (if the client is still there) and free a. */
static void
fail(struct tg_admin_op *a, int status, const char *msg)
{
	struct tg_http_req *req = detach(a);

	tg_log_info(NULL, "admin %s name=%s actor=%s refused status=%d: %s",
		    kind_names[a->op.kind], a->op.name, a->op.actor, status, msg);
	if (req != NULL)
		tg_admin_error(req, status, msg);
	op_free(a);
}

/* The end of a successful round trip: done answers, then a is freed. */
static void
finish(struct tg_admin_op *a)
{
	uint64_t us = tg_clock_mono_us() - a->started_us;
	struct tg_http_req *req;

	if (a->op.kind != TG_KEYOP_SPEND)
		tg_log_info(NULL, "admin %s name=%s actor=%s: %s%s us=%llu", kind_names[a->op.kind],
			    a->op.name, a->op.actor, a->res->changed ? "done" : "unchanged",
			    !a->res->changed || a->live ? "" : ", not yet loaded by the master",
			    (unsigned long long)us);
	req = detach(a);
	if (req != NULL)
		a->done(a, req);
	op_free(a);
}

/* Whether the shared key table holds the key as the logger stored it. */
static bool
published(const struct tg_admin_op *a)
{
	struct tg_shm_hdr *h = tg_w.env->shm;
	const struct tg_key_def *want = &a->res->def;
	struct tg_budget_figures fig;
	struct tg_key_view v;
	enum tg_key_auth rc = tg_keys_find(h, want->sha256, &v);

	if (rc != TG_KEY_OK && rc != TG_KEY_REVOKED)
		return false;
	if (v.def.rpm != want->rpm || v.def.tpm != want->tpm || v.def.period != want->period ||
	    v.def.budget_pusd != want->budget_pusd || strcmp(v.def.models, want->models) != 0 ||
	    ((v.def.flags ^ want->flags) & TG_KEYDEF_REVOKED) != 0)
		return false;
	/*
	 * A budget admits calls only once its period's spend is known, and a new
	 * amount reaches the grant at the master's next tick: wait for both. (One
	 * node: the grant is the budget. With leases, SPEC 15, this will compare
	 * with what the node asked for.)
	 */
	if (want->flags & TG_KEYDEF_REVOKED)
		return true;
	if (want->period == TG_PERIOD_NONE)      /* a budget removed: gone from the budgets too */
		return !tg_budget_read(h, v.index, tg_clock_wall_us(), &fig);
	return tg_budget_read(h, v.index, tg_clock_wall_us(), &fig) && fig.ready &&
	       fig.grant_pusd == want->budget_pusd;
}

static int
status_of(enum tg_keyop_rc rc)
{
	switch (rc) {
	case TG_KEYOP_BAD:
		return 400;
	case TG_KEYOP_NOT_FOUND:
		return 404;
	case TG_KEYOP_EXISTS:
		return 409;
	case TG_KEYOP_UNKNOWN:
		return 504;
	default:
		return 503;
	}
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct tg_admin_op *a = arg;
	uint64_t now = tg_clock_mono_ms();
	char msg[200];

	(void)fd; (void)what;
	if (a->phase == P_PUBLISH) {
		a->live = published(a);
		if (a->live || now >= a->deadline_ms)
			finish(a);
		return;
	}
	switch (tg_adminbox_poll(tg_w.env->shm, &a->ticket, a->res)) {
	case TG_ABOX_WAITING:
		/* the client left, or the logger is stuck: withdrawn, it is never run */
		if ((a->req == NULL || now >= a->deadline_ms) &&
		    tg_adminbox_withdraw(tg_w.env->shm, &a->ticket)) {
			snprintf(msg, sizeof(msg), "the logger did not take the request within %d "
				 "ms (busy writing to PostgreSQL, or stuck): nothing was changed, "
				 "try again", TAKE_MS);
			fail(a, 503, msg);
		}
		return;
	case TG_ABOX_RUNNING:
		if (a->phase == P_QUEUED) {
			const struct tg_cfg *cfg = tg_w.env->cfg;

			a->phase = P_RUNNING;
			a->deadline_ms = now + (uint64_t)ROUND_TRIPS *
					 (cfg->db.statement_timeout_ms + DB_GRACE_MS);
		} else if (now >= a->deadline_ms) {
			tg_adminbox_abandon(tg_w.env->shm, &a->ticket);
			fail(a, 504, "PostgreSQL did not answer in time: the change may or may not "
			     "have been made (GET /admin/keys shows the key as it is)");
		}
		return;
	case TG_ABOX_LOST:
		/* only a bug frees a slot under its poster */
		fail(a, 500, "the admin request was lost (freed under its poster)");
		return;
	case TG_ABOX_ANSWERED:
		break;
	}
	if (a->res->rc != TG_KEYOP_OK) {
		fail(a, status_of(a->res->rc), a->res->message);
		return;
	}
	if (a->op.kind == TG_KEYOP_SPEND || !a->res->changed) {
		a->live = a->op.kind != TG_KEYOP_SPEND && published(a);
		finish(a);
		return;
	}
	a->phase = P_PUBLISH;
	a->deadline_ms = now + PUBLISH_MS;
	a->live = published(a);
	if (a->live)
		finish(a);
}

/* Why the logger cannot run a request now (nothing is posted then), or NULL when it can. */
static const char *
logger_unavailable(void)
{
	struct tg_logger_slot *lg = tg_shm_logger(tg_w.env->shm);
	uint64_t beat = atomic_load_explicit(&lg->heartbeat_ms, memory_order_relaxed);

	if (beat == 0 || tg_clock_mono_ms() - beat > LOGGER_STALE_MS)
		return "the logger is not running: nothing was changed";
	if (!atomic_load_explicit(&lg->db_up, memory_order_relaxed))
		return "PostgreSQL is unavailable (the logger cannot reach it): nothing was changed";
	return NULL;
}

void
tg_admin_op_start(struct tg_http_req *req, const struct tg_keyop *op, const char *secret,
		  tg_admin_done_fn *done)
{
	struct timeval every = { .tv_sec = 0, .tv_usec = POLL_MS * 1000 };
	const char *why = logger_unavailable();
	struct node *n;
	struct tg_admin_op *a;

	if (why != NULL) {
		tg_admin_error(req, 503, why);
		return;
	}
	n = calloc(1, sizeof(*n));
	if (n == NULL) {
		tg_admin_error(req, 503, "out of memory");
		return;
	}
	n->next = pending;
	if (pending != NULL)
		pending->prev = n;
	pending = n;
	n_pending++;
	a = &n->op;
	a->req = req;
	a->op = *op;
	a->done = done;
	a->started_us = tg_clock_mono_us();
	if (secret != NULL)
		snprintf(a->secret, sizeof(a->secret), "%s", secret);
	a->res = malloc(sizeof(*a->res));
	a->timer = event_new(tg_w.base, -1, EV_PERSIST, on_tick, a);
	if (a->res == NULL || a->timer == NULL || event_add(a->timer, &every) == -1) {
		fail(a, 503, "out of memory");
		return;
	}
	if (tg_adminbox_post(tg_w.env->shm, (int32_t)getpid(), &a->op, &a->ticket) == -1) {
		fail(a, 503, "too many admin requests in progress: try again");
		return;
	}
	a->phase = P_QUEUED;
	a->deadline_ms = tg_clock_mono_ms() + TAKE_MS;
	tg_http_set_owner(req, &owner_cb, a);
}

uint32_t
tg_admin_op_count(void)
{
	return n_pending;
}

void
tg_admin_op_cut_all(void)
{
	while (pending != NULL) {
		struct tg_admin_op *a = &pending->op;

		if (a->phase == P_PUBLISH) {
			finish(a);          /* done: only its publication was awaited */
		} else if (tg_adminbox_withdraw(tg_w.env->shm, &a->ticket)) {
			fail(a, 503, "the worker is stopping: nothing was changed");
		} else {
			/* the logger runs it, and frees the slot when it is done */
			tg_adminbox_abandon(tg_w.env->shm, &a->ticket);
			fail(a, 503, "the worker is stopping: the change may or may not have been "
			     "made (GET /admin/keys shows the key as it is)");
		}
	}
}
