/*
 * Spool segments: seg-<seq>.tgs files of sealed records (the record's own
 * len + CRC32C header is the framing), fdatasync per batch, the directory
 * fsynced after each new segment, replayed oldest first one batch at a time.
 * Past the size cap, segments are rewritten without their gateway refusals,
 * oldest first. Owns nothing in PostgreSQL.
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
#include "upgrade.h"
#include "tg_log.h"
#include "tg_ring.h"

#define SEG_MIN (64u << 10)           /* the smallest segment a small cap makes */

struct seg_hdr {
	uint32_t magic, version;
	uint64_t reserved;
};

/* What the spool knows of one segment file, oldest first in tg_spool.segs. */
struct seg {
	uint64_t seq;
	uint64_t bytes;               /* the file's size */
	uint64_t rows;
	uint64_t refusals;            /* records the cap may drop */
	bool     damaged;             /* unreadable past some point: never rewritten */
};

struct tg_spool {
	char     dir[4096];
	int      fd;                  /* last segment, being appended to; -1 = start a new one */
	uint64_t next_seq;
	uint64_t max_bytes;           /* 0 = no cap */
	uint64_t seg_max;
	struct seg *segs;
	uint32_t n_segs, cap_segs;
	uint64_t bytes, rows, corrupt, dropped;
	bool     writable;
	char     error[4608];          /* paths are long: room for one and a reason */
	/* replay: the oldest segment, open at the first record not yet committed */
	int      rfd;
	uint64_t rseq;
	off_t    roff;
	struct tg_record *rbuf;
	const struct tg_record **rptrs;
	uint32_t rcap;
	const struct tg_record **keep; /* scratch for a batch without its refusals */
	uint32_t keep_cap;
};

bool
tg_spool_is_refusal(const struct tg_record *rec)
{
	const struct tg_request_rec *q = &rec->u.req;

	if (rec->kind != TG_REC_REQUEST || q->n_attempts != 0 || q->cost_pusd != 0)
		return false;
	return q->outcome == TG_OUTCOME_CLIENT_ERROR || q->outcome == TG_OUTCOME_RATE_LIMITED ||
	       q->outcome == TG_OUTCOME_UNAVAILABLE || q->outcome == TG_OUTCOME_BUDGET;
}

static int
is_segment(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n == 24 && strncmp(d->d_name, "seg-", 4) == 0 && strcmp(d->d_name + 20, ".tgs") == 0;
}

