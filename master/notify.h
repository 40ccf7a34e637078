/*
 * systemd's notify protocol, written directly: one datagram per message to
 * $NOTIFY_SOCKET (a path, or an abstract name starting with '@'). A no-op when
 * the variable is unset. Master only.
 */
#ifndef TG_MASTER_NOTIFY_H
#define TG_MASTER_NOTIFY_H

/* Send state (e.g. "READY=1"); failures are logged once and otherwise ignored. */
void tg_notify(const char *state);

/* RELOADING=1 with MONOTONIC_USEC, which systemd >= 253 needs to match the reload. */
void tg_notify_reloading(void);

#endif /* TG_MASTER_NOTIFY_H */
