/* jobreport.h -- what a job tells the user while and after it runs: the result message,
 * logs/sys/overview.txt, the progress bar or lines, logs/sys/perf, and each finished try's
 * line in logs/sys/node/<node>.txt and processed_mini-batches.csv.
 *
 * Owns: the caller's prs_job_report (its message and counts), the progress state, the
 *   perf sampler and its per-worker rows, the job's clock (started_ns).
 * May call: core/joblog, core/progress, core/perf, core/capture (the stderr to draw on),
 *   core/sched (counts and state, read only), libc.
 * Callers must: use one prs_jobreport from one thread: the one running prs_job_run (the
 *   coordinator). Set log once OUT's logs are open (before it, failures only go to the
 *   report's message).
 *
 * Job steps (state, creation, coordinator, lifecycle) return 0 or a PRS_EXIT_* code; the
 * message of a non-zero code is put here by prs_jobreport_fail, which every step uses. */
#ifndef PRS_JOBREPORT_H
#define PRS_JOBREPORT_H

#include "base.h"
#include "capture.h"
#include "joblog.h"
#include "perf.h"
#include "prs.h"
#include "progress.h"
#include "queue.h"
#include "sched.h"
#include "worker.h"

#include <limits.h>

#define PRS_JOBREPORT_ERROR_BYTES 768u /* the first error line kept for the overview */

typedef struct prs_jobreport {
    const prs_job_config *cfg;
    prs_job_report *report; /* the caller's, never NULL */
    prs_joblog *log;        /* NULL until OUT's logs are open */
    prs_capture *capture;   /* the entry script's stdout/stderr, when supervised; or NULL */
    char output_path[PATH_MAX + 256];
    uint64_t started_ns, last_overview_ns;
    prs_progress progress; /* the bar (a terminal) or periodic lines on stderr */
    bool progress_ready;
    prs_perf *perf; /* logs/sys/perf/overview.csv; NULL without one */
    prs_perf_worker *perf_workers;
    uint32_t perf_count; /* rows in perf_workers: the workers started */
    bool perf_live;      /* the workers run: their threads can be sampled */
    int32_t pid;         /* the runtime's, read once at init (not a system call per batch) */
    /* --retry-failed, from the "retry" meta (prs_jobreport_retry): what the last retry took
     * and the failed items before it; retried_batches 0: none. */
    uint64_t retried_batches, retried_items, retry_failed_before;
} prs_jobreport;

/* Reads what the last --retry-failed took ("retry" meta) for the overview and the result
 * message; nothing when the job was never retried. */
void prs_jobreport_retry(prs_jobreport *r, prs_queue *q);

void prs_jobreport_init(prs_jobreport *r, const prs_job_config *cfg, prs_job_report *report);
/* Ends the progress output (drawing a terminal's bar one last time from s) and closes the
 * perf sampler. */
void prs_jobreport_close(prs_jobreport *r, const prs_sched *s);

/* Puts the message into the report and, once logs are open, "error: ..." into master.txt.
 * Returns code, so a step can `return prs_jobreport_fail(r, PRS_EXIT_USAGE, ...)`. */
int prs_jobreport_fail(prs_jobreport *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One error line (fmt formats it, without its '\n'): into logs/user/error.txt, into
 * master.txt when to_master, and into first (first_size bytes) if first is still empty.
 * Returns true when it became first. */
bool prs_jobreport_error_line(prs_jobreport *r, bool to_master, char *first, size_t first_size,
                              const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The counts of the report, from c. */
void prs_jobreport_counts(prs_jobreport *r, const prs_queue_counts *c);

/* Rewrites overview.txt: the counts and state of s, the output's size, why the job stops,
 * the first error and where to look. state: the word for its "state:" line. */
void prs_jobreport_overview(prs_jobreport *r, const prs_sched *s, uint64_t output_bytes,
                            const char *first_error, const char *state);

/* Redraws the progress (at its own period, or now with force) and, about once a second
 * (or with force), the overview and a perf sample. */
void prs_jobreport_progress(prs_jobreport *r, const prs_sched *s, uint64_t output_bytes,
                            const char *first_error, bool force);

/* Starts sampling the n workers (threads[i]); a perf file that cannot be opened is
 * said in master.txt and skipped. */
void prs_jobreport_perf_start(prs_jobreport *r, const pthread_t *threads, uint32_t n);
/* The last perf sample, while the workers still run; none after it. */
void prs_jobreport_perf_end(prs_jobreport *r);

/* One finished try into node/<node>.txt and processed_mini-batches.csv, and into the
 * worker's perf row. succeeded: items of the try that count as succeeded. */
void prs_jobreport_batch(prs_jobreport *r, const prs_done_msg *m, const prs_out *out,
                         enum prs_outcome outcome, uint32_t succeeded);

/* The job's result message ("SUCCEEDED: 3 of 3 mini-batches succeeded, ...") into the
 * report, from the final state st and the counts and reason of s; none_ok: st is FAILED
 * because no item succeeded (which the message says instead of s's reason). Not into
 * master.txt: the caller logs it (prs_jobreport_result_log) once it is committed, so a
 * commit that fails (a full disk) never leaves a "result: SUCCEEDED" line behind it. */
void prs_jobreport_result(prs_jobreport *r, const prs_sched *s, enum prs_job_state st,
                          bool none_ok);
/* "result: MESSAGE" into master.txt: the result committed. */
void prs_jobreport_result_log(prs_jobreport *r);

#endif
