/* queue.c -- see queue.h. */
#include "queue.h"
#include "le.h"
#include "mdb_err.h"

#include <limits.h>
#include <lmdb.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Address space only: LMDB grows the file as pages are written, never to the map size.
 * PRS_QUEUE_MAP_BYTES in the environment overrides it (tests fill a small map). */
#define QUEUE_MAP_BYTES (64ull << 30)
#define QUEUE_MAP_MIN_BYTES (64ull << 10)
#define QUEUE_MAP_MAX_BYTES (1ull << 46)
#define QUEUE_MAX_READERS 1024u
#define QUEUE_BUILD_COMMIT_EVERY 65536u

struct prs_queue {
    MDB_env *env;
    MDB_dbi meta, items, batches;
    MDB_dbi held;        /* --keep-order's rows waiting for their predecessors */
    bool has_held;       /* false: a read-only open of a job older than the table */
    char path[PATH_MAX]; /* dir/data.mdb, for corruption messages */
};

struct prs_queue_reader {
    prs_queue *q;
    MDB_txn *txn;
    MDB_cursor *items_cur;
    bool active;
};

/* ---- record encodings -------------------------------------------------------------------- */

void prs_queue_batch_encode(const prs_batch_rec *rec, uint8_t out[PRS_QUEUE_BATCH_BYTES]) {
    prs_le32_put(out, rec->state);
    prs_le32_put(out + 4, rec->attempts);
    prs_le64_put(out + 8, rec->first_item);
    prs_le32_put(out + 16, rec->item_count);
    prs_le32_put(out + 20, rec->succeeded);
}

int prs_queue_batch_decode(const void *buf, size_t len, prs_batch_rec *rec) {
    if (len != PRS_QUEUE_BATCH_BYTES) return -EINVAL;
    const uint8_t *p = buf;
    prs_batch_rec r = {.state = prs_le32_get(p),
                       .attempts = prs_le32_get(p + 4),
                       .first_item = prs_le64_get(p + 8),
                       .item_count = prs_le32_get(p + 16),
                       .succeeded = prs_le32_get(p + 20)};
    if (r.state > PRS_BATCH_FAILED) return -EINVAL;
    if (r.attempts > PRS_QUEUE_MAX_ATTEMPTS) return -EINVAL;
    if (r.state == PRS_BATCH_FAILED && r.attempts == 0) return -EINVAL; /* failed untried */
    if (r.item_count == 0 || r.first_item > UINT64_MAX - r.item_count) return -EINVAL;
    if (r.succeeded > r.item_count) return -EINVAL;
    if (r.state != PRS_BATCH_DONE && r.succeeded != 0) return -EINVAL; /* rows only when done */
    *rec = r;
    return 0;
}

void prs_queue_counts_encode(const prs_queue_counts *c, uint8_t out[PRS_QUEUE_COUNTS_BYTES]) {
    const uint64_t v[7] = {c->total_batches,   c->total_items,  c->done_batches, c->failed_batches,
                           c->succeeded_items, c->failed_items, c->output_bytes};
    for (unsigned i = 0; i < 7; i++)
        prs_le64_put(out + 8 * i, v[i]);
}

int prs_queue_counts_decode(const void *buf, size_t len, prs_queue_counts *c) {
    if (len != PRS_QUEUE_COUNTS_BYTES) return -EINVAL;
    const uint8_t *p = buf;
    prs_queue_counts r = {.total_batches = prs_le64_get(p),
                          .total_items = prs_le64_get(p + 8),
                          .done_batches = prs_le64_get(p + 16),
                          .failed_batches = prs_le64_get(p + 24),
                          .succeeded_items = prs_le64_get(p + 32),
                          .failed_items = prs_le64_get(p + 40),
                          .output_bytes = prs_le64_get(p + 48)};
    /* Written as sums that cannot wrap: each part is checked against the total first. */
    if (r.total_batches > r.total_items) return -EINVAL; /* every batch holds an item */
    if (r.done_batches > r.total_batches || r.failed_batches > r.total_batches - r.done_batches)
        return -EINVAL;
    if (r.succeeded_items > r.total_items || r.failed_items > r.total_items - r.succeeded_items)
        return -EINVAL;
    *c = r;
    return 0;
}

