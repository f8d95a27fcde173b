/* coord.c -- see coord.h. */
#include "coord.h"

#include "clock.h"
#include "shard.h"
#include "supervisor.h"

#include <stdatomic.h>
#include <string.h>

/* The queue refuses stored attempts above its bound: it must admit every --run-max-try. */
_Static_assert(PRS_QUEUE_MAX_ATTEMPTS == PRS_SCHED_MAX_TRY, "queue and sched try bounds differ");
/* The stored result, "CODE MESSAGE", fits the committer's meta value whole. */
_Static_assert(sizeof(((prs_job_report *)0)->message) + sizeof("-2147483648 ") <=
                   PRS_COMMITTER_META_BYTES,
               "the result message does not fit a meta value");

#define COORD_TICK_MS 100u
#define COORD_DONE_BATCH 512u
#define COORD_GROUP_CAP 8192u              /* batch updates in one commit at most */
#define COORD_COMMIT_EVERY_NS 50000000ull  /* a group is handed over at least this often */
#define COORD_ROWS_FLUSH_BYTES (1u << 20)  /* rows are written in chunks of about this size */
#define COORD_STOP_GRACE_NS 10000000000ull /* after a stop request, running batches get this */

/* Stop requests from signal handlers: a counter, so the second one is seen as such. */
static atomic_uint coord_stop_requests;

void prs_coord_request_stop(void) {
    atomic_fetch_add(&coord_stop_requests, 1);
}

unsigned prs_coord_stop_mark(void) {
    return atomic_load(&coord_stop_requests);
}

void prs_coord_counts(const prs_coord *c, prs_queue_counts *out) {
    *out = c->sched.counts; /* one counts type (core/base/counts.h) */
    out->output_bytes = c->output_bytes;
}

void prs_coord_restore_first_error(prs_coord *c, prs_queue *q) {
    size_t len = 0;
    if (prs_queue_meta_get(q, "first_error", c->first_error, sizeof(c->first_error) - 1, &len) == 0)
        c->first_error[len] = 0; /* from an earlier life of the job */
}

/* ---- rows and group commits ------------------------------------------------------------ */

/* Writes buffered rows: the output must hold every byte a handed-over group covers. */
static int write_rows(prs_coord *c) {
    if (c->rows_len == 0) return 0;
    int rc = prs_outfile_append(c->d.out, c->rows, c->rows_len);
    c->rows_len = 0;
    return rc;
}

static int buffer_rows(prs_coord *c, const char *rows, size_t len) {
    if (c->rows_len + len > c->rows_cap) {
        int rc = write_rows(c);
        if (rc) return rc;
        if (len > c->rows_cap) return prs_outfile_append(c->d.out, rows, len);
    }
    memcpy(c->rows + c->rows_len, rows, len);
    c->rows_len += len;
    return 0;
}

/* Hands the current group to the committer (waiting for the previous one if asked), with
 * the first error when it is new, or the meta value given. */
static int commit(prs_coord *c, bool wait, const char *meta_key, const void *meta_val,
                  size_t meta_len) {
    int rc = write_rows(c);
    if (rc) return rc;
    prs_joblog_flush_reports(c->d.log); /* a crash keeps the lines of committed tries */
    prs_queue_counts counts;
    prs_coord_counts(c, &counts);
    bool first_error = !meta_key && c->first_error_new;
    if (first_error) {
        meta_key = "first_error";
        meta_val = c->first_error;
        meta_len = strlen(c->first_error);
    }
    rc = prs_committer_flush(c->committer, &counts, meta_key, meta_val, meta_len, wait);
    if (rc == 0) {
        atomic_fetch_add(&c->d.scoreboard->progress, 1);
        c->last_flush_ns = prs_mono_coarse_ns();
        if (first_error) c->first_error_new = false;
    }
    return rc;
}

static int maybe_commit(prs_coord *c) {
    uint32_t pending = prs_committer_pending(c->committer);
    if (pending == 0) return 0;
    bool full = pending == COORD_GROUP_CAP;
    /* Coarse (a tick of a few ms) is enough against 50 ms, and costs no system call. */
    if (!full && prs_mono_coarse_ns() - c->last_flush_ns < COORD_COMMIT_EVERY_NS) return 0;
    int rc = commit(c, full, NULL, NULL, 0);
    return rc == -EBUSY ? 0 : rc; /* busy: keep filling this group */
}

/* Adds one batch update to the group; a full group is handed over first, after which the
 * new, empty group always takes it. Returns commit's error. */
