/* The LMDB queue: creation, pending windows, group commits, zero-copy items, restart. */
#include "queue.h"
#include "util.h"

#include <criterion/criterion.h>
#include <lmdb.h>
#include <string.h>

static prs_queue *make_queue(const char *dir, uint32_t items, uint32_t per_batch) {
    prs_queue *q;
    char err[512];
    cr_assert_eq(prs_queue_open(&q, dir, PRS_DURABILITY_NONE, err, sizeof(err)), 0, "%s", err);
    cr_assert(!prs_queue_created(q));
    prs_queue_builder *b;
    cr_assert_eq(prs_queue_build_begin(q, &b), 0);
    uint64_t first = 0;
    for (uint32_t i = 0; i < items; i++) {
        char name[32];
        int n = snprintf(name, sizeof(name), "item-%u", i);
        cr_assert_eq(prs_queue_build_item(b, name, (size_t)n + 1), 0);
        if ((i + 1) % per_batch == 0 || i + 1 == items) {
            uint32_t count = (uint32_t)(i + 1 - first);
            cr_assert_eq(prs_queue_build_batch(b, first, count), 0);
            first = i + 1;
        }
    }
    cr_assert_eq(prs_queue_build_meta(b, "config", "x=1\n", 4), 0);
    cr_assert_eq(prs_queue_build_end(b), 0);
    return q;
}

Test(queue, create_read_items_zero_copy) {
    char dir[256];
    tu_tmpdir(dir, sizeof(dir), "queue");
    prs_queue *q = make_queue(dir, 25, 10);
    cr_assert(prs_queue_created(q));
    prs_queue_counts c;
    cr_assert_eq(prs_queue_counts_get(q, &c), 0);
    cr_assert_eq(c.total_items, 25);
    cr_assert_eq(c.total_batches, 3);
    prs_queue_reader *r;
    cr_assert_eq(prs_queue_reader_open(q, &r), 0);
    cr_assert_eq(prs_queue_reader_begin(r), 0);
    uint64_t ids[8], cursor = 0;
    prs_batch_rec recs[8];
    cr_assert_eq(prs_queue_reader_pending(r, &cursor, ids, recs, 8), 3);
    cr_assert_eq(recs[2].first_item, 20);
    cr_assert_eq(recs[2].item_count, 5);
    const void *views[10];
    size_t sizes[10];
    cr_assert_eq(prs_queue_reader_items(r, 10, 10, views, sizes), 0);
    cr_assert_str_eq(views[0], "item-10");
    cr_assert_str_eq(views[9], "item-19");
    cr_assert_eq(prs_queue_reader_items(r, 20, 6, views, sizes), -EBADMSG); /* past the end */
    prs_queue_reader_end(r);
    prs_queue_reader_close(r);
    prs_queue_close(q);
    tu_rmrf(dir);
}

Test(queue, commit_is_durable_across_reopen_and_pending_skips_done) {
    char dir[256], err[512];
    tu_tmpdir(dir, sizeof(dir), "queue");
    prs_queue *q = make_queue(dir, 30, 10);
    prs_batch_update up[2] = {
        {.batch_id = 0,
         .rec = {.state = PRS_BATCH_DONE, .first_item = 0, .item_count = 10, .succeeded = 9}},
        {.batch_id = 2,
         .rec = {.state = PRS_BATCH_PENDING, .attempts = 1, .first_item = 20, .item_count = 10}},
    };
    prs_queue_counts c = {.total_batches = 3,
                          .total_items = 30,
                          .done_batches = 1,
                          .succeeded_items = 9,
                          .failed_items = 1,
                          .output_bytes = 77};
    cr_assert_eq(prs_queue_commit(q, up, 2, &c, "first_error", "boom", 4), 0);
    prs_queue_close(q);

    cr_assert_eq(prs_queue_open(&q, dir, PRS_DURABILITY_NONE, err, sizeof(err)), 0);
    prs_queue_counts got;
    cr_assert_eq(prs_queue_counts_get(q, &got), 0);
    cr_assert_eq(memcmp(&got, &c, sizeof(c)), 0);
    char val[16];
    size_t len;
    cr_assert_eq(prs_queue_meta_get(q, "first_error", val, sizeof(val), &len), 0);
    cr_assert_eq(len, 4);
    cr_assert_eq(prs_queue_meta_get(q, "missing", val, sizeof(val), &len), -ENOENT);
    prs_queue_reader *r;
    cr_assert_eq(prs_queue_reader_open(q, &r), 0);
    cr_assert_eq(prs_queue_reader_begin(r), 0);
    uint64_t ids[8], cursor = 0;
    prs_batch_rec recs[8];
    cr_assert_eq(prs_queue_reader_pending(r, &cursor, ids, recs, 8), 2);
    cr_assert_eq(ids[0], 1);
    cr_assert_eq(ids[1], 2);
    cr_assert_eq(recs[1].attempts, 1);
    cr_assert_eq(prs_queue_reader_pending(r, &cursor, ids, recs, 8), 0);
    prs_queue_reader_end(r);
    prs_queue_reader_close(r);
    prs_queue_close(q);
    tu_rmrf(dir);
}

