/* jobstats.h -- what a job's logs/ say about it, aggregated for a picture.
 *
 * Owns: a prs_jobstats (heap; prs_jobstats_free releases it). Everything in it is read
 *   from files prs already writes under OUT/logs/ -- no second bookkeeping:
 *   sys/job_report/processed_mini-batches.csv (one row per finished try), sys/perf/
 *   overview.csv (CPU and RSS samples), sys/processes.csv (runtime lives: restarts),
 *   sys/master.txt (crashes and timeouts, which leave no CSV row: the process died or
 *   restarted), user/error.txt (error groups) and overview.txt (the state line).
 * May call: libc, io/records (the CSV splitter). No LMDB: safe while the job runs, and
 *   for any job, finished, running or resumable. Files being appended to may end in a
 *   partial line: it is ignored.
 * Bounded: memory is O(workers x PRS_JOBSTATS_BUCKETS), whatever the number of tries;
 *   individual tries are kept only while there are at most PRS_JOBSTATS_MAX_BARS of them
 *   (a browser must open a million-batch job's report in a second or two). Workers past
 *   PRS_JOBSTATS_MAX_WORKERS are folded into the last lane.
 * Thread: any; one prs_jobstats per thread. */
#ifndef PRS_JOBSTATS_H
#define PRS_JOBSTATS_H

#include "base.h"

#define PRS_JOBSTATS_BUCKETS 120u /* time buckets across the job's span */
#define PRS_JOBSTATS_MAX_WORKERS 256u
#define PRS_JOBSTATS_MAX_BARS 2000u   /* one SVG bar per try up to this many tries */
#define PRS_JOBSTATS_HIST_BINS 32u    /* duration bins: bin i holds [2^(i-20), 2^(i-19)) s */
#define PRS_JOBSTATS_MAX_GROUPS 50u   /* error groups kept (the largest) */
#define PRS_JOBSTATS_MAX_LIVES 1000u  /* runtime lives kept (restarts) */
#define PRS_JOBSTATS_MAX_EVENTS 1000u /* crash / timeout markers kept */
#define PRS_JOBSTATS_TEXT_BYTES 512u

/* How one try ended. DONE: every item succeeded; ITEMS: the try ran, some items failed;
 * EXCEPTION: the whole try failed (run() failed or the script raised); TIMEOUT: past
 * --run-invocation-timeout; CRASHED: the process or host died during it. */
enum prs_try_outcome {
    PRS_TRY_DONE = 0,
    PRS_TRY_ITEMS,
    PRS_TRY_EXCEPTION,
    PRS_TRY_TIMEOUT,
    PRS_TRY_CRASHED,
    PRS_TRY_OUTCOMES
};

typedef struct prs_jobstats_try {
    double start_s; /* Unix time */
    double elapsed_s;
    double run_s;
    uint32_t worker;
    uint32_t items_ok, items_failed;
    uint64_t batch;
    enum prs_try_outcome outcome;
} prs_jobstats_try;

typedef struct prs_jobstats_life { /* one row of processes.csv with role "runtime" */
    double start_s, end_s;
    int64_t pid;
    int exit_code, signal;
} prs_jobstats_life;

typedef struct prs_jobstats_event { /* a crash or timeout that master.txt reported */
    double time_s;
    uint64_t batch;
    enum prs_try_outcome outcome; /* PRS_TRY_CRASHED or PRS_TRY_TIMEOUT */
} prs_jobstats_event;

typedef struct prs_jobstats_group { /* one group of user/error.txt */
    uint64_t count;
    char message[PRS_JOBSTATS_TEXT_BYTES];
    char file[PRS_JOBSTATS_TEXT_BYTES]; /* relative to OUT, as error.txt gives it */
} prs_jobstats_group;

