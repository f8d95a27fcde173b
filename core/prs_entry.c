/* prs_entry.c -- implements prs_entry.h: the functions an entry script calls (prs_emit,
 * prs_fail_item, prs_log, the context, prs_global and side-input/side-table accessors).
 *
 * Named after the header it implements; core/script.c is what loads a script (dlopen).
 * Owns: nothing; every call acts on the prs_out, prs_ctx or prs_global it is given.
 * May call: core/worker (the worker behind a ctx), core/crash (which batch the calling thread
 *   runs: an out is refused outside the prs_run it was handed to), core/joblog (user log
 *   lines), core/side and
 * storage/sidedb (lookups). Also the prs_out helpers the worker uses itself (declared in worker.h):
 * worker.o refers to them, which is what pulls this object, and so the API, out of libprs.a.
 * Threads: the worker thread running the callback that was handed the ctx or out;
 *   prs_global_* in prs_global_init/prs_global_shutdown (the coordinator thread). */
#include "prs_entry.h"

#include "crash.h"
#include "worker_impl.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

/* Grows *buf to hold need bytes. Doubling keeps a warm worker from allocating again. */
int prs_entry_grow(char **buf, size_t *cap, size_t need) {
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

void prs_entry_out_error_v(prs_out *out, const char *item, const char *fmt, va_list ap) {
    char line[1024];
    int n = snprintf(line, sizeof(line),
                     "batch %llu attempt %u item %s: ", (unsigned long long)out->batch->id,
                     out->batch->attempt, item);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2) len = sizeof(line) - 2;
    for (size_t i = 0; i < len; i++) {
        if (line[i] == '\n') line[i] = ' '; /* one error, one line */
    }
    line[len++] = '\n';
    if (prs_entry_grow(&out->errors, &out->errors_cap, out->errors_len + len) != 0) return;
    memcpy(out->errors + out->errors_len, line, len);
    out->errors_len += len;
}

/* Whether out is used by the prs_run it was handed to, on its thread. Otherwise (a thread
 * the script started, still holding out after prs_run returned) the rows would land in
 * whatever batch the out serves by then: refused, said once per process on stderr (which
 * prs captures into logs/user/). The caller's own batch is read first: a foreign thread is
 * refused without reading out, which the worker may be rewriting. */
static bool out_in_its_run(const prs_out *out) {
    const prs_batch *mine = prs_crash_thread_batch();
    if (mine && mine == out->batch) return true;
    static atomic_bool said;
    if (!atomic_exchange(&said, true)) {
        static const char msg[] =
            "prs: prs_emit/prs_fail_item/prs_fail_batch called outside the prs_run its out was "
            "handed to (after it returned, or from another thread): refused with -EPERM; emit "
            "rows from prs_run's own thread before it returns (said once)\n";
        ssize_t ignored = write(STDERR_FILENO, msg, sizeof(msg) - 1);
        (void)ignored;
    }
    return false;
}

/* A row holding a newline before its end: refused, as a failed item (rows come in item
 * order: the one past the last row or failed item) whose error says why. One row is one
 * line of the output: a reader splitting lines, a row count, `prs merge` depend on it. */
static int emit_refuse_newline(prs_out *out, const char *row, const char *nl) {
    const prs_batch *b = out->batch;
    uint32_t item = out->progress;
    prs_out_error(out, b && item < b->count ? b->items[item].name : "-",
                  "prs_emit: the row holds a newline at byte %zu: refused (one row is one "
                  "line of the output; escape it, or write a DataFrame with --row-format "
                  "jsonl)",
                  (size_t)(nl - row));
    if (b && item < b->count) out->progress = item + 1;
    return -EINVAL;
}

int prs_emit(prs_out *out, const void *row, size_t len) {
    /* rows_len + len + 1 must not wrap (len = SIZE_MAX wraps to exactly rows_len), and no
     * object is longer than PTRDIFF_MAX: row + len - 1 below must stay a valid pointer. */
    if (!out_in_its_run(out)) return -EPERM;
    if (len >= SIZE_MAX - out->rows_len || len > PTRDIFF_MAX) return -ENOMEM;
    const char *nl = len > 1 ? memchr(row, '\n', len - 1) : NULL;
    if (nl) return emit_refuse_newline(out, row, nl);
    bool newline = len > 0 && ((const char *)row)[len - 1] == '\n';
    size_t need = out->rows_len + len + (newline ? 0 : 1);
    if (need < out->rows_len || prs_entry_grow(&out->rows, &out->rows_cap, need) != 0)
        return -ENOMEM;
    if (len) memcpy(out->rows + out->rows_len, row, len);
    out->rows_len += len;
    if (!newline) out->rows[out->rows_len++] = '\n';
    out->row_count++;
    if (out->row_count > out->progress)
        out->progress = (uint32_t)PRS_MIN(out->row_count, UINT32_MAX);
    return 0;
}

int prs_fail_item(prs_out *out, uint32_t index, const char *fmt, ...) {
    if (!out_in_its_run(out)) return -EPERM;
    if (!out->batch || index >= out->batch->count) return -EINVAL;
    va_list ap;
    va_start(ap, fmt);
    prs_entry_out_error_v(out, out->batch->items[index].name, fmt, ap);
    va_end(ap);
    if (index + 1 > out->progress) out->progress = index + 1;
    return 0;
}

int prs_fail_batch(prs_out *out, const char *fmt, ...) {
    if (!out_in_its_run(out) || out->fail_reason[0]) return -1;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out->fail_reason, sizeof(out->fail_reason), fmt, ap);
    va_end(ap);
    if (n <= 0) snprintf(out->fail_reason, sizeof(out->fail_reason), "(no reason given)");
    for (char *p = out->fail_reason; *p; p++) {
        if (*p == '\n') *p = ' '; /* one error, one line */
    }
    return -1;
}

void prs_log(prs_ctx *ctx, int level, const char *fmt, ...) {
    prs_joblog *log = ctx->worker->shared->log;
    if (!prs_joblog_user_enabled(log, level)) return;
    va_list ap;
    va_start(ap, fmt);
    const prs_batch *b = ctx->worker->running;
    if (b) {
        prs_joblog_user_batch(log, (int)ctx->worker->id, level, b->id, b->attempt, fmt, ap);
    } else {
        prs_joblog_user(log, (int)ctx->worker->id, level, fmt, ap);
    }
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
    int rc = prs_sidedb_get(ctx->worker->side_reader, (uint32_t)t, key, key_len, value, value_len);
    return rc == -EBADMSG ? -EIO : rc; /* prs_entry.h's code for a table that cannot be read */
}

long prs_side_get_many(prs_ctx *ctx, const char *table, size_t n, const void *const *keys,
                       const size_t *key_lens, const void **values, size_t *value_lens,
                       int *found) {
    int t = side_table(ctx, table);
    if (t < 0) return t;
    size_t hits = prs_sidedb_get_many(ctx->worker->side_reader, (uint32_t)t, n, keys, key_lens,
                                      values, value_lens, found);
    for (size_t i = 0; i < n; i++)
        if (found[i] == -EBADMSG) found[i] = -EIO;
    return (long)hits;
}

int prs_side_header(prs_ctx *ctx, const char *table, const void **header, size_t *header_len) {
    int t = side_table(ctx, table);
    if (t < 0) return t;
    return prs_sidedb_header(ctx->worker->side_reader, (uint32_t)t, header, header_len);
}
