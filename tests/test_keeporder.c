/* --keep-order: the reorder window (core/reorder), the held-rows table (storage/queue),
 * and end to end: rows in input order with workers finishing batches out of order, with
 * seeded failures and crashes (the runtime restarts), after kill -9 of the runtime and a
 * rerun -- always byte for byte the uninterrupted ordered output -- and the bad uses. */
#include "committer.h"
#include "e2e.h"
#include "queue.h"
#include "reorder.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>

/* ---- the window ------------------------------------------------------------------------- */

static void learn_all(prs_reorder *r) {
    while (prs_reorder_unknown(r) < r->total && prs_reorder_unknown(r) < r->next + PRS_REORDER_RING)
        prs_reorder_learn(r, false);
}

Test(keeporder, window_admits_only_near_next_and_advances_over_runs) {
    prs_reorder r;
    cr_assert_eq(prs_reorder_init(&r, 0, 100, 0), -EINVAL);
    cr_assert_eq(prs_reorder_init(&r, 0, 100, PRS_REORDER_RING + 1), -EINVAL);
    cr_assert_eq(prs_reorder_init(&r, 101, 100, 4), -EINVAL);
    cr_assert_eq(prs_reorder_init(&r, 0, 100, 4), 0);
    cr_assert(!prs_reorder_admits(&r, 0), "an id whose mark is not known is not admitted");
    learn_all(&r);
    cr_assert(prs_reorder_admits(&r, 3));
    cr_assert(!prs_reorder_admits(&r, 4), "past the window");
    uint64_t id;
    enum prs_reorder_mark m;
    prs_reorder_finish(&r, 2, true);
    prs_reorder_finish(&r, 3, false);
    cr_assert(!prs_reorder_advance(&r, &id, &m), "0 is not finished: nothing moves");
    cr_assert(!prs_reorder_admits(&r, 4));
    prs_reorder_finish(&r, 0, false);
    prs_reorder_finish(&r, 1, true);
    uint64_t want[] = {0, 1, 2, 3};
    enum prs_reorder_mark marks[] = {PRS_REORDER_EMPTY, PRS_REORDER_HELD, PRS_REORDER_HELD,
                                     PRS_REORDER_EMPTY};
    for (int i = 0; i < 4; i++) {
        cr_assert(prs_reorder_advance(&r, &id, &m));
        cr_assert_eq(id, want[i]);
        cr_assert_eq(m, marks[i]);
    }
    cr_assert(!prs_reorder_advance(&r, &id, &m));
    cr_assert_eq(r.next, 4);
    cr_assert(prs_reorder_admits(&r, 7) && !prs_reorder_admits(&r, 8));
}

Test(keeporder, a_resumed_window_learns_what_an_earlier_life_finished) {
    prs_reorder r;
    cr_assert_eq(prs_reorder_init(&r, 5, 10, 2), 0);
    prs_reorder_learn(&r, false); /* 5 pending */
    prs_reorder_learn(&r, true);  /* 6 finished before the crash */
    prs_reorder_learn(&r, true);  /* 7 too: beyond this life's window, still tracked */
    prs_reorder_learn(&r, false);
    prs_reorder_learn(&r, false);
    cr_assert_eq(prs_reorder_unknown(&r), 10);
    uint64_t id;
    enum prs_reorder_mark m;
    prs_reorder_finish(&r, 5, false);
    cr_assert(prs_reorder_advance(&r, &id, &m) && id == 5 && m == PRS_REORDER_EMPTY);
    cr_assert(prs_reorder_advance(&r, &id, &m) && id == 6 && m == PRS_REORDER_STORED);
    cr_assert(prs_reorder_advance(&r, &id, &m) && id == 7 && m == PRS_REORDER_STORED);
    cr_assert(!prs_reorder_advance(&r, &id, &m));
    cr_assert(prs_reorder_admits(&r, 9) && !prs_reorder_admits(&r, 10), "the job's end");
}

