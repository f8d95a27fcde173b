/* A misbehaving entry script or input never decides the result, never hangs prs, never
 * writes outside OUT (issue 13). One test (or more) per case, each with its own entry
 * script under tests/scripts/. Every run of prs goes through `timeout`, so a regression
 * that hangs fails with exit 124 instead of hanging the suite; the verdicts never depend
 * on timing. */
#include "e2e.h"

#include <signal.h>
#include <unistd.h>

#define MB_SCRIPTS "build/tests/"
#define MB_FILES 20u

/* `prs run` under timeout (TERM after limit_s, KILL 3 s later; the runtime dies with its
 * supervisor). Returns prs's exit code, 124/137 if it had to be ended. */
static int mb_run(const e2e_run *r, const char *script, const char *opts, const char *args,
                  unsigned limit_s) {
    return tu_sh("timeout -k 3 %u %s run --quiet --entry-script " MB_SCRIPTS
                 "%s.so --input '%s' --output '%s' %s -- %s 2>>'%s'",
                 limit_s, tu_prs(), script, r->in, r->out, opts, args, r->err);
}

static char *mb_file(const e2e_run *r, const char *name) {
    char *text = e2e_out_file(r, name);
    cr_assert(text != NULL, "OUT/%s missing", name);
    return text;
}

static char *mb_stderr(const e2e_run *r) {
    char *text = tu_read(r->err, NULL);
    return text ? text : calloc(1, 1);
}

/* A result message is never empty: no "prs: " line with nothing after it. */
static void mb_assert_messages(const e2e_run *r) {
    char *err = mb_stderr(r);
    cr_assert(!strstr(err, "prs: \n") && strncmp(err, "prs: \n", 6) != 0,
              "an empty message on stderr:\n%s", err);
    free(err);
}

/* ---- 1. the script's exit status never becomes the job's result ------------------- */

/* exit(N) once, in prs_run: whatever N (the codes prs itself uses included), that batch
 * is retried and the job succeeds with every row. */
Test(misbehave, exit_in_run_once_is_a_retried_try, .timeout = 120) {
    static const int codes[] = {0, 1, 3, 5, 75};
    for (size_t i = 0; i < PRS_ARRAY_LEN(codes); i++) {
        e2e_run r;
        e2e_setup(&r, "mb-exit1", MB_FILES);
        char args[600];
        snprintf(args, sizeof(args), "--code %d --at f0005 --once '%s'%s", codes[i], r.dir,
                 i % 2 ? " --raw" : "");
        int code = mb_run(&r, "exit_run", "--mini-batch-size 1 --workers 2", args, 60);
        cr_assert_eq(code, 0, "exit(%d) in run: prs exited %d:\n%s", codes[i], code, mb_stderr(&r));
        e2e_assert_rows_once(&r, MB_FILES, NULL);
        char *errors = e2e_error_files(&r);
        char want[64];
        snprintf(want, sizeof(want), "the entry script called exit(%d)", codes[i]);
        cr_assert(strstr(errors, want), "no '%s' in the error files:\n%s", want, errors);
        free(errors);
        mb_assert_messages(&r);
        tu_rmrf(r.dir);
    }
}

/* exit(0) on every try: the batch spends its tries and fails like a crashing one; the
 * job's result comes from the thresholds (1 with --error-threshold 0), never from 0. */
Test(misbehave, exit_zero_in_run_every_try_fails_that_batch, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "mb-exit2", MB_FILES);
    int code = mb_run(&r, "exit_run", "--mini-batch-size 1 --workers 2", "--code 0 --at f0005", 60);
    cr_assert_eq(code, 0, "prs exited %d:\n%s", code, mb_stderr(&r));
    e2e_assert_rows_once(&r, MB_FILES, "f0005");
    char *ov = mb_file(&r, "logs/overview.txt");
    cr_assert_eq(tu_field(ov, "items: total 20, succeeded 19, failed "), 1, "%s", ov);
    cr_assert(strstr(ov, "state: SUCCEEDED"), "%s", ov);
    free(ov);
    e2e_run t;
    e2e_setup(&t, "mb-exit3", MB_FILES);
    code = mb_run(&t, "exit_run", "--mini-batch-size 1 --workers 2 --error-threshold 0",
                  "--code 0 --at f0005 --raw", 60);
    cr_assert_eq(code, 1, "--error-threshold 0: prs exited %d:\n%s", code, mb_stderr(&t));
    mb_assert_messages(&r);
    mb_assert_messages(&t);
    tu_rmrf(r.dir);
    tu_rmrf(t.dir);
}

