/* From "it failed" to the line and the item, as a new user meets it (issue 16): error.txt
 * groups by message shape and by count, a redone try is filed once, prs_fail_batch's reason
 * reaches every report, crash files name the faulting item with file:line stacks, the end
 * line and exit code follow ParallelRunStep (no item succeeded: failed; stopped: rerun to
 * resume; refused: no results/logs lines of the other job). Each test failed before its
 * fix. */
#include "joblog.h"
#include "prs.h"
#include "e2e.h"

#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

/* `prs why OUT WHAT` into r->dir/why.txt; its exit code. */
static int why_run(const e2e_run *r, const char *what) {
    return tu_sh("%s why '%s' '%s' > '%s/why.txt' 2>&1", tu_prs(), r->out, what, r->dir);
}

static char *why_text(const e2e_run *r) {
    char p[512];
    snprintf(p, sizeof(p), "%s/why.txt", r->dir);
    return tu_read(p, NULL);
}

Test(triage, errors_grouped_by_shape_and_ordered_by_count, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "triage", 30);
    /* f0002 fails first (batch 0, one worker), alone; ten f001x fail with messages naming
     * the item, its size and a path: one group of ten, listed first. */
    cr_assert_eq(e2e_prs(&r, "faulty", "--mini-batch-size 5 --workers 1",
                         "--fail-item f0002 --fail-named f001"),
                 0);
    char *sum = e2e_out_file(&r, "logs/user/error.txt");
    cr_assert(sum);
    cr_assert(strstr(sum, "errors: 11 in 2 groups"), "%s", sum);
    const char *ten = strstr(sum, "[10 x] cannot parse <item> (<N> bytes) at <path>\n");
    const char *one = strstr(sum, "[1 x] faulty: fails items matching 'f<N>'\n");
    cr_assert(ten && one && ten < one, "not grouped by shape, by count:\n%s", sum);
    /* One whole example, and its file. */
    cr_assert(strstr(ten, "  first: batch 2 attempt 1 item f0010.txt: cannot parse f0010.txt ("),
              "%s", sum);
    cr_assert(strstr(ten, "  file: logs/user/error/"), "%s", sum);
    free(sum);
    tu_rmrf(r.dir);
}

/* A runtime that dies after filing a try's errors but before committing the try redoes the
 * batch with the same attempt: its errors must not be counted twice. The same item failing
 * the same way on the next try counts, marked as repeated. */
Test(triage, redone_try_is_filed_once_and_a_retry_is_marked_repeated, .timeout = 30) {
    char dir[256];
    tu_tmpdir(dir, sizeof(dir), "triage");
    static const char life1[] = "batch 3 attempt 1 item a.txt: cannot open a.txt: 17 bytes\n"
                                "batch 3 attempt 1 item b.txt: cannot open b.txt: 18 bytes\n";
    static const char life2[] = "batch 3 attempt 1 item a.txt: cannot open a.txt: 17 bytes\n"
                                "batch 3 attempt 1 item b.txt: cannot open b.txt: 18 bytes\n"
                                "batch 3 attempt 2 item a.txt: cannot open a.txt: 17 bytes\n";
    for (int life = 0; life < 2; life++) {
        prs_joblog *jl;
        char err[256];
        cr_assert_eq(prs_joblog_open(&jl, dir, PRS_LOG_INFO, 1, 0, err, sizeof(err)), 0, "%s", err);
        const char *text = life ? life2 : life1;
        prs_joblog_errors(jl, text, strlen(text));
        prs_joblog_close(jl);
    }
    char path[400];
    snprintf(path, sizeof(path), "%s/logs/user/error.txt", dir);
    char *sum = tu_read(path, NULL);
    cr_assert(sum);
    cr_assert(strstr(sum, "errors: 3 in 1 group "), "%s", sum);
    cr_assert(strstr(sum, "[3 x] cannot open <item>: <N> bytes\n  repeated: 1 on later tries"),
              "%s", sum);
    free(sum);
    cr_assert_eq(tu_sh("test $(ls %s/logs/user/error/*/ | grep -c '^error-') -eq 3", dir), 0);
    tu_rmrf(dir);
}

