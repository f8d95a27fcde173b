/* prs_entry.h -- what an entry script includes. The ABI below is stable.
 *
 * An entry script is a shared object (or, for embedders, a function table) with:
 *
 *   int  prs_init(prs_ctx *ctx, int argc, char **argv);            optional, once per worker
 *   int  prs_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out);   required, per batch
 *   void prs_shutdown(prs_ctx *ctx);                                optional, once per worker
 *
 * prs_init: argv[0] is the entry script path, argv[1..] are the arguments given after `--`.
 *   A non-zero return fails that worker's init: the worker takes no batches. The job fails
 *   (exit code 4) if no worker initialised.
 * prs_run: each prs_emit() row counts one successful item (ParallelRunStep's rule: a batch of
 *   N items that emits M rows has N-M failed items). A negative return fails the whole batch
 *   for this try; its rows are discarded and it is retried up to --run-max-try times.
 *   Items, their bytes and the batch are valid only until prs_run returns.
 * Threads: each worker calls its callbacks from one pinned thread; different workers run
 *   concurrently, so state shared between workers needs the script's own synchronisation.
 *   prs_emit, prs_fail_item and prs_fail_batch work on the out only inside the prs_run it
 *   was handed to, on that prs_run's thread: called after it returned, or from a thread the
 *   script started, they return -EPERM (prs_fail_batch: -1) and change nothing (said once
 *   on stderr): the out serves a later batch by then.
 *
 * Optional, once per process (the place for one shared, read-only model):
 *
 *   int  prs_global_init(prs_global *g, int argc, char **argv);  before any prs_init
 *   void prs_global_shutdown(prs_global *g);                     after every prs_shutdown
 *
 * prs_global_init stores what it builds with prs_global_set; every worker reads it with
 *   prs_shared(ctx). A non-zero return fails the job (exit code 4) before any worker
 *   starts. It runs once per runtime process: after a crash the restarted runtime runs it
 *   again (it is a new process). What it shares must be read-only or synchronised.
 *   (The type is prs_global, not prs_shared: prs_shared is the accessor's name.)
 *
 * Side inputs and tables (prs run --side-input NAME=PATH, --side-table NAME=FILE,...):
 * prs_side_path gives a side input's absolute path (arguments after `--` equal to NAME
 * are replaced by it too). prs_side_get looks a key up in a side table loaded once into
 * LMDB: the view points into the shared map (no copy) and is valid until the current
 * prs_run (or prs_init) returns; it is the whole record (csv/tsv: the line, jsonl: the
 * object) without its newline. */
#ifndef PRS_ENTRY_H
#define PRS_ENTRY_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks what libprs exports. The library is built with -fvisibility=hidden and a version
 * script (core/libprs.map): only functions declared with PRS_API in prs.h and this file are
 * visible to hosts and entry scripts; everything else is internal and may change. A new
 * public function is declared PRS_API and listed in core/libprs.map (tests/test_install.sh
 * checks both). */
#define PRS_API __attribute__((visibility("default")))

typedef struct prs_ctx prs_ctx;
typedef struct prs_out prs_out;

typedef struct prs_item {
    const char *name; /* path relative to the input root (files), "file:line" (tabular) */
    const void *data; /* the item's bytes; not NUL-terminated */
    size_t size;      /* bytes at data */
} prs_item;

typedef struct prs_batch {
    uint64_t id;      /* mini-batch id, stable across retries and resumes */
    uint32_t attempt; /* 1 for the first try */
    uint32_t count;   /* items[0..count) */
    const prs_item *items;
    const void *header; /* tabular: the header row, handed to every batch; else NULL */
    size_t header_size;
    /* Appended (a script built before sees the struct it knows): --partition-keys. The
     * batch holds exactly the records of one combination of key values: key i is the
     * column partition_keys[i], its value in every record partition_values[i], or NULL
     * when these records have none. partition_key_count 0: not partitioned. */
    uint32_t partition_key_count;
    const char *const *partition_keys;
    const char *const *partition_values;
} prs_batch;

enum prs_log_level {
    PRS_LOG_DEBUG = 10,
    PRS_LOG_INFO = 20,
    PRS_LOG_WARNING = 30,
    PRS_LOG_ERROR = 40,
    PRS_LOG_CRITICAL = 50,
};

typedef int (*prs_init_fn)(prs_ctx *ctx, int argc, char **argv);
typedef int (*prs_run_fn)(prs_ctx *ctx, const prs_batch *batch, prs_out *out);
typedef void (*prs_shutdown_fn)(prs_ctx *ctx);

