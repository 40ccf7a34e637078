/*
 * Logging: one line per event on stderr, with a level and the process's role.
 * Every process calls tg_log_init() once after fork; nothing logs from a signal handler.
 */
#ifndef TG_LOG_H
#define TG_LOG_H

enum tg_log_level { TG_LOG_ERROR = 0, TG_LOG_WARN, TG_LOG_INFO, TG_LOG_DEBUG };

/* Optional per-event context: the request an event belongs to. */
struct tg_log_ctx {
	const char *req_id;
};

extern enum tg_log_level tg_log_level;

/* Name this process in log lines: role is "master", "worker", "logger"; slot is -1 when none. */
void tg_log_init(const char *role, int slot);

void tg_log_emit(enum tg_log_level level, const struct tg_log_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define tg_log_at(lvl, ctx, ...) do { \
		if (tg_log_level >= (lvl)) tg_log_emit((lvl), (ctx), __VA_ARGS__); \
	} while (0)
#define tg_log_error(ctx, ...) tg_log_at(TG_LOG_ERROR, ctx, __VA_ARGS__)
#define tg_log_warn(ctx, ...)  tg_log_at(TG_LOG_WARN, ctx, __VA_ARGS__)
#define tg_log_info(ctx, ...)  tg_log_at(TG_LOG_INFO, ctx, __VA_ARGS__)
#define tg_log_debug(ctx, ...) tg_log_at(TG_LOG_DEBUG, ctx, __VA_ARGS__)

#endif /* TG_LOG_H */
