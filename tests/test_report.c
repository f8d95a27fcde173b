/* The job report: jobstats' aggregation (bucket counts add up to the job's totals, bad and
 * partial rows), the page's size bound for a million tries, and `prs report` on a real job
 * with seeded failures, crashes and a timeout. */
#include "../tools/htmlreport.h"
#include "../tools/jobstats.h"
#include "util.h"

#include <criterion/criterion.h>
#include <string.h>
#include <sys/stat.h>

static const char header[] =
    "Mini-batch Id,Picked Count,Process,Process Start Time,Total,Succeeded,Failed,Elapsed "
    "Seconds,Process Seconds,Run Method Seconds,Status,Error Category,Error Message,Mini-batch "
    "Detail\n";

/* One CSV row of processed_mini-batches.csv. */
static int row(char *buf, size_t size, unsigned id, unsigned worker, double start_s, unsigned ok,
               unsigned failed, double elapsed_s, const char *status, const char *message) {
    unsigned ms = (unsigned)((start_s - (int)start_s) * 1000 + 0.5) % 1000;
    return snprintf(buf, size,
                    "%u,1,worker-%u pid 7 tid 8,2026-12-02T05:%02u:%02u.%03uZ,%u,%u,%u,%.6f,0.0001,"
                    "%.6f,%s,,\"%s\",\"items %u..%u\"\n",
                    id, worker, (unsigned)start_s / 60, (unsigned)start_s % 60, ms, ok + failed, ok,
                    failed, elapsed_s, elapsed_s * 0.9, status, message, id, id + 1);
}

static uint64_t sum(const uint64_t *v, size_t n) {
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    return s;
}

Test(report, times) {
    double t;
    cr_assert_eq(prs_jobstats_parse_time("1970-01-01T00:00:01Z", 20, &t), 0);
    cr_assert_float_eq(t, 1.0, 1e-9);
    cr_assert_eq(prs_jobstats_parse_time("1970-01-01T00:01:00.250Z", 24, &t), 0);
    cr_assert_float_eq(t, 60.25, 1e-9);
    cr_assert_eq(prs_jobstats_parse_time("1970-01-01 00:00:01Z", 20, &t), -EINVAL);
    cr_assert_eq(prs_jobstats_parse_time("1970-01-01T00:00:01", 19, &t), -EINVAL);
    cr_assert_eq(prs_jobstats_parse_time("garbage", 7, &t), -EINVAL);
}

