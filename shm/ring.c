/*
 * The log ring file: create or reuse state_dir/rings.tg with every block
 * allocated, push (producer) and peek/consume (logger), record sealing and
 * checking. The in-flight tables in the same file are shm/inflight.c's.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tg_clock.h"
#include "tg_crc32c.h"
#include "tg_log.h"
#include "tg_ring.h"

/* The power of two nearest n (ties up): 65536 records over 65 rings gives 1024 each, not 512. */
static uint32_t
nearest_pow2(uint32_t n)
{
	uint32_t p = 1;

	while (p <= n / 2)
		p *= 2;
	return n - p >= p / 2 && p < (1u << 30) ? p * 2 : p;
}

static uint64_t
ring_stride(uint32_t per_ring, uint32_t inflight, uint32_t record_size)
{
	/* an in-flight entry is one record in size, in every version */
	uint64_t s = sizeof(struct tg_ring_ctl) + ((uint64_t)per_ring + inflight) * record_size;

	return (s + 4095) & ~(uint64_t)4095;
}

static void
geometry(struct tg_ring_file_hdr *h, uint32_t n_rings, uint32_t per_ring, uint32_t inflight,
	 uint32_t record_size)
{
	memset(h, 0, sizeof(*h));
	h->magic = TG_RING_MAGIC;
	h->version = TG_RING_VERSION;
	h->record_size = TG_RECORD_SIZE;
	h->record_version = TG_RECORD_VERSION;
	h->n_rings = n_rings;
	h->ring_records = per_ring;
	h->inflight = inflight;
	h->off_rings = sizeof(struct tg_ring_file_hdr);
	h->ring_stride = ring_stride(per_ring, inflight, record_size);
	h->size = h->off_rings + (uint64_t)n_rings * h->ring_stride;
}

/*
 * Is a header one this code can map: right magic, a version it knows (this
 * one, or version 1's 1 KiB records for the logger to drain), sizes consistent
 * with file_size?
 */
static int
header_usable(const struct tg_ring_file_hdr *h, uint64_t file_size, char *why, size_t whylen)
{
	struct tg_ring_file_hdr want;

	bool known = (h->version == TG_RING_VERSION && h->record_size == TG_RECORD_SIZE) ||
		     (h->version == TG_RING_VERSION_V1 && h->record_size == 1024 &&
		      h->record_version == 1);

	if (h->magic != TG_RING_MAGIC || !known) {
		snprintf(why, whylen, "magic, version or record size differs");
		return -1;
	}
	if (h->n_rings == 0 || h->ring_records < TG_RING_MIN_RECORDS ||
	    (h->ring_records & (h->ring_records - 1)) != 0 || h->inflight == 0 ||
	    h->inflight > TG_RING_MAX_INFLIGHT) {
		snprintf(why, whylen, "bad geometry n_rings=%u ring_records=%u inflight=%u",
			 h->n_rings, h->ring_records, h->inflight);
		return -1;
	}
	geometry(&want, h->n_rings, h->ring_records, h->inflight, h->record_size);
	if (h->off_rings != want.off_rings || h->ring_stride != want.ring_stride ||
	    h->size != want.size || file_size != h->size) {
		snprintf(why, whylen, "size %llu does not match its header",
			 (unsigned long long)file_size);
		return -1;
	}
	return 0;
}

static struct tg_ring_file *
map_fd(int fd, const char *path, uint64_t size, char *why, size_t whylen)
{
	struct tg_ring_file *f = calloc(1, sizeof(*f));
	void *p;

	if (f == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		snprintf(why, whylen, "could not map %s: %s", path, strerror(errno));
		free(f);
		return NULL;
	}
	f->hdr = p;
	f->map_len = size;
	f->n_rings = f->hdr->n_rings;
	f->ring_records = f->hdr->ring_records;
	f->mask = f->ring_records - 1;
	f->record_size = f->hdr->record_size;
	f->inflight = f->hdr->inflight;
	f->current = f->hdr->version == TG_RING_VERSION && f->record_size == TG_RECORD_SIZE &&
		     f->hdr->record_version == TG_RECORD_VERSION;
	f->inflight_next = calloc(f->n_rings, sizeof(*f->inflight_next));
	if (f->inflight_next == NULL) {
		snprintf(why, whylen, "out of memory");
		tg_ring_close(f);
		return NULL;
	}
	snprintf(f->path, sizeof(f->path), "%s", path);
	return f;
}

