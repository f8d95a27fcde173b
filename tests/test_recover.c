/* Never lose work: entry scripts that crash, abort, hang, time out, fail their first
 * tries or leak; a crash loop; a corrupt or missing state; --fresh; a full disk. Every
 * check reads what a user would: the rows, `prs status`, overview.txt, the evidence files.
 * Timeouts are short but verdicts never depend on timing: a hung run() is ended by the
 * runtime, whenever that happens. */
#include "e2e.h"

#include <sys/mount.h>
#include <unistd.h>

/* `prs status OUT --batches` as text (the caller frees it). */
static char *status_text(const e2e_run *r) {
    char path[512];
    snprintf(path, sizeof(path), "%s/status.txt", r->dir);
    cr_assert_eq(tu_sh("%s status '%s' --batches >'%s'", tu_prs(), r->out, path), 0);
    return tu_read(path, NULL);
}

/* Asserts `prs status` lists batch id in state with that many failed tries. */
static void assert_batch(const char *status, unsigned id, const char *state, unsigned tries) {
    char want[128];
    snprintf(want, sizeof(want), "  batch %u: %s, %u failed tr%s,", id, state, tries,
             tries == 1 ? "y" : "ies");
    cr_assert(strstr(status, want), "wanted '%s' in:\n%s", want, status);
}

/* Files under OUT/logs/user/error/ whose name starts with prefix. */
static long evidence_files(const e2e_run *r, const char *prefix) {
    char path[512];
    snprintf(path, sizeof(path), "%s/count.txt", r->dir);
    tu_sh("find '%s/logs/user/error' -type f -name '%s*' | wc -l >'%s'", r->out, prefix, path);
    char *text = tu_read(path, NULL);
    long n = text ? atol(text) : -1;
    free(text);
    return n;
}

Test(recover, segfault_on_one_item_spends_only_that_batch_tries, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "recover", 30); /* 3 batches; f0015 is in batch 1 */
    cr_assert_eq(e2e_prs(&r, "faulty", "--workers 2 --run-max-try 3", "--crash-item f0015"), 0);
    e2e_assert_rows_once(&r, 30, "f001");
    char *st = status_text(&r);
    assert_batch(st, 0, "done", 0);
    assert_batch(st, 1, "failed", 3);
    assert_batch(st, 2, "done", 0);
    cr_assert(strstr(st, "items: total 30, succeeded 20, failed 10"), "%s", st);
    free(st);
    cr_assert_eq(evidence_files(&r, "crash-"), 3, "one evidence file per crash");
    char *ov = e2e_out_file(&r, "logs/overview.txt");
    cr_assert(strstr(ov, "crashed in run() with signal 11"), "%s", ov);
    cr_assert(strstr(ov, "logs/user/error/"), "%s", ov);
    free(ov);
    char *ev = NULL;
    char path[600];
    snprintf(path, sizeof(path), "%s/first.txt", r.dir);
    tu_sh("cat \"$(find '%s/logs/user/error' -name 'crash-*' | head -1)\" >'%s'", r.out, path);
    ev = tu_read(path, NULL);
    cr_assert(ev && strstr(ev, "f0015.txt") && strstr(ev, "signal 11"), "%s", ev);
    free(ev);
    tu_rmrf(r.dir);
}

Test(recover, abort_on_one_item_fails_its_batch_after_max_tries, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "recover", 20);
    cr_assert_eq(e2e_prs(&r, "faulty", "--workers 1 --run-max-try 2", "--abort-item f0003"), 0);
    e2e_assert_rows_once(&r, 20, "f000");
    char *st = status_text(&r);
    assert_batch(st, 0, "failed", 2);
    assert_batch(st, 1, "done", 0);
    free(st);
    cr_assert_eq(evidence_files(&r, "crash-"), 2);
    char *ov = e2e_out_file(&r, "logs/overview.txt");
    cr_assert(strstr(ov, "signal 6"), "%s", ov);
    free(ov);
    tu_rmrf(r.dir);
}

