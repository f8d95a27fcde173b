/* joblog.h -- the job's logs/ directory (ParallelRunStep layout).
 *
 * Owns: OUT/logs/ and the files in it: overview.txt (rewritten atomically),
 *   sys/master.txt (the coordinator's view), user/<ip>/<node>.log.txt (the entry
 *   script's logger and its captured stdout/stderr), user/error.txt (errors grouped by
 *   message: count and first example, rewritten atomically), user/error/<node>/ (one
 *   file per error); a lock-free log ring (logring.h) and ONE flusher thread that
 *   drains it into master.txt and the user log.
 * May call: libc, pthreads, core/logring (the ring), io/logfile (master.txt and the user
 *   log are written through it), core/base (clock.h, fs.h).
 * Callers must: call master/error/overview from the coordinator thread only (a master
 *   line longer than one ring record is pushed as several records, which must not
 *   interleave with another master writer); user() may be called from any worker
 *   thread: it never takes a lock, and the flusher reassembles each producer's long
 *   lines, so none are torn or interleaved. Every producer must have stopped before
 *   close. Under --log-policy wait a producer waits (bounded back-off) for room in the
 *   ring; under drop the record is dropped, counted, and the count is written to
 *   master.txt and the user log.
 * Node name and IP come from the machine (hostname, first non-loopback IPv4), reduced
 * to [A-Za-z0-9._-] so they cannot name a path outside logs/. */
#ifndef PRS_JOBLOG_H
#define PRS_JOBLOG_H

#include "base.h"
#include "prs.h"

#include <stdarg.h>

typedef struct prs_joblog prs_joblog;

/* The ring's size follows the job (prs_joblog_ring_records): per producer (each worker,
 * and one for the coordinator and the other prs threads), PRS_JOBLOG_RING_PER_PRODUCER
 * records at INFO and above, 4x that at DEBUG (5 lines an item, in tools/bench/logjob),
 * rounded up to a power of two, within [PRS_JOBLOG_RING_MIN, PRS_JOBLOG_RING_MAX]: a
 * few flusher ticks (1 ms) of what those producers log. Every slot (256 bytes) is
 * resident from the start, so the ring is most of a small job's memory: 16,384 slots
 * (4 MiB) whatever the job, before. A fuller ring costs producers a wait (--log-policy
 * wait) or records (drop, counted), never a torn line. */
#define PRS_JOBLOG_RING_PER_PRODUCER 256u
#define PRS_JOBLOG_RING_MIN 512u
#define PRS_JOBLOG_RING_MAX 16384u
/* Producer ids in the ring: workers are 0..PRS_MAX_WORKERS-1, then these. */
enum { PRS_JOBLOG_PRODUCERS = 260u };

/* policy: PRS_LOGRING_WAIT or PRS_LOGRING_DROP (--log-policy). Starts the flusher. */
/* From now on the flusher writes master.txt and the user log through io_uring (when the
 * input side does). 0, or a negative errno: the files stay on write(2). */
int prs_joblog_use_uring(prs_joblog *jl);
/* How many buffer flushes of those files went through io_uring. */
uint64_t prs_joblog_uring_writes(prs_joblog *jl);

/* Appends one row to logs_dir/sys/processes.csv, creating it with its header
 * "pid,tid,role,cpu,start,end,exit_code,signal" (cpu -1: not pinned). For the
 * supervisor (a runtime life) and the runtime (a worker thread); best effort. */
void prs_joblog_process_row(const char *logs_dir, int pid, int tid, const char *role, int cpu,
                            uint64_t start_unix_ms, uint64_t end_unix_ms, int exit_code,
                            int signal);

/* The ring's records for a job of `workers` workers logging at `level` (see above);
 * workers 0: as --workers' default, the CPUs in the affinity mask. */
uint32_t prs_joblog_ring_records(uint32_t workers, int level);
/* workers: the job's --workers (sizes the ring; 0: its default). */
int prs_joblog_open(prs_joblog **out, const char *out_dir, int level, uint32_t workers, int policy,
                    char *err, size_t err_size);
/* Blocks until every record pushed before the call is in the files (bounded: gives up
 * after timeout_ms and returns -ETIMEDOUT). Any thread. */
