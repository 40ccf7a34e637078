/*
 * A Redis connection on the worker's loop: hiredis's async context on its
 * libevent adapter, a watchdog timer for connect and reply deadlines, script
 * loading on connect, and reconnection with a doubling backoff. The contract
 * is in redis.h; what the commands mean is worker/cluster.c's.
 */
#include "redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "tg_clock.h"
#include "tg_log.h"

#define WATCH_MS       50       /* how often deadlines are looked at */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 1000     /* Redis back: used again within a second */
#define MAX_ARGS       24

enum conn_state { C_IDLE = 0, C_CONNECTING, C_LOADING, C_UP };

struct sub {
	tg_redis_reply_fn *cb;
	void              *arg;
};

struct tg_redis {
	struct event_base            *base;
	char                          ip[64];
	uint16_t                      port;
	uint32_t                      timeout_ms;
	const struct tg_redis_script *scripts;
	size_t                        n_scripts, loaded;
	char                        (*sha)[41];        /* per script, from SCRIPT LOAD */
	redisAsyncContext            *ac;              /* NULL while idle */
	enum conn_state               state;
	uint64_t                      state_ms;        /* when the state began */
	uint64_t                      retry_ms;        /* idle: when to connect again */
	uint32_t                      backoff_ms;
	uint64_t                      conn_gen;        /* bumped per connection: stale replies */
	uint32_t                      pending;         /* commands out on this connection */
	uint64_t                      progress_ms;     /* the last reply, or the first send */
	bool                          complained;      /* "could not reach" logged this outage */
	struct event                 *watch;
	struct sub                    sub;
	tg_redis_state_fn            *on_state;
	void                         *arg;
};

/* One command out; freed after its callback. */
struct pending {
	struct tg_redis   *c;
	uint64_t           gen;
	tg_redis_reply_fn *cb;
	void              *arg;
};

static void connect_now(struct tg_redis *c);

static void
set_state(struct tg_redis *c, enum conn_state s)
{
	bool was_up = c->state == C_UP;

	c->state = s;
	c->state_ms = tg_clock_mono_ms();
	if (was_up != (s == C_UP) && c->on_state != NULL)
		c->on_state(c, s == C_UP, c->arg);
}

/* The connection is gone (or going): count nothing more on it, connect again later. */
static void
went_down(struct tg_redis *c, const char *why)
{
	if (!c->complained)
		tg_log_warn(NULL, "could not reach redis: %s addr=%s:%u", why, c->ip, c->port);
	c->complained = true;
	c->conn_gen++;
	c->pending = 0;
	c->loaded = 0;
	c->retry_ms = tg_clock_mono_ms() + c->backoff_ms;
	c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
	set_state(c, C_IDLE);
}

/* Drop the live context: pending callbacks hear NULL (now, or after the callback we are in). */
static void
drop(struct tg_redis *c, const char *why)
{
	redisAsyncContext *ac = c->ac;

	c->ac = NULL;                   /* on_disconnect ignores a context that is not ours */
	went_down(c, why);
	if (ac != NULL)
		redisAsyncFree(ac);
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	struct tg_redis *c = ac->data;

	(void)status;
	if (c == NULL || c->ac != ac)
		return;
	c->ac = NULL;                   /* hiredis frees it when we return */
	went_down(c, ac->errstr[0] != '\0' ? ac->errstr : "connection closed");
}

static void
on_loaded(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct tg_redis *c = ac->data;
	const redisReply *r = reply;
	size_t i = (size_t)(uintptr_t)privdata;

	if (c == NULL || c->ac != ac || c->state != C_LOADING)
		return;
	if (r == NULL || r->type != REDIS_REPLY_STRING || r->len != 40) {
		tg_log_error(NULL, "could not load a lua script into redis: %s script=%s",
			     r != NULL && r->type == REDIS_REPLY_ERROR ? r->str : "no reply",
			     c->scripts[i].name);
		drop(c, "script load failed");
		return;
	}
	memcpy(c->sha[i], r->str, 40);
	c->sha[i][40] = '\0';
	if (++c->loaded < c->n_scripts)
		return;
	if (c->complained)
		tg_log_info(NULL, "redis reachable again addr=%s:%u", c->ip, c->port);
	c->complained = false;
	c->backoff_ms = BACKOFF_MIN_MS;
	set_state(c, C_UP);
}