Test(recover, crashes_on_first_tries_then_success, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "recover", 30);
    /* Every batch crashes the process on its tries 1 and 2: with 3 tries all succeed. */
    cr_assert_eq(e2e_prs(&r, "faulty", "--workers 2 --run-max-try 3", "--crash-attempts 2"), 0);
    e2e_assert_rows_once(&r, 30, NULL);
    char *st = status_text(&r);
    for (unsigned b = 0; b < 3; b++)
        assert_batch(st, b, "done", 2);
    free(st);
    tu_rmrf(r.out);
    /* With 2 tries every batch fails; one failed batch allowed: the job fails (exit 1). */
    cr_assert_eq(e2e_prs(&r, "faulty", "--workers 2 --run-max-try 2 --allowed-failed-count 1",
                         "--crash-attempts 2"),
                 1);
    char *ov = e2e_out_file(&r, "logs/overview.txt");
    cr_assert(strstr(ov, "state: FAILED") && strstr(ov, "--allowed-failed-count"), "%s", ov);
    free(ov);
    tu_rmrf(r.dir);
}

Test(recover, failing_first_tries_gives_exact_counts, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "recover", 25); /* batches of 10, 10, 5 */
    cr_assert_eq(e2e_prs(&r, "faulty", "--run-max-try 3", "--fail-attempts 2"), 0);
    e2e_assert_rows_once(&r, 25, NULL);
    char *st = status_text(&r);
    for (unsigned b = 0; b < 3; b++)
        assert_batch(st, b, "done", 2);
    free(st);
    tu_rmrf(r.out);
    cr_assert_eq(e2e_prs(&r, "faulty", "--run-max-try 2 --error-threshold 24", "--fail-attempts 2"),
                 1);
    st = status_text(&r);
    cr_assert(strstr(st, "FAILED") && strstr(st, "--error-threshold"), "%s", st);
    cr_assert(strstr(st, "items: total 25, succeeded 0, failed 25"), "%s", st);
    for (unsigned b = 0; b < 3; b++)
        assert_batch(st, b, "failed", 2);
    free(st);
    tu_rmrf(r.dir);
}

Test(recover, hung_run_is_restarted_and_its_batch_fails, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "recover", 30);
    cr_assert_eq(e2e_prs(&r, "faulty", "--workers 2 --run-max-try 2 --run-invocation-timeout 1",
                         "--hang-item f0015"),
                 0);
    e2e_assert_rows_once(&r, 30, "f001");
    char *st = status_text(&r);
    assert_batch(st, 1, "failed", 2);
    assert_batch(st, 0, "done", 0);
    assert_batch(st, 2, "done", 0);
    free(st);
    char *errs = e2e_error_files(&r);
    cr_assert_eq(e2e_count(errs, "ignored the cancel"), 2, "%s", errs);
    free(errs);
    char *master = e2e_out_file(&r, "logs/sys/master.txt");
    cr_assert_eq(e2e_count(master, "asked for a restart"), 2, "%s", master);
    free(master);
    tu_rmrf(r.dir);
}

Test(recover, slow_run_that_honours_cancel_is_not_restarted, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "recover", 30);
    cr_assert_eq(e2e_prs(&r, "faulty", "--workers 2 --run-max-try 2 --run-invocation-timeout 1",
                         "--slow-item f0015"),
                 0);
    e2e_assert_rows_once(&r, 30, "f001");
    char *st = status_text(&r);
    assert_batch(st, 1, "failed", 2);
    free(st);
    char *errs = e2e_error_files(&r);
    cr_assert_eq(e2e_count(errs, "--run-invocation-timeout"), 2, "%s", errs);
    free(errs);
    char *master = e2e_out_file(&r, "logs/sys/master.txt");
    cr_assert_eq(e2e_count(master, "restart"), 0, "%s", master);
    free(master);
    tu_rmrf(r.dir);
}