static int add_update(prs_coord *c, const prs_batch_update *up) {
    /* The record this coordinator built: a state, items, rows within them. */
    PRS_ASSERT(up->rec.state <= PRS_BATCH_FAILED && up->rec.item_count > 0);
    PRS_ASSERT(up->rec.succeeded <= up->rec.item_count);
    PRS_ASSERT(up->rec.attempts <= c->d.cfg->run_max_try);
    if (prs_committer_add(c->committer, up)) return 0;
    int rc = commit(c, true, NULL, NULL, 0);
    if (rc) return rc;
    bool added = prs_committer_add(c->committer, up);
    PRS_ASSERT(added); /* a group was just handed over: this one is empty */
    return 0;
}

/* --keep-order's writer (core/keeporder.h): rows into the buffer, counted. */
static int order_write(void *arg, const void *rows, size_t len) {
    prs_coord *c = arg;
    c->output_bytes += len;
    return buffer_rows(c, rows, len);
}

static int order_flush(void *arg) {
    return commit(arg, true, NULL, NULL, 0);
}

/* Before a verdict changes the scheduler's counts: a group handed over between the verdict
 * and its update would commit the counts (and rows) of a batch the store still holds as
 * pending, which a crash then runs again. held_bytes: rows --keep-order may hold. */
static int make_room(prs_coord *c, size_t held_bytes) {
    if (prs_committer_has_room(c->committer, c->keep_order ? held_bytes : 0)) return 0;
    return commit(c, true, NULL, NULL, 0);
}

/* A finished batch's update, and its rows in order when --keep-order holds them back. */
static int add_finished(prs_coord *c, const prs_batch_update *up, const prs_out *out) {
    if (!c->keep_order || up->rec.state == PRS_BATCH_PENDING) return add_update(c, up);
    bool rows = out && up->rec.state == PRS_BATCH_DONE;
    return prs_keeporder_finish(&c->order, up, rows ? out->rows : NULL, rows ? out->rows_len : 0);
}

/* ---- errors ---------------------------------------------------------------------------- */

/* The first line of errors becomes the job's first error, if it has none yet. */
static void note_first_error(prs_coord *c, const char *errors, size_t len) {
    if (c->first_error[0] || len == 0) return;
    const char *nl = memchr(errors, '\n', len);
    size_t n = nl ? (size_t)(nl - errors) : len;
    snprintf(c->first_error, sizeof(c->first_error), "%.*s", (int)n, errors);
    c->first_error_new = true;
}

#define COORD_ERROR_LINE(c, to_master, ...)                                                        \
    do {                                                                                           \
        if (prs_jobreport_error_line((c)->d.rep, to_master, (c)->first_error,                      \
                                     sizeof((c)->first_error), __VA_ARGS__))                       \
            (c)->first_error_new = true;                                                           \
    } while (0)

static void note_init_failure(prs_coord *c, const prs_done_msg *m) {
    COORD_ERROR_LINE(c, true, "worker %u: init() returned %d: this worker takes no batches",
                     m->worker, m->run_rc);
}

/* ---- completions ----------------------------------------------------------------------- */

/* "batch B try A failed (why); ..." in master.txt. Why: the try's first error line (the
 * batch's own failure comes first). */
static void log_failed_try(prs_coord *c, const prs_out *out, enum prs_verdict v,
                           const prs_ticket *fin) {
    int why_len = 0;
    const char *why = out->errors_len ? memmem(out->errors, out->errors_len, " item -: ", 9) : NULL;
    if (why) {
        why += 9;
        const char *nl = memchr(why, '\n', (size_t)(out->errors + out->errors_len - why));
        why_len = nl ? (int)(nl - why) : 0;
    }
    prs_joblog_master(
        c->d.log, "batch %llu try %u failed%s%.*s%s; %s", (unsigned long long)fin->batch_id,
        fin->attempt, why_len ? " (" : "", why_len, why_len ? why : "", why_len ? ")" : "",
        v == PRS_VERDICT_FAILED ? "no tries left: the batch failed" : "it will be retried");
}

/* The store's record of a finished try, and the rows of a DONE batch into the buffer.
 * Returns 0 or the error of writing the output. */
static int record_verdict(prs_coord *c, const prs_done_msg *m, const prs_out *out,
                          enum prs_verdict v, const prs_ticket *fin, prs_batch_rec *rec) {
    *rec = (prs_batch_rec){.state = PRS_BATCH_PENDING,
                           .attempts = fin->attempt,
                           .first_item = m->batch.first_item,
                           .item_count = fin->item_count};
    if (v == PRS_VERDICT_DONE) {
        rec->state = PRS_BATCH_DONE;
        rec->attempts = fin->attempt - 1; /* tries spent failing before this one */
        rec->succeeded = (uint32_t)PRS_MIN(out->row_count, (uint64_t)fin->item_count);
        bool append = c->d.cfg->output_action == PRS_OUTPUT_APPEND_ROW;
        if (append && out->header_len && c->output_bytes == 0) {
            /* A DataFrame header (--append-row-dataframe-header): once, as line one. */
            int rc = buffer_rows(c, out->header, out->header_len);
            if (rc == 0) rc = buffer_rows(c, "\n", 1);
            if (rc) return rc;
            c->output_bytes += out->header_len + 1;
        }
        if (append && out->rows_len && !c->keep_order) { /* else add_finished writes them */
            int rc = buffer_rows(c, out->rows, out->rows_len);
            if (rc) return rc;
            c->output_bytes += out->rows_len;
        }
    } else {
        if (v == PRS_VERDICT_FAILED) rec->state = PRS_BATCH_FAILED;
        log_failed_try(c, out, v, fin);
    }
    return 0;
}