/* exit(0) in prs_init: no batch in hand, nothing to charge: a crash loop (6) that says
 * what the script did, never 0 with the job undone. */
Test(misbehave, exit_in_init_is_a_crash_loop_that_says_so, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "mb-exit4", MB_FILES);
    int code = mb_run(&r, "exit_init", "--workers 2", "--code 0", 45);
    cr_assert_eq(code, 6, "prs exited %d:\n%s", code, mb_stderr(&r));
    char *err = mb_stderr(&r);
    cr_assert(strstr(err, "exit(0)"), "stderr does not name the exit:\n%s", err);
    free(err);
    mb_assert_messages(&r);
    tu_rmrf(r.dir);
}

/* ---- 3. a job whose work is complete can always finish ----------------------------- */

Test(misbehave, crash_in_shutdown_after_the_last_commit_finishes_the_job, .timeout = 90) {
    e2e_run r;
    e2e_setup(&r, "mb-shut", MB_FILES);
    int code = mb_run(&r, "shutdown_crash", "--mini-batch-size 2 --workers 2", "", 60);
    cr_assert_eq(code, 0, "prs exited %d:\n%s", code, mb_stderr(&r));
    e2e_assert_rows_once(&r, MB_FILES, NULL);
    code = mb_run(&r, "shutdown_crash", "--mini-batch-size 2 --workers 2", "", 60);
    cr_assert_eq(code, 0, "the rerun exited %d:\n%s", code, mb_stderr(&r));
    e2e_assert_rows_once(&r, MB_FILES, NULL);
    char *ov = mb_file(&r, "logs/overview.txt");
    cr_assert(strstr(ov, "state: SUCCEEDED"), "%s", ov);
    free(ov);
    tu_rmrf(r.dir);
}

Test(misbehave, init_crash_after_the_others_did_all_the_work_finishes, .timeout = 90) {
    e2e_run r;
    e2e_setup(&r, "mb-late", MB_FILES);
    int code = mb_run(&r, "late_init_crash", "--mini-batch-size 2 --workers 2", "", 60);
    cr_assert_eq(code, 0, "prs exited %d:\n%s", code, mb_stderr(&r));
    e2e_assert_rows_once(&r, MB_FILES, NULL);
    code = mb_run(&r, "late_init_crash", "--mini-batch-size 2 --workers 2", "", 60);
    cr_assert_eq(code, 0, "the rerun exited %d:\n%s", code, mb_stderr(&r));
    tu_rmrf(r.dir);
}

/* ---- 4. deaths during a batch are charged to the batches in hand --------------------- */

/* Runs self_signal with args on 20 files (one per batch, one worker: the batch in hand is
 * the one that did it) and asserts f0005 alone failed, its tries spent. */
static void mb_charged(const char *tag, const char *args, const char *opts) {
    e2e_run r;
    e2e_setup(&r, tag, MB_FILES);
    char o[256];
    snprintf(o, sizeof(o), "--mini-batch-size 1 --workers 1 %s", opts);
    int code = mb_run(&r, "self_signal", o, args, 100);
    cr_assert_eq(code, 0, "%s: prs exited %d:\n%s", args, code, mb_stderr(&r));
    e2e_assert_rows_once(&r, MB_FILES, "f0005");
    char *ov = mb_file(&r, "logs/overview.txt");
    cr_assert_eq(tu_field(ov, "items: total 20, succeeded 19, failed "), 1, "%s:\n%s", args, ov);
    free(ov);
    mb_assert_messages(&r);
    tu_rmrf(r.dir);
}

Test(misbehave, segfault_in_a_script_thread_is_charged, .timeout = 120) {
    mb_charged("mb-thr", "--sig 11 --thread --at f0005", "");
}

Test(misbehave, self_sigkill_is_charged, .timeout = 150) {
    mb_charged("mb-kill", "--sig 9 --at f0005", "");
}

Test(misbehave, raise_sigterm_in_run_is_charged_not_a_stop, .timeout = 120) {
    mb_charged("mb-term", "--sig 15 --thread --at f0005", "");
    mb_charged("mb-term2", "--sig 15 --at f0005", "");
}

/* ---- 2. hangs that no signal ended ---------------------------------------------------- */

/* SIGSTOP: a stopped runtime is hung; with one try, its batch fails and the job ends. */
Test(misbehave, self_sigstop_is_treated_as_hung, .timeout = 120) {
    mb_charged("mb-stop", "--sig 19 --at f0005", "--run-max-try 1");
}