Test(recover, leaking_script_still_completes, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "recover", 40);
    /* The leak is the script's: LeakSanitizer would rightly report it at exit. */
    cr_assert_eq(
        tu_sh("ASAN_OPTIONS=detect_leaks=0 %s run --quiet --entry-script "
              "build/examples/faulty.so --input '%s' --output '%s' -- --leak 1048576 2>'%s'",
              tu_prs(), r.in, r.out, r.err),
        0);
    e2e_assert_rows_once(&r, 40, NULL);
    tu_rmrf(r.dir);
}

Test(recover, crash_in_init_is_a_crash_loop, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "recover", 10);
    cr_assert_eq(e2e_prs(&r, "build/tests/crash_init.so", "", ""), 6);
    char *err = tu_read(r.err, NULL);
    cr_assert(strstr(err, "crash loop") || strstr(err, "without progress"), "%s", err);
    free(err);
    char *st = status_text(&r);
    cr_assert(strstr(st, "not running (resumable)"), "%s", st);
    cr_assert(strstr(st, "pending 1"), "%s", st);
    free(st);
    tu_rmrf(r.dir);
}

/* Runs a finished job, then damages its state with cmd; the rerun must refuse (exit 2)
 * naming what, and leave the rows as they were. */
static void damaged_state_is_refused(const char *damage, const char *says) {
    e2e_run r;
    e2e_setup(&r, "recover", 20);
    cr_assert_eq(e2e_prs(&r, "wordcount", "", ""), 0);
    char *before = e2e_out_file(&r, "parallel_run_step.txt");
    cr_assert(before && *before);
    cr_assert_eq(tu_sh("cd '%s/.prs' && %s", r.out, damage), 0);
    cr_assert_eq(e2e_prs(&r, "wordcount", "", ""), 2);
    char *err = tu_read(r.err, NULL);
    cr_assert(strstr(err, says), "wanted '%s' in: %s", says, err);
    free(err);
    char *after = e2e_out_file(&r, "parallel_run_step.txt");
    cr_assert_str_eq(after, before, "the output changed");
    free(after);
    free(before);
    tu_rmrf(r.dir);
}

Test(recover, corrupt_state_is_refused_and_output_kept, .timeout = 60) {
    damaged_state_is_refused("head -c 8192 /dev/urandom | dd of=data.mdb conv=notrunc status=none",
                             "data.mdb");
}

Test(recover, lost_state_does_not_overwrite_output, .timeout = 60) {
    damaged_state_is_refused(": >data.mdb", "refusing to overwrite");
    damaged_state_is_refused("rm -f data.mdb lock.mdb", "refusing to overwrite");
}

Test(recover, different_job_refused_unless_fresh, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "recover", 20);
    cr_assert_eq(e2e_prs(&r, "faulty", "--mini-batch-size 5", "--fail-item f001"), 0);
    e2e_assert_rows_once(&r, 20, "f001");
    cr_assert_eq(e2e_prs(&r, "faulty", "--mini-batch-size 4", ""), 2);
    char *err = tu_read(r.err, NULL);
    cr_assert(strstr(err, "mini_batch_size") || strstr(err, "mini-batch-size"), "%s", err);
    cr_assert(strstr(err, "--fresh"), "%s", err);
    free(err);
    cr_assert_eq(e2e_prs(&r, "faulty", "--mini-batch-size 4 --fresh", ""), 0);
    e2e_assert_rows_once(&r, 20, NULL);
    char *st = status_text(&r);
    cr_assert(strstr(st, "mini-batches: total 5, done 5"), "%s", st);
    free(st);
    tu_rmrf(r.dir);
}

Test(recover, status_without_a_job_is_a_usage_error) {
    char dir[256];
    tu_tmpdir(dir, sizeof(dir), "recover");
    cr_assert_eq(tu_sh("%s status '%s' 2>/dev/null", tu_prs(), dir), 2);
    cr_assert_eq(tu_sh("%s status 2>/dev/null", tu_prs()), 2);
    tu_rmrf(dir);
}

