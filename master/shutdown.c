/*
 * The master's way out (SPEC section 2): workers first, within
 * shutdown_timeout_ms, then the logger, which drains the rings into the
 * database or its spool. What a worker does on SIGTERM is tg_worker.h's.
 */
#include "shutdown.h"

#include <sys/wait.h>
#include <errno.h>
#include <signal.h>

#include "children.h"
#include "cluster.h"
#include "listeners.h"
#include "notify.h"
#include "tg_clock.h"
#include "tg_log.h"
#include "tg_ring.h"

#define LOGGER_DRAIN_MS 60000    /* how long a stopping logger may take to flush */
/* at shutdown_timeout_ms a worker cuts what is still running (tg_worker.h): the close of
 * each cut stream and its record need a moment before the worker is killed */
#define STOP_GRACE_MS   2000

void
tg_shutdown_begin(struct tg_master *m)
{
	uint64_t now = tg_clock_mono_ms();

	tg_notify("STOPPING=1");
	tg_log_info(NULL, "stopping: finishing in-flight requests within %u ms",
		    m->cur.cfg->shutdown_timeout_ms);
	atomic_store_explicit(&m->shm->draining, 1, memory_order_relaxed);
	/* once the workers close their copies too, new connections are refused, not left queued */
	tg_listeners_close(&m->listen);
	m->phase = TG_MASTER_STOPPING_WORKERS;
	m->phase_deadline_ms = now + m->cur.cfg->shutdown_timeout_ms + STOP_GRACE_MS;
	for (uint32_t s = 0; s < m->n_slots; s++) {
		m->workers[s].restart_at_ms = 0;
		tg_children_stop(m, &m->workers[s], m->cur.cfg, now);
	}
}

void
tg_shutdown_now(struct tg_master *m)
{
	tg_children_signal_all(m, SIGKILL);
	if (m->logger.pid != 0)
		kill(m->logger.pid, SIGKILL);
	while (tg_children_alive(m) > 0 || m->logger.pid != 0) {
		int st;
		pid_t pid = waitpid(-1, &st, 0);

		if (pid == -1 && errno != EINTR)
			break;
		tg_children_reap(m, tg_clock_mono_ms());
		if (pid > 0 && pid == m->logger.pid)
			m->logger.pid = 0;
		for (uint32_t s = 0; pid > 0 && s < m->n_slots; s++) {
			if (m->workers[s].pid == pid) {
				m->workers[s].pid = 0;
				(void)tg_ring_recover(m->rings, s);
			}
		}
	}
}

bool
tg_shutdown_progress(struct tg_master *m, uint64_t now)
{
	if (m->phase == TG_MASTER_STOPPING_WORKERS) {
		uint32_t alive = tg_children_alive(m);

		if (alive > 0 && now < m->phase_deadline_ms)
			return false;
		if (alive > 0) {
			tg_log_warn(NULL, "shutdown timeout: killing %u worker(s) still busy",
				    alive);
			tg_children_signal_all(m, SIGKILL);
			return false;
		}
		/* nothing spends any more: what the node holds goes back to the cluster */
		tg_master_cluster_release(m->shm, m->cur.cfg, &m->cur.map);
		m->phase = TG_MASTER_STOPPING_LOGGER;
		m->phase_deadline_ms = now + LOGGER_DRAIN_MS;
		if (m->logger.pid != 0)
			kill(m->logger.pid, SIGTERM);
	}
	if (m->phase == TG_MASTER_STOPPING_LOGGER) {
		if (m->logger.pid == 0)
			return true;
		if (now >= m->phase_deadline_ms) {
			tg_log_error(NULL, "logger did not finish within %d ms; its records stay "
				     "in the ring file for the next start", LOGGER_DRAIN_MS);
			kill(m->logger.pid, SIGKILL);
			m->phase_deadline_ms = UINT64_MAX;
		}
	}
	return false;
}
