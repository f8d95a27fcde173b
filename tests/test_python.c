/* Python entry scripts (core/host.c, core/python/): build/prs (or $PRS_BIN) running the
 * small scripts of tests/python/ under /usr/bin/python3. Every check reads what a user
 * reads: the rows, overview.txt, error.txt and the error files, the user log, stderr,
 * processes.csv. The faults (an exception, a segfault, os._exit, SIGKILL from outside, a
 * hang past the timeout, sys.exit) each fail the first try only: the job must then
 * succeed with every row once, with one runtime life (the host restarts, not prs). */
#include "e2e.h"

#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

/* Runs tests/python/<script>.py; returns the exit code. */
static int py_prs(const e2e_run *r, const char *script, const char *opts, const char *args) {
    char path[128];
    snprintf(path, sizeof(path), "tests/python/%s.py", script);
    return e2e_prs(r, path, opts, args);
}

static char *user_log(const e2e_run *r) {
    char p[512];
    snprintf(p, sizeof(p), "%s/user-log.txt", r->dir);
    tu_sh("cat /dev/null %s/logs/user/*/*.log.txt > '%s' 2>/dev/null", r->out, p);
    return tu_read(p, NULL);
}

/* Lines of processes.csv whose role is `role` ("runtime", "host-0", ...). */
static size_t process_rows(const e2e_run *r, const char *role) {
    char *csv = e2e_out_file(r, "logs/sys/processes.csv");
    cr_assert(csv, "no processes.csv");
    char needle[64];
    snprintf(needle, sizeof(needle), ",%s,", role);
    size_t n = e2e_count(csv, needle);
    free(csv);
    return n;
}

/* Rows of hosts (role host-N...) that ended with an exit code or a signal. */
static size_t host_deaths(const e2e_run *r) {
    char *csv = e2e_out_file(r, "logs/sys/processes.csv");
    cr_assert(csv, "no processes.csv");
    size_t n = 0;
    for (char *line = strtok(csv, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strstr(line, ",host-")) continue;
        const char *sig = strrchr(line, ','), *code = sig;
        while (code > line && code[-1] != ',')
            code--;
        n += atoi(code) != 0 || atoi(sig + 1) != 0;
    }
    free(csv);
    return n;
}

static void assert_contains(const char *text, const char *needle) {
    cr_assert(text && strstr(text, needle), "'%s' not in:\n%s", needle, text ? text : "(null)");
}

static void skip_without_python(void) {
    if (access("/usr/bin/python3", X_OK) != 0) cr_skip_test("no /usr/bin/python3");
}

Test(python, files_rows_once_logger_print_argv_env_output_dir, .timeout = 120) {
    skip_without_python();
    e2e_run r;
    e2e_setup(&r, "py", 23);
    char opts[600];
    snprintf(opts, sizeof(opts),
             "--workers 2 --mini-batch-size 4 --side-input labels='%s' --env ECHO_ENV=seen", r.in);
    cr_assert_eq(py_prs(&r, "echo", opts, "--labels_dir labels"), 0);
    e2e_assert_rows_once(&r, 23, NULL);
    char *log = user_log(&r);
    char want[512];
    snprintf(want, sizeof(want), "echo: labels_dir=%s exists=True", r.in);
    assert_contains(log, want); /* the side-input name became its path in sys.argv */
    assert_contains(log, "INFO worker-0: echo: env ECHO_ENV=seen");
    assert_contains(log, "INFO worker-1: echo: env ECHO_ENV=seen");
    snprintf(want, sizeof(want), "echo: output_dir=%s", r.out);
    assert_contains(log, want);
    assert_contains(log, "worker-0: stdout: echo: printed from init");
    /* Worker 0's host is the one that passed the import check: its import's output too. */
    assert_contains(log, "worker-0: stdout: echo: imported");
    assert_contains(log, "worker-1: stdout: echo: imported");
    assert_contains(log, "WARNING worker-1: stderr: echo: to stderr");
    assert_contains(log, "worker-1: stdout: echo: shutdown");
    cr_assert(!strstr(log, "a debug line"), "DEBUG passed --logging-level INFO");
    free(log);
    cr_assert_eq(process_rows(&r, "host-0"), 1);
    cr_assert_eq(process_rows(&r, "host-1"), 1);
    tu_rmrf(r.dir);
}

