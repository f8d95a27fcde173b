/* End-to-end: build/prs (or $PRS_BIN) on generated datasets; every check reads the files
 * a user would read: the output rows, logs/overview.txt, logs/sys/master.txt, error.txt. */
#include "e2e.h"

#include <criterion/criterion.h>
#include <string.h>

Test(e2e, wordcount_every_file_once_and_overview_counts) {
    e2e_run r;
    e2e_setup(&r, "e2e", 57);
    cr_assert_eq(e2e_prs(&r, "wordcount", "--mini-batch-size 10 --workers 2", ""), 0);
    e2e_assert_rows_once(&r, 57, NULL);
    char *ov = e2e_out_file(&r, "logs/overview.txt");
    cr_assert(ov && strstr(ov, "state: SUCCEEDED"), "%s", ov);
    cr_assert_eq(tu_field(ov, "created "), 6);
    cr_assert_eq(tu_field(ov, "processed "), 6);
    cr_assert_eq(tu_field(ov, "items: total "), 57);
    cr_assert_eq(tu_field(ov, "succeeded "), 6); /* mini-batches */
    cr_assert(strstr(ov, "succeeded 57, failed 0"), "%s", ov);
    free(ov);
    char *master = e2e_out_file(&r, "logs/sys/master.txt");
    cr_assert(master && strstr(master, "created 6 mini-batches"), "%s", master);
    free(master);
    char *err = tu_read(r.err, NULL);
    cr_assert(strstr(err, "parallel_run_step.txt") && strstr(err, "overview.txt"), "%s", err);
    free(err);
    tu_rmrf(r.dir);
}

Test(e2e, failed_items_count_and_error_threshold_edge) {
    e2e_run r;
    e2e_setup(&r, "e2e", 40); /* f0010..f0019 fail: 10 failed items */
    cr_assert_eq(e2e_prs(&r, "faulty", "--error-threshold 10", "--fail-item f001"), 0);
    e2e_assert_rows_once(&r, 40, "f001");
    char *ov = e2e_out_file(&r, "logs/overview.txt");
    cr_assert(strstr(ov, "succeeded 30, failed 10"), "%s", ov);
    cr_assert(strstr(ov, "first error: batch 1 attempt 1 item f0010.txt"), "%s", ov);
    free(ov);
    /* Ten failed items: ten error files, one group of ten in error.txt. */
    char *errs = e2e_error_files(&r);
    cr_assert_eq(e2e_count(errs, "message: faulty: fails items matching 'f001'"), 10, "%s", errs);
    free(errs);
    errs = e2e_out_file(&r, "logs/user/error.txt");
    cr_assert(strstr(errs, "errors: 10 in 1 group "), "%s", errs);
    cr_assert(strstr(errs, "[10 x] faulty: fails items matching 'f<N>'"), "%s", errs);
    cr_assert(strstr(errs, "first: batch 1 attempt 1 item f0010.txt"), "%s", errs);
    free(errs);
    tu_rmrf(r.out);
    /* One over the threshold: the job fails with exit 1 and says which threshold. */
    cr_assert_eq(e2e_prs(&r, "faulty", "--error-threshold 9 --workers 1", "--fail-item f001"), 1);
    ov = e2e_out_file(&r, "logs/overview.txt");
    cr_assert(strstr(ov, "state: FAILED"), "%s", ov);
    cr_assert(strstr(ov, "--error-threshold"), "%s", ov);
    free(ov);
    tu_rmrf(r.dir);
}

Test(e2e, retries_up_to_run_max_try) {
    e2e_run r;
    e2e_setup(&r, "e2e", 20);
    /* Each batch fails its first 2 tries: with 3 tries every batch succeeds. */
    cr_assert_eq(e2e_prs(&r, "faulty", "--run-max-try 3", "--fail-attempts 2"), 0);
    e2e_assert_rows_once(&r, 20, NULL);
    char *master = e2e_out_file(&r, "logs/sys/master.txt");
    size_t retries = 0;
    for (const char *p = master; (p = strstr(p, "will be retried")); p++)
        retries++;
    cr_assert_eq(retries, 4, "2 batches x 2 failed tries, got %zu", retries);
    free(master);
    tu_rmrf(r.out);
    /* With 2 tries every batch fails; no threshold is set, yet no item succeeded: the job
     * fails (ParallelRunStep's rule), and says so plainly. */
    cr_assert_eq(e2e_prs(&r, "faulty", "--run-max-try 2", "--fail-attempts 2"), 1);
    char *ov = e2e_out_file(&r, "logs/overview.txt");
    cr_assert(strstr(ov, "succeeded 0, failed 2"), "%s", ov);
    cr_assert(strstr(ov, "no item succeeded"), "%s", ov);
    free(ov);
    char *rows = e2e_out_file(&r, "parallel_run_step.txt");
    cr_assert_str_eq(rows, "");
    free(rows);
    tu_rmrf(r.dir);
}

