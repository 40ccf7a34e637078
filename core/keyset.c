/*
 * Key definitions as plain data, and the key cache file in state_dir: one
 * line per key, closed by the SHA-256 of everything before it, replaced
 * whole by rename. The logger writes it, the master and `tollgate -t` read it.
 */
#include "tg_keyset.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tg_buf.h"
#include "tg_money.h"
#include "tg_sha256.h"

#define CACHE_MAGIC    "tollgate-keys-cache 1\n"
#define CACHE_MAX      (8u << 20)      /* TG_MAX_KEYS lines of at most ~700 bytes, with room */
#define MAX_BUDGET     ((int64_t)TG_MONEY_MAX_USD * 1000000000000)

const char *const tg_period_names[3] = { "", "day", "month" };

struct tg_keyset *
tg_keyset_new(void)
{
	return calloc(1, sizeof(struct tg_keyset));
}

void
tg_keyset_free(struct tg_keyset *set)
{
	if (set == NULL)
		return;
	free(set->keys);
	free(set);
}

int
tg_keyset_add(struct tg_keyset *set, const struct tg_key_def *def)
{
	if (set->n == TG_MAX_KEYS)
		return -1;
	if (set->n == set->cap) {
		uint32_t cap = set->cap ? set->cap * 2 : 16;
		struct tg_key_def *k = realloc(set->keys, cap * sizeof(*k));

		if (k == NULL)
			return -1;
		set->keys = k;
		set->cap = cap;
	}
	set->keys[set->n++] = *def;
	return 0;
}

const struct tg_key_def *
tg_keyset_find(const struct tg_keyset *set, const char *name)
{
	for (uint32_t i = 0; set != NULL && i < set->n; i++) {
		if (strcmp(set->keys[i].name, name) == 0)
			return &set->keys[i];
	}
	return NULL;
}

bool
tg_keyset_equal(const struct tg_keyset *a, const struct tg_keyset *b)
{
	if (a->n != b->n)
		return false;
	/* defs are written field by field from zeroed memory, so padding compares equal too */
	return a->n == 0 || memcmp(a->keys, b->keys, a->n * sizeof(a->keys[0])) == 0;
}

static bool
is_name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '_' || ch == '-';
}

bool
tg_keyset_is_name(const char *s, size_t n)
{
	if (n == 0 || n >= TG_NAME_MAX)
		return false;
	for (size_t k = 0; k < n; k++) {
		if (!is_name_char(s[k]))
			return false;
	}
	return true;
}

int
tg_keyset_check(const struct tg_key_def *def, char *why, size_t whylen)
{
	size_t n = strnlen(def->name, sizeof(def->name));
	const char *m = def->models;

	if (!tg_keyset_is_name(def->name, n)) {
		snprintf(why, whylen, "expected a key name of 1 to %d letters, digits, '.', '_' or "
			 "'-'", TG_NAME_MAX - 1);
		return -1;
	}
	n = strnlen(def->prefix, sizeof(def->prefix));
	if (n > TG_KEY_PREFIX_LEN || (n > 0 && !tg_keyset_is_name(def->prefix, n))) {
		snprintf(why, whylen, "key %s: bad prefix", def->name);
		return -1;
	}
	if (def->period > TG_PERIOD_MONTH) {
		snprintf(why, whylen, "key %s: unknown budget period %u", def->name, def->period);
		return -1;
	}
	if (def->budget_pusd < 0 || def->budget_pusd > MAX_BUDGET ||
	    (def->period == TG_PERIOD_NONE && def->budget_pusd != 0)) {
		snprintf(why, whylen, "key %s: a budget needs a period and must be between 0 and "
			 "%d USD", def->name, TG_MONEY_MAX_USD);
		return -1;
	}
	if ((def->flags & ~(uint32_t)(TG_KEYDEF_DB | TG_KEYDEF_REVOKED)) != 0) {
		snprintf(why, whylen, "key %s: unknown flags 0x%x", def->name, def->flags);
		return -1;
	}
	if (strnlen(m, sizeof(def->models)) == sizeof(def->models)) {
		snprintf(why, whylen, "key %s: models list too long", def->name);
		return -1;
	}
	while (*m != '\0') {
		size_t len = strcspn(m, ",");

		if (!tg_keyset_is_name(m, len)) {
			snprintf(why, whylen, "key %s: models: expected names separated by commas",
				 def->name);
			return -1;
		}
		m += len + (m[len] == ',');
		if (m[-1] == ',' && *m == '\0') {
			snprintf(why, whylen, "key %s: models: a trailing comma", def->name);
			return -1;
		}
	}
	return 0;
}