Test(keeporder, finishing_a_batch_twice_is_a_bug, .signal = SIGABRT) {
    prs_reorder r;
    cr_assert_eq(prs_reorder_init(&r, 0, 4, 4), 0);
    learn_all(&r);
    prs_reorder_finish(&r, 2, true);
    prs_reorder_finish(&r, 2, true);
}

/* ---- the held table --------------------------------------------------------------------- */

Test(keeporder, held_rows_commit_with_the_batch_and_drop_with_the_write, .timeout = 60) {
    char dir[256], err[512];
    tu_tmpdir(dir, sizeof(dir), "keepq");
    prs_queue *q;
    cr_assert_eq(prs_queue_open(&q, dir, PRS_DURABILITY_NONE, err, sizeof(err)), 0, "%s", err);
    prs_queue_builder *b;
    cr_assert_eq(prs_queue_build_begin(q, &b), 0);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(prs_queue_build_item(b, i ? "b" : "a", 2), 0);
        cr_assert_eq(prs_queue_build_batch(b, (uint64_t)i, 1), 0);
    }
    cr_assert_eq(prs_queue_build_end(b), 0);
    prs_batch_update up = {
        .batch_id = 1,
        .rec = {.state = PRS_BATCH_DONE, .first_item = 1, .item_count = 1, .succeeded = 1}};
    prs_queue_counts c = {
        .total_batches = 2, .total_items = 2, .done_batches = 1, .succeeded_items = 1};
    prs_queue_held_put put = {.batch_id = 1, .rows = "b\tok\n", .len = 5};
    prs_queue_held bad = {.puts = &(prs_queue_held_put){.batch_id = 1, .rows = "", .len = 0},
                          .put_count = 1};
    cr_assert_eq(prs_queue_commit_held(q, &up, 1, &c, NULL, NULL, 0, &bad), -EINVAL,
                 "a hold without rows is refused");
    prs_queue_held h = {.puts = &put, .put_count = 1};
    cr_assert_eq(prs_queue_commit_held(q, &up, 1, &c, NULL, NULL, 0, &h), 0);
    prs_queue_close(q);
    cr_assert_eq(prs_queue_open(&q, dir, PRS_DURABILITY_NONE, err, sizeof(err)), 0, "%s", err);
    uint64_t n;
    cr_assert_eq(prs_queue_held_count(q, &n), 0);
    cr_assert_eq(n, 1);
    prs_queue_reader *r;
    cr_assert_eq(prs_queue_reader_open(q, &r), 0);
    cr_assert_eq(prs_queue_reader_begin(r), 0);
    const void *rows;
    size_t len;
    cr_assert_eq(prs_queue_reader_held(r, 1, &rows, &len), 0);
    cr_assert(len == 5 && memcmp(rows, "b\tok\n", 5) == 0);
    cr_assert_eq(prs_queue_reader_held(r, 0, &rows, &len), -ENOENT);
    prs_queue_reader_end(r);
    uint64_t drops[] = {1, 0}; /* 0 held nothing: fine */
    prs_queue_held d = {.drops = drops, .drop_count = 2};
    up.batch_id = 0;
    up.rec.first_item = 0;
    c.done_batches = 2;
    c.succeeded_items = 2;
    cr_assert_eq(prs_queue_commit_held(q, &up, 1, &c, NULL, NULL, 0, &d), 0);
    cr_assert_eq(prs_queue_held_count(q, &n), 0);
    cr_assert_eq(n, 0);
    prs_queue_reader_close(r);
    prs_queue_close(q);
    tu_sh("rm -rf '%s'", dir);
}

static prs_queue *three_batches(const char *dir) {
    char err[512];
    prs_queue *q;
    cr_assert_eq(prs_queue_open(&q, dir, PRS_DURABILITY_NONE, err, sizeof(err)), 0, "%s", err);
    prs_queue_builder *b;
    cr_assert_eq(prs_queue_build_begin(q, &b), 0);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(prs_queue_build_item(b, "x", 2), 0);
        cr_assert_eq(prs_queue_build_batch(b, (uint64_t)i, 1), 0);
    }
    cr_assert_eq(prs_queue_build_end(b), 0);
    return q;
}

