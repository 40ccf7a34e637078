/*
 * A prefork HTTP worker: its own event_base and evhttp on the listening socket
 * inherited from the master. Serves until SIGTERM (drains) or SIGQUIT (now).
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
