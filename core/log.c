/*
 * Log lines on stderr: "<level> <role>[slot] pid=N [req=ID] message".
 * One write(2) per line so lines from several processes never interleave.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tg_log.h"

enum tg_log_level tg_log_level = TG_LOG_INFO;

static char log_role[32] = "tollgate";
static int log_slot = -1;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void
tg_log_init(const char *role, int slot)
{
	snprintf(log_role, sizeof(log_role), "%s", role);
	log_slot = slot;
}

void
tg_log_emit(enum tg_log_level level, const struct tg_log_ctx *ctx, const char *fmt, ...)
{
	char line[2048];
	int saved = errno;
	int n;

	if (log_slot >= 0)
		n = snprintf(line, sizeof(line), "%s %s[%d] pid=%d ", level_names[level], log_role,
			     log_slot, (int)getpid());
	else
		n = snprintf(line, sizeof(line), "%s %s pid=%d ", level_names[level], log_role,
			     (int)getpid());
	if (ctx != NULL && ctx->req_id != NULL && n < (int)sizeof(line))
		n += snprintf(line + n, sizeof(line) - (size_t)n, "req=%s ", ctx->req_id);

	va_list ap;
	va_start(ap, fmt);
	if (n < (int)sizeof(line))
		n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);

	if (n >= (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* a short write to stderr has nowhere better to be reported */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		errno = saved;
	errno = saved;
}