Test(queue, rebuilding_empties_a_half_built_job) {
    char dir[256];
    tu_tmpdir(dir, sizeof(dir), "queue");
    prs_queue *q = make_queue(dir, 5, 2);
    prs_queue_close(q);
    char err[512];
    cr_assert_eq(prs_queue_open(&q, dir, PRS_DURABILITY_NONE, err, sizeof(err)), 0);
    prs_queue_builder *b;
    cr_assert_eq(prs_queue_build_begin(q, &b), 0);
    cr_assert_eq(prs_queue_build_item(b, "x", 2), 0);
    prs_queue_build_abort(b); /* nothing of the new build, but the old job is untouched */
    cr_assert(prs_queue_created(q));
    prs_queue_close(q);
    tu_rmrf(dir);
}

Test(queue, corrupt_state_file_is_refused) {
    char dir[256], path[512], err[512] = "";
    tu_tmpdir(dir, sizeof(dir), "queue");
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    char junk[8192];
    memset(junk, 0x5a, sizeof(junk));
    tu_write(path, junk, sizeof(junk));
    prs_queue *q;
    cr_assert_lt(prs_queue_open(&q, dir, PRS_DURABILITY_NONE, err, sizeof(err)), 0);
    cr_assert(strstr(err, "data.mdb") != NULL, "%s", err);
    tu_rmrf(dir);
}

Test(queue, tabular_range_records_round_trip_and_bad_ones_are_refused) {
    prs_tab_ref ref = {.offset = 1234,
                       .length = 99,
                       .first_line = 7,
                       .header_offset = 3,
                       .header_size = 12,
                       .records = 5,
                       .path = "data/in.csv"};
    unsigned char buf[PRS_QUEUE_MAX_ITEM_BYTES];
    size_t len = 0;
    cr_assert_eq(prs_queue_tab_encode(&ref, buf, sizeof(buf), &len), 0);
    prs_tab_ref back;
    cr_assert_eq(prs_queue_tab_decode(buf, len, &back), 0);
    cr_assert(back.offset == 1234 && back.length == 99 && back.first_line == 7 &&
              back.header_offset == 3 && back.header_size == 12 && back.records == 5);
    cr_assert_str_eq(back.path, "data/in.csv");
    /* Every truncation, a wrong magic, a path without its NUL or with one inside, and zero
     * records are refused, never read past. */
    for (size_t cut = 0; cut < len; cut++)
        cr_assert_eq(prs_queue_tab_decode(buf, cut, &back), -EBADMSG);
    unsigned char bad[PRS_QUEUE_MAX_ITEM_BYTES];
    memcpy(bad, buf, len);
    bad[0] ^= 1;
    cr_assert_eq(prs_queue_tab_decode(bad, len, &back), -EBADMSG);
    memcpy(bad, buf, len);
    bad[len - 1] = 'x';
    cr_assert_eq(prs_queue_tab_decode(bad, len, &back), -EBADMSG);
    memcpy(bad, buf, len);
    bad[len - 3] = 0;
    cr_assert_eq(prs_queue_tab_decode(bad, len, &back), -EBADMSG);
    ref.records = 0;
    cr_assert_eq(prs_queue_tab_encode(&ref, buf, sizeof(buf), &len), 0);
    cr_assert_eq(prs_queue_tab_decode(buf, len, &back), -EBADMSG);
    /* A files job's item (a bare path) is not a range record. */
    cr_assert_eq(prs_queue_tab_decode("data/in.csv", 12, &back), -EBADMSG);
    char long_path[PRS_QUEUE_MAX_ITEM_BYTES];
    memset(long_path, 'p', sizeof(long_path) - 1);
    long_path[sizeof(long_path) - 1] = 0;
    ref.path = long_path;
    cr_assert_eq(prs_queue_tab_encode(&ref, buf, sizeof(buf), &len), -ENAMETOOLONG);
}

