/* storage/sidedb: loading (key, row) pairs, reuse and refusal of an earlier load,
 * lookups of inline and big records, and damaged bytes reported as -EBADMSG instead of
 * asserted on. The file-reading half (core/side) is covered by test_side. */
#include "sidedb.h"
#include "util.h"

#include <criterion/criterion.h>
#include <lmdb.h>
#include <string.h>
#include <xxhash.h>

static prs_sidedb *open_db(const char *dir) {
    prs_sidedb *db;
    char err[512];
    cr_assert_eq(prs_sidedb_open(&db, dir, 4, err, sizeof(err)), 0, "%s", err);
    return db;
}

static const prs_sidedb_source SRC = {.size_bytes = 100, .mtime_ns = 5, .content_hash = 0xabc};

/* name -> rows: k0..k(n-1) small ("v<i>"), and one big row under "big". */
static char big_row[200];

static void load_table(prs_sidedb *db, const char *name, const prs_sidedb_source *src, uint32_t n,
                       prs_sidedb_load_info *info) {
    prs_sidedb_load *l;
    prs_sidedb_stale stale;
    cr_assert_eq(prs_sidedb_load_begin(db, name, src, &l, info, &stale), 0);
    cr_assert(l);
    static char rows[64][16];
    for (uint32_t i = 0; i < n; i++) {
        char key[16];
        int kl = snprintf(key, sizeof(key), "k%u", i);
        int rl = snprintf(rows[i], sizeof(rows[i]), "v%u", i);
        cr_assert_eq(prs_sidedb_load_add(l, key, (size_t)kl, rows[i], (size_t)rl), 0);
    }
    memset(big_row, 'x', sizeof(big_row));
    cr_assert_eq(prs_sidedb_load_add(l, "big", 3, big_row, sizeof(big_row)), 0);
    cr_assert_eq(prs_sidedb_load_add(l, "k0", 2, "dup", 3), 0, "a duplicate");
    cr_assert_eq(prs_sidedb_load_add(l, "", 0, "nokey", 5), 0, "an empty key");
    prs_sidedb_load_header(l, "key,value", 9);
    cr_assert_eq(prs_sidedb_load_finish(l, info), 0);
}

static void expect_get(prs_sidedb_reader *r, uint32_t t, const char *key, const void *want,
                       size_t want_len) {
    const void *v;
    size_t n;
    int rc = prs_sidedb_get(r, t, key, strlen(key), &v, &n);
    cr_assert_eq(rc, 0, "%s: %d", key, rc);
    cr_assert_eq(n, want_len, "%s", key);
    cr_assert(memcmp(v, want, n) == 0, "%s", key);
}

Test(sidedb, load_and_look_up_inline_and_big_rows, .timeout = 60) {
    char dir[256];
    tu_tmpdir(dir, sizeof(dir), "sidedb");
    prs_sidedb *db = open_db(dir);
    prs_sidedb_load_info info;
    load_table(db, "t", &SRC, 50, &info);
    cr_assert(!info.reused);
    cr_assert_eq(info.rows, 51);
    cr_assert_eq(info.duplicates, 1);
    cr_assert_eq(info.empty_keys, 1);
    cr_assert_gt(info.stored_bytes, sizeof(big_row));
    cr_assert_eq(prs_sidedb_table_count(db), 1);
    cr_assert_str_eq(prs_sidedb_table_name(db, 0), "t");
    prs_sidedb_reader *r;
    cr_assert_eq(prs_sidedb_reader_open(db, &r), 0);
    cr_assert_eq(prs_sidedb_find(r, "t"), 0);
    cr_assert_eq(prs_sidedb_find(r, "nope"), -EINVAL);
    cr_assert(!prs_sidedb_reader_active(r));
    cr_assert_eq(prs_sidedb_reader_begin(r), 0);
    cr_assert_eq(prs_sidedb_reader_begin(r), 0, "begin twice is fine");
    expect_get(r, 0, "k0", "v0", 2); /* the first row of a key wins */
    expect_get(r, 0, "k49", "v49", 3);
    expect_get(r, 0, "big", big_row, sizeof(big_row));
    const void *v;
    size_t n;
    cr_assert_eq(prs_sidedb_get(r, 0, "k50", 3, &v, &n), -ENOENT);
    cr_assert_eq(prs_sidedb_get(r, 0, "", 0, &v, &n), -ENOENT, "empty keys are not stored");
    cr_assert_eq(prs_sidedb_header(r, 0, &v, &n), 0);
    cr_assert(n == 9 && !memcmp(v, "key,value", 9));
    const void *keys[4] = {"k1", "missing", "big", "k2"};
    size_t lens[4] = {2, 7, 3, 2};
    const void *vals[4];
    size_t vlens[4];
    int found[4];
    cr_assert_eq(prs_sidedb_get_many(r, 0, 4, keys, lens, vals, vlens, found), 3);
    cr_assert(found[0] == 0 && found[1] == -ENOENT && found[2] == 0 && found[3] == 0);
    cr_assert(vlens[2] == sizeof(big_row) && !memcmp(vals[3], "v2", 2));
    prs_sidedb_reader_end(r);
    cr_assert(!prs_sidedb_reader_active(r));
    prs_sidedb_reader_end(r); /* fine when none is active */
    prs_sidedb_reader_close(r);
    prs_sidedb_close(db);
    tu_rmrf(dir);
}