Test(triage, batch_failure_reason_shows_everywhere, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "triage", 20);
    cr_assert_eq(e2e_prs(&r, "faulty", "--mini-batch-size 5 --workers 1 --run-max-try 2",
                         "--fail-batch f0012"),
                 0);
    const char *reason = "the batch failed this try: faulty: the batch holds f0012.txt, which "
                         "matches --fail-batch 'f0012'";
    const char *files[] = {"logs/user/error.txt", "logs/overview.txt", "logs/sys/master.txt",
                           "logs/sys/job_report/processed_mini-batches.csv"};
    for (size_t i = 0; i < PRS_ARRAY_LEN(files); i++) {
        char *t = e2e_out_file(&r, files[i]);
        cr_assert(t && strstr(t, reason), "%s lacks the reason:\n%s", files[i], t ? t : "");
        cr_assert(!strstr(t, "run() returned"), "%s:\n%s", files[i], t);
        free(t);
    }
    char *errs = e2e_error_files(&r);
    cr_assert_eq(e2e_count(errs, reason), 2, "%s", errs); /* both tries */
    free(errs);
    tu_rmrf(r.dir);
}

Test(triage, crash_names_the_item_with_file_and_line, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "triage", 20);
    cr_assert_eq(e2e_prs(&r, "faulty", "--mini-batch-size 5 --workers 1 --run-max-try 1",
                         "--crash-item f0012"),
                 0);
    char p[512];
    snprintf(p, sizeof(p), "%s/crash.txt", r.dir);
    cr_assert_eq(tu_sh("cat %s/logs/user/error/*/crash-*.txt > %s", r.out, p), 0);
    char *crash = tu_read(p, NULL);
    cr_assert(crash);
    cr_assert(strstr(crash, "\nitem: f0012.txt\n"), "%s", crash);
    cr_assert(!strstr(crash, "f0011.txt") && !strstr(crash, "f0013.txt"), "%s", crash);
    cr_assert(strstr(crash, "stack (function, file:line):\n"), "%s", crash);
    cr_assert(strstr(crash, " prs_run+0x") && strstr(crash, "tools/examples/faulty.c:"), "%s",
              crash);
    free(crash);
    char *errs = e2e_error_files(&r);
    cr_assert(strstr(errs, "item: f0012.txt\nmessage: the process crashed"), "%s", errs);
    cr_assert(strstr(errs, "stack trace: logs/user/error/"), "%s", errs);
    free(errs);
    tu_rmrf(r.dir);
}

Test(triage, no_item_succeeded_fails_the_job, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "triage", 10);
    /* Default thresholds ignore failures; still, no item succeeded: the job failed. */
    cr_assert_eq(e2e_prs(&r, "faulty", "--mini-batch-size 5", "--fail-item f00"), 1);
    char *err = tu_read(r.err, NULL);
    cr_assert(strstr(err, "prs: FAILED: ") && strstr(err, "no mini-batch item succeeded"), "%s",
              err);
    free(err);
    char *ov = e2e_out_file(&r, "logs/overview.txt");
    cr_assert(strstr(ov, "state: FAILED") && strstr(ov, "why it failed: no item succeeded"), "%s",
              ov);
    free(ov);
    /* Resumed: the stored result, the same exit code. */
    cr_assert_eq(e2e_prs(&r, "faulty", "--mini-batch-size 5", "--fail-item f00"), 1);
    /* One item succeeding is enough for the default thresholds. */
    tu_rmrf(r.out);
    cr_assert_eq(e2e_prs(&r, "faulty", "--mini-batch-size 5", "--fail-item f0001"), 0);
    tu_rmrf(r.dir);
}

Test(triage, refused_job_points_at_no_files, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "triage", 10);
    cr_assert_eq(e2e_prs(&r, "faulty", "--mini-batch-size 5", ""), 0);
    cr_assert_eq(e2e_prs(&r, "faulty", "--mini-batch-size 3", ""), 2);
    char *err = tu_read(r.err, NULL);
    cr_assert(strstr(err, "holds a different job"), "%s", err);
    cr_assert(!strstr(err, "results:") && !strstr(err, "logs:"), "%s", err);
    free(err);
    tu_rmrf(r.dir);
}

