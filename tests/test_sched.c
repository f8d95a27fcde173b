/* Unit tests of the pure scheduler: every threshold at its edge, retries, init failure. */
#include "sched.h"

#include <criterion/criterion.h>

static prs_sched s;

static prs_sched_limits limits(uint32_t max_try, int64_t err, int64_t cnt, uint32_t pct) {
    return (prs_sched_limits){.run_max_try = max_try,
                              .error_threshold = err,
                              .allowed_failed_count = cnt,
                              .allowed_failed_percent = pct,
                              .run_timeout_ms = 0,
                              .slots = 4,
                              .workers = 2};
}

static void setup(prs_sched_limits l, uint64_t batches, uint64_t items) {
    prs_sched_counts c = {.total_batches = batches, .total_items = items};
    cr_assert_eq(prs_sched_init(&s, &l, &c), 0);
    prs_sched_worker_init(&s, true);
    prs_sched_worker_init(&s, true);
}

/* Starts the next new batch (id given by the caller, as the store would). */
static void start_new(uint64_t id, uint32_t items) {
    prs_ticket t;
    cr_assert_eq(prs_sched_next(&s, &t), PRS_PICK_NEW);
    t = (prs_ticket){.batch_id = id, .attempt = 1, .item_count = items};
    prs_sched_start(&s, &t, 0);
}

Test(sched, rejects_bad_limits) {
    prs_sched_counts c = {0};
    prs_sched_limits l = limits(0, -1, -1, 100);
    cr_assert_eq(prs_sched_init(&s, &l, &c), -EINVAL);
    l = limits(3, -2, -1, 100);
    cr_assert_eq(prs_sched_init(&s, &l, &c), -EINVAL);
    l = limits(3, -1, -1, 101);
    cr_assert_eq(prs_sched_init(&s, &l, &c), -EINVAL);
}

Test(sched, no_start_before_a_worker_is_ready) {
    prs_sched_limits l = limits(3, -1, -1, 100);
    prs_sched_counts c = {.total_batches = 1, .total_items = 1};
    cr_assert_eq(prs_sched_init(&s, &l, &c), 0);
    prs_ticket t;
    cr_assert_eq(prs_sched_next(&s, &t), PRS_PICK_WAIT);
    prs_sched_worker_init(&s, false);
    cr_assert_eq(prs_sched_next(&s, &t), PRS_PICK_WAIT);
    prs_sched_worker_init(&s, false);
    cr_assert_eq(prs_sched_next(&s, &t), PRS_PICK_END);
    cr_assert(prs_sched_finished(&s));
    cr_assert_eq(prs_sched_result(&s), PRS_JOB_FAILED);
    cr_assert_eq(s.reason, PRS_REASON_INIT_FAILED);
}

Test(sched, rows_count_items_and_job_succeeds) {
    setup(limits(3, -1, -1, 100), 2, 20);
    start_new(0, 10);
    start_new(1, 10);
    prs_sched_store_exhausted(&s);
    prs_ticket fin;
    cr_assert_eq(prs_sched_complete(&s, 0, PRS_OUTCOME_OK, 7, &fin), PRS_VERDICT_DONE);
    cr_assert_eq(prs_sched_complete(&s, 1, PRS_OUTCOME_OK, 12, &fin), PRS_VERDICT_DONE);
    cr_assert_eq(s.counts.succeeded_items, 17);
    cr_assert_eq(s.counts.failed_items, 3);
    cr_assert(prs_sched_finished(&s));
    cr_assert_eq(prs_sched_result(&s), PRS_JOB_SUCCEEDED);
}

