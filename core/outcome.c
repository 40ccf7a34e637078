/* Names of call outcomes and endpoints, shared by the database writer, metrics and logs. */
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
};

const char *const tg_endpoint_names[TG_EP_COUNT] = {
	[TG_EP_NONE] = "",
	[TG_EP_ANTHROPIC_MESSAGES] = "/v1/messages",
	[TG_EP_OPENAI_CHAT] = "/v1/chat/completions",
	[TG_EP_GEMINI_GENERATE] = "/v1beta/models:generateContent",
	[TG_EP_GEMINI_STREAM] = "/v1beta/models:streamGenerateContent",
};