/* --partition-keys: a range record with its partition's key values (PTB2). */
Test(queue, partition_range_records_carry_key_values) {
    prs_tab_ref ref = {.offset = 10,
                       .length = 20,
                       .first_line = 2,
                       .records = 3,
                       .path = "/out/.prs/partitions",
                       .key_count = 2,
                       .keys_missing = 2,
                       .key_values = "CA\0\0",
                       .key_values_len = 4};
    unsigned char buf[PRS_QUEUE_MAX_ITEM_BYTES];
    size_t len = 0;
    cr_assert_eq(prs_queue_tab_encode(&ref, buf, sizeof(buf), &len), 0);
    prs_tab_ref back;
    cr_assert_eq(prs_queue_tab_decode(buf, len, &back), 0);
    cr_assert_eq(back.key_count, 2);
    cr_assert_eq(back.keys_missing, 2);
    cr_assert_eq(back.key_values_len, 4);
    cr_assert(!memcmp(back.key_values, "CA\0\0", 4));
    cr_assert_str_eq(back.path, "/out/.prs/partitions");
    for (size_t cut = 0; cut < len; cut++)
        cr_assert_eq(prs_queue_tab_decode(buf, cut, &back), -EBADMSG, "cut at %zu", cut);
    unsigned char bad[PRS_QUEUE_MAX_ITEM_BYTES];
    memcpy(bad, buf, len);
    bad[len - 2] = 'x'; /* one NUL fewer than keys */
    cr_assert_eq(prs_queue_tab_decode(bad, len, &back), -EBADMSG);
    ref.keys_missing = 4; /* a missing bit past the keys */
    cr_assert_eq(prs_queue_tab_encode(&ref, buf, sizeof(buf), &len), 0);
    cr_assert_eq(prs_queue_tab_decode(buf, len, &back), -EBADMSG);
    /* An unpartitioned record decodes with no keys. */
    ref.key_count = 0;
    cr_assert_eq(prs_queue_tab_encode(&ref, buf, sizeof(buf), &len), 0);
    cr_assert_eq(prs_queue_tab_decode(buf, len, &back), 0);
    cr_assert_eq(back.key_count, 0);
    cr_assert_null(back.key_values);
}

/* ---- record encodings: decode refuses what no run can write ------------------------------ */

static void batch_bytes(const prs_batch_rec *r, uint8_t out[PRS_QUEUE_BATCH_BYTES]) {
    prs_queue_batch_encode(r, out);
}

Test(queue, batch_record_round_trips) {
    const prs_batch_rec recs[] = {
        {.state = PRS_BATCH_PENDING, .attempts = 0, .first_item = 0, .item_count = 1},
        {.state = PRS_BATCH_PENDING, .attempts = 2, .first_item = 1u << 30, .item_count = 64},
        {.state = PRS_BATCH_DONE, .attempts = 1, .first_item = 7, .item_count = 10, .succeeded = 9},
        {.state = PRS_BATCH_FAILED,
         .attempts = PRS_QUEUE_MAX_ATTEMPTS,
         .first_item = UINT64_MAX - 5,
         .item_count = 5},
    };
    for (size_t i = 0; i < PRS_ARRAY_LEN(recs); i++) {
        uint8_t enc[PRS_QUEUE_BATCH_BYTES];
        batch_bytes(&recs[i], enc);
        prs_batch_rec got;
        cr_assert_eq(prs_queue_batch_decode(enc, sizeof(enc), &got), 0, "record %zu", i);
        cr_assert_eq(memcmp(&got, &recs[i], sizeof(got)), 0, "record %zu", i);
    }
}

