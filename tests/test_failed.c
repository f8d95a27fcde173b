/* test_failed.c -- what a job leaves to rerun and how: OUT/logs/failed_items.txt (files
 * and FILE:LINE), --input @failed_items.txt, --retry-failed (fresh tries, rows exactly
 * once, retried and recovered counts), and v2's --mini-batch-error-threshold. */
#include "e2e.h"

#include <string.h>

static long overview(const e2e_run *r, const char *key) {
    char *ov = e2e_out_file(r, "logs/overview.txt");
    cr_assert_not_null(ov);
    long v = tu_field(ov, key);
    free(ov);
    return v;
}

Test(failed, retry_failed_after_seeded_failures_rows_exactly_once, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "retry", 60);
    /* Seeded: a batch holding a hit item fails every try, so those batches fail. */
    cr_assert_eq(e2e_prs(&r, "faulty", "--mini-batch-size 4 --run-max-try 2 -j 2",
                         "--seed 3 --batch-fail-rate 0.15"),
                 0);
    char *ov = e2e_out_file(&r, "logs/overview.txt");
    long failed = tu_field(ov, "items: total 60, succeeded");
    free(ov);
    long failed_items = 60 - failed;
    cr_assert_gt(failed_items, 0, "the seed fails some batches");
    char *list = e2e_out_file(&r, "logs/failed_items.txt");
    cr_assert_not_null(list);
    cr_assert_eq((long)tu_count_lines(list), failed_items, "one line per failed item");
    for (char *save = NULL, *l = strtok_r(list, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        cr_assert(!strncmp(l, r.in, strlen(r.in)) && strstr(l, "/f"), "absolute path: %s", l);
    free(list);
    /* Usable as an input list: a new job over exactly those items. */
    char list_path[512];
    snprintf(list_path, sizeof(list_path), "%s/logs/failed_items.txt", r.out);
    cr_assert_eq(tu_sh("%s run -q --entry-script build/examples/faulty.so --input '@%s' "
                       "--output '%s/again' 2>'%s'",
                       tu_prs(), list_path, r.dir, r.err),
                 0);
    char again[512];
    snprintf(again, sizeof(again), "%s/again/parallel_run_step.txt", r.dir);
    char *rows = tu_read(again, NULL);
    cr_assert_eq((long)tu_count_lines(rows), failed_items);
    free(rows);
    /* --retry-failed, without the fault: every failed batch recovers, rows exactly once. */
    cr_assert_eq(
        e2e_prs(&r, "faulty", "--mini-batch-size 4 --run-max-try 2 -j 2 --retry-failed", ""), 0);
    e2e_assert_rows_once(&r, 60, NULL);
    ov = e2e_out_file(&r, "logs/overview.txt");
    char want[160];
    snprintf(want, sizeof(want), "(%ld items), %ld items recovered\n", failed_items, failed_items);
    cr_assert(strstr(ov, "retried (--retry-failed): "), "%s", ov);
    cr_assert(strstr(ov, want), "want '%s' in\n%s", want, ov);
    cr_assert(strstr(ov, "items: total 60, succeeded 60, failed 0"), "%s", ov);
    free(ov);
    char *e = tu_read(r.err, NULL);
    cr_assert(strstr(e, "items recovered"), "the result says so: %s", e);
    free(e);
    list = e2e_out_file(&r, "logs/failed_items.txt");
    cr_assert_str_eq(list, "", "nothing failed: the list is empty, not stale");
    free(list);
    /* Again with nothing failed: nothing to do, still exactly once. */
    cr_assert_eq(e2e_prs(&r, "faulty", "--mini-batch-size 4 --run-max-try 2 --retry-failed", ""),
                 0);
    e2e_assert_rows_once(&r, 60, NULL);
    tu_rmrf(r.dir);
}

Test(failed, retry_failed_still_failing_and_refusals, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "retry-refuse", 12);
    cr_assert_eq(e2e_prs(&r, "faulty", "--retry-failed", ""), 2);
    char *e = tu_read(r.err, NULL);
    cr_assert(strstr(e, "--retry-failed: ") && strstr(e, "holds no job to retry"), "%s", e);
    free(e);
    cr_assert_eq(e2e_prs(&r, "faulty", "--mini-batch-size 1", "--fail-batch f0004"), 0);
    cr_assert_eq(overview(&r, "failed"), 1, "one failed batch");
    /* Retried with the fault still there: fresh tries, still failed, nothing duplicated. */
    cr_assert_eq(e2e_prs(&r, "faulty", "--mini-batch-size 1 --retry-failed", "--fail-batch f0004"),
                 0);
    e2e_assert_rows_once(&r, 12, "f0004");
    char *ov = e2e_out_file(&r, "logs/overview.txt");
    cr_assert(strstr(ov, "1 mini-batches (1 items), 0 items recovered"), "%s", ov);
    free(ov);
    char *list = e2e_out_file(&r, "logs/failed_items.txt");
    cr_assert_eq(tu_count_lines(list), 1);
    free(list);
    tu_rmrf(r.dir);
}

