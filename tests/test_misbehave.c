/* A misbehaving entry script or input never decides the result, never hangs prs, never
 * writes outside OUT (issue 13). One test (or more) per case, each with its own entry
 * script under tests/scripts/. Every run of prs goes through `timeout`, so a regression
 * that hangs fails with exit 124 instead of hanging the suite; the verdicts never depend
 * on timing. */
#include "e2e.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>
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

/* `prs run` in the background (no timeout: the caller bounds it with mb_wait). */
static pid_t mb_spawn(const e2e_run *r, const char *script, const char *opts, const char *args) {
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "exec %s run --quiet --entry-script " MB_SCRIPTS
             "%s.so --input '%s' --output '%s' %s -- %s 2>>'%s'",
             tu_prs(), script, r->in, r->out, opts, args, r->err);
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void mb_sleep_ms(unsigned ms) {
    nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L},
              NULL);
}

/* prs's exit code, or -1 if it was still running after limit_s (then it is killed: its
 * runtime dies with it). */
static int mb_wait(pid_t pid, unsigned limit_s) {
    for (unsigned i = 0; i < limit_s * 20; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
        mb_sleep_ms(50);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

/* Waits (bounded) until OUT's output holds n lines. */
static bool mb_wait_rows(const e2e_run *r, size_t n, unsigned limit_s) {
    for (unsigned i = 0; i < limit_s * 20; i++) {
        char *text = e2e_out_file(r, "parallel_run_step.txt");
        size_t got = tu_count_lines(text);
        free(text);
        if (got >= n) return true;
        mb_sleep_ms(50);
    }
    return false;
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

/* A second SIGTERM ends prs within a bound whatever the script does (here: a prs_shutdown
 * that never returns): exit 5, resumable. */
Test(misbehave, second_sigterm_ends_prs_whatever_the_script_does, .timeout = 90) {
    e2e_run r;
    e2e_setup(&r, "mb-2term", MB_FILES);
    pid_t pid = mb_spawn(&r, "shutdown_hang", "--workers 2 --run-invocation-timeout 600", "");
    bool rows = mb_wait_rows(&r, MB_FILES, 30);
    mb_sleep_ms(300); /* into the shutdown (not needed for the verdict) */
    kill(pid, SIGTERM);
    mb_sleep_ms(200);
    kill(pid, SIGTERM);
    int code = mb_wait(pid, 10);
    cr_assert(rows, "the rows never reached the output:\n%s", mb_stderr(&r));
    cr_assert_eq(code, 5, "after two SIGTERMs prs exited %d (-1: still running):\n%s", code,
                 mb_stderr(&r));
    mb_assert_messages(&r);
    tu_rmrf(r.dir);
}

/* A script that closes every descriptor (the capture pipes included): prs ends. */
Test(misbehave, closing_every_descriptor_does_not_hang_prs, .timeout = 90) {
    e2e_run r;
    e2e_setup(&r, "mb-fds", MB_FILES);
    int code = mb_run(&r, "close_fds", "--workers 1 --mini-batch-size 1", "--at f0005", 60);
    cr_assert(code != 124 && code != 137, "prs hung (exit %d):\n%s", code, mb_stderr(&r));
    mb_assert_messages(&r);
    tu_rmrf(r.dir);
}

/* A child process of the script holding the capture pipes for 30 s: the job ends when its
 * work does (the run is bounded at 20 s), and the child's line is still captured. */
Test(misbehave, a_child_holding_the_capture_pipes_does_not_hold_prs, .timeout = 90) {
    e2e_run r;
    e2e_setup(&r, "mb-daemon", MB_FILES);
    char args[400], pidf[320];
    snprintf(pidf, sizeof(pidf), "%s/daemon.pid", r.dir);
    snprintf(args, sizeof(args), "--pid-file '%s' --sleep-s 30", pidf);
    int code = mb_run(&r, "daemon_child", "--workers 2", args, 20);
    char *pid = tu_read(pidf, NULL);
    if (pid && atoi(pid) > 0) kill(atoi(pid), SIGKILL); /* the daemon, whatever happened */
    cr_assert(pid != NULL, "the script started no child");
    free(pid);
    cr_assert_eq(code, 0, "prs exited %d (124: it waited for the child):\n%s", code, mb_stderr(&r));
    e2e_assert_rows_once(&r, MB_FILES, NULL);
    tu_rmrf(r.dir);
}

/* A child the script forked returning into prs: it ends there; the runtime goes on. */
Test(misbehave, a_forked_child_returning_into_prs_ends_there, .timeout = 120) {
    for (int i = 0; i < 4; i++) {
        e2e_run r;
        e2e_setup(&r, "mb-fork", MB_FILES);
        int code = mb_run(&r, "fork_return", "--workers 2 --mini-batch-size 1", "--at f0005", 20);
        cr_assert_eq(code, 0, "run %d: prs exited %d (124: hung):\n%s", i, code, mb_stderr(&r));
        e2e_assert_rows_once(&r, MB_FILES, NULL);
        tu_rmrf(r.dir);
    }
}

/* A FIFO named in an @LIST (both I/O paths) is a failed item, never a blocked worker; a
 * FIFO as a side table is refused (exit 2), never waited on. */
Test(misbehave, fifo_in_a_list_or_as_side_table_never_blocks, .timeout = 120) {
    static const char *io[] = {"--io sync", "--io auto"};
    for (size_t m = 0; m < PRS_ARRAY_LEN(io); m++) {
        e2e_run r;
        e2e_setup(&r, "mb-fifo", MB_FILES);
        char list[280], fifo[280];
        snprintf(list, sizeof(list), "%s/list.txt", r.dir);
        snprintf(fifo, sizeof(fifo), "%s/a.fifo", r.dir);
        cr_assert_eq(tu_sh("mkfifo '%s' && (cd '%s' && ls -d \"$PWD\"/f*.txt '%s') > '%s'", fifo,
                           r.in, fifo, list),
                     0);
        snprintf(r.in, sizeof(r.in), "@%.256s/list.txt", r.dir);
        char opts[400];
        snprintf(opts, sizeof(opts), "--workers 2 --mini-batch-size 3 %s", io[m]);
        int code = mb_run(&r, "exit_run", opts, "", 30);
        cr_assert_eq(code, 0, "%s: prs exited %d (124: blocked on the FIFO):\n%s", io[m], code,
                     mb_stderr(&r));
        char *errors = e2e_error_files(&r);
        cr_assert(strstr(errors, "not a regular file"), "%s: %s", io[m], errors);
        free(errors);
        char *ov = mb_file(&r, "logs/overview.txt");
        cr_assert_eq(tu_field(ov, "items: total 21, succeeded 20, failed "), 1, "%s", ov);
        free(ov);
        snprintf(opts, sizeof(opts), "--fresh --side-table t=%s", fifo);
        code = mb_run(&r, "exit_run", opts, "", 30);
        cr_assert_eq(code, 2, "a FIFO side table: prs exited %d:\n%s", code, mb_stderr(&r));
        tu_rmrf(r.dir);
    }
}

/* ---- 6. never through a symlink ---------------------------------------------------- */

/* Symlinks planted in OUT (at log files, the output, OUT/logs, OUT/.prs) never carry a
 * write outside OUT: the targets stay empty. */
Test(misbehave, symlinks_in_out_never_carry_writes_outside, .timeout = 120) {
    static const char *links[] = {"logs/sys/master.txt", "logs/70_driver_log.txt",
                                  "logs/sys/processes.csv", "parallel_run_step.txt"};
    static const char *dirs[] = {"logs", ".prs", "logs/sys"};
    for (size_t i = 0; i < PRS_ARRAY_LEN(links) + PRS_ARRAY_LEN(dirs); i++) {
        e2e_run r;
        e2e_setup(&r, "mb-link", MB_FILES);
        bool dir = i >= PRS_ARRAY_LEN(links);
        const char *name = dir ? dirs[i - PRS_ARRAY_LEN(links)] : links[i];
        cr_assert_eq(tu_sh("mkdir -p '%s/outside' '%s/%s' && rmdir '%s/%s' && %s '%s/outside%s' "
                           "&& ln -s '%s/outside%s' '%s/%s'",
                           r.dir, r.out, name, r.out, name, dir ? "true" : "touch", r.dir,
                           dir ? "" : "/file", r.dir, dir ? "" : "/file", r.out, name),
                     0);
        int code = mb_run(&r, "exit_run", "--workers 2", "", 60);
        cr_assert(code != 124 && code != 137, "%s: prs hung", name);
        cr_assert_eq(
            tu_sh("test -z \"$(ls -A '%s/outside')\" || test ! -s '%s/outside/file'", r.dir, r.dir),
            0, "%s (a symlink): prs wrote outside OUT (exit %d):\n%s", name, code, mb_stderr(&r));
        if (dir) cr_assert_eq(code, 2, "%s (a symlink): exit %d", name, code);
        tu_rmrf(r.dir);
    }
}

/* Links, FIFOs and dangling links inside --input are not items, and master.txt says how
 * many of each were left out. */
Test(misbehave, skipped_input_entries_are_counted_in_master, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "mb-skip", MB_FILES);
    cr_assert_eq(tu_sh("cd '%s' && mkdir sub && mkfifo a.fifo && ln -s sub dirlink && "
                       "ln -s nowhere dangling && ln -s loop loop",
                       r.in),
                 0);
    int code = mb_run(&r, "exit_run", "--workers 2", "", 30);
    cr_assert_eq(code, 0, "prs exited %d:\n%s", code, mb_stderr(&r));
    e2e_assert_rows_once(&r, MB_FILES, NULL);
    char *master = mb_file(&r, "logs/sys/master.txt");
    cr_assert(strstr(master, "not items: 1 symlinks to directories or other non-files (not "
                             "followed), 1 FIFOs, sockets or devices, 2 dangling or looping"),
              "%s", master);
    free(master);
    tu_rmrf(r.dir);
}

/* ---- 5. OUT inside the input ------------------------------------------------------- */

Test(misbehave, output_inside_the_input_is_refused, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "mb-inside", MB_FILES);
    snprintf(r.out, sizeof(r.out), "%s/in/sub/out", r.dir);
    int code = mb_run(&r, "exit_run", "", "", 30);
    cr_assert_eq(code, 2, "prs exited %d:\n%s", code, mb_stderr(&r));
    char *err = mb_stderr(&r);
    cr_assert(strstr(err, "is inside --input"), "%s", err);
    free(err);
    cr_assert_neq(tu_sh("test -e '%s/in/sub'", r.dir), 0, "OUT was made inside the input");
    tu_rmrf(r.dir);
}

/* ---- 10. small ones ---------------------------------------------------------------- */

/* `prs status` writes nothing into OUT/.prs: without a lock file it reads without one. */
Test(misbehave, status_creates_no_lock_file, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "mb-status", MB_FILES);
    cr_assert_eq(mb_run(&r, "exit_run", "", "", 30), 0);
    cr_assert_eq(tu_sh("rm '%s/.prs/lock.mdb'", r.out), 0);
    cr_assert_eq(tu_sh("%s status '%s' >/dev/null 2>>'%s'", tu_prs(), r.out, r.err), 0, "%s",
                 mb_stderr(&r));
    cr_assert_neq(tu_sh("test -e '%s/.prs/lock.mdb'", r.out), 0, "prs status made lock.mdb");
    tu_rmrf(r.dir);
}

