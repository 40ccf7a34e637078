/*
 * Generations: a config, its shared slots and the workers forked with it.
 * Starting the first, reloading on SIGHUP into a new one beside the current,
 * promoting it once every position beats or rolling it back, retiring the old
 * one, and the audit entries that say which happened. Master only.
 */
#ifndef TG_MASTER_GENERATION_H
#define TG_MASTER_GENERATION_H

#include <stdbool.h>
#include <stdint.h>

#include "master.h"

/*
 * Fork a worker for every position of the current generation (whose config
 * and slots the caller set up) and audit the start. Returns 0, or -1 when a
 * fork failed: the caller stops the ones that started.
 */
int tg_generation_start(struct tg_master *m) __attribute__((warn_unused_result));

/*
 * A SIGHUP: read and validate the config again and fork a new generation
 * beside the current one. An invalid config, or one the running process
 * cannot take, is logged and the current one kept. Returns false, with the
 * deferral logged once, while a previous reload's generations still run (two
 * generations at most share the slots): the caller keeps the SIGHUP pending.
 * Returns true once the SIGHUP is dealt with.
 */
bool tg_generation_reload(struct tg_master *m);

/*
 * Move generations on, each loop turn while running: announce the first
 * generation ready; promote a reload's generation once every position beats,
 * retiring the old one (SIGUSR2), or roll it back when a position is lost or
 * the wait is over; let a retired generation go once its last worker is gone.
 */
void tg_generation_poll(struct tg_master *m, uint64_t now);

/* When the loop must look again for the generations' sake: soon while one starts, else until. */
uint64_t tg_generation_next_event(const struct tg_master *m, uint64_t now, uint64_t until);

#endif /* TG_MASTER_GENERATION_H */
