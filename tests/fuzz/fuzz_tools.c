/*
 * libFuzzer target for tool calls through the stream translator (issue 19):
 * the tool-call streams the simulator recorded (tests/fuzz/tools/, one per
 * provider family: text first, a call with escaped and non-ASCII arguments,
 * a call without arguments) are written again with their argument fragments
 * cut where the input says, fed to the translator in chunks the input sizes,
 * and read back as each other family's SDK assembles calls. The arguments a
 * client gets must parse and equal the provider's, names and Gemini
 * signatures must arrive, and the stream must end properly. Only where the
 * input cuts a UTF-16 surrogate pair (fragments written with \u escapes) may
 * it end with the family's error event instead, recorded as a translation
 * failure, never with arguments that do not add up.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../worker/wire/tool_view.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static const struct {
	const char    *path;
	enum tg_family family;
} recordings[] = {
	{ "tests/fuzz/tools/anthropic.sse", TG_FAMILY_ANTHROPIC },
	{ "tests/fuzz/tools/openai.sse", TG_FAMILY_OPENAI },
	{ "tests/fuzz/tools/gemini.sse", TG_FAMILY_GEMINI },
};
#define NREC (sizeof(recordings) / sizeof(recordings[0]))

static struct tg_buf raw[NREC];         /* the recorded bytes */
static struct tv_stream truth[NREC];    /* what each said, as its own family reads it */

/* The input, read as a stream of small numbers; past its end, a fixed pattern. */
struct input {
	const uint8_t *d;
	size_t         n, at;
};

static unsigned
next(struct input *in)
{
	unsigned v = in->at < in->n ? in->d[in->at] : (unsigned)(in->at * 37 + 11);

	in->at++;
	return v & 0xff;
}

static size_t
cut(void *arg, size_t left)
{
	size_t take = 1 + next(arg) % 9;

	return take > left ? left : take;
}

static void
load(size_t k)
{
	char buf[4096];
	size_t got;
	FILE *f = fopen(recordings[k].path, "rb");

	if (f == NULL) {
		fprintf(stderr, "fuzz_tools: cannot open %s (run from the repository root)\n",
			recordings[k].path);
		exit(2);
	}
	tg_buf_init(&raw[k]);
	while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
		tg_buf_add(&raw[k], buf, got);
	fclose(f);
	tv_init(&truth[k], recordings[k].family);
	if (raw[k].failed || tv_read(&truth[k], raw[k].p, raw[k].len) == -1 || truth[k].bad > 0 ||
	    truth[k].ncalls < 2 || !truth[k].ended) {
		fprintf(stderr, "fuzz_tools: %s is not a tool-call stream of its family\n",
			recordings[k].path);
		exit(2);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	for (size_t k = 0; k < NREC; k++)
		load(k);
	return 0;
}

struct feed {
	struct tg_wire_stream *ws;
	struct tg_buf         *out;
};

static void
on_provider_event(const struct tg_sse_event *ev, void *arg)
{
	struct feed *f = arg;

	(void)tg_wire_stream_event(f->ws, ev->event, ev->event_len, ev->data, ev->data_len, f->out);
}

/* The provider's bytes into the translator, in chunks of 1..64 bytes the input picks. */
static void
translate(const struct tg_buf *sse, enum tg_family provider, enum tg_family client,
	  struct input *in, struct tg_buf *out, struct tg_usage_info *info)
{
	struct tg_wire_request req = { .family = client, .model = "m", .include_usage = true };
	struct feed f = { .out = out };
	struct tg_sse p;
	size_t at = 0;

	f.ws = tg_wire_stream_new(provider, &req);
	if (f.ws == NULL)
		abort();
	tg_sse_init(&p, 0);
	while (at < sse->len) {
		size_t step = 1 + next(in) % 64;
		if (step > sse->len - at)
			step = sse->len - at;
		if (tg_sse_feed(&p, sse->p + at, step, on_provider_event, &f) == -1)
			abort();
		at += step;
	}
	tg_wire_stream_finish(f.ws, NULL, out);
	tg_wire_stream_usage(f.ws, info);
	tg_sse_fini(&p);
	tg_wire_stream_free(f.ws);
	if (out->failed)
		abort();
}

/* The id ends with the signature as base64url (+/ as -_, no padding). */
static bool
carries(const char *id, const char *sig)
{
	char url[sizeof(((struct tv_call *)0)->sig)];
	size_t k = 0, n;

	for (; sig[k] != '\0' && sig[k] != '=' && k + 1 < sizeof(url); k++)
		url[k] = sig[k] == '+' ? '-' : sig[k] == '/' ? '_' : sig[k];
	url[k] = '\0';
	n = strlen(id);
	return n > k && strcmp(id + n - k, url) == 0;
}

static void
fail(const char *what, const struct tg_buf *provider, const struct tg_buf *client)
{
	fprintf(stderr, "fuzz_tools: %s\n--- provider\n%.*s\n--- client\n%.*s\n", what,
		(int)provider->len, provider->p, (int)client->len, client->p);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct input in = { .d = d, .n = n };
	size_t k = next(&in) % NREC;
	unsigned mode = next(&in);
	enum tg_family provider = recordings[k].family;
	enum tg_family client = (enum tg_family)((provider + 1 + mode % 2) % 3);
	bool as_recorded = (mode >> 1) % 3 == 0, ascii = (mode >> 1) % 3 == 2;
	struct tg_buf sse, out;
	struct tv_stream view;
	struct tg_usage_info info;

	tg_buf_init(&sse);
	tg_buf_init(&out);
	if (as_recorded)
		tg_buf_add(&sse, raw[k].p, raw[k].len);
	else
		tv_write(provider, &truth[k], ascii, cut, &in, &sse);
	translate(&sse, provider, client, &in, &out, &info);
	tv_init(&view, client);
	if (tv_read(&view, out.p != NULL ? out.p : "", out.len) == -1 || view.bad > 0)
		fail("the client's stream is not its family's SSE", &sse, &out);
	if (view.error) {
		/* only a surrogate pair cut in two may end a stream early, and it is recorded */
		if (!ascii || info.xlate_error[0] == '\0' || !info.usage.complete)
			fail("an error event where the arguments were sound", &sse, &out);
	} else {
		if (!view.ended || info.xlate_error[0] != '\0')
			fail("the client's stream did not end properly", &sse, &out);
		if (view.ncalls != truth[k].ncalls)
			fail("a call was lost or added", &sse, &out);
		for (int c = 0; c < view.ncalls; c++) {
			const struct tv_call *want = &truth[k].calls[c], *got = &view.calls[c];
			if (strcmp(want->name, got->name) != 0)
				fail("a call's name changed", &sse, &out);
			if (!tv_same_args(&want->args, &got->args, client))
				fail("a call's arguments do not parse or differ", &sse, &out);
			/* a Gemini signature travels in the id, for the next turn to send back */
			if (want->sig[0] != '\0' && !carries(got->id, want->sig))
				fail("a call's signature was lost", &sse, &out);
		}
	}
	tv_fini(&view);
	tg_buf_fini(&sse);
	tg_buf_fini(&out);
	return 0;
}
