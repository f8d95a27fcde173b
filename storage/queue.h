/* queue.h -- the durable mini-batch queue and job metadata, in one LMDB environment.
 *
 * Owns: OUT/.prs/data.mdb with sub-databases
 *   "meta"    small named values (config text, counters, first error)
 *   "items"   item id (u64) -> item record (files: the relative path with its NUL)
 *   "batches" batch id (u64) -> prs_batch_rec
 *   "held"    batch id (u64) -> its rows (--keep-order): a batch finished before an older
 *             one, whose rows wait here until every older batch is written (see
 *             core/reorder.h); a batch is held or written, never both
 * May call: LMDB, libc, core/base (counts.h, le.h, mdb_err.h). Knows nothing of io/ or the
 *   runtime.
 * Callers must: make every write (builder, commit, grow) from ONE thread (the
 *   coordinator, or the job creator before workers start). Readers on any thread use a
 *   prs_queue_reader each (an MDB_NOTLS read transaction that is reset/renewed around
 *   each use). A prs_queue is shared by every thread of the process; close it last.
 *
 * Errors (every function below returns 0, a count where it says so, or one of these,
 * each with this meaning):
 *   PRS_QUEUE_EMAPFULL (-EFBIG)  the map is full; the write did not happen (below)
 *   -ENOENT    no such key or batch (meta_get, reader_batch), or no job (open_readonly)
 *   -EBADMSG   bytes read back that no run of prs writes: a damaged state file (reported
 *              with PRS_CORRUPT naming data.mdb), or LMDB says the file is damaged
 *   -EINVAL    the caller's bug refused before anything was written (a record the
 *              decoders would refuse; decoders: a malformed record)
 *   -ENOMEM    out of memory
 *   -ENOBUFS / -ENAMETOOLONG  a value does not fit the caller's buffer / the item limit
 *   other negative errnos: a system call LMDB made failed (-ENOSPC, -EDQUOT: the disk is
 *              full; -EACCES; -EIO: also LMDB limits such as MDB_READERS_FULL).
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

/* Encoders cannot fail; decoders return 0 or -EINVAL (the record is left unwritten). */
void prs_queue_batch_encode(const prs_batch_rec *rec, uint8_t out[PRS_QUEUE_BATCH_BYTES]);
int prs_queue_batch_decode(const void *buf, size_t len, prs_batch_rec *rec);
void prs_queue_counts_encode(const prs_queue_counts *c, uint8_t out[PRS_QUEUE_COUNTS_BYTES]);
int prs_queue_counts_decode(const void *buf, size_t len, prs_queue_counts *c);
/* name_len bytes of name (no NUL among them) -> buf; *len_bytes = name_len + 1. -EINVAL for
 * an empty name or one holding a NUL, -ENAMETOOLONG past PRS_QUEUE_MAX_ITEM_BYTES,
 * -ENOBUFS when it does not fit cap. */
int prs_queue_item_encode(const char *name, size_t name_len, void *buf, size_t cap,
                          size_t *len_bytes);
/* Zero-copy: *name points into buf (NUL-terminated there). 0; -EINVAL unless buf is a
 * name and one NUL at its end. */
int prs_queue_item_decode(const void *buf, size_t len, const char **name, size_t *name_len);

typedef struct prs_batch_update {
    uint64_t batch_id;
    prs_batch_rec rec;
} prs_batch_update;

typedef struct prs_queue prs_queue;
typedef struct prs_queue_reader prs_queue_reader;

/* Any call that writes may return this: LMDB's map is full (MDB_MAP_FULL, mapped to
 * -EFBIG by core/base/mdb_err.h, as for every environment). The write did not happen.
 * prs_queue_grow with no transaction open in this process, or closing and reopening
 * (which opens a map twice the file's size), makes room. */
#define PRS_QUEUE_EMAPFULL (-EFBIG)

#define PRS_QUEUE_MAX_ITEM_BYTES 4096u /* a path or a tabular item reference */

/* Opens (creating if needed) the environment in dir, which must exist, with the map
 * size of queue_map_bytes (PRS_QUEUE_MAP_BYTES, or twice a file past half of it). The
 * caller owns *out until prs_queue_close. err gets a message naming dir/data.mdb. 0,
 * -ENOMEM, -EBADMSG (not an LMDB file of this version), or open's errno (-ENOENT: no
 * dir; -EACCES; -EAGAIN: the lock file is locked). */
int prs_queue_open(prs_queue **out, const char *dir, enum prs_durability durability, char *err,
                   size_t err_size);
/* The same, read-only (prs status): never writes, works beside a running job. A job
 * never created gives -ENOENT (no data.mdb, or its sub-databases were never made). */
