/* worker.c -- see worker.h. The entry-script API of prs_entry.h is in prs_entry.c. */
#include "worker_impl.h"
#include "clock.h"
#include "worker_input.h"

#include "crash.h"

#include <sched.h>
#include <time.h>
#include <stdarg.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Weak: the prs binary links jemalloc and gets an arena per worker; an embedder (or a
 * sanitizer build, whose allocator must stay ASan's) without jemalloc simply gets none. */
extern int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
    __attribute__((weak));

void prs_out_error(prs_out *out, const char *item, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    prs_entry_out_error_v(out, item, fmt, ap);
    va_end(ap);
}

/* The batch's own failure line goes first: it is the try's error (the CSV report and the
 * overview show the first line). */
static void out_batch_failed(prs_out *out, int run_rc) {
    size_t before = out->errors_len;
    if (out->fail_reason[0]) {
        prs_out_error(out, "-", "the batch failed this try: %s", out->fail_reason);
    } else {
        prs_out_error(out, "-",
                      "run() returned %d: the batch failed this try (no reason given: "
                      "call prs_fail_batch)",
                      run_rc);
    }
    size_t len = out->errors_len - before;
    if (before == 0 || len == 0) return;
    char line[1100];
    if (len > sizeof(line)) return;
    memcpy(line, out->errors + before, len);
    memmove(out->errors + len, out->errors, before);
    memcpy(out->errors, line, len);
}

/* Views handed out during a callback die with it: the snapshot ends here. */
static void worker_side_end(prs_worker *w) {
    if (w->side_reader) prs_sidedb_reader_end(w->side_reader);
}

/* ---- the worker thread ---------------------------------------------------------------- */

/* A batch as the coordinator pushed it: one of its tries, with items. */
static void worker_check_dispatch(const prs_dispatch_msg *m) {
    PRS_ASSERT(m->attempt >= 1 && m->attempt <= PRS_QUEUE_MAX_ATTEMPTS && m->item_count > 0);
}

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

static prs_out *worker_take_out(prs_worker *w) {
    uint32_t i = w->out_current;
    pthread_mutex_lock(&w->out_lock);
    while (atomic_load(&w->out_busy[i]))
        pthread_cond_wait(&w->out_freed, &w->out_lock);
    pthread_mutex_unlock(&w->out_lock);
    prs_out *out = &w->out[i];
    out->rows_len = 0;
    out->row_count = 0;
    out->errors_len = 0;
    out->header_len = 0;
    out->failure_said = false;
    out->progress = 0;
    out->fail_reason[0] = 0;
    return out;
}

/* The runtime's pid: a process the script forked that returns into prs is not it. */
static _Atomic pid_t worker_runtime_pid;
/* This process's pid, set again in every fork() child by an atfork handler, so the check
 * after each run() needs no getpid system call. (A child made by a raw clone or _Fork
 * runs no atfork handler: such a child returning into prs is not caught.) */
static _Atomic pid_t worker_self_pid;
static pthread_once_t worker_atfork_once = PTHREAD_ONCE_INIT;
static int worker_atfork_rc;

static void worker_atfork_child(void) {
    atomic_store_explicit(&worker_self_pid, getpid(), memory_order_relaxed);
}

static void worker_atfork_register(void) {
    worker_atfork_rc = pthread_atfork(NULL, NULL, worker_atfork_child);
}

/* A child the script forked, returning from its prs_run/init/shutdown into prs: it must
 * not go on as a copy of this worker (the scoreboard, the io_uring ring and the log ring
 * are shared with the runtime). It ends here, touching nothing. */
static void worker_not_forked(void) {
    memory_order r = memory_order_relaxed;
    if (atomic_load_explicit(&worker_self_pid, r) != atomic_load_explicit(&worker_runtime_pid, r))
        _exit(0);
}

/* Runs the batch prepared in slot s; fills done and *end_ns (CLOCK_MONOTONIC when it
 * ended, read once: after run() when it ran). A failure to prepare it is an internal
 * error: the batch fails this try with a message, and the coordinator sees it like any
 * failed try. */