Test(triage, interrupted_job_says_how_to_resume, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "triage", 40);
    /* 40 items of 0.1 s on one worker: ~4 s; SIGINT once it runs (bounded wait). */
    int rc = tu_sh("%s run --quiet --entry-script build/examples/faulty.so --input '%s' "
                   "--output '%s' --mini-batch-size 2 --workers 1 -- --sleep-us 100000 "
                   "2>'%s' & pid=$!; "
                   "for i in $(seq 100); do grep -q 'running:' '%s/logs/sys/master.txt' "
                   "2>/dev/null && break; sleep 0.1; done; "
                   "%s why '%s' 0 > '%s/why.txt' 2>&1; echo \"why: $?\" >> '%s/why.txt'; "
                   "kill -INT $pid; wait $pid",
                   tu_prs(), r.in, r.out, r.err, r.out, tu_prs(), r.out, r.dir, r.dir);
    cr_assert_eq(rc, 5);
    /* prs why beside the running job: it only reads. */
    char *why = why_text(&r);
    cr_assert(strstr(why, "mini-batch 0: 2 items") && strstr(why, "why: 0\n"), "%s", why);
    free(why);
    char *err = tu_read(r.err, NULL);
    cr_assert(strstr(err, "prs: STOPPED") && strstr(err, "run the same command again to resume"),
              "%s", err);
    free(err);
    tu_rmrf(r.dir);
}

Test(triage, why_tells_a_failure_a_crash_a_timeout_and_a_success, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "triage", 30);
    cr_assert_eq(e2e_prs(&r, "faulty",
                         "--mini-batch-size 5 --workers 1 --run-max-try 1 "
                         "--run-invocation-timeout 1",
                         "--crash-item f0012 --fail-item f0002 --slow-item f0017 --log-each"),
                 0);
    static const struct {
        const char *what;
        const char *expect[6];
    } cases[] = {
        {"f0002.txt",
         {"item f0002.txt is in mini-batch 0\n", "try 1: worker 0, started ", "RUN_DONE",
          "try 1, item f0002.txt: faulty: fails items matching 'f0002'",
          "INFO worker-0: [batch 0 try 1] item f0002.txt", "next:\n"}},
        {"f0012.txt",
         {"state: FAILED after 1 try", "item f0012.txt: the process crashed", "  item: f0012.txt",
          " prs_run+0x", "tools/examples/faulty.c:", "(the crash: stack with lines)"}},
        {"f0017.txt",
         {"mini-batch 3", "RUN_TIMEOUT", "--run-invocation-timeout (1000 ms)",
          "[batch 3 try 1] item f0017.txt", "prs try --entry-script ", "--item 'f0017.txt'"}},
        {"5",
         {"mini-batch 5: 5 items (f0025.txt .. f0029.txt)", "state: done, 5 of 5 items",
          "RUN_DONE, 5 of 5 items succeeded", "errors (logs/user/error/):\n  none",
          "[batch 5 try 1] item f0029.txt", "--batch 5"}},
    };
    for (size_t c = 0; c < PRS_ARRAY_LEN(cases); c++) {
        cr_assert_eq(why_run(&r, cases[c].what), 0, "prs why %s", cases[c].what);
        char *t = why_text(&r);
        for (size_t k = 0; k < 6; k++)
            cr_assert(strstr(t, cases[c].expect[k]), "prs why %s lacks '%s':\n%s", cases[c].what,
                      cases[c].expect[k], t);
        free(t);
    }
    /* A success's story holds no other batch's lines. */
    cr_assert_eq(why_run(&r, "5"), 0);
    char *t = why_text(&r);
    cr_assert(!strstr(t, "[batch 4 ") && !strstr(t, "f0012"), "%s", t);
    free(t);
    cr_assert_eq(why_run(&r, "nope.txt"), 2);
    t = why_text(&r);
    cr_assert(strstr(t, "nope.txt: no such item or mini-batch"), "%s", t);
    free(t);
    tu_rmrf(r.dir);
}

