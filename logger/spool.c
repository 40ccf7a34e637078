/*
 * Spool segments: seg-<seq>.tgs files of sealed records (the record's own
 * len + CRC32C header is the framing), fdatasync per batch, the directory
 * fsynced after each new segment, replay oldest first. Owns nothing in PostgreSQL.
 */
#include <sys/stat.h>
#include <sys/uio.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spool.h"
#include "tg_log.h"
#include "tg_ring.h"

struct seg_hdr {
	uint32_t magic, version;
	uint64_t reserved;
};

struct tg_spool {
	char     dir[4096];
	int      fd;                  /* segment being appended to, -1 = start a new one */
	uint64_t next_seq;
	uint64_t cur_bytes;
	uint64_t rows, corrupt;
	bool     writable;
};

static int
is_segment(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n == 24 && strncmp(d->d_name, "seg-", 4) == 0 && strcmp(d->d_name + 20, ".tgs") == 0;
}

/* Segment names, oldest first (fixed-width hex sorts like the numbers). */
static int
list_segments(const char *dir, struct dirent ***names)
{
	return scandir(dir, names, is_segment, alphasort);
}

static void
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd != -1) {
		(void)fsync(fd);
		close(fd);
	}
}

static int
read_full(int fd, void *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)p + got, n - got);

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return (int)got == 0 && r == 0 ? 0 : (r == -1 ? -1 : 1);
		got += (size_t)r;
	}
	return 2;
}

/*
 * Read the next record of a segment. Returns 1 with a record, 0 at a clean end
 * or a torn tail, -1 at a CRC/framing mismatch or a read error.
 */
static int
next_record(int fd, struct tg_record *rec)
{
	const size_t head = offsetof(struct tg_record, u);
	int r = read_full(fd, rec, head);

	if (r == 0 || r == 1)
		return 0;
	if (r == -1)
		return -1;
	if (rec->len > sizeof(rec->u))
		return -1;
	r = read_full(fd, &rec->u, rec->len);
	if (r == -1)
		return -1;
	if (r != 2 && rec->len != 0)
		return 0;
	return tg_record_check(rec) ? 1 : -1;
}

struct tg_spool *
tg_spool_open(const char *dir, char *why, size_t whylen)
{
	struct tg_spool *sp = calloc(1, sizeof(*sp));
	struct dirent **names;
	struct tg_record rec;
	int n;

	if (sp == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	snprintf(sp->dir, sizeof(sp->dir), "%s", dir);
	sp->fd = -1;
	sp->writable = true;
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(why, whylen, "could not create %s: %s", dir, strerror(errno));
		free(sp);
		return NULL;
	}
	n = list_segments(dir, &names);
	if (n == -1) {
		snprintf(why, whylen, "could not list %s: %s", dir, strerror(errno));
		free(sp);
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		char path[4200];
		unsigned long long seq = strtoull(names[i]->d_name + 4, NULL, 16);
		int fd;

		if (seq + 1 > sp->next_seq)
			sp->next_seq = seq + 1;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd != -1) {
			struct seg_hdr h;

			if (read_full(fd, &h, sizeof(h)) == 2)
				while (next_record(fd, &rec) == 1)
					sp->rows++;
			close(fd);
		}
		free(names[i]);
	}
	free(names);
	if (sp->next_seq == 0)
		sp->next_seq = 1;
	return sp;
}

static void
close_segment(struct tg_spool *sp)
{
	if (sp->fd != -1)
		close(sp->fd);
	sp->fd = -1;
	sp->cur_bytes = 0;
}

void
tg_spool_free(struct tg_spool *sp)
{
	if (sp == NULL)
		return;
	close_segment(sp);
	free(sp);
}