Test(report, buckets_add_up_to_the_totals) {
    /* 500 tries over 3 workers and ~100 s, every outcome, a malformed row (with a quoted
     * newline in its message), and a partial last row still being written. */
    size_t cap = 1 << 20, len = 0;
    char *csv = malloc(cap);
    len += (size_t)snprintf(csv, cap, "%s", header);
    uint64_t ok = 0, failed = 0;
    static const char *const st[] = {"RUN_DONE", "RUN_DONE", "RUN_EXCEPTION", "RUN_TIMEOUT"};
    for (unsigned i = 0; i < 500; i++) {
        unsigned o = i % 7 == 0 ? 1 + i % 3 : 0, f = o == 1 ? 2 : o ? 3 : 0;
        len +=
            (size_t)row(csv + len, cap - len, i, i % 3, 10 + i * 0.2, 3 - PRS_MIN(f, 3u),
                        PRS_MIN(f, 3u), 0.05 + (i % 13) * 0.01, st[o], "a, \"\"quoted\"\"\nline");
        ok += 3 - PRS_MIN(f, 3u);
        failed += PRS_MIN(f, 3u);
    }
    len +=
        (size_t)snprintf(csv + len, cap - len, "x,1,worker-0,not a time,1,1,0,1,1,1,RUN_DONE,,,\n");
    len += (size_t)snprintf(csv + len, cap - len, "501,1,worker-0 pid 7,2026-12-02T05:00:1");
    const char master[] = "2026-12-02T05:00:20.000Z batch 7 attempt 1 item -: the process "
                          "crashed in run() with signal 11; it will be retried\n"
                          "2026-12-02T05:00:30.000Z batch 9 attempt 1 item -: run() ignored the "
                          "cancel 500 ms after --run-invocation-timeout; it will be retried\n"
                          "2026-12-02T05:00:40.000Z batch 9 attempt 2 item x: plain failure\n";
    const char errors[] = "errors: 9 in 2 distinct messages\n\n[2 x] small\n  file: "
                          "logs/user/error/n/a.txt\n\n[7 x] big <b>\n  first: ...\n  file: "
                          "logs/user/error/n/b.txt\n";
    const char procs[] =
        "pid,tid,role,cpu,start,end,exit_code,signal\n"
        "5,5,runtime,-1,2026-12-02T05:00:10.000Z,2026-12-02T05:00:20.000Z,-1,11\n"
        "6,6,runtime,-1,2026-12-02T05:00:20.000Z,2026-12-02T05:02:00.000Z,0,0\n"
        "6,9,worker-0,0,2026-12-02T05:00:20.000Z,2026-12-02T05:02:00.000Z,0,0\n"
        "7,7,host-1,1,2026-12-02T05:00:20.000Z,2026-12-02T05:00:30.000Z,-1,9\n"
        "8,8,host-1/gpu0,1,2026-12-02T05:00:30.000Z,2026-12-02T05:02:00.000Z,0,0\n";
    prs_jobstats *s;
    cr_assert_eq(prs_jobstats_from_text(csv, len, NULL, 0, procs, sizeof(procs) - 1, master,
                                        sizeof(master) - 1, errors, sizeof(errors) - 1,
                                        "state: RUNNING\n", 15, &s),
                 0);
    cr_assert_eq(s->tries, 500);
    cr_assert_eq(s->malformed_rows, 1, "malformed %llu tries %llu",
                 (unsigned long long)s->malformed_rows, (unsigned long long)s->tries);
    cr_assert_eq(s->workers, 3);
    cr_assert_eq(s->items_ok, ok);
    cr_assert_eq(s->items_failed, failed);
    cr_assert_eq(sum(s->done_items_ok, PRS_JOBSTATS_BUCKETS), ok);
    cr_assert_eq(sum(s->done_items_failed, PRS_JOBSTATS_BUCKETS), failed);
    uint64_t by_outcome = 0, lanes = 0, lane_ok = 0;
    for (int o = 0; o < PRS_TRY_OUTCOMES; o++) {
        uint64_t n = 0;
        for (unsigned b = 0; b < PRS_JOBSTATS_BUCKETS; b++)
            n += s->done_tries[b][o];
        cr_assert_eq(n, s->tries_by_outcome[o], "outcome %d", o);
        by_outcome += n;
    }
    for (size_t i = 0; i < (size_t)s->workers * PRS_JOBSTATS_BUCKETS; i++) {
        lane_ok += s->lane_items[i];
        for (int o = 0; o < PRS_TRY_OUTCOMES; o++)
            lanes += s->lane_outcome[i * PRS_TRY_OUTCOMES + o];
    }
    cr_assert_eq(by_outcome, 500);
    cr_assert_eq(lanes, 500);
    cr_assert_eq(lane_ok, ok);
    cr_assert_eq(s->tries_by_outcome[PRS_TRY_EXCEPTION], 24); /* i % 7 == 0 and i % 3 == 1 */
    cr_assert_eq(sum(s->hist_elapsed, PRS_JOBSTATS_HIST_BINS), 500);
    cr_assert_eq(sum(s->hist_run, PRS_JOBSTATS_HIST_BINS), 500);
    cr_assert_eq(s->bars_len, 500);
    cr_assert_eq(s->crashes, 1);
    cr_assert_eq(s->timeouts, 1);
    cr_assert_eq(s->lives_total, 2);
    cr_assert_eq(s->host_lives_total, 2);
    cr_assert_eq(s->host_lives[1], 2, "a restarted Python host: two lives of worker 1's host");
    cr_assert_eq(s->errors_total, 9);
    cr_assert_eq(s->groups_len, 2);
    cr_assert_eq(s->groups[0].count, 7, "largest group first");
    cr_assert_str_eq(s->groups[0].file, "logs/user/error/n/b.txt");
    cr_assert_str_eq(s->state, "RUNNING");
    char *page;
    size_t page_len;
    FILE *f = open_memstream(&page, &page_len);
    cr_assert_eq(prs_htmlreport_render(s, f, 5), 0);
    fclose(f);
    cr_assert(strstr(page, "<meta http-equiv=refresh content=5>"));
    cr_assert(strstr(page, "big &lt;b&gt;"), "messages are escaped");
    cr_assert(strstr(page, "href=\"user/error/n/b.txt\""), "links relative to logs/");
    cr_assert_null(strstr(page, "<script"));
    free(page);
    prs_jobstats_free(s);
    free(csv);
}