static void
seg_path(const struct tg_spool *sp, uint64_t seq, const char *suffix, char *out, size_t len)
{
	snprintf(out, len, "%s/seg-%016llx.tgs%s", sp->dir, (unsigned long long)seq, suffix);
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
 * Read the next record of a segment into rec, converted to this build's
 * version. Returns 1 with a record, 0 at a clean end or a torn tail, -1 at a
 * CRC/framing mismatch or a read error.
 */
static int
next_record(int fd, struct tg_record *rec)
{
	const size_t head = offsetof(struct tg_record, u);
	int r = read_full(fd, rec, head);
	uint32_t max;

	if (r == 0 || r == 1)
		return 0;
	if (r == -1)
		return -1;
	max = tg_upgrade_body_max(rec->version);
	if (max == 0 || rec->len > max)
		return -1;
	r = read_full(fd, &rec->u, rec->len);
	if (r == -1)
		return -1;
	if (r != 2 && rec->len != 0)
		return 0;
	return tg_upgrade_record(rec) ? 1 : -1;
}

static struct seg *
add_seg(struct tg_spool *sp, uint64_t seq)
{
	if (sp->n_segs == sp->cap_segs) {
		uint32_t cap = sp->cap_segs ? sp->cap_segs * 2 : 16;
		struct seg *s = realloc(sp->segs, cap * sizeof(*s));

		if (s == NULL)
			return NULL;
		sp->segs = s;
		sp->cap_segs = cap;
	}
	sp->segs[sp->n_segs] = (struct seg){ .seq = seq };
	return &sp->segs[sp->n_segs++];
}

static void
remove_seg(struct tg_spool *sp, uint32_t i)
{
	sp->bytes -= sp->segs[i].bytes < sp->bytes ? sp->segs[i].bytes : sp->bytes;
	sp->rows -= sp->segs[i].rows < sp->rows ? sp->segs[i].rows : sp->rows;
	memmove(&sp->segs[i], &sp->segs[i + 1], (sp->n_segs - i - 1) * sizeof(sp->segs[0]));
	sp->n_segs--;
}

/* Count a segment's rows and refusals; damaged when it does not end cleanly or at a torn tail. */
static void
scan_segment(int fd, struct seg *s, struct tg_record *rec)
{
	struct seg_hdr h;
	struct stat st;
	int r;

	if (fstat(fd, &st) == 0)
		s->bytes = (uint64_t)st.st_size;
	if (read_full(fd, &h, sizeof(h)) != 2)
		return;
	if (h.magic != TG_SPOOL_MAGIC) {
		s->damaged = true;
		return;
	}
	while ((r = next_record(fd, rec)) == 1) {
		s->rows++;
		if (tg_spool_is_refusal(rec))
			s->refusals++;
	}
	if (r == -1)
		s->damaged = true;
}

struct tg_spool *
tg_spool_open(const char *dir, uint64_t max_bytes, char *why, size_t whylen)
{
	struct tg_spool *sp = calloc(1, sizeof(*sp));
	struct tg_record *rec = malloc(sizeof(*rec));
	struct dirent **names;
	int n;

	if (sp == NULL || rec == NULL) {
		snprintf(why, whylen, "out of memory");
		goto fail;
	}
	snprintf(sp->dir, sizeof(sp->dir), "%s", dir);
	sp->fd = -1;
	sp->rfd = -1;
	sp->writable = true;
	sp->max_bytes = max_bytes;
	/* small segments under a small cap, so that rewriting one frees room in small steps */
	sp->seg_max = max_bytes == 0 || max_bytes / 16 > TG_SPOOL_SEG_MAX ? TG_SPOOL_SEG_MAX
		    : max_bytes / 16 < SEG_MIN ? SEG_MIN : max_bytes / 16;
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(why, whylen, "could not create %s: %s", dir, strerror(errno));
		goto fail;
	}
	n = scandir(dir, &names, is_segment, alphasort);
	if (n == -1) {
		snprintf(why, whylen, "could not list %s: %s", dir, strerror(errno));
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		char path[4200];
		uint64_t seq = strtoull(names[i]->d_name + 4, NULL, 16);
		struct seg *s = add_seg(sp, seq);
		int fd;

		if (seq + 1 > sp->next_seq)
			sp->next_seq = seq + 1;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (s != NULL && fd != -1)
			scan_segment(fd, s, rec);
		if (fd != -1)
			close(fd);
		if (s != NULL) {
			sp->bytes += s->bytes;
			sp->rows += s->rows;
		}
		free(names[i]);
	}
	free(names);
	if (sp->next_seq == 0)
		sp->next_seq = 1;
	free(rec);
	return sp;
fail:
	free(rec);
	free(sp);
	return NULL;
}

static void
close_segment(struct tg_spool *sp)
{
	if (sp->fd != -1)
		close(sp->fd);
	sp->fd = -1;
}

static void
close_replay(struct tg_spool *sp)
{
	if (sp->rfd != -1)
		close(sp->rfd);
	sp->rfd = -1;
}

void
tg_spool_free(struct tg_spool *sp)
{
	if (sp == NULL)
		return;
	close_segment(sp);
	close_replay(sp);
	free(sp->segs);
	free(sp->rbuf);
	free(sp->rptrs);
	free(sp->keep);
	free(sp);
}

/* Forget a segment that holds nothing durable: a failed write must not leave empty files. */
static void
discard_last(struct tg_spool *sp)
{
	char path[4200];

	close_segment(sp);
	seg_path(sp, sp->segs[sp->n_segs - 1].seq, "", path, sizeof(path));
	(void)unlink(path);
	fsync_dir(sp->dir);
	remove_seg(sp, sp->n_segs - 1);
}