/* OUT on a 1 MiB tmpfs that the rows outgrow: the job stops as resumable (exit 5) naming
 * the path; with room made, the same command finishes with every row exactly once. */
Test(recover, full_disk_stops_resumably_and_loses_nothing, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "recover", 300);
    cr_assert_eq(tu_sh("mkdir -p '%s'", r.out), 0);
    if (mount("prs-test", r.out, "tmpfs", 0, "size=1m") != 0) {
        tu_rmrf(r.dir);
        cr_skip_test("cannot mount a tmpfs here (%s): full-disk test skipped", strerror(errno));
    }
    /* 30 batches x 10000 extra rows of 6 bytes: 1.8 MB of rows into 1 MiB. */
    int code = e2e_prs(&r, "faulty", "--workers 2", "--extra-rows 10000");
    char *err = tu_read(r.err, NULL);
    cr_assert_eq(code, 5, "exit %d: %s", code, err);
    cr_assert(strstr(err, r.out) && strstr(err, "No space left"), "%s", err);
    free(err);
    cr_assert_eq(mount(NULL, r.out, NULL, MS_REMOUNT, "size=64m"), 0, "%s", strerror(errno));
    code = e2e_prs(&r, "faulty", "--workers 2", "--extra-rows 10000");
    err = tu_read(r.err, NULL);
    cr_assert_eq(code, 0, "exit %d: %s", code, err);
    free(err);
    char path[512];
    snprintf(path, sizeof(path), "%s/rows.txt", r.dir);
    cr_assert_eq(tu_sh("grep -c '^extra$' '%s/parallel_run_step.txt' >'%s'", r.out, path), 0);
    char *n = tu_read(path, NULL);
    cr_assert_eq(atol(n), 300000, "extra rows: %s", n);
    free(n);
    cr_assert_eq(tu_sh("grep -v '^extra$' '%s/parallel_run_step.txt' | sort | uniq -d | wc -l "
                       "| grep -qx 0 && grep -c 'ok$' '%s/parallel_run_step.txt' | grep -qx 300",
                       r.out, r.out),
                 0, "each file's row exactly once");
    umount(r.out);
    tu_rmrf(r.dir);
}

/* LMDB's map filling up is not a full disk: job creation grows it in place; a commit that
 * fills it while workers read the map restarts the runtime, which reopens it twice as
 * large. PRS_QUEUE_MAP_BYTES makes the map small enough to fill. */
static void map_full_case(unsigned long map_bytes, const char *master_says) {
    e2e_run r;
    e2e_setup(&r, "recover", 3000);
    char bytes[32];
    snprintf(bytes, sizeof(bytes), "%lu", map_bytes);
    setenv("PRS_QUEUE_MAP_BYTES", bytes, 1);
    int code = e2e_prs(&r, "wordcount", "--workers 2 --mini-batch-size 1", "");
    char *err = tu_read(r.err, NULL);
    cr_assert_eq(code, 0, "exit %d: %s", code, err);
    free(err);
    e2e_assert_rows_once(&r, 3000, NULL);
    char *master = e2e_out_file(&r, "logs/sys/master.txt");
    cr_assert(master && strstr(master, master_says), "wanted '%s' in:\n%s", master_says, master);
    free(master);
    tu_rmrf(r.dir);
}

Test(recover, map_full_while_creating_grows_the_map, .timeout = 120) {
    /* 3000 item and batch records need about 280 KB: creation cannot fit in 128 KiB. */
    map_full_case(128 * 1024, "job state map full while creating the job: grew it to 262144 bytes");
}

Test(recover, map_full_while_running_restarts_with_a_larger_map, .timeout = 120) {
    /* Creation fits in 340 KB; marking 3000 batches done copies their pages and does not. */
    map_full_case(340000, "job state map full: restarting to grow it");
}
