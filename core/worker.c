/* worker.c -- see worker.h. Also defines the entry-script API of prs_entry.h. */
#include "worker.h"

#include "crash.h"

#include <fcntl.h>
#include <sched.h>
#include <time.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Weak: the prs binary links jemalloc and gets an arena per worker; an embedder (or a
 * sanitizer build, whose allocator must stay ASan's) without jemalloc simply gets none. */
extern int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
    __attribute__((weak));

/* ---- the entry-script API ------------------------------------------------------------ */

/* Grows *buf to hold need bytes. Doubling keeps a warm worker from allocating again. */
static int grow(char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 4096;
    while (n < need) {
        if (n > SIZE_MAX / 2) return -ENOMEM;
        n *= 2;
    }
    char *p = realloc(*buf, n);
    if (!p) return -ENOMEM;
    *buf = p;
    *cap = n;
    return 0;
}

int prs_emit(prs_out *out, const void *row, size_t len) {
    bool newline = len > 0 && ((const char *)row)[len - 1] == '\n';
    size_t need = out->rows_len + len + (newline ? 0 : 1);
    if (need < out->rows_len || grow(&out->rows, &out->rows_cap, need) != 0) return -ENOMEM;
    if (len) memcpy(out->rows + out->rows_len, row, len);
    out->rows_len += len;
    if (!newline) out->rows[out->rows_len++] = '\n';
    out->row_count++;
    return 0;
}

__attribute__((format(printf, 3, 0))) static void out_error_v(prs_out *out, const char *item,
                                                          const char *fmt, va_list ap) {
    char line[1024];
    int n = snprintf(line, sizeof(line), "batch %llu attempt %u item %s: ",
                     (unsigned long long)out->batch->id, out->batch->attempt, item);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2) len = sizeof(line) - 2;
    for (size_t i = 0; i < len; i++) {
        if (line[i] == '\n') line[i] = ' '; /* one error, one line */
    }
    line[len++] = '\n';
    if (grow(&out->errors, &out->errors_cap, out->errors_len + len) != 0) return;
    memcpy(out->errors + out->errors_len, line, len);
    out->errors_len += len;
}

