/*
 * The log rings: one single-producer/single-consumer ring of fixed-size
 * records per worker slot, plus that slot's in-flight table, in one file
 * (state_dir/rings.tg) mapped MAP_SHARED by the master before it forks, so
 * that unread records survive a crash of every process. The producer is the
 * worker in slot i (or the master recovering a dead one); the consumer is the
 * logger. Neither ever locks or waits.
 *
 * Order of records about one call: a worker pushes the finished request's
 * record, then ends its in-flight entry. A worker killed between the two
 * leaves both a real record and, after tg_ring_recover, an "unknown" one with
 * the same request_id, the real one earlier in the same ring. The logger keeps
 * ring order (through the spool too) and inserts with ON CONFLICT DO NOTHING,
 * so the first, real record is the one kept. In a ring file set aside by a
 * geometry change (rings.<n>.tg.old) the logger itself turns the live in-flight
 * entries into "unknown" records, and only once that ring's records are durable.
 *
 * Every block of the file is allocated when it is opened (posix_fallocate), so
 * a full disk later can never make a store into the map raise SIGBUS. The map
 * is never msync()ed: records survive the death of any process (the page cache
 * outlives them), not a crash of the machine before the kernel writes them back.
 */
#ifndef TG_RING_H
#define TG_RING_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_record.h"

#define TG_RING_MAGIC     0x54475231u         /* "TGR1" */
#define TG_RING_VERSION   2u                  /* bump on ANY size or order change */
#define TG_RING_VERSION_V1 1u                 /* 1 KiB records of version 1: read, never written */
#define TG_RING_MIN_RECORDS 16u
#define TG_RING_MAX_INFLIGHT 65536u           /* in-flight entries per ring (max_connections) */
#define TG_RING_FILE      "rings.tg"
#ifndef TG_CACHELINE
#define TG_CACHELINE    64
#endif

#ifndef TG_MUSTCHECK
#define TG_MUSTCHECK __attribute__((warn_unused_result))
#endif

#ifndef TG_RC_DEFINED
#define TG_RC_DEFINED
enum tg_rc { TG_OK = 0, TG_ERR = -1, TG_AGAIN = -2, TG_DECLINED = -3 };
#endif

/* File header at offset 0: written once when the file is created. */
struct tg_ring_file_hdr {
	uint32_t magic, version;
	uint32_t record_size;         /* TG_RECORD_SIZE */
	uint32_t record_version;      /* TG_RECORD_VERSION */
	uint32_t n_rings;
	uint32_t ring_records;        /* per ring, a power of two */
	uint32_t inflight;            /* in-flight entries per ring (max_connections) */
	uint32_t reserved0;
	uint64_t off_rings;           /* offset of ring 0 */
	uint64_t ring_stride;         /* bytes from one ring to the next */
	uint64_t size;                /* of the whole file */
	uint8_t  reserved[4096 - 56];
};

/* Per ring, at off_rings + i * ring_stride: positions count records since creation. */
struct tg_ring_ctl {
	alignas(TG_CACHELINE) _Atomic uint64_t head;  /* next record to read: logger only */
	uint8_t pad0[TG_CACHELINE - 8];
	alignas(TG_CACHELINE) _Atomic uint64_t tail;  /* next record to write: producer only */
	uint8_t pad1[TG_CACHELINE - 8];
};

/*
 * An in-flight entry: a request being served, as it would be logged if its
 * worker died. Entries are record_size bytes in every version; the state word
 * is at offset 0 and the request body at offset 64.
 */
struct tg_inflight {
	_Atomic uint32_t state;       /* 0 free, 1 live; the producer writes it */
	uint32_t pad[15];
	struct tg_request_rec rec;
	uint8_t  tail[TG_RECORD_SIZE - 64 - sizeof(struct tg_request_rec)];
};

_Static_assert(sizeof(struct tg_ring_file_hdr) == 4096, "header is one page");
_Static_assert(offsetof(struct tg_ring_file_hdr, off_rings) == 32, "header layout is stored on disk");
_Static_assert(sizeof(struct tg_ring_ctl) == 2 * TG_CACHELINE, "head and tail on their own lines");
_Static_assert(sizeof(struct tg_inflight) == TG_RECORD_SIZE, "in-flight entries are fixed-size");

/* A mapping of a ring file; the struct lives in the process, the map is shared. */
struct tg_ring_file {
	struct tg_ring_file_hdr *hdr;
	size_t   map_len;
	uint32_t n_rings, ring_records, mask;
	uint32_t record_size;         /* TG_RECORD_SIZE, or smaller in an old file */
	uint32_t inflight;            /* entries per ring's in-flight table */
	bool     current;             /* this build's layout: producers may write to it */
	uint32_t *inflight_next;      /* per ring: where this process looks for a free entry */
	char     path[4096];
};

/*
 * Create state_dir/rings.tg for n_rings rings of ring_records/n_rings records
 * each (rounded to the nearest power of two, at least TG_RING_MIN_RECORDS) and
 * an in-flight table of inflight entries per ring, or map the existing file if
 * it has the same geometry, keeping its unread records. A file with another
 * geometry or version is renamed to rings.<n>.tg.old for the logger to drain
 * (tg_ring_list_old); nothing in it is dropped. Every block of the file is
 * allocated before it is mapped; when the file system cannot hold it, why
 * names the path and the bytes needed. Master only, before any fork. Returns
 * NULL with the reason in why.
 */
