/*
 * Supervision: the master forks N workers (one slot each) and one logger,
 * restarts whichever dies, and drives reloads and shutdown from a ppoll loop
 * with its signals blocked (no libevent here: children would inherit it).
 * Workers and the logger own their own event loops and signal handling.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "notify.h"
#include "tg_buf.h"
#include "tg_clock.h"
#include "tg_log.h"
#include "tg_logger.h"
#include "tg_master.h"
#include "tg_ring.h"
#include "tg_shm.h"
#include "tg_uuid.h"
#include "tg_version.h"
#include "tg_worker.h"

#define RESTART_BACKOFF_MIN_MS 100
#define RESTART_BACKOFF_MAX_MS 5000
#define STABLE_AFTER_MS        2000     /* a child that lived this long restarts at once */
#define RELOAD_READY_MS        5000     /* new workers must heartbeat within this */
#define LOGGER_DRAIN_MS        60000    /* how long a stopping logger may take to flush */

struct child {
	pid_t    pid;                /* 0 = none */
	uint32_t generation;
	uint64_t started_ms;
	uint64_t restart_at_ms;      /* 0 = no restart scheduled */
	uint32_t backoff_ms;
	uint32_t position;           /* which listening sockets it accepts on (tg_worker_env) */
	int      retiring;           /* old generation, told to finish and exit */
};

enum master_phase { RUNNING = 0, STOPPING_WORKERS, STOPPING_LOGGER };

static void audit_config(const char *event);

static volatile sig_atomic_t got_hup, got_term, got_quit, got_chld, got_usr1;

static struct {
	struct tg_cfg       *cfg;          /* current generation's config; owned */
	struct tg_cfg       *old_cfg;      /* the previous one until its workers are gone */
	struct tg_slot_map   map;
	struct tg_shm_hdr   *shm;
	struct tg_ring_file *rings;
	int                  listen_fds[TG_MAX_WORKERS];  /* never fewer than the workers of a generation */
	uint32_t             n_listen;
	uint32_t             n_slots;             /* worker slots with a ring: 2 x starting workers */
	uint32_t             master_ring;         /* the ring after them: the master's audit entries */
	uint32_t             generation;
	pid_t                master_pid;

	struct child         workers[TG_WORKER_SLOTS];
	struct child         logger;
	int                  logger_restart_now;  /* a reload stopped it: start at once */

	enum master_phase    phase;
	uint64_t             phase_deadline_ms;
	uint64_t             reload_deadline_ms;  /* 0 = no reload waiting for heartbeats */
	int                  announced_ready;
} M;

static void
on_signal(int signo)                      /* async-signal-safe: sets flags, nothing else */
{
	int saved = errno;

	if (signo == SIGHUP) got_hup = 1;
	else if (signo == SIGTERM || signo == SIGINT) got_term = 1;
	else if (signo == SIGQUIT) got_quit = 1;
	else if (signo == SIGCHLD) got_chld = 1;
	else if (signo == SIGUSR1) got_usr1 = 1;
	errno = saved;
}