Test(queue, batch_decode_refuses_impossible_records) {
    const prs_batch_rec bad[] = {
        {.state = 3, .item_count = 1}, /* bad state */
        {.state = PRS_BATCH_PENDING, .attempts = PRS_QUEUE_MAX_ATTEMPTS + 1, .item_count = 1},
        {.state = PRS_BATCH_FAILED, .attempts = 0, .item_count = 1}, /* failed untried */
        {.state = PRS_BATCH_PENDING, .item_count = 0},               /* empty batch */
        {.state = PRS_BATCH_PENDING, .first_item = UINT64_MAX, .item_count = 1}, /* wraps */
        {.state = PRS_BATCH_DONE, .item_count = 3, .succeeded = 4},              /* more rows */
        {.state = PRS_BATCH_PENDING, .item_count = 3, .succeeded = 1}, /* rows, not done */
    };
    for (size_t i = 0; i < PRS_ARRAY_LEN(bad); i++) {
        uint8_t enc[PRS_QUEUE_BATCH_BYTES];
        batch_bytes(&bad[i], enc);
        prs_batch_rec got;
        cr_assert_eq(prs_queue_batch_decode(enc, sizeof(enc), &got), -EINVAL, "record %zu", i);
    }
    /* Truncated or padded: any length but the one. */
    uint8_t enc[PRS_QUEUE_BATCH_BYTES + 1] = {0};
    prs_batch_rec ok = {.state = PRS_BATCH_PENDING, .item_count = 1}, got;
    batch_bytes(&ok, enc);
    for (size_t len = 0; len <= sizeof(enc); len++)
        cr_assert_eq(prs_queue_batch_decode(enc, len, &got),
                     len == PRS_QUEUE_BATCH_BYTES ? 0 : -EINVAL);
}

Test(queue, counts_decode_refuses_counts_that_do_not_add_up) {
    prs_queue_counts good = {.total_batches = 10,
                             .total_items = 100,
                             .done_batches = 6,
                             .failed_batches = 4,
                             .succeeded_items = 90,
                             .failed_items = 10,
                             .output_bytes = 12345};
    uint8_t enc[PRS_QUEUE_COUNTS_BYTES];
    prs_queue_counts_encode(&good, enc);
    prs_queue_counts got;
    cr_assert_eq(prs_queue_counts_decode(enc, sizeof(enc), &got), 0);
    cr_assert_eq(memcmp(&got, &good, sizeof(got)), 0);
    cr_assert_eq(prs_queue_counts_decode(enc, sizeof(enc) - 1, &got), -EINVAL); /* truncated */

    prs_queue_counts bad[5];
    for (size_t i = 0; i < 5; i++)
        bad[i] = good;
    bad[0].done_batches = 7;            /* done + failed > total */
    bad[1].failed_items = 11;           /* succeeded + failed > items */
    bad[2].total_batches = 101;         /* more batches than items */
    bad[3].failed_batches = UINT64_MAX; /* a sum that would wrap to look small */
    bad[4].succeeded_items = UINT64_MAX - 5;
    for (size_t i = 0; i < 5; i++) {
        prs_queue_counts_encode(&bad[i], enc);
        cr_assert_eq(prs_queue_counts_decode(enc, sizeof(enc), &got), -EINVAL, "counts %zu", i);
    }
}

Test(queue, item_decode_refuses_garbage) {
    char buf[PRS_QUEUE_MAX_ITEM_BYTES + 8];
    size_t len;
    cr_assert_eq(prs_queue_item_encode("a/b.txt", 7, buf, sizeof(buf), &len), 0);
    const char *name;
    size_t name_len;
    cr_assert_eq(prs_queue_item_decode(buf, len, &name, &name_len), 0);
    cr_assert_eq(name_len, 7);
    cr_assert_str_eq(name, "a/b.txt");
    cr_assert_eq(prs_queue_item_decode(buf, len - 1, &name, &name_len), -EINVAL); /* no NUL */
    cr_assert_eq(prs_queue_item_decode("a\0b\0", 4, &name, &name_len), -EINVAL);  /* NUL inside */
    cr_assert_eq(prs_queue_item_decode("\0", 1, &name, &name_len), -EINVAL);      /* empty */
    cr_assert_eq(prs_queue_item_encode("a\0b", 3, buf, sizeof(buf), &len), -EINVAL);
    memset(buf, 'x', sizeof(buf));
    cr_assert_eq(prs_queue_item_encode(buf, PRS_QUEUE_MAX_ITEM_BYTES, buf, sizeof(buf), &len),
                 -ENAMETOOLONG);
}