int prs_queue_item_encode(const char *name, size_t name_len, void *buf, size_t cap,
                          size_t *len_bytes) {
    if (name_len == 0 || memchr(name, 0, name_len)) return -EINVAL;
    if (name_len + 1 > PRS_QUEUE_MAX_ITEM_BYTES) return -ENAMETOOLONG;
    if (name_len + 1 > cap) return -ENOBUFS;
    memcpy(buf, name, name_len);
    ((char *)buf)[name_len] = 0;
    *len_bytes = name_len + 1;
    return 0;
}

int prs_queue_item_decode(const void *buf, size_t len, const char **name, size_t *name_len) {
    if (len < 2 || len > PRS_QUEUE_MAX_ITEM_BYTES) return -EINVAL;
    const char *s = buf;
    if (s[len - 1] != 0 || memchr(s, 0, len - 1)) return -EINVAL; /* one NUL, at the end */
    *name = s;
    *name_len = len - 1;
    return 0;
}

/* A record read back that no run could have written: the state file is corrupt. */
static int stored_batch(const prs_queue *q, uint64_t id, const MDB_val *v, prs_batch_rec *rec) {
    if (prs_queue_batch_decode(v->mv_data, v->mv_size, rec) == 0) return 0;
    return PRS_CORRUPT(q->path, "batch %llu: a %zu-byte record no run of prs writes",
                       (unsigned long long)id, v->mv_size);
}

/* The map to open dir's environment with: the default, or twice the file when the file
 * has used more than half of that -- how a map that filled up grows on the next open. */
static size_t queue_map_bytes(const char *dir) {
    uint64_t bytes = QUEUE_MAP_BYTES;
    const char *env = getenv("PRS_QUEUE_MAP_BYTES");
    if (env && *env) {
        char *end;
        unsigned long long v = strtoull(env, &end, 10);
        if (*end == 0) bytes = PRS_MAX(PRS_MIN(v, QUEUE_MAP_MAX_BYTES), QUEUE_MAP_MIN_BYTES);
    }
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    if (stat(path, &st) == 0 && (uint64_t)st.st_size > bytes / 2) {
        bytes = PRS_MIN(2 * (uint64_t)st.st_size, QUEUE_MAP_MAX_BYTES);
    }
    return (size_t)bytes;
}

static int queue_open(prs_queue **out, const char *dir, enum prs_durability durability,
                      bool readonly, char *err, size_t err_size) {
    prs_queue *q = calloc(1, sizeof(*q));
    if (!q) return -ENOMEM;
    snprintf(q->path, sizeof(q->path), "%s/data.mdb", dir);
    int rc = mdb_env_create(&q->env);
    if (rc) goto fail_alloc;
    mdb_env_set_maxdbs(q->env, 8);
    mdb_env_set_maxreaders(q->env, QUEUE_MAX_READERS);
    mdb_env_set_mapsize(q->env, queue_map_bytes(dir));
    unsigned flags = MDB_NOTLS | MDB_NORDAHEAD;
    if (durability == PRS_DURABILITY_NONE) flags |= MDB_NOSYNC | MDB_NOMETASYNC;
    if (readonly) flags |= MDB_RDONLY;
    /* A reader that cannot use the lock file (none yet, or another user's) reads without
     * one rather than create it or fail: `prs status` never writes into OUT/.prs. No
     * writer holds such a job, or its pages could change under this read. */
    char lock[PATH_MAX + 16];
    snprintf(lock, sizeof(lock), "%s/lock.mdb", dir);
    if (readonly && access(lock, R_OK | W_OK) != 0) flags |= MDB_NOLOCK;
    rc = mdb_env_open(q->env, dir, flags, 0644);
    if (rc) goto fail_env;

    MDB_txn *txn;
    rc = mdb_txn_begin(q->env, NULL, readonly ? MDB_RDONLY : 0, &txn);
    if (rc) goto fail_env;
    unsigned create = readonly ? 0 : MDB_CREATE;
    if ((rc = mdb_dbi_open(txn, "meta", create, &q->meta)) ||
        (rc = mdb_dbi_open(txn, "items", create | MDB_INTEGERKEY, &q->items)) ||
        (rc = mdb_dbi_open(txn, "batches", create | MDB_INTEGERKEY, &q->batches))) {
        mdb_txn_abort(txn);
        goto fail_env;
    }
    /* Jobs of earlier versions have no held table: a writer creates it, a reader does
     * without (such a job holds no rows). */
    rc = mdb_dbi_open(txn, "held", create | MDB_INTEGERKEY, &q->held);
    if (rc && rc != MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        goto fail_env;
    }
    q->has_held = rc == 0;
    rc = mdb_txn_commit(txn);
    if (rc) goto fail_env;
    *out = q;
    return 0;

fail_env:
    snprintf(err, err_size, "%s/data.mdb: %s", dir, mdb_strerror(rc));
    mdb_env_close(q->env);
fail_alloc:
    free(q);
    return rc ? prs_mdb_err(rc) : -ENOMEM;
}