/* Positions that a crash cannot produce mean the file is not ours to trust. */
static int
positions_sane(const struct tg_ring_file *f)
{
	for (uint32_t i = 0; i < f->n_rings; i++) {
		struct tg_ring_ctl *c = tg_ring_ctl(f, i);
		uint64_t h = atomic_load_explicit(&c->head, memory_order_relaxed);
		uint64_t t = atomic_load_explicit(&c->tail, memory_order_relaxed);

		if (t < h || t - h > f->ring_records)
			return -1;
	}
	return 0;
}

struct tg_ring_file *
tg_ring_attach(const char *path, char *why, size_t whylen)
{
	struct tg_ring_file_hdr h;
	struct tg_ring_file *f;
	struct stat st;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd == -1) {
		snprintf(why, whylen, "could not open %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
		snprintf(why, whylen, "could not read the header of %s", path);
		close(fd);
		return NULL;
	}
	if (header_usable(&h, (uint64_t)st.st_size, why, whylen) == -1) {
		close(fd);
		return NULL;
	}
	/*
	 * A file made sparse by an older build: the logger only writes where a
	 * producer already wrote (read positions, in-flight states), so failing to
	 * fill its holes on a full disk does not stop the drain.
	 */
	(void)posix_fallocate(fd, 0, (off_t)h.size);
	f = map_fd(fd, path, h.size, why, whylen);
	close(fd);
	if (f != NULL && positions_sane(f) == -1) {
		snprintf(why, whylen, "%s has impossible read/write positions", path);
		tg_ring_close(f);
		return NULL;
	}
	return f;
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

/* Keep a file we cannot reuse: rename it for the logger to drain, never delete it. */
static int
set_aside(const char *state_dir, const char *path, const char *reason, char *why, size_t whylen)
{
	char old[4096];

	snprintf(old, sizeof(old), "%s/rings.%020llu.tg.old", state_dir,
		 (unsigned long long)tg_clock_wall_us());
	if (rename(path, old) == -1) {
		snprintf(why, whylen, "could not rename %s to %s: %s", path, old, strerror(errno));
		return -1;
	}
	fsync_dir(state_dir);
	tg_log_warn(NULL, "ring file %s cannot be reused (%s): kept as %s for the logger to drain",
		    path, reason, old);
	return 0;
}

/*
 * Give every byte of the file its blocks now, so that a store into the map can
 * never find the disk full (SIGBUS). On failure why names the file, the size
 * it needs and what the file system has free.
 */
static int
allocate(int fd, const char *path, const char *dir, const struct tg_ring_file_hdr *h, char *why,
	 size_t whylen)
{
	struct statvfs vfs;
	struct stat st;
	int rc;

	do
		rc = posix_fallocate(fd, 0, (off_t)h->size);
	while (rc == EINTR);
	if (rc == 0)
		return 0;
	if (fstat(fd, &st) == -1)
		st.st_blocks = 0;
	if (statvfs(dir, &vfs) == -1)
		vfs.f_bavail = 0;
	/* the size and the path first: callers may keep only the start of a long message */
	snprintf(why, whylen, "could not allocate %llu bytes for %s (%u rings x (%u records + "
		 "%u in flight) x %u bytes; %llu allocated, %llu free): %s; lower "
		 "database.ring_records or max_connections, or give state_dir more room",
		 (unsigned long long)h->size, path, h->n_rings, h->ring_records, h->inflight,
		 h->record_size,
		 (unsigned long long)st.st_blocks * 512,
		 (unsigned long long)vfs.f_bavail * vfs.f_frsize, strerror(rc));
	return -1;
}

/*
 * Fill the page cache behind the map now, in the master, rather than in a
 * worker's first store into each page: a fresh file's blocks are unwritten
 * extents, and the fault that reads them zero-fills a whole readahead window
 * (17 % of a worker's CPU over the first lap of a ring). Reading, not writing,
 * so no page is dirtied and nothing goes to disk; a kernel before 5.14 refuses
 * the advice and the first lap pays as before.
 */
static void
prefault(struct tg_ring_file *f)
{
	if (f != NULL)
		(void)madvise(f->hdr, f->map_len, MADV_POPULATE_READ);
}

struct tg_ring_file *
tg_ring_open(const char *state_dir, uint32_t n_rings, uint32_t ring_records, uint32_t inflight,
	     char *why, size_t whylen)
{
	struct tg_ring_file_hdr want;
	char path[4096], tmp[4096], reason[256] = "";
	uint32_t per_ring;
	int fd;

	if (n_rings == 0 || inflight == 0 || inflight > TG_RING_MAX_INFLIGHT) {
		snprintf(why, whylen, "bad geometry: %u rings, %u in-flight entries each", n_rings,
			 inflight);
		return NULL;
	}
	per_ring = ring_records / n_rings;
	per_ring = per_ring < TG_RING_MIN_RECORDS ? TG_RING_MIN_RECORDS : nearest_pow2(per_ring);
	geometry(&want, n_rings, per_ring, inflight, TG_RECORD_SIZE);
	snprintf(path, sizeof(path), "%s/%s", state_dir, TG_RING_FILE);

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd != -1) {
		struct tg_ring_file_hdr have;
		struct stat st = { 0 };
		struct tg_ring_file *f = NULL;

		if (fstat(fd, &st) == 0 && pread(fd, &have, sizeof(have), 0) == (ssize_t)sizeof(have) &&
		    header_usable(&have, (uint64_t)st.st_size, reason, sizeof(reason)) == 0) {
			if (have.version == TG_RING_VERSION && have.n_rings == n_rings &&
			    have.ring_records == per_ring && have.inflight == inflight &&
			    have.record_version == TG_RECORD_VERSION) {
				/* a file made before blocks were allocated gets them now */
				if (allocate(fd, path, state_dir, &have, why, whylen) == -1) {
					close(fd);
					return NULL;
				}
				f = map_fd(fd, path, have.size, why, whylen);
				close(fd);
				if (f == NULL)
					return NULL;
				if (positions_sane(f) == 0) {
					prefault(f);
					return f;
				}
				tg_ring_close(f);
				snprintf(reason, sizeof(reason), "impossible read/write positions");
			} else {
				close(fd);
				snprintf(reason, sizeof(reason),
					 "version %u, geometry %u rings x %u records + %u in "
					 "flight, want version %u, %u x %u + %u", have.version,
					 have.n_rings, have.ring_records, have.inflight,
					 TG_RING_VERSION, n_rings, per_ring, inflight);
			}
		} else {
			close(fd);
			if (reason[0] == '\0' || st.st_size < (off_t)sizeof(have))
				snprintf(reason, sizeof(reason), "unreadable header");
		}
		if (set_aside(state_dir, path, reason, why, whylen) == -1)
			return NULL;
	} else if (errno != ENOENT) {
		snprintf(why, whylen, "could not open %s: %s", path, strerror(errno));
		return NULL;
	}

	/* build the new file under a temporary name so a crash never leaves half a header */
	snprintf(tmp, sizeof(tmp), "%s/%s.tmp", state_dir, TG_RING_FILE);
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1) {
		snprintf(why, whylen, "could not create %s: %s", tmp, strerror(errno));
		return NULL;
	}
	if (allocate(fd, path, state_dir, &want, why, whylen) == -1) {
		close(fd);
		unlink(tmp);
		return NULL;
	}
	if (pwrite(fd, &want, sizeof(want), 0) != (ssize_t)sizeof(want) || fsync(fd) == -1 ||
	    rename(tmp, path) == -1) {
		snprintf(why, whylen, "could not create %s: %s", path, strerror(errno));
		close(fd);
		unlink(tmp);
		return NULL;
	}
	fsync_dir(state_dir);
	{
		struct tg_ring_file *f = map_fd(fd, path, want.size, why, whylen);

		close(fd);
		prefault(f);
		return f;
	}
}