/* Under umask 000 every file prs makes in OUT is still 0644 (directories 0755): no log is
 * writable by others. */
Test(misbehave, modes_do_not_follow_a_permissive_umask, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "mb-umask", MB_FILES);
    cr_assert_eq(tu_sh("umask 000 && %s run --quiet --entry-script " MB_SCRIPTS
                       "exit_run.so --input '%s' --output '%s' 2>>'%s'",
                       tu_prs(), r.in, r.out, r.err),
                 0, "%s", mb_stderr(&r));
    char list[512];
    snprintf(list, sizeof(list), "%s/writable.txt", r.dir);
    tu_sh("find '%s' -perm /022 > '%s'", r.out, list);
    char *bad = tu_read(list, NULL);
    cr_assert(bad && !bad[0], "group/other-writable under umask 000:\n%s", bad);
    free(bad);
    tu_rmrf(r.dir);
}

/* prs_emit(out, p, SIZE_MAX) is refused (-ENOMEM) instead of wrapping its size check. */
Test(misbehave, emit_of_an_impossible_length_is_refused, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "mb-emit", MB_FILES);
    int code = mb_run(&r, "emit_huge", "--workers 2", "", 30);
    cr_assert_eq(code, 0, "prs exited %d:\n%s", code, mb_stderr(&r));
    char *rows = mb_file(&r, "parallel_run_step.txt");
    char want[64];
    snprintf(want, sizeof(want), "\t%d %d\n", -ENOMEM, -ENOMEM);
    cr_assert_eq(e2e_count(rows, want), MB_FILES, "%s", rows);
    free(rows);
    tu_rmrf(r.dir);
}