int prs_queue_open(prs_queue **out, const char *dir, enum prs_durability durability, char *err,
                   size_t err_size) {
    return queue_open(out, dir, durability, false, err, err_size);
}

int prs_queue_open_readonly(prs_queue **out, const char *dir, char *err, size_t err_size) {
    return queue_open(out, dir, PRS_DURABILITY_NONE, true, err, err_size);
}

int prs_queue_grow(prs_queue *q, size_t *map_bytes) {
    MDB_envinfo info;
    int rc = mdb_env_info(q->env, &info);
    if (rc) return prs_mdb_err(rc);
    uint64_t bytes = (uint64_t)info.me_mapsize;
    if (bytes >= QUEUE_MAP_MAX_BYTES) return -ENOSPC;
    bytes = PRS_MIN(2 * bytes, QUEUE_MAP_MAX_BYTES);
    rc = mdb_env_set_mapsize(q->env, (size_t)bytes);
    if (rc) return prs_mdb_err(rc);
    *map_bytes = (size_t)bytes;
    return 0;
}

void prs_queue_close(prs_queue *q) {
    if (!q) return;
    mdb_env_close(q->env);
    free(q);
}

int prs_queue_meta_get(prs_queue *q, const char *key, void *buf, size_t cap, size_t *len) {
    MDB_txn *txn;
    int rc = mdb_txn_begin(q->env, NULL, MDB_RDONLY, &txn);
    if (rc) return prs_mdb_err(rc);
    MDB_val k = {strlen(key), (void *)(uintptr_t)key}, v;
    rc = mdb_get(txn, q->meta, &k, &v);
    if (rc == 0) {
        if (v.mv_size > cap) {
            rc = ENOBUFS;
        } else {
            memcpy(buf, v.mv_data, v.mv_size);
            *len = v.mv_size;
        }
    }
    mdb_txn_abort(txn);
    return prs_mdb_err(rc);
}

bool prs_queue_created(prs_queue *q) {
    char mark;
    size_t len;
    return prs_queue_meta_get(q, "created", &mark, 1, &len) == 0;
}

int prs_queue_counts_get(prs_queue *q, prs_queue_counts *counts) {
    uint8_t buf[PRS_QUEUE_COUNTS_BYTES + 1]; /* one more: a padded record is not cut to fit */
    size_t len = 0;
    int rc = prs_queue_meta_get(q, "counts", buf, sizeof(buf), &len);
    if (rc == 0 && prs_queue_counts_decode(buf, len, counts) == 0) return 0;
    if (rc && rc != -ENOBUFS) return rc;
    return PRS_CORRUPT(q->path, "the job's counters: a record no run of prs writes");
}

static int meta_put(MDB_txn *txn, MDB_dbi dbi, const char *key, const void *val, size_t len) {
    MDB_val k = {strlen(key), (void *)(uintptr_t)key}, v = {len, (void *)(uintptr_t)val};
    return prs_mdb_err(mdb_put(txn, dbi, &k, &v, 0));
}