/* `prs try` on the dataset of r; stdout to r->dir/try.out, stderr to r->err. */
static int try_run(const e2e_run *r, const char *opts, const char *args) {
    return tu_sh("TMPDIR='%s' %s try --entry-script build/examples/faulty.so --input '%s' "
                 "--mini-batch-size 5 %s -- %s > '%s/try.out' 2>'%s' </dev/null",
                 r->dir, tu_prs(), r->in, opts, args, r->dir, r->err);
}

static char *try_out(const e2e_run *r) {
    char p[512];
    snprintf(p, sizeof(p), "%s/try.out", r->dir);
    return tu_read(p, NULL);
}

Test(triage, try_runs_one_good_batch_in_the_foreground, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "triage", 20);
    cr_assert_eq(try_run(&r, "--item f0012.txt", "--log-each"), 0);
    char *rows = try_out(&r), *err = tu_read(r.err, NULL);
    cr_assert_str_eq(rows, "f0010.txt\tok\nf0011.txt\tok\nf0012.txt\tok\nf0013.txt\tok\n"
                           "f0014.txt\tok\n");
    cr_assert(strstr(err, "prs try: mini-batch 2 (5 items: f0010.txt .. f0014.txt)"), "%s", err);
    cr_assert(strstr(err, "log: ") && strstr(err, "INFO worker-0: [batch 2 try 1] item f0013.txt"),
              "%s", err);
    cr_assert(strstr(err, "the mini-batch succeeded"), "%s", err);
    free(rows);
    free(err);
    /* Nothing committed, nothing left: no OUT, no scratch directory. */
    cr_assert_eq(tu_sh("test ! -e '%s' && ! ls -d '%s'/prs-try-* 2>/dev/null", r.out, r.dir), 0);
    /* The first batch by default, --batch by id; one past the end is a usage error. */
    cr_assert_eq(try_run(&r, "", ""), 0);
    rows = try_out(&r);
    cr_assert(strncmp(rows, "f0000.txt\tok\n", 13) == 0, "%s", rows);
    free(rows);
    cr_assert_eq(try_run(&r, "--batch 3", ""), 0);
    rows = try_out(&r);
    cr_assert(strncmp(rows, "f0015.txt\tok\n", 13) == 0, "%s", rows);
    free(rows);
    cr_assert_eq(try_run(&r, "--batch 4", ""), 2);
    err = tu_read(r.err, NULL);
    cr_assert(strstr(err, "no such mini-batch: this input makes 0..3"), "%s", err);
    free(err);
    cr_assert_eq(try_run(&r, "--item nope.txt", ""), 2);
    tu_rmrf(r.dir);
}

Test(triage, try_shows_a_failing_and_a_crashing_batch, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "triage", 20);
    cr_assert_eq(try_run(&r, "--batch 2", "--fail-item f0011"), 1);
    char *err = tu_read(r.err, NULL), *rows = try_out(&r);
    cr_assert(strstr(err, "error: item f0011.txt: faulty: fails items matching 'f0011'"), "%s",
              err);
    cr_assert(!strstr(rows, "f0011.txt") && strstr(rows, "f0012.txt\tok"), "%s", rows);
    free(err);
    free(rows);
    cr_assert_eq(try_run(&r, "--batch 2", "--fail-batch f0013"), 1);
    err = tu_read(r.err, NULL);
    cr_assert(strstr(err, "the batch failed this try: faulty: the batch holds f0013.txt"), "%s",
              err);
    free(err);
    cr_assert_eq(try_run(&r, "--batch 2", "--crash-item f0012"), 1);
    err = tu_read(r.err, NULL);
    cr_assert(strstr(err, "crash: item: f0012.txt") && strstr(err, "tools/examples/faulty.c:") &&
                  strstr(err, "the mini-batch crashed"),
              "%s", err);
    free(err);
    tu_rmrf(r.dir);
}

