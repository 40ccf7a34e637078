/*
 * The master's listening sockets (SPEC section 2): SO_REUSEPORT, one per
 * worker position, so that a queue outlives the worker that accepts on it
 * (STYLE section 8). Which worker accepts where is the children's business.
 */
#include "listeners.h"

#include <sys/socket.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tg_log.h"

static int
open_listener(const char *host, uint16_t port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res, *ai;
	char service[8];
	int fd = -1, one = 1, rc;

	snprintf(service, sizeof(service), "%u", port);
	rc = getaddrinfo(host, service, &hints, &res);
	if (rc != 0) {
		tg_log_error(NULL, "could not resolve listen address %s: %s", host,
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
		tg_log_error(NULL, "could not listen on %s:%u: %s", host, port, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

int
tg_listeners_ensure(struct tg_listeners *l, const char *host, uint16_t port, uint32_t n)
{
	if (l->host[0] == '\0') {
		snprintf(l->host, sizeof(l->host), "%s", host);
		l->port = port;
	}
	while (l->n < n) {
		int fd = open_listener(l->host, l->port);
		if (fd == -1)
			return -1;
		l->fds[l->n++] = fd;
	}
	return 0;
}

void
tg_listeners_close(struct tg_listeners *l)
{
	for (uint32_t i = 0; i < l->n; i++)
		close(l->fds[i]);
	l->n = 0;
}