/* One completion. Returns 0 or a negative error from writing the output or committing. */
static int complete(prs_coord *c, const prs_done_msg *m) {
    PRS_ASSERT(m->worker < prs_workers_started(c->workers));
    if (m->kind == PRS_DONE_INIT) {
        prs_sched_worker_init(&c->sched, m->init_ok);
        if (!m->init_ok) note_init_failure(c, m);
        return 0;
    }
    PRS_ASSERT(m->kind == PRS_DONE_BATCH);
    /* As pushed (dispatch): a started batch of the scheduler, one of its tries. */
    PRS_ASSERT(m->out_index < PRS_WORKER_OUTS);
    PRS_ASSERT(m->batch.attempt >= 1 && m->batch.attempt <= c->d.cfg->run_max_try);
    PRS_ASSERT(m->batch.item_count > 0 && !m->batch.stop);
    PRS_ASSERT(prs_sched_has(&c->sched, m->batch.batch_id));
    /* That try is over: a retry of the same batch on the same worker needs its own cancel
     * (the worker clears its flag when a batch starts). */
    if (c->cancelled[m->worker] == m->batch.batch_id + 1) c->cancelled[m->worker] = 0;
    prs_worker *w = prs_workers_get(c->workers, m->worker);
    const prs_out *out = prs_worker_out(w, m->out_index);
    enum prs_outcome outcome = m->timed_out    ? PRS_OUTCOME_TIMEOUT
                               : m->run_rc < 0 ? PRS_OUTCOME_ERROR
                                               : PRS_OUTCOME_OK;
    if (m->timed_out) {
        COORD_ERROR_LINE(c, false,
                         "batch %llu attempt %u item -: run() passed --run-invocation-timeout "
                         "(%llu ms) and was cancelled",
                         (unsigned long long)m->batch.batch_id, m->batch.attempt,
                         (unsigned long long)c->d.cfg->run_invocation_timeout_ms);
    }
    /* A failed hand-over is sticky: nothing more commits, the verdict still ends the try. */
    int room_rc = make_room(c, out->rows_len);
    prs_ticket fin;
    enum prs_verdict v =
        prs_sched_complete(&c->sched, m->batch.batch_id, outcome, out->row_count, &fin);
    if (out->errors_len) {
        prs_joblog_errors(c->d.log, out->errors, out->errors_len);
        note_first_error(c, out->errors, out->errors_len);
    }
    if (outcome == PRS_OUTCOME_OK && out->row_count > fin.item_count) {
        prs_joblog_master(c->d.log, "warning: batch %llu emitted %llu rows for %u items",
                          (unsigned long long)fin.batch_id, (unsigned long long)out->row_count,
                          fin.item_count);
    }
    prs_batch_rec rec;
    int rc = record_verdict(c, m, out, v, &fin, &rec);
    prs_jobreport_batch(c->d.rep, m, out, outcome, rec.state == PRS_BATCH_DONE ? rec.succeeded : 0);
    prs_batch_update up = {.batch_id = fin.batch_id, .rec = rec};
    int arc = add_finished(c, &up, c->d.cfg->output_action == PRS_OUTPUT_APPEND_ROW ? out : NULL);
    prs_worker_release_out(w, m->out_index);
    return arc ? arc : rc ? rc : room_rc;
}

/* ---- dispatch -------------------------------------------------------------------------- */

/* The next pending batch from the store, reading a window at a time. -ENOENT: none left. */
static int next_pending(prs_coord *c, uint64_t *id, prs_batch_rec *rec) {
    while (c->pend_next == c->pend_len) {
        /* Each read advances the cursor past the window it looked at (asserted): -EAGAIN
         * (a window of finished batches) ends when the cursor passes the last batch. */
        uint64_t before = c->cursor;
        int rc = prs_queue_reader_begin(c->reader);
        if (rc) return rc;
        rc = prs_queue_reader_pending(c->reader, &c->cursor, c->pend_ids, c->pend_recs,
                                      PRS_COORD_PENDING_WINDOW);
        prs_queue_reader_end(c->reader);
        if (rc == -EAGAIN) {
            PRS_ASSERT(c->cursor > before);
            continue;
        }
        if (rc < 0) return rc;
        if (rc == 0) return -ENOENT;
        PRS_ASSERT((uint32_t)rc <= PRS_COORD_PENDING_WINDOW);
        c->pend_len = (uint32_t)rc;
        c->pend_next = 0;
    }
    *id = c->pend_ids[c->pend_next];
    *rec = c->pend_recs[c->pend_next];
    c->pend_next++;
    return 0;
}