/* ---- 8. exit codes and messages ----------------------------------------------------- */

/* --input @DIR: an input error (3) that says what @ takes, not an internal error. */
Test(misbehave, list_input_that_is_a_directory_is_an_input_error, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "mb-atdir", MB_FILES);
    char dir[280];
    snprintf(dir, sizeof(dir), "%s", r.dir);
    snprintf(r.in, sizeof(r.in), "@%s/in", dir);
    int code = mb_run(&r, "exit_run", "", "", 30);
    cr_assert_eq(code, 3, "prs exited %d:\n%s", code, mb_stderr(&r));
    char *err = mb_stderr(&r);
    cr_assert(strstr(err, "is a directory"), "%s", err);
    free(err);
    tu_rmrf(r.dir);
}

/* A constructor that crashes before OUT exists: a crash loop that does not send the user
 * to an OUT/logs/ that was never made. */
Test(misbehave, constructor_crash_does_not_point_into_a_missing_out, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "mb-ctor", MB_FILES);
    int code = mb_run(&r, "crash_ctor", "", "", 30);
    cr_assert_eq(code, 6, "prs exited %d:\n%s", code, mb_stderr(&r));
    char *err = mb_stderr(&r);
    cr_assert(!strstr(err, "see logs/user/error/") && strstr(err, "before OUT/logs was created"),
              "%s", err);
    free(err);
    tu_rmrf(r.dir);
}

/* A prs_shutdown or prs_global_shutdown that never returns: after the bound (here the
 * run timeout, 2 s) the runtime ends as the committed result says. */
