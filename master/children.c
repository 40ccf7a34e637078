/*
 * Forking, reaping and restarting the master's children, and the signals
 * that make a worker leave. A child resets its signals and names itself here
 * before it runs tg_worker_main or tg_logger_main.
 */
#include "children.h"

#include <sys/prctl.h>
#include <sys/wait.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tg_budget.h"
#include "tg_clock.h"
#include "tg_log.h"
#include "tg_logger.h"
#include "tg_money.h"
#include "tg_ring.h"
#include "tg_worker.h"

#define RESTART_BACKOFF_MIN_MS 100
#define RESTART_BACKOFF_MAX_MS 5000
#define STABLE_AFTER_MS        2000     /* a child that lived this long restarts at once */
/* past a worker's own deadline, time to cut its calls cleanly and exit; then the master acts */
#define LEAVE_GRACE_MS         5000

/* In a fresh child: default signals, named process, die with the master. */
static void
become_child(const struct tg_master *m, const char *name, bool worker)
{
	sigset_t mask;

	for (int s = 1; s < NSIG; s++) {
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	/* SIGUSR2 (retire) terminates by default: a worker keeps it blocked, pending, until
	 * its handler is in place (tg_worker_main), so a retire never kills a starting worker */
	if (worker)
		sigaddset(&mask, SIGUSR2);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	(void)prctl(PR_SET_NAME, name);
	(void)prctl(PR_SET_PDEATHSIG, SIGQUIT);
	/* the master may have died between fork and prctl */
	if (getppid() != m->pid)
		_exit(0);
}

int
tg_children_spawn_worker(struct tg_master *m, const struct tg_generation *g, uint32_t s,
			 uint32_t position)
{
	struct tg_worker_slot *ws = tg_shm_worker(m->shm, s);
	struct tg_child *c = &m->workers[s];
	pid_t pid;

	atomic_store_explicit(&ws->heartbeat_ms, 0, memory_order_relaxed);
	atomic_store_explicit(&ws->generation, g->number, memory_order_relaxed);
	pid = fork();
	if (pid == -1) {
		int saved = errno;
		tg_log_error(NULL, "could not fork a worker: %s slot=%u generation=%u",
			     strerror(saved), s, g->number);
		errno = saved;
		return -1;
	}
	if (pid == 0) {
		struct tg_worker_env env = {
			.cfg = g->cfg, .shm = m->shm, .rings = m->rings, .map = &g->map,
			.slot = s, .generation = g->number, .listen_fds = m->listen.fds,
			.n_listen = m->listen.n, .position = position, .positions = g->cfg->workers,
			.admin_fd = m->admin_fd,
		};
		become_child(m, "tollgate-worker", true);
		tg_log_init("worker", (int)s);
		_exit(tg_worker_main(&env));
	}
	atomic_store_explicit(&ws->pid, pid, memory_order_relaxed);
	*c = (struct tg_child){
		.pid = pid, .generation = g->number, .position = position,
		.started_ms = tg_clock_mono_ms(), .backoff_ms = c->backoff_ms,
	};
	tg_log_info(NULL, "started worker pid=%d slot=%u generation=%u", (int)pid, s, g->number);
	return 0;
}

int
tg_children_spawn_logger(struct tg_master *m)
{
	pid_t pid = fork();

	if (pid == -1) {
		tg_log_error(NULL, "could not fork the logger: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		become_child(m, "tollgate-logger", false);
		tg_log_init("logger", -1);
		_exit(tg_logger_main(m->cur.cfg, m->shm, m->rings));
	}
	m->logger.pid = pid;
	m->logger.started_ms = tg_clock_mono_ms();
	m->logger.restart_at_ms = 0;
	tg_log_info(NULL, "started logger pid=%d", (int)pid);
	return 0;
}

static void
schedule_restart(struct tg_child *c, uint64_t now)
{
	if (now - c->started_ms >= STABLE_AFTER_MS)
		c->backoff_ms = 0;
	else if (c->backoff_ms == 0)
		c->backoff_ms = RESTART_BACKOFF_MIN_MS;
	else if (c->backoff_ms < RESTART_BACKOFF_MAX_MS)
		c->backoff_ms *= 2;
	/* restart_at_ms 0 means "none", so a zero delay still needs a non-zero time */
	c->restart_at_ms = now + c->backoff_ms + (c->backoff_ms == 0);
}

static void
describe_status(int st, char *out, size_t n)
{
	if (WIFEXITED(st))
		snprintf(out, n, "exit status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(out, n, "killed by signal %d", WTERMSIG(st));
	else
		snprintf(out, n, "status 0x%x", st);
}

static void
reap_logger(struct tg_master *m, pid_t pid, const char *how, uint64_t now)
{
	m->logger.pid = 0;
	atomic_store_explicit(&tg_shm_logger(m->shm)->pid, 0, memory_order_relaxed);
	if (m->phase == TG_MASTER_STOPPING_LOGGER) {
		tg_log_info(NULL, "logger pid=%d exited: %s", (int)pid, how);
	} else if (m->logger_restart_now) {
		m->logger_restart_now = false;
		m->logger.backoff_ms = 0;
		m->logger.restart_at_ms = now + 1;
	} else {
		schedule_restart(&m->logger, now);
		tg_log_warn(NULL, "logger pid=%d died: %s; restarting in %u ms", (int)pid, how,
			    m->logger.backoff_ms);
	}
}

static void
reap_worker(struct tg_master *m, uint32_t s, const char *how, uint64_t now)
{
	struct tg_child *c = &m->workers[s];
	pid_t pid = c->pid;
	bool serving = c->leaving == TG_CHILD_SERVING && m->phase == TG_MASTER_RUNNING;
	int64_t released;
	int lost;

	c->pid = 0;
	c->leaving = TG_CHILD_SERVING;
	atomic_store_explicit(&tg_shm_worker(m->shm, s)->pid, 0, memory_order_relaxed);
	/* calls it had in flight become records with outcome "unknown" */
	lost = tg_ring_recover(m->rings, s);
	/* ... and its budget holds go back: those calls recorded no cost (tg_budget.h) */
	released = tg_budget_recover(m->shm, s);
	if (released > 0) {
		char usd[TG_MONEY_USD_LEN];

		tg_money_format_usd(released, usd);
		tg_log_info(NULL, "released the budget holds of worker pid=%d slot=%u usd=%s",
			    (int)pid, s, usd);
	}
	if (serving && c->generation == m->cur.number) {
		schedule_restart(c, now);
		tg_log_warn(NULL, "worker pid=%d slot=%u died: %s; restarting in %u ms "
			    "unknown_calls=%d", (int)pid, s, how, c->backoff_ms, lost);
	} else if (serving) {
		/* a reload's new worker: generation.c sees the position gone and rolls back */
		tg_log_warn(NULL, "worker pid=%d slot=%u died: %s generation=%u unknown_calls=%d",
			    (int)pid, s, how, c->generation, lost);
	} else {
		tg_log_info(NULL, "worker pid=%d slot=%u exited: %s generation=%u unknown_calls=%d",
			    (int)pid, s, how, c->generation, lost);
	}
}

void
tg_children_reap(struct tg_master *m, uint64_t now)
{
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		char how[48];

		describe_status(st, how, sizeof(how));
		if (pid == m->logger.pid) {
			reap_logger(m, pid, how, now);
			continue;
		}
		for (uint32_t s = 0; s < m->n_slots; s++) {
			if (m->workers[s].pid == pid) {
				reap_worker(m, s, how, now);
				break;
			}
		}
	}
}

void
tg_children_restart_due(struct tg_master *m, uint64_t now)
{
	if (m->phase != TG_MASTER_RUNNING)
		return;
	for (uint32_t s = 0; s < m->n_slots; s++) {
		struct tg_child *c = &m->workers[s];
		if (c->restart_at_ms == 0 || now < c->restart_at_ms)
			continue;
		c->restart_at_ms = 0;
		/* a restart due for a generation a reload has since retired is dropped */
		if (c->generation == m->cur.number &&
		    tg_children_spawn_worker(m, &m->cur, s, c->position) == -1)
			schedule_restart(c, now);
	}
	if (m->logger.restart_at_ms != 0 && now >= m->logger.restart_at_ms) {
		m->logger.restart_at_ms = 0;
		if (tg_children_spawn_logger(m) == -1)
			schedule_restart(&m->logger, now);
	}
}

void
tg_children_stop(struct tg_master *m, struct tg_child *c, const struct tg_cfg *cfg,
		 uint64_t now)
{
	(void)m;
	if (c->pid == 0)
		return;
	kill(c->pid, SIGTERM);
	c->leaving = TG_CHILD_STOPPING;
	c->stop_ms = cfg->shutdown_timeout_ms;
	c->leave_by_ms = now + cfg->shutdown_timeout_ms + LEAVE_GRACE_MS;
}

void
tg_children_retire(struct tg_master *m, struct tg_child *c, const struct tg_cfg *cfg,
		   uint64_t now)
{
	(void)m;
	if (c->pid == 0)
		return;
	kill(c->pid, SIGUSR2);
	c->leaving = TG_CHILD_RETIRING;
	c->stop_ms = cfg->shutdown_timeout_ms;
	c->leave_by_ms = now + cfg->reload_drain_ms + LEAVE_GRACE_MS;
}

void
tg_children_enforce(struct tg_master *m, uint64_t now)
{
	if (m->phase != TG_MASTER_RUNNING)
		return;
	for (uint32_t s = 0; s < m->n_slots; s++) {
		struct tg_child *c = &m->workers[s];

		if (c->pid == 0 || c->leave_by_ms == 0 || now < c->leave_by_ms)
			continue;
		if (c->leaving == TG_CHILD_RETIRING) {
			tg_log_warn(NULL, "worker pid=%d slot=%u generation=%u still busy past its "
				    "reload drain: stopping it within %u ms", (int)c->pid, s,
				    c->generation, c->stop_ms);
			kill(c->pid, SIGTERM);
			c->leaving = TG_CHILD_STOPPING;
			c->leave_by_ms = now + c->stop_ms + LEAVE_GRACE_MS;
		} else if (c->leaving == TG_CHILD_STOPPING) {
			tg_log_warn(NULL, "worker pid=%d slot=%u generation=%u did not stop "
				    "within %u ms: killing it", (int)c->pid, s, c->generation,
				    c->stop_ms);
			kill(c->pid, SIGKILL);
			c->leaving = TG_CHILD_KILLED;
			c->leave_by_ms = 0;
		}
	}
}

void
tg_children_signal_all(struct tg_master *m, int signo)
{
	for (uint32_t s = 0; s < m->n_slots; s++) {
		if (m->workers[s].pid != 0)
			kill(m->workers[s].pid, signo);
	}
}

uint32_t
tg_children_alive(const struct tg_master *m)
{
	uint32_t n = 0;

	for (uint32_t s = 0; s < m->n_slots; s++)
		n += m->workers[s].pid != 0;
	return n;
}

uint32_t
tg_children_alive_of(const struct tg_master *m, uint32_t generation)
{
	uint32_t n = 0;

	for (uint32_t s = 0; s < m->n_slots; s++)
		n += m->workers[s].pid != 0 && m->workers[s].generation == generation;
	return n;
}

uint64_t
tg_children_leave_by(const struct tg_master *m, uint32_t generation)
{
	uint64_t last = 0;

	for (uint32_t s = 0; s < m->n_slots; s++) {
		const struct tg_child *c = &m->workers[s];
		if (c->pid != 0 && c->generation == generation && c->leave_by_ms > last)
			last = c->leave_by_ms;
	}
	return last;
}

bool
tg_children_all_beating(const struct tg_master *m, const struct tg_generation *g)
{
	uint32_t beating = 0;

	for (uint32_t s = 0; s < m->n_slots; s++) {
		const struct tg_child *c = &m->workers[s];
		/* the master zeroes the heartbeat before the fork: non-zero means it accepts */
		if (c->pid != 0 && c->generation == g->number &&
		    atomic_load_explicit(&tg_shm_worker(m->shm, s)->heartbeat_ms,
					 memory_order_relaxed) != 0)
			beating++;
	}
	return beating >= g->cfg->workers;
}

uint32_t
tg_children_oldest_generation(const struct tg_master *m)
{
	uint32_t oldest = m->cur.number;

	for (uint32_t s = 0; s < m->n_slots; s++) {
		if (m->workers[s].pid != 0 && m->workers[s].generation < oldest)
			oldest = m->workers[s].generation;
	}
	return oldest;
}

uint64_t
tg_children_next_event(const struct tg_master *m, uint64_t until)
{
	for (uint32_t s = 0; s < m->n_slots; s++) {
		const struct tg_child *c = &m->workers[s];
		if (c->restart_at_ms != 0 && c->restart_at_ms < until)
			until = c->restart_at_ms;
		if (c->pid != 0 && c->leave_by_ms != 0 && c->leave_by_ms < until)
			until = c->leave_by_ms;
	}
	if (m->logger.restart_at_ms != 0 && m->logger.restart_at_ms < until)
		until = m->logger.restart_at_ms;
	return until;
}
