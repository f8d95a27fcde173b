/* worker.h -- worker threads and the objects the entry script sees (prs_ctx, prs_out).
 *
 * Owns: one pinned thread per worker, its jemalloc arena, its queue reader, its batch
 *   scratch (item array, file bytes) and PRS_WORKER_OUTS result buffers. prs_worker is
 *   opaque here: its inside (worker_impl.h) is for the code on the worker's thread.
 *   worker.c runs the thread (its loop, run() and the completion); worker_input.c turns a
 *   dispatched batch into items (worker_input.h).
 * May call: entry-script callbacks, storage/queue readers, storage/sidedb readers (side
 *   tables), io/reader (file items), io/records (tabular items), core/crash (its handler's
 *   per-thread state), core/scoreboard (its slot), joblog user(), the channels, core/base.
 * Callers (the coordinator) must: start workers after the job is created, on one thread;
 *   read each completion's buffer (prs_worker_out) and hand it back with
 *   prs_worker_release_out once its rows are written; send each live worker a stop
 *   message; drain completions while joining (a worker may wait for a free buffer).
 *
 * Messages (asserted when pushed and when popped): a dispatch is a try of a batch with
 * items (attempt 1..PRS_QUEUE_MAX_ATTEMPTS), or a stop; a completion names its worker and,
 * for a batch, one of that worker's buffers.
 *
 * A worker never writes LMDB: it reads a batch's items through its own read transaction,
 * reads the files, calls run(), and posts a completion with the buffer holding the rows.
 * While the coordinator writes those rows, the worker fills its next buffer. */
#ifndef PRS_WORKER_H
#define PRS_WORKER_H

#include "base.h"
#include "chan.h"
#include "joblog.h"
#include "partition.h"
#include "prs.h"
#include "queue.h"
#include "reader.h"
#include "records.h"
#include "scoreboard.h"
#include "side.h"
#include "sidedb.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>

struct prs_out {
    char *rows;
    size_t rows_len, rows_cap;
    uint64_t row_count;
    char *errors; /* "batch B item NAME: message\n" lines for logs/user/error.txt */
    size_t errors_len, errors_cap;
    const prs_batch *batch;
    /* Set by a hosted script (host.c): a DataFrame header to write once as the output's
     * first line, and that the batch's failure is already in errors. */
    char *header;
    size_t header_len, header_cap;
    bool failure_said;
    /* The item run() works on, as far as its calls tell: past the last emitted row or
     * failed item (rows are taken to come in item order). Named in crash evidence. */
    uint32_t progress;
    char fail_reason[512]; /* prs_fail_batch's reason; "" when none */
};

