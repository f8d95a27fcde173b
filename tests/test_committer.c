/* core/committer: group commits on its own thread -- batch states, counters and a meta
 * value committed together, a full group refused, the sticky first error, and a stop
 * that still commits what was handed over. Everything is read back from the queue. */
#include "committer.h"
#include "util.h"

#include <criterion/criterion.h>
#include <string.h>

#define ITEMS 12u
#define PER_BATCH 3u /* 4 batches */

static prs_queue *make_queue(const char *dir) {
    prs_queue *q;
    char err[512];
    cr_assert_eq(prs_queue_open(&q, dir, PRS_DURABILITY_NONE, err, sizeof(err)), 0, "%s", err);
    prs_queue_builder *b;
    cr_assert_eq(prs_queue_build_begin(q, &b), 0);
    for (uint32_t i = 0; i < ITEMS; i++) {
        char name[32];
        int n = snprintf(name, sizeof(name), "item-%u", i);
        cr_assert_eq(prs_queue_build_item(b, name, (size_t)n + 1), 0);
        if ((i + 1) % PER_BATCH == 0)
            cr_assert_eq(prs_queue_build_batch(b, i + 1 - PER_BATCH, PER_BATCH), 0);
    }
    cr_assert_eq(prs_queue_build_end(b), 0);
    return q;
}

static prs_batch_update done(uint64_t batch) {
    return (prs_batch_update){.batch_id = batch,
                              .rec = {.state = PRS_BATCH_DONE,
                                      .attempts = 1,
                                      .first_item = batch * PER_BATCH,
                                      .item_count = PER_BATCH,
                                      .succeeded = PER_BATCH}};
}

static prs_queue_counts counts_after(uint64_t done_batches, uint64_t output_bytes) {
    return (prs_queue_counts){.total_batches = ITEMS / PER_BATCH,
                              .total_items = ITEMS,
                              .done_batches = done_batches,
                              .succeeded_items = done_batches * PER_BATCH,
                              .output_bytes = output_bytes};
}

static uint32_t state_of(prs_queue *q, uint64_t batch) {
    prs_queue_reader *r;
    cr_assert_eq(prs_queue_reader_open(q, &r), 0);
    cr_assert_eq(prs_queue_reader_begin(r), 0);
    prs_batch_rec rec;
    cr_assert_eq(prs_queue_reader_batch(r, batch, &rec), 0);
    prs_queue_reader_end(r);
    prs_queue_reader_close(r);
    return rec.state;
}

Test(committer, groups_commit_states_counts_and_meta_together, .timeout = 60) {
    char dir[256], path[512], err[512];
    tu_tmpdir(dir, sizeof(dir), "committer");
    prs_queue *q = make_queue(dir);
    prs_outfile out;
    snprintf(path, sizeof(path), "%s/out.txt", dir);
    cr_assert_eq(prs_outfile_open(&out, path, 0, err, sizeof(err)), 0, "%s", err);
    prs_committer *c;
    cr_assert_eq(prs_committer_start(&c, q, &out, true, 2), 0);
    prs_batch_update u0 = done(0), u1 = done(1), u2 = done(2);
    cr_assert(prs_committer_add(c, &u0));
    cr_assert(prs_committer_add(c, &u1));
    cr_assert(!prs_committer_add(c, &u2), "a full group refuses more");
    cr_assert_eq(prs_committer_pending(c), 2);
    cr_assert_eq(prs_outfile_append(&out, "row0\nrow1\n", 10), 0);
    prs_queue_counts want = counts_after(2, 10);
    cr_assert_eq(prs_committer_flush(c, &want, "first_error", "none", 4, true), 0);
    cr_assert_eq(prs_committer_pending(c), 0, "a new group is being filled");
    cr_assert_eq(prs_committer_drain(c), 0);
    prs_queue_counts got;
    cr_assert_eq(prs_queue_counts_get(q, &got), 0);
    cr_assert_eq(got.done_batches, 2);
    cr_assert_eq(got.succeeded_items, 6);
    cr_assert_eq(got.output_bytes, 10);
    char meta[16];
    size_t len;
    cr_assert_eq(prs_queue_meta_get(q, "first_error", meta, sizeof(meta), &len), 0);
    cr_assert(len == 4 && !memcmp(meta, "none", 4));
    cr_assert_eq(state_of(q, 0), PRS_BATCH_DONE);
    cr_assert_eq(state_of(q, 1), PRS_BATCH_DONE);
    cr_assert_eq(state_of(q, 2), PRS_BATCH_PENDING);
    /* An empty group still commits its counts; no wait needed once drained. */
    want = counts_after(2, 10);
    cr_assert_eq(prs_committer_flush(c, &want, NULL, NULL, 0, false), 0);
    cr_assert_eq(prs_committer_drain(c), 0);
    prs_committer_stop(c);
    prs_outfile_close(&out);
    prs_queue_close(q);
    tu_rmrf(dir);
}