struct tg_ring_file *tg_ring_open(const char *state_dir, uint32_t n_rings, uint32_t ring_records,
				  uint32_t inflight, char *why, size_t whylen);

/*
 * Map an existing ring file with whatever geometry and version it has (the
 * logger draining an old one). A file of an older record version
 * (!f->current) is only read: its records are f->record_size bytes, so check
 * a record's version before reading its body.
 */
struct tg_ring_file *tg_ring_attach(const char *path, char *why, size_t whylen);

/* Unmap and free; tg_ring_close(NULL) does nothing. The file stays. */
void tg_ring_close(struct tg_ring_file *f);

/*
 * Append rec to ring (producer only): fills rec's len, crc, version from its
 * kind. Returns TG_OK, TG_AGAIN when the ring is full (nothing written), or
 * TG_ERR for a bad ring index or kind, or a file of an older layout. Never
 * blocks; async-signal-safe.
 */
int tg_ring_push(struct tg_ring_file *f, uint32_t ring, struct tg_record *rec) TG_MUSTCHECK;

/* Records written and not yet consumed, and how many fit. */
uint32_t tg_ring_used(const struct tg_ring_file *f, uint32_t ring);
uint32_t tg_ring_capacity(const struct tg_ring_file *f);

/*
 * Reader side (logger only). tg_ring_peek returns how many records (up to max)
 * can be read starting at *pos, the read position; tg_ring_at gives the record
 * at a position in [*pos, *pos + n) (valid until tg_ring_consume passes it);
 * tg_ring_consume advances the read position to pos, releasing the slots.
 */
uint32_t tg_ring_peek(const struct tg_ring_file *f, uint32_t ring, uint32_t max, uint64_t *pos);
const struct tg_record *tg_ring_at(const struct tg_ring_file *f, uint32_t ring, uint64_t pos);
void tg_ring_consume(struct tg_ring_file *f, uint32_t ring, uint64_t pos);

/* Fill len, version and crc of rec from its kind; -1 for an unknown kind. */
int tg_record_seal(struct tg_record *rec) TG_MUSTCHECK;
/* True when rec's kind, len, version and crc are all valid. */
bool tg_record_check(const struct tg_record *rec);
/* Bytes of rec to store: header plus rec->len. */
static inline size_t
tg_record_bytes(const struct tg_record *rec)
{
	return offsetof(struct tg_record, u) + rec->len;
}

/*
 * In-flight table (shm/inflight.c), f->inflight entries per ring.
 * tg_inflight_begin copies rec into a free entry of ring's table and returns
 * its index, or -1 when the table is full (the caller refuses the call rather
 * than serve it untracked); tg_inflight_end frees it. Producer only; a free
 * entry is found in O(1) while calls end roughly in the order they began.
 * tg_ring_recover (master only, with the ring's producer dead) pushes every
 * live entry as the record tg_inflight_unknown makes of it, then frees it.
 * Returns the number recovered, or TG_AGAIN if the ring filled first (the rest
 * stay in the table: call again later, before reusing the slot).
 */
int tg_inflight_begin(struct tg_ring_file *f, uint32_t ring, const struct tg_request_rec *rec);
void tg_inflight_end(struct tg_ring_file *f, uint32_t ring, int idx);
int tg_ring_recover(struct tg_ring_file *f, uint32_t ring);

/*
 * What a recovered in-flight entry is logged as: rec (a request record copied
 * out of an entry) gets outcome TG_OUTCOME_UNKNOWN, status 0, usage_complete 0,
 * delivery unknown and error "worker died", and is sealed. Returns 0, or -1
 * when rec is not a request.
 */
int tg_inflight_unknown(struct tg_record *rec) TG_MUSTCHECK;

/*
 * Old ring files in state_dir (renamed by tg_ring_open after a geometry
 * change): fills up to max paths, oldest first; returns how many.
 */
int tg_ring_list_old(const char *state_dir, char (*paths)[4096], int max);

/* Layout helpers shared by ring.c and inflight.c. */
static inline struct tg_ring_ctl *
tg_ring_ctl(const struct tg_ring_file *f, uint32_t ring)
{
	return (struct tg_ring_ctl *)((char *)f->hdr + f->hdr->off_rings +
				      (uint64_t)ring * f->hdr->ring_stride);
}

/* Slots and entries are f->record_size apart: an old file's are smaller than this build's. */
static inline struct tg_record *
tg_ring_slot(const struct tg_ring_file *f, uint32_t ring, uint64_t pos)
{
	return (struct tg_record *)((char *)tg_ring_ctl(f, ring) + sizeof(struct tg_ring_ctl) +
				    (size_t)(pos & f->mask) * f->record_size);
}

static inline struct tg_inflight *
tg_ring_inflight(const struct tg_ring_file *f, uint32_t ring, uint32_t i)
{
	return (struct tg_inflight *)((char *)tg_ring_ctl(f, ring) + sizeof(struct tg_ring_ctl) +
				      ((size_t)f->ring_records + i) * f->record_size);
}

#endif /* TG_RING_H */