void
tg_ring_close(struct tg_ring_file *f)
{
	if (f == NULL)
		return;
	munmap(f->hdr, f->map_len);
	free(f->inflight_next);
	free(f);
}

int
tg_record_seal(struct tg_record *rec)
{
	if (rec->kind == TG_REC_REQUEST)
		rec->len = sizeof(struct tg_request_rec);
	else if (rec->kind == TG_REC_AUDIT)
		rec->len = sizeof(struct tg_audit_rec);
	else
		return -1;
	rec->version = TG_RECORD_VERSION;
	rec->reserved = 0;
	rec->crc = tg_crc32c(0, &rec->kind, offsetof(struct tg_record, u) - 8 + rec->len);
	return 0;
}

bool
tg_record_check(const struct tg_record *rec)
{
	if (rec->version != TG_RECORD_VERSION)
		return false;
	if (!(rec->kind == TG_REC_REQUEST && rec->len == sizeof(struct tg_request_rec)) &&
	    !(rec->kind == TG_REC_AUDIT && rec->len == sizeof(struct tg_audit_rec)))
		return false;
	return rec->crc == tg_crc32c(0, &rec->kind, offsetof(struct tg_record, u) - 8 + rec->len);
}

int
tg_ring_push(struct tg_ring_file *f, uint32_t ring, struct tg_record *rec)
{
	struct tg_ring_ctl *c;
	uint64_t h, t;

	if (ring >= f->n_rings || !f->current || tg_record_seal(rec) == -1)
		return TG_ERR;
	c = tg_ring_ctl(f, ring);
	t = atomic_load_explicit(&c->tail, memory_order_relaxed);   /* we are its only writer */
	/* acquire: the logger's reads of the slots it released happen before we overwrite them */
	h = atomic_load_explicit(&c->head, memory_order_acquire);
	if (t - h >= f->ring_records)
		return TG_AGAIN;
	memcpy(tg_ring_slot(f, ring, t), rec, tg_record_bytes(rec));
	/* release: the record's bytes are visible before the tail that covers them */
	atomic_store_explicit(&c->tail, t + 1, memory_order_release);
	return TG_OK;
}