Test(python, exception_in_run_is_retried_counted_and_grouped, .timeout = 120) {
    skip_without_python();
    e2e_run r;
    e2e_setup(&r, "py", 20);
    /* f0010..f0019: two batches of 5 whose every try raises: 10 failed items. */
    cr_assert_eq(py_prs(&r, "faults", "--workers 2 --mini-batch-size 5 --run-max-try 2",
                        "--raise f001 --always"),
                 0);
    e2e_assert_rows_once(&r, 20, "f001");
    char *ov = e2e_out_file(&r, "logs/overview.txt");
    assert_contains(ov, "succeeded 10, failed 10");
    free(ov);
    char *errs = e2e_out_file(&r, "logs/user/error.txt");
    assert_contains(errs, "errors: 4 in 1 group");
    assert_contains(errs, "[4 x] run() raised ValueError: faults: bad input");
    free(errs);
    char *files = e2e_error_files(&r);
    cr_assert_eq(e2e_count(files, "stack trace: logs/user/error/"), 4, "%s", files);
    free(files);
    char tb[600];
    snprintf(tb, sizeof(tb), "%s/tb.txt", r.dir);
    tu_sh("cat %s/logs/user/error/*/traceback-b2-a1.txt > '%s'", r.out, tb);
    char *text = tu_read(tb, NULL);
    assert_contains(text, "Traceback (most recent call last)");
    assert_contains(text, "tests/python/faults.py");
    assert_contains(text, "ValueError: faults: bad input");
    free(text);
    tu_rmrf(r.dir);
}

/* Each death fails its batch's first try; the retry succeeds on a new host. */
static void assert_host_death(const char *args, const char *why) {
    e2e_run r;
    e2e_setup(&r, "py", 12);
    cr_assert_eq(py_prs(&r, "faults", "--workers 2 --mini-batch-size 2", args), 0);
    e2e_assert_rows_once(&r, 12, NULL);
    char *errs = e2e_out_file(&r, "logs/user/error.txt");
    assert_contains(errs, "[1 x] the Python host died during run(): ");
    assert_contains(errs, why);
    free(errs);
    cr_assert_eq(process_rows(&r, "runtime"), 1, "the runtime restarted");
    /* Two hosts, one of which died; its worker starts a replacement only if it takes
     * another batch (the retry may go to the other worker): two or three lives. */
    size_t lives = process_rows(&r, "host-0") + process_rows(&r, "host-1");
    cr_assert(lives == 2 || lives == 3, "%zu host lives", lives);
    cr_assert_eq(host_deaths(&r), 1, "exactly one host row ended by the death");
    tu_rmrf(r.dir);
}

Test(python, host_segfault_costs_one_try_and_one_host_restart, .timeout = 120) {
    skip_without_python();
    assert_host_death("--segv f0005", "killed by signal 11 (SIGSEGV");
}

Test(python, host_exit_code_costs_one_try, .timeout = 120) {
    skip_without_python();
    assert_host_death("--exit f0005", "exited with code 3");
}

Test(python, host_killed_from_outside_costs_one_try, .timeout = 120) {
    skip_without_python();
    e2e_run r;
    e2e_setup(&r, "py", 12);
    char pidfile[400], args[600];
    snprintf(pidfile, sizeof(pidfile), "%s/host.pid", r.dir);
    snprintf(args, sizeof(args), "--killme f0005 %s", pidfile);
    /* The killer waits for the host's pid (bounded: 60 s), then SIGKILLs that host only. */
    int rc = tu_sh("%s run --quiet --entry-script tests/python/faults.py --input '%s' --output "
                   "'%s' --workers 2 --mini-batch-size 2 -- %s 2>'%s' & "
                   "pid=$!; for i in $(seq 600); do [ -s '%s' ] && break; sleep 0.1; done; "
                   "kill -9 $(cat '%s'); wait $pid",
                   tu_prs(), r.in, r.out, args, r.err, pidfile, pidfile);
    cr_assert_eq(rc, 0);
    e2e_assert_rows_once(&r, 12, NULL);
    char *errs = e2e_out_file(&r, "logs/user/error.txt");
    assert_contains(errs, "the Python host died during run(): killed by signal 9 (SIGKILL");
    free(errs);
    cr_assert_eq(process_rows(&r, "runtime"), 1, "the runtime restarted");
    tu_rmrf(r.dir);
}

Test(python, run_past_timeout_kills_only_the_host, .timeout = 120) {
    skip_without_python();
    e2e_run r;
    e2e_setup(&r, "py", 8);
    cr_assert_eq(py_prs(&r, "faults", "--workers 2 --mini-batch-size 2 --run-invocation-timeout 2",
                        "--hang f0003"),
                 0);
    e2e_assert_rows_once(&r, 8, NULL);
    char *errs = e2e_out_file(&r, "logs/user/error.txt");
    assert_contains(errs, "[1 x] run() passed --run-invocation-timeout (<N> ms)");
    free(errs);
    char *log = user_log(&r);
    assert_contains(log, "prs killed the Python host 250 ms after the cancel");
    free(log);
    cr_assert_eq(process_rows(&r, "runtime"), 1, "the runtime restarted");
    tu_rmrf(r.dir);
}