static void worker_batch(prs_worker *w, unsigned s, prs_done_msg *done, uint64_t *end_ns) {
    prs_worker_slot *sl = &w->slot[s];
    const prs_dispatch_msg *m = &sl->m;
    prs_out *out = worker_take_out(w);
    prs_batch batch = {.id = m->batch_id + w->shared->config->batch_id_base,
                       .attempt = m->attempt,
                       .count = 0,
                       .items = NULL};
    out->batch = &batch;
    done->run_rc = 0;
    uint64_t run_end_ns = 0;
    uint32_t n = 0;
    int rc = sl->prep_rc;
    if (rc == 0 && sl->input_rc) {
        /* The input file of a tabular batch is gone or changed: every record fails. */
        prs_out_error(out, sl->names, "cannot read input file: %s%s", strerror(-sl->input_rc),
                      sl->input_rc == -ESTALE ? " (it is shorter than when the job was created)"
                                              : "");
        done->unreadable += m->item_count;
    } else if (rc) {
        prs_out_error(out, "-", "%s: %s", sl->prep_what, strerror(-rc));
        done->run_rc = rc;
        goto release;
    } else {
        rc = prs_worker_input_scratch(w, m->item_count);
        if (rc == 0) {
            rc = prs_worker_input_items(w, s, out, done, &n, &batch);
        }
        if (rc) {
            prs_out_error(out, "-", "prs could not read the batch's inputs: %s%s", strerror(-rc),
                          rc == -ESTALE ? " (an input file changed since the job was created)"
                                        : "");
            done->run_rc = rc;
            goto release;
        }
    }
    batch.count = n;
    batch.items = w->items; /* after prs_worker_input_scratch: it may have moved the array */
    /* A hosted script's dead host starts again here, before the timed window. */
    if (w->shared->entry_ready && (done->run_rc = w->shared->entry_ready(&w->ctx, out)) < 0)
        goto release;
    prs_scoreboard_slot *slot = &w->shared->scoreboard->slot[w->id];
    atomic_store(&w->cancel, false);
    /* Precise: run() deadlines count from it, and run_ns is a duration of microseconds. */
    uint64_t run_start_ns = prs_mono_ns();
    prs_scoreboard_begin(slot, m->batch_id, m->attempt, m->first_item, m->item_count,
                         done->start_realtime_ns / 1000000u, run_start_ns);
    prs_crash_set_progress(&out->progress);
    prs_crash_set_batch(&batch);
    w->running = &batch;
    done->run_rc = w->shared->entry->run(&w->ctx, &batch, out);
    worker_not_forked();
    w->running = NULL;
    run_end_ns = prs_mono_ns();
    done->run_ns = run_end_ns - run_start_ns;
    worker_side_end(w);
    prs_crash_set_batch(NULL);
    prs_scoreboard_end(slot);
    done->timed_out = atomic_load(&w->cancel);
    if (out->fail_reason[0] && done->run_rc >= 0) done->run_rc = -1;
    if (done->run_rc < 0 && !out->failure_said) out_batch_failed(out, done->run_rc);
release:
    prs_worker_input_release(w, s);
    *end_ns = run_end_ns ? run_end_ns : prs_mono_ns();
}

/* The worker's reader, on its own thread (SINGLE_ISSUER). The runtime probed the mode at
 * start; should this ring still fail (a resource limit), the worker reads with syscalls. */
static int worker_open_io(prs_worker *w) {
    char why[PRS_READER_WHY_BYTES];
    int rc = prs_reader_create(&w->io, w->shared->input_root_fd, w->shared->io_mode, 0, why,
                               sizeof(why));
    if (rc && w->shared->io_mode == PRS_IO_URING) {
        rc = prs_reader_create(&w->io, w->shared->input_root_fd, PRS_IO_SYNC, 0, why, sizeof(why));
    }
    return rc;
}

/* Takes the next batch. Time spent waiting for one is no batch's: after a wait the
 * batch's clock (since_ns) starts again. */
static bool worker_take(prs_worker *w, prs_dispatch_msg *m, uint64_t *since_ns) {
    if (prs_chan_pop_many(w->shared->dispatch, m, 1, 0) == 0) {
        prs_chan_pop(w->shared->dispatch, m);
        *since_ns = prs_mono_ns();
    }
    if (m->stop) return false;
    worker_check_dispatch(m);
    return true;
}

/* Runs batches until the stop message. One batch of lookahead: before running the
 * current batch, the worker takes the next one if the coordinator has queued it and
 * starts its reads.
 * Clocks, the hot path's only system calls besides the I/O on a VM without a vDSO clock:
 * a batch's end is the next batch's start, so per batch the worker reads the precise
 * monotonic clock twice (around run()), its thread's CPU clock once and the coarse wall
 * clock once (a stamp in ms). A batch's elapsed and CPU time thus include the worker's
 * own work between batches (taking the next, starting its reads, handing this one in). */