Test(misbehave, shutdown_that_never_returns_is_bounded, .timeout = 120) {
    static const char *args[] = {"", "--global"};
    for (size_t i = 0; i < PRS_ARRAY_LEN(args); i++) {
        e2e_run r;
        e2e_setup(&r, "mb-hang", MB_FILES);
        int code =
            mb_run(&r, "shutdown_hang", "--workers 2 --run-invocation-timeout 2", args[i], 40);
        cr_assert_eq(code, 0, "%s: prs exited %d (124: hung):\n%s", args[i], code, mb_stderr(&r));
        e2e_assert_rows_once(&r, MB_FILES, NULL);
        char *master = mb_file(&r, "logs/sys/master.txt");
        cr_assert(strstr(master, "did not return") || strstr(master, "did not end"), "%s", master);
        free(master);
        tu_rmrf(r.dir);
    }
}

/* --append-row-file-name naming prs's own directories: refused as such (2), not blamed on
 * a missing job state. */
Test(misbehave, output_file_named_like_prs_directories_is_refused, .timeout = 60) {
    static const char *names[] = {"logs", ".prs"};
    for (size_t i = 0; i < PRS_ARRAY_LEN(names); i++) {
        e2e_run r;
        e2e_setup(&r, "mb-name", MB_FILES);
        char opts[64];
        snprintf(opts, sizeof(opts), "--append-row-file-name %s", names[i]);
        int code = mb_run(&r, "exit_run", opts, "", 30);
        cr_assert_eq(code, 2, "%s: prs exited %d:\n%s", names[i], code, mb_stderr(&r));
        char *err = mb_stderr(&r);
        cr_assert(strstr(err, "is where prs keeps") && !strstr(err, "job state that describes"),
                  "%s", err);
        free(err);
        tu_rmrf(r.dir);
    }
}

/* The job state cannot be mapped under `ulimit -v`: the message says so, and does not tell
 * the user to remove OUT/.prs (a plain rerun with more address space works). */
Test(misbehave, address_space_limit_does_not_advise_removing_the_state, .timeout = 60) {
    if (strstr(tu_prs(), "asan") || strstr(tu_prs(), "tsan"))
        cr_skip_test("a sanitizer's shadow memory needs more address space than the limit");
    e2e_run r;
    e2e_setup(&r, "mb-ulimit", MB_FILES);
    int code =
        tu_sh("(ulimit -v 3000000 && timeout -k 3 30 %s run --quiet --entry-script " MB_SCRIPTS
              "exit_run.so --input '%s' --output '%s') 2>>'%s'",
              tu_prs(), r.in, r.out, r.err);
    char *err = mb_stderr(&r);
    cr_assert(code != 0 && !strstr(err, "remove OUT/.prs") && strstr(err, "ulimit"), "exit %d:\n%s",
              code, err);
    free(err);
    cr_assert_eq(mb_run(&r, "exit_run", "", "", 30), 0, "the plain rerun failed:\n%s",
                 mb_stderr(&r));
    tu_rmrf(r.dir);
}

/* ---- triage's block (issue 13, case 7): overview.txt after an abnormal end ------------- */

/* OUT/logs/overview.txt names the true final state and the reason, never RUNNING. */
static void tr_assert_overview(const e2e_run *r, const char *state, const char *reason) {
    char *ov = mb_file(r, "logs/overview.txt");
    char want[64];
    snprintf(want, sizeof(want), "state: %s\n", state);
    cr_assert(strstr(ov, want), "overview.txt lacks '%s':\n%s", want, ov);
    cr_assert(!strstr(ov, "RUNNING"), "overview.txt still says RUNNING:\n%s", ov);
    const char *ended = strstr(ov, "ended: ");
    cr_assert(ended && strstr(ended, reason), "overview.txt's end lacks '%s':\n%s", reason, ov);
    free(ov);
}

/* exit(0) in every prs_init: the runtime never reports; the supervisor ends it as a crash
 * loop (exit 6) and rewrites the overview with that state and why. */
Test(misbehave, overview_after_a_crash_loop_says_so_and_why, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "mb-ov6", MB_FILES);
    int code = mb_run(&r, "exit_init", "--workers 2", "--code 0", 45);
    cr_assert_eq(code, 6, "prs exited %d:\n%s", code, mb_stderr(&r));
    tr_assert_overview(&r, "CRASH_LOOP", "exit(0)");
    tu_rmrf(r.dir);
}

/* A runtime the supervisor has to kill (two SIGTERMs while prs_shutdown hangs): exit 5,
 * and the overview, RUNNING while the job ran, says STOPPED and why. */