struct prs_queue_builder {
    prs_queue *q;
    void *txn; /* MDB_txn */
    uint64_t next_item;
    uint64_t next_batch;
    uint32_t uncommitted;
    uint64_t ref_items; /* items counted by prs_queue_build_batch_ref (tabular jobs) */
};

int prs_queue_build_begin(prs_queue *q, prs_queue_builder **out) {
    *out = NULL;
    prs_queue_builder *b = calloc(1, sizeof(*b));
    if (!b) return -ENOMEM;
    b->q = q;
    MDB_txn *txn;
    int rc = mdb_txn_begin(q->env, NULL, 0, &txn);
    if (rc) {
        free(b);
        return prs_mdb_err(rc);
    }
    /* Empty, not delete: a half-built job from a crashed creation starts over. */
    if ((rc = mdb_drop(txn, q->meta, 0)) || (rc = mdb_drop(txn, q->items, 0)) ||
        (rc = mdb_drop(txn, q->batches, 0)) || (rc = mdb_drop(txn, q->held, 0))) {
        mdb_txn_abort(txn);
        free(b);
        return prs_mdb_err(rc);
    }
    b->txn = txn;
    *out = b;
    return 0;
}

uint64_t prs_queue_build_items(const prs_queue_builder *b) {
    return b->next_item;
}

uint64_t prs_queue_build_batches(const prs_queue_builder *b) {
    return b->next_batch;
}

uint64_t prs_queue_build_records(const prs_queue_builder *b) {
    return b->ref_items;
}

static int build_maybe_commit(prs_queue_builder *b) {
    if (++b->uncommitted < QUEUE_BUILD_COMMIT_EVERY) return 0;
    int rc = mdb_txn_commit(b->txn);
    b->txn = NULL;
    if (rc) return prs_mdb_err(rc);
    b->uncommitted = 0;
    MDB_txn *txn;
    rc = mdb_txn_begin(b->q->env, NULL, 0, &txn);
    if (rc) return prs_mdb_err(rc);
    b->txn = txn;
    return 0;
}

int prs_queue_build_item(prs_queue_builder *b, const void *rec, size_t size_bytes) {
    PRS_ASSERT(b->txn != NULL);
    if (size_bytes > PRS_QUEUE_MAX_ITEM_BYTES) return -ENAMETOOLONG;
    uint64_t id = b->next_item;
    MDB_val k = {sizeof(id), &id}, v = {size_bytes, (void *)(uintptr_t)rec};
    int rc = mdb_put(b->txn, b->q->items, &k, &v, MDB_APPEND);
    if (rc) return prs_mdb_err(rc);
    b->next_item++;
    return build_maybe_commit(b);
}

/* Appends the next batch record: count items from first_item, or one range item. */
static int build_put_batch(prs_queue_builder *b, uint64_t first_item, uint32_t count) {
    uint64_t id = b->next_batch;
    prs_batch_rec rec = {.state = PRS_BATCH_PENDING, .first_item = first_item, .item_count = count};
    uint8_t enc[PRS_QUEUE_BATCH_BYTES];
    prs_queue_batch_encode(&rec, enc);
    MDB_val k = {sizeof(id), &id}, v = {sizeof(enc), enc};
    int rc = mdb_put(b->txn, b->q->batches, &k, &v, MDB_APPEND);
    if (rc) return prs_mdb_err(rc);
    b->next_batch++;
    return 0;
}

int prs_queue_build_batch(prs_queue_builder *b, uint64_t first_item, uint32_t count) {
    PRS_ASSERT(b->txn != NULL);
    PRS_ASSERT(count > 0 && first_item + count <= b->next_item);
    int rc = build_put_batch(b, first_item, count);
    return rc ? rc : build_maybe_commit(b);
}

int prs_queue_build_batch_ref(prs_queue_builder *b, uint64_t item_id, uint32_t records) {
    PRS_ASSERT(b->txn != NULL);
    PRS_ASSERT(records > 0 && item_id < b->next_item);
    int rc = build_put_batch(b, item_id, records);
    if (rc) return rc;
    b->ref_items += records;
    return build_maybe_commit(b);
}

