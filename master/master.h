/*
 * The master's state, shared by its files (master only, one instance, owned by
 * tg_master_run in master.c). Listeners, children, generations and shutdown
 * each keep their part here and change it only through their own file.
 */
#ifndef TG_MASTER_STATE_H
#define TG_MASTER_STATE_H

#include <sys/types.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "tg_cfg.h"
#include "tg_shm.h"

struct tg_ring_file;
struct tg_keyset;

/* How far a worker is on its way out; each step is a signal the master sent (tg_worker.h). */
enum tg_child_leaving {
	TG_CHILD_SERVING = 0,
	TG_CHILD_RETIRING,           /* SIGUSR2: finish calls within reload_drain_ms */
	TG_CHILD_STOPPING,           /* SIGTERM: finish calls within shutdown_timeout_ms */
	TG_CHILD_KILLED,             /* SIGKILL */
};

struct tg_child {
	pid_t                 pid;                 /* 0 = none */
	uint32_t              generation;
	uint32_t              position;            /* which listening sockets it accepts on */
	uint64_t              started_ms;
	uint64_t              restart_at_ms;       /* 0 = no restart scheduled */
	uint32_t              backoff_ms;
	enum tg_child_leaving leaving;
	uint64_t              leave_by_ms;         /* past it, the master takes the next step */
	uint32_t              stop_ms;             /* its config's shutdown_timeout_ms */
};

/* A config and the shared slots its names were given; cfg NULL = no such generation. */
struct tg_generation {
	struct tg_cfg      *cfg;                   /* owned */
	struct tg_slot_map  map;                   /* workers get a copy at fork */
	uint32_t            number;
};

struct tg_listeners {
	int      fds[TG_MAX_WORKERS];              /* never fewer than a generation's workers */
	uint32_t n;
	char     host[256];                        /* where they listen: fixed by the first open */
	uint16_t port;
};

enum tg_master_phase {
	TG_MASTER_RUNNING = 0,
	TG_MASTER_STOPPING_WORKERS,
	TG_MASTER_STOPPING_LOGGER,
};

struct tg_master {
	pid_t                 pid;
	struct tg_shm_hdr    *shm;
	struct tg_ring_file  *rings;
	uint32_t              n_slots;             /* worker slots with a ring: 2 x first workers */
	uint32_t              master_ring;         /* the ring after them: the master's audits */
	struct tg_listeners   listen;

	/*
	 * Two generations at most share the slots: cur serves and is restarted;
	 * next has been forked by a reload and waits for every position to beat;
	 * old was retired (or rolled back) and is kept until its last worker is
	 * gone. next and old are never both set.
	 */
	struct tg_generation  cur, next, old;
	uint32_t              last_number;         /* generation numbers are never reused */
	uint64_t              next_ready_by_ms;
	bool                  reload_deferred;     /* a SIGHUP waits; logged once */

	struct tg_child       workers[TG_WORKER_SLOTS];
	struct tg_child       logger;
	bool                  logger_restart_now;  /* a reload stopped it: start at once */

	enum tg_master_phase  phase;
	uint64_t              phase_deadline_ms;
	bool                  announced_ready;

	/* the admin listener (admin.listen), fixed at start: -1 = none */
	int                   admin_fd;
	char                  admin_path[TG_UNIX_PATH_MAX];   /* our unix socket: unlinked at exit */
	char                  state_dir[PATH_MAX];  /* fixed at start: pid file, key cache */

	/* keys (keyload.c): the PostgreSQL keys last read from the cache, NULL before any */
	struct tg_keyset     *db_keys;
	uint64_t              keys_cache_seq;      /* the logger's cache_seq last applied */
	uint64_t              keys_tick_ms;        /* next budget tick */
	bool                  keys_cache_bad;      /* the cache could not be read: logged once */
};

#endif /* TG_MASTER_STATE_H */