static int
new_segment(struct tg_spool *sp)
{
	struct seg_hdr h = { TG_SPOOL_MAGIC, 1, 0 };
	char path[4200];
	struct seg *s;
	int fd;

	seg_path(sp, sp->next_seq, "", path, sizeof(path));
	s = add_seg(sp, sp->next_seq);
	if (s == NULL) {
		snprintf(sp->error, sizeof(sp->error), "out of memory");
		return -1;
	}
	sp->next_seq++;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
	if (fd == -1) {
		snprintf(sp->error, sizeof(sp->error), "could not create spool segment %s: %s",
			 path, strerror(errno));
		remove_seg(sp, sp->n_segs - 1);
		return -1;
	}
	sp->fd = fd;
	if (write(fd, &h, sizeof(h)) != (ssize_t)sizeof(h) || fdatasync(fd) == -1) {
		snprintf(sp->error, sizeof(sp->error), "could not write spool segment %s: %s", path,
			 errno ? strerror(errno) : "short write");
		discard_last(sp);
		return -1;
	}
	/* the new name must survive a crash as well as the rows inside it */
	fsync_dir(sp->dir);
	s->bytes = sizeof(h);
	sp->bytes += sizeof(h);
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

/*
 * Rewrite segment i without its refusals: a copy beside it, synced, renamed
 * over it. Returns the refusals dropped, or -1 (the segment stays as it was).
 */
static int64_t
rewrite_without_refusals(struct tg_spool *sp, uint32_t i, struct tg_record *rec)
{
	struct seg *s = &sp->segs[i];
	struct seg_hdr h;
	char path[4200], tmp[4200];
	uint64_t kept = 0, bytes = sizeof(h), dropped = 0;
	bool unreadable = false;
	int in, out, r = -1;

	seg_path(sp, s->seq, "", path, sizeof(path));
	seg_path(sp, s->seq, ".tmp", tmp, sizeof(tmp));
	in = open(path, O_RDONLY | O_CLOEXEC);
	if (in == -1)
		return -1;
	if (read_full(in, &h, sizeof(h)) != 2 || h.magic != TG_SPOOL_MAGIC) {
		close(in);
		s->damaged = true;
		return -1;
	}
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out == -1 || write(out, &h, sizeof(h)) != (ssize_t)sizeof(h))
		goto out;
	while ((r = next_record(in, rec)) == 1) {
		struct iovec iov = { rec, tg_record_bytes(rec) };

		if (tg_spool_is_refusal(rec)) {
			dropped++;
			continue;
		}
		if (write_all(out, &iov, 1) == -1) {
			r = -2;         /* our disk, not the segment */
			break;
		}
		kept++;
		bytes += iov.iov_len;
	}
	unreadable = r == -1;
	if (r < 0 || fdatasync(out) == -1 || rename(tmp, path) == -1) {
		r = -1;
		goto out;
	}
	fsync_dir(sp->dir);
	sp->bytes = sp->bytes - s->bytes + bytes;
	sp->rows -= dropped;
	sp->dropped += dropped;
	s->bytes = bytes;
	s->rows = kept;
	s->refusals = 0;
	r = 0;
out:
	close(in);
	if (out != -1)
		close(out);
	if (r < 0) {
		(void)unlink(tmp);
		/* a record we cannot read is left to the replay, which keeps the file as .bad */
		if (unreadable)
			s->damaged = true;
		return -1;
	}
	return (int64_t)dropped;
}

/* Make room for `need` more bytes under the cap by dropping refusals, oldest segment first. */
static void
make_room(struct tg_spool *sp, uint64_t need)
{
	struct tg_record *rec = NULL;

	for (uint32_t i = 0; i < sp->n_segs && sp->bytes + need > sp->max_bytes; i++) {
		struct seg *s = &sp->segs[i];

		/* the segment under replay keeps its offsets; a damaged one is left to a human */
		if (s->refusals == 0 || s->damaged || (sp->rfd != -1 && s->seq == sp->rseq))
			continue;
		if (rec == NULL && (rec = malloc(sizeof(*rec))) == NULL)
			break;
		if (sp->fd != -1 && i == sp->n_segs - 1)
			close_segment(sp);
		(void)rewrite_without_refusals(sp, i, rec);
	}
	free(rec);
}