Test(misbehave, overview_after_the_runtime_is_killed_says_stopped_and_why, .timeout = 90) {
    e2e_run r;
    e2e_setup(&r, "mb-ov5", MB_FILES);
    pid_t pid = mb_spawn(&r, "shutdown_hang", "--workers 2 --run-invocation-timeout 600", "");
    bool rows = mb_wait_rows(&r, MB_FILES, 30);
    kill(pid, SIGTERM);
    mb_sleep_ms(200);
    kill(pid, SIGTERM);
    int code = mb_wait(pid, 10);
    cr_assert(rows, "the rows never reached the output:\n%s", mb_stderr(&r));
    cr_assert_eq(code, 5, "prs exited %d (-1: still running):\n%s", code, mb_stderr(&r));
    char *err = mb_stderr(&r);
    const char *msg = strstr(err, "prs: ");
    cr_assert(msg, "no result line:\n%s", err);
    char reason[64];
    snprintf(reason, sizeof(reason), "%.40s", msg + 5); /* the result line's start */
    reason[strcspn(reason, "\n")] = 0;
    free(err);
    tr_assert_overview(&r, "STOPPED", reason);
    tu_rmrf(r.dir);
}

/* ---- triage's block (issue 13, case 10): a row holding a newline ---------------------- */

/* The output stays one line per row: a row with a newline inside is refused (prs_emit
 * returns -EINVAL, checked by the script), not written, and is a failed item whose error
 * names the item and says why. From C and from a Python list. */
static void tr_newline_rows_refused(const e2e_run *r, const char *what) {
    char *rows = mb_file(r, "parallel_run_step.txt");
    cr_assert_eq(tu_count_lines(rows), MB_FILES - 1, "%s:\n%s", what, rows);
    cr_assert(!strstr(rows, "second") && !strstr(rows, "f0007.txt") &&
                  strstr(rows, "f0008.txt\tok\n"),
              "%s:\n%s", what, rows);
    free(rows);
    char *errs = e2e_error_files(r);
    cr_assert(strstr(errs, "item: f0007.txt\n") &&
                  strstr(errs, "prs_emit: the row holds a newline at byte 15: refused"),
              "%s:\n%s", what, errs);
    free(errs);
    char *ov = mb_file(r, "logs/overview.txt");
    cr_assert(strstr(ov, "failed 1"), "%s:\n%s", what, ov);
    free(ov);
}

Test(misbehave, row_with_a_newline_is_a_failed_item, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "mb-newline", MB_FILES);
    int code = mb_run(&r, "emit_newline", "--workers 2 --mini-batch-size 4", "--newline f0007", 30);
    cr_assert_eq(code, 0, "prs exited %d:\n%s", code, mb_stderr(&r));
    tr_newline_rows_refused(&r, "C");
    if (access("/usr/bin/python3", X_OK) == 0) {
        tu_rmrf(r.out);
        code = tu_sh("timeout -k 3 60 %s run --quiet --entry-script tests/python/newline_rows.py "
                     "--input '%s' --output '%s' --workers 2 --mini-batch-size 4 -- --newline "
                     "f0007 2>>'%s'",
                     tu_prs(), r.in, r.out, r.err);
        cr_assert_eq(code, 0, "prs exited %d:\n%s", code, mb_stderr(&r));
        tr_newline_rows_refused(&r, "Python");
    }
    tu_rmrf(r.dir);
}

/* ---- triage's block (issue 13, case 10): a prs_emit after prs_run returned ------------ */

/* A script's thread emits through the out of a prs_run that returned, while a later batch
 * runs: refused (-EPERM), the row lands nowhere, every item's row is there once, and it
 * is said once (stderr, captured into the user log). */
Test(misbehave, emit_after_run_returned_is_refused, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "mb-late", MB_FILES);
    char args[400];
    snprintf(args, sizeof(args), "--rc '%s/late.rc'", r.dir);
    int code = mb_run(&r, "late_emit", "--workers 1 --mini-batch-size 2", args, 60);
    cr_assert_eq(code, 0, "prs exited %d:\n%s", code, mb_stderr(&r));
    char p[512];
    snprintf(p, sizeof(p), "%s/late.rc", r.dir);
    char *rc = tu_read(p, NULL);
    cr_assert(rc, "the script's thread never emitted");
    cr_assert_eq(atoi(rc), -EPERM, "the late prs_emit returned %s", rc);
    free(rc);
    e2e_assert_rows_once(&r, MB_FILES, NULL);
    char *rows = mb_file(&r, "parallel_run_step.txt");
    cr_assert(!strstr(rows, "LATE"), "the late row landed in the output:\n%s", rows);
    free(rows);
    cr_assert_eq(tu_sh("test $(cat %s/logs/user/*/*.log.txt | grep -c 'called outside the "
                       "prs_run its out was handed to') -eq 1",
                       r.out),
                 0, "not said exactly once in the user log");
    tu_rmrf(r.dir);
}

/* A path over 4000 bytes in a message of 1024: its middle elided, both ends kept, so the
 * reason after it is still there (it was cut mid-path). */
