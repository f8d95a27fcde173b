/* jobreport.c -- see jobreport.h. */
#include "jobreport.h"

#include "clock.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define JOBREPORT_OVERVIEW_EVERY_NS 1000000000ull

void prs_jobreport_init(prs_jobreport *r, const prs_job_config *cfg, prs_job_report *report) {
    memset(r, 0, sizeof(*r));
    r->cfg = cfg;
    r->report = report;
    memset(report, 0, sizeof(*report));
    r->started_ns = prs_mono_ns();
    r->pid = (int32_t)getpid();
}

static void progress_draw(prs_jobreport *r, const prs_sched *s, bool force) {
    if (r->cfg->quiet) return;
    if (!r->progress_ready) {
        prs_progress_init(&r->progress, prs_capture_stderr_fd(r->capture));
        prs_capture_set_progress(r->capture, &r->progress); /* script stderr above the bar */
        r->progress_ready = true;
    }
    uint64_t t = prs_mono_ns();
    prs_progress_tick(&r->progress, &s->counts, t, t - r->started_ns, force);
}

void prs_jobreport_close(prs_jobreport *r, const prs_sched *s) {
    if (r->progress_ready && r->progress.tty) progress_draw(r, s, true); /* the final state */
    if (r->progress_ready) prs_progress_end(&r->progress);
    prs_perf_close(r->perf);
    r->perf = NULL;
    free(r->perf_workers);
    r->perf_workers = NULL;
}

#define FAIL_TEXT_BYTES (4 * PATH_MAX + 2048) /* a message naming a few whole paths */
#define ELIDE_KEEP_BYTES 24u                  /* an elided word keeps at least this much */
#define ELIDE_ROUNDS 8u                       /* words elided at most, longest first */

/* The longest word (a run without spaces: a path, as messages write them) of text. */
static size_t longest_word(const char *text, size_t *len) {
    size_t best = 0, best_len = 0;
    for (size_t i = 0; text[i];) {
        size_t n = strcspn(text + i, " ");
        if (n > best_len) {
            best = i;
            best_len = n;
        }
        i += n ? n : 1;
    }
    *len = best_len;
    return best;
}

/* text (in place, NUL-terminated) made to fit size bytes: the longest words lose their
 * middle to "..." (both ends kept: where a path starts and the file it names), so the
 * reason after a long path survives; cut at the end only if that is not enough. */
static void fit_message(char *text, size_t size) {
    for (unsigned round = 0; round < ELIDE_ROUNDS && strlen(text) >= size; round++) {
        size_t n = strlen(text), wlen, at = longest_word(text, &wlen);
        size_t over = n - (size - 1) + 3; /* bytes to drop, "..." added back */
        if (wlen < 2 * ELIDE_KEEP_BYTES + 4) break;
        size_t keep = wlen > over + 2 * ELIDE_KEEP_BYTES ? wlen - over : 2 * ELIDE_KEEP_BYTES;
        size_t head = keep / 2, tail = keep - head;
        memcpy(text + at + head, "...", 3);
        memmove(text + at + head + 3, text + at + wlen - tail, n - (at + wlen - tail) + 1);
    }
    if (strlen(text) >= size) memcpy(text + size - 4, "...", 4);
}

int prs_jobreport_fail(prs_jobreport *r, int code, const char *fmt, ...) {
    char *text = malloc(FAIL_TEXT_BYTES);
    va_list ap;
    va_start(ap, fmt);
    if (text)
        vsnprintf(text, FAIL_TEXT_BYTES, fmt, ap);
    else /* no memory for the whole text: cut as it comes */
        vsnprintf(r->report->message, sizeof(r->report->message), fmt, ap);
    va_end(ap);
    if (text) {
        if (r->log) prs_joblog_master(r->log, "error: %s", text); /* whole, in master.txt */
        fit_message(text, sizeof(r->report->message));
        memcpy(r->report->message, text, strlen(text) + 1);
        free(text);
    } else if (r->log) {
        prs_joblog_master(r->log, "error: %s", r->report->message);
    }
    return code;
}

bool prs_jobreport_error_line(prs_jobreport *r, bool to_master, char *first, size_t first_size,
                              const char *fmt, ...) {
    char line[PRS_JOBREPORT_ERROR_BYTES];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : PRS_MIN((size_t)n, sizeof(line) - 2);
    line[len] = '\n';
    prs_joblog_errors(r->log, line, len + 1);
    if (to_master) prs_joblog_master(r->log, "%.*s", (int)len, line);
    if (first[0] || first_size == 0) return false;
    snprintf(first, first_size, "%.*s", (int)len, line);
    return true;
}

void prs_jobreport_counts(prs_jobreport *r, const prs_queue_counts *c) {
    prs_job_report *p = r->report;
    p->total_batches = c->total_batches;
    p->done_batches = c->done_batches;
    p->failed_batches = c->failed_batches;
    p->total_items = c->total_items;
    p->succeeded_items = c->succeeded_items;
    p->failed_items = c->failed_items;
    p->output_bytes = c->output_bytes;
}