static void
on_connect(const redisAsyncContext *cac, int status)
{
	redisAsyncContext *ac = (redisAsyncContext *)cac;
	struct tg_redis *c = ac->data;

	if (c == NULL || c->ac != ac)
		return;
	if (status != REDIS_OK) {
		c->ac = NULL;           /* hiredis frees a context that failed to connect */
		went_down(c, ac->errstr[0] != '\0' ? ac->errstr : "connect failed");
		return;
	}
	if (c->n_scripts == 0) {
		c->backoff_ms = BACKOFF_MIN_MS;
		if (c->complained)
			tg_log_info(NULL, "redis reachable again addr=%s:%u", c->ip, c->port);
		c->complained = false;
		set_state(c, C_UP);
		return;
	}
	set_state(c, C_LOADING);
	for (size_t i = 0; i < c->n_scripts; i++) {
		if (redisAsyncCommand(ac, on_loaded, (void *)(uintptr_t)i, "SCRIPT LOAD %s",
				      c->scripts[i].src) != REDIS_OK) {
			drop(c, "could not queue a script load");
			return;
		}
	}
}

static void
connect_now(struct tg_redis *c)
{
	redisAsyncContext *ac = redisAsyncConnect(c->ip, c->port);

	if (ac == NULL || ac->err != 0) {
		char why[128];

		snprintf(why, sizeof(why), "%s", ac != NULL ? ac->errstr : "out of memory");
		if (ac != NULL)
			redisAsyncFree(ac);
		went_down(c, why);
		return;
	}
	ac->data = c;
	if (redisLibeventAttach(ac, c->base) != REDIS_OK) {
		redisAsyncFree(ac);
		went_down(c, "could not attach to the event loop");
		return;
	}
	c->ac = ac;
	(void)redisAsyncSetConnectCallback(ac, on_connect);
	(void)redisAsyncSetDisconnectCallback(ac, on_disconnect);
	set_state(c, C_CONNECTING);
}

/* Every WATCH_MS: connect when due, and give up on a connect or a reply past the deadline. */
static void
on_watch(evutil_socket_t fd, short what, void *arg)
{
	struct tg_redis *c = arg;
	uint64_t now = tg_clock_mono_ms();

	(void)fd; (void)what;
	switch (c->state) {
	case C_IDLE:
		if (now >= c->retry_ms)
			connect_now(c);
		break;
	case C_CONNECTING:
	case C_LOADING:
		if (now - c->state_ms > c->timeout_ms)
			drop(c, "connect timed out");
		break;
	case C_UP:
		if (c->pending > 0 && now - c->progress_ms > c->timeout_ms)
			drop(c, "a reply timed out");
		break;
	}
}

struct tg_redis *
tg_redis_new(struct event_base *base, const char *ip, uint16_t port, uint32_t timeout_ms,
	     const struct tg_redis_script *scripts, size_t n_scripts, tg_redis_state_fn *on_state,
	     void *arg)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = WATCH_MS * 1000 };
	struct tg_redis *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->base = base;
	snprintf(c->ip, sizeof(c->ip), "%s", ip);
	c->port = port;
	c->timeout_ms = timeout_ms;
	c->scripts = scripts;
	c->n_scripts = n_scripts;
	c->backoff_ms = BACKOFF_MIN_MS;
	c->on_state = on_state;
	c->arg = arg;
	c->sha = n_scripts > 0 ? calloc(n_scripts, sizeof(*c->sha)) : NULL;
	c->watch = event_new(base, -1, EV_PERSIST, on_watch, c);
	if ((n_scripts > 0 && c->sha == NULL) || c->watch == NULL ||
	    event_add(c->watch, &tv) == -1) {
		if (c->watch != NULL)
			event_free(c->watch);
		free(c->sha);
		free(c);
		return NULL;
	}
	connect_now(c);
	return c;
}