/* Packed by hand: no padding bytes reach the store, and decode checks each field. */
#define TAB_REF_FIXED (4u + 4u + 8u * 4u + 4u + 4u)

int prs_queue_tab_encode(const prs_tab_ref *ref, void *buf, size_t cap, size_t *len) {
    size_t plen = strlen(ref->path);
    size_t keys = ref->key_count ? 12u + ref->key_values_len : 0;
    size_t need = TAB_REF_FIXED + plen + 1 + keys;
    if (need > cap || need > PRS_QUEUE_MAX_ITEM_BYTES) return -ENAMETOOLONG;
    unsigned char *p = buf;
    uint32_t magic = ref->key_count ? PRS_TAB_REF_KEYS_MAGIC : PRS_TAB_REF_MAGIC;
    uint32_t plen32 = (uint32_t)plen;
    memcpy(p, &magic, 4);
    memcpy(p + 4, &plen32, 4);
    memcpy(p + 8, &ref->offset, 8);
    memcpy(p + 16, &ref->length, 8);
    memcpy(p + 24, &ref->first_line, 8);
    memcpy(p + 32, &ref->header_offset, 8);
    memcpy(p + 40, &ref->header_size, 4);
    memcpy(p + 44, &ref->records, 4);
    memcpy(p + TAB_REF_FIXED, ref->path, plen + 1);
    if (keys) {
        unsigned char *k = p + TAB_REF_FIXED + plen + 1;
        memcpy(k, &ref->key_count, 4);
        memcpy(k + 4, &ref->keys_missing, 4);
        memcpy(k + 8, &ref->key_values_len, 4);
        memcpy(k + 12, ref->key_values, ref->key_values_len);
    }
    *len = need;
    return 0;
}

/* The key block after a PTB2 record's path: count, missing mask, values (count NULs, the
 * last byte one of them). */
static int tab_decode_keys(const unsigned char *k, size_t len, prs_tab_ref *ref) {
    if (len < 12) return -EBADMSG;
    memcpy(&ref->key_count, k, 4);
    memcpy(&ref->keys_missing, k + 4, 4);
    memcpy(&ref->key_values_len, k + 8, 4);
    if (ref->key_count == 0 || ref->key_count > 32 || ref->key_values_len != len - 12 ||
        ref->key_values_len == 0 || k[len - 1] != 0)
        return -EBADMSG;
    if (ref->key_count < 32 && ref->keys_missing >> ref->key_count) return -EBADMSG;
    uint32_t nuls = 0;
    for (size_t i = 12; i < len; i++)
        nuls += k[i] == 0;
    if (nuls != ref->key_count) return -EBADMSG;
    ref->key_values = (const char *)k + 12;
    return 0;
}

int prs_queue_tab_decode(const void *val, size_t len, prs_tab_ref *ref) {
    const unsigned char *p = val;
    if (len < TAB_REF_FIXED + 2) return -EBADMSG;
    uint32_t magic, plen;
    memcpy(&magic, p, 4);
    memcpy(&plen, p + 4, 4);
    bool keys = magic == PRS_TAB_REF_KEYS_MAGIC;
    if ((magic != PRS_TAB_REF_MAGIC && !keys) || plen == 0 ||
        TAB_REF_FIXED + (size_t)plen + 1 > len ||
        (!keys && TAB_REF_FIXED + (size_t)plen + 1 != len))
        return -EBADMSG;
    ref->key_count = ref->keys_missing = ref->key_values_len = 0;
    ref->key_values = NULL;
    if (keys && tab_decode_keys(p + TAB_REF_FIXED + plen + 1, len - TAB_REF_FIXED - plen - 1, ref))
        return -EBADMSG;
    memcpy(&ref->offset, p + 8, 8);
    memcpy(&ref->length, p + 16, 8);
    memcpy(&ref->first_line, p + 24, 8);
    memcpy(&ref->header_offset, p + 32, 8);
    memcpy(&ref->header_size, p + 40, 4);
    memcpy(&ref->records, p + 44, 4);
    const char *path = (const char *)p + TAB_REF_FIXED;
    if (path[plen] != 0 || memchr(path, 0, plen) != NULL) return -EBADMSG;
    if (ref->records == 0 || ref->length == 0 || ref->first_line == 0 ||
        ref->offset > UINT64_MAX - ref->length ||
        ref->header_offset > UINT64_MAX - ref->header_size)
        return -EBADMSG;
    ref->path = path;
    return 0;
}

