/* sidedb.c -- see sidedb.h. */
#include "sidedb.h"
#include "le.h"
#include "mdb_err.h"

#include <limits.h>
#include <lmdb.h>
#include <string.h>
/* Header-only: the hash of a short key is inlined into the lookup (no call through the
 * shared library), the same function libxxhash exports. */
#define XXH_INLINE_ALL
#include <xxhash.h>

/* Address space only: LMDB grows the file as pages are written. */
#define SIDE_MAP_BYTES (256ull << 30)
#define SIDE_MAX_READERS 1024u
#define SIDE_MAX_TABLES 64u
#define SIDE_MAGIC 0x3145444953535250ull /* "PRSSIDE1" */
#define SIDE_OFF_BITS 40u                /* record locations: 12 bits of chunk, 28 of offset */
/* A record's location in a slot: chunk << SIDE_CHUNK_BITS | offset in the chunk. */
#define SIDE_CHUNK_BITS 28u
#define SIDE_CHUNK_BYTES (64ull << 20) /* records per chunk value, about */
#define SIDE_MAX_CHUNKS (1u << (SIDE_OFF_BITS - SIDE_CHUNK_BITS))
#define SIDE_MAX_PROBES (1u << 24) /* far above any real probe run: a bound, not a limit */
/* The index is an array of 64-byte buckets, one cache line each: tag, lengths and, when
 * key and row fit in 56 bytes, the key and the row themselves, so a lookup of a small
 * record touches one line; a bigger one holds the record's location in a chunk. */
#define SIDE_BUCKET_BYTES 64u
#define SIDE_BUCKET_INLINE 56u
#define SIDE_NOT_INLINE 0xffffu
#define SIDE_IDX_CHUNK_BITS 20u /* buckets per index value: 64 MiB */
#define SIDE_IDX_CHUNK_BUCKETS (1ull << SIDE_IDX_CHUNK_BITS)
#define SIDE_MAX_IDX_CHUNKS 4096u
/* Buckets start 48 bytes into each index value: LMDB puts a big value 16 bytes into a
 * page, so they are cache-line aligned. Were they not, lookups stay right, only slower. */
#define SIDE_IDX_PAD 48u
#define SIDE_MANY_CHUNK 32u /* lookups whose cache misses overlap in get_many */
#define SIDE_MIN_BUCKETS 16u

/* Stored as it is in memory (x86-64 layout: the format since the first release, so a
 * resumed job keeps its load); every field is checked when read. */
typedef struct side_meta {
    uint64_t magic;
    uint64_t file_size;
    int64_t mtime_ns;
    uint64_t content_hash;
    uint64_t rows, duplicates, empty_keys, stored_bytes;
    uint64_t slots;
    uint64_t chunks;
    uint64_t idx_chunks;
    uint32_t format;
    uint32_t key_len;
    char key[PRS_SIDEDB_KEY_MAX + 1];
} side_meta;

typedef struct side_table {
    char name[PRS_SIDEDB_NAME_MAX + 1];
    MDB_dbi dbi;
} side_table;

struct prs_sidedb {
    MDB_env *env;
    side_table tables[SIDE_MAX_TABLES];
    uint32_t count;
    char path[PATH_MAX]; /* dir/data.mdb, for corruption messages */
};

/* One row fed to a load. */
typedef struct side_row {
    uint64_t hash; /* XXH3 of the key; once deduplicated, its bucket: pos << 32 | tag */
    union {
        const unsigned char *row; /* the caller's bytes, until written */
        uint64_t loc;             /* a big record once in its chunk: chunk << bits | off */
    } at;
    uint64_t key_off; /* in the load's key buffer */
    uint32_t row_len; /* UINT32_MAX: a duplicate, not stored */
    uint32_t key_len;
} side_row;

struct prs_sidedb_load {
    prs_sidedb *db;
    MDB_txn *txn;
    MDB_dbi dbi;
    char name[PRS_SIDEDB_NAME_MAX + 1];
    side_meta meta;
    char *keybuf;
    size_t keybuf_len, keybuf_cap;
    side_row *rows;
    size_t rows_len, rows_cap;
    const void *header;
    size_t header_len;
    uint64_t empty_keys;
};

/* What a reader caches per table for its current snapshot. */
typedef struct side_view {
    const unsigned char **buckets; /* per index chunk, bucket 0 */
    uint32_t buckets_len, buckets_cap;
    uint64_t nbuckets;
    const unsigned char **chunks; /* grown at begin, never per lookup */
    uint64_t *chunk_bytes;        /* each chunk's size: locations are checked against it */
    uint32_t chunks_len, chunks_cap;
    const void *header;
    size_t header_len;
} side_view;