static void out_error(prs_out *out, const char *item, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void out_error(prs_out *out, const char *item, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    out_error_v(out, item, fmt, ap);
    va_end(ap);
}

int prs_fail_item(prs_out *out, uint32_t index, const char *fmt, ...) {
    if (!out->batch || index >= out->batch->count) return -EINVAL;
    va_list ap;
    va_start(ap, fmt);
    out_error_v(out, out->batch->items[index].name, fmt, ap);
    va_end(ap);
    return 0;
}

void prs_log(prs_ctx *ctx, int level, const char *fmt, ...) {
    prs_joblog *log = ctx->worker->shared->log;
    if (!prs_joblog_user_enabled(log, level)) return;
    va_list ap;
    va_start(ap, fmt);
    prs_joblog_user(log, (int)ctx->worker->id, level, fmt, ap);
    va_end(ap);
}

int prs_worker_id(const prs_ctx *ctx) {
    return (int)ctx->worker->id;
}
const char *prs_output_dir(const prs_ctx *ctx) {
    return ctx->worker->shared->output_dir;
}
bool prs_cancelled(const prs_ctx *ctx) {
    return atomic_load_explicit(&ctx->worker->cancel, memory_order_relaxed);
}
void prs_set_user(prs_ctx *ctx, void *user) {
    ctx->user = user;
}
void *prs_user(const prs_ctx *ctx) {
    return ctx->user;
}

void prs_global_set(prs_global *g, void *shared) {
    g->shared = shared;
}
void *prs_global_get(const prs_global *g) {
    return g->shared;
}
const char *prs_global_side_path(const prs_global *g, const char *name) {
    return name ? prs_side_input_path(g->side, name) : NULL;
}
void *prs_shared(const prs_ctx *ctx) {
    return ctx->worker->shared->global->shared;
}

const char *prs_side_path(const prs_ctx *ctx, const char *name) {
    return name ? prs_side_input_path(ctx->worker->shared->side, name) : NULL;
}

/* The table's index with the worker's snapshot open, or a negative errno. */
static int side_table(prs_ctx *ctx, const char *table) {
    prs_worker *w = ctx->worker;
    if (!w->side_reader || !table) return -EINVAL;
    int t;
    /* The pointer alone could be a reused buffer now naming another table: the compare of
     * a short name is what keeps the cache honest, and it is cheaper than a search. */
    if (table == w->side_last_name &&
        strcmp(table, prs_sidedb_table_name(w->shared->sidedb, (uint32_t)w->side_last_table)) ==
            0) {
        t = w->side_last_table;
    } else {
        t = prs_sidedb_find(w->side_reader, table);
        if (t < 0) return t;
        w->side_last_name = table;
        w->side_last_table = t;
    }
    /* Lazily: a batch that never looks up costs no transaction. */
    if (!prs_sidedb_reader_active(w->side_reader) && prs_sidedb_reader_begin(w->side_reader) != 0)
        return -EIO;
    return t;
}

int prs_side_get(prs_ctx *ctx, const char *table, const void *key, size_t key_len,
                 const void **value, size_t *value_len) {
    int t = side_table(ctx, table);
    if (t < 0) return t;
    return prs_sidedb_get(ctx->worker->side_reader, (uint32_t)t, key, key_len, value, value_len);
}

long prs_side_get_many(prs_ctx *ctx, const char *table, size_t n, const void *const *keys,
                       const size_t *key_lens, const void **values, size_t *value_lens,
                       int *found) {
    int t = side_table(ctx, table);
    if (t < 0) return t;
    return (long)prs_sidedb_get_many(ctx->worker->side_reader, (uint32_t)t, n, keys, key_lens,
                                     values, value_lens, found);
}

int prs_side_header(prs_ctx *ctx, const char *table, const void **header, size_t *header_len) {
    int t = side_table(ctx, table);
    if (t < 0) return t;
    return prs_sidedb_header(ctx->worker->side_reader, (uint32_t)t, header, header_len);
}

/* Views handed out during a callback die with it: the snapshot ends here. */
static void worker_side_end(prs_worker *w) {
    if (w->side_reader) prs_sidedb_reader_end(w->side_reader);
}

/* ---- the worker thread ---------------------------------------------------------------- */

static void worker_pin(prs_worker *w) {
    if (w->cpu < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(w->cpu, &set);
    /* Best effort: a cpuset may forbid it; the worker then runs unpinned, which is slower
     * at worst, never wrong. */
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void worker_arena(void) {
    if (!mallctl) return;
    /* One arena per worker: no allocator lock shared with the other workers. */
    unsigned arena;
    size_t size = sizeof(arena);
    if (mallctl("arenas.create", &arena, &size, NULL, 0) == 0) {
        mallctl("thread.arena", NULL, NULL, &arena, sizeof(arena));
    }
}

/* Reads a whole file into the data buffer at *offset. The size is the one fstat saw: a file
 * growing meanwhile is read up to that size, a shrinking one up to where it ends. */
static int worker_read_file(prs_worker *w, const char *name, size_t *offset, size_t *size) {
    int fd = openat(w->shared->input_root_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return -errno;
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        goto close_fd;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = -EISDIR;
        goto close_fd;
    }
    size_t want = (size_t)st.st_size, got = 0;
    rc = grow(&w->data, &w->data_cap, *offset + want + 1);
    if (rc) goto close_fd;
    while (got < want) {
        ssize_t n = pread(fd, w->data + *offset + got, want - got, (off_t)got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            rc = -errno;
            goto close_fd;
        }
        if (n == 0) break;
        got += (size_t)n;
    }
    w->data[*offset + got] = 0; /* a NUL after each item: text parsers may rely on it */
    *size = got;
close_fd:
    close(fd);
    return rc;
}

static int worker_scratch(prs_worker *w, uint32_t count) {
    if (count <= w->items_cap) return 0;
    uint32_t n = PRS_MAX(count, 16u);
    prs_item *items = realloc(w->items, n * sizeof(*items));
    if (items) w->items = items;
    const void **views = realloc(w->views, n * sizeof(*views));
    if (views) w->views = views;
    size_t *sizes = realloc(w->view_sizes, n * sizeof(*sizes));
    if (sizes) w->view_sizes = sizes;
    size_t *offsets = realloc(w->offsets, n * sizeof(*offsets));
    if (offsets) w->offsets = offsets;
    if (!items || !views || !sizes || !offsets) return -ENOMEM;
    w->items_cap = n;
    return 0;
}

static prs_out *worker_take_out(prs_worker *w) {
    uint32_t i = w->out_current;
    pthread_mutex_lock(&w->out_lock);
    while (atomic_load(&w->out_busy[i])) pthread_cond_wait(&w->out_freed, &w->out_lock);
    pthread_mutex_unlock(&w->out_lock);
    prs_out *out = &w->out[i];
    out->rows_len = 0;
    out->row_count = 0;
    out->errors_len = 0;
    return out;
}

static uint64_t worker_clock_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Runs one batch; fills done. A failure to read the queue is an internal error: the batch
 * fails this try with a message, and the coordinator sees it like any failed try. */
static void worker_batch(prs_worker *w, const prs_dispatch_msg *m, prs_done_msg *done) {
    prs_out *out = worker_take_out(w);
    prs_batch batch = {.id = m->batch_id, .attempt = m->attempt, .count = 0, .items = NULL};
    out->batch = &batch;
    done->run_rc = 0;
    int rc = worker_scratch(w, m->item_count);
    if (rc == 0) rc = prs_queue_reader_begin(w->reader);
    if (rc) {
        out_error(out, "-", "prs could not prepare the batch: %s", strerror(-rc));
        done->run_rc = rc;
        return;
    }
    rc = prs_queue_reader_items(w->reader, m->first_item, m->item_count, w->views, w->view_sizes);
    if (rc) {
        out_error(out, "-", "prs could not read the batch's items from the queue: %s",
                  strerror(-rc));
        done->run_rc = rc;
        goto end_reader;
    }
    size_t used = 0;
    uint32_t n = 0;
    for (uint32_t i = 0; i < m->item_count; i++) {
        const char *name = w->views[i]; /* stored with its NUL */
        size_t size = 0;
        w->offsets[i] = used;
        rc = worker_read_file(w, name, &w->offsets[i], &size);
        if (rc) {
            /* Not handed to run(): it produces no row, so it counts as a failed item. */
            out_error(out, name, "cannot read input file: %s", strerror(-rc));
            done->unreadable++;
            w->view_sizes[i] = SIZE_MAX;
            continue;
        }
        w->view_sizes[i] = size;
        used += size + 1;
    }
    for (uint32_t i = 0; i < m->item_count; i++) {
        if (w->view_sizes[i] == SIZE_MAX) continue;
        w->items[n++] = (prs_item){.name = w->views[i],
                                   .data = w->data + w->offsets[i],
                                   .size = w->view_sizes[i]};
    }
    batch.count = n;
    batch.items = w->items; /* after worker_scratch: it may have moved the array */
    prs_scoreboard_slot *slot = &w->shared->scoreboard->slot[w->id];
    atomic_store(&w->cancel, false);
    prs_scoreboard_begin(slot, m->batch_id, m->attempt, m->first_item, m->item_count);
    prs_crash_set_batch(&batch);
    uint64_t run_start_ns = worker_clock_ns(CLOCK_MONOTONIC);
    done->run_rc = w->shared->entry->run(&w->ctx, &batch, out);
    done->run_ns = worker_clock_ns(CLOCK_MONOTONIC) - run_start_ns;
    worker_side_end(w);
    prs_crash_set_batch(NULL);
    prs_scoreboard_end(slot);
    done->timed_out = atomic_load(&w->cancel);
    if (done->run_rc < 0) {
        out_error(out, "-", "run() returned %d: the batch failed this try", done->run_rc);
    }
end_reader:
    prs_queue_reader_end(w->reader);
}

static void *worker_main(void *arg) {
    prs_worker *w = arg;
    const prs_workers_shared *sh = w->shared;
    worker_pin(w);
    worker_arena();
    /* Without its alternate stack a crash still leaves evidence, unless it overflowed. */
    bool crash_ready = prs_crash_thread_enter((int)w->id, &sh->scoreboard->slot[w->id]) == 0;
    prs_done_msg init = {.kind = PRS_DONE_INIT, .worker = w->id, .init_ok = true};
    if (sh->entry->init) {
        int rc = sh->entry->init(&w->ctx, sh->argc, sh->argv);
        worker_side_end(w);
        init.init_ok = rc == 0;
        init.run_rc = rc;
    }
    prs_chan_push(sh->done, &init);
    /* A worker whose init failed takes no batch and needs no stop message: the dispatch
     * channel is shared, so it must not pop from it at all. */
    while (init.init_ok) {
        prs_dispatch_msg m;
        prs_chan_pop(sh->dispatch, &m);
        if (m.stop) break;
        prs_done_msg done = {.kind = PRS_DONE_BATCH, .worker = w->id, .batch = m,
                             .out_index = w->out_current};
        done.start_realtime_ns = worker_clock_ns(CLOCK_REALTIME);
        uint64_t start_ns = worker_clock_ns(CLOCK_MONOTONIC);
        uint64_t cpu_start_ns = worker_clock_ns(CLOCK_THREAD_CPUTIME_ID);
        worker_batch(w, &m, &done);
        done.elapsed_ns = worker_clock_ns(CLOCK_MONOTONIC) - start_ns;
        done.cpu_ns = worker_clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu_start_ns;
        done.tid = (int32_t)gettid();
        done.cpu = sched_getcpu();
        atomic_store(&w->out_busy[w->out_current], true);
        w->out_current = (w->out_current + 1) % PRS_WORKER_OUTS;
        prs_chan_push(sh->done, &done);
    }
    if (init.init_ok && sh->entry->shutdown) {
        sh->entry->shutdown(&w->ctx);
        worker_side_end(w);
    }
    if (crash_ready) prs_crash_thread_leave();
    return NULL;
}

int prs_worker_start(prs_worker *w, uint32_t id, int cpu, const prs_workers_shared *shared) {
    memset(w, 0, sizeof(*w));
    w->id = id;
    w->cpu = cpu;
    w->shared = shared;
    w->ctx.worker = w;
    pthread_mutex_init(&w->out_lock, NULL);
    pthread_cond_init(&w->out_freed, NULL);
    w->side_last_table = -1;
    int rc = prs_queue_reader_open(shared->queue, &w->reader);
    if (rc) return rc;
    if (shared->sidedb) {
        rc = prs_sidedb_reader_open(shared->sidedb, &w->side_reader);
        if (rc) goto close_reader;
    }
    rc = -pthread_create(&w->thread, NULL, worker_main, w);
    if (rc == 0) return 0;
    prs_sidedb_reader_close(w->side_reader);
    w->side_reader = NULL;
close_reader:
    prs_queue_reader_close(w->reader);
    w->reader = NULL;
    return rc;
}

void prs_worker_join(prs_worker *w) {
    pthread_join(w->thread, NULL);
    prs_queue_reader_close(w->reader);
    prs_sidedb_reader_close(w->side_reader);
    for (uint32_t i = 0; i < PRS_WORKER_OUTS; i++) {
        free(w->out[i].rows);
        free(w->out[i].errors);
    }
    free(w->items);
    free(w->views);
    free(w->view_sizes);
    free(w->offsets);
    free(w->data);
    pthread_mutex_destroy(&w->out_lock);
    pthread_cond_destroy(&w->out_freed);
}

void prs_worker_release_out(prs_worker *w, uint32_t out_index) {
    pthread_mutex_lock(&w->out_lock);
    atomic_store(&w->out_busy[out_index], false);
    pthread_cond_signal(&w->out_freed);
    pthread_mutex_unlock(&w->out_lock);
}