Test(keeporder, committer_stores_held_rows_unless_taken_and_drops_them, .timeout = 60) {
    char dir[256];
    tu_tmpdir(dir, sizeof(dir), "keepc");
    prs_queue *q = three_batches(dir);
    prs_committer *c;
    cr_assert_eq(prs_committer_start(&c, q, NULL, false, 2), 0);
    prs_batch_update up[3];
    for (int i = 0; i < 3; i++)
        up[i] = (prs_batch_update){.batch_id = (uint64_t)i,
                                   .rec = {.state = PRS_BATCH_DONE,
                                           .first_item = (uint64_t)i,
                                           .item_count = 1,
                                           .succeeded = 1}};
    cr_assert_eq(prs_committer_add_held(c, &up[1], "one\n", 4), 0);
    cr_assert_eq(prs_committer_add_held(c, &up[2], "two\n", 4), 0);
    cr_assert(!prs_committer_has_room(c, 0), "group_cap updates: full");
    cr_assert_eq(prs_committer_add_held(c, &up[0], "zero\n", 5), -EAGAIN);
    const void *rows;
    size_t len;
    cr_assert(prs_committer_take_held(c, 2, &rows, &len), "batch 2 is in the group");
    cr_assert(len == 4 && memcmp(rows, "two\n", 4) == 0);
    cr_assert(!prs_committer_take_held(c, 2, &rows, &len), "taken once");
    prs_queue_counts n = {
        .total_batches = 3, .total_items = 3, .done_batches = 2, .succeeded_items = 2};
    cr_assert_eq(prs_committer_flush(c, &n, NULL, NULL, 0, true), 0);
    cr_assert_eq(prs_committer_drain(c), 0);
    uint64_t held;
    cr_assert_eq(prs_queue_held_count(q, &held), 0);
    cr_assert_eq(held, 1, "only batch 1's rows are stored (2's were taken)");
    cr_assert(!prs_committer_take_held(c, 1, &rows, &len), "handed over: read it from LMDB");
    cr_assert(prs_committer_drop_held(c, 1));
    cr_assert(prs_committer_add(c, &up[0]));
    n.done_batches = n.succeeded_items = 3;
    cr_assert_eq(prs_committer_flush(c, &n, NULL, NULL, 0, true), 0);
    cr_assert_eq(prs_committer_drain(c), 0);
    cr_assert_eq(prs_queue_held_count(q, &held), 0);
    cr_assert_eq(held, 0);
    prs_committer_stop(c);
    prs_queue_close(q);
    tu_sh("rm -rf '%s'", dir);
}

/* ---- end to end ------------------------------------------------------------------------- */

#define FILES 600u
/* 3 per batch (200 batches), 4 workers, a seeded 30% of items slow: batches end out of
 * order, and the window (64 batches) fills. */
#define OPTS "--mini-batch-size 3 --workers 4 --run-max-try 3"
#define SLOW "--slow-rate 0.3 --slow-ms 3 --seed 11"

/* The output file, asserted present; the caller frees it. */
static char *output(const e2e_run *r) {
    char *text = e2e_out_file(r, "parallel_run_step.txt");
    cr_assert(text != NULL, "no output file in %s", r->out);
    return text;
}

/* Rows are "NAME\t..." with NAME ascending in input order: asserts strictly ascending. */
static void assert_ascending(const char *text) {
    const char *prev = NULL;
    size_t prev_len = 0, line = 0;
    for (const char *p = text; *p; line++) {
        const char *nl = strchr(p, '\n');
        cr_assert(nl != NULL, "row %zu is not ended", line);
        const char *tab = memchr(p, '\t', (size_t)(nl - p));
        size_t len = tab ? (size_t)(tab - p) : (size_t)(nl - p);
        if (prev) {
            int c = memcmp(prev, p, PRS_MIN(prev_len, len));
            cr_assert(c < 0 || (c == 0 && prev_len < len), "row %zu '%.*s' after '%.*s'", line,
                      (int)len, p, (int)prev_len, prev);
        }
        prev = p;
        prev_len = len;
        p = nl + 1;
    }
}