struct prs_sidedb_reader {
    prs_sidedb *db;
    MDB_txn *txn;
    bool active;
    side_view views[SIDE_MAX_TABLES];
};

int prs_sidedb_open(prs_sidedb **out, const char *dir, uint32_t max_tables, char *err,
                    size_t err_size) {
    if (max_tables > SIDE_MAX_TABLES) {
        snprintf(err, err_size, "at most %u side tables", SIDE_MAX_TABLES);
        return -EINVAL;
    }
    prs_sidedb *db = calloc(1, sizeof(*db));
    if (!db) return -ENOMEM;
    snprintf(db->path, sizeof(db->path), "%s/data.mdb", dir);
    int rc = mdb_env_create(&db->env);
    if (rc) goto free_db;
    mdb_env_set_maxdbs(db->env, max_tables + 1);
    mdb_env_set_maxreaders(db->env, SIDE_MAX_READERS);
    mdb_env_set_mapsize(db->env, SIDE_MAP_BYTES);
    /* NOTLS: a worker's read transaction is its own object, not tied to a thread slot.
     * NORDAHEAD: lookups are random; readahead would only evict the hot pages. */
    rc = mdb_env_open(db->env, dir, MDB_NOTLS | MDB_NORDAHEAD, 0644);
    if (rc) goto close_env;
    *out = db;
    return 0;
close_env:
    snprintf(err, err_size, "%s: %s", db->path, mdb_strerror(rc));
    mdb_env_close(db->env);
free_db:
    free(db);
    return rc ? prs_mdb_err(rc) : -ENOMEM;
}

void prs_sidedb_close(prs_sidedb *db) {
    if (!db) return;
    mdb_env_close(db->env);
    free(db);
}

uint32_t prs_sidedb_table_count(const prs_sidedb *db) {
    return db->count;
}

const char *prs_sidedb_table_name(const prs_sidedb *db, uint32_t table) {
    PRS_ASSERT(table < db->count);
    return db->tables[table].name;
}

/* ---- hashing ------------------------------------------------------------------------------ */

static uint64_t buckets_for(uint64_t rows) {
    return PRS_MAX(SIDE_MIN_BUCKETS, rows + rows / 3); /* load 0.75: fastrange maps into any n */
}

/* hash -> [0, n) by the high half of a 128-bit product: no power of two needed. */
static inline uint64_t fastrange(uint64_t hash, uint64_t n) {
    return (uint64_t)(((unsigned __int128)hash * n) >> 64);
}

static inline uint32_t bucket_tag(uint64_t hash) {
    return (uint32_t)hash | 1u; /* the low half: independent of the position; never 0 */
}

/* ---- loading ------------------------------------------------------------------------------ */

static void table_register(prs_sidedb *db, const char *name, MDB_dbi dbi) {
    PRS_ASSERT(db->count < SIDE_MAX_TABLES);
    snprintf(db->tables[db->count].name, sizeof(db->tables[0].name), "%s", name);
    db->tables[db->count].dbi = dbi;
    db->count++;
}

static void info_from(prs_sidedb_load_info *info, const side_meta *m, bool reused) {
    *info = (prs_sidedb_load_info){.reused = reused,
                                   .rows = m->rows,
                                   .duplicates = m->duplicates,
                                   .empty_keys = m->empty_keys,
                                   .stored_bytes = m->stored_bytes};
}

/* An earlier load's meta: 1 when it is one (a complete load: meta is written last). */
static int meta_read(MDB_txn *txn, MDB_dbi dbi, side_meta *old) {
    MDB_val k = {4, "meta"}, v;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc == MDB_NOTFOUND) return 0;
    if (rc) return prs_mdb_err(rc);
    if (v.mv_size != sizeof(*old)) return 0; /* not a load this version wrote: redone */
    memcpy(old, v.mv_data, sizeof(*old));
    return old->magic == SIDE_MAGIC && old->key_len <= PRS_SIDEDB_KEY_MAX;
}