static int
new_segment(struct tg_spool *sp)
{
	struct seg_hdr h = { TG_SPOOL_MAGIC, 1, 0 };
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/seg-%016llx.tgs", sp->dir, (unsigned long long)sp->next_seq);
	sp->next_seq++;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
	if (fd == -1) {
		tg_log_error(NULL, "could not create spool segment %s: %s", path, strerror(errno));
		return -1;
	}
	if (write(fd, &h, sizeof(h)) != (ssize_t)sizeof(h) || fdatasync(fd) == -1) {
		tg_log_error(NULL, "could not write spool segment %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	/* the new name must survive a crash as well as the rows inside it */
	fsync_dir(sp->dir);
	sp->fd = fd;
	sp->cur_bytes = sizeof(h);
	return 0;
}

static int
write_all(int fd, struct iovec *iov, int cnt)
{
	while (cnt > 0) {
		ssize_t w = writev(fd, iov, cnt);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		while (cnt > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

int
tg_spool_append(struct tg_spool *sp, const struct tg_record *const *recs, uint32_t n)
{
	struct iovec iov[64];
	uint64_t bytes = 0;
	uint32_t i = 0;

	if (n == 0)
		return 0;
	if (sp->fd == -1 && new_segment(sp) == -1)
		goto fail;
	while (i < n) {
		int cnt = 0;

		for (; i < n && cnt < 64; i++, cnt++) {
			iov[cnt].iov_base = (void *)recs[i];
			iov[cnt].iov_len = tg_record_bytes(recs[i]);
			bytes += iov[cnt].iov_len;
		}
		if (write_all(sp->fd, iov, cnt) == -1) {
			tg_log_error(NULL, "could not append to the spool in %s: %s", sp->dir,
				     strerror(errno));
			goto fail_seg;
		}
	}
	/* after a failed fdatasync the kernel may have dropped the pages: never retry that file */
	if (fdatasync(sp->fd) == -1) {
		tg_log_error(NULL, "could not sync the spool in %s: %s", sp->dir, strerror(errno));
		goto fail_seg;
	}
	sp->rows += n;
	sp->cur_bytes += bytes;
	sp->writable = true;
	if (sp->cur_bytes >= TG_SPOOL_SEG_MAX)
		close_segment(sp);
	return 0;
fail_seg:
	close_segment(sp);
fail:
	sp->writable = false;
	return -1;
}

/* Replay one segment; 1 = done (deleted or set aside), -1 = the sink failed. */
static int
replay_segment(struct tg_spool *sp, const char *name, tg_spool_sink sink, void *arg,
	       struct tg_record *buf, const struct tg_record **ptrs, uint32_t batch_rows)
{
	char path[4200], bad[4300];
	struct seg_hdr h;
	uint64_t done = 0;
	uint32_t n = 0;
	int fd, r = 0;

	snprintf(path, sizeof(path), "%s/%s", sp->dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		tg_log_error(NULL, "could not open spool segment %s: %s", path, strerror(errno));
		return -1;
	}
	r = read_full(fd, &h, sizeof(h));
	if (r == 0 || r == 1) {
		r = 0;        /* created, then a crash before its header: nothing in it */
	} else if (r == 2 && h.magic == TG_SPOOL_MAGIC) {
		for (;;) {
			r = next_record(fd, &buf[n]);
			if (r == 1) {
				ptrs[n] = &buf[n];
				if (++n < batch_rows)
					continue;
			}
			if (n > 0 && sink(arg, ptrs, n) == -1) {
				close(fd);
				return -1;
			}
			done += n;
			n = 0;
			if (r != 1)
				break;
		}
	} else {
		r = -1;       /* a header we did not write: keep it for a human */
	}
	close(fd);
	sp->rows = sp->rows > done ? sp->rows - done : 0;
	if (r == -1) {
		sp->corrupt++;
		snprintf(bad, sizeof(bad), "%s.bad", path);
		tg_log_error(NULL, "spool segment %s is corrupt after %llu records: kept as %s", path,
			     (unsigned long long)done, bad);
		if (rename(path, bad) == -1)
			tg_log_error(NULL, "could not rename %s: %s", path, strerror(errno));
	} else if (unlink(path) == -1) {
		tg_log_error(NULL, "could not delete spool segment %s: %s", path, strerror(errno));
		return -1;
	}
	fsync_dir(sp->dir);
	return 1;
}

int
tg_spool_replay(struct tg_spool *sp, tg_spool_sink sink, void *arg, uint32_t batch_rows)
{
	struct dirent **names;
	struct tg_record *buf;
	const struct tg_record **ptrs;
	int n, rc = 0;

	if (batch_rows == 0)
		batch_rows = 1;
	/* the segment being written joins the replay; new rows go to a new one */
	close_segment(sp);
	n = list_segments(sp->dir, &names);
	if (n == -1) {
		tg_log_error(NULL, "could not list %s: %s", sp->dir, strerror(errno));
		return -1;
	}
	buf = malloc((size_t)batch_rows * sizeof(*buf));
	ptrs = malloc((size_t)batch_rows * sizeof(*ptrs));
	for (int i = 0; i < n; i++) {
		if (rc == 0 && (buf == NULL || ptrs == NULL ||
				replay_segment(sp, names[i]->d_name, sink, arg, buf, ptrs, batch_rows) == -1))
			rc = -1;
		free(names[i]);
	}
	free(names);
	free(buf);
	free(ptrs);
	if (rc == 0)
		sp->rows = 0;
	return rc;
}

uint64_t
tg_spool_rows(const struct tg_spool *sp)
{
	return sp->rows;
}

uint64_t
tg_spool_corrupt(const struct tg_spool *sp)
{
	return sp->corrupt;
}

bool
tg_spool_writable(const struct tg_spool *sp)
{
	return sp->writable;
}