Test(sidedb, same_source_is_reused_a_different_one_refused, .timeout = 60) {
    char dir[256];
    tu_tmpdir(dir, sizeof(dir), "sidedb");
    prs_sidedb *db = open_db(dir);
    prs_sidedb_load_info info;
    load_table(db, "t", &SRC, 10, &info);
    prs_sidedb_close(db);

    db = open_db(dir);
    prs_sidedb_source touched = SRC;
    touched.mtime_ns = 999; /* a touched mtime alone is no change */
    prs_sidedb_load *l = (prs_sidedb_load *)1;
    prs_sidedb_stale stale;
    cr_assert_eq(prs_sidedb_load_begin(db, "t", &touched, &l, &info, &stale), PRS_SIDEDB_REUSED);
    cr_assert_null(l);
    cr_assert(info.reused);
    cr_assert_eq(info.rows, 11);
    cr_assert_eq(info.duplicates, 1);
    cr_assert_eq(info.empty_keys, 1);
    cr_assert_eq(prs_sidedb_table_count(db), 1);
    prs_sidedb_close(db);

    db = open_db(dir);
    prs_sidedb_source changed = SRC;
    changed.content_hash = 0xdef;
    cr_assert_eq(prs_sidedb_load_begin(db, "t", &changed, &l, &info, &stale), -ESTALE);
    cr_assert_eq(stale.size_bytes, 100);
    cr_assert_eq(stale.content_hash, 0xabc);
    cr_assert(!stale.spec_differs);
    cr_assert_eq(prs_sidedb_table_count(db), 0, "a refused table is not registered");
    prs_sidedb_source rekeyed = SRC;
    rekeyed.key = "label";
    cr_assert_eq(prs_sidedb_load_begin(db, "t", &rekeyed, &l, &info, &stale), -ESTALE);
    cr_assert(stale.spec_differs);
    prs_sidedb_source reformatted = SRC;
    reformatted.format = 2;
    cr_assert_eq(prs_sidedb_load_begin(db, "t", &reformatted, &l, &info, &stale), -ESTALE);
    cr_assert(stale.spec_differs);
    prs_sidedb_close(db);
    tu_rmrf(dir);
}

Test(sidedb, an_aborted_load_is_redone, .timeout = 60) {
    char dir[256];
    tu_tmpdir(dir, sizeof(dir), "sidedb");
    prs_sidedb *db = open_db(dir);
    prs_sidedb_load *l;
    prs_sidedb_load_info info;
    prs_sidedb_stale stale;
    cr_assert_eq(prs_sidedb_load_begin(db, "t", &SRC, &l, &info, &stale), 0);
    cr_assert_eq(prs_sidedb_load_add(l, "a", 1, "old", 3), 0);
    prs_sidedb_load_abort(l);
    prs_sidedb_load_abort(NULL);
    cr_assert_eq(prs_sidedb_table_count(db), 0);
    cr_assert_eq(prs_sidedb_load_begin(db, "t", &SRC, &l, &info, &stale), 0, "not reused");
    cr_assert_eq(prs_sidedb_load_add(l, "b", 1, "new", 3), 0);
    cr_assert_eq(prs_sidedb_load_finish(l, &info), 0);
    cr_assert_eq(info.rows, 1);
    prs_sidedb_reader *r;
    cr_assert_eq(prs_sidedb_reader_open(db, &r), 0);
    cr_assert_eq(prs_sidedb_reader_begin(r), 0);
    const void *v;
    size_t n;
    cr_assert_eq(prs_sidedb_get(r, 0, "a", 1, &v, &n), -ENOENT);
    expect_get(r, 0, "b", "new", 3);
    prs_sidedb_reader_close(r);
    prs_sidedb_close(db);
    tu_rmrf(dir);
}

