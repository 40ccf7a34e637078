/*
 * The master process: forks and supervises the workers and the logger,
 * handles signals and reloads. It never serves traffic or touches the database.
 */
#ifndef TG_MASTER_H
#define TG_MASTER_H

#include "tg_cfg.h"

/*
 * Run the daemon with cfg (taken over by the master) loaded from path, in the
 * foreground, until SIGTERM/SIGINT/SIGQUIT. Returns the process exit status:
 * 0 after a clean stop, 2 when it could not start.
 */
int tg_master_run(struct tg_cfg *cfg);

#endif /* TG_MASTER_H */
