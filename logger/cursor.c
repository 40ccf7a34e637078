/*
 * ledger.id and the cursors read back on connecting. The argument for why a
 * cursor can be trusted sits where it is committed (cursor_sql in db.c).
 */
#include "cursor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tg_log.h"
#include "tg_uuid.h"

/* Write text to path through a synced temporary file and a synced directory. */
static int
write_synced(const char *dir, const char *path, const char *text)
{
	char tmp[4300];
	int fd, rc, saved;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	rc = write(fd, text, strlen(text)) == (ssize_t)strlen(text) && fdatasync(fd) == 0 ? 0 : -1;
	saved = errno;
	close(fd);
	if (rc == 0 && rename(tmp, path) == -1)
		rc = -1;
	if (rc == -1) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	rc = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

void
tg_cursors_init(struct tg_cursors *c, const char *state_dir)
{
	char path[4200], text[64] = "";
	int fd;

	memset(c, 0, sizeof(*c));
	snprintf(path, sizeof(path), "%s/%s", state_dir, TG_LEDGER_ID_FILE);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd != -1) {
		ssize_t got = read(fd, text, sizeof(text) - 1);

		close(fd);
		text[got > 0 ? got : 0] = '\0';
		text[strcspn(text, "\n")] = '\0';
		if (tg_db_uuid_parse(text, c->ledger_id) == 0) {
			c->on = true;
			return;
		}
		tg_log_warn(NULL, "could not read %s: not a uuid, making a new one", path);
	} else if (errno != ENOENT) {
		tg_log_warn(NULL, "could not read %s, cursors off: %s", path, strerror(errno));
		return;
	}
	/* a new id names rings no cursor names yet: nothing is trusted that should not be */
	tg_uuid7(c->ledger_id);
	tg_db_uuid(c->ledger_id, text);
	strcat(text, "\n");
	if (write_synced(state_dir, path, text) == -1) {
		tg_log_warn(NULL, "could not write %s, cursors off: %s", path, strerror(errno));
		return;
	}
	c->on = true;
}

struct skip {
	struct tg_ring_file *rings;
	int64_t consumed;
};

static void
on_cursor(void *arg, const struct tg_db_cursor *cur)
{
	struct skip *s = arg;
	struct tg_ring_file *f = s->rings;
	uint64_t head;
	uint32_t unread;

	if (!f->current || cur->ring >= f->n_rings)
		return;
	unread = tg_ring_peek(f, cur->ring, UINT32_MAX, &head);
	/* behind the read position: consumed already (or spooled, or kept aside) */
	if (cur->pos <= head || cur->pos - head > unread)
		return;
	/*
	 * The slot before pos is unread, so no producer has reused it since the
	 * cursor was committed: the same id means the same ring file and records.
	 */
	if (memcmp(tg_ring_at(f, cur->ring, cur->pos - 1)->u.raw, cur->last_id, 16) != 0)
		return;
	tg_ring_consume(f, cur->ring, cur->pos);
	s->consumed += (int64_t)(cur->pos - head);
}

int64_t
tg_cursors_skip(const struct tg_cursors *c, PGconn *conn, const struct tg_db_wait *w,
		struct tg_ring_file *rings, char *why, size_t whylen)
{
	struct skip s = { rings, 0 };

	if (!c->on)
		return 0;
	if (tg_db_cursors(conn, w, c->ledger_id, on_cursor, &s, why, whylen) == -1)
		return -1;
	return s.consumed;
}