static void held_none(const e2e_run *r) {
    char state[400], err[512];
    snprintf(state, sizeof(state), "%s/.prs", r->out);
    prs_queue *q;
    cr_assert_eq(prs_queue_open_readonly(&q, state, err, sizeof(err)), 0, "%s", err);
    uint64_t n = 1;
    cr_assert_eq(prs_queue_held_count(q, &n), 0);
    cr_assert_eq(n, 0, "%llu batches still hold rows after the job", (unsigned long long)n);
    prs_queue_close(q);
}

Test(keeporder, files_in_input_order_with_batches_ending_out_of_order, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "keepfiles", FILES);
    cr_assert_eq(e2e_prs(&r, "faulty", OPTS " --keep-order", SLOW), 0);
    e2e_assert_rows_once(&r, FILES, NULL);
    char *text = output(&r);
    assert_ascending(text);
    free(text);
    held_none(&r);
    /* Without it the same job is another job: refused, not resumed into a different order. */
    cr_assert_neq(e2e_prs(&r, "faulty", OPTS, SLOW), 0);
    char *err = tu_read(r.err, NULL);
    cr_assert(err && strstr(err, "different job"), "not refused as another job: %s", err);
    free(err);
    tu_sh("rm -rf '%s'", r.dir);
}

Test(keeporder, tabular_csv_rows_in_line_order, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "keepcsv", 0);
    char csv[sizeof(r.in)];
    snprintf(csv, sizeof(csv), "%.280s/t.csv", r.dir);
    cr_assert_eq(tu_sh("(echo id,val; seq 1 4000 | sed 's/.*/&,v&/') > '%s'", csv), 0);
    snprintf(r.in, sizeof(r.in), "%s", csv);
    cr_assert_eq(e2e_prs(&r, "faulty",
                         "--input-format csv --mini-batch-size 1KB --workers 4 "
                         "--keep-order",
                         "--slow-rate 0.01 --slow-ms 3 --seed 5"),
                 0);
    char *text = output(&r);
    /* Rows are "PATH:LINE\tok", lines 2..4001 in order. */
    const char *p = text;
    for (unsigned line = 2; line <= 4001; line++) {
        char want[480];
        int n = snprintf(want, sizeof(want), "%s:%u\tok\n", csv, line);
        cr_assert(strncmp(p, want, (size_t)n) == 0, "line %u: '%.40s'", line, p);
        p += n;
    }
    cr_assert_eq(*p, 0, "rows after the last line");
    free(text);
    held_none(&r);
    tu_sh("rm -rf '%s'", r.dir);
}

/* The ordered reference: every item's row except those of failed batches, in order. */
static char *reference(const char *tag, const char *args) {
    e2e_run ref;
    e2e_setup(&ref, tag, FILES);
    int code = e2e_prs(&ref, "faulty", OPTS " --keep-order", args);
    cr_assert(code == 0 || code == 1, "reference run exited %d", code);
    char *text = output(&ref);
    tu_sh("rm -rf '%s'", ref.dir);
    return text;
}

Test(keeporder, seeded_failures_and_crashes_keep_the_order, .timeout = 300) {
    /* Crashes restart the runtime (the batches in flight lose nothing), flaky batches
     * retry, batch failures fail their batches for good (no rows, still in order). */
    const char *args = SLOW " --crash-rate 0.01 --flaky-rate 0.05 --batch-fail-rate 0.02";
    char *want = reference("keepref", SLOW " --flaky-rate 0.05 --batch-fail-rate 0.02");
    assert_ascending(want);
    e2e_run r;
    e2e_setup(&r, "keepfault", FILES);
    int code = e2e_prs(&r, "faulty", OPTS " --keep-order", args);
    cr_assert(code == 0 || code == 1, "exited %d", code);
    char *got = output(&r);
    cr_assert(strcmp(got, want) == 0, "the output differs from the uninterrupted one");
    char *ml = e2e_out_file(&r, "logs/sys/master.txt");
    cr_assert(ml && strstr(ml, "died of signal 11"), "no crash restarted the runtime");
    free(ml);
    held_none(&r);
    free(got);
    free(want);
    tu_sh("rm -rf '%s'", r.dir);
}