Test(triage, try_under_gdb_stops_at_the_fault, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "triage", 10);
    /* gdb reads its commands from /dev/null: it runs, stops at the fault, prints the stack,
     * quits. */
    try_run(&r, "--batch 0 --gdb", "--crash-item f0003");
    char *out = try_out(&r);
    cr_assert(strstr(out, "received signal SIGSEGV") && strstr(out, "prs_run (") &&
                  strstr(out, "tools/examples/faulty.c:"),
              "%s", out);
    free(out);
    tu_rmrf(r.dir);
}

/* Every line of text that starts with a digit starts with a millisecond UTC stamp. */
static void assert_stamps_ms(const char *what, const char *text) {
    for (const char *line = text; line && *line;
         line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        if (*line < '0' || *line > '9') continue;
        int y, mo, d, h, mi, s, ms, n = 0;
        cr_assert(sscanf(line, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &y, &mo, &d, &h, &mi, &s, &ms,
                         &n) == 7 &&
                      n == 24,
                  "%s: a line without a millisecond stamp: %.80s", what, line);
    }
}

Test(triage, logs_agree_on_stamps_levels_bytes_and_names, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "triage", 20);
    /* A crash (the supervisor writes to master.txt and the driver log), a failed batch. */
    cr_assert_eq(e2e_prs(&r, "faulty",
                         "--mini-batch-size 5 --workers 2 --run-max-try 1 --io uring "
                         "--perf-interval 1 --logging-level WARNING",
                         "--crash-item f0012 --fail-batch f0017"),
                 0);
    char *driver = e2e_out_file(&r, "logs/70_driver_log.txt");
    cr_assert(strstr(driver, "logging level: WARNING;"), "%s", driver);
    assert_stamps_ms("70_driver_log.txt", driver);
    free(driver);
    char *master = e2e_out_file(&r, "logs/sys/master.txt");
    cr_assert(strstr(master, " supervisor: "), "%s", master);
    assert_stamps_ms("master.txt", master);
    free(master);
    char *perf = e2e_out_file(&r, "logs/sys/perf/overview.csv");
    assert_stamps_ms("perf/overview.csv", perf);
    /* io_uring reads counted: the last process row has read every byte of the last life's
     * inputs, so not 0. */
    const char *last = NULL;
    for (const char *p = perf; (p = strstr(p, ",process,")); p++)
        last = p;
    cr_assert(last, "%s", perf);
    unsigned long long f[9] = {0};
    cr_assert_eq(sscanf(last, ",process,%llu,%llu,%*f,%llu,%llu,%llu,%llu,%llu,%llu", &f[0], &f[1],
                        &f[2], &f[3], &f[4], &f[5], &f[6], &f[7]),
                 8, "%s", last);
    cr_assert_gt(f[6], 0, "bytes_read 0 on the io_uring path:\n%s", perf);
    free(perf);
    /* prs status names the failed batches' items. */
    cr_assert_eq(tu_sh("%s status '%s' > '%s/status.txt'", tu_prs(), r.out, r.dir), 0);
    char p[512];
    snprintf(p, sizeof(p), "%s/status.txt", r.dir);
    char *st = tu_read(p, NULL);
    cr_assert(strstr(st, "batch 2: failed") && strstr(st, "first item 10 (f0010.txt)"), "%s", st);
    cr_assert(strstr(st, "batch 3: failed") && strstr(st, "(f0015.txt)"), "%s", st);
    free(st);
    tu_rmrf(r.dir);
}