Test(sidedb, limits_are_errors_not_asserts, .timeout = 60) {
    char dir[256], err[256];
    tu_tmpdir(dir, sizeof(dir), "sidedb");
    prs_sidedb *db;
    cr_assert_eq(prs_sidedb_open(&db, dir, 65, err, sizeof(err)), -EINVAL);
    cr_assert(strstr(err, "at most 64"), "%s", err);
    char missing[300];
    snprintf(missing, sizeof(missing), "%s/no/such/dir", dir);
    cr_assert_eq(prs_sidedb_open(&db, missing, 1, err, sizeof(err)), -ENOENT);
    cr_assert(strstr(err, "data.mdb"), "%s", err);
    db = open_db(dir);
    prs_sidedb_load *l;
    prs_sidedb_load_info info;
    prs_sidedb_stale stale;
    char name[80];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = 0;
    cr_assert_eq(prs_sidedb_load_begin(db, name, &SRC, &l, &info, &stale), -EINVAL);
    cr_assert_eq(prs_sidedb_load_begin(db, "", &SRC, &l, &info, &stale), -EINVAL);
    char key[300];
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = 0;
    prs_sidedb_source long_key = SRC;
    long_key.key = key;
    cr_assert_eq(prs_sidedb_load_begin(db, "t", &long_key, &l, &info, &stale), -EINVAL);
    cr_assert_eq(prs_sidedb_load_begin(db, "t", &SRC, &l, &info, &stale), 0);
    /* Sizes are checked before any byte is read: the pointers are never touched. */
    cr_assert_eq(prs_sidedb_load_add(l, "k", (size_t)PRS_SIDEDB_MAX_RECORD_BYTES + 1, "v", 1),
                 -EFBIG);
    cr_assert_eq(prs_sidedb_load_add(l, "k", 1, "v", (size_t)PRS_SIDEDB_MAX_RECORD_BYTES + 1),
                 -EFBIG);
    prs_sidedb_load_abort(l);
    prs_sidedb_close(db);
    tu_rmrf(dir);
}

/* ---- damaged bytes: written straight into the environment with LMDB ------------------- */

typedef void (*damage_fn)(MDB_txn *txn, MDB_dbi dbi);

static void damage(const char *dir, const char *table, damage_fn fn) {
    MDB_env *env;
    cr_assert_eq(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 8);
    mdb_env_set_mapsize(env, 1ull << 30);
    cr_assert_eq(mdb_env_open(env, dir, 0, 0644), 0);
    MDB_txn *txn;
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    char name[80];
    snprintf(name, sizeof(name), "t:%s", table);
    MDB_dbi dbi;
    cr_assert_eq(mdb_dbi_open(txn, name, 0, &dbi), 0);
    fn(txn, dbi);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static MDB_val get_val(MDB_txn *txn, MDB_dbi dbi, const char *key) {
    MDB_val k = {strlen(key), (void *)(uintptr_t)key}, v;
    cr_assert_eq(mdb_get(txn, dbi, &k, &v), 0, "%s", key);
    return v;
}

static void put_val(MDB_txn *txn, MDB_dbi dbi, const char *key, const void *data, size_t len) {
    MDB_val k = {strlen(key), (void *)(uintptr_t)key}, v = {len, (void *)(uintptr_t)data};
    cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0, "%s", key);
}

static void meta_too_short(MDB_txn *txn, MDB_dbi dbi) {
    MDB_val m = get_val(txn, dbi, "meta");
    char copy[512];
    memcpy(copy, m.mv_data, m.mv_size);
    put_val(txn, dbi, "meta", copy, m.mv_size - 8);
}

/* The meta's identity still matches (the table is kept), its record count is absurd. */
static void meta_counts_out_of_range(MDB_txn *txn, MDB_dbi dbi) {
    MDB_val m = get_val(txn, dbi, "meta");
    char copy[512];
    memcpy(copy, m.mv_data, m.mv_size);
    uint64_t chunks = 1ull << 20;
    memcpy(copy + 72, &chunks, 8); /* side_meta.chunks */
    put_val(txn, dbi, "meta", copy, m.mv_size);
}

static void index_truncated(MDB_txn *txn, MDB_dbi dbi) {
    MDB_val m = get_val(txn, dbi, "i.0");
    put_val(txn, dbi, "i.0", m.mv_data, m.mv_size - 64);
}

static void records_missing(MDB_txn *txn, MDB_dbi dbi) {
    MDB_val k = {3, "r.0"};
    cr_assert_eq(mdb_del(txn, dbi, &k, NULL), 0);
}