/* The first failing batch, its item and the file to open, from the first error. */
static int overview_first_failure(prs_jobreport *r, const char *first_error, char *buf,
                                  size_t size) {
    unsigned long long batch;
    unsigned attempt;
    int off = 0;
    const char *file = prs_joblog_first_error_file(r->log);
    int n = 0;
    if (sscanf(first_error, "batch %llu attempt %u item %n", &batch, &attempt, &off) == 2 && off) {
        const char *item = first_error + off;
        const char *colon = strstr(item, ": ");
        n = snprintf(buf, size,
                     "first failing batch: %llu (try %u), item %.*s; its rows in "
                     "logs/sys/job_report/processed_mini-batches.csv\n",
                     batch, attempt, colon ? (int)(colon - item) : (int)strlen(item), item);
    }
    if (file[0] && n >= 0 && (size_t)n < size) {
        n += snprintf(buf + n, size - (size_t)n, "open first: logs/user/error/%s/%s\n",
                      prs_joblog_node(r->log), file);
    }
    return n < 0 ? 0 : (int)PRS_MIN((size_t)n, size ? size - 1 : 0);
}

void prs_jobreport_retry(prs_jobreport *r, prs_queue *q) {
    char text[96];
    size_t len = 0;
    unsigned long long b, i, f;
    if (prs_queue_meta_get(q, "retry", text, sizeof(text) - 1, &len) != 0) return;
    text[len] = 0;
    if (sscanf(text, "%llu %llu %llu", &b, &i, &f) != 3) return; /* not ours: no line */
    r->retried_batches = b;
    r->retried_items = i;
    r->retry_failed_before = f;
}

/* "K mini-batches (N items), R recovered": the failed items before the retry, less those
 * failed now and those not run yet (only retried batches are pending in a retry). */
static void retry_text(const prs_jobreport *r, const prs_sched_counts *c, char *buf, size_t size) {
    uint64_t pending = c->total_items - prs_counts_finished_items(c);
    uint64_t left = c->failed_items + pending;
    uint64_t recovered = r->retry_failed_before > left ? r->retry_failed_before - left : 0;
    snprintf(buf, size, "%llu mini-batches (%llu items), %llu items recovered%s",
             (unsigned long long)r->retried_batches, (unsigned long long)r->retried_items,
             (unsigned long long)recovered, pending ? " so far" : "");
}

/* Since this run began: across the runtime's lives when supervised. */
static double elapsed_s(const prs_jobreport *r) {
    uint64_t now_ms = prs_wall_ms();
    if (r->cfg->run_started_unix_ms && now_ms >= r->cfg->run_started_unix_ms)
        return (double)(now_ms - r->cfg->run_started_unix_ms) / 1e3;
    return (double)(prs_mono_ns() - r->started_ns) / 1e9;
}

void prs_jobreport_overview(prs_jobreport *r, const prs_sched *s, uint64_t output_bytes,
                            const char *first_error, const char *state) {
    const prs_sched_counts *c = &s->counts;
    char text[4096];
    uint64_t processed = prs_counts_finished_batches(c);
    int n = snprintf(text, sizeof(text),
                     "prs job overview\n"
                     "state: %s\n"
                     "mini-batches (tasks): created %llu, processed %llu (succeeded %llu, "
                     "failed %llu), remaining %llu\n"
                     "items: total %llu, succeeded %llu, failed %llu\n"
                     "elapsed: %.1f s\n",
                     state, (unsigned long long)c->total_batches, (unsigned long long)processed,
                     (unsigned long long)c->done_batches, (unsigned long long)c->failed_batches,
                     (unsigned long long)(c->total_batches - processed),
                     (unsigned long long)c->total_items, (unsigned long long)c->succeeded_items,
                     (unsigned long long)c->failed_items, elapsed_s(r));
    if (r->cfg->output_action == PRS_OUTPUT_APPEND_ROW) {
        n += snprintf(text + n, sizeof(text) - (size_t)n, "output: %s (%llu bytes)\n",
                      r->output_path, (unsigned long long)output_bytes);
    }
    if (s->state == PRS_JOB_DRAINING) {
        n += snprintf(text + n, sizeof(text) - (size_t)n, "stopping because: %s\n",
                      prs_sched_reason_text(s->reason));
    }
    if (first_error[0]) {
        n += snprintf(text + n, sizeof(text) - (size_t)n,
                      "first error: %s\nwhere to look: logs/user/error.txt (every error), "
                      "logs/sys/master.txt (the coordinator)\n",
                      first_error);
        n += overview_first_failure(r, first_error, text + n, sizeof(text) - (size_t)n);
    }
    if (r->retried_batches) {
        char rec[128];
        retry_text(r, c, rec, sizeof(rec));
        n += snprintf(text + n, sizeof(text) - (size_t)n, "retried (--retry-failed): %s\n", rec);
    }
    if (processed > 0 && c->succeeded_items == 0 && c->total_batches == processed) {
        snprintf(text + n, sizeof(text) - (size_t)n,
                 "why it failed: no item succeeded (run() emitted no row for any item); "
                 "ParallelRunStep fails such a job whatever the thresholds\n");
    }
    prs_joblog_sync(r->log);
    prs_joblog_overview(r->log, text);
}

