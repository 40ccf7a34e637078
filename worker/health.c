/*
 * Liveness and readiness. /healthz says this worker runs (with its pid and
 * slot, so tests can see every worker); /readyz also checks that the logger
 * is alive and that this worker's log ring is below its high-water mark.
 */
#include <stdio.h>
#include <unistd.h>

#include "tg_clock.h"
#include "call.h"
#include "tg_ring.h"
#include "worker.h"

#define LOGGER_STALE_MS   3000     /* the logger beats every flush; this long silent = gone */
#define RING_HIGH_WATER   90       /* percent of a ring's capacity */

void
tg_health_live(struct tg_http_req *req)
{
	char body[160];
	int n = snprintf(body, sizeof(body),
			 "{\"status\":\"ok\",\"pid\":%d,\"slot\":%u,\"generation\":%u}",
			 (int)getpid(), tg_w.env->slot, tg_w.env->generation);

	tg_reply_json(req, 200, body, (size_t)n);
}

void
tg_health_ready(struct tg_http_req *req)
{
	struct tg_logger_slot *lg = tg_shm_logger(tg_w.env->shm);
	uint64_t beat = atomic_load_explicit(&lg->heartbeat_ms, memory_order_relaxed);
	uint32_t used = tg_ring_used(tg_w.env->rings, tg_w.env->slot);
	uint32_t cap = tg_ring_capacity(tg_w.env->rings);
	const char *why = NULL;
	char body[256];
	int n;

	if (tg_w.draining || atomic_load_explicit(&tg_w.env->shm->draining, memory_order_relaxed))
		why = "shutting down";
	else if (beat == 0 || tg_clock_mono_ms() - beat > LOGGER_STALE_MS)
		why = "logger not running";
	else if ((uint64_t)used * 100 >= (uint64_t)cap * RING_HIGH_WATER)
		why = "log ring above its high-water mark";

	n = snprintf(body, sizeof(body),
		     "{\"status\":\"%s\",\"reason\":\"%s\",\"pid\":%d,\"slot\":%u,\"generation\":%u,"
		     "\"ring_used\":%u,\"ring_capacity\":%u}",
		     why ? "unavailable" : "ready", why ? why : "", (int)getpid(), tg_w.env->slot,
		     tg_w.env->generation, used, cap);
	tg_reply_json(req, why ? 503 : 200, body, (size_t)n);
}
