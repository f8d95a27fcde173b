/* queue.h -- the durable mini-batch queue and job metadata, in one LMDB environment.
 *
 * Owns: OUT/.prs/data.mdb with sub-databases
 *   "meta"    small named values (config text, counters, first error)
 *   "items"   item id (u64) -> item record (files: the relative path with its NUL)
 *   "batches" batch id (u64) -> prs_batch_rec
 * May call: LMDB, libc. Knows nothing of io/ or the runtime.
 * Callers must: make every write from ONE thread (the coordinator, or the job creator
 *   before workers start). Readers on any thread use a prs_queue_reader each (an
 *   MDB_NOTLS read transaction that is reset/renewed around each use).
 *
 * Durability: PRS_DURABILITY_FULL syncs every commit (LMDB's default); the caller
 * syncs the output file before committing the lengths that describe it.
 * PRS_DURABILITY_NONE skips syncs (MDB_NOSYNC): a crash of the process loses nothing,
 * a power cut may lose the last commits (never consistency: LMDB stays intact). */
#ifndef PRS_QUEUE_H
#define PRS_QUEUE_H

#include "base.h"
#include "counts.h"

#include <stdbool.h>

enum prs_durability { PRS_DURABILITY_FULL = 0, PRS_DURABILITY_NONE };

enum prs_batch_state {
    PRS_BATCH_PENDING = 0,
    PRS_BATCH_DONE = 1,
    PRS_BATCH_FAILED = 2,
};

/* In memory; stored through prs_queue_batch_encode (below). */
typedef struct prs_batch_rec {
    uint32_t state;    /* enum prs_batch_state */
    uint32_t attempts; /* tries spent (failed, timed out, crashed) */
    uint64_t first_item;
    uint32_t item_count;
    uint32_t succeeded; /* items with a row, once done */
} prs_batch_rec;

/* Job-wide counters, committed with every group of batch changes: the job's one counts
 * struct (core/base/counts.h), output_bytes included. */
typedef prs_counts prs_queue_counts;

/* ---- record encodings: pure functions, no LMDB, safe from any thread --------------------
 * Every record in data.mdb goes through these. Fixed little-endian layouts (the same bytes as
 * the old native structs on x86-64, so existing state files still open):
 *   batch  24 bytes: u32 state, u32 attempts, u64 first_item, u32 item_count, u32 succeeded
 *   counts 56 bytes: u64 total_batches, total_items, done_batches, failed_batches,
 *                    succeeded_items, failed_items, output_bytes
 *   item   files: the name's bytes and a NUL (no NUL inside), at most PRS_QUEUE_MAX_ITEM_BYTES;
 *          tabular: a range record (prs_queue_tab_encode, below; the job's format says which)
 * Decoders validate and refuse a record no run of prs can write, with -EINVAL: wrong length
 * (truncated or padded), an unknown state, attempts above PRS_QUEUE_MAX_ATTEMPTS, a failed
 * batch with no try spent, an empty batch or one whose items wrap past 2^64, more succeeded
 * items than items (or any on a batch not done), counts that do not add up. The store maps
 * such a record, read back, to -EBADMSG (a corrupt state file), and refuses to write one. */
#define PRS_QUEUE_BATCH_BYTES 24u
#define PRS_QUEUE_COUNTS_BYTES 56u
#define PRS_QUEUE_MAX_ATTEMPTS 100u /* = PRS_SCHED_MAX_TRY (checked in core/coord.c) */

void prs_queue_batch_encode(const prs_batch_rec *rec, uint8_t out[PRS_QUEUE_BATCH_BYTES]);
int prs_queue_batch_decode(const void *buf, size_t len, prs_batch_rec *rec);
void prs_queue_counts_encode(const prs_queue_counts *c, uint8_t out[PRS_QUEUE_COUNTS_BYTES]);
int prs_queue_counts_decode(const void *buf, size_t len, prs_queue_counts *c);
/* name_len bytes of name (no NUL among them) -> buf; *len_bytes = name_len + 1. -EINVAL for
 * an empty name or one holding a NUL, -ENAMETOOLONG past PRS_QUEUE_MAX_ITEM_BYTES. */
int prs_queue_item_encode(const char *name, size_t name_len, void *buf, size_t cap,
                          size_t *len_bytes);
/* Zero-copy: *name points into buf (NUL-terminated there). */
int prs_queue_item_decode(const void *buf, size_t len, const char **name, size_t *name_len);

typedef struct prs_batch_update {
    uint64_t batch_id;
    prs_batch_rec rec;
} prs_batch_update;

typedef struct prs_queue prs_queue;
typedef struct prs_queue_reader prs_queue_reader;

/* Any call that writes may return this: LMDB's map is full (MDB_MAP_FULL, mapped to
 * -EFBIG by core/base/mdb_err.h, as for every environment). The write did not happen.
 * prs_queue_grow with no transaction open in this process, or closing and reopening (which opens a
 * map twice the file's size), makes room. */
#define PRS_QUEUE_EMAPFULL (-EFBIG)

#define PRS_QUEUE_MAX_ITEM_BYTES 4096u /* a path or a tabular item reference */

/* Opens (creating if asked) the environment in dir. err gets a message naming the path. */
int prs_queue_open(prs_queue **out, const char *dir, enum prs_durability durability, char *err,
                   size_t err_size);
/* The same, read-only (prs status): never writes, works beside a running job. A job
 * never created gives -ENOENT. */
int prs_queue_open_readonly(prs_queue **out, const char *dir, char *err, size_t err_size);
void prs_queue_close(prs_queue *q);
/* Doubles the map (up to 64 TiB; -ENOSPC past it) and says its new size. The caller must
 * hold no transaction, reader or builder of this environment in this process. */
