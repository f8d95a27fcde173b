/* The logs/ layout after real jobs (build/prs or $PRS_BIN), and the joblog's ring under
 * several producers: every file exists and parses, counts add up to the job's totals,
 * each error is filed once and grouped, --logging-level is honoured at every level,
 * the entry script's stdout/stderr is captured, and no log line is lost (wait) or lost
 * uncounted (drop). */
#include "joblog.h"
#include "logring.h"
#include "prs.h"
#include "e2e.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <regex.h>
#include <string.h>

/* The files matching a shell glob under OUT/logs, concatenated (NULL if none). */
static char *logs_glob(const e2e_run *r, const char *glob) {
    char p[512];
    snprintf(p, sizeof(p), "%s/glob.txt", r->dir);
    if (tu_sh("cat %s/logs/%s > '%s' 2>/dev/null", r->out, glob, p) != 0) return NULL;
    return tu_read(p, NULL);
}

/* True when text matches the POSIX extended regular expression re, anchored by the caller. */
static bool matches(const char *re, const char *text) {
    regex_t rx;
    cr_assert_eq(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0, "bad regex %s", re);
    bool ok = regexec(&rx, text, 0, NULL, 0) == 0;
    regfree(&rx);
    return ok;
}

/* Fields of one CSV line (RFC 4180 quotes), into a NUL-separated copy. */
static unsigned csv_split(const char *line, char fields[][256], unsigned max) {
    unsigned n = 0;
    size_t len = 0;
    bool quoted = false;
    fields[0][0] = 0;
    for (const char *p = line;; p++) {
        char c = *p;
        if (quoted) {
            if (c == '"' && p[1] == '"') {
                p++;
            } else if (c == '"') {
                quoted = false;
                continue;
            } else if (c == 0) {
                return 0; /* unterminated quote: does not parse */
            }
        } else if (c == '"') {
            quoted = true;
            continue;
        } else if (c == ',' || c == 0) {
            fields[n][len < 255 ? len : 255] = 0;
            n++;
            if (c == 0 || n == max) return n;
            len = 0;
            continue;
        }
        if (len < 255) fields[n][len] = c;
        len++;
    }
}