Test(sched, retries_until_run_max_try_then_fails_all_items) {
    setup(limits(3, -1, -1, 100), 1, 5);
    start_new(9, 5);
    prs_sched_store_exhausted(&s);
    prs_ticket t, fin;
    for (uint32_t attempt = 1; attempt <= 2; attempt++) {
        cr_assert_eq(prs_sched_complete(&s, 9, PRS_OUTCOME_ERROR, 0, &fin), PRS_VERDICT_RETRY);
        cr_assert_eq(fin.attempt, attempt);
        cr_assert_eq(prs_sched_next(&s, &t), PRS_PICK_RETRY);
        cr_assert_eq(t.batch_id, 9);
        cr_assert_eq(t.attempt, attempt + 1);
        prs_sched_start(&s, &t, 0);
    }
    cr_assert_eq(prs_sched_complete(&s, 9, PRS_OUTCOME_CRASH, 0, &fin), PRS_VERDICT_FAILED);
    cr_assert_eq(fin.attempt, 3);
    cr_assert_eq(s.counts.failed_batches, 1);
    cr_assert_eq(s.counts.failed_items, 5);
    cr_assert_eq(prs_sched_result(&s), PRS_JOB_SUCCEEDED); /* no threshold set */
}

Test(sched, error_threshold_aborts_only_when_exceeded) {
    setup(limits(1, 3, -1, 100), 3, 30);
    prs_ticket fin;
    start_new(0, 10);
    cr_assert_eq(prs_sched_complete(&s, 0, PRS_OUTCOME_OK, 7, &fin), PRS_VERDICT_DONE);
    cr_assert_eq(s.state, PRS_JOB_RUNNING); /* 3 failed items == threshold: still fine */
    start_new(1, 10);
    cr_assert_eq(prs_sched_complete(&s, 1, PRS_OUTCOME_OK, 9, &fin), PRS_VERDICT_DONE);
    cr_assert_eq(s.state, PRS_JOB_DRAINING);
    cr_assert_eq(s.reason, PRS_REASON_ERROR_THRESHOLD);
    cr_assert(prs_sched_finished(&s));
    cr_assert_eq(prs_sched_result(&s), PRS_JOB_FAILED);
}

Test(sched, allowed_failed_count_edge) {
    setup(limits(1, -1, 1, 100), 4, 4);
    prs_ticket fin;
    start_new(0, 1);
    start_new(1, 1);
    cr_assert_eq(prs_sched_complete(&s, 0, PRS_OUTCOME_ERROR, 0, &fin), PRS_VERDICT_FAILED);
    cr_assert_eq(s.state, PRS_JOB_RUNNING);
    cr_assert_eq(prs_sched_complete(&s, 1, PRS_OUTCOME_ERROR, 0, &fin), PRS_VERDICT_FAILED);
    cr_assert_eq(s.reason, PRS_REASON_FAILED_COUNT);
}

Test(sched, allowed_failed_percent_edge) {
    setup(limits(1, -1, -1, 25), 8, 8);
    prs_ticket fin;
    for (uint64_t id = 0; id < 3; id++)
        start_new(id, 1);
    cr_assert_eq(prs_sched_complete(&s, 0, PRS_OUTCOME_ERROR, 0, &fin), PRS_VERDICT_FAILED);
    cr_assert_eq(prs_sched_complete(&s, 1, PRS_OUTCOME_ERROR, 0, &fin), PRS_VERDICT_FAILED);
    cr_assert_eq(s.state, PRS_JOB_RUNNING); /* 2 of 8 = 25%: allowed */
    cr_assert_eq(prs_sched_complete(&s, 2, PRS_OUTCOME_ERROR, 0, &fin), PRS_VERDICT_FAILED);
    cr_assert_eq(s.reason, PRS_REASON_FAILED_PERCENT);
}

Test(sched, draining_lets_in_flight_finish) {
    setup(limits(2, 0, -1, 100), 4, 4);
    prs_ticket t, fin;
    start_new(0, 1);
    start_new(1, 1);
    cr_assert_eq(prs_sched_complete(&s, 0, PRS_OUTCOME_OK, 0, &fin), PRS_VERDICT_DONE);
    cr_assert_eq(prs_sched_next(&s, &t), PRS_PICK_END);
    cr_assert(!prs_sched_finished(&s));
    /* A failure while draining keeps the batch pending (resumable), not failed. */
    cr_assert_eq(prs_sched_complete(&s, 1, PRS_OUTCOME_ERROR, 0, &fin), PRS_VERDICT_RETRY);
    cr_assert_eq(s.counts.failed_batches, 0);
    cr_assert(prs_sched_finished(&s));
}

