/*
 * The listening sockets: one SO_REUSEPORT socket per worker position, opened
 * by the master and inherited by every worker (tg_worker.h says which it
 * accepts on). Master only.
 */
#ifndef TG_MASTER_LISTENERS_H
#define TG_MASTER_LISTENERS_H

#include <stdint.h>

#include "master.h"

/*
 * Open sockets until there are at least n. The first call fixes the address
 * (host, port); later calls add sockets on that same address whatever they
 * pass, since a reload cannot move the listener. Sockets are only ever added:
 * closing one would reset the connections queued on it. Returns 0, or -1 with
 * the reason logged.
 */
int tg_listeners_ensure(struct tg_listeners *l, const char *host, uint16_t port, uint32_t n)
	__attribute__((warn_unused_result));

/* Close every socket (on stop): once the workers close theirs, connections are refused. */
void tg_listeners_close(struct tg_listeners *l);

/*
 * Open the admin listener cfg->admin_listen names (SPEC section 14): a unix
 * socket created with mode 0660 (a stale socket at the path is replaced, one
 * that answers is left alone and refused), or a loopback TCP port. Non-
 * blocking, inherited by every worker, which all accept on it. Fills path
 * with a unix socket's path (to unlink at exit), else "". Returns the fd, -1
 * when none is configured, or -2 with the reason logged.
 */
int tg_listeners_open_admin(const struct tg_cfg *cfg, char path[TG_UNIX_PATH_MAX]);

/* Close the admin listener and remove its unix socket; fd -1 does nothing. */
void tg_listeners_close_admin(int fd, const char *path);

#endif /* TG_MASTER_LISTENERS_H */