Test(logs, every_file_exists_and_parses_and_counts_add_up, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "logs", 57);
    /* f001x fail: 10 failed items; batches of 7: 9 batches. */
    cr_assert_eq(e2e_prs(&r, "faulty", "--mini-batch-size 7 --workers 2 --perf-interval 1",
                         "--fail-item f001 --log-each"),
                 0);
    const char *files[] = {"70_driver_log.txt",
                           "overview.txt",
                           "sys/master.txt",
                           "user/error.txt",
                           "sys/perf/overview.csv",
                           "sys/processes.csv",
                           "sys/job_report/processed_mini-batches.csv"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char *t = logs_glob(&r, files[i]);
        cr_assert(t && t[0], "logs/%s missing or empty", files[i]);
        free(t);
    }
    char *user = logs_glob(&r, "user/*/*.log.txt");
    cr_assert(user && strstr(user, "INFO worker-"), "%s", user ? user : "(none)");
    free(user);
    char *node = logs_glob(&r, "sys/node/*.txt");
    cr_assert(node, "no sys/node file");
    cr_assert_eq(e2e_count(node, " batch "), 9, "%s", node);
    cr_assert(strstr(node, "run() time"), "%s", node);
    /* The lines are built by hand (no printf): every field where it was, times to the us. */
    char *nsave = NULL;
    for (char *line = strtok_r(node, "\n", &nsave); line; line = strtok_r(NULL, "\n", &nsave)) {
        cr_assert(
            matches("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z batch "
                    "[0-9]+ attempt 1: worker [01] ip [^ ]+ pid [0-9]+ tid [0-9]+ cpu "
                    "-?[0-9]+; items total [1-7] succeeded [0-7] failed [0-7]; duration "
                    "[0-9]+\\.[0-9]{6} s, process time [0-9]+\\.[0-9]{6} s, run\\(\\) time "
                    "[0-9]+\\.[0-9]{6} s; RUN_DONE$",
                    line),
            "node line: %s", line);
    }
    free(node);

    char *csv = logs_glob(&r, "sys/job_report/processed_mini-batches.csv");
    unsigned rows = 0;
    unsigned long total = 0, succeeded = 0, failed = 0;
    char fields[16][256];
    char *save = NULL;
    for (char *line = strtok_r(csv, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        unsigned n = csv_split(line, fields, 16);
        cr_assert_eq(n, 14, "columns %u in: %s", n, line);
        if (rows++ == 0) {
            cr_assert_str_eq(fields[0], "Mini-batch Id");
            cr_assert_str_eq(fields[13], "Mini-batch Detail");
            continue;
        }
        total += strtoul(fields[4], NULL, 10);
        succeeded += strtoul(fields[5], NULL, 10);
        failed += strtoul(fields[6], NULL, 10);
        cr_assert_str_eq(fields[10], "RUN_DONE", "%s", line);
        cr_assert(matches("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$",
                          fields[3]),
                  "start: %s", line);
        for (int k = 7; k <= 9; k++)
            cr_assert(matches("^[0-9]+\\.[0-9]{6}$", fields[k]), "column %d: %s", k, line);
        cr_assert(matches("^worker-[01] pid [0-9]+ tid [0-9]+$", fields[2]), "%s", line);
        cr_assert(matches("^items [0-9]+\\.\\.[0-9]+$", fields[13]), "%s", line);
    }
    free(csv);
    cr_assert_eq(rows, 1 + 9);
    cr_assert_eq(total, 57);
    cr_assert_eq(succeeded, 47);
    cr_assert_eq(failed, 10);

    char *perf = logs_glob(&r, "sys/perf/overview.csv");
    save = NULL;
    unsigned perf_rows = 0, want = 0;
    for (char *line = strtok_r(perf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        unsigned n = csv_split(line, fields, 16);
        if (perf_rows++ == 0) want = n;
        cr_assert_eq(n, want, "columns in: %s", line);
    }
    cr_assert_gt(perf_rows, 1, "no perf sample");
    free(perf);
    /* One row per worker thread and one for the runtime process, 8 columns each. */
    char *procs = logs_glob(&r, "sys/processes.csv");
    cr_assert(procs && strncmp(procs, "pid,tid,role,cpu,start,end,exit_code,signal\n", 44) == 0,
              "%s", procs);
    cr_assert_eq(tu_count_lines(procs), 4, "%s", procs);
    cr_assert(strstr(procs, ",worker-0,") && strstr(procs, ",worker-1,") &&
                  strstr(procs, ",runtime,-1,"),
              "%s", procs);
    for (char *psave = NULL, *line = strtok_r(procs, "\n", &psave); line;
         line = strtok_r(NULL, "\n", &psave)) {
        char cols[10][256];
        cr_assert_eq(csv_split(line, cols, 10), 8, "columns in: %s", line);
    }
    free(procs);
    char *ov = logs_glob(&r, "overview.txt");
    cr_assert(strstr(ov, "succeeded 47, failed 10"), "%s", ov);
    free(ov);
    tu_rmrf(r.dir);
}

Test(logs, each_error_filed_once_and_grouped, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "logs", 40);
    cr_assert_eq(e2e_prs(&r, "faulty", "--workers 2", "--fail-item f001"), 0);
    char *errs = logs_glob(&r, "user/error/*/error-*.txt");
    cr_assert(errs);
    cr_assert_eq(e2e_count(errs, "message: "), 10, "%s", errs);
    for (int i = 10; i < 20; i++) {
        char item[64];
        snprintf(item, sizeof(item), "item: f%04d.txt\n", i);
        cr_assert_eq(e2e_count(errs, item), 1, "%s not filed exactly once:\n%s", item, errs);
    }
    cr_assert_eq(e2e_count(errs, "batch: 1\n"), 10, "%s", errs);
    free(errs);
    char *sum = logs_glob(&r, "user/error.txt");
    cr_assert(strstr(sum, "errors: 10 in 1 group "), "%s", sum);
    cr_assert_eq(e2e_count(sum, "[10 x] faulty: fails items matching 'f<N>'"), 1, "%s", sum);
    cr_assert_eq(e2e_count(sum, "  first: "), 1, "%s", sum);
    free(sum);
    tu_rmrf(r.dir);
}

