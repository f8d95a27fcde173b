/* worker.h -- worker threads and the objects the entry script sees (prs_ctx, prs_out).
 *
 * Owns: one pinned thread per worker, its jemalloc arena, its queue reader, its batch
 *   scratch (item array, file bytes) and two output buffers.
 * May call: entry-script callbacks, storage/queue readers, storage/sidedb readers (side
 *   tables), io/reader (file items), io/records (tabular items), core/crash (its handler's
 *   per-thread state), core/scoreboard (its slot), joblog user(), the channels, core/base.
 * Callers (the coordinator) must: start workers after the job is created; send each a
 *   stop message; join them; hand an output buffer back with prs_worker_release_out
 *   once its rows are written.
 *
 * A worker never writes LMDB: it reads a batch's items through its own read transaction,
 * reads the files, calls run(), and posts a completion with the buffer holding the rows.
 * While the coordinator writes those rows, the worker fills its other buffer. */
#ifndef PRS_WORKER_H
#define PRS_WORKER_H

#include "base.h"
#include "chan.h"
#include "joblog.h"
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

/* One batch between its dispatch and its run(): the next batch's reads are in flight (or
 * its range mapped and prefetched) while run() works on the current one. A prepared batch
 * is not running: its scoreboard slot is set only when run() starts, so a crash or a
 * restart puts it back to pending like a batch still in the dispatch queue. */
typedef struct prs_worker_slot {
    prs_dispatch_msg m;
    int prep_rc;           /* 0, or why the batch could not be prepared (the try fails) */
    int input_rc;          /* tabular: 0, or why its input file cannot be read (items fail) */
    const char *prep_what; /* what failed, for the error line */
    char *names;           /* files: the batch's paths, NUL-separated; tabular: the path */
    size_t names_len, names_cap;
    size_t *name_off;   /* files: offset of path i in names */
    const char **paths; /* files: pointers into names, handed to the reader */
    uint32_t cap;
    bool submitted;  /* files: the reader slot holds the batch */
    prs_tab_ref ref; /* tabular: the batch's byte range (ref.path points into names) */
    void *map;       /* tabular: the whole input file, read-only */
    size_t map_len;
} prs_worker_slot;

/* Result buffers per worker: one being filled, the rest waiting for the coordinator, which
 * may let up to this many completions of one worker gather before it wakes. */
#define PRS_WORKER_OUTS 8u

typedef struct prs_worker {
    pthread_t thread;
    uint32_t id;
    int cpu; /* pinned to it, or -1 */
    /* For sys/processes.csv; the worker thread sets them, read after it is joined. */
    int tid;
    bool init_ok;
    uint64_t started_unix_ms, ended_unix_ms;
    const prs_workers_shared *shared;
    prs_ctx ctx;
    const prs_batch *running; /* inside run(): its batch (log lines name it), else NULL */
    prs_out out[PRS_WORKER_OUTS];
    uint32_t out_current;
    atomic_bool out_busy[PRS_WORKER_OUTS];
    pthread_mutex_t out_lock;
    pthread_cond_t out_freed;
    atomic_bool cancel;
    prs_queue_reader *reader;
    uint32_t items_cap;
    prs_item *items;
    const void **views;
    size_t *view_sizes;
    size_t *offsets;
    char *data; /* tabular: "file:line" item names of the running batch */
    size_t data_cap;
    prs_reader *io; /* created on the worker's thread (the ring is single-issuer) */
    prs_worker_slot slot[PRS_READER_SLOTS];
    prs_sidedb_reader *side_reader; /* a read snapshot from the first lookup to run()'s end */
    const char *side_last_name;     /* the last table name pointer and its index: a script */
    int side_last_table;            /* passing a literal skips the name compare */
} prs_worker;

int prs_worker_start(prs_worker *w, uint32_t id, int cpu, const prs_workers_shared *shared);
void prs_worker_join(prs_worker *w);
/* prs_worker_join, bounded by deadline (CLOCK_REALTIME): -ETIMEDOUT if the worker is still
 * in the entry script's code then (a prs_shutdown or prs_init that does not return);
 * nothing is freed and the thread runs on: the caller ends the process without it. */
int prs_worker_join_by(prs_worker *w, const struct timespec *deadline);
void prs_worker_release_out(prs_worker *w, uint32_t out_index);

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

/* Starts count workers (1..PRS_MAX_WORKERS), worker i pinned to cpus[i % ncpu] (more
 * workers than CPUs are placed round-robin). *out is NULL only when out of memory
 * (-ENOMEM). Another error is the failing worker's (prs_worker_start: a reader cannot be
 * opened, or -EAGAIN: no thread); *out then holds the prs_workers_started() workers that
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