int prs_sidedb_load_begin(prs_sidedb *db, const char *name, const prs_sidedb_source *src,
                          prs_sidedb_load **out, prs_sidedb_load_info *info,
                          prs_sidedb_stale *stale) {
    *out = NULL;
    memset(info, 0, sizeof(*info));
    size_t name_len = strlen(name), key_len = src->key ? strlen(src->key) : 0;
    if (db->count >= SIDE_MAX_TABLES || name_len == 0 || name_len > PRS_SIDEDB_NAME_MAX ||
        key_len > PRS_SIDEDB_KEY_MAX)
        return -EINVAL;
    side_meta meta = {.magic = SIDE_MAGIC,
                      .file_size = src->size_bytes,
                      .mtime_ns = src->mtime_ns,
                      .content_hash = src->content_hash,
                      .format = src->format,
                      .key_len = (uint32_t)key_len};
    if (key_len) memcpy(meta.key, src->key, key_len);
    MDB_txn *txn;
    int rc = prs_mdb_err(mdb_txn_begin(db->env, NULL, 0, &txn));
    if (rc) return rc;
    char dbname[PRS_SIDEDB_NAME_MAX + 8];
    snprintf(dbname, sizeof(dbname), "t:%s", name);
    MDB_dbi dbi;
    if ((rc = prs_mdb_err(mdb_dbi_open(txn, dbname, MDB_CREATE, &dbi)))) goto abort_txn;
    side_meta old;
    if ((rc = meta_read(txn, dbi, &old)) < 0) goto abort_txn;
    if (rc == 1) {
        bool same_spec = old.format == meta.format && old.key_len == meta.key_len &&
                         memcmp(old.key, meta.key, meta.key_len) == 0;
        if (same_spec && old.file_size == meta.file_size && old.content_hash == meta.content_hash) {
            /* Committed, not aborted: an aborted transaction would close the dbi handle
             * the readers need. Nothing was written, so nothing is synced. */
            if ((rc = prs_mdb_err(mdb_txn_commit(txn)))) return rc;
            info_from(info, &old, true);
            table_register(db, name, dbi);
            return PRS_SIDEDB_REUSED;
        }
        *stale = (prs_sidedb_stale){.size_bytes = old.file_size,
                                    .content_hash = old.content_hash,
                                    .spec_differs = !same_spec};
        rc = -ESTALE;
        goto abort_txn;
    }
    /* Not loaded yet (or a load cut short: its meta, written last, is missing). */
    if ((rc = prs_mdb_err(mdb_drop(txn, dbi, 0)))) goto abort_txn;
    prs_sidedb_load *l = calloc(1, sizeof(*l));
    if (!l) {
        rc = -ENOMEM;
        goto abort_txn;
    }
    *l = (prs_sidedb_load){.db = db, .txn = txn, .dbi = dbi, .meta = meta};
    memcpy(l->name, name, name_len + 1);
    *out = l;
    return 0;
abort_txn:
    mdb_txn_abort(txn);
    return rc;
}

static int keybuf_add(prs_sidedb_load *l, const void *p, size_t n) {
    if (l->keybuf_len + n > l->keybuf_cap) {
        size_t cap = l->keybuf_cap ? l->keybuf_cap : 65536;
        while (cap < l->keybuf_len + n)
            cap *= 2;
        char *b = realloc(l->keybuf, cap);
        if (!b) return -ENOMEM;
        l->keybuf = b;
        l->keybuf_cap = cap;
    }
    memcpy(l->keybuf + l->keybuf_len, p, n);
    l->keybuf_len += n;
    return 0;
}

int prs_sidedb_load_add(prs_sidedb_load *l, const void *key, size_t key_len, const void *row,
                        size_t row_len) {
    if (key_len > PRS_SIDEDB_MAX_RECORD_BYTES || row_len > PRS_SIDEDB_MAX_RECORD_BYTES)
        return -EFBIG;
    if (key_len == 0) {
        l->empty_keys++;
        return 0;
    }
    if (l->rows_len >= UINT32_MAX - 1) return -EFBIG; /* row numbers are 32 bits in dedup */
    if (l->rows_len == l->rows_cap) {
        size_t cap = l->rows_cap ? l->rows_cap * 2 : 4096;
        side_row *r = realloc(l->rows, cap * sizeof(*r));
        if (!r) return -ENOMEM;
        l->rows = r;
        l->rows_cap = cap;
    }
    side_row r = {.hash = XXH3_64bits(key, key_len),
                  .at.row = row,
                  .key_off = l->keybuf_len,
                  .row_len = (uint32_t)row_len,
                  .key_len = (uint32_t)key_len};
    int rc = keybuf_add(l, key, key_len);
    if (rc) return rc;
    l->rows[l->rows_len++] = r;
    return 0;
}

void prs_sidedb_load_header(prs_sidedb_load *l, const void *header, size_t header_len) {
    l->header = header;
    l->header_len = header_len;
}

static const char *row_key(const prs_sidedb_load *l, const side_row *r) {
    return l->keybuf + r->key_off;
}