int prs_queue_open_readonly(prs_queue **out, const char *dir, char *err, size_t err_size);
/* Closes the environment and frees q. Every reader closed and no builder open first.
 * NULL is fine. */
void prs_queue_close(prs_queue *q);
/* Doubles the map (up to 64 TiB) and says its new size in *map_bytes. The writing
 * thread, holding no transaction, reader or builder of this environment in this process
 * (LMDB's rule for mdb_env_set_mapsize). 0; -ENOSPC: already 64 TiB; an LMDB error. */
int prs_queue_grow(prs_queue *q, size_t *map_bytes);

/* Copies meta value key (< 64 KiB by convention) into buf (cap bytes), its size in *len.
 * Any thread (its own read transaction). 0; -ENOENT: no such value; -ENOBUFS: it is
 * longer than cap (nothing copied); an LMDB error. */
int prs_queue_meta_get(prs_queue *q, const char *key, void *buf, size_t cap, size_t *len);

/* True when a job was fully created in this environment (the "created" mark is set);
 * false also when it cannot be read. Any thread. */
bool prs_queue_created(prs_queue *q);

/* Job creation: one builder at a time, before any worker runs. It empties the queue first
 * (a creation interrupted by a crash is redone from scratch), then appends items and
 * batches in ascending ids (MDB_APPEND), committing every few thousand records so memory
 * stays flat, and finally marks the job created with its config text. The builder is the
 * caller's (on its stack); the fields are the builder's own: read none but the counts. */
typedef struct prs_queue_builder prs_queue_builder; /* opaque */

/* Starts a creation (the writing thread): meta, items and batches are emptied in its
 * first transaction. 0 or an LMDB error (nothing open then: no abort needed). */
/* The builder is allocated here (*out; NULL on an error) and freed by build_end (whatever
 * it returns) or build_abort: after any other build call's error, abort it. */
int prs_queue_build_begin(prs_queue *q, prs_queue_builder **out);
/* Items added so far (the id the next item gets), batches closed so far, and the records
 * counted by prs_queue_build_batch_ref (tabular jobs; 0 for a files job). */
uint64_t prs_queue_build_items(const prs_queue_builder *b);
uint64_t prs_queue_build_batches(const prs_queue_builder *b);
uint64_t prs_queue_build_records(const prs_queue_builder *b);
/* Appends item record rec (size_bytes, copied) as item next_item. 0; -ENAMETOOLONG past
 * PRS_QUEUE_MAX_ITEM_BYTES; PRS_QUEUE_EMAPFULL; an LMDB error. After an error the builder
 * may hold no transaction: call prs_queue_build_abort (and begin again to retry). */
int prs_queue_build_item(prs_queue_builder *b, const void *rec, size_t size_bytes);
/* Closes a batch over the items [first_item, first_item + count) added since the
 * previous batch (count > 0 and the items added: asserted). Errors as build_item. */
int prs_queue_build_batch(prs_queue_builder *b, uint64_t first_item, uint32_t count);
/* Tabular jobs: a batch whose records live in an input file. item_id is ONE item record
 * (a prs_tab_ref, encoded below) describing the byte range; the batch counts `records`
 * items (its item_count), so counters and thresholds see records, not queue records.
 * records > 0 and item_id added (asserted). Errors as build_item. */
int prs_queue_build_batch_ref(prs_queue_builder *b, uint64_t item_id, uint32_t records);
/* Sets meta value key (val copied) in the creation's transaction. 0,
 * PRS_QUEUE_EMAPFULL, or an LMDB error. */
int prs_queue_build_meta(prs_queue_builder *b, const char *key, const void *val, size_t len);
/* Writes the counters (batches and items added) and the "created" mark, and commits: the
 * job exists once this returns 0. On an error nothing of the last transaction is kept
 * and the builder is closed (the creation is redone by the next begin). */
int prs_queue_build_end(prs_queue_builder *b);
/* Drops the open transaction (what earlier commits wrote stays, without the "created"
 * mark: the next creation empties it). Fine twice or after end. */
void prs_queue_build_abort(prs_queue_builder *b);

/* One commit: batch records, counters and extra meta values together, or none of them
 * (the writing thread; updates, counts and meta_val are only read). meta_key NULL: no
 * extra value. 0; -EINVAL: an update or counts the decoders would refuse (nothing
 * written); PRS_QUEUE_EMAPFULL; an LMDB error (-ENOSPC, -EIO...): nothing committed. */
int prs_queue_commit(prs_queue *q, const prs_batch_update *updates, size_t count,
                     const prs_queue_counts *counts, const char *meta_key, const void *meta_val,
                     size_t meta_len);
/* --keep-order: rows to hold (len > 0; a batch without rows holds nothing) and held batches
 * to drop (their rows were written: ids without a held record are fine), in the commit. */