Test(python, sys_exit_and_bad_returns_fail_the_try_with_what_was_returned, .timeout = 120) {
    skip_without_python();
    e2e_run r;
    e2e_setup(&r, "py", 12);
    cr_assert_eq(py_prs(&r, "faults", "--workers 2 --mini-batch-size 2",
                        "--sysexit f0001 --none f0003 --dict f0005"),
                 0);
    e2e_assert_rows_once(&r, 12, NULL);
    char *errs = e2e_out_file(&r, "logs/user/error.txt");
    assert_contains(errs, "[1 x] run() called sys.exit(<N>)");
    assert_contains(errs, "[1 x] run() returned None: it must return a list");
    assert_contains(errs, "[1 x] run() returned a dict: it must return a list");
    free(errs);
    cr_assert_eq(process_rows(&r, "host-0") + process_rows(&r, "host-1"), 2, "a host died");
    tu_rmrf(r.dir);
}

Test(python, init_raising_on_every_worker_exits_4_with_traceback, .timeout = 120) {
    skip_without_python();
    e2e_run r;
    e2e_setup(&r, "py", 4);
    cr_assert_eq(py_prs(&r, "init_raise", "--workers 2", ""), 4);
    char *err = tu_read(r.err, NULL);
    assert_contains(err, "init() raised RuntimeError: init_raise: model file missing");
    free(err);
    char tb[600];
    snprintf(tb, sizeof(tb), "%s/tb.txt", r.dir);
    tu_sh("cat %s/logs/user/error/*/traceback-init-w0-1.txt > '%s'", r.out, tb);
    char *text = tu_read(tb, NULL);
    assert_contains(text, "Traceback (most recent call last)");
    free(text);
    tu_rmrf(r.dir);
}

Test(python, import_error_no_run_and_missing_interpreter_exit_2, .timeout = 120) {
    skip_without_python();
    e2e_run r;
    e2e_setup(&r, "py", 4);
    cr_assert_eq(py_prs(&r, "bad_import", "", ""), 2);
    char *err = tu_read(r.err, NULL);
    assert_contains(err, "cannot import it: ModuleNotFoundError: No module named "
                         "'prs_no_such_module_anywhere'");
    free(err);
    char tb[600];
    snprintf(tb, sizeof(tb), "%s/tb.txt", r.dir);
    tu_sh("cat %s/logs/user/error/*/traceback-import.txt > '%s'", r.out, tb);
    char *text = tu_read(tb, NULL);
    assert_contains(text, "tests/python/bad_import.py");
    free(text);
    tu_rmrf(r.out);
    cr_assert_eq(py_prs(&r, "no_run", "", ""), 2);
    err = tu_read(r.err, NULL);
    assert_contains(err, "it defines no run(mini_batch) function");
    free(err);
    tu_rmrf(r.out);
    cr_assert_eq(py_prs(&r, "echo", "--python /nonexistent/python3", ""), 2);
    err = tu_read(r.err, NULL);
    assert_contains(err, "--python /nonexistent/python3: No such file or directory");
    free(err);
    cr_assert_eq(py_prs(&r, "echo", "--row-format xml", ""), 2);
    tu_rmrf(r.dir);
}

Test(python, slow_import_is_not_charged_to_the_timeout, .timeout = 120) {
    skip_without_python();
    e2e_run r;
    e2e_setup(&r, "py", 6);
    cr_assert_eq(py_prs(&r, "slow_import", "--workers 2 --run-invocation-timeout 2", ""), 0);
    e2e_assert_rows_once(&r, 6, NULL);
    char *errs = e2e_out_file(&r, "logs/user/error.txt");
    cr_assert(!errs || !strstr(errs, "timeout"), "%s", errs);
    free(errs);
    tu_rmrf(r.dir);
}

static void write_csv(const e2e_run *r, const char *name, unsigned rows) {
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", r->dir, name);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fprintf(f, "id,x\n");
    for (unsigned i = 0; i < rows; i++)
        fprintf(f, "%u,%u.5\n", i, i);
    fclose(f);
}