int prs_queue_build_meta(prs_queue_builder *b, const char *key, const void *val, size_t len) {
    PRS_ASSERT(b->txn != NULL);
    return meta_put(b->txn, b->q->meta, key, val, len);
}

int prs_queue_build_end(prs_queue_builder *b) {
    PRS_ASSERT(b->txn != NULL);
    prs_queue_counts c = {.total_batches = b->next_batch,
                          .total_items = b->ref_items ? b->ref_items : b->next_item};
    uint8_t enc[PRS_QUEUE_COUNTS_BYTES];
    prs_queue_counts_encode(&c, enc);
    int rc = meta_put(b->txn, b->q->meta, "counts", enc, sizeof(enc));
    if (rc == 0) rc = meta_put(b->txn, b->q->meta, "created", "1", 1);
    if (rc) {
        prs_queue_build_abort(b);
        return rc;
    }
    rc = mdb_txn_commit(b->txn);
    free(b);
    return prs_mdb_err(rc);
}

void prs_queue_build_abort(prs_queue_builder *b) {
    if (!b) return;
    if (b->txn) mdb_txn_abort(b->txn);
    free(b);
}

/* Puts the held rows and drops the written ones, in the commit's transaction. */
static int held_apply(prs_queue *q, MDB_txn *txn, const prs_queue_held *held) {
    PRS_ASSERT(q->has_held); /* a writer always opens the table */
    for (size_t i = 0; i < held->put_count; i++) {
        uint64_t id = held->puts[i].batch_id;
        if (held->puts[i].len == 0) return -EINVAL; /* no rows: nothing is held */
        MDB_val k = {sizeof(id), &id},
                v = {held->puts[i].len, (void *)(uintptr_t)held->puts[i].rows};
        int err = prs_mdb_err(mdb_put(txn, q->held, &k, &v, 0));
        if (err) return err;
    }
    for (size_t i = 0; i < held->drop_count; i++) {
        uint64_t id = held->drops[i];
        MDB_val k = {sizeof(id), &id};
        int err = prs_mdb_err(mdb_del(txn, q->held, &k, NULL));
        if (err && err != -ENOENT) return err; /* a batch finished without rows held none */
    }
    return 0;
}

int prs_queue_commit_held(prs_queue *q, const prs_batch_update *updates, size_t count,
                          const prs_queue_counts *counts, const char *meta_key,
                          const void *meta_val, size_t meta_len, const prs_queue_held *held) {
    /* Refuse, before writing anything, a record the decoder would refuse on the way back:
     * a caller's bug must not become a state file that no longer opens. */
    uint8_t counts_enc[PRS_QUEUE_COUNTS_BYTES];
    prs_queue_counts_encode(counts, counts_enc);
    prs_queue_counts check_counts;
    if (prs_queue_counts_decode(counts_enc, sizeof(counts_enc), &check_counts)) return -EINVAL;
    MDB_txn *txn;
    int err = prs_mdb_err(mdb_txn_begin(q->env, NULL, 0, &txn));
    if (err) return err;
    for (size_t i = 0; i < count && err == 0; i++) {
        uint64_t id = updates[i].batch_id;
        uint8_t enc[PRS_QUEUE_BATCH_BYTES];
        prs_queue_batch_encode(&updates[i].rec, enc);
        prs_batch_rec check;
        if (prs_queue_batch_decode(enc, sizeof(enc), &check)) {
            err = -EINVAL;
            break;
        }
        MDB_val k = {sizeof(id), &id}, v = {sizeof(enc), enc};
        err = prs_mdb_err(mdb_put(txn, q->batches, &k, &v, 0));
    }
    if (err == 0 && held) err = held_apply(q, txn, held);
    if (err == 0) err = meta_put(txn, q->meta, "counts", counts_enc, sizeof(counts_enc));
    if (err == 0 && meta_key) err = meta_put(txn, q->meta, meta_key, meta_val, meta_len);
    if (err) {
        mdb_txn_abort(txn);
        return err;
    }
    return prs_mdb_err(mdb_txn_commit(txn));
}

