/*
 * The master's side of the key table and budgets (tg_keys.h, tg_budget.h):
 * loading the key cache the logger writes, publishing config and PostgreSQL
 * keys into the shared region, asking the logger for a fresh read, and the
 * budgets' periodic work. The master never reads PostgreSQL itself (SPEC 2).
 */
#ifndef TG_MASTER_KEYLOAD_H
#define TG_MASTER_KEYLOAD_H

#include <stdint.h>

#include "master.h"

/*
 * At start, after the current generation's slots are assigned and before any
 * fork: load state_dir/keys.cache (a missing cache is fine, a corrupt one is
 * refused and logged, and then no caller is let in unauthenticated), publish
 * the config's keys and the cached ones, and tag the budgets' periods (spend
 * restores are asked of the logger). Logs a summary.
 */
void tg_keyload_start(struct tg_master *m);

/* SIGUSR2 (the keys command) or SIGHUP: ask the logger to read api_keys now. */
void tg_keyload_refresh(struct tg_master *m);

/*
 * Each loop turn: when the logger rewrote the cache, load and publish it,
 * logging every key added, changed, revoked or removed; every 100 ms, the
 * budgets' tick (periods, restores, repairs). Returns when to look again.
 */
uint64_t tg_keyload_poll(struct tg_master *m, uint64_t now_ms);

/* After a reload's generation took over: publish its config's keys with the PostgreSQL ones. */
void tg_keyload_publish(struct tg_master *m);

/* At exit. */
void tg_keyload_fini(struct tg_master *m);

#endif /* TG_MASTER_KEYLOAD_H */