/* Starts every batch the scheduler picks. Returns 0 or a queue read error. */
static int dispatch(prs_coord *c) {
    for (;;) {
        prs_ticket t;
        prs_dispatch_msg m = {0};
        enum prs_pick pick = prs_sched_next(&c->sched, &t);
        if (pick == PRS_PICK_WAIT || pick == PRS_PICK_END) return 0;
        prs_batch_rec rec;
        if (pick == PRS_PICK_NEW) {
            uint64_t id;
            int rc = next_pending(c, &id, &rec);
            if (rc == -ENOENT) {
                prs_sched_store_exhausted(&c->sched);
                continue;
            }
            if (rc) return rc;
            if (c->keep_order && !prs_keeporder_admits(&c->order, id)) {
                c->pend_next--; /* past the reorder window: it starts once next is written */
                return 0;
            }
            if (rec.attempts >= c->d.cfg->run_max_try) {
                /* Tries spent in an earlier run with a larger --run-max-try: give it one. */
                rec.attempts = c->d.cfg->run_max_try - 1;
            }
            t = (prs_ticket){
                .batch_id = id, .attempt = rec.attempts + 1, .item_count = rec.item_count};
        } else {
            int rc = prs_queue_reader_get(c->reader, t.batch_id, &rec);
            if (rc) return rc;
        }
        m.first_item = rec.first_item;
        prs_sched_start(&c->sched, &t, prs_mono_ns() / 1000000u);
        m.batch_id = t.batch_id;
        m.attempt = t.attempt;
        m.item_count = t.item_count;
        /* Records read back are validated (item_count > 0); attempts are capped above. */
        PRS_ASSERT(m.attempt >= 1 && m.attempt <= c->d.cfg->run_max_try && m.item_count > 0);
        prs_chan_push(&c->dispatch, &m);
    }
}

/* Batches waiting in the dispatch queue go back to pending without a try spent. */
static void take_back_queued(prs_coord *c) {
    prs_dispatch_msg m;
    while (prs_chan_pop_many(&c->dispatch, &m, 1, 0) == 1) {
        if (!m.stop) prs_sched_unstart(&c->sched, m.batch_id);
    }
}

/* Ends a supervised runtime now: what is committed stays, running batches are not charged
 * (their scoreboard slots say RUNNING), the supervisor restarts or reports. */
__attribute__((noreturn)) static void abandon(prs_coord *c, int code) {
    prs_dispatch_msg unused;
    while (prs_chan_pop_many(&c->dispatch, &unused, 1, 0) == 1) {
    }
    int rc = commit(c, true, NULL, NULL, 0);
    if (rc == 0) rc = prs_committer_drain(c->committer);
    if (rc) prs_joblog_master(c->d.log, "could not commit before restarting: %s", strerror(-rc));
    prs_jobreport_overview(c->d.rep, &c->sched, c->output_bytes, c->first_error,
                           code == PRS_EXIT_RESTART ? "RESTARTING" : "STOPPED");
    prs_joblog_master(c->d.log, "runtime exits with code %d%s", code,
                      code == PRS_EXIT_RESTART ? ": the supervisor restarts it" : "");
    /* _exit skips every cleanup: the log ring and the coordinator's files reach disk
     * first (bounded: a stuck flusher does not hold the restart). */
    prs_joblog_sync(c->d.log);
    prs_joblog_flush(c->d.log, 2000);
    /* threads stuck in user code cannot be joined: end the process */
    prs_supervisor_exit(code, c->d.rep->report);
}

/* ---- watching: stop requests and deadlines ---------------------------------------------- */

/* The worker running batch id, or -1. */
static int worker_of(const prs_coord *c, uint64_t id) {
    uint32_t n = prs_workers_started(c->workers);
    for (uint32_t w = 0; w < n; w++) {
        const prs_scoreboard_slot *slot = &c->d.scoreboard->slot[w];
        if (atomic_load(&slot->state) == PRS_SLOT_RUNNING && atomic_load(&slot->batch_id) == id)
            return (int)w;
    }
    return -1;
}

