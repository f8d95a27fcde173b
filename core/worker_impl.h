/* worker_impl.h -- the inside of a worker, for the code that runs on its thread: worker.c
 * (the thread), worker_input.c (a batch's input), prs_entry.c (the entry-script API behind a
 * prs_ctx) and host.c (the Python host adapter, an entry table run by the worker). The coordinator
 * sees a prs_worker only through worker.h.
 *
 * Owns: nothing beyond worker.h's contract. Fields marked "the worker thread sets" are
 * read by others only after prs_worker_join. */
#ifndef PRS_WORKER_IMPL_H
#define PRS_WORKER_IMPL_H

#include "worker.h"

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

struct prs_worker {
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
    /* --partition-keys: the key names (from the config, split once) and the running
     * batch's values, as prs_batch shows them. */
    char pkey_names[PRS_PARTITION_KEY_BYTES];
    const char *pkeys[PRS_PARTITION_MAX_KEYS];
    const char *pvalues[PRS_PARTITION_MAX_KEYS];
    uint32_t pkey_count;
};

#endif