Test(misbehave, a_very_long_path_is_elided_not_cut, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "mb-long", MB_FILES);
    char longp[4800];
    int n = snprintf(longp, sizeof(longp), "%s", r.dir);
    for (int i = 0; i < 21; i++)
        n += snprintf(longp + n, sizeof(longp) - (size_t)n, "/%0200d", i);
    cr_assert(strlen(longp) > 4000);
    static const struct {
        const char *what, *reason;
        int code;
    } cases[] = {{"--input", "No such file", 3},
                 {"--output", "File name too long", 2},
                 {"--entry-script", "File name too long", 2}};
    for (size_t i = 0; i < PRS_ARRAY_LEN(cases); i++) {
        cr_assert_eq(tu_sh(": >'%s'", r.err), 0);
        int code = tu_sh("timeout -k 3 30 %s run --quiet --entry-script '%s%s' --input '%s' "
                         "--output '%s' 2>'%s'",
                         tu_prs(), i == 2 ? longp : MB_SCRIPTS "exit_run.so", i == 2 ? "/x.so" : "",
                         i == 0 ? longp : r.in, i == 1 ? longp : r.out, r.err);
        char *err = mb_stderr(&r);
        cr_assert_eq(code, cases[i].code, "%s: prs exited %d:\n%s", cases[i].what, code, err);
        char *line = strstr(err, "prs: ");
        cr_assert(line, "%s", err);
        size_t len = strcspn(line, "\n");
        char end[16];
        snprintf(end, sizeof(end), "%s", i == 2 ? "00020/x.so" : "00020");
        char *tail = strstr(line, end);
        cr_assert(len < 1100 && strstr(line, r.dir) && strstr(line, "...") && tail &&
                      tail < line + len && strstr(line, cases[i].reason) &&
                      strstr(line, cases[i].reason) < line + len,
                  "%s: %zu bytes, not elided keeping both ends and the reason:\n%.*s",
                  cases[i].what, len, (int)len, line);
        free(err);
    }
    tu_rmrf(r.dir);
}

/* The tmpfs mb_small_out mounted: unmounted by the test's .fini even when it fails. */
static char mb_mounted[300];

static void mb_unmount(void) {
    if (mb_mounted[0]) umount(mb_mounted);
    mb_mounted[0] = 0;
}

/* OUT on a small tmpfs (size, e.g. "128k"): false (and skipped) when it cannot be mounted. */
static bool mb_small_out(const e2e_run *r, const char *size) {
    char opts[32];
    snprintf(opts, sizeof(opts), "size=%s", size);
    cr_assert_eq(tu_sh("mkdir -p '%s'", r->out), 0);
    if (mount("prs-test", r->out, "tmpfs", 0, opts) != 0) return false;
    snprintf(mb_mounted, sizeof(mb_mounted), "%s", r->out);
    return true;
}

/* The result message (the first "prs: " line of stderr) names a path in OUT. */
static void mb_assert_first_line_names(const e2e_run *r, const char *what) {
    char *err = mb_stderr(r);
    char *line = strstr(err, "prs: ");
    cr_assert(line, "%s", err);
    size_t len = strcspn(line, "\n");
    char *path = strstr(line, r->out);
    cr_assert(path && path < line + len, "%s: the message names no path in OUT:\n%s", what, err);
    free(err);
}

/* A disk that fills while the job is created: exit 5 naming the state file (was 70,
 * "Input/output error"); with room made, the same command does the whole job. */
Test(misbehave, full_disk_while_creating_names_the_state_file, .timeout = 120, .fini = mb_unmount) {
    e2e_run r;
    e2e_setup(&r, "mb-fullc", 3000); /* ~280 KB of item and batch records into 128 KiB */
    if (!mb_small_out(&r, "128k")) {
        tu_rmrf(r.dir);
        cr_skip_test("cannot mount a tmpfs here (%s)", strerror(errno));
    }
    int code = mb_run(&r, "exit_run", "--workers 1", "", 60);
    char *err = mb_stderr(&r);
    cr_assert_eq(code, 5, "prs exited %d:\n%s", code, err);
    cr_assert(strstr(err, "/.prs/data.mdb: cannot create the job") && strstr(err, "free space"),
              "%s", err);
    free(err);
    mb_assert_first_line_names(&r, "creation");
    cr_assert_eq(mount(NULL, r.out, NULL, MS_REMOUNT, "size=64m"), 0, "%s", strerror(errno));
    code = mb_run(&r, "exit_run", "--workers 1", "", 60);
    cr_assert_eq(code, 0, "after room was made: prs exited %d:\n%s", code, mb_stderr(&r));
    e2e_assert_rows_once(&r, 3000, NULL);
    mb_unmount();
    tu_rmrf(r.dir);
}

/* A disk that fills under the job's commits (here: the grouped commits all fail, the last
 * at the result): exit 5 with a message naming the path, and master.txt never says
 * "result: SUCCEEDED" for a result that was not committed (it did). Then the rerun. */