static int side_put(MDB_txn *txn, MDB_dbi dbi, const char *key, size_t size, void **data) {
    MDB_val k = {strlen(key), (void *)(uintptr_t)key}, v = {size, NULL};
    int rc = mdb_put(txn, dbi, &k, &v, MDB_RESERVE);
    if (rc == 0) *data = v.mv_data;
    return prs_mdb_err(rc);
}

/* Commits what was written and starts the next write transaction: LMDB keeps a write
 * transaction's dirty pages in memory (at most 512 MiB of them), so a big table is
 * committed chunk by chunk. A load cut short has no "meta" and is dropped and redone. */
static int side_step(prs_sidedb_load *l) {
    int rc = mdb_txn_commit(l->txn);
    l->txn = NULL;
    if (rc) return prs_mdb_err(rc);
    return prs_mdb_err(mdb_txn_begin(l->db->env, NULL, 0, &l->txn));
}

/* A big value: -EIO from LMDB here is MDB_TXN_FULL or MDB_BAD_VALSIZE (more than one
 * transaction or one value holds), which for a table means too big. */
static int side_reserve(MDB_txn *txn, MDB_dbi dbi, const char *key, size_t size, void **data) {
    int rc = side_put(txn, dbi, key, size, data);
    return rc == -EIO ? -EFBIG : rc;
}

static bool row_inline(const side_row *r) {
    return (uint64_t)r->key_len + r->row_len <= SIDE_BUCKET_INLINE;
}

/* Dedup, in memory: tag << 32 | row number + 1 in each bucket's place (the tag spares
 * reading the other row on a collision). Afterwards a kept row's hash field holds its
 * bucket, pos << 32 | tag, and a duplicate's row_len is UINT32_MAX. */
static int side_dedup(prs_sidedb_load *l, uint64_t nb, uint64_t *dups, uint64_t *stored,
                      uint64_t *kept) {
    uint64_t *tmp = calloc((size_t)nb, 8);
    if (!tmp) return -ENOMEM;
    for (size_t i = 0; i < l->rows_len; i++) {
        side_row *r = &l->rows[i];
        const char *key = row_key(l, r);
        uint64_t pos = fastrange(r->hash, nb);
        uint32_t tag = bucket_tag(r->hash);
        bool dup = false;
        for (uint64_t probe = 0;; probe++) {
            PRS_ASSERT(probe < nb); /* load <= 0.75: a free bucket exists */
            uint64_t s = tmp[pos];
            if (s == 0) break;
            if ((uint32_t)(s >> 32) == tag) {
                const side_row *o = &l->rows[(uint32_t)s - 1];
                if (o->key_len == r->key_len && memcmp(row_key(l, o), key, r->key_len) == 0) {
                    dup = true;
                    break;
                }
            }
            if (++pos == nb) pos = 0;
        }
        if (dup) {
            (*dups)++;
            r->row_len = UINT32_MAX;
            continue;
        }
        tmp[pos] = (uint64_t)tag << 32 | (uint64_t)(i + 1);
        r->hash = pos << 32 | tag;
        (*kept)++;
        *stored += row_inline(r) ? 0 : 8 + (uint64_t)r->key_len + r->row_len;
    }
    free(tmp);
    return 0;
}

/* Records too big for a bucket, in file order, in chunks of about SIDE_CHUNK_BYTES (a
 * bigger record gets a chunk of its own); each one's location replaces its row pointer. */
static int side_store_records(prs_sidedb_load *l, uint32_t *chunks) {
    uint32_t chunk = 0;
    for (size_t i = 0; i < l->rows_len;) {
        uint64_t size = 0;
        size_t j = i;
        for (; j < l->rows_len; j++) {
            const side_row *r = &l->rows[j];
            if (r->row_len == UINT32_MAX || row_inline(r)) continue;
            uint64_t rec = 8 + (uint64_t)r->key_len + r->row_len;
            if (size && size + rec > SIDE_CHUNK_BYTES) break;
            size += rec;
        }
        if (size == 0) break; /* only inline rows or duplicates were left */
        if (chunk >= SIDE_MAX_CHUNKS) return -EFBIG;
        char name[32];
        snprintf(name, sizeof(name), "r.%u", chunk);
        unsigned char *rows = NULL;
        int rc = side_reserve(l->txn, l->dbi, name, (size_t)size, (void **)&rows);
        if (rc) return rc;
        uint64_t off = 0;
        for (; i < j; i++) {
            side_row *r = &l->rows[i];
            if (r->row_len == UINT32_MAX || row_inline(r)) continue;
            prs_le32_put(rows + off, r->key_len);
            prs_le32_put(rows + off + 4, r->row_len);
            memcpy(rows + off + 8, row_key(l, r), r->key_len);
            memcpy(rows + off + 8 + r->key_len, r->at.row, r->row_len);
            r->at.loc = (uint64_t)chunk << SIDE_CHUNK_BITS | off;
            off += 8 + (uint64_t)r->key_len + r->row_len;
        }
        chunk++;
        if ((rc = side_step(l))) return rc;
    }
    *chunks = chunk;
    return 0;
}