Test(failed, tabular_failed_items_are_file_line, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "failed-tab", 1);
    char csv[280];
    snprintf(csv, sizeof(csv), "%.250s/in.csv", r.dir);
    const char *text = "k,v\n1,a\n2,b\n3,c\n4,d\n5,e\n6,f\n";
    tu_write(csv, text, strlen(text));
    snprintf(r.in, sizeof(r.in), "%s", csv);
    /* 8-byte batches: two records each; the batch holding line 4 fails. */
    cr_assert_eq(
        e2e_prs(&r, "faulty", "--input-format csv --mini-batch-size 8", "--fail-batch in.csv:4"),
        0);
    char *list = e2e_out_file(&r, "logs/failed_items.txt");
    char want[1024];
    snprintf(want, sizeof(want), "%s:4\n%s:5\n", csv, csv);
    cr_assert_str_eq(list, want);
    free(list);
    /* FILE:LINE entries select those records: a new job over exactly them; a line where
     * no record starts is an input error. */
    cr_assert_eq(tu_sh("%s run -q --entry-script build/tests/records_probe.so --input "
                       "'@%s/logs/failed_items.txt' --input-format csv --output '%s/again' 2>'%s'",
                       tu_prs(), r.out, r.dir, r.err),
                 0);
    char again[400];
    snprintf(again, sizeof(again), "%.300s/again/parallel_run_step.txt", r.dir);
    char *rows = tu_read(again, NULL);
    snprintf(want, sizeof(want), "%s:4\t3\t3\t3,c\n%s:5\t3\t3\t4,d\n", csv, csv);
    cr_assert_str_eq(rows, want);
    free(rows);
    char bad[400];
    snprintf(bad, sizeof(bad), "%.300s/bad.txt", r.dir);
    snprintf(want, sizeof(want), "%s:9\n", csv);
    tu_write(bad, want, strlen(want));
    cr_assert_eq(tu_sh("%s run -q --entry-script build/tests/records_probe.so --input '@%s' "
                       "--input-format csv --output '%s/bad' 2>'%s'",
                       tu_prs(), bad, r.dir, r.err),
                 3);
    char *e = tu_read(r.err, NULL);
    cr_assert(strstr(e, "in.csv:9: no record starts at that line"), "%s", e);
    free(e);
    cr_assert_eq(e2e_prs(&r, "faulty", "--input-format csv --mini-batch-size 8 --retry-failed", ""),
                 0);
    rows = e2e_out_file(&r, "parallel_run_step.txt");
    cr_assert_eq(tu_count_lines(rows), 6, "%s", rows);
    free(rows);
    tu_rmrf(r.dir);
}

/* v2: a mini-batch that returns fewer rows than items counts as failed; v1's
 * --allowed-failed-count counts only batches whose tries are spent. */
Test(failed, mini_batch_error_threshold_counts_partial_batches, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "batch-errors", 20);
    const char *args = "--fail-item f001"; /* f0010..f0019: no rows from batches 2 and 3 */
    cr_assert_eq(e2e_prs(&r, "faulty", "--mini-batch-size 5 --allowed-failed-count 0", args), 0);
    cr_assert_eq(
        e2e_prs(&r, "faulty", "--fresh --mini-batch-size 5 --mini-batch-error-threshold 2", args),
        0, "2 failed mini-batches: at the threshold, not past it");
    cr_assert_eq(
        e2e_prs(&r, "faulty", "--fresh --mini-batch-size 5 --mini-batch-error-threshold 1", args),
        1);
    char *ov = e2e_out_file(&r, "logs/overview.txt");
    cr_assert(strstr(ov, "exceeded --mini-batch-error-threshold"), "%s", ov);
    free(ov);
    tu_rmrf(r.dir);
}