typedef struct prs_global prs_global;
typedef int (*prs_global_init_fn)(prs_global *g, int argc, char **argv);
typedef void (*prs_global_shutdown_fn)(prs_global *g);

/* The entry points a shared-object script defines (declared here so the compiler checks
 * their signatures). Only prs_run is required. */
int prs_init(prs_ctx *ctx, int argc, char **argv);
int prs_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out);
void prs_shutdown(prs_ctx *ctx);
int prs_global_init(prs_global *g, int argc, char **argv);
void prs_global_shutdown(prs_global *g);

/* Appends one result row (a '\n' is added unless the row ends with one). Returns 0;
 * -EPERM outside its prs_run (see Threads above); -ENOMEM when the row cannot be held; -EINVAL when
 * it holds a '\n' before its last byte: one row is one line of the output, so the row is refused,
 * not written, and counts as the failed item past the last row or failed item, with an error saying
 * so. Rows reach the output file only if the batch succeeds, exactly once. */
PRS_API int prs_emit(prs_out *out, const void *row, size_t len);

/* Records why item `index` failed (shown in logs/user/error.txt). It does not change the
 * counts: those follow the number of emitted rows. Returns 0, -EINVAL for a bad index, or
 * -EPERM outside its prs_run. */
PRS_API int prs_fail_item(prs_out *out, uint32_t index, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Says why the whole mini-batch fails this try (shown wherever the failure is reported:
 * logs/user/error.txt, overview.txt, master.txt, processed_mini-batches.csv, prs why).
 * The batch fails this try whatever run() then returns; its rows are discarded and it is
 * retried up to --run-max-try times, like a negative return. Returns -1, so that
 * `return prs_fail_batch(out, "model %s missing", path);` ends run(). A second call keeps
 * the first reason. (Added in 0.2; appended to the ABI.) */
PRS_API int prs_fail_batch(prs_out *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The entry script's logger: lines at or above --logging-level reach
 * logs/user/<ip>/<node>.log.txt, tagged with the worker. */
PRS_API void prs_log(prs_ctx *ctx, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

PRS_API int prs_worker_id(const prs_ctx *ctx);          /* 0 .. workers-1 */
PRS_API const char *prs_output_dir(const prs_ctx *ctx); /* the job's OUT directory */
PRS_API bool prs_cancelled(const prs_ctx *ctx);         /* true once the batch should stop early */

/* A pointer the script may keep per worker (set in prs_init, read in prs_run). */
PRS_API void prs_set_user(prs_ctx *ctx, void *user);
PRS_API void *prs_user(const prs_ctx *ctx);

/* ---- once per process: the shared model --------------------------------------------------- */

PRS_API void prs_global_set(prs_global *g, void *shared); /* in prs_global_init */
PRS_API void *prs_global_get(const prs_global *g); /* e.g. in prs_global_shutdown, to free it */
PRS_API const char *prs_global_side_path(const prs_global *g,
                                         const char *name); /* as prs_side_path */
PRS_API void *prs_shared(const prs_ctx *ctx); /* what prs_global_init set; NULL without one */

/* ---- side inputs and side tables ------------------------------------------------------------ */

/* The absolute path of side input name, or NULL if the job has none by that name. */
PRS_API const char *prs_side_path(const prs_ctx *ctx, const char *name);

/* Looks key up in side table `table`. 0 with *value, *value_len a view of the row (valid
 * until the current prs_run/prs_init returns); -ENOENT: no such key; -EINVAL: no such
 * table; -EIO: the table cannot be read. Cheapest when `table` is the same pointer each
 * call (a string literal): the name is then resolved once. */
PRS_API int prs_side_get(prs_ctx *ctx, const char *table, const void *key, size_t key_len,
                         const void **value, size_t *value_len);

/* n lookups at once (faster: their memory accesses overlap). found[i] = 0, -ENOENT or -EIO,
 * and values[i], value_lens[i] as prs_side_get. Returns how many were found, or -EINVAL/-EIO. */
PRS_API long prs_side_get_many(prs_ctx *ctx, const char *table, size_t n, const void *const *keys,
                               const size_t *key_lens, const void **values, size_t *value_lens,
                               int *found);

/* The table's header row (csv/tsv: the first line; jsonl: empty), a view like get's. */
PRS_API int prs_side_header(prs_ctx *ctx, const char *table, const void **header,
                            size_t *header_len);

#ifdef __cplusplus
}
#endif
#endif