Test(e2e, allowed_failed_count_and_percent_edges) {
    e2e_run r;
    e2e_setup(&r, "e2e", 40); /* 4 batches; f0000 is in batch 0 */
    cr_assert_eq(
        e2e_prs(&r, "faulty", "--run-max-try 1 --allowed-failed-count 1", "--fail-batch f0000"), 0);
    e2e_assert_rows_once(&r, 40, "f000");
    tu_rmrf(r.out);
    cr_assert_eq(
        e2e_prs(&r, "faulty", "--run-max-try 1 --allowed-failed-count 0", "--fail-batch f0000"), 1);
    char *ov = e2e_out_file(&r, "logs/overview.txt");
    cr_assert(strstr(ov, "--allowed-failed-count"), "%s", ov);
    free(ov);
    tu_rmrf(r.out);
    cr_assert_eq(
        e2e_prs(&r, "faulty", "--run-max-try 1 --allowed-failed-percent 25", "--fail-batch f0000"),
        0);
    tu_rmrf(r.out);
    cr_assert_eq(
        e2e_prs(&r, "faulty", "--run-max-try 1 --allowed-failed-percent 24", "--fail-batch f0000"),
        1);
    ov = e2e_out_file(&r, "logs/overview.txt");
    cr_assert(strstr(ov, "--allowed-failed-percent"), "%s", ov);
    free(ov);
    tu_rmrf(r.dir);
}

Test(e2e, init_failure_on_one_worker_or_all) {
    e2e_run r;
    e2e_setup(&r, "e2e", 30);
    cr_assert_eq(e2e_prs(&r, "faulty", "--workers 2", "--fail-init 0"), 0);
    e2e_assert_rows_once(&r, 30, NULL);
    char *errs = e2e_out_file(&r, "logs/user/error.txt");
    cr_assert(strstr(errs, "worker 0: init() returned -1"), "%s", errs);
    free(errs);
    tu_rmrf(r.out);
    cr_assert_eq(e2e_prs(&r, "faulty", "--workers 2", "--fail-init all"), 4);
    char *ov = e2e_out_file(&r, "logs/overview.txt");
    cr_assert(strstr(ov, "init() failed on every worker"), "%s", ov);
    free(ov);
    tu_rmrf(r.dir);
}

Test(e2e, finished_job_is_not_rerun_and_different_job_is_refused) {
    e2e_run r;
    e2e_setup(&r, "e2e", 15);
    cr_assert_eq(e2e_prs(&r, "wordcount", "", ""), 0);
    char *before = e2e_out_file(&r, "parallel_run_step.txt");
    cr_assert_eq(e2e_prs(&r, "wordcount", "", ""), 0);
    char *after = e2e_out_file(&r, "parallel_run_step.txt");
    cr_assert_str_eq(before, after);
    char *err = tu_read(r.err, NULL);
    cr_assert(strstr(err, "already finished"), "%s", err);
    free(err);
    cr_assert_eq(e2e_prs(&r, "wordcount", "--mini-batch-size 3", ""), 2);
    err = tu_read(r.err, NULL);
    cr_assert(strstr(err, "different job") && strstr(err, "--mini-batch-size was '10', now '3'"),
              "%s", err);
    free(err);
    free(after);
    after = e2e_out_file(&r, "parallel_run_step.txt");
    cr_assert_str_eq(before, after, "a refused job must not touch the output");
    free(before);
    free(after);
    tu_rmrf(r.dir);
}

Test(e2e, list_input_with_a_vanished_file_fails_that_item_only) {
    e2e_run r;
    e2e_setup(&r, "e2e", 3);
    char list[512], body[2048];
    snprintf(list, sizeof(list), "%s/list.txt", r.dir);
    int n =
        snprintf(body, sizeof(body), "%s/f0000.txt\n%s/gone.txt\n%s/f0002.txt\n", r.in, r.in, r.in);
    tu_write(list, body, (size_t)n);
    cr_assert_eq(
        tu_sh("%s run --quiet --entry-script build/examples/faulty.so --input @%s --output %s "
              "2>%s",
              tu_prs(), list, r.out, r.err),
        0);
    char *rows = e2e_out_file(&r, "parallel_run_step.txt");
    cr_assert_eq(tu_count_lines(rows), 2);
    free(rows);
    char *errs = e2e_out_file(&r, "logs/user/error.txt");
    cr_assert(strstr(errs, "gone.txt: cannot read input file"), "%s", errs);
    free(errs);
    char *ov = e2e_out_file(&r, "logs/overview.txt");
    cr_assert(strstr(ov, "succeeded 2, failed 1"), "%s", ov);
    free(ov);
    tu_rmrf(r.dir);
}