static void watch_stop(prs_coord *c, uint64_t t) {
    unsigned req = atomic_load(&coord_stop_requests) - c->stop_base;
    if (req > c->stop_seen) {
        if (c->stop_seen == 0) {
            prs_sched_stop(&c->sched);
            take_back_queued(c);
            c->stop_ns = t;
            prs_joblog_master(c->d.log,
                              "stop requested: no more batches start; running ones may "
                              "finish for %llu s (a second request stops at once)",
                              COORD_STOP_GRACE_NS / 1000000000ull);
        }
        c->stop_seen = req;
    }
    bool stop_now = c->stop_seen >= 2 || (c->stop_seen && t - c->stop_ns > COORD_STOP_GRACE_NS);
    if (stop_now && c->sched.in_flight > 0 && c->d.cfg->supervised) abandon(c, PRS_EXIT_STOPPED);
}

/* Deadlines count from run()'s start: re-arm every running batch, cancel expired ones. */
static void watch_deadlines(prs_coord *c, uint64_t t, uint64_t timeout_ms) {
    uint32_t started = prs_workers_started(c->workers);
    for (uint32_t w = 0; w < started; w++) {
        const prs_scoreboard_slot *slot = &c->d.scoreboard->slot[w];
        if (atomic_load_explicit(&slot->state, memory_order_acquire) != PRS_SLOT_RUNNING) continue;
        uint64_t id = atomic_load(&slot->batch_id);
        if (prs_sched_has(&c->sched, id)) {
            prs_sched_running(&c->sched, id, atomic_load(&slot->started_mono_ns) / 1000000u);
        }
    }
    uint64_t ids[16];
    size_t n = prs_sched_expired(&c->sched, t / 1000000u, ids, PRS_ARRAY_LEN(ids));
    for (size_t i = 0; i < n; i++) {
        int w = worker_of(c, ids[i]);
        if (w < 0 || c->cancelled[w] == ids[i] + 1) continue;
        c->cancelled[w] = ids[i] + 1;
        prs_worker_cancel(prs_workers_get(c->workers, (uint32_t)w));
        prs_joblog_master(c->d.log,
                          "batch %llu passed --run-invocation-timeout (%llu ms) on worker %d: "
                          "asked to stop",
                          (unsigned long long)ids[i], (unsigned long long)timeout_ms, w);
    }
}

/* Past a grace period a run() that ignores prs_cancelled is hung: charge its try and
 * restart the runtime, the only way to take a thread back. Supervised only. */
static void watch_hung(prs_coord *c, uint64_t t, uint64_t timeout_ms) {
    uint64_t grace_ms = PRS_MIN(PRS_MAX(timeout_ms / 4, 500u), 10000u);
    if (!c->d.cfg->supervised || t / 1000000u < grace_ms) return;
    uint64_t id;
    if (prs_sched_expired(&c->sched, t / 1000000u - grace_ms, &id, 1) == 0) return;
    prs_batch_rec rec;
    int rc = prs_queue_reader_get(c->reader, id, &rec);
    if (rc) {
        prs_jobreport_fail(c->d.rep, PRS_EXIT_INTERNAL, "queue read failed: %s", strerror(-rc));
        abandon(c, PRS_EXIT_RESTART);
    }
    if ((rc = make_room(c, 0)))
        prs_joblog_master(c->d.log, "cannot commit before batch %llu's timeout: %s",
                          (unsigned long long)id, strerror(-rc));
    prs_ticket fin;
    enum prs_verdict v = prs_sched_complete(&c->sched, id, PRS_OUTCOME_TIMEOUT, 0, &fin);
    rec.attempts = fin.attempt;
    if (v == PRS_VERDICT_FAILED) rec.state = PRS_BATCH_FAILED;
    COORD_ERROR_LINE(c, true,
                     "batch %llu attempt %u item -: run() ignored the cancel %llu ms after "
                     "--run-invocation-timeout; %s; the runtime restarts",
                     (unsigned long long)id, fin.attempt, (unsigned long long)grace_ms,
                     v == PRS_VERDICT_FAILED ? "no tries left: the batch failed"
                                             : "it will be retried");
    prs_batch_update up = {.batch_id = id, .rec = rec};
    rc = add_finished(c, &up, NULL);
    if (rc)
        prs_joblog_master(c->d.log, "cannot record the timeout of batch %llu: %s",
                          (unsigned long long)id, strerror(-rc));
    abandon(c, PRS_EXIT_RESTART);
}

/* Stop requests and run() deadlines, once per tick. */
static void watch(prs_coord *c) {
    uint64_t t = prs_mono_ns();
    watch_stop(c, t);
    uint64_t timeout_ms = c->d.cfg->run_invocation_timeout_ms;
    if (timeout_ms == 0) return;
    watch_deadlines(c, t, timeout_ms);
    watch_hung(c, t, timeout_ms);
}

/* ---- the loop -------------------------------------------------------------------------- */

/* Drains completions (after a short gathering wait); the first output error stops the
 * job. Returns that error, or the one passed in. */