Test(logs, logging_level_is_honoured_at_every_level, .timeout = 120) {
    static const char *levels[] = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"};
    static const char *lines[] = {"debug-line", "info-line", "warning-line", "error-line",
                                  "critical-line"};
    for (int at = 0; at < 5; at++) {
        e2e_run r;
        e2e_setup(&r, "logs", 12);
        char opts[64];
        snprintf(opts, sizeof(opts), "--logging-level %s", levels[at]);
        cr_assert_eq(e2e_prs(&r, "logger", opts, "--levels"), 0);
        char *user = logs_glob(&r, "user/*/*.log.txt");
        cr_assert(user);
        for (int l = 0; l < 5; l++) {
            size_t n = e2e_count(user, lines[l]);
            if (l < at) {
                cr_assert_eq(n, 0, "%s lines at --logging-level %s", lines[l], levels[at]);
            } else {
                cr_assert_eq(n, 12, "%zu %s lines at --logging-level %s", n, lines[l], levels[at]);
                char tag[64];
                snprintf(tag, sizeof(tag), "%s worker-", levels[l]);
                cr_assert(strstr(user, tag), "%s", tag);
            }
        }
        free(user);
        tu_rmrf(r.dir);
    }
}

/* The flusher's files follow the input side: through io_uring with --io uring (skipped
 * where io_uring is not allowed: such a job exits 2), through write(2) with --io sync;
 * either way every logged line is there. */
Test(logs, log_files_follow_the_input_io_path, .timeout = 120) {
    static const char *modes[] = {"sync", "uring"};
    static const char *says[] = {"log files: written through write(2)",
                                 "log files: written through io_uring"};
    for (int m = 0; m < 2; m++) {
        e2e_run r;
        e2e_setup(&r, "logs", 40);
        char opts[64];
        snprintf(opts, sizeof(opts), "--logging-level DEBUG --io %s", modes[m]);
        int code = e2e_prs(&r, "logger", opts, "--levels");
        if (m == 1 && code == 2) {
            tu_rmrf(r.dir);
            cr_skip_test("io_uring not allowed here: the uring log path is not tested");
        }
        cr_assert_eq(code, 0, "--io %s: exit %d", modes[m], code);
        char *master = logs_glob(&r, "sys/master.txt");
        cr_assert(master && strstr(master, says[m]), "wanted '%s' in:\n%s", says[m], master);
        free(master);
        char *user = logs_glob(&r, "user/*/*.log.txt");
        cr_assert(user);
        cr_assert_eq(e2e_count(user, "debug-line"), 40, "--io %s", modes[m]);
        cr_assert_eq(e2e_count(user, "critical-line"), 40, "--io %s", modes[m]);
        free(user);
        tu_rmrf(r.dir);
    }
}

Test(logs, stdout_and_stderr_of_the_entry_script_are_captured, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "logs", 25);
    cr_assert_eq(e2e_prs(&r, "logger", "--workers 2", "--print --quiet-log"), 0);
    char *user = logs_glob(&r, "user/*/*.log.txt");
    cr_assert(user);
    for (int i = 0; i < 25; i++) {
        char want[96];
        snprintf(want, sizeof(want), "stdout: logger-stdout item f%04d.txt\n", i);
        cr_assert_eq(e2e_count(user, want), 1, "%s", want);
        snprintf(want, sizeof(want), "stderr: logger-stderr item f%04d.txt\n", i);
        cr_assert_eq(e2e_count(user, want), 1, "%s", want);
    }
    free(user);
    /* The script's stderr still reaches the user's stderr too. */
    char *err = tu_read(r.err, NULL);
    cr_assert(strstr(err, "logger-stderr item f0000.txt"), "%s", err);
    free(err);
    tu_rmrf(r.dir);
}

