/*
 * One connection to Redis on the worker's event loop (hiredis and its
 * libevent adapter): it connects, loads its Lua scripts, reconnects with a
 * doubling backoff when Redis goes away, and gives up on a reply later than
 * its timeout (the connection is dropped: every pending callback then hears
 * "no answer"). Nothing here blocks. What to ask Redis is worker/cluster.c's.
 */
#ifndef TG_REDIS_H
#define TG_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

struct tg_redis;

/*
 * A reply, or NULL when none will come (the connection went away, timed out,
 * or was freed). Called exactly once per command; r is only valid during the
 * call. A subscription's callback is called for every message, and once with
 * NULL when the connection ends.
 */
typedef void tg_redis_reply_fn(const redisReply *r, void *arg);

/* The connection became usable (scripts loaded) or stopped being so. */
typedef void tg_redis_state_fn(struct tg_redis *c, bool up, void *arg);

/* A Lua script, loaded with SCRIPT LOAD on every connect and called by EVALSHA. */
struct tg_redis_script {
	const char *name;         /* for logs */
	const char *src;
};

/*
 * Connect to ip:port (an address: nothing here resolves names) on base. The
 * scripts array must outlive the connection. on_state hears every change.
 * Returns NULL when out of memory.
 */
struct tg_redis *tg_redis_new(struct event_base *base, const char *ip, uint16_t port,
			      uint32_t timeout_ms, const struct tg_redis_script *scripts,
			      size_t n_scripts, tg_redis_state_fn *on_state, void *arg);

/* Close and free; pending callbacks hear NULL first. NULL does nothing. */
void tg_redis_free(struct tg_redis *c);

/* Whether commands can be sent: connected and every script loaded. */
bool tg_redis_up(const struct tg_redis *c);

/*
 * EVALSHA script i with nkeys keys followed by the other arguments (argv has
 * argc strings, keys first). Returns 0 when sent (cb will be called once), -1
 * when the connection is not up (cb is not called).
 */
int tg_redis_eval(struct tg_redis *c, size_t script, int nkeys, int argc, const char **argv,
		  tg_redis_reply_fn *cb, void *arg) __attribute__((warn_unused_result));

/* Any other command, the same way. */
int tg_redis_command(struct tg_redis *c, int argc, const char **argv, tg_redis_reply_fn *cb,
		     void *arg) __attribute__((warn_unused_result));

/*
 * SUBSCRIBE channel: cb hears every message. The connection is then only a
 * subscriber. Returns -1 when not up.
 */
int tg_redis_subscribe(struct tg_redis *c, const char *channel, tg_redis_reply_fn *cb,
		       void *arg) __attribute__((warn_unused_result));

/* Whether r is an array of at least n integers; copies them into out. */
bool tg_redis_ints(const redisReply *r, long long *out, size_t n);

/* Drop the connection now and reconnect after the backoff (a caller that saw it hang). */
void tg_redis_reset(struct tg_redis *c);

#endif /* TG_REDIS_H */