/* A stored record that decodes as impossible makes the store say the state is corrupt. */
Test(queue, commit_refuses_an_impossible_record) {
    char dir[256];
    tu_tmpdir(dir, sizeof(dir), "queue");
    prs_queue *q = make_queue(dir, 10, 5);
    prs_queue_counts c;
    cr_assert_eq(prs_queue_counts_get(q, &c), 0);
    prs_batch_update up = {.batch_id = 0,
                           .rec = {.state = PRS_BATCH_DONE, .item_count = 5, .succeeded = 6}};
    cr_assert_eq(prs_queue_commit(q, &up, 1, &c, NULL, NULL, 0), -EINVAL);
    c.done_batches = c.total_batches + 1;
    up.rec.succeeded = 5;
    cr_assert_eq(prs_queue_commit(q, &up, 1, &c, NULL, NULL, 0), -EINVAL);
    prs_queue_counts again;
    cr_assert_eq(prs_queue_counts_get(q, &again), 0);
    cr_assert_eq(again.done_batches, 0); /* nothing was written */
    prs_queue_close(q);
    tu_rmrf(dir);
}

/* Bytes read back that no run writes: every read path says -EBADMSG (and names data.mdb
 * on stderr), never asserts. The damage is written with LMDB itself. */
static void damage_queue(const char *dir, const char *dbname, uint64_t id, const char *key,
                         const void *val, size_t len) {
    MDB_env *env;
    cr_assert_eq(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 8);
    cr_assert_eq(mdb_env_open(env, dir, 0, 0644), 0);
    MDB_txn *txn;
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    MDB_dbi dbi;
    cr_assert_eq(mdb_dbi_open(txn, dbname, key ? 0 : MDB_INTEGERKEY, &dbi), 0);
    MDB_val k = key ? (MDB_val){strlen(key), (void *)(uintptr_t)key} : (MDB_val){sizeof(id), &id};
    MDB_val v = {len, (void *)(uintptr_t)val};
    cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

Test(queue, damaged_records_read_back_are_ebadmsg) {
    char dir[256];
    tu_tmpdir(dir, sizeof(dir), "queue");
    prs_queue *q = make_queue(dir, 6, 3);
    prs_queue_close(q);
    uint8_t bad[PRS_QUEUE_BATCH_BYTES] = {9}; /* state 9: no such state */
    damage_queue(dir, "batches", 1, NULL, bad, sizeof(bad));
    damage_queue(dir, "meta", 0, "counts", "short", 5);
    char err[512];
    cr_assert_eq(prs_queue_open(&q, dir, PRS_DURABILITY_NONE, err, sizeof(err)), 0, "%s", err);
    prs_queue_counts c;
    cr_assert_eq(prs_queue_counts_get(q, &c), -EBADMSG);
    prs_queue_reader *r;
    cr_assert_eq(prs_queue_reader_open(q, &r), 0);
    cr_assert_eq(prs_queue_reader_begin(r), 0);
    prs_batch_rec rec;
    cr_assert_eq(prs_queue_reader_batch(r, 0, &rec), 0, "the batch before is fine");
    cr_assert_eq(prs_queue_reader_batch(r, 1, &rec), -EBADMSG);
    uint64_t cursor = 0, ids[4];
    prs_batch_rec recs[4];
    cr_assert_eq(prs_queue_reader_pending(r, &cursor, ids, recs, 4), -EBADMSG);
    prs_queue_reader_end(r);
    prs_queue_reader_close(r);
    prs_queue_close(q);
    tu_rmrf(dir);
}