Test(committer, the_first_error_is_sticky_and_nothing_more_is_committed, .timeout = 60) {
    char dir[256];
    tu_tmpdir(dir, sizeof(dir), "committer");
    prs_queue *q = make_queue(dir);
    prs_committer *c;
    cr_assert_eq(prs_committer_start(&c, q, NULL, false, 4), 0, "no output file");
    prs_batch_update bad = done(0);
    bad.rec.succeeded = PER_BATCH + 1; /* more rows than items: the queue refuses it */
    cr_assert(prs_committer_add(c, &bad));
    prs_queue_counts want = counts_after(1, 0);
    cr_assert_eq(prs_committer_flush(c, &want, NULL, NULL, 0, true), 0, "handed over");
    cr_assert_eq(prs_committer_drain(c), -EINVAL);
    prs_batch_update good = done(1);
    cr_assert(prs_committer_add(c, &good));
    cr_assert_eq(prs_committer_flush(c, &want, NULL, NULL, 0, true), -EINVAL, "sticky");
    cr_assert_eq(prs_committer_drain(c), -EINVAL);
    prs_committer_stop(c);
    prs_queue_counts got;
    cr_assert_eq(prs_queue_counts_get(q, &got), 0);
    cr_assert_eq(got.done_batches, 0, "nothing after the error was committed");
    cr_assert_eq(state_of(q, 0), PRS_BATCH_PENDING);
    cr_assert_eq(state_of(q, 1), PRS_BATCH_PENDING);
    prs_queue_close(q);
    tu_rmrf(dir);
}

Test(committer, stop_commits_what_was_handed_over, .timeout = 60) {
    char dir[256];
    tu_tmpdir(dir, sizeof(dir), "committer");
    prs_queue *q = make_queue(dir);
    prs_committer *c;
    cr_assert_eq(prs_committer_start(&c, q, NULL, false, 4), 0);
    prs_batch_update u = done(3);
    cr_assert(prs_committer_add(c, &u));
    prs_queue_counts want = counts_after(1, 0);
    int rc = prs_committer_flush(c, &want, NULL, NULL, 0, false);
    cr_assert_eq(rc, 0, "nothing was in flight: handed over at once");
    prs_committer_stop(c); /* no drain: stop itself finishes the group */
    cr_assert_eq(state_of(q, 3), PRS_BATCH_DONE);
    prs_queue_counts got;
    cr_assert_eq(prs_queue_counts_get(q, &got), 0);
    cr_assert_eq(got.done_batches, 1);
    prs_committer_stop(NULL);
    prs_queue_close(q);
    tu_rmrf(dir);
}

/* A flush without wait never blocks: it hands over, or says -EBUSY while the previous
 * group is still being committed, and a later flush with wait gets the group through. */
Test(committer, flush_without_wait_hands_over_or_is_busy, .timeout = 60) {
    char dir[256];
    tu_tmpdir(dir, sizeof(dir), "committer");
    prs_queue *q = make_queue(dir);
    prs_committer *c;
    cr_assert_eq(prs_committer_start(&c, q, NULL, false, 1), 0);
    uint64_t handed = 0;
    for (uint64_t b = 0; b < ITEMS / PER_BATCH; b++) {
        prs_batch_update u = done(b);
        cr_assert(prs_committer_add(c, &u));
        prs_queue_counts want = counts_after(b + 1, 0);
        int rc = prs_committer_flush(c, &want, NULL, NULL, 0, false);
        cr_assert(rc == 0 || rc == -EBUSY, "flush: %d", rc);
        if (rc == -EBUSY) {
            cr_assert(!prs_committer_add(c, &u), "the group kept filling: it is full");
            rc = prs_committer_flush(c, &want, NULL, NULL, 0, true);
            cr_assert_eq(rc, 0);
        }
        handed++;
    }
    cr_assert_eq(prs_committer_drain(c), 0);
    prs_committer_stop(c);
    prs_queue_counts got;
    cr_assert_eq(prs_queue_counts_get(q, &got), 0);
    cr_assert_eq(got.done_batches, handed);
    for (uint64_t b = 0; b < ITEMS / PER_BATCH; b++)
        cr_assert_eq(state_of(q, b), PRS_BATCH_DONE);
    prs_queue_close(q);
    tu_rmrf(dir);
}