Test(python, tabular_dataframe_in_and_out_with_row_formats, .timeout = 120) {
    skip_without_python();
    if (tu_sh("/usr/bin/python3 -c 'import pandas, numpy' 2>/dev/null") != 0)
        cr_skip_test("no python3-pandas / python3-numpy");
    e2e_run r;
    e2e_setup(&r, "py", 0);
    write_csv(&r, "t.csv", 3000);
    snprintf(r.in, sizeof(r.in), "%s/t.csv", r.dir);
    cr_assert_eq(py_prs(&r, "frame", "--input-format csv --mini-batch-size 4KB --workers 2", ""),
                 0);
    char *rows = e2e_out_file(&r, "parallel_run_step.txt");
    cr_assert_eq(tu_count_lines(rows), 3000);
    assert_contains(rows, "\n7 15.0 \"v 7\"\n"); /* space-separated, as ParallelRunStep */
    free(rows);
    tu_rmrf(r.out);
    cr_assert_eq(py_prs(&r, "frame",
                        "--input-format csv --mini-batch-size 4KB --workers 2 --row-format csv "
                        "--append-row-dataframe-header",
                        ""),
                 0);
    rows = e2e_out_file(&r, "parallel_run_step.txt");
    cr_assert_eq(tu_count_lines(rows), 3001);
    cr_assert(strncmp(rows, "id,twice,label\n", 15) == 0, "%.80s", rows);
    cr_assert_eq(e2e_count(rows, "id,twice,label"), 1);
    assert_contains(rows, "\n7,15.0,v 7\n");
    free(rows);
    tu_rmrf(r.out);
    cr_assert_eq(py_prs(&r, "frame", "--input-format csv --row-format jsonl", ""), 0);
    rows = e2e_out_file(&r, "parallel_run_step.txt");
    assert_contains(rows, "{\"id\":7,\"twice\":15.0,\"label\":\"v 7\"}\n");
    free(rows);
    tu_rmrf(r.dir);
}

Test(python, tabular_without_pandas_exits_2_saying_so, .timeout = 120) {
    skip_without_python();
    e2e_run r;
    e2e_setup(&r, "py", 0);
    write_csv(&r, "t.csv", 10);
    snprintf(r.in, sizeof(r.in), "%s/t.csv", r.dir);
    /* A pandas that cannot be imported, first on the path. */
    char fake[512], opts[700];
    snprintf(fake, sizeof(fake), "%s/nopandas/pandas/__init__.py", r.dir);
    const char *body = "raise ImportError('pandas withheld by the test')\n";
    tu_write(fake, body, strlen(body));
    snprintf(opts, sizeof(opts), "--input-format csv --env PYTHONPATH='%s/nopandas'", r.dir);
    cr_assert_eq(py_prs(&r, "frame", opts, ""), 2);
    char *err = tu_read(r.err, NULL);
    assert_contains(err, "cannot import pandas");
    assert_contains(err, "python3-pandas");
    free(err);
    tu_rmrf(r.dir);
}

Test(python, gpus_round_robin_per_host_and_kept_on_restart, .timeout = 120) {
    skip_without_python();
    e2e_run r;
    e2e_setup(&r, "py", 12);
    cr_assert_eq(py_prs(&r, "gpu_mem", "--workers 3 --gpus 2 --mini-batch-size 2", "--die f0004"),
                 0);
    e2e_assert_rows_once(&r, 12, NULL);
    char *log = user_log(&r);
    /* Worker W's host sees W mod 2, and so does the host started after one died. */
    size_t right = e2e_count(log, "worker 0 CUDA_VISIBLE_DEVICES=0") +
                   e2e_count(log, "worker 1 CUDA_VISIBLE_DEVICES=1") +
                   e2e_count(log, "worker 2 CUDA_VISIBLE_DEVICES=0");
    cr_assert_eq(right, 4, "3 hosts and 1 restart:\n%s", log);
    cr_assert_eq(e2e_count(log, "CUDA_VISIBLE_DEVICES="), 4, "%s", log);
    free(log);
    char *master = e2e_out_file(&r, "logs/sys/master.txt");
    assert_contains(master, "GPUs: 2 (--gpus): worker W's host gets CUDA_VISIBLE_DEVICES=W mod 2");
    free(master);
    cr_assert_eq(process_rows(&r, "host-1/gpu1"), 1);
    cr_assert_eq(process_rows(&r, "host-2/gpu0"), 1);
    tu_rmrf(r.dir);
}

Test(python, memory_limit_ends_the_host_and_charges_the_try, .timeout = 120) {
    skip_without_python();
    e2e_run r;
    e2e_setup(&r, "py", 8);
    cr_assert_eq(py_prs(&r, "gpu_mem",
                        "--workers 2 --mini-batch-size 2 --worker-memory-limit 256MB",
                        "--hog f0003"),
                 0);
    e2e_assert_rows_once(&r, 8, NULL);
    char *errs = e2e_out_file(&r, "logs/user/error.txt");
    assert_contains(errs, "[1 x] run() passed --worker-memory-limit (<N> MB of address space): "
                          "MemoryError");
    free(errs);
    char *master = e2e_out_file(&r, "logs/sys/master.txt");
    assert_contains(master, "memory limit: 256 MB of address space each (RLIMIT_AS");
    free(master);
    cr_assert_eq(process_rows(&r, "host-0") + process_rows(&r, "host-1"), 3, "no host restart");
    cr_assert_eq(py_prs(&r, "gpu_mem", "--worker-memory-limit 1KB", ""), 2);
    tu_rmrf(r.dir);
}
