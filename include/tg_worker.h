/*
 * A prefork HTTP worker: its own event_base and HTTP server (worker/http.c) on
 * the listening sockets inherited from the master. The master's signals to a
 * worker:
 *
 *   SIGUSR2  retire, after a reload: stop accepting, finish the calls in flight
 *            within cfg->reload_drain_ms of the signal, then exit 0. Streams are
 *            calls like any other: a reload cuts none that ends within the drain.
 *   SIGTERM  stop (SIGINT alike): stop accepting, finish the calls in flight
 *            within cfg->shutdown_timeout_ms, then exit 0. The master sends it to
 *            every worker when it stops, retiring ones included: for those the
 *            earlier of the two deadlines holds.
 *   SIGQUIT  now: exit at once. PR_SET_PDEATHSIG sends it when the master dies.
 *
 * A call still running at its worker's deadline is cut by the worker — a
 * stream with its family's in-stream error and its closing chunk — and
 * recorded as cut by the gateway with the usage seen so far. A worker is
 * forked with SIGUSR2 blocked and unblocks it once its handler is in place,
 * since the default action would kill it. A worker still alive past its
 * deadline and a grace gets the next signal from the master: SIGTERM after a
 * retire, SIGKILL after a stop.
 */
#ifndef TG_WORKER_H
#define TG_WORKER_H

#include <stdint.h>

#include "tg_cfg.h"
#include "tg_shm.h"

struct tg_ring_file;

/* Everything a worker is handed at fork; all of it outlives the worker. */
struct tg_worker_env {
	const struct tg_cfg      *cfg;
	struct tg_shm_hdr        *shm;
	struct tg_ring_file      *rings;
	const struct tg_slot_map *map;
	uint32_t                  slot;       /* worker slot and ring index */
	uint32_t                  generation;
	/* SO_REUSEPORT listening sockets, non-blocking, kept open by the master; the kernel
	 * spreads connections over them, and this worker accepts on every socket j with
	 * j % positions == position, so each socket always has an acceptor */
	const int                *listen_fds;
	uint32_t                  n_listen;
	uint32_t                  position, positions;
	int                       admin_fd;   /* the admin listener (admin.listen), or -1 */
};


/* Run the worker in the current (forked) process; returns the exit status. */
int tg_worker_main(const struct tg_worker_env *env);

#endif /* TG_WORKER_H */
