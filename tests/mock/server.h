/*
 * The simulator's HTTP/1.1 server (server.c): accepts on a listening socket
 * and owns every connection and every reply still in flight. main.c owns the
 * event_base and the socket.
 */
#ifndef TG_MOCK_SERVER_H
#define TG_MOCK_SERVER_H

#include "mock.h"

struct event_base;
struct tg_mock_server;

/* Serve connections accepted on listen_fd (non-blocking, listening) from m; NULL on failure. */
struct tg_mock_server *tg_mock_server_new(struct event_base *base, int listen_fd,
					  struct tg_mock *m);
/* Closes every connection (held and streaming ones too). NULL does nothing. */
void tg_mock_server_free(struct tg_mock_server *s);

#endif /* TG_MOCK_SERVER_H */