static int drain_done(prs_coord *c, int rc) {
    prs_done_msg msgs[COORD_DONE_BATCH];
    /* Completions gather before the coordinator wakes (fewer context switches): at most
     * half of those in flight, so the other half keeps the workers busy, and at most one
     * worker's result buffers, so a worker waiting for one always wakes it. */
    uint32_t started = prs_workers_started(c->workers);
    uint32_t wake = PRS_MIN(c->sched.in_flight / 2, PRS_WORKER_OUTS / 2 * started);
    prs_chan_set_wake(&c->done, PRS_MAX(PRS_MIN(wake, PRS_WORKER_OUTS), 1u));
    uint32_t n = prs_chan_pop_many(&c->done, msgs, COORD_DONE_BATCH, COORD_TICK_MS);
    for (uint32_t i = 0; i < n; i++) {
        int wrc = complete(c, &msgs[i]);
        if (wrc && !rc) {
            rc = wrc;
            prs_jobreport_fail(c->d.rep, PRS_EXIT_STOPPED,
                               "%s: cannot append rows: %s; the job stops and can be resumed",
                               c->d.rep->output_path, strerror(-wrc));
            prs_sched_stop(&c->sched);
        }
    }
    return rc;
}

/* A group commit when due. Returns 0 or PRS_EXIT_STOPPED (the job stops). */
static int commit_due(prs_coord *c) {
    int crc = maybe_commit(c);
    if (crc == PRS_QUEUE_EMAPFULL && c->d.cfg->supervised) {
        /* Workers read the map: it cannot move under them. A restart reopens it twice as
         * large; what was not committed is redone, uncharged. */
        prs_joblog_master(c->d.log, "%s/data.mdb: job state map full: restarting to grow it",
                          c->d.state_dir);
        abandon(c, PRS_EXIT_RESTART);
    }
    if (crc == 0) return 0;
    prs_jobreport_fail(c->d.rep, PRS_EXIT_STOPPED,
                       "cannot commit progress (%s): the job stops; rerun to resume",
                       crc == PRS_QUEUE_EMAPFULL ? "job state map full; it reopens twice as large"
                                                 : strerror(-crc));
    prs_sched_stop(&c->sched);
    return PRS_EXIT_STOPPED;
}

int prs_coord_run(prs_coord *c) {
    int rc = 0;
    /* Bounded by the job: every pass either starts, completes or waits one tick. */
    while (!prs_sched_finished(&c->sched)) {
        /* As before the split: each pass starts from the dispatch's result, so an error
         * of an earlier pass only ends the job through the scheduler's stop. */
        rc = dispatch(c);
        if (rc) {
            prs_jobreport_fail(c->d.rep, PRS_EXIT_INTERNAL, "queue read failed: %s", strerror(-rc));
            prs_sched_stop(&c->sched);
        }
        rc = drain_done(c, rc);
        if (commit_due(c)) return PRS_EXIT_STOPPED;
        watch(c);
        prs_jobreport_progress(c->d.rep, &c->sched, c->output_bytes, c->first_error, false);
    }
    return rc ? (rc == -ENOSPC || rc == -EDQUOT || rc == -EIO ? PRS_EXIT_STOPPED
                                                              : PRS_EXIT_INTERNAL)
              : 0;
}

/* ---- set-up and the end ---------------------------------------------------------------- */

static void partial_fn(void *arg, uint64_t id, const prs_batch_rec *rec) {
    (void)id;
    *(uint64_t *)arg += rec->succeeded < rec->item_count;
}

/* The queue does not store partial batches (done with fewer rows than items): a resume
 * with --mini-batch-error-threshold recounts them from the batch records. */
static int count_partial(prs_queue *q, prs_queue_counts *qc) {
    qc->partial_batches = 0;
    return prs_queue_scan_batches(q, PRS_BATCH_DONE, SIZE_MAX, partial_fn, &qc->partial_batches);
}

/* A shard stops early only when its own counts already fail the whole job: the percent
 * of the job's batches becomes a count of this shard's (core/shard.h). */
static int shard_limits(prs_coord *c, prs_sched_limits *lim) {
    const prs_job_config *cfg = c->d.cfg;
    if (!cfg->shard_count || lim->allowed_failed_percent >= 100) return 0;
    char rec[256];
    size_t len = 0;
    int rc = prs_queue_meta_get(c->d.queue, "shard", rec, sizeof(rec) - 1, &len);
    if (rc)
        return prs_jobreport_fail(c->d.rep, PRS_EXIT_USAGE,
                                  "%s/data.mdb: a shard without its shard record: %s",
                                  c->d.state_dir, strerror(-rc));
    rec[len] = 0;
    const char *jb = strstr(rec, "job_batches=");
    uint64_t job_batches = jb ? strtoull(jb + 12, NULL, 10) : 0;
    lim->allowed_failed_count =
        prs_shard_failed_limit(lim->allowed_failed_count, lim->allowed_failed_percent, job_batches);
    lim->allowed_failed_percent = 100;
    prs_joblog_master(c->d.log,
                      "shard: --allowed-failed-percent %u of the job's %llu mini-batches: this "
                      "shard fails on its own past %lld failed mini-batches",
                      cfg->allowed_failed_percent, (unsigned long long)job_batches,
                      (long long)lim->allowed_failed_count);
    return 0;
}

