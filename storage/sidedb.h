/* sidedb.h -- side tables: lookup tables loaded once into their own LMDB environment and
 * read zero-copy by every worker.
 *
 * Owns: OUT/.prs/side/data.mdb (an environment apart from the queue's: loading a big
 *   table never competes with the queue's commits, and --fresh drops both). One
 *   sub-database per table, "t:NAME", holding four kinds of values:
 *     "meta"    side_meta: the source's identity (size, mtime, XXH3 content hash, the
 *               caller's format code and key column name) and the load's counts
 *     "header"  the header row the caller gave (csv/tsv), empty for jsonl
 *     "i.N"     the hash index (XXH3-64 of the key, linear probing, load <= 0.75, any
 *               size: fastrange), 2^20 64-byte buckets per value (64 MiB, committed one by
 *               one: an LMDB write transaction holds at most 512 MiB of dirty pages). A
 *               bucket is [u32 tag][u16 key_len][u16 row_len][key][row] when key and row
 *               fit in 56 bytes, else [u32 tag][0xffff][0][u64 location + 1]
 *     "r.N"     the records too big for a bucket, [u32 key_len][u32 row_len][key][row],
 *               back to back in values of about 64 MiB; location = N << 28 | offset
 *   All integers little-endian (core/base/le.h). Big values are contiguous overflow pages
 *   of the LMDB map (buckets are cache-line aligned in them), so a lookup of a small
 *   record is a hash and one cache line; a big one adds the record's line. No B-tree
 *   descent, no copy, and every worker reads the same pages of the page cache.
 * May call: LMDB, libxxhash, libc, core/base. Knows nothing of the runtime, and parses no
 *   input format: its callers (core/side) read the file and hand it (key, row) pairs.
 * Callers must: load (prs_sidedb_load_*) from one thread, before any reader opens; tables
 *   are read-only afterwards. Give each thread its own prs_sidedb_reader and bracket its
 *   reads with begin/end. Views returned by get are valid until end.
 *
 * Policies (README "Side inputs and tables"): the first row of a key wins, later ones are
 * counted as duplicates; rows whose key is empty are skipped and counted; a record (key
 * and row) may be up to ~500 MiB (what one LMDB write transaction holds); a table up to
 * 4096 index values (~3.2G rows) and the 256 GiB map.
 *
 * Errors (every function below returns 0 or one of these, each with this meaning):
 *   -EINVAL   the caller broke a limit it could have checked (name too long, too many
 *             tables, max_tables too big)
 *   -ENOMEM   out of memory
 *   -EFBIG    too big: a record more than one write transaction holds, more than ~3.2G
 *             rows or 4096 record values, or the map is full (MDB_MAP_FULL; mdb_err.h)
 *   -ESTALE   prs_sidedb_load_begin: the table was loaded from a different source
 *   -EBADMSG  the environment's bytes are damaged (LMDB says so, or a check here finds a
 *             value whose size or contents no load writes: reported with PRS_CORRUPT)
 *   -ENOENT   prs_sidedb_get: no such key
 *   other negative errnos: the system call LMDB made failed (-ENOSPC: the disk is full,
 *             -EACCES, -EIO...). */
#ifndef PRS_SIDEDB_H
#define PRS_SIDEDB_H

#include "base.h"

#define PRS_SIDEDB_NAME_MAX 64u /* table names, bytes */
#define PRS_SIDEDB_KEY_MAX 255u /* key column names, bytes */
#define PRS_SIDEDB_REUSED 1     /* prs_sidedb_load_begin: an earlier load is kept */
#define PRS_SIDEDB_MAX_RECORD_BYTES (UINT32_MAX - 16u) /* key or row */

/* What a table is loaded from: a load is kept (reused) only for an equal source. */
typedef struct prs_sidedb_source {
    uint64_t size_bytes;
    int64_t mtime_ns;      /* stored, not compared: a touched mtime alone is no change */
    uint64_t content_hash; /* XXH3-64 of the file's bytes */
    uint32_t format;       /* the caller's code for the file's format, compared only */
    const char *key;       /* the key column's name, or NULL: the first column */
} prs_sidedb_source;

/* What an earlier load was made from, when it differs (-ESTALE). */
typedef struct prs_sidedb_stale {
    uint64_t size_bytes;
    uint64_t content_hash;
    bool spec_differs; /* format or key column differ (not only the content) */
} prs_sidedb_stale;

typedef struct prs_sidedb_load_info {
    bool reused; /* an earlier load of the same source was kept */
    uint64_t rows, duplicates, empty_keys, stored_bytes;
    uint64_t load_ns; /* left to the caller: it knows what the load included */
} prs_sidedb_load_info;

typedef struct prs_sidedb prs_sidedb;
typedef struct prs_sidedb_load prs_sidedb_load;
typedef struct prs_sidedb_reader prs_sidedb_reader;

/* Opens (creating) the environment in dir, which must exist, for up to max_tables tables
 * (at most 64: -EINVAL). err gets a message naming dir/data.mdb. Any thread; the handle
 * is shared by every reader and closed after all of them. */