Test(report, empty_job_renders) {
    prs_jobstats *s;
    cr_assert_eq(prs_jobstats_from_text(NULL, 0, NULL, 0, NULL, 0, NULL, 0, NULL, 0, NULL, 0, &s),
                 0);
    cr_assert_eq(s->tries, 0);
    char *page;
    size_t page_len;
    FILE *f = open_memstream(&page, &page_len);
    cr_assert_eq(prs_htmlreport_render(s, f, 0), 0);
    fclose(f);
    cr_assert(strstr(page, "NOT STARTED"));
    cr_assert(strstr(page, "No try has finished yet"));
    free(page);
    prs_jobstats_free(s);
}

Test(report, million_tries_stay_small, .timeout = 300) {
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof(dir), "report-1m");
    snprintf(path, sizeof(path), "%s/logs/sys/job_report", dir);
    cr_assert_eq(tu_sh("mkdir -p '%s'", path), 0);
    snprintf(path, sizeof(path), "%s/logs/sys/job_report/processed_mini-batches.csv", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(header, f);
    char line[512];
    for (unsigned i = 0; i < 1000000; i++) {
        row(line, sizeof(line), i, i % 8, (double)(i / 2000), 10, i % 1000 == 0, 0.004,
            i % 5000 == 0 ? "RUN_EXCEPTION" : "RUN_DONE", "");
        fputs(line, f);
    }
    cr_assert_eq(fclose(f), 0);
    char err[512];
    cr_assert_eq(prs_htmlreport_write(dir, 0, err, sizeof(err)), 0, "%s", err);
    snprintf(path, sizeof(path), "%s/logs/report.html", dir);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    /* one element per lane and time bucket, not per try: well under a megabyte */
    cr_assert_lt(st.st_size, 1 << 20, "report.html is %lld bytes", (long long)st.st_size);
    prs_jobstats *s;
    cr_assert_eq(prs_jobstats_load(dir, &s, err, sizeof(err)), 0);
    cr_assert_eq(s->tries, 1000000);
    cr_assert_null(s->bars);
    cr_assert_eq(s->items_ok, 10000000);
    cr_assert_eq(s->items_failed, 1000);
    cr_assert_eq(sum(s->done_items_ok, PRS_JOBSTATS_BUCKETS), 10000000);
    cr_assert_eq(s->tries_by_outcome[PRS_TRY_EXCEPTION], 200);
    prs_jobstats_free(s);
    tu_rmrf(dir);
}

Test(report, bad_out_and_symlinked_report) {
    char dir[256], err[512];
    tu_tmpdir(dir, sizeof(dir), "report-bad");
    cr_assert_eq(prs_htmlreport_write(dir, 0, err, sizeof(err)), -ENOENT);
    cr_assert(strstr(err, "/logs"), "%s", err);
    cr_assert_eq(
        tu_sh("mkdir -p '%s/logs' && ln -s /tmp/elsewhere '%s/logs/report.html'", dir, dir), 0);
    cr_assert_eq(prs_htmlreport_write(dir, 0, err, sizeof(err)), -ELOOP);
    cr_assert(strstr(err, "symlink"), "%s", err);
    tu_rmrf(dir);
}

/* A real job with seeded item failures, crashes and hung run()s; `prs report` and the
 * report `prs run` wrote agree with the job's own counts. */
Test(report, real_job, .timeout = 240) {
    char dir[256], in[300], out[300];
    tu_tmpdir(dir, sizeof(dir), "report-job");
    snprintf(in, sizeof(in), "%s/in", dir);
    snprintf(out, sizeof(out), "%s/out", dir);
    tu_dataset(in, 400);
    int rc = tu_sh("%s run --quiet --entry-script build/examples/faulty.so --input '%s' --output "
                   "'%s' --mini-batch-size 4 --workers 2 --run-invocation-timeout 1 -- --seed 3 "
                   "--fail-rate 0.05 --crash-rate 0.005 --hang-rate 0.005 2>'%s/err.txt'",
                   tu_prs(), in, out, dir);
    cr_assert_eq(rc, 0, "prs run exit %d", rc);
    char path[512];
    snprintf(path, sizeof(path), "%s/logs/report.html", out);
    char *page = tu_read(path, NULL);
    cr_assert_not_null(page, "prs run writes the report at its end");
    free(page);
    cr_assert_eq(tu_sh("rm '%s' && %s report '%s' >/dev/null", path, tu_prs(), out), 0);
    page = tu_read(path, NULL);
    cr_assert_not_null(page);
    snprintf(path, sizeof(path), "%s/logs/overview.txt", out);
    char *overview = tu_read(path, NULL);
    cr_assert_not_null(overview);
    long long failed = tu_field(strstr(overview, "items:"), "failed");
    cr_assert_gt(failed, 0);
    cr_assert(strstr(page, "SUCCEEDED"));
    prs_jobstats *s;
    char err[512];
    cr_assert_eq(prs_jobstats_load(out, &s, err, sizeof(err)), 0);
    cr_assert_gt(s->crashes + s->timeouts, 0, "seeded crashes and hangs are on the timeline");
    cr_assert_gt(s->lives_total, 1);
    cr_assert_gt(s->groups_len, 0);
    prs_jobstats_free(s);
    free(overview);
    free(page);
    cr_assert_neq(tu_sh("%s report '%s/nowhere' 2>/dev/null", tu_prs(), dir), 0);
    tu_rmrf(dir);
}