typedef struct prs_queue_held_put {
    uint64_t batch_id;
    const void *rows;
    size_t len;
} prs_queue_held_put;
typedef struct prs_queue_held {
    const prs_queue_held_put *puts;
    size_t put_count;
    const uint64_t *drops;
    size_t drop_count;
} prs_queue_held;
/* prs_queue_commit, and held applied in the same transaction (held NULL: none). Errors as
 * prs_queue_commit; -EINVAL also for a put without rows. */
int prs_queue_commit_held(prs_queue *q, const prs_batch_update *updates, size_t count,
                          const prs_queue_counts *counts, const char *meta_key,
                          const void *meta_val, size_t meta_len, const prs_queue_held *held);
/* How many batches hold rows now (0 for a job without the table). Any thread. 0 or an
 * LMDB error. */
int prs_queue_held_count(prs_queue *q, uint64_t *count);

/* The committed counters. Any thread. 0; -ENOENT: no job created; -EBADMSG: the record is
 * not one prs writes (reported with PRS_CORRUPT); an LMDB error. */
int prs_queue_counts_get(prs_queue *q, prs_queue_counts *counts);

/* Readers: one per thread, each the opening thread's until closed. Views returned stay
 * valid until the next end/begin of that reader. open: 0, -ENOMEM, or an LMDB error
 * (-EIO: the 1024 reader slots are taken). close: ends and frees; NULL is fine. */
int prs_queue_reader_open(prs_queue *q, prs_queue_reader **out);
void prs_queue_reader_close(prs_queue_reader *r);
/* Starts a read snapshot of what is committed now: 0 or an LMDB error. end ends it
 * (views die). begin needs an inactive reader, end an active one (both asserted). */
int prs_queue_reader_begin(prs_queue_reader *r);
void prs_queue_reader_end(prs_queue_reader *r);

/* Reads up to cap pending batches with id >= *cursor into ids/recs; advances *cursor past
 * the last batch looked at (an active reader). Returns how many were found (0: none
 * left); -EAGAIN: it looked at 64 * cap finished batches without finding cap pending
 * ones, call again from *cursor; -EBADMSG: a damaged batch record; an LMDB error. */
int prs_queue_reader_pending(prs_queue_reader *r, uint64_t *cursor, uint64_t *ids,
                             prs_batch_rec *recs, size_t cap);
/* The batch's record. 0; -ENOENT: no such batch; -EBADMSG; an LMDB error. */
int prs_queue_reader_batch(prs_queue_reader *r, uint64_t batch_id, prs_batch_rec *rec);
/* The batch's record read in a snapshot of its own (begin, batch, end): for an inactive
 * reader, left inactive. 0; -ENOENT: no such batch; -EBADMSG; an LMDB error. */
int prs_queue_reader_get(prs_queue_reader *r, uint64_t batch_id, prs_batch_rec *rec);
/* Zero-copy view of batch_id's held rows (an active reader), valid until the reader's end.
 * 0; -ENOENT: none held; -EBADMSG: an empty record (no run writes one); an LMDB error. */
int prs_queue_reader_held(prs_queue_reader *r, uint64_t batch_id, const void **rows, size_t *len);
/* The lowest batch id holding rows (an active reader). 0; -ENOENT: none; an LMDB error. */
int prs_queue_reader_held_first(prs_queue_reader *r, uint64_t *batch_id);
/* Zero-copy view of item records [first, first+count): views[i]/sizes[i], valid until
 * the reader's end. 0; -EBADMSG: an item of the range is missing (reported); an LMDB
 * error. */
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
/* Pure, any thread. Writes the record into buf (cap bytes); *len its size. 0;
 * -ENAMETOOLONG when it does not fit (or exceeds PRS_QUEUE_MAX_ITEM_BYTES). */
int prs_queue_tab_encode(const prs_tab_ref *ref, void *buf, size_t cap, size_t *len);
/* Pure, any thread. 0 with ref->path pointing into val (valid as val is); -EBADMSG
 * unless val holds a well-formed record (bytes read back from the store). */
int prs_queue_tab_decode(const void *val, size_t len, prs_tab_ref *ref);

/* Calls fn for each batch in state (PRS_QUEUE_ANY_STATE: all), ids ascending, up to
 * limit, in its own read transaction (any thread; fn must not use this queue's writer).
 * For reports only. 0; -EBADMSG: a damaged batch record (the batches before it were
 * reported to fn); an LMDB error. */
#define PRS_QUEUE_ANY_STATE UINT32_MAX
int prs_queue_scan_batches(prs_queue *q, uint32_t state, size_t limit,
                           void (*fn)(void *arg, uint64_t id, const prs_batch_rec *rec), void *arg);

#endif