int prs_coord_init(prs_coord *c, const prs_coord_deps *d, uint32_t workers) {
    c->d = *d;
    const prs_job_config *cfg = d->cfg;
    /* Deep enough that workers never wait for the coordinator; deadlines start when run()
     * does, so a queued batch loses nothing by waiting. */
    uint32_t slots = PRS_MIN(PRS_MAX(workers * 8, 4u), PRS_SCHED_MAX_SLOTS);
    prs_sched_limits lim = {.run_max_try = cfg->run_max_try,
                            .error_threshold = cfg->error_threshold,
                            .allowed_failed_count = cfg->allowed_failed_count,
                            .allowed_failed_percent = cfg->allowed_failed_percent,
                            .run_timeout_ms = cfg->run_invocation_timeout_ms,
                            .slots = slots,
                            .workers = workers,
                            .batch_errors_limited = cfg->mini_batch_error_limited,
                            .batch_errors_allowed = cfg->mini_batch_error_threshold};
    int rc = shard_limits(c, &lim);
    if (rc) return rc;
    prs_queue_counts qc;
    rc = prs_queue_counts_get(d->queue, &qc);
    if (rc == 0 && lim.batch_errors_limited) rc = count_partial(d->queue, &qc);
    if (rc)
        return prs_jobreport_fail(d->rep, PRS_EXIT_INTERNAL, "job state: counters unreadable: %s",
                                  strerror(-rc));
    c->output_bytes = qc.output_bytes;
    rc = prs_sched_init(&c->sched, &lim, &qc);
    if (rc)
        return prs_jobreport_fail(d->rep, PRS_EXIT_INTERNAL, "job state: inconsistent counters");
    c->rows_cap = COORD_ROWS_FLUSH_BYTES;
    c->rows = malloc(c->rows_cap);
    if (!c->rows) return prs_jobreport_fail(d->rep, PRS_EXIT_INTERNAL, "out of memory");
    rc = prs_committer_start(&c->committer, d->queue, d->out, cfg->durable, COORD_GROUP_CAP);
    if (rc)
        return prs_jobreport_fail(d->rep, PRS_EXIT_INTERNAL, "cannot start the committer: %s",
                                  strerror(-rc));
    if (prs_chan_init(&c->dispatch, slots + workers, sizeof(prs_dispatch_msg)) ||
        prs_chan_init(&c->done, slots + workers, sizeof(prs_done_msg))) {
        return prs_jobreport_fail(d->rep, PRS_EXIT_INTERNAL, "out of memory");
    }
    c->chans_ready = true;
    rc = prs_queue_reader_open(d->queue, &c->reader);
    if (rc) return prs_jobreport_fail(d->rep, PRS_EXIT_INTERNAL, "queue reader: %s", strerror(-rc));
    c->keep_order = cfg->keep_order;
    if (!c->keep_order) return 0;
    prs_keeporder_io io = {.write = order_write, .flush = order_flush, .arg = c};
    rc = prs_keeporder_init(&c->order, c->reader, c->committer, &io, qc.total_batches,
                            prs_keeporder_window(workers));
    if (rc)
        return prs_jobreport_fail(d->rep, PRS_EXIT_INTERNAL, "%s/data.mdb: --keep-order: %s",
                                  d->state_dir, strerror(-rc));
    return 0;
}

/* A completion that arrives after the job stopped: rows are not committed, but a failed
 * init is still reported. Workers below `joined` are gone (their buffers and lock freed):
 * a completion one of them pushed just before its join has nothing left to release. */
static void drop_completion(prs_coord *c, const prs_done_msg *m, uint32_t joined) {
    if (m->kind == PRS_DONE_BATCH && m->worker >= joined)
        prs_worker_release_out(prs_workers_get(c->workers, m->worker), m->out_index);
    else if (!m->init_ok)
        note_init_failure(c, m);
}

uint64_t prs_coord_shutdown_bound_ms(const prs_coord *c) {
    uint64_t t = c->d.cfg->run_invocation_timeout_ms;
    return t ? t : PRS_COORD_SHUTDOWN_BOUND_MS;
}

