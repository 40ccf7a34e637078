/*
 * A connection's life: its one state and the transitions allowed between
 * them, its one timer (idle, the request deadline, write progress, the
 * post-reply linger), holding it while a handler runs, and closing it. Called
 * by the reading side (http.c) and the writing side (http_write.c); calls
 * neither.
 */
#include <sys/socket.h>
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "http_conn.h"
#include "http_parse.h"
#include "tg_log.h"

/* Every state change goes through here, so a path nobody thought of aborts in tests. */
void
tg_http_conn_set(struct tg_http_conn *c, enum tg_http_conn_state to)
{
	static const unsigned allowed[] = {
		[TG_HTTP_CONN_IDLE] = 1u << TG_HTTP_CONN_HEAD,
		[TG_HTTP_CONN_HEAD] = 1u << TG_HTTP_CONN_HANDLER | 1u << TG_HTTP_CONN_WAIT,
		[TG_HTTP_CONN_HANDLER] = 1u << TG_HTTP_CONN_BODY | 1u << TG_HTTP_CONN_WAIT |
					 1u << TG_HTTP_CONN_IDLE | 1u << TG_HTTP_CONN_LINGER,
		[TG_HTTP_CONN_BODY] = 1u << TG_HTTP_CONN_WAIT,
		[TG_HTTP_CONN_WAIT] = 1u << TG_HTTP_CONN_IDLE | 1u << TG_HTTP_CONN_LINGER,
		[TG_HTTP_CONN_LINGER] = 0,
		[TG_HTTP_CONN_CLOSED] = 0,
	};

	assert(to == TG_HTTP_CONN_CLOSED || (allowed[c->state] & (1u << to)) != 0);
	c->state = to;
}

/* Only tg_http_conn_release and tg_http_server_free come here: no frame of ours holds c. */
void
tg_http_conn_free(struct tg_http_conn *c)
{
	tg_http_parse_fini(&c->req.in);
	free(c->req.rhead);
	free(c->pending);
	free(c->out);
	free(c);
}

void
tg_http_conn_hold(struct tg_http_conn *c)
{
	c->depth++;
}

void
tg_http_conn_release(struct tg_http_conn *c)
{
	assert(c->depth > 0);
	if (--c->depth == 0 && c->state == TG_HTTP_CONN_CLOSED)
		tg_http_conn_free(c);
}

/*
 * Reading stops only where bytes must not be taken in: a body nobody will
 * read, or pipelined bytes past their cap. Level-triggered epoll would
 * otherwise wake the loop again and again for bytes left in the socket.
 */
void
tg_http_conn_read_pause(struct tg_http_conn *c)
{
	if (c->rev_on) {
		event_del(&c->rev);
		c->rev_on = false;
	}
}

void
tg_http_conn_read_resume(struct tg_http_conn *c)
{
	if (!c->rev_on && event_add(&c->rev, NULL) == 0)
		c->rev_on = true;
}

/* Close the descriptor and leave the server's list; the memory waits for the last release. */
void
tg_http_conn_close(struct tg_http_conn *c)
{
	struct tg_http_server *s = c->s;

	if (c->state == TG_HTTP_CONN_CLOSED)
		return;
	event_del(&c->rev);
	event_del(&c->wev);
	event_del(&c->timer);
	close(c->fd);
	c->fd = -1;
	tg_http_conn_set(c, TG_HTTP_CONN_CLOSED);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	s->stats.connections_open--;
}

/* Close now, no callback; free at once unless one of our frames holds it. */
void
tg_http_conn_drop(struct tg_http_conn *c)
{
	tg_http_conn_hold(c);
	tg_http_conn_close(c);
	tg_http_conn_release(c);
}

/*
 * The client went away, stopped reading, or memory ran out: the owner of a
 * live request hears on_gone, with the request still readable, and then the
 * connection is freed.
 */
void
tg_http_conn_gone(struct tg_http_conn *c)
{
	struct tg_http_req *r = &c->req;
	const struct tg_http_owner *cb = r->live ? r->owner_cb : NULL;

	tg_http_conn_hold(c);
	r->live = false;
	tg_http_conn_close(c);
	if (cb != NULL && cb->on_gone != NULL)
		cb->on_gone(r->owner);
	tg_http_conn_release(c);
}

/* Half-close after the last reply and read what the client still sends, for a while. */
static void
conn_linger(struct tg_http_conn *c)
{
	free(c->pending);
	c->pending = NULL;
	c->pending_len = 0;
	if (shutdown(c->fd, SHUT_WR) == -1) {
		tg_http_conn_drop(c);
		return;
	}
	/* closing with unread bytes would send a reset, which can destroy the reply in flight */
	tg_http_conn_set(c, TG_HTTP_CONN_LINGER);
	tg_http_conn_read_resume(c);
	tg_http_conn_timer(c);
}

/* Arm the one timer for what the state waits for. */
void
tg_http_conn_timer(struct tg_http_conn *c)
{
	struct tg_http_server *s = c->s;
	const struct timeval *tv = NULL;

	switch (c->state) {
	case TG_HTTP_CONN_IDLE:
		/* pipelined bytes already here start the next request at once */
		tv = c->pending_len > 0 ? NULL : s->draining ? s->tv_drain : s->tv_idle;
		break;
	case TG_HTTP_CONN_HEAD:
	case TG_HTTP_CONN_BODY:
	case TG_HTTP_CONN_HANDLER:
		return;         /* the request deadline, armed once at its first byte */
	case TG_HTTP_CONN_WAIT:
		tv = c->out_off < c->out_len ? s->tv_write : NULL;
		break;
	case TG_HTTP_CONN_LINGER:
		tv = s->tv_linger;
		break;
	case TG_HTTP_CONN_CLOSED:
		return;
	}
	if (tv != NULL)
		event_add(&c->timer, tv);
	else
		event_del(&c->timer);
}

/* The reply's last byte is with the kernel: tell the owner, then keep the connection or close. */
void
tg_http_conn_finish(struct tg_http_conn *c)
{
	struct tg_http_req *r = &c->req;
	const struct tg_http_owner *cb = r->live ? r->owner_cb : NULL;
	bool keep;

	assert(r->reply == TG_HTTP_REPLY_ENDED && c->out_off == c->out_len);
	r->live = false;
	if (cb != NULL && cb->on_delivered != NULL)
		cb->on_delivered(r->owner);
	if (c->state == TG_HTTP_CONN_CLOSED)
		return;
	keep = r->keep && !c->s->draining;
	/* the request is freed: what it held goes back before the connection idles */
	tg_http_parse_reset(&r->in);
	free(r->rhead);
	r->rhead = NULL;
	r->rhead_len = r->rhead_cap = 0;
	r->owner_cb = NULL;
	r->owner = NULL;
	r->body_cb = NULL;
	r->body_arg = NULL;
	r->reply = TG_HTTP_REPLY_NONE;
	r->body_wanted = r->close_after = r->keep = r->head_only = r->chunked_out = false;
	r->rhead_failed = false;
	if (!keep) {
		conn_linger(c);
		return;
	}
	tg_http_conn_set(c, TG_HTTP_CONN_IDLE);
	tg_http_conn_read_resume(c);
	tg_http_conn_timer(c);
	/* a pipelined request waits for the loop: never inside the call that finished this one */
	if (c->pending_len > 0)
		event_active(&c->rev, EV_READ, 0);
}

