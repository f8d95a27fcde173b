/* sidedb.h -- side tables: lookup tables loaded once into their own LMDB environment and
 * read zero-copy by every worker.
 *
 * Owns: OUT/.prs/side/data.mdb (an environment apart from the queue's: loading a big
 *   table never competes with the queue's commits, and --fresh drops both). One
 *   sub-database per table, "t:NAME", holding four values:
 *     "meta"    side_meta: the source file's identity (size, mtime, XXH3 content hash),
 *               the spec (format, key column) and the load's counts
 *     "header"  the header row (csv/tsv), empty for jsonl
 *     "i.N"     the hash index (XXH3-64 of the key, linear probing, load <= 0.75, any
 *               size: fastrange), 2^20 64-byte buckets per value (64 MiB, committed one by
 *               one: an LMDB write transaction holds at most 512 MiB of dirty pages). A
 *               bucket is [u32 tag][u16 key_len][u16 row_len][key][row] when key and row
 *               fit in 56 bytes, else [u32 tag][0xffff][0][u64 location + 1]
 *     "r.N"     the records too big for a bucket, [u32 key_len][u32 row_len][key][row],
 *               back to back in values of about 64 MiB; location = N << 28 | offset
 *   Big values are contiguous overflow pages of the LMDB map (buckets are cache-line
 *   aligned in them), so a lookup of a small record is a hash and one cache line; a big
 *   one adds the record's line. No B-tree descent, no copy, and every worker reads the
 *   same pages of the page cache.
 * May call: LMDB, libxxhash, libc. Knows nothing of the runtime.
 * Callers must: call prs_sidedb_ensure from one thread before any reader opens (tables
 *   are read-only afterwards); give each thread its own prs_sidedb_reader and bracket its
 *   reads with begin/end. Views returned by get are valid until end.
 *
 * Policies (README "Side inputs and tables"): the first row of a key wins, later ones are
 * counted as duplicates; rows whose key is empty are skipped and counted; blank lines are
 * ignored; a key column that is missing (from the header, or from a jsonl row) is an
 * error naming the file (and line) and the column; a record may be up to ~500 MiB (what
 * one LMDB write transaction holds); a table up to 4096 index values (~3.2G rows). */
#ifndef PRS_SIDEDB_H
#define PRS_SIDEDB_H

#include "base.h"

enum prs_side_format { PRS_SIDE_CSV = 0, PRS_SIDE_TSV, PRS_SIDE_JSONL };

#define PRS_SIDE_NAME_MAX 64u /* table and side-input names, bytes */
#define PRS_SIDE_KEY_MAX 255u /* key column names, bytes */

typedef struct prs_sidedb_spec {
    const char *name; /* [A-Za-z0-9_.-]{1,64} */
    const char *path;
    const char *key; /* key column name, or NULL: the first column (jsonl: first field) */
    enum prs_side_format format;
} prs_sidedb_spec;

typedef struct prs_sidedb_load_info {
    bool reused; /* an earlier load of the same file content was kept */
    uint64_t rows, duplicates, empty_keys, stored_bytes;
    uint64_t load_ns;
} prs_sidedb_load_info;

typedef struct prs_sidedb prs_sidedb;
typedef struct prs_sidedb_reader prs_sidedb_reader;

/* Opens (creating) the environment in dir, which must exist. */
int prs_sidedb_open(prs_sidedb **out, const char *dir, uint32_t max_tables, char *err,
                    size_t err_size);
void prs_sidedb_close(prs_sidedb *db);

/* Loads the table, or keeps an earlier load whose file has the same size and content
 * hash (a touched mtime alone is not a change). Returns 0; -ESTALE: the table was loaded
 * from different content (err says what differs: the caller refuses, a resumed job must
 * not mix tables); -EINVAL: bad content or a missing key column (err names file, line,
 * column); -ENOENT/-EACCES...: the file cannot be read; -EFBIG: a record more than one
 * LMDB write transaction holds (~500 MiB), or too many rows or chunks. */
int prs_sidedb_ensure(prs_sidedb *db, const prs_sidedb_spec *spec, prs_sidedb_load_info *info,
                      char *err, size_t err_size);

/* Tables known to readers: those ensured on this handle, in ensure order. */
uint32_t prs_sidedb_table_count(const prs_sidedb *db);
const char *prs_sidedb_table_name(const prs_sidedb *db, uint32_t table);

int prs_sidedb_reader_open(prs_sidedb *db, prs_sidedb_reader **out);
void prs_sidedb_reader_close(prs_sidedb_reader *r);
/* Starts a read snapshot (renews the MDB_RDONLY transaction) if none is active. */
int prs_sidedb_reader_begin(prs_sidedb_reader *r);
/* Ends it: every view handed out is invalid afterwards. */
void prs_sidedb_reader_end(prs_sidedb_reader *r);
bool prs_sidedb_reader_active(const prs_sidedb_reader *r);

/* The table's index for name, or -EINVAL. */
int prs_sidedb_find(const prs_sidedb_reader *r, const char *name);
/* Lookups need an active reader. 0 with a view of the row; -ENOENT: no such key. */
int prs_sidedb_get(const prs_sidedb_reader *r, uint32_t table, const void *key, size_t key_len,
                   const void **value, size_t *value_len);
/* n lookups at once: the index and the records are prefetched ahead of the compares, so
 * the cache misses overlap. found[i] = 0 or -ENOENT. Returns how many were found. */
size_t prs_sidedb_get_many(const prs_sidedb_reader *r, uint32_t table, size_t n,
                           const void *const *keys, const size_t *key_lens, const void **values,
                           size_t *value_lens, int *found);
int prs_sidedb_header(const prs_sidedb_reader *r, uint32_t table, const void **header,
                      size_t *header_len);

#endif