static void worker_loop(prs_worker *w) {
    const prs_workers_shared *sh = w->shared;
    bool have_cur = false, stop_seen = false;
    /* PRS_NO_LOOKAHEAD=1: no batch taken ahead (benchmark hook: shows what overlap buys). */
    const char *no_ahead = getenv("PRS_NO_LOOKAHEAD");
    bool lookahead = !(no_ahead && no_ahead[0] && strcmp(no_ahead, "0") != 0);
    unsigned s = 0;
    uint64_t since_ns = prs_mono_ns(), cpu_since_ns = prs_clock_ns(CLOCK_THREAD_CPUTIME_ID);
    for (;;) {
        prs_dispatch_msg m;
        if (!have_cur) {
            if (!worker_take(w, &m, &since_ns)) break;
            prs_worker_input_prepare(w, s, &m);
        }
        bool have_next = false;
        if (lookahead && !stop_seen && prs_chan_pop_many(sh->dispatch, &m, 1, 0) == 1) {
            if (m.stop) {
                stop_seen = true;
            } else {
                worker_check_dispatch(&m);
                prs_worker_input_prepare(w, s ^ 1, &m);
                have_next = true;
            }
        }
        prs_done_msg done = {.kind = PRS_DONE_BATCH,
                             .worker = w->id,
                             .batch = w->slot[s].m,
                             .out_index = w->out_current,
                             .start_realtime_ns = prs_wall_coarse_ns(),
                             .tid = w->tid};
        uint64_t end_ns;
        worker_batch(w, s, &done, &end_ns);
        uint64_t cpu_ns = prs_clock_ns(CLOCK_THREAD_CPUTIME_ID);
        done.elapsed_ns = end_ns - since_ns;
        done.cpu_ns = cpu_ns - cpu_since_ns;
        since_ns = end_ns;
        cpu_since_ns = cpu_ns;
        done.cpu = sched_getcpu();
        atomic_store(&w->out_busy[w->out_current], true);
        w->out_current = (w->out_current + 1) % PRS_WORKER_OUTS;
        PRS_ASSERT(done.worker == w->id && done.out_index < PRS_WORKER_OUTS);
        PRS_ASSERT(done.batch.item_count > 0 && done.batch.attempt >= 1);
        prs_chan_push(sh->done, &done);
        have_cur = have_next;
        s ^= have_next ? 1u : 0u;
        if (!have_cur && stop_seen) break;
    }
}

static void *worker_main(void *arg) {
    prs_worker *w = arg;
    const prs_workers_shared *sh = w->shared;
    w->tid = (int)syscall(SYS_gettid);
    w->started_unix_ms = prs_wall_ms();
    worker_pin(w);
    worker_arena();
    /* Without its alternate stack a crash still leaves evidence, unless it overflowed. */
    bool crash_ready = prs_crash_thread_enter((int)w->id, &sh->scoreboard->slot[w->id]) == 0;
    prs_done_msg init = {.kind = PRS_DONE_INIT, .worker = w->id, .init_ok = true};
    int io_rc = worker_open_io(w);
    if (io_rc) {
        init.init_ok = false;
        init.run_rc = io_rc;
    } else if (sh->entry->init) {
        int rc = sh->entry->init(&w->ctx, sh->argc, sh->argv);
        worker_not_forked();
        worker_side_end(w);
        init.init_ok = rc == 0;
        init.run_rc = rc;
    }
    w->init_ok = init.init_ok;
    prs_chan_push(sh->done, &init);
    /* A worker whose init failed takes no batch and needs no stop message: the dispatch
     * channel is shared, so it must not pop from it at all. */
    if (init.init_ok) worker_loop(w);
    if (init.init_ok && sh->entry->shutdown) {
        sh->entry->shutdown(&w->ctx);
        worker_not_forked();
        worker_side_end(w);
    }
    for (unsigned i = 0; i < PRS_READER_SLOTS; i++)
        prs_worker_input_release(w, i);
    prs_reader_destroy(w->io);
    w->io = NULL;
    if (crash_ready) prs_crash_thread_leave();
    w->ended_unix_ms = prs_wall_ms();
    return NULL;
}

/* --partition-keys "a,b" into the names a batch's values go with (checked by the config:
 * at most PRS_PARTITION_MAX_KEYS; the queue's records say how many each batch has). */
static void worker_split_keys(prs_worker *w, const char *keys) {
    if (!keys) return;
    snprintf(w->pkey_names, sizeof(w->pkey_names), "%s", keys);
    for (char *save = NULL, *k = strtok_r(w->pkey_names, ",", &save);
         k && w->pkey_count < PRS_PARTITION_MAX_KEYS; k = strtok_r(NULL, ",", &save))
        w->pkeys[w->pkey_count++] = k;
}

