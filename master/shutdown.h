/*
 * Stopping: SIGTERM lets every worker finish its calls within
 * shutdown_timeout_ms, then the logger flushes every record; SIGQUIT (or a
 * second SIGTERM) kills everything now. Master only.
 */
#ifndef TG_MASTER_SHUTDOWN_H
#define TG_MASTER_SHUTDOWN_H

#include <stdbool.h>
#include <stdint.h>

#include "master.h"

/*
 * Begin a graceful stop: tell systemd, refuse new connections, and send
 * SIGTERM to every worker of every generation, retiring ones included (a
 * retiring worker's longer drain gives way to the stop deadline).
 */
void tg_shutdown_begin(struct tg_master *m);

/*
 * Move a graceful stop on: the workers gone (or killed at the deadline), then
 * the logger drained. Returns true when the master may exit.
 */
bool tg_shutdown_progress(struct tg_master *m, uint64_t now);

/* Kill every child with SIGKILL and reap them all, recovering their calls in flight. */
void tg_shutdown_now(struct tg_master *m);

#endif /* TG_MASTER_SHUTDOWN_H */
