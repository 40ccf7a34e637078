/*
 * Generations and reloads (SPEC section 2, STYLE section 8). A reload forks a
 * whole new generation beside the serving one and keeps it only if every
 * position is up: otherwise the new workers are stopped, the serving config
 * kept, and the failure audited. Forking itself is children.c's.
 */
#include "generation.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "children.h"
#include "keyload.h"
#include "listeners.h"
#include "notify.h"
#include "tg_buf.h"
#include "tg_clock.h"
#include "tg_log.h"
#include "tg_ring.h"
#include "tg_uuid.h"

#define RELOAD_READY_MS 5000     /* a new generation's workers must all beat within this */
#define POLL_MS         20       /* heartbeats are polled, not signalled */

/*
 * Starts, reloads and rolled-back reloads go to audit_log with the config's
 * hash, through the master's ring; reason is NULL unless the reload failed.
 */
static void
audit(struct tg_master *m, const char *event, const struct tg_generation *g, const char *reason)
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
	tg_buf_json_str(&detail, g->cfg->path, strlen(g->cfg->path));
	tg_buf_printf(&detail, ",\"config_sha256\":\"%s\",\"generation\":%u,\"workers\":%u",
		      g->cfg->sha256_hex, g->number, g->cfg->workers);
	if (reason != NULL) {
		tg_buf_printf(&detail, ",\"serving_generation\":%u,\"reason\":", m->cur.number);
		tg_buf_json_str(&detail, reason, strlen(reason));
	}
	tg_buf_puts(&detail, "}");
	if (detail.failed || detail.len >= sizeof(a->detail)) {
		tg_log_error(NULL, "could not record the %s in the audit log: detail too long",
			     event);
		tg_buf_fini(&detail);
		return;
	}
	memcpy(a->detail, detail.p, detail.len + 1);
	tg_buf_fini(&detail);
	if (tg_ring_push(m->rings, m->master_ring, &rec) != 0)
		tg_log_error(NULL, "could not record the %s in the audit log: the master's ring "
			     "is full", event);
}

/*
 * Fork every position of g into free slots (no process, no restart pending).
 * Returns 0, or -1 with why filled in; the workers already forked stay.
 */
static int
spawn_all(struct tg_master *m, const struct tg_generation *g, char *why, size_t whylen)
{
	uint32_t want = g->cfg->workers, i = 0;

	if (tg_listeners_ensure(&m->listen, g->cfg->listen_host, g->cfg->listen_port, want) == -1) {
		snprintf(why, whylen, "could not open the listening sockets");
		return -1;
	}
	for (uint32_t s = 0; s < m->n_slots && i < want; s++) {
		if (m->workers[s].pid != 0 || m->workers[s].restart_at_ms != 0)
			continue;
		if (tg_children_spawn_worker(m, g, s, i) == -1) {
			snprintf(why, whylen, "could not fork worker %u of %u: %s", i + 1, want,
				 strerror(errno));
			return -1;
		}
		i++;
	}
	if (i < want) {
		/* a reload waits for the older generation to be gone, so this is a bug */
		snprintf(why, whylen, "no free slot for worker %u of %u", i + 1, want);
		return -1;
	}
	return 0;
}