int
tg_spool_append(struct tg_spool *sp, const struct tg_record *const *recs, uint32_t n)
{
	struct iovec iov[64];
	uint64_t bytes = 0, refusals = 0;
	uint32_t i = 0;
	bool fresh;
	struct seg *s;

	if (n == 0)
		return 0;
	for (uint32_t k = 0; k < n; k++)
		bytes += tg_record_bytes(recs[k]);
	if (sp->max_bytes != 0 && sp->bytes + bytes + sizeof(struct seg_hdr) > sp->max_bytes) {
		make_room(sp, bytes + sizeof(struct seg_hdr));
		if (sp->bytes + bytes + sizeof(struct seg_hdr) > sp->max_bytes) {
			/* the oldest refusals left are this batch's own */
			uint32_t m = 0;

			if (sp->keep_cap < n) {
				const struct tg_record **k = realloc(sp->keep, n * sizeof(*k));

				if (k == NULL) {
					snprintf(sp->error, sizeof(sp->error), "out of memory");
					goto fail;
				}
				sp->keep = k;
				sp->keep_cap = n;
			}
			bytes = 0;
			for (uint32_t k = 0; k < n; k++) {
				if (tg_spool_is_refusal(recs[k])) {
					sp->dropped++;
					continue;
				}
				sp->keep[m++] = recs[k];
				bytes += tg_record_bytes(recs[k]);
			}
			recs = sp->keep;
			n = m;
			if (n == 0)
				goto done;
			if (sp->bytes + bytes + sizeof(struct seg_hdr) > sp->max_bytes) {
				snprintf(sp->error, sizeof(sp->error),
					 "the spool in %s is at its cap of %llu bytes "
					 "(database.spool_max_bytes) with billable records only",
					 sp->dir, (unsigned long long)sp->max_bytes);
				goto fail;
			}
		}
	}
	fresh = sp->fd == -1;
	if (fresh && new_segment(sp) == -1)
		goto fail;
	s = &sp->segs[sp->n_segs - 1];
	while (i < n) {
		int cnt = 0;

		for (; i < n && cnt < 64; i++, cnt++) {
			iov[cnt].iov_base = (void *)recs[i];
			iov[cnt].iov_len = tg_record_bytes(recs[i]);
			refusals += tg_spool_is_refusal(recs[i]);
		}
		if (write_all(sp->fd, iov, cnt) == -1) {
			snprintf(sp->error, sizeof(sp->error),
				 "could not append to the spool in %s: %s", sp->dir,
				 strerror(errno));
			goto fail_seg;
		}
	}
	/* after a failed fdatasync the kernel may have dropped the pages: never retry that file */
	if (fdatasync(sp->fd) == -1) {
		snprintf(sp->error, sizeof(sp->error), "could not sync the spool in %s: %s",
			 sp->dir, strerror(errno));
		goto fail_seg;
	}
	s->bytes += bytes;
	s->rows += n;
	s->refusals += refusals;
	sp->bytes += bytes;
	sp->rows += n;
	if (s->bytes >= sp->seg_max)
		close_segment(sp);
done:
	sp->writable = true;
	sp->error[0] = '\0';
	return 0;
fail_seg:
	if (s->rows == 0) {
		discard_last(sp);
	} else {
		struct stat st;

		/* earlier batches in it are durable: keep it, never write it again */
		if (fstat(sp->fd, &st) == 0 && (uint64_t)st.st_size > s->bytes) {
			sp->bytes += (uint64_t)st.st_size - s->bytes;
			s->bytes = (uint64_t)st.st_size;
		}
		close_segment(sp);
	}
fail:
	sp->writable = false;
	return -1;
}

/* Open the oldest segment for replay, at its first record. 1 = open, 0 = none left, -1 = error. */
static int
open_oldest(struct tg_spool *sp)
{
	char path[4200], bad[4300];
	struct seg_hdr h;
	int r;

	while (sp->n_segs > 0) {
		struct seg *s = &sp->segs[0];

		/* the segment being written joins the replay; new rows go to a new one */
		if (sp->fd != -1 && sp->n_segs == 1)
			close_segment(sp);
		seg_path(sp, s->seq, "", path, sizeof(path));
		sp->rfd = open(path, O_RDONLY | O_CLOEXEC);
		if (sp->rfd == -1 && errno == ENOENT) {
			remove_seg(sp, 0);
			continue;
		}
		if (sp->rfd == -1) {
			tg_log_error(NULL, "could not open spool segment %s: %s", path,
				     strerror(errno));
			return -1;
		}
		sp->rseq = s->seq;
		r = read_full(sp->rfd, &h, sizeof(h));
		if (r == 2 && h.magic == TG_SPOOL_MAGIC) {
			sp->roff = sizeof(h);
			return 1;
		}
		close_replay(sp);
		if (r == 2) {
			/* a header we did not write: keep it for a human */
			sp->corrupt++;
			snprintf(bad, sizeof(bad), "%s.bad", path);
			tg_log_error(NULL, "spool segment %s has no spool header: kept as %s", path,
				     bad);
			if (rename(path, bad) == -1)
				tg_log_error(NULL, "could not rename %s: %s", path,
					     strerror(errno));
		} else if (unlink(path) == -1) {
			/* created, then a crash before its header: nothing in it */
			tg_log_error(NULL, "could not delete spool segment %s: %s", path,
				     strerror(errno));
			return -1;
		}
		fsync_dir(sp->dir);
		remove_seg(sp, 0);
	}
	return 0;
}