int prs_queue_commit(prs_queue *q, const prs_batch_update *updates, size_t count,
                     const prs_queue_counts *counts, const char *meta_key, const void *meta_val,
                     size_t meta_len) {
    return prs_queue_commit_held(q, updates, count, counts, meta_key, meta_val, meta_len, NULL);
}

int prs_queue_held_count(prs_queue *q, uint64_t *count) {
    *count = 0;
    if (!q->has_held) return 0;
    MDB_txn *txn;
    int rc = mdb_txn_begin(q->env, NULL, MDB_RDONLY, &txn);
    if (rc) return prs_mdb_err(rc);
    MDB_stat st;
    rc = mdb_stat(txn, q->held, &st);
    if (rc == 0) *count = st.ms_entries;
    mdb_txn_abort(txn);
    return prs_mdb_err(rc);
}

int prs_queue_reader_open(prs_queue *q, prs_queue_reader **out) {
    prs_queue_reader *r = calloc(1, sizeof(*r));
    if (!r) return -ENOMEM;
    r->q = q;
    int rc = mdb_txn_begin(q->env, NULL, MDB_RDONLY, &r->txn);
    if (rc) goto fail_alloc;
    rc = mdb_cursor_open(r->txn, q->items, &r->items_cur);
    if (rc) goto fail_txn;
    mdb_txn_reset(r->txn);
    *out = r;
    return 0;
fail_txn:
    mdb_txn_abort(r->txn);
fail_alloc:
    free(r);
    return prs_mdb_err(rc);
}

void prs_queue_reader_close(prs_queue_reader *r) {
    if (!r) return;
    mdb_cursor_close(r->items_cur);
    mdb_txn_abort(r->txn);
    free(r);
}

int prs_queue_reader_begin(prs_queue_reader *r) {
    PRS_ASSERT(!r->active);
    int rc = mdb_txn_renew(r->txn);
    if (rc) return prs_mdb_err(rc);
    rc = mdb_cursor_renew(r->txn, r->items_cur);
    if (rc) {
        mdb_txn_reset(r->txn);
        return prs_mdb_err(rc);
    }
    r->active = true;
    return 0;
}

void prs_queue_reader_end(prs_queue_reader *r) {
    PRS_ASSERT(r->active);
    mdb_txn_reset(r->txn);
    r->active = false;
}