int
tg_generation_start(struct tg_master *m)
{
	char why[160];

	if (spawn_all(m, &m->cur, why, sizeof(why)) == -1) {
		tg_log_error(NULL, "could not start: %s", why);
		return -1;
	}
	audit(m, "start", &m->cur, NULL);
	return 0;
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

/* The new config, or NULL when it is invalid or asks for what only a restart gives. */
static struct tg_cfg *
load_next(struct tg_master *m)
{
	char errors[8192] = "";
	struct tg_cfg *next = tg_cfg_load(m->cur.cfg->path, errors, sizeof(errors));

	if (next == NULL) {
		log_errors("could not reload, keeping the running configuration", errors);
		tg_notify("READY=1\nSTATUS=reload failed: invalid configuration");
		return NULL;
	}
	/* the ring file was laid out for the starting worker count */
	if (next->workers * 2 > m->n_slots) {
		tg_log_error(NULL, "could not reload, keeping the running configuration: workers "
			     "can grow to %u without a restart, the new config asks for %u",
			     m->n_slots / 2, next->workers);
		tg_cfg_free(next);
		tg_notify("READY=1\nSTATUS=reload failed: workers above the starting count");
		return NULL;
	}
	if (strcmp(next->listen_host, m->listen.host) != 0 || next->listen_port != m->listen.port)
		tg_log_warn(NULL, "listen cannot change on reload; keeping %s:%u until a restart",
			    m->listen.host, m->listen.port);
	if (next->admin_listen != m->cur.cfg->admin_listen ||
	    strcmp(next->admin_path, m->cur.cfg->admin_path) != 0 ||
	    strcmp(next->admin_host, m->cur.cfg->admin_host) != 0 ||
	    next->admin_port != m->cur.cfg->admin_port)
		tg_log_warn(NULL, "admin.listen cannot change on reload; keeping the admin "
			    "listener of the start until a restart");
	return next;
}

/*
 * Give up the reload's generation: stop the workers it did start (a few may
 * have accepted connections already, so they finish those), keep serving with
 * the current one, and say so to the log, the audit log and systemd.
 */
static void
roll_back(struct tg_master *m, const char *reason, uint64_t now)
{
	char status[256];

	tg_log_error(NULL, "could not reload, rolled back to generation=%u: %s generation=%u "
		     "config_sha256=%s", m->cur.number, reason, m->next.number,
		     m->next.cfg->sha256_hex);
	for (uint32_t s = 0; s < m->n_slots; s++) {
		if (m->workers[s].pid != 0 && m->workers[s].generation == m->next.number)
			tg_children_stop(m, &m->workers[s], m->next.cfg, now);
	}
	audit(m, "reload_failed", &m->next, reason);
	snprintf(status, sizeof(status), "READY=1\nSTATUS=reload failed, rolled back to "
		 "generation %u: %s", m->cur.number, reason);
	tg_notify(status);
	/* kept as the old generation until its last worker is gone */
	m->old = m->next;
	m->next = (struct tg_generation){ 0 };
}

bool
tg_generation_reload(struct tg_master *m)
{
	const struct tg_generation *busy = m->next.cfg != NULL ? &m->next : &m->old;
	struct tg_generation next = { 0 };
	char why[160];

	if (m->phase != TG_MASTER_RUNNING)
		return false;
	if (busy->cfg != NULL) {
		uint64_t now = tg_clock_mono_ms(), by = tg_children_leave_by(m, busy->number);

		/* two generations at most share the slots and the rings: a third must wait */
		if (!m->reload_deferred && busy == &m->next)
			tg_log_info(NULL, "reload deferred: generation=%u is still starting",
				    busy->number);
		else if (!m->reload_deferred)
			tg_log_info(NULL, "reload deferred until generation=%u is gone: two "
				    "generations at most run side by side, and its workers may "
				    "take %llu ms more to finish their calls", busy->number,
				    (unsigned long long)(by > now ? by - now : 0));
		m->reload_deferred = true;
		return false;
	}
	m->reload_deferred = false;
	tg_notify_reloading();
	tg_log_info(NULL, "reloading %s", m->cur.cfg->path);
	next.cfg = load_next(m);
	if (next.cfg == NULL)
		return true;
	next.number = m->last_number + 1;
	if (tg_shm_assign(m->shm, next.cfg, next.number, tg_children_oldest_generation(m),
			  &next.map) == -1) {
		tg_cfg_free(next.cfg);
		tg_notify("READY=1\nSTATUS=reload failed: shared tables full");
		return true;
	}
	m->last_number = next.number;
	m->next = next;
	m->next_ready_by_ms = tg_clock_mono_ms() + RELOAD_READY_MS;
	if (spawn_all(m, &m->next, why, sizeof(why)) == -1)
		roll_back(m, why, tg_clock_mono_ms());
	return true;
}

/* Every position of the reload's generation beats: it serves, and the old one retires. */
static void
promote(struct tg_master *m, uint64_t now)
{
	uint32_t retired = 0;

	m->old = m->cur;
	m->cur = m->next;
	m->next = (struct tg_generation){ 0 };
	atomic_store_explicit(&m->shm->generation, m->cur.number, memory_order_relaxed);
	for (uint32_t s = 0; s < m->n_slots; s++) {
		struct tg_child *c = &m->workers[s];
		if (c->pid == 0 || c->generation != m->old.number)
			continue;
		tg_children_retire(m, c, m->old.cfg, now);
		retired++;
	}
	if (retired > 0)
		tg_log_info(NULL, "retired %u worker(s) of generation=%u: they finish their calls "
			    "within %u ms", retired, m->old.number, m->old.cfg->reload_drain_ms);
	/* the logger takes the new database settings by restarting; it drains first */
	if (m->logger.pid != 0) {
		m->logger_restart_now = true;
		kill(m->logger.pid, SIGTERM);
	}
	/* the new config's keys, with PostgreSQL's, are the ones that authenticate now */
	tg_keyload_publish(m);
	tg_log_info(NULL, "reloaded generation=%u config_sha256=%s", m->cur.number,
		    m->cur.cfg->sha256_hex);
	tg_notify("READY=1\nSTATUS=serving");
	audit(m, "reload", &m->cur, NULL);
}

void
tg_generation_poll(struct tg_master *m, uint64_t now)
{
	if (m->phase != TG_MASTER_RUNNING)
		return;
	if (!m->announced_ready && tg_children_all_beating(m, &m->cur)) {
		m->announced_ready = true;
		tg_log_info(NULL, "ready: %u workers serving on %s:%u", m->cur.cfg->workers,
			    m->listen.host, m->listen.port);
		tg_notify("READY=1\nSTATUS=serving");
	}
	if (m->next.cfg != NULL) {
		char why[160];

		if (tg_children_all_beating(m, &m->next)) {
			promote(m, now);
		} else if (tg_children_alive_of(m, m->next.number) < m->next.cfg->workers) {
			/* a new worker died before it served: its position has no acceptor */
			roll_back(m, "a new worker exited before its generation served", now);
		} else if (now >= m->next_ready_by_ms) {
			snprintf(why, sizeof(why), "the new workers did not all report ready "
				 "within %d ms", RELOAD_READY_MS);
			roll_back(m, why, now);
		}
	}
	if (m->old.cfg != NULL && tg_children_alive_of(m, m->old.number) == 0) {
		tg_log_info(NULL, "generation=%u is gone: its last worker has exited",
			    m->old.number);
		tg_cfg_free(m->old.cfg);
		m->old = (struct tg_generation){ 0 };
	}
}

uint64_t
tg_generation_next_event(const struct tg_master *m, uint64_t now, uint64_t until)
{
	if ((m->next.cfg != NULL || !m->announced_ready) && now + POLL_MS < until)
		return now + POLL_MS;
	return until;
}