uint32_t
tg_ring_used(const struct tg_ring_file *f, uint32_t ring)
{
	struct tg_ring_ctl *c = tg_ring_ctl(f, ring);
	uint64_t h = atomic_load_explicit(&c->head, memory_order_acquire);
	uint64_t t = atomic_load_explicit(&c->tail, memory_order_acquire);

	return t > h ? (uint32_t)(t - h) : 0;
}

uint32_t
tg_ring_capacity(const struct tg_ring_file *f)
{
	return f->ring_records;
}

uint32_t
tg_ring_peek(const struct tg_ring_file *f, uint32_t ring, uint32_t max, uint64_t *pos)
{
	struct tg_ring_ctl *c = tg_ring_ctl(f, ring);
	uint64_t h = atomic_load_explicit(&c->head, memory_order_relaxed);  /* ours */
	/* acquire: pairs with the producer's release of tail, so the records are whole */
	uint64_t t = atomic_load_explicit(&c->tail, memory_order_acquire);
	uint64_t n = t > h ? t - h : 0;

	*pos = h;
	return n < max ? (uint32_t)n : max;
}

const struct tg_record *
tg_ring_at(const struct tg_ring_file *f, uint32_t ring, uint64_t pos)
{
	return tg_ring_slot(f, ring, pos);
}

void
tg_ring_consume(struct tg_ring_file *f, uint32_t ring, uint64_t pos)
{
	/* release: our copies out of the slots complete before the producer may reuse them */
	atomic_store_explicit(&tg_ring_ctl(f, ring)->head, pos, memory_order_release);
}

static int
is_old_ring(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return strncmp(d->d_name, "rings.", 6) == 0 && n > 13 &&
	       strcmp(d->d_name + n - 7, ".tg.old") == 0;
}

int
tg_ring_list_old(const char *state_dir, char (*paths)[4096], int max)
{
	struct dirent **names;
	int n = scandir(state_dir, &names, is_old_ring, alphasort);
	int k = 0;

	if (n == -1)
		return 0;
	for (int i = 0; i < n; i++) {
		if (k < max)
			snprintf(paths[k++], 4096, "%s/%s", state_dir, names[i]->d_name);
		free(names[i]);
	}
	free(names);
	return k;
}