Test(keeporder, kill_9_of_the_runtime_and_reruns_give_the_same_bytes, .timeout = 300) {
    const char *args = "--sleep-us 15000 --extra-rows 50 --slow-rate 0.2 --slow-ms 2 --seed 3";
    char *want = reference("keepkref", args);
    e2e_run r;
    e2e_setup(&r, "keepkill", FILES);
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "%s run --quiet --entry-script build/examples/faulty.so --input '%s' --output "
             "'%s' " OPTS " --keep-order -- %s 2>>'%s'",
             tu_prs(), r.in, r.out, args, r.err);
    /* Kills of the runtime (the supervisor's prs-runtime child, by its pid) at seeded
     * moments while one supervisor restarts it; a supervisor that ends (6: a crash loop)
     * is run again, until 4 kills landed. */
    int landed =
        tu_sh("landed=0; RANDOM=7; %s & sup=$!; trap 'kill -9 $sup 2>/dev/null' EXIT; "
              "for t in $(seq 1 200); do [ $landed -ge 4 ] && break; "
              "  sleep 0.$(printf '%%03d' $((100 + RANDOM %% 200))); "
              "  if ! kill -0 $sup 2>/dev/null; then wait $sup; %s & sup=$!; continue; fi; "
              "  v=$(pgrep -P $sup -x prs-runtime | head -1); "
              "  [ -n \"$v\" ] && kill -9 $v 2>/dev/null && landed=$((landed + 1)); "
              "done; wait $sup; [ $landed -ge 4 ]",
              cmd, cmd);
    cr_assert_eq(landed, 0, "fewer than 4 kills landed");
    int code = 6;
    for (int i = 0; i < 5 && code == 6; i++)
        code = tu_sh("%s", cmd);
    cr_assert_eq(code, 0, "the final run exited %d", code);
    char *got = output(&r);
    cr_assert(strcmp(got, want) == 0, "the output differs from the uninterrupted one");
    held_none(&r);
    free(got);
    free(want);
    tu_sh("rm -rf '%s'", r.dir);
}

Test(keeporder, summary_only_has_no_rows_to_order, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "keepbad", 3);
    cr_assert_eq(e2e_prs(&r, "faulty", "--keep-order --output-action summary_only", ""), 2);
    char *err = tu_read(r.err, NULL);
    cr_assert(err && strstr(err, "--keep-order"), "%s", err);
    free(err);
    tu_sh("rm -rf '%s'", r.dir);
}

Test(keeporder, partitions_in_batch_order_like_one_worker, .timeout = 120) {
    /* With --partition-keys every batch is one partition: 4 workers with --keep-order and
     * skewed batches write what one worker writes running them one by one in batch order. */
    e2e_run r;
    e2e_setup(&r, "keeppart", 0);
    char csv[sizeof(r.in)];
    snprintf(csv, sizeof(csv), "%.280s/t.csv", r.dir);
    cr_assert_eq(
        tu_sh("(echo id,key; seq 1 3000 | awk '{print $1 \",k\" ($1 * 7919) %% 97}') > '%s'", csv),
        0);
    snprintf(r.in, sizeof(r.in), "%s", csv);
    const char *opts = "--input-format csv --partition-keys key";
    char o[256];
    snprintf(o, sizeof(o), "%s --workers 1", opts);
    cr_assert_eq(e2e_prs(&r, "faulty", o, ""), 0);
    char *want = output(&r);
    tu_sh("rm -rf '%s'", r.out);
    snprintf(o, sizeof(o), "%s --workers 4 --keep-order", opts);
    cr_assert_eq(e2e_prs(&r, "faulty", o, "--slow-rate 0.02 --slow-ms 2 --seed 9"), 0);
    char *got = output(&r);
    cr_assert_eq(e2e_count(got, "\n"), 3000);
    cr_assert(strcmp(got, want) == 0, "the rows differ from one worker's batch order");
    held_none(&r);
    free(got);
    free(want);
    tu_sh("rm -rf '%s'", r.dir);
}