Test(misbehave, full_disk_mid_run_names_the_path_and_logs_no_success, .timeout = 120,
     .fini = mb_unmount) {
    e2e_run r;
    e2e_setup(&r, "mb-fullr", 3000); /* creation fits in 200 KiB; marking 300 batches not */
    if (!mb_small_out(&r, "200k")) {
        tu_rmrf(r.dir);
        cr_skip_test("cannot mount a tmpfs here (%s)", strerror(errno));
    }
    int code = mb_run(&r, "exit_run", "--workers 1", "", 60);
    cr_assert_eq(code, 5, "prs exited %d:\n%s", code, mb_stderr(&r));
    mb_assert_first_line_names(&r, "mid-run");
    char *master = mb_file(&r, "logs/sys/master.txt");
    cr_assert(strstr(master, "error: ") && !strstr(master, "result: SUCCEEDED"),
              "a success logged that was not committed:\n%s", master);
    free(master);
    cr_assert_eq(mount(NULL, r.out, NULL, MS_REMOUNT, "size=64m"), 0, "%s", strerror(errno));
    code = mb_run(&r, "exit_run", "--workers 1", "", 60);
    cr_assert_eq(code, 0, "after room was made: prs exited %d:\n%s", code, mb_stderr(&r));
    e2e_assert_rows_once(&r, 3000, NULL);
    mb_unmount();
    tu_rmrf(r.dir);
}

/* Resuming a files job with --input-format lines: refused naming the format, not
 * --mini-batch-size (whose text reads as files or bytes by the format). */
Test(misbehave, resume_with_another_format_names_the_format, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "mb-format", MB_FILES);
    cr_assert_eq(mb_run(&r, "exit_run", "", "", 30), 0, "%s", mb_stderr(&r));
    int code = mb_run(&r, "exit_run", "--input-format lines", "", 30);
    char *err = mb_stderr(&r);
    cr_assert_eq(code, 2, "prs exited %d:\n%s", code, err);
    cr_assert(strstr(err, "--input-format was 'files', now 'lines'") &&
                  !strstr(err, "--mini-batch-size was"),
              "%s", err);
    free(err);
    tu_rmrf(r.dir);
}

/* ---- 9. resume identity ------------------------------------------------------------- */

/* `prs run` under timeout with the entry script at path (any file). */
static int mb_run_path(const e2e_run *r, const char *path, const char *opts, unsigned limit_s) {
    return tu_sh("timeout -k 3 %u %s run --quiet --entry-script '%s' --input '%s' --output '%s' %s "
                 "2>>'%s'",
                 limit_s, tu_prs(), path, r->in, r->out, opts, r->err);
}

/* An entry script rebuilt at the same path between runs: refused (2), saying how the
 * output would mix and what to do; --allow-changed-script resumes with it, master.txt
 * says so, and the new identity is the job's from then on. */
Test(misbehave, a_changed_entry_script_is_refused_on_resume, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "mb-script", MB_FILES);
    char script[400];
    snprintf(script, sizeof(script), "%s/script.so", r.dir);
    cr_assert_eq(tu_sh("cp " MB_SCRIPTS "exit_init.so '%s'", script), 0);
    int code = mb_run_path(&r, script, "--workers 1", 45); /* a crash loop: resumable */
    cr_assert_eq(code, 6, "prs exited %d:\n%s", code, mb_stderr(&r));
    cr_assert_eq(
        tu_sh("cp " MB_SCRIPTS "exit_run.so '%s.new' && mv '%s.new' '%s'", script, script, script),
        0);
    cr_assert_eq(tu_sh(": >'%s'", r.err), 0);
    code = mb_run_path(&r, script, "--workers 1", 30);
    char *err = mb_stderr(&r);
    cr_assert_eq(code, 2, "a changed script: prs exited %d:\n%s", code, err);
    cr_assert(strstr(err, "changed since the job") &&
                  strstr(err, "rows of the old and the new version in one output") &&
                  strstr(err, "--allow-changed-script") && strstr(err, "xxh3="),
              "%s", err);
    free(err);
    code = mb_run_path(&r, script, "--workers 1 --allow-changed-script", 60);
    cr_assert_eq(code, 0, "--allow-changed-script: prs exited %d:\n%s", code, mb_stderr(&r));
    e2e_assert_rows_once(&r, MB_FILES, NULL);
    char *master = mb_file(&r, "logs/sys/master.txt");
    cr_assert(strstr(master, "--allow-changed-script: the entry script changed"), "%s", master);
    free(master);
    code = mb_run_path(&r, script, "--workers 1", 30); /* the new identity is the job's now */
    cr_assert_eq(code, 0, "the rerun: prs exited %d:\n%s", code, mb_stderr(&r));
    tu_rmrf(r.dir);
}