Test(triage, v2_names_written_beside_v1, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "triage", 10);
    cr_assert_eq(e2e_prs(&r, "faulty", "--mini-batch-size 5 --workers 1", "--print-each"), 0);
    char *res = e2e_out_file(&r, "logs/job_result.txt");
    cr_assert(res && strstr(res, "exit code: 0\nresult: SUCCEEDED: 2 of 2 mini-batches"), "%s",
              res ? res : "(none)");
    free(res);
    char *err = e2e_out_file(&r, "logs/job_error.txt");
    cr_assert(!err, "a job that succeeded has no job_error.txt:\n%s", err);
    /* The C runtime's worker threads share one process: its captured stderr, as it was. */
    char p[512];
    snprintf(p, sizeof(p), "%s/stderr.txt", r.dir);
    cr_assert_eq(tu_sh("cat %s/logs/user/stderr/*/runtime.txt > '%s'", r.out, p), 0);
    char *se = tu_read(p, NULL);
    cr_assert(strstr(se, "faulty: working on f0003.txt\n"), "%s", se);
    free(se);
    /* A failed job says why in job_error.txt; a refused one leaves the files alone. */
    tu_rmrf(r.out);
    cr_assert_eq(e2e_prs(&r, "faulty", "--mini-batch-size 5", "--fail-item f00"), 1);
    err = e2e_out_file(&r, "logs/job_error.txt");
    cr_assert(err && strstr(err, "FAILED: ") && strstr(err, "first error: batch ") &&
                  strstr(err, "why it failed: no item succeeded"),
              "%s", err ? err : "(none)");
    free(err);
    cr_assert_eq(e2e_prs(&r, "faulty", "--mini-batch-size 3", ""), 2);
    res = e2e_out_file(&r, "logs/job_result.txt");
    cr_assert(strstr(res, "exit code: 1\n"), "a refused job rewrote job_result.txt:\n%s", res);
    free(res);
    tu_rmrf(r.dir);
}

Test(triage, v2_python_host_output_per_worker, .timeout = 120) {
    if (access("/usr/bin/python3", X_OK) != 0) cr_skip_test("no /usr/bin/python3");
    e2e_run r;
    e2e_setup(&r, "triage", 8);
    cr_assert_eq(e2e_prs(&r, "tests/python/echo.py", "--workers 2 --mini-batch-size 4", ""), 0);
    char p[512];
    snprintf(p, sizeof(p), "%s/py.txt", r.dir);
    cr_assert_eq(tu_sh("cat %s/logs/user/stdout/*/worker-0.txt %s/logs/user/stderr/*/worker-1.txt "
                       "> '%s'",
                       r.out, r.out, p),
                 0);
    char *t = tu_read(p, NULL);
    cr_assert(strstr(t, "echo: printed from init\n") && strstr(t, "echo: to stderr\n"), "%s", t);
    free(t);
    tu_rmrf(r.dir);
}

Test(triage, overview_elapsed_spans_the_runtime_lives, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "triage", 20);
    /* Life 1 sleeps 12 x 0.1 s before it crashes on f0012; life 2 does the rest. */
    cr_assert_eq(e2e_prs(&r, "faulty", "--mini-batch-size 5 --workers 1 --run-max-try 1",
                         "--crash-item f0012 --sleep-us 100000"),
                 0);
    char *ov = e2e_out_file(&r, "logs/overview.txt");
    const char *e = strstr(ov, "elapsed: ");
    cr_assert(e, "%s", ov);
    double secs = strtod(e + 9, NULL);
    cr_assert_geq(secs, 1.6, "elapsed counts the last life only:\n%s", ov);
    free(ov);
    tu_rmrf(r.dir);
}

Test(triage, try_runs_a_python_script, .timeout = 120) {
    if (access("/usr/bin/python3", X_OK) != 0) cr_skip_test("no /usr/bin/python3");
    e2e_run r;
    e2e_setup(&r, "triage", 8);
    int rc = tu_sh("TMPDIR='%s' %s try --entry-script tests/python/echo.py --input '%s' "
                   "--mini-batch-size 4 --batch 1 > '%s/try.out' 2>'%s' </dev/null",
                   r.dir, tu_prs(), r.in, r.dir, r.err);
    char *rows = try_out(&r), *err = tu_read(r.err, NULL);
    cr_assert_eq(rc, 0, "%s\n%s", rows, err);
    cr_assert(strstr(rows, "f0004.txt\t") && strstr(rows, "f0007.txt\t") && !strstr(rows, "f0000"),
              "%s", rows);
    cr_assert(strstr(err, "log: ") && strstr(err, "stdout: echo: printed from init"), "%s", err);
    free(rows);
    free(err);
    rc = tu_sh("TMPDIR='%s' %s try --entry-script tests/python/faults.py --input '%s' "
               "--mini-batch-size 4 -- --raise f0002 > '%s/try.out' 2>'%s' </dev/null",
               r.dir, tu_prs(), r.in, r.dir, r.err);
    err = tu_read(r.err, NULL);
    cr_assert_eq(rc, 1, "%s", err);
    cr_assert(strstr(err, "error: item -: ") && strstr(err, "ValueError"), "%s", err);
    free(err);
    tu_rmrf(r.dir);
}