Test(e2e, summary_only_writes_no_rows_and_more_workers_than_cpus) {
    e2e_run r;
    e2e_setup(&r, "e2e", 25);
    cr_assert_eq(e2e_prs(&r, "wordcount",
                         "--output-action summary_only --workers 7 --mini-batch-size 1", ""),
                 0);
    char *rows = e2e_out_file(&r, "parallel_run_step.txt");
    cr_assert(rows == NULL || rows[0] == 0);
    free(rows);
    char *ov = e2e_out_file(&r, "logs/overview.txt");
    cr_assert(strstr(ov, "succeeded 25, failed 0"), "%s", ov);
    free(ov);
    char *master = e2e_out_file(&r, "logs/sys/master.txt");
    cr_assert(strstr(master, "starting 7 workers"), "%s", master);
    free(master);
    tu_rmrf(r.dir);
}

Test(e2e, extra_rows_are_warned_and_logging_level_is_honoured) {
    e2e_run r;
    e2e_setup(&r, "e2e", 10);
    cr_assert_eq(e2e_prs(&r, "faulty", "--logging-level WARNING", "--extra-rows 2 --log-each"), 0);
    char *master = e2e_out_file(&r, "logs/sys/master.txt");
    cr_assert(strstr(master, "emitted 12 rows for 10 items"), "%s", master);
    free(master);
    char *log = tu_read(r.err, NULL);
    free(log);
    tu_sh("cat %s/logs/user/*/*.log.txt > %s/user.txt", r.out, r.dir);
    char p[512];
    snprintf(p, sizeof(p), "%s/user.txt", r.dir);
    char *user = tu_read(p, NULL);
    cr_assert(strstr(user, "INFO") == NULL, "INFO lines below WARNING: %s", user);
    free(user);
    tu_rmrf(r.out);
    cr_assert_eq(e2e_prs(&r, "faulty", "--logging-level DEBUG", "--log-each"), 0);
    tu_sh("cat %s/logs/user/*/*.log.txt > %s/user.txt", r.out, r.dir);
    user = tu_read(p, NULL);
    cr_assert(strstr(user, "DEBUG worker-") && strstr(user, "INFO worker-"), "%s", user);
    cr_assert(strstr(user, "item f0009.txt"), "%s", user);
    free(user);
    tu_rmrf(r.dir);
}

/* ---- bad input: a clear message naming the thing, a non-zero exit ------------------------ */

static void assert_refused(const e2e_run *r, int code, const char *cmd_opts, const char *needle) {
    int got = tu_sh("%s run --quiet %s 2>'%s'", tu_prs(), cmd_opts, r->err);
    char *err = tu_read(r->err, NULL);
    cr_assert_eq(got, code, "exit %d (wanted %d) for '%s': %s", got, code, cmd_opts, err);
    cr_assert(strstr(err, needle), "'%s' not in: %s", needle, err);
    free(err);
}

Test(e2e, bad_input_is_refused_with_clear_messages) {
    e2e_run r;
    e2e_setup(&r, "e2e", 3);
    char o[2048];
    const char *ok = "--entry-script build/examples/wordcount.so";
    snprintf(o, sizeof(o), "%s --input %s/missing --output %s", ok, r.dir, r.out);
    assert_refused(&r, 3, o, "missing");
    tu_sh("mkdir -p %s/empty", r.dir);
    snprintf(o, sizeof(o), "%s --input %s/empty --output %s", ok, r.dir, r.out);
    assert_refused(&r, 3, o, "no input files");
    snprintf(o, sizeof(o), "--entry-script %s/nope.so --input %s --output %s", r.dir, r.in, r.out);
    assert_refused(&r, 2, o, "nope.so");
    snprintf(o, sizeof(o), "--entry-script %s/f0000.txt --input %s --output %s", r.in, r.in, r.out);
    assert_refused(&r, 2, o, "not load it as a shared object");
    snprintf(o, sizeof(o), "--entry-script build/tests/no_run.so --input %s --output %s", r.in,
             r.out);
    assert_refused(&r, 2, o, "prs_run");
    snprintf(o, sizeof(o), "%s --input %s --output %s --mini-batch-size 0", ok, r.in, r.out);
    assert_refused(&r, 2, o, "--mini-batch-size");
    snprintf(o, sizeof(o), "%s --input %s --output %s --mini-batch-size 10XB", ok, r.in, r.out);
    assert_refused(&r, 2, o, "10XB");
    snprintf(o, sizeof(o), "%s --input %s --output %s --workers -1", ok, r.in, r.out);
    assert_refused(&r, 2, o, "--workers");
    snprintf(o, sizeof(o), "%s --input %s --output /proc/version/out", ok, r.in);
    assert_refused(&r, 2, o, "/proc/version/out");
    snprintf(o, sizeof(o), "%s --input %s --output %s --bogus", ok, r.in, r.out);
    assert_refused(&r, 2, o, "--bogus");
    snprintf(o, sizeof(o), "%s --input %s --output %s --run-max-try 0", ok, r.in, r.out);
    assert_refused(&r, 2, o, "--run-max-try");
    snprintf(o, sizeof(o), "%s --input %s", ok, r.in);
    assert_refused(&r, 2, o, "--output");
    tu_rmrf(r.dir);
}