/* A Python entry script: its .py file is what is identified. */
Test(misbehave, a_changed_python_script_is_refused_on_resume, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "mb-pyscript", MB_FILES);
    char script[400];
    snprintf(script, sizeof(script), "%s/echo.py", r.dir);
    cr_assert_eq(tu_sh("cp tests/python/echo.py '%s'", script), 0);
    int code = mb_run_path(&r, script, "--workers 1", 60);
    cr_assert_eq(code, 0, "prs exited %d:\n%s", code, mb_stderr(&r));
    code = mb_run_path(&r, script, "--workers 1", 60); /* unchanged: already finished */
    cr_assert_eq(code, 0, "an unchanged script: prs exited %d:\n%s", code, mb_stderr(&r));
    cr_assert_eq(tu_sh("echo '# rebuilt' >>'%s' && : >'%s'", script, r.err), 0);
    code = mb_run_path(&r, script, "--workers 1", 60);
    char *err = mb_stderr(&r);
    cr_assert_eq(code, 2, "a changed .py: prs exited %d:\n%s", code, err);
    cr_assert(strstr(err, "echo.py changed since the job") && strstr(err, "--allow-changed-script"),
              "%s", err);
    free(err);
    tu_rmrf(r.dir);
}

/* Input files new, rewritten or removed between runs: each kind said on stderr and in
 * master.txt on resume (new files are not part of the job: --fresh takes them), by names
 * and inode times only, once per `prs run` (not again in each restarted runtime life). */
Test(misbehave, resume_reports_new_changed_and_gone_input_files, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "mb-input", MB_FILES);
    int code = mb_run(&r, "exit_init", "--workers 1", "--code 0", 45); /* resumable, 3 lives */
    cr_assert_eq(code, 6, "prs exited %d:\n%s", code, mb_stderr(&r));
    char *master = mb_file(&r, "logs/sys/master.txt");
    cr_assert(!strstr(master, "input: "), "a new job reports no input change:\n%s", master);
    free(master);
    cr_assert_eq(tu_sh("cd '%s' && echo new >znew.txt && echo more >>f0003.txt && rm f0007.txt "
                       "&& : >'%s'",
                       r.in, r.err),
                 0);
    code = mb_run(&r, "exit_init", "--workers 1", "--code 0", 45);
    cr_assert_eq(code, 6, "prs exited %d:\n%s", code, mb_stderr(&r));
    char *err = mb_stderr(&r);
    cr_assert(strstr(err, "input: 1 new file is not part of this job (first: znew.txt); use "
                          "--fresh to include it"),
              "%s", err);
    cr_assert(strstr(err, "input: 1 file of the job changed since it was created") &&
                  strstr(err, "first: f0003.txt"),
              "%s", err);
    cr_assert(strstr(err, "input: 1 file of the job is gone (first: f0007.txt)"), "%s", err);
    cr_assert_eq(e2e_count(err, "new file is not part"), 1, "once per run:\n%s", err);
    free(err);
    master = mb_file(&r, "logs/sys/master.txt");
    cr_assert_eq(e2e_count(master, "new file is not part"), 1, "%s", master);
    free(master);
    /* Unchanged since: the next run says so in master.txt only. */
    cr_assert_eq(tu_sh("cd '%s' && echo f0007 >f0007.txt && : >'%s'", r.in, r.err), 0);
    tu_sh("rm -f '%s/znew.txt'", r.in);
    code = mb_run(&r, "exit_init", "--workers 1", "--code 0", 45);
    err = mb_stderr(&r);
    cr_assert(!strstr(err, "new file") && !strstr(err, "is gone"), "%s", err);
    free(err);
    tu_rmrf(r.dir);
}

/* An @LIST input: an entry added to the list is a new file; a listed file rewritten is a
 * changed one (the list is read again by name, in any order). */
Test(misbehave, resume_reports_a_list_input_s_new_and_changed_entries, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "mb-inlist", MB_FILES);
    char list[320];
    snprintf(list, sizeof(list), "%s/list.txt", r.dir);
    cr_assert_eq(tu_sh("ls '%s'/f000*.txt >'%s'", r.in, list), 0); /* 10 of the files */
    snprintf(r.in, sizeof(r.in), "@%.256s/list.txt", r.dir);
    int code = mb_run(&r, "exit_init", "--workers 1", "--code 0", 45);
    cr_assert_eq(code, 6, "prs exited %d:\n%s", code, mb_stderr(&r));
    cr_assert_eq(tu_sh("cd '%s/in' && sort -r '%s' >'%s.r' && mv '%s.r' '%s' && "
                       "echo \"$PWD/f0015.txt\" >>'%s' && echo more >>f0004.txt && : >'%s'",
                       r.dir, list, list, list, list, list, r.err),
                 0);
    code = mb_run(&r, "exit_init", "--workers 1", "--code 0", 45);
    char *err = mb_stderr(&r);
    cr_assert_eq(code, 6, "prs exited %d:\n%s", code, err);
    cr_assert(strstr(err, "input: 1 new file is not part of this job") && strstr(err, "f0015.txt"),
              "%s", err);
    cr_assert(strstr(err, "input: 1 file of the job changed") && strstr(err, "f0004.txt"), "%s",
              err);
    cr_assert(!strstr(err, "is gone"), "%s", err);
    free(err);
    tu_rmrf(r.dir);
}
