/*
 * Seeding the routes' shared state from the ledger (logger-internal), so
 * that a restart does not forget (SPEC section 13): each statistics slot the
 * master gave a new identity gets the ledger's last window_calls calls of its
 * route and model (tg_routestat.h), and each route's shadow budget the day's
 * shadow spend (tg_shadow.h). Both wait, as restored budget spend does
 * (spend.h), until every record that was in the rings when they were taken
 * is committed and the spool is empty; a route's shadow calls are dropped
 * meanwhile, and the cost strategy explores. The hot path never reads the
 * database: only this does, between batches. A seed is made of requests rows
 * (the model that answered, or failed last): an attempt that failed over to
 * another target is in the live window but not in a seed.
 */
#ifndef TG_LOGGER_ROUTESEED_H
#define TG_LOGGER_ROUTESEED_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "db.h"
#include "tg_ring.h"
#include "tg_routestat.h"
#include "tg_shadow.h"

struct tg_routeseed {
	struct tg_shm_hdr        *shm;
	struct tg_routestat_seed *seeds;      /* taken, answered once drained */
	uint32_t                  n_seeds;
	struct tg_shadow_restore *days;
	uint32_t                  n_days;
	uint64_t                 *marks;      /* per ring of the live file: its tail when taken */
	uint32_t                  n_marks;
	struct tg_routestat_obs  *rows;       /* one window of the ledger's calls */
};

/* Returns 0, or -1 when out of memory. */
int tg_routeseed_init(struct tg_routeseed *s, struct tg_shm_hdr *shm,
		      const struct tg_ring_file *rings) __attribute__((warn_unused_result));
void tg_routeseed_fini(struct tg_routeseed *s);

/*
 * Each logger turn, after tg_spend_poll and with the same arguments: take the
 * slots that want their seed, and answer them once drained. Returns 0, or -1
 * when the connection failed or did not answer in time (the caller drops it;
 * the seeds are taken again once reconnected).
 */
int tg_routeseed_poll(struct tg_routeseed *s, PGconn *conn, const struct tg_db_wait *w,
		      const struct tg_ring_file *rings, bool backlog_clear);

#endif /* TG_LOGGER_ROUTESEED_H */
