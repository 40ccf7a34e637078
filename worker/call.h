/*
 * A client's call through the gateway, from its request headers to its record
 * in the log ring: one owner of struct tg_call (call.c), one state enum, one
 * transition function that asserts each step (PgBouncer's change_client_state).
 * The decisions along the way are other modules' pure functions: the wire
 * formats (tg_wire.h), retry or fall back (decide.h), the stream relay
 * (relay.h); the shared limits are policy.h's and the record record.h's.
 */
#ifndef TG_CALL_H
#define TG_CALL_H

#include <stdint.h>

#include "http.h"
#include "tg_wire.h"

enum tg_call_state {
	TG_CALL_ADMITTING = 0,  /* headers in: reading and checking the body, limits, targets */
	TG_CALL_ATTEMPTING,     /* a provider transfer is under way; nothing reached the client */
	TG_CALL_WAITING,        /* backing off before another attempt */
	TG_CALL_STREAMING,      /* a 200 stream is being relayed: no retry from here on */
	TG_CALL_ANSWERING,      /* the reply is with the HTTP server; waiting to hear it left */
	TG_CALL_DONE,           /* recorded; freed on the way out */
	TG_CALL_STATES
};

/*
 * A request for a family's endpoint has its headers in: authenticate it, read
 * its body, and serve it. Answers and records it whatever happens; a caller
 * without a valid key is answered 401 and only counted.
 */
void tg_call_start(struct tg_http_req *req, const struct tg_wire_endpoint *ep);

/* Calls in progress in this worker. */
uint32_t tg_call_count(void);

/*
 * The worker must stop now (its drain deadline passed): end every call still
 * talking to a provider — a stream with the family's in-stream error event and
 * its closing chunk, a call not yet answered with 503 — recorded as cut by the
 * gateway with the usage seen so far.
 */
void tg_call_cut_all(void);

#endif /* TG_CALL_H */
