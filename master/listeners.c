/*
 * The master's listening sockets (SPEC section 2): SO_REUSEPORT, one per
 * worker position, so that a queue outlives the worker that accepts on it
 * (STYLE section 8), and the admin listener that every worker shares (SPEC
 * section 14). Which worker accepts where is the children's business.
 */
#include "listeners.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
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

/* Whether something accepts connections on the unix socket at path. */
static bool
unix_answers(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool up;

	if (fd == -1)
		return false;
	up = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(fd);
	return up;
}

static int
open_admin_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old_mask;
	int fd, rc;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			tg_log_error(NULL, "could not listen on admin socket %s: the path exists "
				     "and is not a socket", path);
			return -2;
		}
		if (unix_answers(&sa)) {
			tg_log_error(NULL, "could not listen on admin socket %s: another process "
				     "accepts on it", path);
			return -2;
		}
		/* left by a master that died: nobody answers it */
		(void)unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		tg_log_error(NULL, "could not create the admin socket: %s", strerror(errno));
		return -2;
	}
	/* created 0660 from the start: no moment where others may connect (one thread here) */
	old_mask = umask(0117);
	rc = bind(fd, (const struct sockaddr *)&sa, sizeof(sa));
	umask(old_mask);
	if (rc == -1 || chmod(path, 0660) == -1 || listen(fd, 512) == -1) {
		tg_log_error(NULL, "could not listen on admin socket %s: %s", path,
			     strerror(errno));
		close(fd);
		return -2;
	}
	return fd;
}

static int
open_admin_tcp(const char *host, uint16_t port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res, *ai;
	char service[8];
	int fd = -2, one = 1, rc;

	snprintf(service, sizeof(service), "%u", port);
	rc = getaddrinfo(host, service, &hints, &res);
	if (rc != 0) {
		tg_log_error(NULL, "could not resolve admin listen address %s: %s", host,
			     gai_strerror(rc));
		return -2;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK, 0);
		if (fd == -1)
			continue;
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 512) == 0)
			break;
		tg_log_error(NULL, "could not listen on admin address %s:%u: %s", host, port,
			     strerror(errno));
		close(fd);
		fd = -2;
	}
	freeaddrinfo(res);
	return fd == -1 ? -2 : fd;
}

int
tg_listeners_open_admin(const struct tg_cfg *cfg, char path[TG_UNIX_PATH_MAX])
{
	int fd;

	path[0] = '\0';
	if (cfg->admin_listen == TG_ADMIN_UNIX) {
		fd = open_admin_unix(cfg->admin_path);
		if (fd >= 0)
			snprintf(path, TG_UNIX_PATH_MAX, "%s", cfg->admin_path);
		return fd;
	}
	if (cfg->admin_listen == TG_ADMIN_TCP)
		return open_admin_tcp(cfg->admin_host, cfg->admin_port);
	return -1;
}

void
tg_listeners_close_admin(int fd, const char *path)
{
	if (fd < 0)
		return;
	close(fd);
	if (path[0] != '\0')
		(void)unlink(path);
}