static int
open_listener(const struct tg_cfg *cfg)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res, *ai;
	char port[8];
	int fd = -1, one = 1, rc;

	snprintf(port, sizeof(port), "%u", cfg->listen_port);
	rc = getaddrinfo(cfg->listen_host, port, &hints, &res);
	if (rc != 0) {
		tg_log_error(NULL, "could not resolve listen address %s: %s", cfg->listen_host,
			     gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK, 0);
		if (fd == -1)
			continue;
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		/* one socket per worker position: the kernel balances connections over them */
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1) {
			tg_log_error(NULL, "could not set SO_REUSEPORT: %s", strerror(errno));
			close(fd);
			fd = -1;
			break;
		}
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 4096) == 0)
			break;
		tg_log_error(NULL, "could not listen on %s:%u: %s", cfg->listen_host,
			     cfg->listen_port, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/*
 * Open listening sockets until there are at least n. Sockets are only ever
 * added: closing one would reset the connections queued on it.
 */
static int
ensure_listeners(const struct tg_cfg *cfg, uint32_t n)
{
	while (M.n_listen < n) {
		int fd = open_listener(cfg);
		if (fd == -1)
			return -1;
		M.listen_fds[M.n_listen++] = fd;
	}
	return 0;
}

/* In a fresh child: default signals, named process, die with the master. */
static void
become_child(const char *name)
{
	sigset_t all;

	for (int s = 1; s < NSIG; s++) {
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	(void)prctl(PR_SET_NAME, name);
	(void)prctl(PR_SET_PDEATHSIG, SIGQUIT);
	/* the master may have died between fork and prctl */
	if (getppid() != M.master_pid)
		_exit(0);
}

static int
spawn_worker(uint32_t s, uint32_t position)
{
	struct tg_worker_slot *ws = tg_shm_worker(M.shm, s);
	struct child *c = &M.workers[s];
	pid_t pid;

	atomic_store_explicit(&ws->heartbeat_ms, 0, memory_order_relaxed);
	atomic_store_explicit(&ws->generation, M.generation, memory_order_relaxed);
	pid = fork();
	if (pid == -1) {
		tg_log_error(NULL, "could not fork a worker: %s slot=%u", strerror(errno), s);
		return -1;
	}
	if (pid == 0) {
		struct tg_worker_env env = {
			.cfg = M.cfg, .shm = M.shm, .rings = M.rings, .map = &M.map,
			.slot = s, .generation = M.generation, .listen_fds = M.listen_fds,
			.n_listen = M.n_listen, .position = position, .positions = M.cfg->workers,
		};
		become_child("tollgate-worker");
		tg_log_init("worker", (int)s);
		_exit(tg_worker_main(&env));
	}
	atomic_store_explicit(&ws->pid, pid, memory_order_relaxed);
	c->pid = pid;
	c->generation = M.generation;
	c->started_ms = tg_clock_mono_ms();
	c->restart_at_ms = 0;
	c->retiring = 0;
	c->position = position;
	tg_log_info(NULL, "started worker pid=%d slot=%u generation=%u", (int)pid, s, M.generation);
	return 0;
}

static int
spawn_logger(void)
{
	pid_t pid = fork();

	if (pid == -1) {
		tg_log_error(NULL, "could not fork the logger: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		become_child("tollgate-logger");
		tg_log_init("logger", -1);
		_exit(tg_logger_main(M.cfg, M.shm, M.rings));
	}
	M.logger.pid = pid;
	M.logger.started_ms = tg_clock_mono_ms();
	M.logger.restart_at_ms = 0;
	tg_log_info(NULL, "started logger pid=%d", (int)pid);
	return 0;
}

/* Free slots for a new generation: no process and no restart pending. */
static uint32_t
free_slots(uint32_t *out, uint32_t want)
{
	uint32_t n = 0;

	for (uint32_t s = 0; s < M.n_slots && n < want; s++) {
		if (M.workers[s].pid == 0 && M.workers[s].restart_at_ms == 0)
			out[n++] = s;
	}
	return n;
}

static int
start_generation(void)
{
	uint32_t slots[TG_MAX_WORKERS];

	if (free_slots(slots, M.cfg->workers) < M.cfg->workers) {
		tg_log_error(NULL, "could not start workers: every slot is busy (an older generation "
			     "is still draining)");
		return -1;
	}
	if (ensure_listeners(M.cfg, M.cfg->workers) == -1)
		return -1;
	for (uint32_t i = 0; i < M.cfg->workers; i++) {
		if (spawn_worker(slots[i], i) == -1)
			return -1;
	}
	return 0;
}

static void
schedule_restart(struct child *c, uint64_t now)
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
reap_children(void)
{
	uint64_t now = tg_clock_mono_ms();
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		char how[48];
		describe_status(st, how, sizeof(how));

		if (pid == M.logger.pid) {
			M.logger.pid = 0;
			atomic_store_explicit(&tg_shm_logger(M.shm)->pid, 0, memory_order_relaxed);
			if (M.phase == STOPPING_LOGGER) {
				tg_log_info(NULL, "logger pid=%d exited: %s", (int)pid, how);
			} else if (M.logger_restart_now) {
				M.logger_restart_now = 0;
				M.logger.backoff_ms = 0;
				M.logger.restart_at_ms = now + 1;
			} else {
				schedule_restart(&M.logger, now);
				tg_log_warn(NULL, "logger pid=%d died: %s; restarting in %u ms", (int)pid,
					    how, M.logger.backoff_ms);
			}
			continue;
		}
		for (uint32_t s = 0; s < M.n_slots; s++) {
			struct child *c = &M.workers[s];
			if (c->pid != pid)
				continue;
			c->pid = 0;
			atomic_store_explicit(&tg_shm_worker(M.shm, s)->pid, 0, memory_order_relaxed);
			/* calls it had in flight become records with outcome "unknown" */
			int lost = tg_ring_recover(M.rings, s);
			if (c->retiring || M.phase != RUNNING || c->generation != M.generation) {
				tg_log_info(NULL, "worker pid=%d slot=%u exited: %s", (int)pid, s, how);
				c->retiring = 0;
			} else {
				schedule_restart(c, now);
				tg_log_warn(NULL, "worker pid=%d slot=%u died: %s; restarting in %u ms "
					    "unknown_calls=%d", (int)pid, s, how, c->backoff_ms, lost);
			}
			break;
		}
	}
}

static void
signal_workers(int signo, int only_old)
{
	for (uint32_t s = 0; s < M.n_slots; s++) {
		struct child *c = &M.workers[s];
		if (c->pid == 0 || (only_old && c->generation == M.generation))
			continue;
		if (only_old)
			c->retiring = 1;
		kill(c->pid, signo);
	}
}

static int
workers_alive(void)
{
	int n = 0;

	for (uint32_t s = 0; s < M.n_slots; s++)
		n += M.workers[s].pid != 0;
	return n;
}

/* Every worker of the current generation has its listener up. */
static int
generation_ready(void)
{
	uint32_t ready = 0;

	for (uint32_t s = 0; s < M.n_slots; s++) {
		struct child *c = &M.workers[s];
		if (c->pid != 0 && c->generation == M.generation &&
		    atomic_load_explicit(&tg_shm_worker(M.shm, s)->heartbeat_ms,
					 memory_order_relaxed) != 0)
			ready++;
	}
	return ready >= M.cfg->workers;
}

static void
log_errors(const char *what, const char *errors)
{
	const char *line = errors;

	while (*line != '\0') {
		const char *nl = strchr(line, '\n');
		int len = nl ? (int)(nl - line) : (int)strlen(line);
		tg_log_error(NULL, "%s: %.*s", what, len, line);
		line += len + (nl != NULL);
	}
}

static void
reload(void)
{
	char errors[8192] = "";
	struct tg_cfg *next;

	tg_notify_reloading();
	tg_log_info(NULL, "reloading %s", M.cfg->path);
	next = tg_cfg_load(M.cfg->path, errors, sizeof(errors));
	if (next == NULL) {
		log_errors("could not reload, keeping the running configuration", errors);
		tg_notify("READY=1\nSTATUS=reload failed: invalid configuration");
		return;
	}
	/* the ring file was laid out for the starting worker count */
	if (next->workers * 2 > M.n_slots) {
		tg_log_error(NULL, "could not reload, keeping the running configuration: workers can "
			     "grow to %u without a restart, the new config asks for %u",
			     M.n_slots / 2, next->workers);
		tg_cfg_free(next);
		tg_notify("READY=1\nSTATUS=reload failed: workers above the starting count");
		return;
	}
	if (strcmp(next->listen_host, M.cfg->listen_host) != 0 ||
	    next->listen_port != M.cfg->listen_port)
		tg_log_warn(NULL, "listen cannot change on reload; keeping %s:%u until a restart",
			    M.cfg->listen_host, M.cfg->listen_port);
	if (tg_shm_assign(M.shm, next, &M.map) == -1) {
		tg_cfg_free(next);
		tg_notify("READY=1\nSTATUS=reload failed: shared tables full");
		return;
	}
	M.old_cfg = M.cfg;
	M.cfg = next;
	M.generation++;
	atomic_store_explicit(&M.shm->generation, M.generation, memory_order_relaxed);
	if (start_generation() == -1) {
		tg_log_error(NULL, "could not reload: new workers did not start");
		tg_notify("READY=1\nSTATUS=reload failed: could not start workers");
	}
	M.reload_deadline_ms = tg_clock_mono_ms() + RELOAD_READY_MS;
	audit_config("reload");
}

/* After a reload: once the new generation serves, retire the old one and the old logger. */
static void
finish_reload(uint64_t now)
{
	if (M.reload_deadline_ms == 0)
		return;
	if (!generation_ready() && now < M.reload_deadline_ms)
		return;
	if (!generation_ready())
		tg_log_warn(NULL, "new workers did not all report ready within %d ms; retiring the "
			    "old ones anyway", RELOAD_READY_MS);
	M.reload_deadline_ms = 0;
	signal_workers(SIGTERM, 1);
	/* the logger takes the new database settings by restarting; it drains first */
	if (M.logger.pid != 0) {
		M.logger_restart_now = 1;
		kill(M.logger.pid, SIGTERM);
	}
	tg_log_info(NULL, "reloaded generation=%u config_sha256=%s", M.generation,
		    M.cfg->sha256_hex);
	tg_notify("READY=1\nSTATUS=serving");
}

/* Starts and accepted reloads go to audit_log with the config's hash, via the master's ring. */
static void
audit_config(const char *event)
{
	struct tg_record rec;
	struct tg_audit_rec *a = &rec.u.audit;
	struct tg_buf detail;

	memset(&rec, 0, sizeof(rec));
	rec.kind = TG_REC_AUDIT;
	tg_uuid7(a->event_id);
	a->at_us = tg_clock_wall_us();
	snprintf(a->actor, sizeof(a->actor), "master");
	snprintf(a->event, sizeof(a->event), "%s", event);
	tg_buf_init(&detail);
	tg_buf_puts(&detail, "{\"config\":");
	tg_buf_json_str(&detail, M.cfg->path, strlen(M.cfg->path));
	tg_buf_printf(&detail, ",\"config_sha256\":\"%s\",\"generation\":%u,\"workers\":%u}",
		      M.cfg->sha256_hex, M.generation, M.cfg->workers);
	if (detail.failed || detail.len >= sizeof(a->detail)) {
		tg_log_error(NULL, "could not record the %s in the audit log: detail too long", event);
		tg_buf_fini(&detail);
		return;
	}
	memcpy(a->detail, detail.p, detail.len + 1);
	tg_buf_fini(&detail);
	if (tg_ring_push(M.rings, M.master_ring, &rec) != 0)
		tg_log_error(NULL, "could not record the %s in the audit log: the master's ring is full",
			     event);
}

static void
free_old_cfg(void)
{
	if (M.old_cfg == NULL || M.reload_deadline_ms != 0)
		return;
	for (uint32_t s = 0; s < M.n_slots; s++) {
		if (M.workers[s].pid != 0 && M.workers[s].generation != M.generation)
			return;
	}
	tg_cfg_free(M.old_cfg);
	M.old_cfg = NULL;
}

static void
begin_stop(void)
{
	tg_notify("STOPPING=1");
	tg_log_info(NULL, "stopping: finishing in-flight requests within %u ms",
		    M.cfg->shutdown_timeout_ms);
	atomic_store_explicit(&M.shm->draining, 1, memory_order_relaxed);
	/* once the workers close their copies too, new connections are refused, not left queued */
	for (uint32_t i = 0; i < M.n_listen; i++)
		close(M.listen_fds[i]);
	M.n_listen = 0;
	M.phase = STOPPING_WORKERS;
	M.phase_deadline_ms = tg_clock_mono_ms() + M.cfg->shutdown_timeout_ms;
	for (uint32_t s = 0; s < M.n_slots; s++)
		M.workers[s].restart_at_ms = 0;
	signal_workers(SIGTERM, 0);
}

static void
kill_everything(void)
{
	signal_workers(SIGKILL, 0);
	if (M.logger.pid != 0)
		kill(M.logger.pid, SIGKILL);
	while (workers_alive() > 0 || M.logger.pid != 0) {
		int st;
		pid_t pid = waitpid(-1, &st, 0);
		if (pid == -1 && errno != EINTR)
			break;
		reap_children();
		if (pid > 0 && pid == M.logger.pid)
			M.logger.pid = 0;
		for (uint32_t s = 0; pid > 0 && s < M.n_slots; s++) {
			if (M.workers[s].pid == pid) {
				M.workers[s].pid = 0;
				(void)tg_ring_recover(M.rings, s);
			}
		}
	}
}

/* Advance shutdown; returns 1 when the master may exit. */
static int
stop_progress(uint64_t now)
{
	if (M.phase == STOPPING_WORKERS) {
		if (workers_alive() > 0 && now < M.phase_deadline_ms)
			return 0;
		if (workers_alive() > 0) {
			tg_log_warn(NULL, "shutdown timeout: killing %d worker(s) still busy",
				    workers_alive());
			signal_workers(SIGKILL, 0);
			return 0;
		}
		M.phase = STOPPING_LOGGER;
		M.phase_deadline_ms = now + LOGGER_DRAIN_MS;
		if (M.logger.pid != 0)
			kill(M.logger.pid, SIGTERM);
	}
	if (M.phase == STOPPING_LOGGER) {
		if (M.logger.pid == 0)
			return 1;
		if (now >= M.phase_deadline_ms) {
			tg_log_error(NULL, "logger did not finish within %d ms; its records stay in "
				     "the ring file for the next start", LOGGER_DRAIN_MS);
			kill(M.logger.pid, SIGKILL);
			M.phase_deadline_ms = UINT64_MAX;
		}
	}
	return 0;
}

static void
run_restarts(uint64_t now)
{
	if (M.phase != RUNNING)
		return;
	for (uint32_t s = 0; s < M.n_slots; s++) {
		struct child *c = &M.workers[s];
		if (c->restart_at_ms != 0 && now >= c->restart_at_ms) {
			c->restart_at_ms = 0;
			if (c->generation == M.generation && spawn_worker(s, c->position) == -1)
				schedule_restart(c, now);
		}
	}
	if (M.logger.restart_at_ms != 0 && now >= M.logger.restart_at_ms) {
		M.logger.restart_at_ms = 0;
		if (spawn_logger() == -1)
			schedule_restart(&M.logger, now);
	}
}

static uint64_t
next_wakeup(uint64_t now)
{
	uint64_t next = now + 1000;

	for (uint32_t s = 0; s < M.n_slots; s++) {
		if (M.workers[s].restart_at_ms != 0 && M.workers[s].restart_at_ms < next)
			next = M.workers[s].restart_at_ms;
	}
	if (M.logger.restart_at_ms != 0 && M.logger.restart_at_ms < next)
		next = M.logger.restart_at_ms;
	/* heartbeats and drains are polled, not signalled: look often while waiting on them */
	if (M.reload_deadline_ms != 0 || !M.announced_ready || M.phase != RUNNING)
		next = now + 20 < next ? now + 20 : next;
	return next;
}

int
tg_master_run(struct tg_cfg *cfg)
{
	char why[256];
	sigset_t block, unblocked;
	struct sigaction sa = { .sa_handler = on_signal };

	M.cfg = cfg;
	M.master_pid = getpid();
	M.generation = 1;
	(void)prctl(PR_SET_NAME, "tollgate-master");
	tg_log_init("master", -1);

	if (mkdir(cfg->state_dir, 0700) == -1 && errno != EEXIST) {
		tg_log_error(NULL, "could not create state_dir %s: %s", cfg->state_dir,
			     strerror(errno));
		return 2;
	}
	M.shm = tg_shm_create();
	if (M.shm == NULL || tg_shm_assign(M.shm, cfg, &M.map) == -1)
		return 2;
	atomic_store_explicit(&M.shm->generation, M.generation, memory_order_relaxed);
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
	if (ensure_listeners(cfg, cfg->workers) == -1)
		return 2;

	sigemptyset(&block);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGQUIT);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &unblocked);
	sigdelset(&unblocked, SIGHUP);
	sigdelset(&unblocked, SIGTERM);
	sigdelset(&unblocked, SIGINT);
	sigdelset(&unblocked, SIGQUIT);
	sigdelset(&unblocked, SIGCHLD);
	sigdelset(&unblocked, SIGUSR1);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	tg_log_info(NULL, "starting version=%s listen=%s:%u workers=%u config_sha256=%s",
		    TG_VERSION, cfg->listen_host, cfg->listen_port, cfg->workers, cfg->sha256_hex);
	if (spawn_logger() == -1 || start_generation() == -1) {
		kill_everything();
		return 2;
	}
	audit_config("start");

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
			reap_children();
		}
		/* SIGQUIT, or a second SIGTERM while stopping, means now */
		if (got_quit || (got_term && M.phase != RUNNING)) {
			tg_log_info(NULL, "fast stop: killing every child");
			tg_notify("STOPPING=1");
			kill_everything();
			return 0;
		}
		if (got_term) {
			got_term = 0;
			begin_stop();
		}
		/* a SIGHUP during a reload waits until the old generation is gone, then runs */
		if (got_hup && M.phase == RUNNING && M.reload_deadline_ms == 0 && M.old_cfg == NULL) {
			got_hup = 0;
			reload();
		}
		if (got_usr1) {
			got_usr1 = 0;
			tg_log_info(NULL, "logs go to stderr: nothing to reopen");
		}
		run_restarts(now);
		if (!M.announced_ready && generation_ready()) {
			M.announced_ready = 1;
			tg_log_info(NULL, "ready: %u workers serving on %s:%u", M.cfg->workers,
				    M.cfg->listen_host, M.cfg->listen_port);
			tg_notify("READY=1\nSTATUS=serving");
		}
		finish_reload(now);
		free_old_cfg();
		if (M.phase != RUNNING && stop_progress(now)) {
			tg_log_info(NULL, "stopped");
			return 0;
		}
	}
}