static void bucket_fill(const prs_sidedb_load *l, const side_row *r, unsigned char *bk) {
    prs_le32_put(bk, (uint32_t)r->hash);
    if (row_inline(r)) {
        prs_le16_put(bk + 4, (uint16_t)r->key_len);
        prs_le16_put(bk + 6, (uint16_t)r->row_len);
        memcpy(bk + 8, row_key(l, r), r->key_len);
        memcpy(bk + 8 + r->key_len, r->at.row, r->row_len);
    } else {
        prs_le16_put(bk + 4, SIDE_NOT_INLINE);
        prs_le16_put(bk + 6, 0);
        prs_le64_put(bk + 8, r->at.loc + 1);
    }
}

/* The buckets, one index value per SIDE_IDX_CHUNK_BUCKETS, each committed on its own.
 * Rows are grouped by index value (a counting sort), and each group written in file
 * order: the file and the rows are read nearly in sequence, only the bucket stores are
 * random (and stores do not stall like loads). */
static int side_store_index(prs_sidedb_load *l, uint64_t nb, uint64_t kept, uint32_t *idx) {
    uint64_t nchunks = (nb + SIDE_IDX_CHUNK_BUCKETS - 1) / SIDE_IDX_CHUNK_BUCKETS;
    uint64_t *start = calloc((size_t)nchunks + 1, 8);
    uint32_t *order = malloc((size_t)PRS_MAX(kept, 1u) * 4);
    uint64_t *fill = calloc((size_t)nchunks, 8); /* the fill cursor of each group */
    int rc = 0;
    if (!start || !order || !fill) {
        rc = -ENOMEM;
        goto free_arrays;
    }
    for (size_t i = 0; i < l->rows_len; i++) {
        if (l->rows[i].row_len != UINT32_MAX)
            start[(l->rows[i].hash >> 32 >> SIDE_IDX_CHUNK_BITS) + 1]++;
    }
    for (uint64_t c = 0; c < nchunks; c++) {
        start[c + 1] += start[c];
        fill[c] = start[c];
    }
    for (size_t i = 0; i < l->rows_len; i++) {
        if (l->rows[i].row_len != UINT32_MAX)
            order[fill[l->rows[i].hash >> 32 >> SIDE_IDX_CHUNK_BITS]++] = (uint32_t)i;
    }
    uint32_t c = 0;
    for (uint64_t first = 0; first < nb; first += SIDE_IDX_CHUNK_BUCKETS, c++) {
        uint64_t count = PRS_MIN(nb - first, SIDE_IDX_CHUNK_BUCKETS);
        char name[32];
        snprintf(name, sizeof(name), "i.%u", c);
        unsigned char *val = NULL;
        size_t bytes = (size_t)(SIDE_IDX_PAD + count * SIDE_BUCKET_BYTES);
        if ((rc = side_reserve(l->txn, l->dbi, name, bytes, (void **)&val))) goto free_arrays;
        memset(val, 0, bytes);
        for (uint64_t k = start[c]; k < start[c + 1]; k++) {
            const side_row *r = &l->rows[order[k]];
            uint64_t pos = r->hash >> 32;
            PRS_ASSERT(pos >= first && pos < first + count);
            bucket_fill(l, r, val + SIDE_IDX_PAD + (pos - first) * SIDE_BUCKET_BYTES);
        }
        if ((rc = side_step(l))) goto free_arrays;
    }
    *idx = c;
free_arrays:
    free(fill);
    free(order);
    free(start);
    return rc;
}

/* Writes the table: record chunks and index chunks reserved in LMDB's own pages (each
 * filled before the next put: a reserved pointer is valid only until then), meta last. */