int prs_queue_grow(prs_queue *q, size_t *map_bytes);

/* meta: small values (< 64 KiB). get returns -ENOENT when absent. */
int prs_queue_meta_get(prs_queue *q, const char *key, void *buf, size_t cap, size_t *len);

/* True when a job was fully created in this environment (the "created" mark is set). */
bool prs_queue_created(prs_queue *q);

/* Job creation: one builder at a time, before any worker runs. It empties the queue first
 * (a creation interrupted by a crash is redone from scratch), then appends items and
 * batches in ascending ids (MDB_APPEND), committing every few thousand records so memory
 * stays flat, and finally marks the job created with its config text. */
typedef struct prs_queue_builder {
    prs_queue *q;
    void *txn; /* MDB_txn */
    uint64_t next_item;
    uint64_t next_batch;
    uint32_t uncommitted;
    uint64_t ref_items; /* items counted by prs_queue_build_batch_ref (tabular jobs) */
} prs_queue_builder;

int prs_queue_build_begin(prs_queue *q, prs_queue_builder *b);
int prs_queue_build_item(prs_queue_builder *b, const void *rec, size_t size_bytes);
/* Closes a batch over the items added since the previous batch. */
int prs_queue_build_batch(prs_queue_builder *b, uint64_t first_item, uint32_t count);
/* Tabular jobs: a batch whose records live in an input file. item_id is ONE item record
 * (a prs_tab_ref, encoded below) describing the byte range; the batch counts `records`
 * items (its item_count), so counters and thresholds see records, not queue records. */
int prs_queue_build_batch_ref(prs_queue_builder *b, uint64_t item_id, uint32_t records);
int prs_queue_build_meta(prs_queue_builder *b, const char *key, const void *val, size_t len);
int prs_queue_build_end(prs_queue_builder *b);
void prs_queue_build_abort(prs_queue_builder *b);

/* One commit: batch records, counters and extra meta values together, or none of them. */
int prs_queue_commit(prs_queue *q, const prs_batch_update *updates, size_t count,
                     const prs_queue_counts *counts, const char *meta_key, const void *meta_val,
                     size_t meta_len);
int prs_queue_counts_get(prs_queue *q, prs_queue_counts *counts);

/* Readers: one per thread. Views returned stay valid until the next end/begin. */
int prs_queue_reader_open(prs_queue *q, prs_queue_reader **out);
void prs_queue_reader_close(prs_queue_reader *r);
int prs_queue_reader_begin(prs_queue_reader *r);
void prs_queue_reader_end(prs_queue_reader *r);

/* Reads up to cap pending batches with id >= *cursor; advances *cursor past the last
 * batch looked at. Returns how many were found (0: none left) or a negative error. */
int prs_queue_reader_pending(prs_queue_reader *r, uint64_t *cursor, uint64_t *ids,
                             prs_batch_rec *recs, size_t cap);
int prs_queue_reader_batch(prs_queue_reader *r, uint64_t batch_id, prs_batch_rec *rec);
/* One batch record in a read transaction of its own (begin, batch, end): for a reader
 * that holds no transaction. The errors of begin and batch (-ENOENT: no such batch). */
int prs_queue_reader_get(prs_queue_reader *r, uint64_t batch_id, prs_batch_rec *rec);
/* Zero-copy view of item records [first, first+count): views[i]/sizes[i]. */
int prs_queue_reader_items(prs_queue_reader *r, uint64_t first, uint32_t count, const void **views,
                           size_t *sizes);

/* A tabular batch's item record: which bytes of which file, and where its first record
 * starts. Encoded as a fixed little header (magic, version, sizes) then the path and its
 * NUL; decoding validates every field against the record's size. A files job's item
 * record is a bare path: the job's input format (in its config) says which one to read. */
#define PRS_TAB_REF_MAGIC 0x31425450u      /* "PTB1" */
#define PRS_TAB_REF_KEYS_MAGIC 0x32425450u /* "PTB2": the same, then a key block */
typedef struct prs_tab_ref {
    uint64_t offset;        /* first byte of the batch's first record */
    uint64_t length;        /* bytes up to the end of its last record, terminator included */
    uint64_t first_line;    /* physical line of the first record */
    uint64_t header_offset; /* csv/tsv header row; header_size 0 when none */
    uint32_t header_size;
    uint32_t records; /* records in the range (malformed ones included) */
    const char *path; /* NUL-terminated; relative to the input root, or absolute */
    /* --partition-keys: the batch is one partition; its key values, each NUL-terminated,
     * one after another (key_values_len bytes); bit i of keys_missing: key i has none.
     * key_count 0: not partitioned (the record then has no key block). */
    uint32_t key_count;
    uint32_t keys_missing;
    const char *key_values;
    uint32_t key_values_len;
} prs_tab_ref;
/* Writes the record into buf (cap bytes); *len its size. -ENAMETOOLONG when it does not
 * fit (or exceeds PRS_QUEUE_MAX_ITEM_BYTES). */
int prs_queue_tab_encode(const prs_tab_ref *ref, void *buf, size_t cap, size_t *len);
/* -EBADMSG unless val holds a well-formed record; ref->path then points into val. */
int prs_queue_tab_decode(const void *val, size_t len, prs_tab_ref *ref);

/* Calls fn for each batch in state (PRS_QUEUE_ANY_STATE: all), ids ascending, up to
 * limit. For reports only. */
#define PRS_QUEUE_ANY_STATE UINT32_MAX
int prs_queue_scan_batches(prs_queue *q, uint32_t state, size_t limit,
                           void (*fn)(void *arg, uint64_t id, const prs_batch_rec *rec), void *arg);

#endif