/* ---- prs try on tabular inputs ------------------------------------------------------------ */

/* r->in: a directory of two csv files ("id,x" header, rows "I,I.5"): t.csv 100 rows, u.csv
 * 10, cut by 100-byte mini-batches into several batches per file. */
static void try_tab_setup(e2e_run *r) {
    e2e_setup(r, "triage", 0);
    cr_assert_eq(tu_sh("mkdir -p '%s'", r->in), 0);
    char p[512];
    snprintf(p, sizeof(p), "%s/t.csv", r->in);
    FILE *t = fopen(p, "w");
    snprintf(p, sizeof(p), "%s/u.csv", r->in);
    FILE *u = fopen(p, "w");
    cr_assert(t && u);
    fputs("id,x\n", t);
    fputs("id,x\n", u);
    for (unsigned i = 0; i < 100; i++)
        fprintf(i < 10 && i % 2 ? u : t, "%u,%u.5\n", i, i);
    fclose(t);
    fclose(u);
}

static int try_tab_run(const e2e_run *r, const char *script, const char *opts, const char *args) {
    return tu_sh("TMPDIR='%s' timeout 60 %s try --entry-script %s --input '%s' --input-format csv "
                 "--mini-batch-size 100 %s -- %s > '%s/try.out' 2>'%s' </dev/null",
                 r->dir, tu_prs(), script, r->in, opts, args, r->dir, r->err);
}

Test(triage, try_tabular_batch_is_the_real_jobs_batch, .timeout = 120) {
    e2e_run r;
    try_tab_setup(&r);
    /* The real job, one worker: which records each mini-batch holds. */
    cr_assert_eq(
        e2e_prs(&r, "faulty", "--input-format csv --mini-batch-size 100 --workers 1", "--log-each"),
        0);
    char job[600];
    snprintf(job, sizeof(job), "cat %s/logs/user/*/*.log.txt", r.out);
    for (unsigned b = 2; b <= 3; b++) {
        char opts[64];
        snprintf(opts, sizeof(opts), "--batch %u", b);
        cr_assert_eq(try_tab_run(&r, "build/examples/faulty.so", opts, "--log-each"), 0);
        char *err = tu_read(r.err, NULL);
        cr_assert(strstr(err, "prs try: mini-batch ") && strstr(err, "kept, the others not run") &&
                      strstr(err, "the mini-batch succeeded"),
                  "%s", err);
        free(err);
        /* The same records, under the same names and batch id, as the real job's batch b;
         * one row each. */
        cr_assert_eq(tu_sh("%s | grep -o '\\[batch %u try 1\\] item .*' | sed 's/.* item //' | "
                           "sort > %s/job.items && test -s %s/job.items",
                           job, b, r.dir, r.dir),
                     0);
        cr_assert_eq(tu_sh("grep -o '\\[batch %u try 1\\] item .*' '%s' | sed 's/.* item //' | "
                           "sort | cmp - %s/job.items",
                           b, r.err, r.dir),
                     0, "batch %u differs from the real job's", b);
        cr_assert_eq(tu_sh("cut -f1 %s/try.out | sort | cmp - %s/job.items", r.dir, r.dir), 0);
    }
    /* --item picks the batch holding that record: u.csv's second row is on line 3. */
    cr_assert_eq(try_tab_run(&r, "build/examples/faulty.so", "--item u.csv:3", "--log-each"), 0);
    char *rows = try_out(&r);
    cr_assert(strstr(rows, "u.csv:3\tok\n") && !strstr(rows, "t.csv:"), "%s", rows);
    free(rows);
    /* Every batch gets the header: records_probe shows its size ("id,x": 4 bytes). */
    cr_assert_eq(try_tab_run(&r, "build/tests/records_probe.so", "--item t.csv:50", ""), 0);
    rows = try_out(&r);
    cr_assert(strstr(rows, "t.csv:50\t7\t4\t") && strstr(rows, "\t4\t44,44.5\n"), "%s", rows);
    free(rows);
    tu_rmrf(r.dir);
}

