/*
 * The master process: sets up the shared region, the log rings and the
 * listening sockets, forks the first generation and the logger, then waits in
 * a ppoll loop with its signals blocked (no libevent here: children would
 * inherit it) and hands each event to the file whose job it is: children.c
 * (fork, reap, restart), generation.c (reload), shutdown.c (stop).
 */
#include "tg_master.h"

#include <sys/prctl.h>
#include <sys/stat.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "children.h"
#include "cluster.h"
#include "generation.h"
#include "keyload.h"
#include "listeners.h"
#include "master.h"
#include "notify.h"
#include "shutdown.h"
#include "tg_clock.h"
#include "tg_log.h"
#include "tg_pidfile.h"
#include "tg_ring.h"
#include "tg_shm.h"
#include "tg_version.h"

static volatile sig_atomic_t got_hup, got_term, got_quit, got_chld, got_usr1, got_keys;

/* The one master; its files are handed a pointer, and children keep a copy of it. */
static struct tg_master M;

static void
on_signal(int signo)                      /* async-signal-safe: sets flags, nothing else */
{
	int saved = errno;

	if (signo == SIGHUP) got_hup = got_keys = 1;
	else if (signo == SIGUSR2) got_keys = 1;     /* the keys command: keys only */
	else if (signo == SIGTERM || signo == SIGINT) got_term = 1;
	else if (signo == SIGQUIT) got_quit = 1;
	else if (signo == SIGCHLD) got_chld = 1;
	else if (signo == SIGUSR1) got_usr1 = 1;
	errno = saved;
}

static uint64_t
next_wakeup(uint64_t now)
{
	uint64_t next = tg_children_next_event(&M, now + 1000);

	next = tg_generation_next_event(&M, now, next);
	if (M.phase == TG_MASTER_RUNNING && M.keys_tick_ms < next)
		next = M.keys_tick_ms;
	/* drains are polled, not signalled: look often while stopping */
	if (M.phase != TG_MASTER_RUNNING && now + 20 < next)
		next = now + 20;
	return next > now ? next : now;
}

static void
free_generations(void)
{
	tg_cfg_free(M.cur.cfg);
	tg_cfg_free(M.next.cfg);
	tg_cfg_free(M.old.cfg);
	M.cur.cfg = M.next.cfg = M.old.cfg = NULL;
}

static int run(struct tg_cfg *cfg);

int
tg_master_run(struct tg_cfg *cfg)
{
	int rc;

	M.admin_fd = -1;
	snprintf(M.state_dir, sizeof(M.state_dir), "%s", cfg->state_dir);
	rc = run(cfg);
	tg_listeners_close_admin(M.admin_fd, M.admin_path);
	M.admin_fd = -1;
	tg_pidfile_remove(M.state_dir);
	tg_keyload_fini(&M);
	return rc;
}