void
tg_redis_free(struct tg_redis *c)
{
	redisAsyncContext *ac;

	if (c == NULL)
		return;
	c->on_state = NULL;             /* the owner is going away: tell it nothing more */
	ac = c->ac;
	c->ac = NULL;
	if (ac != NULL)
		redisAsyncFree(ac);
	event_free(c->watch);
	free(c->sha);
	free(c);
}

bool
tg_redis_up(const struct tg_redis *c)
{
	return c != NULL && c->state == C_UP && c->ac != NULL;
}

void
tg_redis_reset(struct tg_redis *c)
{
	if (c != NULL && c->ac != NULL)
		drop(c, "reset by its owner");
}

static void
on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct pending *p = privdata;
	struct tg_redis *c = p->c;
	const redisReply *r = reply;

	(void)ac;
	if (p->gen == c->conn_gen && c->pending > 0) {
		c->pending--;
		c->progress_ms = tg_clock_mono_ms();
	}
	/* the script cache was flushed under us: a fresh connection loads the scripts again */
	if (r != NULL && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0 &&
	    p->gen == c->conn_gen)
		drop(c, "redis forgot our scripts");
	p->cb(r, p->arg);
	free(p);
}

static int
send_argv(struct tg_redis *c, int argc, const char **argv, tg_redis_reply_fn *cb, void *arg)
{
	struct pending *p;

	if (!tg_redis_up(c))
		return -1;
	p = malloc(sizeof(*p));
	if (p == NULL)
		return -1;
	*p = (struct pending){ .c = c, .gen = c->conn_gen, .cb = cb, .arg = arg };
	if (redisAsyncCommandArgv(c->ac, on_reply, p, argc, argv, NULL) != REDIS_OK) {
		free(p);
		return -1;
	}
	if (c->pending++ == 0)
		c->progress_ms = tg_clock_mono_ms();
	return 0;
}

int
tg_redis_eval(struct tg_redis *c, size_t script, int nkeys, int argc, const char **argv,
	      tg_redis_reply_fn *cb, void *arg)
{
	const char *all[MAX_ARGS];
	char n[16];

	if (c == NULL || script >= c->n_scripts || argc + 3 > MAX_ARGS || nkeys > argc)
		return -1;
	snprintf(n, sizeof(n), "%d", nkeys);
	all[0] = "EVALSHA";
	all[1] = c->sha[script];
	all[2] = n;
	memcpy(&all[3], argv, sizeof(*argv) * (size_t)argc);
	return send_argv(c, argc + 3, all, cb, arg);
}

int
tg_redis_command(struct tg_redis *c, int argc, const char **argv, tg_redis_reply_fn *cb,
		 void *arg)
{
	return send_argv(c, argc, argv, cb, arg);
}

bool
tg_redis_ints(const redisReply *r, long long *out, size_t n)
{
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < n)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (r->element[i]->type != REDIS_REPLY_INTEGER)
			return false;
		out[i] = r->element[i]->integer;
	}
	return true;
}

static void
on_message(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct tg_redis *c = ac->data;
	struct sub *s = privdata;

	(void)c;
	s->cb(reply, s->arg);
}

int
tg_redis_subscribe(struct tg_redis *c, const char *channel, tg_redis_reply_fn *cb, void *arg)
{
	if (!tg_redis_up(c))
		return -1;
	c->sub = (struct sub){ .cb = cb, .arg = arg };
	return redisAsyncCommand(c->ac, on_message, &c->sub, "SUBSCRIBE %s", channel) == REDIS_OK
	       ? 0 : -1;
}
