/* Names of call outcomes, deliveries, route reasons and endpoints, shared by the database writer, metrics and logs. */
#include "tg_record.h"

const char *const tg_outcome_names[TG_OUTCOME_COUNT] = {
	[TG_OUTCOME_OK] = "ok",
	[TG_OUTCOME_CLIENT_ERROR] = "client_error",
	[TG_OUTCOME_RATE_LIMITED] = "rate_limited",
	[TG_OUTCOME_UNAVAILABLE] = "unavailable",
	[TG_OUTCOME_UPSTREAM_4XX] = "upstream_4xx",
	[TG_OUTCOME_UPSTREAM_ERROR] = "upstream_error",
	[TG_OUTCOME_TIMEOUT] = "timeout",
	[TG_OUTCOME_INCOMPLETE] = "incomplete",
	[TG_OUTCOME_CANCELLED] = "cancelled",
	[TG_OUTCOME_UNKNOWN] = "unknown",
	[TG_OUTCOME_GATEWAY_CUT] = "gateway_cut",
	[TG_OUTCOME_BUDGET] = "budget_exceeded",
};

const char *const tg_delivery_names[TG_DELIVERY_COUNT] = {
	[TG_DELIVERY_UNKNOWN] = "unknown",
	[TG_DELIVERY_DELIVERED] = "delivered",
	[TG_DELIVERY_NOT_DELIVERED] = "not_delivered",
};

const char *const tg_route_reason_names[TG_REASON_COUNT] = {
	[TG_REASON_NONE] = "",
	[TG_REASON_ONLY] = "only",
	[TG_REASON_FALLBACK] = "fallback",
	[TG_REASON_CHEAPEST] = "cheapest",
	[TG_REASON_EXPLORE] = "explore",
	[TG_REASON_WEIGHTED] = "weighted",
	[TG_REASON_GUARD] = "guard",
};

const char *const tg_endpoint_names[TG_EP_COUNT] = {
	[TG_EP_NONE] = "",
	[TG_EP_ANTHROPIC_MESSAGES] = "/v1/messages",
	[TG_EP_OPENAI_CHAT] = "/v1/chat/completions",
	[TG_EP_GEMINI_GENERATE] = "/v1beta/models:generateContent",
	[TG_EP_GEMINI_STREAM] = "/v1beta/models:streamGenerateContent",
	[TG_EP_OPENAI_RESPONSES] = "/v1/responses",
	[TG_EP_SHADOW] = "shadow",
};
