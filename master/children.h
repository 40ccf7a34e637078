/*
 * The master's children: forking workers and the logger, reaping them,
 * restarting the ones that die with a doubling backoff, and the signals that
 * tell a worker to leave (tg_worker.h). Which generation to fork, and when,
 * is generation.c's. Master only.
 */
#ifndef TG_MASTER_CHILDREN_H
#define TG_MASTER_CHILDREN_H

#include <stdbool.h>
#include <stdint.h>

#include "master.h"

/*
 * Fork a worker of generation g into slot s, accepting on position's sockets.
 * Returns 0, or -1 with errno from fork(2) and the failure logged.
 */
int tg_children_spawn_worker(struct tg_master *m, const struct tg_generation *g, uint32_t s,
			     uint32_t position) __attribute__((warn_unused_result));

/* Fork the logger with the current generation's config. Returns 0, or -1 logged. */
int tg_children_spawn_logger(struct tg_master *m) __attribute__((warn_unused_result));

/*
 * Reap every child that exited (after SIGCHLD) and recover the calls a dead
 * worker had in flight as "unknown" records. A worker of the current
 * generation that died while serving gets a restart scheduled; any other is
 * only logged, and its slot is free again (a reload's new worker that died
 * is generation.c's to notice).
 */
void tg_children_reap(struct tg_master *m, uint64_t now);

/* Fork the restarts that are due (only while running). */
void tg_children_restart_due(struct tg_master *m, uint64_t now);

/*
 * Retire a worker of an old generation with SIGUSR2 (tg_worker.h): it stops
 * accepting and may finish its calls within cfg->reload_drain_ms; past that
 * the master takes the next step itself (tg_children_enforce). A slot with
 * no process is left alone.
 */
void tg_children_retire(struct tg_master *m, struct tg_child *c, const struct tg_cfg *cfg,
			uint64_t now);

/* Stop worker c: SIGTERM, so it finishes its calls within cfg->shutdown_timeout_ms. */
void tg_children_stop(struct tg_master *m, struct tg_child *c, const struct tg_cfg *cfg,
		      uint64_t now);

/*
 * A worker still there past its deadline: a retiring one is stopped (SIGTERM),
 * a stopping one killed (SIGKILL). While running only: a stopping master has
 * one deadline for all (shutdown.c).
 */
void tg_children_enforce(struct tg_master *m, uint64_t now);

/* Send signo to every worker (every generation, retiring ones included). */
void tg_children_signal_all(struct tg_master *m, int signo);

/* Workers alive, all generations; of generation number only. */
uint32_t tg_children_alive(const struct tg_master *m);
uint32_t tg_children_alive_of(const struct tg_master *m, uint32_t generation);

/* The latest deadline of generation's workers on their way out; 0 when none is. */
uint64_t tg_children_leave_by(const struct tg_master *m, uint32_t generation);

/* Whether every position of generation g has a live worker whose heartbeat came. */
bool tg_children_all_beating(const struct tg_master *m, const struct tg_generation *g);

/* The oldest generation a live worker runs, or the current one if that is older. */
uint32_t tg_children_oldest_generation(const struct tg_master *m);

/* The earliest restart or deadline after now, or `until` if none comes sooner. */
uint64_t tg_children_next_event(const struct tg_master *m, uint64_t until);

#endif /* TG_MASTER_CHILDREN_H */