int prs_queue_reader_pending(prs_queue_reader *r, uint64_t *cursor, uint64_t *ids,
                             prs_batch_rec *recs, size_t cap) {
    PRS_ASSERT(r->active);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(r->txn, r->q->batches, &cur);
    if (rc) return prs_mdb_err(rc);
    uint64_t key = *cursor;
    MDB_val k = {sizeof(key), &key}, v;
    size_t n = 0;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    /* Bounded by cap found, and by one cap-sized window of done/failed batches skipped, so a
     * call never walks the whole table while holding the coordinator. */
    for (size_t looked = 0; rc == 0 && n < cap && looked < cap * 64; looked++) {
        uint64_t id;
        memcpy(&id, k.mv_data, sizeof(id));
        prs_batch_rec rec;
        int e = stored_batch(r->q, id, &v, &rec);
        if (e) {
            mdb_cursor_close(cur);
            return e;
        }
        *cursor = id + 1;
        if (rec.state == PRS_BATCH_PENDING) {
            ids[n] = id;
            recs[n] = rec;
            n++;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND) return prs_mdb_err(rc);
    if (rc == MDB_NOTFOUND && n == 0) return 0;
    if (n == 0) return -EAGAIN; /* window full of finished batches: call again */
    return (int)n;
}

int prs_queue_reader_batch(prs_queue_reader *r, uint64_t batch_id, prs_batch_rec *rec) {
    PRS_ASSERT(r->active);
    MDB_val k = {sizeof(batch_id), &batch_id}, v;
    int rc = mdb_get(r->txn, r->q->batches, &k, &v);
    if (rc) return prs_mdb_err(rc);
    return stored_batch(r->q, batch_id, &v, rec);
}

int prs_queue_reader_get(prs_queue_reader *r, uint64_t batch_id, prs_batch_rec *rec) {
    int rc = prs_queue_reader_begin(r);
    if (rc) return rc;
    rc = prs_queue_reader_batch(r, batch_id, rec);
    prs_queue_reader_end(r);
    return rc;
}

int prs_queue_reader_held_first(prs_queue_reader *r, uint64_t *batch_id) {
    PRS_ASSERT(r->active);
    if (!r->q->has_held) return -ENOENT;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(r->txn, r->q->held, &cur);
    if (rc) return prs_mdb_err(rc);
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    if (rc == 0 && k.mv_size != sizeof(*batch_id))
        rc = PRS_CORRUPT(r->q->path, "a held row record with a %zu-byte key", k.mv_size);
    else if (rc == 0)
        memcpy(batch_id, k.mv_data, sizeof(*batch_id));
    else
        rc = prs_mdb_err(rc);
    mdb_cursor_close(cur);
    return rc;
}

int prs_queue_reader_held(prs_queue_reader *r, uint64_t batch_id, const void **rows, size_t *len) {
    PRS_ASSERT(r->active);
    if (!r->q->has_held) return -ENOENT;
    MDB_val k = {sizeof(batch_id), &batch_id}, v;
    int rc = mdb_get(r->txn, r->q->held, &k, &v);
    if (rc) return prs_mdb_err(rc);
    if (v.mv_size == 0) /* never written: a hold has rows */
        return PRS_CORRUPT(r->q->path, "batch %llu: an empty held row record",
                           (unsigned long long)batch_id);
    *rows = v.mv_data;
    *len = v.mv_size;
    return 0;
}

int prs_queue_reader_items(prs_queue_reader *r, uint64_t first, uint32_t count, const void **views,
                           size_t *sizes) {
    PRS_ASSERT(r->active);
    uint64_t key = first;
    MDB_val k = {sizeof(key), &key}, v;
    int rc = mdb_cursor_get(r->items_cur, &k, &v, MDB_SET_KEY);
    for (uint32_t i = 0; i < count; i++) {
        if (rc && rc != MDB_NOTFOUND) return prs_mdb_err(rc);
        uint64_t id = 0;
        if (rc == 0) memcpy(&id, k.mv_data, sizeof(id));
        if (rc || id != first + i)
            return PRS_CORRUPT(r->q->path, "item %llu of a batch is missing",
                               (unsigned long long)(first + i));
        views[i] = v.mv_data;
        sizes[i] = v.mv_size;
        if (i + 1 < count) rc = mdb_cursor_get(r->items_cur, &k, &v, MDB_NEXT);
    }
    return 0;
}

int prs_queue_scan_batches(prs_queue *q, uint32_t state, size_t limit,
                           void (*fn)(void *arg, uint64_t id, const prs_batch_rec *rec),
                           void *arg) {
    MDB_txn *txn;
    int rc = mdb_txn_begin(q->env, NULL, MDB_RDONLY, &txn);
    if (rc) return prs_mdb_err(rc);
    MDB_cursor *cur;
    rc = mdb_cursor_open(txn, q->batches, &cur);
    if (rc) goto end_txn;
    MDB_val k, v;
    size_t found = 0;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0 && found < limit) {
        uint64_t id;
        memcpy(&id, k.mv_data, sizeof(id));
        prs_batch_rec rec;
        if (stored_batch(q, id, &v, &rec)) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (state == PRS_QUEUE_ANY_STATE || rec.state == state) {
            fn(arg, id, &rec);
            found++;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (rc == MDB_NOTFOUND) rc = 0;
    mdb_cursor_close(cur);
end_txn:
    mdb_txn_abort(txn);
    return prs_mdb_err(rc);
}