int prs_sidedb_open(prs_sidedb **out, const char *dir, uint32_t max_tables, char *err,
                    size_t err_size);
/* Frees the handle. Every reader must be closed and no load open. NULL is fine. */
void prs_sidedb_close(prs_sidedb *db);

/* ---- loading: one thread, before any reader opens --------------------------------------- */

/* Starts loading table `name` (1..PRS_SIDEDB_NAME_MAX bytes) from src, in a write
 * transaction the load keeps until finish or abort. Returns
 *   0: a new load (any earlier partial one dropped); *out feeds it: add the rows, the
 *      header, then finish (or abort);
 *   PRS_SIDEDB_REUSED: an earlier load of an equal source (format, key, size, content
 *      hash) is kept; the table is registered, info filled, *out NULL;
 *   -ESTALE: the table was loaded from a different source: *stale says what it was
 *      (the caller refuses: a resumed job must not mix two tables); nothing changed;
 *   -EINVAL (name or key too long, the 64 tables registered), or an LMDB error. */
int prs_sidedb_load_begin(prs_sidedb *db, const char *name, const prs_sidedb_source *src,
                          prs_sidedb_load **out, prs_sidedb_load_info *info,
                          prs_sidedb_stale *stale);
/* One row, in file order. key is copied (any lifetime); row is NOT: its bytes must stay
 * valid and unchanged until finish or abort returns (prs maps the file). An empty key is
 * counted and skipped; a key seen before is counted as a duplicate at finish (the first
 * row wins). 0, -EFBIG (key or row over PRS_SIDEDB_MAX_RECORD_BYTES, or ~4G rows),
 * -ENOMEM. */
int prs_sidedb_load_add(prs_sidedb_load *l, const void *key, size_t key_len, const void *row,
                        size_t row_len);
/* The table's header row (csv/tsv; jsonl has none: do not call, or give 0 bytes). Not
 * copied until finish: valid as row's bytes are. Once per load, before finish. */
void prs_sidedb_load_header(prs_sidedb_load *l, const void *header, size_t header_len);
/* Deduplicates, writes the index and the records (committing every ~64 MiB, "meta"
 * last: a load cut short is redone), commits, registers the table and fills info. Frees
 * the load whatever it returns. 0, -EFBIG, -ENOMEM, or an LMDB error (the disk...). */
int prs_sidedb_load_finish(prs_sidedb_load *l, prs_sidedb_load_info *info);
/* Drops the load (its transaction aborted; values already committed are dropped and
 * redone by the next load, which finds no "meta"). NULL is fine. */
void prs_sidedb_load_abort(prs_sidedb_load *l);

/* Tables known to readers: those loaded or kept on this handle, in that order. Any
 * thread once loading is over. table must be < the count (asserted). */
uint32_t prs_sidedb_table_count(const prs_sidedb *db);
const char *prs_sidedb_table_name(const prs_sidedb *db, uint32_t table);

/* ---- reading: a reader per thread ------------------------------------------------------- */

/* 0, -ENOMEM, or an LMDB error (-EIO when the 1024 reader slots are taken). */
int prs_sidedb_reader_open(prs_sidedb *db, prs_sidedb_reader **out);
/* Ends any snapshot and frees the reader. NULL is fine. */
void prs_sidedb_reader_close(prs_sidedb_reader *r);
/* Starts a read snapshot (renews the MDB_RDONLY transaction) if none is active and maps
 * every table's values, checking each one's size against its meta: 0 (also when one was
 * active), -ENOMEM, -EBADMSG (a damaged value, reported with PRS_CORRUPT; no snapshot is
 * left active), or an LMDB error. */
int prs_sidedb_reader_begin(prs_sidedb_reader *r);
/* Ends it: every view handed out is invalid afterwards. Fine when none is active. */
void prs_sidedb_reader_end(prs_sidedb_reader *r);
bool prs_sidedb_reader_active(const prs_sidedb_reader *r);

/* The table's index for name, or -EINVAL when there is no such table. No snapshot
 * needed. */
int prs_sidedb_find(const prs_sidedb_reader *r, const char *name);
/* Lookups need an active reader and a table below the count (both asserted: the caller's
 * invariants). 0 with a view of the row; -ENOENT: no such key; -EBADMSG: the bucket or
 * record the key leads to is damaged (reported with PRS_CORRUPT). */
int prs_sidedb_get(const prs_sidedb_reader *r, uint32_t table, const void *key, size_t key_len,
                   const void **value, size_t *value_len);
/* n lookups at once: the index and the records are prefetched ahead of the compares, so
 * the cache misses overlap. found[i] = 0, -ENOENT or -EBADMSG, as get. Returns how many
 * were found. */
size_t prs_sidedb_get_many(const prs_sidedb_reader *r, uint32_t table, size_t n,
                           const void *const *keys, const size_t *key_lens, const void **values,
                           size_t *value_lens, int *found);
/* The header row the load was given (a view like get's; 0 bytes for jsonl). Always 0;
 * needs an active reader. */
int prs_sidedb_header(const prs_sidedb_reader *r, uint32_t table, const void **header,
                      size_t *header_len);

#endif