static int
run(struct tg_cfg *cfg)
{
	char why[256];
	sigset_t block, unblocked;
	struct sigaction sa = { .sa_handler = on_signal };

	M.pid = getpid();
	M.cur = (struct tg_generation){ .cfg = cfg, .number = 1 };
	M.last_number = M.cur.number;
	(void)prctl(PR_SET_NAME, "tollgate-master");
	tg_log_init("master", -1);

	if (mkdir(cfg->state_dir, 0700) == -1 && errno != EEXIST) {
		tg_log_error(NULL, "could not create state_dir %s: %s", cfg->state_dir,
			     strerror(errno));
		return 2;
	}
	/* the keys command finds a running gateway by it; a second master is refused here */
	if (tg_pidfile_write(cfg->state_dir, why, sizeof(why)) == -1) {
		tg_log_error(NULL, "could not start: %s", why);
		return 2;
	}
	M.shm = tg_shm_create();
	if (M.shm == NULL || tg_shm_assign(M.shm, cfg, 1, 1, &M.cur.map) == -1 ||
	    tg_master_cluster_init(M.shm, cfg) == -1)
		return 2;
	atomic_store_explicit(&M.shm->generation, M.cur.number, memory_order_relaxed);
	M.n_slots = 2 * cfg->workers;
	M.master_ring = M.n_slots;
	M.rings = tg_ring_open(cfg->state_dir, M.n_slots + 1, cfg->db.ring_records,
			       cfg->max_connections, why, sizeof(why));
	if (M.rings == NULL) {
		tg_log_error(NULL, "could not open the log rings in %s: %s", cfg->state_dir, why);
		return 2;
	}
	/* a crash of every process leaves calls in flight: record them as unknown */
	for (uint32_t s = 0; s < M.rings->n_rings; s++)
		(void)tg_ring_recover(M.rings, s);
	if (tg_listeners_ensure(&M.listen, cfg->listen_host, cfg->listen_port, cfg->workers) == -1)
		return 2;
	M.admin_fd = tg_listeners_open_admin(cfg, M.admin_path);
	if (M.admin_fd == -2) {
		M.admin_fd = -1;
		return 2;
	}
	/* workers authenticate against the shared key table: fill it before the first fork */
	tg_keyload_start(&M);

	sigemptyset(&block);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGQUIT);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	sigprocmask(SIG_BLOCK, &block, &unblocked);
	sigdelset(&unblocked, SIGHUP);
	sigdelset(&unblocked, SIGTERM);
	sigdelset(&unblocked, SIGINT);
	sigdelset(&unblocked, SIGQUIT);
	sigdelset(&unblocked, SIGCHLD);
	sigdelset(&unblocked, SIGUSR1);
	sigdelset(&unblocked, SIGUSR2);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	tg_log_info(NULL, "starting version=%s listen=%s:%u workers=%u config_sha256=%s",
		    TG_VERSION, cfg->listen_host, cfg->listen_port, cfg->workers, cfg->sha256_hex);
	if (M.admin_path[0] != '\0')
		tg_log_info(NULL, "admin listener on %s mode=0660", M.admin_path);
	else if (M.admin_fd != -1)
		tg_log_info(NULL, "admin listener on %s:%u", cfg->admin_host, cfg->admin_port);
	else
		tg_log_warn(NULL, "no admin.listen: /readyz, /metrics and /admin/* are not served "
			    "(never on the client port)");
	if (tg_children_spawn_logger(&M) == -1 || tg_generation_start(&M) == -1) {
		tg_shutdown_now(&M);
		return 2;
	}

	for (;;) {
		uint64_t now = tg_clock_mono_ms();
		uint64_t until = next_wakeup(now);
		struct timespec ts = { .tv_sec = (time_t)((until - now) / 1000),
				       .tv_nsec = (long)((until - now) % 1000) * 1000000 };

		if (ppoll(NULL, 0, &ts, &unblocked) == -1 && errno != EINTR)
			tg_log_error(NULL, "could not wait for signals: %s", strerror(errno));
		now = tg_clock_mono_ms();

		if (got_chld) {
			got_chld = 0;
			tg_children_reap(&M, now);
		}
		/* SIGQUIT, or a second SIGTERM while stopping, means now */
		if (got_quit || (got_term && M.phase != TG_MASTER_RUNNING)) {
			tg_log_info(NULL, "fast stop: killing every child");
			tg_notify("STOPPING=1");
			tg_shutdown_now(&M);
			free_generations();
			return 0;
		}
		if (got_term) {
			got_term = 0;
			tg_shutdown_begin(&M);
		}
		if (got_usr1) {
			got_usr1 = 0;
			tg_log_info(NULL, "logs go to stderr: nothing to reopen");
		}
		if (got_keys) {
			got_keys = 0;
			if (M.phase == TG_MASTER_RUNNING)
				tg_keyload_refresh(&M);
		}
		if (M.phase == TG_MASTER_RUNNING)
			(void)tg_keyload_poll(&M, now);
		tg_children_restart_due(&M, now);
		tg_children_enforce(&M, now);
		tg_generation_poll(&M, now);
		/* a SIGHUP while a previous reload's generations still run stays pending */
		if (got_hup && tg_generation_reload(&M))
			got_hup = 0;
		if (M.phase != TG_MASTER_RUNNING && tg_shutdown_progress(&M, now)) {
			tg_log_info(NULL, "stopped");
			free_generations();
			return 0;
		}
	}
}