/* Every bucket claims to hold "big" (its tag), at a location outside the stored records. */
static void buckets_point_outside(MDB_txn *txn, MDB_dbi dbi) {
    MDB_val m = get_val(txn, dbi, "i.0");
    unsigned char *b = malloc(m.mv_size);
    memcpy(b, m.mv_data, m.mv_size);
    uint64_t h = XXH3_64bits("big", 3);
    uint32_t tag = (uint32_t)h | 1u;
    for (size_t off = 48; off + 64 <= m.mv_size; off += 64) {
        uint64_t loc = 1ull << 40; /* chunk 4096: never stored */
        memcpy(b + off, &tag, 4);
        b[off + 4] = 0xff;
        b[off + 5] = 0xff;
        b[off + 6] = b[off + 7] = 0;
        memcpy(b + off + 8, &loc, 8);
    }
    put_val(txn, dbi, "i.0", b, m.mv_size);
    free(b);
}

/* Every bucket claims "k1" inline, with lengths that overrun the bucket. */
static void inline_lengths_overrun(MDB_txn *txn, MDB_dbi dbi) {
    MDB_val m = get_val(txn, dbi, "i.0");
    unsigned char *b = malloc(m.mv_size);
    memcpy(b, m.mv_data, m.mv_size);
    uint32_t tag = (uint32_t)XXH3_64bits("k1", 2) | 1u;
    for (size_t off = 48; off + 64 <= m.mv_size; off += 64) {
        memcpy(b + off, &tag, 4);
        b[off + 4] = 2; /* key 2 bytes, row 60: past the 56 a bucket holds */
        b[off + 5] = 0;
        b[off + 6] = 60;
        b[off + 7] = 0;
    }
    put_val(txn, dbi, "i.0", b, m.mv_size);
    free(b);
}

/* Loads a table, damages it, and returns what a reader's begin (and, if that works, a
 * lookup of key) says. */
static void expect_damage(damage_fn fn, int want_begin, const char *key, int want_get) {
    char dir[256];
    tu_tmpdir(dir, sizeof(dir), "sidedb");
    prs_sidedb *db = open_db(dir);
    prs_sidedb_load_info info;
    load_table(db, "t", &SRC, 20, &info);
    prs_sidedb_close(db);
    damage(dir, "t", fn);
    db = open_db(dir);
    prs_sidedb_load *l;
    prs_sidedb_stale stale;
    /* The meta still matches: the damaged table is kept, as a resumed job would. */
    int rc = prs_sidedb_load_begin(db, "t", &SRC, &l, &info, &stale);
    cr_assert_eq(rc, PRS_SIDEDB_REUSED, "the damaged table is registered: %d", rc);
    prs_sidedb_reader *r;
    cr_assert_eq(prs_sidedb_reader_open(db, &r), 0);
    cr_assert_eq(prs_sidedb_reader_begin(r), want_begin);
    cr_assert(prs_sidedb_reader_active(r) == (want_begin == 0));
    if (want_begin == 0) {
        const void *v;
        size_t n;
        cr_assert_eq(prs_sidedb_get(r, 0, key, strlen(key), &v, &n), want_get);
        const void *keys[1] = {key};
        size_t lens[1] = {strlen(key)};
        const void *vals[1];
        size_t vlens[1];
        int found[1];
        cr_assert_eq(prs_sidedb_get_many(r, 0, 1, keys, lens, vals, vlens, found), 0);
        cr_assert_eq(found[0], want_get);
    }
    prs_sidedb_reader_close(r);
    prs_sidedb_close(db);
    tu_rmrf(dir);
}

Test(sidedb, damaged_index_or_records_are_ebadmsg, .timeout = 60) {
    expect_damage(meta_counts_out_of_range, -EBADMSG, NULL, 0);
    expect_damage(index_truncated, -EBADMSG, NULL, 0);
    expect_damage(records_missing, -EBADMSG, NULL, 0);
    expect_damage(buckets_point_outside, 0, "big", -EBADMSG);
    expect_damage(inline_lengths_overrun, 0, "k1", -EBADMSG);
}

/* A meta of the wrong size is no load this version wrote: the next load redoes it. */
Test(sidedb, a_meta_of_the_wrong_size_is_loaded_again, .timeout = 60) {
    char dir[256];
    tu_tmpdir(dir, sizeof(dir), "sidedb");
    prs_sidedb *db = open_db(dir);
    prs_sidedb_load_info info;
    load_table(db, "t", &SRC, 5, &info);
    prs_sidedb_close(db);
    damage(dir, "t", meta_too_short);
    db = open_db(dir);
    prs_sidedb_load *l;
    prs_sidedb_stale stale;
    cr_assert_eq(prs_sidedb_load_begin(db, "t", &SRC, &l, &info, &stale), 0, "loaded again");
    cr_assert_eq(prs_sidedb_load_add(l, "a", 1, "b", 1), 0);
    cr_assert_eq(prs_sidedb_load_finish(l, &info), 0);
    cr_assert_eq(info.rows, 1);
    prs_sidedb_close(db);
    tu_rmrf(dir);
}