Test(logs, node_and_ip_cannot_escape_the_logs_directory) {
    static const struct {
        const char *in, *out;
    } cases[] = {{"host-1.example", "host-1.example"},
                 {"../../etc", ".._.._etc"},
                 {"a/b", "a_b"},
                 {"..", "node"},
                 {".", "node"},
                 {"", "node"},
                 {"h\xc3\xa9te", "h__te"},
                 {"fe80::1%eth0", "fe80__1_eth0"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char name[64];
        snprintf(name, sizeof(name), "%s", cases[i].in);
        prs_joblog_safe_name(name, sizeof(name), "node");
        cr_assert_str_eq(name, cases[i].out, "'%s'", cases[i].in);
        cr_assert(strchr(name, '/') == NULL);
    }
}

/* ---- the joblog's ring: several producers, one flusher ---------------------------- */

#define JL_PRODUCERS 4
#define JL_LINES 20000

typedef struct producer_arg {
    prs_joblog *jl;
    int worker;
} producer_arg;

static void log_line(prs_joblog *jl, int worker, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void log_line(prs_joblog *jl, int worker, int level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    prs_joblog_user(jl, worker, level, fmt, ap);
    va_end(ap);
}

static void *produce(void *arg) {
    producer_arg *a = arg;
    for (int i = 0; i < JL_LINES; i++) {
        /* Every 97th line is longer than one ring record: it must come out whole. */
        if (i % 97 == 0) {
            log_line(a->jl, a->worker, PRS_LOG_INFO, "seq %d %0600d end", i, i);
        } else {
            log_line(a->jl, a->worker, PRS_LOG_INFO, "seq %d end", i);
        }
    }
    return NULL;
}

/* Runs the producers; returns the user log's text; checks per-producer order and that
 * every line is whole. *lines gets the count of log lines. */
static char *ring_job(const char *dir, int policy, uint64_t *dropped, size_t *lines) {
    prs_joblog *jl;
    char err[256];
    cr_assert_eq(prs_joblog_open(&jl, dir, PRS_LOG_DEBUG, JL_PRODUCERS, policy, err, sizeof(err)),
                 0, "%s", err);
    pthread_t t[JL_PRODUCERS];
    producer_arg a[JL_PRODUCERS];
    for (int i = 0; i < JL_PRODUCERS; i++) {
        a[i] = (producer_arg){.jl = jl, .worker = i};
        pthread_create(&t[i], NULL, produce, &a[i]);
    }
    for (int i = 0; i < JL_PRODUCERS; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(prs_joblog_flush(jl, 30000), 0);
    *dropped = prs_joblog_dropped(jl);
    char path[600];
    snprintf(path, sizeof(path), "%s/logs/user/%s/%s.log.txt", dir, prs_joblog_ip(jl),
             prs_joblog_node(jl));
    prs_joblog_close(jl);
    char *text = tu_read(path, NULL);
    cr_assert(text);
    int last[JL_PRODUCERS];
    for (int i = 0; i < JL_PRODUCERS; i++)
        last[i] = -1;
    *lines = 0;
    char *copy = strdup(text), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int w, seq;
        const char *p = strstr(line, "worker-");
        if (!p) continue; /* a "records dropped" line */
        cr_assert_eq(sscanf(p, "worker-%d: seq %d", &w, &seq), 2, "%s", line);
        cr_assert(w >= 0 && w < JL_PRODUCERS);
        cr_assert_gt(seq, last[w], "worker %d out of order: %d after %d", w, seq, last[w]);
        last[w] = seq;
        static const char marked[] = " [prs: rest of the line dropped]";
        size_t len = strlen(line);
        if (len > sizeof(marked) && strcmp(line + len - (sizeof(marked) - 1), marked) == 0) {
            cr_assert_eq(policy, PRS_LOGRING_DROP, "a line lost its tail under wait: %s", line);
            continue; /* cut under drop, and says so: not torn silently */
        }
        cr_assert(len > 4 && strcmp(line + len - 4, " end") == 0, "torn line: %s", line);
        (*lines)++;
    }
    free(copy);
    return text;
}

Test(logs, ring_wait_loses_nothing_and_keeps_producer_order, .timeout = 120) {
    char dir[256];
    tu_tmpdir(dir, sizeof(dir), "logs-ring");
    uint64_t dropped;
    size_t lines;
    char *text = ring_job(dir, PRS_LOGRING_WAIT, &dropped, &lines);
    cr_assert_eq(dropped, 0);
    cr_assert_eq(lines, (size_t)JL_PRODUCERS * JL_LINES);
    free(text);
    tu_rmrf(dir);
}

Test(logs, ring_drop_counts_every_lost_line_and_logs_the_count, .timeout = 120) {
    char dir[256];
    tu_tmpdir(dir, sizeof(dir), "logs-ring");
    uint64_t dropped;
    size_t lines;
    char *text = ring_job(dir, PRS_LOGRING_DROP, &dropped, &lines);
    /* A dropped short line is one record; a long line spans 3 records, and losing any
     * of its records loses the line (its head, if kept, is marked and not counted above
     * since it does not end in " end"). */
    cr_assert_leq(lines, (size_t)JL_PRODUCERS * JL_LINES);
    cr_assert_geq(lines + dropped, (size_t)JL_PRODUCERS * JL_LINES);
    unsigned long long logged = 0;
    for (const char *p = text; (p = strstr(p, "prs: ")); p++) {
        unsigned long long n;
        if (sscanf(p, "prs: %llu log records dropped", &n) == 1) logged += n;
    }
    cr_assert_eq(logged, dropped, "the log reports %llu dropped, the ring %llu", logged,
                 (unsigned long long)dropped);
    free(text);
    tu_rmrf(dir);
}