int prs_joblog_flush(prs_joblog *jl, uint32_t timeout_ms);
/* Records dropped under --log-policy drop so far. */
uint64_t prs_joblog_dropped(const prs_joblog *jl);
/* Captured output of the entry script: one line, tagged with its stream. Any thread. */
void prs_joblog_capture(prs_joblog *jl, const char *stream, const char *line, size_t len);
/* A line a worker's host process wrote on stream ("stdout"/"stderr"), into the user log
 * tagged with the worker, whatever --logging-level: it is output, not a log record. The
 * calling thread must be that worker's (it is the line's producer in the ring). */
void prs_joblog_user_stream(prs_joblog *jl, int worker, const char *stream, const char *line,
                            size_t len);
void prs_joblog_close(prs_joblog *jl);

const char *prs_joblog_node(const prs_joblog *jl);
const char *prs_joblog_ip(const prs_joblog *jl);
const char *prs_joblog_dir(const prs_joblog *jl);
/* The first error's file name in user/error/<node>/ ("" while there is none). */
const char *prs_joblog_first_error_file(const prs_joblog *jl);

void prs_joblog_master(prs_joblog *jl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Every master.txt line also goes to fn(arg, level, text, len) (NULL: none), called from
 * the flusher thread. The coordinator, right after open, before any master line. */
void prs_joblog_set_sink(prs_joblog *jl, prs_log_line_fn fn, void *arg);
/* Entry-script logger; dropped below the job's --logging-level. */
void prs_joblog_user(prs_joblog *jl, int worker, int level, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
bool prs_joblog_user_enabled(const prs_joblog *jl, int level);
/* The same, for a line logged inside run(): prefixed "[batch B try A] " (prs why finds the
 * lines of a try by it). */
void prs_joblog_user_batch(prs_joblog *jl, int worker, int level, uint64_t batch, uint32_t attempt,
                           const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));
/* Error lines, already formatted "batch B attempt A item I: message\n" (or any other
 * '\n'-terminated line): each becomes one file in user/error/<node>/ and is counted
 * under its message in user/error.txt. */
void prs_joblog_errors(prs_joblog *jl, const char *text, size_t len);
/* One finished try of a mini-batch, as sys/node/<node>.txt and
 * sys/job_report/processed_mini-batches.csv record it. Coordinator only. */
typedef struct prs_joblog_batch {
    uint64_t batch_id;
    uint64_t first_item;
    uint32_t attempt;
    uint32_t worker;
    int32_t pid, tid, cpu;
    uint32_t total, succeeded, failed;
    uint64_t start_realtime_ns, elapsed_ns, cpu_ns, run_ns;
    const char *status;         /* RUN_DONE, RUN_TIMEOUT, RUN_EXCEPTION */
    const char *error_category; /* "" when none */
    const char *error;          /* the try's first error line, or NULL */
    size_t error_len;
} prs_joblog_batch;
void prs_joblog_batch_done(prs_joblog *jl, const prs_joblog_batch *b);

/* Rewrites error.txt now if errors came since it was last written (it is otherwise
 * rewritten at most once a second, and at close). */
void prs_joblog_errors_sync(prs_joblog *jl);
/* Flushes the coordinator's own files (node, job report) and rewrites error.txt if it
 * changed. Coordinator; call it about once a second. */
void prs_joblog_sync(prs_joblog *jl);
/* Flushes sys/node/<node>.txt and processed_mini-batches.csv (stdio buffers): called at
 * every commit, so a crash loses no line of a committed try (prs why reads them). */
void prs_joblog_flush_reports(prs_joblog *jl);
/* The job's end in the names v2 (the parallel job) uses: logs_dir/job_result.txt (exit
 * code and end line) and, unless the job succeeded, logs_dir/job_error.txt (the end line,
 * then overview.txt's first error and where to look); a job that succeeded removes a
 * job_error.txt of an earlier run. Written whole, then renamed; best effort. Any thread. */
void prs_joblog_job_result(const char *logs_dir, int code, const char *message);
/* Replaces overview.txt with text, atomically (write then rename). */
int prs_joblog_overview(prs_joblog *jl, const char *text);

/* Makes name safe as one path component under logs/: every byte outside [A-Za-z0-9._-]
 * becomes '_', and "", "." or ".." becomes fallback. */
void prs_joblog_safe_name(char *name, size_t size, const char *fallback);

const char *prs_log_level_name(int level);
/* "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL" (any case) -> PRS_LOG_*; -EINVAL. */
int prs_log_level_parse(const char *text, int *level);

#endif
