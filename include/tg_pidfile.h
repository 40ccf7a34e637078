/*
 * The master's pid file, state_dir/tollgate.pid: written when the master
 * starts, removed when it exits, read by the `keys` commands to tell a running
 * gateway that keys changed (SIGUSR2). A pid in the file counts only while it
 * names a live process called tollgate-master, so a stale file left by a crash
 * is never mistaken for a gateway, nor a recycled pid signalled.
 */
#ifndef TG_PIDFILE_H
#define TG_PIDFILE_H

#include <stddef.h>
#include <sys/types.h>

#define TG_PIDFILE_NAME "tollgate.pid"

/*
 * Master only, at start: write our pid to state_dir/tollgate.pid (a temporary
 * file renamed over it). Refuses when the file names another live master:
 * two gateways must not share a state_dir. Returns 0, or -1 with why.
 */
int tg_pidfile_write(const char *state_dir, char *why, size_t whylen)
	__attribute__((warn_unused_result));

/* Master only, at exit: remove the file if it still names this process. */
void tg_pidfile_remove(const char *state_dir);

/*
 * The running master of state_dir: its pid, 0 when none runs (no file, or a
 * stale one), or -1 with why when the file cannot be read.
 */
pid_t tg_pidfile_master(const char *state_dir, char *why, size_t whylen);

#endif /* TG_PIDFILE_H */