/* While the job runs, the supervisor rewrites the report every few seconds with a meta
 * refresh and the RUNNING state; the one written at the end has neither. */
Test(report, live_while_running, .timeout = 240) {
    char dir[256], in[300], out[300];
    tu_tmpdir(dir, sizeof(dir), "report-live");
    snprintf(in, sizeof(in), "%s/in", dir);
    snprintf(out, sizeof(out), "%s/out", dir);
    tu_dataset(in, 300);
    /* 300 one-file batches of 50 ms on 2 workers: about 7.5 s, past the 5 s tick */
    int rc = tu_sh("%s run --quiet --entry-script build/examples/faulty.so --input '%s' --output "
                   "'%s' --mini-batch-size 1 --workers 2 -- --slow-rate 1 --slow-ms 50 "
                   "2>'%s/err.txt' & pid=$!; "
                   "for i in $(seq 1 600); do grep -q http-equiv=refresh '%s/logs/report.html' "
                   "2>/dev/null && cp '%s/logs/report.html' '%s/live.html' && break; sleep 0.1; "
                   "done; wait $pid",
                   tu_prs(), in, out, dir, out, out, dir);
    cr_assert_eq(rc, 0, "prs run exit %d", rc);
    char path[512];
    snprintf(path, sizeof(path), "%s/live.html", dir);
    char *live = tu_read(path, NULL);
    cr_assert_not_null(live, "no report with a refresh appeared while the job ran");
    cr_assert(strstr(live, "RUNNING"));
    snprintf(path, sizeof(path), "%s/logs/report.html", out);
    char *end = tu_read(path, NULL);
    cr_assert_not_null(end);
    cr_assert_null(strstr(end, "http-equiv=refresh"));
    cr_assert(strstr(end, "SUCCEEDED"));
    free(live);
    free(end);
    tu_rmrf(dir);
}

/* A job run as two shards on this machine, merged: OUT's page shows both shards side by
 * side with links to their own reports, the merged totals and error groups. */
Test(report, sharded_job, .timeout = 240) {
    char dir[256], in[300], out[300];
    tu_tmpdir(dir, sizeof(dir), "report-shards");
    snprintf(in, sizeof(in), "%s/in", dir);
    snprintf(out, sizeof(out), "%s/out", dir);
    tu_dataset(in, 200);
    for (int k = 0; k < 2; k++)
        cr_assert_eq(tu_sh("%s run --quiet --entry-script build/examples/faulty.so --input '%s' "
                           "--output '%s' --shard %d/2 --mini-batch-size 5 -- --seed 4 "
                           "--fail-rate 0.05 2>/dev/null",
                           tu_prs(), in, out, k),
                     0);
    cr_assert_eq(tu_sh("%s merge '%s' 2>/dev/null && %s report '%s' >/dev/null", tu_prs(), out,
                       tu_prs(), out),
                 0);
    char path[512];
    snprintf(path, sizeof(path), "%s/logs/report.html", out);
    char *page = tu_read(path, NULL);
    cr_assert_not_null(page);
    cr_assert(strstr(page, "2 shards"));
    cr_assert(strstr(page, "href=\"../shards/0-of-2/logs/report.html\""));
    cr_assert(strstr(page, "href=\"../shards/1-of-2/logs/report.html\""));
    snprintf(path, sizeof(path), "%s/shards/1-of-2/logs/report.html", out);
    char *shard = tu_read(path, NULL);
    cr_assert_not_null(shard, "each shard has its own report");
    snprintf(path, sizeof(path), "%s/logs/overview.txt", out);
    char *overview = tu_read(path, NULL);
    cr_assert_not_null(overview);
    const char *items = strstr(overview, "items:");
    cr_assert_not_null(items);
    char want[128];
    snprintf(want, sizeof(want), ": %lld items succeeded, %lld failed",
             tu_field(items, "succeeded"), tu_field(items, "failed"));
    cr_assert(strstr(page, want), "the page's totals are the merged ones (%s)", want);
    free(overview);
    free(shard);
    free(page);
    tu_rmrf(dir);
}