typedef struct prs_jobstats {
    char state[64];      /* overview.txt's "state:" word, "" if none yet */
    char overview[4096]; /* overview.txt's first lines, verbatim */
    double t0_s, t1_s;   /* span of the tries (and samples); t1_s > t0_s */
    double bucket_s;     /* (t1_s - t0_s) / PRS_JOBSTATS_BUCKETS */
    uint32_t workers;    /* lanes: highest worker index seen + 1 */
    uint64_t tries;      /* CSV rows read */
    uint64_t items_ok, items_failed;
    uint64_t tries_by_outcome[PRS_TRY_OUTCOMES];
    uint64_t malformed_rows; /* CSV rows that could not be read (counted, not fatal) */
    /* per bucket, by the try's end time */
    uint64_t done_items_ok[PRS_JOBSTATS_BUCKETS];
    uint64_t done_items_failed[PRS_JOBSTATS_BUCKETS];
    uint64_t done_tries[PRS_JOBSTATS_BUCKETS][PRS_TRY_OUTCOMES];
    /* per worker lane x bucket (index lane * BUCKETS + bucket) */
    uint64_t *lane_items;   /* items succeeded, by end time */
    double *lane_busy_s;    /* seconds of tries overlapping the bucket */
    uint32_t *lane_outcome; /* [lane][bucket][outcome]: tries ending in the bucket */
    /* durations */
    uint64_t hist_elapsed[PRS_JOBSTATS_HIST_BINS];
    uint64_t hist_run[PRS_JOBSTATS_HIST_BINS];
    uint64_t hist_rest[PRS_JOBSTATS_HIST_BINS]; /* elapsed - run: the runtime's share */
    double elapsed_sum_s, run_sum_s, elapsed_max_s;
    /* the tries themselves, when there are at most PRS_JOBSTATS_MAX_BARS */
    prs_jobstats_try *bars;
    size_t bars_len;
    /* sys/perf/overview.csv, per lane and bucket: mean CPU %, and process RSS max */
    double *lane_cpu_sum;
    uint32_t *lane_cpu_n;
    uint64_t rss_max_bytes[PRS_JOBSTATS_BUCKETS];
    uint64_t perf_samples;
    prs_jobstats_life lives[PRS_JOBSTATS_MAX_LIVES];
    size_t lives_len; /* runtime lives kept; restarts = lives_len - 1 when > 0 */
    uint64_t lives_total;
    /* entry-script host processes (Python): rows "host-W[/gpuG]" of processes.csv, one
     * per host life; a host's restarts are its lives past the first */
    uint64_t host_lives_total;
    uint32_t host_lives[PRS_JOBSTATS_MAX_WORKERS];
    prs_jobstats_event events[PRS_JOBSTATS_MAX_EVENTS];
    size_t events_len;
    uint64_t crashes, timeouts;                         /* all of them, kept or not */
    prs_jobstats_group groups[PRS_JOBSTATS_MAX_GROUPS]; /* largest first */
    size_t groups_len;
    uint64_t errors_total;
} prs_jobstats;

/* Reads OUT/logs/ and aggregates. Returns 0 with *out set (prs_jobstats_free it);
 * -ENOENT when OUT/logs does not exist (no job ran there), with err naming the path;
 * -ENOMEM. Missing or partial files inside logs/ are not errors: a job that has not
 * finished a try yet gives empty charts. Thread: any. */
int prs_jobstats_load(const char *out_dir, prs_jobstats **out, char *err, size_t err_size);

/* The same from explicit file contents (any may be NULL): the pure core of
 * prs_jobstats_load, for tests. */
int prs_jobstats_from_text(const char *batches_csv, size_t batches_len, const char *perf_csv,
                           size_t perf_len, const char *processes_csv, size_t processes_len,
                           const char *master_txt, size_t master_len, const char *error_txt,
                           size_t error_len, const char *overview_txt, size_t overview_len,
                           prs_jobstats **out);

void prs_jobstats_free(prs_jobstats *s);

/* The bucket of time t (clamped to the span). */
uint32_t prs_jobstats_bucket(const prs_jobstats *s, double t_s);

/* The histogram bin of a duration. */
uint32_t prs_jobstats_hist_bin(double seconds);

/* "2026-12-02T05:11:23.133Z" or "...:23Z" -> Unix seconds; -EINVAL otherwise. */
int prs_jobstats_parse_time(const char *text, size_t len, double *out_s);

const char *prs_jobstats_outcome_name(enum prs_try_outcome o);

#endif