Test(sched, slots_bound_in_flight) {
    setup(limits(3, -1, -1, 100), 100, 100);
    for (uint64_t id = 0; id < 4; id++)
        start_new(id, 1);
    prs_ticket t, fin;
    cr_assert_eq(prs_sched_next(&s, &t), PRS_PICK_WAIT);
    cr_assert_eq(prs_sched_complete(&s, 2, PRS_OUTCOME_TIMEOUT, 0, &fin), PRS_VERDICT_RETRY);
    cr_assert_eq(prs_sched_next(&s, &t), PRS_PICK_RETRY);
    cr_assert_eq(t.batch_id, 2);
}

Test(sched, deadlines_start_when_run_begins) {
    prs_sched_limits l = limits(3, -1, -1, 100);
    l.run_timeout_ms = 100;
    setup(l, 2, 2);
    start_new(0, 1);
    start_new(1, 1);
    uint64_t ids[4];
    cr_assert_eq(prs_sched_expired(&s, 1000000, ids, 4), 0);
    prs_sched_running(&s, 1, 50);
    cr_assert_eq(prs_sched_expired(&s, 149, ids, 4), 0);
    cr_assert_eq(prs_sched_expired(&s, 150, ids, 4), 1);
    cr_assert_eq(ids[0], 1);
}

Test(sched, stop_is_resumable) {
    setup(limits(3, -1, -1, 100), 2, 2);
    start_new(0, 1);
    prs_sched_stop(&s);
    prs_ticket t, fin;
    cr_assert_eq(prs_sched_next(&s, &t), PRS_PICK_END);
    cr_assert_eq(prs_sched_complete(&s, 0, PRS_OUTCOME_OK, 1, &fin), PRS_VERDICT_DONE);
    cr_assert_eq(prs_sched_result(&s), PRS_JOB_STOPPED);
}

/* v2's mini_batch_error_threshold: a batch with fewer rows than items counts like a failed
 * one; the job fails when their sum passes the limit, not at it. */
Test(sched, batch_errors_count_partial_and_failed_batches, .timeout = 10) {
    prs_sched_limits l = limits(1, -1, -1, 100);
    l.batch_errors_limited = true;
    l.batch_errors_allowed = 2;
    setup(l, 5, 50);
    prs_ticket fin;
    start_new(0, 10);
    cr_assert_eq(prs_sched_complete(&s, 0, PRS_OUTCOME_OK, 9, &fin), PRS_VERDICT_DONE);
    start_new(1, 10);
    cr_assert_eq(prs_sched_complete(&s, 1, PRS_OUTCOME_OK, 10, &fin), PRS_VERDICT_DONE);
    start_new(2, 10);
    cr_assert_eq(prs_sched_complete(&s, 2, PRS_OUTCOME_ERROR, 0, &fin), PRS_VERDICT_FAILED);
    cr_assert_eq(s.counts.partial_batches, 1);
    cr_assert_eq(s.state, PRS_JOB_RUNNING, "2 batch errors: at the limit, not past it");
    start_new(3, 10);
    cr_assert_eq(prs_sched_complete(&s, 3, PRS_OUTCOME_OK, 0, &fin), PRS_VERDICT_DONE);
    cr_assert_eq(s.state, PRS_JOB_DRAINING);
    cr_assert_eq(s.reason, PRS_REASON_BATCH_ERRORS);
    /* Off (zero-initialised limits): the same batches never fail the job. */
    setup(limits(1, -1, -1, 100), 2, 20);
    start_new(0, 10);
    cr_assert_eq(prs_sched_complete(&s, 0, PRS_OUTCOME_OK, 0, &fin), PRS_VERDICT_DONE);
    cr_assert_eq(s.state, PRS_JOB_RUNNING);
    /* A resumed job already past it ends at once; a bad count is refused. */
    prs_sched_counts c = {.total_batches = 4,
                          .total_items = 4,
                          .done_batches = 3,
                          .partial_batches = 3,
                          .succeeded_items = 0,
                          .failed_items = 3};
    cr_assert_eq(prs_sched_init(&s, &l, &c), 0);
    cr_assert_eq(s.reason, PRS_REASON_BATCH_ERRORS);
    c.partial_batches = 4;
    cr_assert_eq(prs_sched_init(&s, &l, &c), -EINVAL);
}