Test(triage, try_tabular_failing_batch_and_bad_picks, .timeout = 120) {
    e2e_run r;
    try_tab_setup(&r);
    cr_assert_eq(
        try_tab_run(&r, "build/examples/faulty.so", "--item t.csv:30", "--fail-item t.csv:30"), 1);
    char *err = tu_read(r.err, NULL), *rows = try_out(&r);
    cr_assert(strstr(err, "error: item t.csv:30: faulty: fails items matching 't.csv:30'"), "%s",
              err);
    cr_assert(strstr(err, "the mini-batch (or some of its items) failed"), "%s", err);
    cr_assert(!strstr(rows, "t.csv:30\t") && strstr(rows, "t.csv:31\tok"), "%s", rows);
    free(err);
    free(rows);
    /* No record starts at the header's line, at a line past the end, or in a file not in
     * --input; a batch past the end; not FILE:LINE: usage errors that say so. */
    const char *bad[][2] = {
        {"--item t.csv:1", "--item t.csv:1: no record of --input starts at that line"},
        {"--item t.csv:500", "--item t.csv:500: no record of --input starts at that line"},
        {"--item nope.csv:5", "--item nope.csv:5: no record of --input starts at that line"},
        {"--item t.csv", "--item t.csv: a tabular item is named FILE:LINE"},
        {"--batch 99", "--batch 99: no such mini-batch: this input makes 0.."},
        {"--mini-batch-size 0", "--mini-batch-size: a size in bytes"},
    };
    for (size_t i = 0; i < PRS_ARRAY_LEN(bad); i++) {
        cr_assert_eq(try_tab_run(&r, "build/examples/faulty.so", bad[i][0], ""), 2, "%s",
                     bad[i][0]);
        err = tu_read(r.err, NULL);
        cr_assert(strstr(err, bad[i][1]), "%s:\n%s", bad[i][0], err);
        cr_assert(!strstr(err, "the mini-batch"), "%s:\n%s", bad[i][0], err);
        free(err);
    }
    cr_assert_eq(tu_sh("! ls -d '%s'/prs-try-* 2>/dev/null", r.dir), 0, "scratch left behind");
    tu_rmrf(r.dir);
}

Test(triage, try_tabular_python_good_and_failing_batch, .timeout = 120) {
    if (tu_sh("/usr/bin/python3 -c 'import pandas, numpy' 2>/dev/null") != 0)
        cr_skip_test("no /usr/bin/python3 with python3-pandas and python3-numpy");
    e2e_run r;
    try_tab_setup(&r);
    /* frame.py returns a DataFrame: "id twice label" rows. t.csv's line 30 is id 33. */
    cr_assert_eq(try_tab_run(&r, "tests/python/frame.py", "--item t.csv:30", ""), 0);
    char *rows = try_out(&r), *err = tu_read(r.err, NULL);
    cr_assert(strstr(rows, "\n33 67.0 \"v 33\"\n"), "%s\n%s", rows, err);
    cr_assert(!strstr(rows, "\"v 0\"") && strstr(err, "the mini-batch succeeded"), "%s", err);
    free(rows);
    free(err);
    /* A value that is not a number in that batch: run() raises. */
    char p[512];
    snprintf(p, sizeof(p), "%s/t.csv", r.in);
    cr_assert_eq(tu_sh("sed -i 's/^33,33.5$/33,abc/' '%s'", p), 0);
    cr_assert_eq(try_tab_run(&r, "tests/python/frame.py", "--item t.csv:30", ""), 1);
    err = tu_read(r.err, NULL);
    cr_assert(strstr(err, "run() raised ValueError: could not convert string to float: 'abc'"),
              "%s", err);
    free(err);
    tu_rmrf(r.dir);
}