/* The replayed segment is all committed (or damaged from here on): delete or set it aside. */
static int
finish_segment(struct tg_spool *sp, bool damaged)
{
	char path[4200], bad[4300];

	close_replay(sp);
	seg_path(sp, sp->rseq, "", path, sizeof(path));
	if (damaged) {
		sp->corrupt++;
		snprintf(bad, sizeof(bad), "%s.bad", path);
		tg_log_error(NULL, "spool segment %s is corrupt after offset %lld: kept as %s",
			     path, (long long)sp->roff, bad);
		if (rename(path, bad) == -1)
			tg_log_error(NULL, "could not rename %s: %s", path, strerror(errno));
	} else if (unlink(path) == -1) {
		tg_log_error(NULL, "could not delete spool segment %s: %s", path, strerror(errno));
		return -1;
	}
	fsync_dir(sp->dir);
	if (sp->n_segs > 0 && sp->segs[0].seq == sp->rseq)
		remove_seg(sp, 0);
	return 1;
}

int
tg_spool_replay_step(struct tg_spool *sp, tg_spool_sink sink, void *arg, uint32_t batch_rows)
{
	uint32_t n = 0;
	off_t end;
	int r;

	if (batch_rows == 0)
		batch_rows = 1;
	if (sp->rcap < batch_rows) {
		free(sp->rbuf);
		free(sp->rptrs);
		sp->rbuf = malloc((size_t)batch_rows * sizeof(*sp->rbuf));
		sp->rptrs = malloc((size_t)batch_rows * sizeof(*sp->rptrs));
		sp->rcap = sp->rbuf != NULL && sp->rptrs != NULL ? batch_rows : 0;
		if (sp->rcap == 0)
			return -1;
	}
	if (sp->rfd == -1) {
		r = open_oldest(sp);
		if (r <= 0)
			return r;
	}
	if (lseek(sp->rfd, sp->roff, SEEK_SET) == (off_t)-1) {
		close_replay(sp);
		return -1;
	}
	end = sp->roff;
	while (n < batch_rows && (r = next_record(sp->rfd, &sp->rbuf[n])) == 1) {
		sp->rptrs[n] = &sp->rbuf[n];
		n++;
		/* the end of the last whole record: a damaged one after it is read again, alone */
		end = lseek(sp->rfd, 0, SEEK_CUR);
	}
	if (n == 0)
		return finish_segment(sp, r == -1);
	if (sink(arg, sp->rptrs, n) == -1)
		return -1;
	/* committed: these records are never handed over again by this process */
	sp->roff = end;
	if (sp->n_segs > 0 && sp->segs[0].seq == sp->rseq) {
		sp->segs[0].rows -= n < sp->segs[0].rows ? n : sp->segs[0].rows;
		sp->rows -= n < sp->rows ? n : sp->rows;
	}
	return 1;
}

int
tg_spool_replay(struct tg_spool *sp, tg_spool_sink sink, void *arg, uint32_t batch_rows)
{
	int r;

	while ((r = tg_spool_replay_step(sp, sink, arg, batch_rows)) == 1)
		;
	return r;
}

int
tg_spool_probe(struct tg_spool *sp)
{
	static const char block[4096];
	char path[4200];
	int fd, rc = -1;

	snprintf(path, sizeof(path), "%s/probe.tmp", sp->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd != -1) {
		rc = write(fd, block, sizeof(block)) == (ssize_t)sizeof(block) && fdatasync(fd) == 0
		     ? 0 : -1;
		close(fd);
		(void)unlink(path);
	}
	if (rc == 0) {
		sp->writable = true;
		sp->error[0] = '\0';
	}
	return rc;
}

uint64_t
tg_spool_rows(const struct tg_spool *sp)
{
	return sp->rows;
}

uint64_t
tg_spool_bytes(const struct tg_spool *sp)
{
	return sp->bytes;
}

uint64_t
tg_spool_corrupt(const struct tg_spool *sp)
{
	return sp->corrupt;
}

uint64_t
tg_spool_dropped(const struct tg_spool *sp)
{
	return sp->dropped;
}

bool
tg_spool_writable(const struct tg_spool *sp)
{
	return sp->writable;
}

const char *
tg_spool_error(const struct tg_spool *sp)
{
	return sp->error;
}