void prs_jobreport_progress(prs_jobreport *r, const prs_sched *s, uint64_t output_bytes,
                            const char *first_error, bool force) {
    progress_draw(r, s, force); /* a terminal's bar moves more often than overview.txt */
    uint64_t t = prs_mono_ns();
    if (!force && t - r->last_overview_ns < JOBREPORT_OVERVIEW_EVERY_NS) return;
    r->last_overview_ns = t;
    prs_jobreport_overview(r, s, output_bytes, first_error, prs_sched_state_text(s->state));
    if (r->perf && r->perf_live) prs_perf_tick(r->perf, r->perf_workers, r->perf_count, false);
}

void prs_jobreport_perf_start(prs_jobreport *r, const pthread_t *threads, uint32_t n) {
    r->perf_workers = calloc(n, sizeof(*r->perf_workers));
    if (!r->perf_workers) return;
    for (uint32_t i = 0; i < n; i++)
        r->perf_workers[i].thread = threads[i];
    r->perf_count = n;
    r->perf_live = true;
    int rc = prs_perf_open(&r->perf, prs_joblog_dir(r->log), r->cfg->perf_interval_s, n);
    if (rc) prs_joblog_master(r->log, "no logs/sys/perf: %s", strerror(-rc));
}

void prs_jobreport_perf_end(prs_jobreport *r) {
    if (r->perf && r->perf_live) prs_perf_tick(r->perf, r->perf_workers, r->perf_count, true);
    r->perf_live = false;
}

void prs_jobreport_batch(prs_jobreport *r, const prs_done_msg *m, const prs_out *out,
                         enum prs_outcome outcome, uint32_t succeeded) {
    static const char *status[] = {[PRS_OUTCOME_OK] = "RUN_DONE",
                                   [PRS_OUTCOME_ERROR] = "RUN_EXCEPTION",
                                   [PRS_OUTCOME_TIMEOUT] = "RUN_TIMEOUT",
                                   [PRS_OUTCOME_CRASH] = "RUN_CRASH"};
    PRS_ASSERT((unsigned)outcome < PRS_ARRAY_LEN(status) && status[outcome]);
    prs_joblog_batch b = {.batch_id = m->batch.batch_id,
                          .first_item = m->batch.first_item,
                          .attempt = m->batch.attempt,
                          .worker = m->worker,
                          .pid = r->pid,
                          .tid = m->tid,
                          .cpu = m->cpu,
                          .total = m->batch.item_count,
                          .succeeded = succeeded,
                          .failed = m->batch.item_count - succeeded,
                          .start_realtime_ns = m->start_realtime_ns,
                          .elapsed_ns = m->elapsed_ns,
                          .cpu_ns = m->cpu_ns,
                          .run_ns = m->run_ns,
                          .status = status[outcome],
                          .error_category = outcome == PRS_OUTCOME_OK ? "" : "UserError",
                          .error = out->errors_len ? out->errors : NULL,
                          .error_len = out->errors_len};
    prs_joblog_batch_done(r->log, &b);
    if (r->perf_workers) {
        PRS_ASSERT(m->worker < r->perf_count);
        r->perf_workers[m->worker].tid = m->tid;
        r->perf_workers[m->worker].batches_done++;
        r->perf_workers[m->worker].input_bytes += m->input_bytes;
    }
}

void prs_jobreport_result(prs_jobreport *r, const prs_sched *s, enum prs_job_state st,
                          bool none_ok) {
    const prs_sched_counts *c = &s->counts;
    char *msg = r->report->message;
    size_t size = sizeof(r->report->message);
    int n = snprintf(msg, size,
                     "%s: %llu of %llu mini-batches succeeded, %llu failed; %llu of %llu items "
                     "failed",
                     prs_sched_state_text(st), (unsigned long long)c->done_batches,
                     (unsigned long long)c->total_batches, (unsigned long long)c->failed_batches,
                     (unsigned long long)c->failed_items, (unsigned long long)c->total_items);
    if (st != PRS_JOB_SUCCEEDED && n >= 0 && (size_t)n < size)
        snprintf(msg + n, size - (size_t)n, " (%s)%s",
                 none_ok ? "no mini-batch item succeeded: the job fails whatever the thresholds"
                         : prs_sched_reason_text(s->reason),
                 st == PRS_JOB_STOPPED ? "; run the same command again to resume" : "");
    n = (int)strlen(msg);
    if (r->retried_batches && (size_t)n < size) {
        char rec[128];
        retry_text(r, c, rec, sizeof(rec));
        snprintf(msg + n, size - (size_t)n, "; retried %s", rec);
    }
}

void prs_jobreport_result_log(prs_jobreport *r) {
    prs_joblog_master(r->log, "result: %s", r->report->message);
}