static int worker_start(prs_worker *w, uint32_t id, int cpu, const prs_workers_shared *shared) {
    memset(w, 0, sizeof(*w));
    pthread_once(&worker_atfork_once, worker_atfork_register);
    if (worker_atfork_rc) return -worker_atfork_rc;
    pid_t pid = getpid();
    atomic_store_explicit(&worker_runtime_pid, pid, memory_order_relaxed);
    atomic_store_explicit(&worker_self_pid, pid, memory_order_relaxed);
    w->id = id;
    w->cpu = cpu;
    w->shared = shared;
    w->ctx.worker = w;
    pthread_mutex_init(&w->out_lock, NULL);
    pthread_cond_init(&w->out_freed, NULL);
    w->side_last_table = -1;
    worker_split_keys(w, shared->config->partition_keys);
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

static void worker_free(prs_worker *w);

void prs_worker_join(prs_worker *w) {
    pthread_join(w->thread, NULL);
    worker_free(w);
}

int prs_worker_join_by(prs_worker *w, const struct timespec *deadline) {
    int rc = pthread_timedjoin_np(w->thread, NULL, deadline);
    if (rc) return -rc;
    worker_free(w);
    return 0;
}

static void worker_free(prs_worker *w) {
    prs_queue_reader_close(w->reader);
    prs_sidedb_reader_close(w->side_reader);
    for (uint32_t i = 0; i < PRS_WORKER_OUTS; i++) {
        free(w->out[i].rows);
        free(w->out[i].errors);
        free(w->out[i].header);
    }
    free(w->items);
    free(w->views);
    free(w->view_sizes);
    free(w->offsets);
    free(w->data);
    for (unsigned i = 0; i < PRS_READER_SLOTS; i++) {
        free(w->slot[i].names);
        free(w->slot[i].name_off);
        free(w->slot[i].paths);
    }
    pthread_mutex_destroy(&w->out_lock);
    pthread_cond_destroy(&w->out_freed);
}

const prs_out *prs_worker_out(const prs_worker *w, uint32_t out_index) {
    PRS_ASSERT(out_index < PRS_WORKER_OUTS && atomic_load(&w->out_busy[out_index]));
    return &w->out[out_index];
}

void prs_worker_cancel(prs_worker *w) {
    atomic_store(&w->cancel, true);
}

pthread_t prs_worker_thread(const prs_worker *w) {
    return w->thread;
}

void prs_worker_process_row(const prs_worker *w, const char *logs_dir) {
    char role[32];
    snprintf(role, sizeof(role), "worker-%u", w->id);
    prs_joblog_process_row(logs_dir, (int)getpid(), w->tid, role, w->cpu, w->started_unix_ms,
                           w->ended_unix_ms, w->init_ok ? 0 : 1, 0);
}

void prs_worker_release_out(prs_worker *w, uint32_t out_index) {
    PRS_ASSERT(out_index < PRS_WORKER_OUTS);
    PRS_ASSERT(atomic_load(&w->out_busy[out_index])); /* handed over, not yet back */
    pthread_mutex_lock(&w->out_lock);
    atomic_store(&w->out_busy[out_index], false);
    pthread_cond_signal(&w->out_freed);
    pthread_mutex_unlock(&w->out_lock);
}

/* ---- the set of a job's workers ------------------------------------------------------- */

struct prs_workers {
    uint32_t count, started;
    prs_worker w[];
};

uint32_t prs_workers_cpus(int *cpu_ids, uint32_t cap) {
    PRS_ASSERT(cap >= 1);
    cpu_set_t set;
    uint32_t n = 0;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        for (int c = 0; c < CPU_SETSIZE && n < cap; c++) {
            if (CPU_ISSET(c, &set)) cpu_ids[n++] = c;
        }
    }
    if (n == 0) {
        cpu_ids[0] = -1;
        n = 1;
    }
    FILE *f = fopen("/sys/fs/cgroup/cpu.max", "re");
    if (f) {
        char quota[32];
        unsigned long long period;
        if (fscanf(f, "%31s %llu", quota, &period) == 2 && strcmp(quota, "max") != 0 && period) {
            unsigned long long q = strtoull(quota, NULL, 10);
            uint32_t limit = (uint32_t)PRS_MAX(1ull, (q + period - 1) / period);
            n = PRS_MIN(n, limit);
        }
        fclose(f);
    }
    return n;
}

int prs_workers_start(prs_workers **out, uint32_t count, const int *cpus, uint32_t ncpu,
                      const prs_workers_shared *shared) {
    PRS_ASSERT(count >= 1 && count <= PRS_MAX_WORKERS && ncpu >= 1);
    prs_workers *ws = calloc(1, sizeof(*ws) + count * sizeof(ws->w[0]));
    *out = ws;
    if (!ws) return -ENOMEM;
    ws->count = count;
    for (uint32_t i = 0; i < count; i++) {
        int rc = worker_start(&ws->w[i], i, cpus[i % ncpu], shared);
        if (rc) return rc;
        ws->started++;
    }
    return 0;
}

uint32_t prs_workers_started(const prs_workers *ws) {
    return ws ? ws->started : 0;
}

prs_worker *prs_workers_get(prs_workers *ws, uint32_t index) {
    PRS_ASSERT(ws && index < ws->started);
    return &ws->w[index];
}

void prs_workers_free(prs_workers *ws) {
    free(ws);
}