static int side_store(prs_sidedb_load *l) {
    uint64_t nb = buckets_for(l->rows_len);
    if (nb > SIDE_MAX_IDX_CHUNKS * SIDE_IDX_CHUNK_BUCKETS) return -EFBIG;
    uint64_t dups = 0, stored = 0, kept = 0;
    uint32_t chunks = 0, idx_chunks = 0;
    int rc = side_dedup(l, nb, &dups, &stored, &kept);
    if (rc == 0) rc = side_store_records(l, &chunks);
    if (rc == 0) rc = side_store_index(l, nb, kept, &idx_chunks);
    if (rc) return rc;
    void *header;
    if ((rc = side_reserve(l->txn, l->dbi, "header", l->header_len, &header))) return rc;
    if (l->header_len) memcpy(header, l->header, l->header_len);
    side_meta *meta = &l->meta;
    meta->rows = l->rows_len - dups;
    meta->duplicates = dups;
    meta->empty_keys = l->empty_keys;
    meta->stored_bytes = stored + nb * SIDE_BUCKET_BYTES;
    meta->slots = nb;
    meta->chunks = chunks;
    meta->idx_chunks = idx_chunks;
    void *m;
    if ((rc = side_put(l->txn, l->dbi, "meta", sizeof(*meta), &m))) return rc;
    memcpy(m, meta, sizeof(*meta));
    return 0;
}

int prs_sidedb_load_finish(prs_sidedb_load *l, prs_sidedb_load_info *info) {
    int rc = side_store(l);
    if (rc == 0) {
        rc = prs_mdb_err(mdb_txn_commit(l->txn));
        l->txn = NULL;
    }
    if (rc == 0) {
        info_from(info, &l->meta, false);
        table_register(l->db, l->name, l->dbi);
    }
    prs_sidedb_load_abort(l);
    return rc;
}

void prs_sidedb_load_abort(prs_sidedb_load *l) {
    if (!l) return;
    if (l->txn) mdb_txn_abort(l->txn);
    free(l->rows);
    free(l->keybuf);
    free(l);
}

/* ---- reading ------------------------------------------------------------------------------ */

int prs_sidedb_reader_open(prs_sidedb *db, prs_sidedb_reader **out) {
    prs_sidedb_reader *r = calloc(1, sizeof(*r));
    if (!r) return -ENOMEM;
    r->db = db;
    int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &r->txn);
    if (rc) {
        free(r);
        return prs_mdb_err(rc);
    }
    mdb_txn_reset(r->txn); /* renewed by begin */
    *out = r;
    return 0;
}

void prs_sidedb_reader_close(prs_sidedb_reader *r) {
    if (!r) return;
    mdb_txn_abort(r->txn);
    for (uint32_t t = 0; t < SIDE_MAX_TABLES; t++) {
        free(r->views[t].chunks);
        free(r->views[t].chunk_bytes);
        free(r->views[t].buckets);
    }
    free(r);
}