static void
put_line(struct tg_buf *b, const struct tg_key_def *k)
{
	char hex[TG_SHA256_HEX_LEN];

	tg_sha256_hex(k->sha256, hex);
	tg_buf_printf(b, "key %s %s %s %" PRIu64 " %" PRIu64 " %" PRId64 " %s %u %s %" PRIu64
		      " %" PRIu64 "\n", k->name, hex, k->prefix[0] ? k->prefix : "-", k->rpm, k->tpm,
		      k->budget_pusd, k->period ? tg_period_names[k->period] : "-", k->flags,
		      k->models[0] ? k->models : "-", k->created_us, k->revoked_us);
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
fsync_dir_of(const char *path)
{
	char copy[PATH_MAX];
	int fd, rc;

	snprintf(copy, sizeof(copy), "%s", path);
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
tg_keyset_write_cache(const char *path, const struct tg_keyset *set, char *why, size_t whylen)
{
	char tmp[PATH_MAX + 8], hex[TG_SHA256_HEX_LEN];
	uint8_t digest[32];
	struct tg_buf b;
	int fd = -1;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		snprintf(why, whylen, "path too long");
		return -1;
	}
	tg_buf_init(&b);
	tg_buf_puts(&b, CACHE_MAGIC);
	for (uint32_t i = 0; i < set->n; i++)
		put_line(&b, &set->keys[i]);
	tg_sha256(b.p, b.len, digest);
	tg_sha256_hex(digest, hex);
	tg_buf_printf(&b, "sha256 %s\n", hex);
	if (b.failed) {
		snprintf(why, whylen, "out of memory");
		goto fail;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	/* a temporary file left by a crash keeps its mode: set it again */
	if (fd == -1 || fchmod(fd, 0600) == -1 || write_all(fd, b.p, b.len) == -1 ||
	    fsync(fd) == -1) {
		snprintf(why, whylen, "could not write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		snprintf(why, whylen, "could not write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		snprintf(why, whylen, "could not rename %s to %s: %s", tmp, path, strerror(errno));
		goto fail;
	}
	/* the rename is durable only once the directory is */
	if (fsync_dir_of(path) == -1) {
		snprintf(why, whylen, "could not fsync the directory of %s: %s", path,
			 strerror(errno));
		tg_buf_fini(&b);
		return -1;
	}
	tg_buf_fini(&b);
	return 0;
fail:
	if (fd != -1)
		close(fd);
	unlink(tmp);
	tg_buf_fini(&b);
	return -1;
}

/* Next space-separated field of the line at *p (ending before end); NULL when none. */
static const char *
field(const char **p, const char *end, size_t *n)
{
	const char *s = *p;

	if (s >= end)
		return NULL;
	*n = 0;
	while (s + *n < end && s[*n] != ' ')
		(*n)++;
	*p = s + *n + (s + *n < end);
	return *n > 0 ? s : NULL;
}

static int
parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 19)
		return -1;
	for (size_t k = 0; k < n; k++) {
		if (s[k] < '0' || s[k] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[k] - '0');
	}
	*out = v;
	return 0;
}

/* Copy a field; with dash_empty, a lone "-" stands for the empty text. */
static int
copy_text(char *out, size_t cap, const char *s, size_t n, bool dash_empty)
{
	if (dash_empty && n == 1 && s[0] == '-')
		n = 0;
	if (n >= cap)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

/*
 * One "key …" line into def; returns 0 or -1 with why. The two timestamps at
 * the end came later: a line without them (an older cache) reads as 0.
 */
static int
parse_line(const char *p, const char *end, struct tg_key_def *def, char *why, size_t whylen)
{
	const char *f[12];
	size_t n[12];
	uint64_t budget, flags;
	int i = 0;

	memset(def, 0, sizeof(*def));
	while (i < 12 && (f[i] = field(&p, end, &n[i])) != NULL)
		i++;
	if ((i != 10 && i != 12) || p < end || n[0] != 3 || memcmp(f[0], "key", 3) != 0) {
		snprintf(why, whylen, "expected 10 or 12 fields starting with \"key\"");
		return -1;
	}
	if (i == 12 && (parse_u64(f[10], n[10], &def->created_us) == -1 ||
			parse_u64(f[11], n[11], &def->revoked_us) == -1)) {
		snprintf(why, whylen, "a field is malformed");
		return -1;
	}
	if (copy_text(def->name, sizeof(def->name), f[1], n[1], false) == -1 ||
	    tg_sha256_parse_hex(f[2], n[2], def->sha256) == -1 ||
	    copy_text(def->prefix, sizeof(def->prefix), f[3], n[3], true) == -1 ||
	    parse_u64(f[4], n[4], &def->rpm) == -1 || parse_u64(f[5], n[5], &def->tpm) == -1 ||
	    parse_u64(f[6], n[6], &budget) == -1 || parse_u64(f[8], n[8], &flags) == -1 ||
	    flags > UINT32_MAX || budget > (uint64_t)MAX_BUDGET ||
	    copy_text(def->models, sizeof(def->models), f[9], n[9], true) == -1) {
		snprintf(why, whylen, "a field is malformed");
		return -1;
	}
	def->budget_pusd = (int64_t)budget;
	def->flags = (uint32_t)flags;
	if (n[7] == 1 && f[7][0] == '-')
		def->period = TG_PERIOD_NONE;
	else if (n[7] == 3 && memcmp(f[7], "day", 3) == 0)
		def->period = TG_PERIOD_DAY;
	else if (n[7] == 5 && memcmp(f[7], "month", 5) == 0)
		def->period = TG_PERIOD_MONTH;
	else {
		snprintf(why, whylen, "unknown budget period");
		return -1;
	}
	return tg_keyset_check(def, why, whylen);
}

static char *
slurp(const char *path, size_t *len, bool *missing, char *why, size_t whylen)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	*missing = false;
	if (fd == -1) {
		*missing = errno == ENOENT;
		snprintf(why, whylen, "could not open: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_size > CACHE_MAX) {
		snprintf(why, whylen, "not a regular file of at most %u bytes", CACHE_MAX);
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		snprintf(why, whylen, "out of memory");
		goto fail;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(why, whylen, "could not read: %s", r == 0 ? "short file"
				 : strerror(errno));
			goto fail;
		}
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	*len = got;
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

struct tg_keyset *
tg_keyset_read_cache(const char *path, bool *missing, char *why, size_t whylen)
{
	struct tg_keyset *set = NULL;
	char hex[TG_SHA256_HEX_LEN], reason[160];
	uint8_t digest[32];
	const char *p, *end, *tail;
	size_t len = 0;
	unsigned line = 2;
	char *buf = slurp(path, &len, missing, why, whylen);

	if (buf == NULL)
		return NULL;
	/* the last line is "sha256 <64 hex>\n" over every byte before it */
	tail = len >= 72 ? buf + len - 72 : NULL;
	if (len < strlen(CACHE_MAGIC) || memcmp(buf, CACHE_MAGIC, strlen(CACHE_MAGIC)) != 0) {
		snprintf(why, whylen, "not a tollgate key cache (version 1): bad first line");
		goto fail;
	}
	if (tail == NULL || (tail > buf && tail[-1] != '\n') || memcmp(tail, "sha256 ", 7) != 0 ||
	    buf[len - 1] != '\n') {
		snprintf(why, whylen, "truncated: no checksum line at the end");
		goto fail;
	}
	tg_sha256(buf, (size_t)(tail - buf), digest);
	tg_sha256_hex(digest, hex);
	if (memcmp(tail + 7, hex, 64) != 0) {
		snprintf(why, whylen, "checksum does not match its contents (corrupt or edited)");
		goto fail;
	}
	set = tg_keyset_new();
	if (set == NULL) {
		snprintf(why, whylen, "out of memory");
		goto fail;
	}
	for (p = buf + strlen(CACHE_MAGIC); p < tail; line++) {
		struct tg_key_def def;
		const char *nl = memchr(p, '\n', (size_t)(tail - p));

		end = nl != NULL ? nl : tail;
		if (parse_line(p, end, &def, reason, sizeof(reason)) == -1) {
			snprintf(why, whylen, "line %u: %s", line, reason);
			goto fail;
		}
		if (tg_keyset_find(set, def.name) != NULL) {
			snprintf(why, whylen, "line %u: key %s appears twice", line, def.name);
			goto fail;
		}
		if (tg_keyset_add(set, &def) == -1) {
			snprintf(why, whylen, "line %u: more than %d keys", line, TG_MAX_KEYS);
			goto fail;
		}
		p = end + 1;
	}
	free(buf);
	return set;
fail:
	tg_keyset_free(set);
	free(buf);
	return NULL;
}