struct timespec prs_coord_shutdown_deadline(const prs_coord *c) {
    struct timespec by;
    clock_gettime(CLOCK_REALTIME, &by);
    uint64_t ms = prs_coord_shutdown_bound_ms(c);
    uint64_t ns = (uint64_t)by.tv_nsec + ms % 1000u * 1000000u;
    by.tv_sec += (time_t)(ms / 1000u + ns / 1000000000u);
    by.tv_nsec = (long)(ns % 1000000000u);
    return by;
}

void prs_coord_stop_workers(prs_coord *c) {
    uint32_t started = prs_workers_started(c->workers);
    if (c->workers_stopped || !started) return;
    prs_jobreport_perf_end(c->d.rep); /* the last sample, while the threads still run */
    c->workers_stopped = true;
    /* Batches not yet taken stay pending (uncommitted): pull them back so each worker ends
     * after at most the batch in its hands. */
    prs_dispatch_msg stop = {.stop = true}, unused;
    while (prs_chan_pop_many(&c->dispatch, &unused, 1, 0) == 1) {
    }
    /* Workers whose failed init the coordinator saw are gone already; one that fails init
     * after this leaves its stop message unread, which the channel has room for. */
    uint32_t live = started - c->sched.workers_init_failed;
    for (uint32_t i = 0; i < live; i++)
        prs_chan_push(&c->dispatch, &stop);
    /* A worker may still be busy with a batch queued before the stop: drain completions
     * so it can hand its buffer over, then join. Their results are not committed: those
     * batches stay pending, which is what a stop means. */
    prs_done_msg m;
    struct timespec by = prs_coord_shutdown_deadline(c);
    for (uint32_t i = 0; i < started; i++) {
        while (prs_chan_pop_many(&c->done, &m, 1, 0) == 1)
            drop_completion(c, &m, i);
        prs_worker *w = prs_workers_get(c->workers, i);
        if (prs_worker_join_by(w, &by) != 0) {
            c->workers_hung = true;
            prs_joblog_master(c->d.log,
                              "worker %u did not end within %llu ms of the stop (a prs_shutdown "
                              "or prs_init that does not return?): the runtime ends without it; "
                              "what is committed is final",
                              i, (unsigned long long)prs_coord_shutdown_bound_ms(c));
            continue;
        }
        char logs[PATH_MAX + 16];
        snprintf(logs, sizeof(logs), "%s/logs", c->d.out_dir);
        prs_worker_process_row(w, logs);
    }
    /* A worker that finished init after the job drained still said so: keep its error. */
    while (prs_chan_pop_many(&c->done, &m, 1, 0) == 1)
        drop_completion(c, &m, started);
}

bool prs_coord_nothing_pending(prs_coord *c) {
    if (prs_counts_finished_batches(&c->sched.counts) != c->sched.counts.total_batches)
        return false;
    prs_sched_store_exhausted(&c->sched);
    return true;
}

void prs_coord_flush(prs_coord *c) {
    if (commit(c, true, NULL, NULL, 0) == 0) prs_committer_drain(c->committer);
}

int prs_coord_finish(prs_coord *c, int code, enum prs_job_state st) {
    char result[PRS_COMMITTER_META_BYTES];
    int len = snprintf(result, sizeof(result), "%d %s", code, c->d.rep->report->message);
    PRS_ASSERT(len > 0 && (size_t)len < sizeof(result));    /* see the static assertion above */
    if (c->first_error_new) commit(c, true, NULL, NULL, 0); /* its own group: kept */
    int rc = st == PRS_JOB_STOPPED ? commit(c, true, NULL, NULL, 0)
                                   : commit(c, true, "result", result, (size_t)len);
    if (rc == 0) rc = prs_committer_drain(c->committer);
    if (rc == PRS_QUEUE_EMAPFULL && c->d.cfg->supervised) {
        prs_joblog_master(c->d.log, "%s/data.mdb: job state map full: restarting to grow it",
                          c->d.state_dir);
        abandon(c, PRS_EXIT_RESTART);
    }
    if (rc)
        return prs_jobreport_fail(c->d.rep, PRS_EXIT_STOPPED, "cannot commit the result: %s",
                                  rc == PRS_QUEUE_EMAPFULL
                                      ? "job state map full; rerun: it reopens twice as large"
                                      : strerror(-rc));
    return 0;
}

void prs_coord_close(prs_coord *c) {
    prs_coord_stop_workers(c);
    if (c->committer) {
        prs_committer_drain(c->committer); /* what was handed over lands before the exit */
        prs_committer_stop(c->committer);
        c->committer = NULL;
    }
    prs_queue_reader_close(c->reader);
    c->reader = NULL;
    if (c->chans_ready) {
        prs_chan_destroy(&c->dispatch);
        prs_chan_destroy(&c->done);
        c->chans_ready = false;
    }
    if (!c->workers_hung) prs_workers_free(c->workers); /* else a thread still uses one */
    c->workers = NULL;
    free(c->rows);
    c->rows = NULL;
}