/* A value the table's meta says exists: its absence is damage too. */
static int view_get(const prs_sidedb_reader *r, uint32_t t, const char *key, const void **data,
                    size_t *len) {
    MDB_val k = {strlen(key), (void *)(uintptr_t)key}, v;
    int rc = mdb_get(r->txn, r->db->tables[t].dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        return PRS_CORRUPT(r->db->path, "side table %s: value %s is missing", r->db->tables[t].name,
                           key);
    if (rc) return prs_mdb_err(rc);
    *data = v.mv_data;
    *len = v.mv_size;
    return 0;
}

static int view_meta(const prs_sidedb_reader *r, uint32_t t, side_meta *meta) {
    const char *name = r->db->tables[t].name;
    const void *p;
    size_t n;
    int rc = view_get(r, t, "meta", &p, &n);
    if (rc) return rc;
    if (n != sizeof(*meta))
        return PRS_CORRUPT(r->db->path, "side table %s: meta is %zu bytes, not %zu", name, n,
                           sizeof(*meta));
    memcpy(meta, p, sizeof(*meta));
    uint64_t want_idx = (meta->slots + SIDE_IDX_CHUNK_BUCKETS - 1) / SIDE_IDX_CHUNK_BUCKETS;
    if (meta->magic != SIDE_MAGIC || meta->chunks > SIDE_MAX_CHUNKS ||
        meta->slots < SIDE_MIN_BUCKETS || meta->idx_chunks != want_idx ||
        meta->idx_chunks > SIDE_MAX_IDX_CHUNKS)
        return PRS_CORRUPT(r->db->path,
                           "side table %s: meta says %llu buckets in %llu index values, %llu "
                           "record values",
                           name, (unsigned long long)meta->slots,
                           (unsigned long long)meta->idx_chunks, (unsigned long long)meta->chunks);
    return 0;
}

static int grow(void *arrp, uint32_t *cap, uint64_t want, size_t elem) {
    if (want <= *cap) return 0;
    void *a = realloc(*(void **)arrp, (size_t)want * elem);
    if (!a) return -ENOMEM;
    *(void **)arrp = a;
    *cap = (uint32_t)want;
    return 0;
}

/* Maps table t's values into its view, each checked against the meta: an index value
 * holds its buckets, a record value is at least a record header. */
static int view_load(prs_sidedb_reader *r, uint32_t t) {
    side_view *v = &r->views[t];
    const char *name = r->db->tables[t].name;
    side_meta meta;
    int rc = view_meta(r, t, &meta);
    if (rc) return rc;
    if ((rc = grow(&v->buckets, &v->buckets_cap, meta.idx_chunks, sizeof(*v->buckets)))) return rc;
    v->buckets_len = (uint32_t)meta.idx_chunks;
    v->nbuckets = meta.slots;
    for (uint32_t c = 0; c < v->buckets_len; c++) {
        char key[32];
        snprintf(key, sizeof(key), "i.%u", c);
        const void *p;
        size_t n;
        if ((rc = view_get(r, t, key, &p, &n))) return rc;
        uint64_t count =
            PRS_MIN(meta.slots - (uint64_t)c * SIDE_IDX_CHUNK_BUCKETS, SIDE_IDX_CHUNK_BUCKETS);
        if (n != SIDE_IDX_PAD + count * SIDE_BUCKET_BYTES)
            return PRS_CORRUPT(r->db->path, "side table %s: index value %u is %zu bytes, not %llu",
                               name, c, n,
                               (unsigned long long)(SIDE_IDX_PAD + count * SIDE_BUCKET_BYTES));
        v->buckets[c] = (const unsigned char *)p + SIDE_IDX_PAD;
    }
    uint32_t cap = v->chunks_cap;
    if ((rc = grow(&v->chunks, &cap, meta.chunks, sizeof(*v->chunks)))) return rc;
    cap = v->chunks_cap;
    if ((rc = grow(&v->chunk_bytes, &cap, meta.chunks, sizeof(*v->chunk_bytes)))) return rc;
    v->chunks_cap = cap;
    v->chunks_len = (uint32_t)meta.chunks;
    for (uint32_t c = 0; c < v->chunks_len; c++) {
        char key[32];
        snprintf(key, sizeof(key), "r.%u", c);
        const void *p;
        size_t n;
        if ((rc = view_get(r, t, key, &p, &n))) return rc;
        if (n < 8)
            return PRS_CORRUPT(r->db->path, "side table %s: record value %u is %zu bytes", name, c,
                               n);
        v->chunks[c] = p;
        v->chunk_bytes[c] = n;
    }
    return view_get(r, t, "header", &v->header, &v->header_len);
}

int prs_sidedb_reader_begin(prs_sidedb_reader *r) {
    if (r->active) return 0;
    int rc = prs_mdb_err(mdb_txn_renew(r->txn));
    if (rc) return rc;
    /* A few gets per snapshot, not per lookup: the views stay put until end. */
    for (uint32_t t = 0; t < r->db->count && rc == 0; t++)
        rc = view_load(r, t);
    if (rc) {
        mdb_txn_reset(r->txn);
        return rc;
    }
    r->active = true;
    return 0;
}

void prs_sidedb_reader_end(prs_sidedb_reader *r) {
    if (!r->active) return;
    mdb_txn_reset(r->txn);
    r->active = false;
}

bool prs_sidedb_reader_active(const prs_sidedb_reader *r) {
    return r->active;
}

int prs_sidedb_find(const prs_sidedb_reader *r, const char *name) {
    for (uint32_t t = 0; t < r->db->count; t++) {
        if (strcmp(r->db->tables[t].name, name) == 0) return (int)t;
    }
    return -EINVAL;
}

/* The record a bucket's location (+ 1) names, if it lies inside a stored chunk: NULL
 * otherwise (damage; the caller reports it). The record's own lengths are checked by
 * the caller against *room, the bytes from it to its chunk's end. */
static inline const unsigned char *record_at(const side_view *v, uint64_t loc1, uint64_t *room) {
    uint64_t loc = loc1 - 1, chunk = loc >> SIDE_CHUNK_BITS;
    uint64_t off = loc & ((1ull << SIDE_CHUNK_BITS) - 1);
    if (loc1 == 0 || chunk >= v->chunks_len || v->chunk_bytes[chunk] < 8 ||
        off > v->chunk_bytes[chunk] - 8)
        return NULL;
    *room = v->chunk_bytes[chunk] - off;
    return v->chunks[chunk] + off;
}

static inline const unsigned char *bucket_at(const side_view *v, uint64_t pos) {
    return v->buckets[pos >> SIDE_IDX_CHUNK_BITS] +
           (pos & (SIDE_IDX_CHUNK_BUCKETS - 1)) * SIDE_BUCKET_BYTES;
}

static int probe_corrupt(const prs_sidedb_reader *r, uint32_t table, uint64_t pos) {
    return PRS_CORRUPT(r->db->path, "side table %s: bucket %llu points outside the table",
                       r->db->tables[table].name, (unsigned long long)pos);
}

static inline int probe(const prs_sidedb_reader *r, uint32_t table, uint64_t hash, const void *key,
                        size_t key_len, const void **value, size_t *value_len) {
    const side_view *v = &r->views[table];
    uint64_t pos = fastrange(hash, v->nbuckets);
    uint32_t tag = bucket_tag(hash);
    for (uint32_t n = 0; n < SIDE_MAX_PROBES; n++) {
        const unsigned char *b = bucket_at(v, pos);
        uint32_t t = prs_le32_get(b);
        if (t == 0) return -ENOENT;
        if (t == tag) {
            uint32_t klen = prs_le16_get(b + 4), rlen = prs_le16_get(b + 6);
            if (klen != SIDE_NOT_INLINE) {
                if (klen + rlen > SIDE_BUCKET_INLINE) return probe_corrupt(r, table, pos);
                if (klen == key_len && memcmp(b + 8, key, key_len) == 0) {
                    *value = b + 8 + klen;
                    *value_len = rlen;
                    return 0;
                }
            } else {
                uint64_t room;
                const unsigned char *rec = record_at(v, prs_le64_get(b + 8), &room);
                if (!rec) return probe_corrupt(r, table, pos);
                uint64_t rk = prs_le32_get(rec), rr = prs_le32_get(rec + 4);
                if (8 + rk + rr > room) return probe_corrupt(r, table, pos);
                if (rk == key_len && memcmp(rec + 8, key, key_len) == 0) {
                    *value = rec + 8 + rk;
                    *value_len = rr;
                    return 0;
                }
            }
        }
        if (++pos == v->nbuckets) pos = 0;
    }
    return -ENOENT;
}

int prs_sidedb_get(const prs_sidedb_reader *r, uint32_t table, const void *key, size_t key_len,
                   const void **value, size_t *value_len) {
    PRS_ASSERT(r->active && table < r->db->count);
    return probe(r, table, XXH3_64bits(key, key_len), key, key_len, value, value_len);
}

size_t prs_sidedb_get_many(const prs_sidedb_reader *r, uint32_t table, size_t n,
                           const void *const *keys, const size_t *key_lens, const void **values,
                           size_t *value_lens, int *found) {
    PRS_ASSERT(r->active && table < r->db->count);
    const side_view *v = &r->views[table];
    size_t hits = 0;
    uint64_t hash[SIDE_MANY_CHUNK];
    for (size_t base = 0; base < n; base += SIDE_MANY_CHUNK) {
        size_t m = PRS_MIN(n - base, (size_t)SIDE_MANY_CHUNK);
        /* Stage 1: hash and prefetch every bucket; stage 2: prefetch the records that are
         * not inline; stage 3: compare. The misses of a chunk overlap instead of queueing. */
        for (size_t i = 0; i < m; i++) {
            hash[i] = XXH3_64bits(keys[base + i], key_lens[base + i]);
            __builtin_prefetch(bucket_at(v, fastrange(hash[i], v->nbuckets)));
        }
        for (size_t i = 0; i < m; i++) {
            const unsigned char *b = bucket_at(v, fastrange(hash[i], v->nbuckets));
            uint64_t room;
            const unsigned char *rec = NULL;
            if (prs_le16_get(b + 4) == SIDE_NOT_INLINE)
                rec = record_at(v, prs_le64_get(b + 8), &room);
            if (rec) __builtin_prefetch(rec); /* a bad location is reported by the probe */
        }
        for (size_t i = 0; i < m; i++) {
            size_t k = base + i;
            found[k] = probe(r, table, hash[i], keys[k], key_lens[k], &values[k], &value_lens[k]);
            hits += found[k] == 0;
        }
    }
    return hits;
}

int prs_sidedb_header(const prs_sidedb_reader *r, uint32_t table, const void **header,
                      size_t *header_len) {
    PRS_ASSERT(r->active && table < r->db->count);
    *header = r->views[table].header;
    *header_len = r->views[table].header_len;
    return 0;
}