/* One error line "batch B attempt A item ITEM: message" into out->errors. */
void prs_out_error(prs_out *out, const char *item, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

struct prs_worker;

struct prs_ctx {
    struct prs_worker *worker;
    void *user;
};

/* What prs_global_init sees and sets: one per process, read by every worker. */
struct prs_global {
    void *shared;
    const prs_side_config *side;
};

typedef struct prs_dispatch_msg {
    uint64_t batch_id;
    uint64_t first_item;
    uint32_t attempt;
    uint32_t item_count;
    bool stop;
} prs_dispatch_msg;

enum prs_done_kind { PRS_DONE_INIT = 1, PRS_DONE_BATCH };

typedef struct prs_done_msg {
    enum prs_done_kind kind;
    uint32_t worker;
    bool init_ok;
    int32_t run_rc;
    uint32_t out_index;
    prs_dispatch_msg batch;
    uint32_t unreadable; /* items whose file could not be read */
    bool timed_out;      /* run() was asked to stop (prs_cancelled) before it returned */
    /* Per-batch timing for logs/sys/node and processed_mini-batches.csv. */
    uint64_t start_realtime_ns; /* CLOCK_REALTIME_COARSE (ms) when the batch started */
    uint64_t elapsed_ns;        /* previous batch done (or a wait for work over) .. done */
    uint64_t cpu_ns;            /* the worker thread's CPU time over that same span */
    uint64_t run_ns;            /* inside run() */
    int32_t tid;                /* the worker thread's id */
    int32_t cpu;                /* the CPU it finished on */
    uint64_t input_bytes;       /* bytes of the inputs read for the batch (perf) */
} prs_done_msg;

/* What workers share; set up by the runtime before the first worker starts. */
typedef struct prs_workers_shared {
    const prs_job_config *config;
    const prs_entry_table *entry;
    prs_queue *queue;
    prs_joblog *log;
    int input_root_fd; /* AT_FDCWD for absolute paths from a list */
    const char *output_dir;
    prs_chan *dispatch;
    prs_chan *done;
    prs_scoreboard_file *scoreboard;
    enum prs_io_mode io_mode; /* resolved at start: URING or SYNC */
    enum prs_format format;   /* FILES: one item per file; else records of input files */
    int argc;                 /* init()'s arguments, side-input names substituted */
    char **argv;
    const prs_side_config *side; /* never NULL */
    prs_sidedb *sidedb;          /* NULL without side tables */
    prs_global *global;
    /* Hosted scripts: before each batch's timed window (see host.h); NULL otherwise. */
    int (*entry_ready)(prs_ctx *ctx, prs_out *out);
} prs_workers_shared;

/* Result buffers per worker: one being filled, the rest waiting for the coordinator, which
 * may let up to this many completions of one worker gather before it wakes. */
#define PRS_WORKER_OUTS 8u

typedef struct prs_worker prs_worker; /* opaque: worker_impl.h, for the worker side only */

/* Coordinator thread, after the worker's stop message was sent (or its init failed):
 * waits for its thread (unbounded: a run() or shutdown() that never returns holds it; a
 * supervised runtime exits instead, see coord.c), then frees its readers, buffers and
 * scratch. Every buffer it handed over must be released first. Once per worker. */
void prs_worker_join(prs_worker *w);
/* prs_worker_join, bounded by deadline (CLOCK_REALTIME): -ETIMEDOUT if the worker is still
 * in the entry script's code then (a prs_shutdown or prs_init that does not return);
 * nothing is freed and the thread runs on: the caller ends the process without it. */
int prs_worker_join_by(prs_worker *w, const struct timespec *deadline);
/* Coordinator thread: buffer out_index of a PRS_DONE_BATCH completion, readable until it
 * is released (the worker does not touch it meanwhile). out_index < PRS_WORKER_OUTS and
 * the buffer handed over (asserted). */
const prs_out *prs_worker_out(const prs_worker *w, uint32_t out_index);
/* Coordinator thread: hands buffer out_index back once its rows and errors are consumed,
 * waking the worker if it waits for a free one (asserted: it was handed over). */
void prs_worker_release_out(prs_worker *w, uint32_t out_index);
/* Any thread: asks the batch running on w to stop (prs_cancelled turns true until the
 * worker starts its next batch). */
void prs_worker_cancel(prs_worker *w);
/* The worker's thread (perf samples its CPU clock while it runs). */
pthread_t prs_worker_thread(const prs_worker *w);
/* After prs_worker_join: its row of logs_dir/sys/processes.csv (exit code 0: ran until
 * stopped; 1: its init failed). */
void prs_worker_process_row(const prs_worker *w, const char *logs_dir);

/* Defined in prs_entry.c beside prs_emit, used by the worker too, on its thread: grows *buf
 * (doubling) to hold need bytes (0 or -ENOMEM, *buf unchanged), and appends "batch B attempt A item
 * ITEM: message\n" to out's error lines (newlines in the message become spaces; dropped when out of
 * memory). */
int prs_entry_grow(char **buf, size_t *cap, size_t need);
void prs_entry_out_error_v(prs_out *out, const char *item, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* The workers of one job, started together (prs_workers_start) and freed together once
 * each is joined. Coordinator thread only. */
typedef struct prs_workers prs_workers;

/* CPUs this process may run on (at most cap ids into cpu_ids, cap >= 1): its affinity mask,
 * capped by a cgroup v2 CPU quota. {-1} (one unpinned CPU) when the mask is unreadable. */
uint32_t prs_workers_cpus(int *cpu_ids, uint32_t cap);

/* Coordinator thread, after the job is created: starts count workers (1..PRS_MAX_WORKERS,
 * asserted), worker i pinned to cpus[i % ncpu] (more workers than CPUs are placed
 * round-robin); shared is borrowed until every worker is joined. Each posts PRS_DONE_INIT
 * first. *out is NULL only when out of memory (-ENOMEM). Another error is the failing
 * worker's (its queue or side-table reader cannot be opened: their errors; -EAGAIN: no
 * thread); *out then holds the prs_workers_started() workers that
 * run, which the caller stops and joins like any others before prs_workers_free. */
int prs_workers_start(prs_workers **out, uint32_t count, const int *cpus, uint32_t ncpu,
                      const prs_workers_shared *shared);
/* Workers started (0 for NULL). */
uint32_t prs_workers_started(const prs_workers *ws);
/* Worker index (< prs_workers_started). */
prs_worker *prs_workers_get(prs_workers *ws, uint32_t index);
/* Frees the set; every started worker must be joined. NULL is ignored. */
void prs_workers_free(prs_workers *ws);

#endif
