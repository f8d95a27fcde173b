/* coord.c -- see coord.h: the loop (dispatch, completions), set-up and close. Group
 * commits, the first error and the abandoning exit are in coord_commit.c; stop requests,
 * deadlines and the workers' stop in coord_stop.c. */
#include "coord.h"

#include "clock.h"
#include "coord_commit.h"
#include "coord_stop.h"
#include "shard.h"

#include <stdatomic.h>
#include <string.h>

/* The queue refuses stored attempts above its bound: it must admit every --run-max-try. */
_Static_assert(PRS_QUEUE_MAX_ATTEMPTS == PRS_SCHED_MAX_TRY, "queue and sched try bounds differ");

#define COORD_TICK_MS 100u
#define COORD_DONE_BATCH 512u

void prs_coord_counts(const prs_coord *c, prs_queue_counts *out) {
    *out = c->sched.counts; /* one counts type (core/base/counts.h) */
    out->output_bytes = c->output_bytes;
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
            int rc = prs_coord_buffer_rows(c, out->header, out->header_len);
            if (rc == 0) rc = prs_coord_buffer_rows(c, "\n", 1);
            if (rc) return rc;
            c->output_bytes += out->header_len + 1;
        }
        if (append && out->rows_len && !c->keep_order) { /* else prs_coord_add_finished */
            int rc = prs_coord_buffer_rows(c, out->rows, out->rows_len);
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
        if (!m->init_ok) prs_coord_note_init_failure(c, m);
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
        PRS_COORD_ERROR_LINE(c, false,
                             "batch %llu attempt %u item -: run() passed --run-invocation-timeout "
                             "(%llu ms) and was cancelled",
                             (unsigned long long)m->batch.batch_id, m->batch.attempt,
                             (unsigned long long)c->d.cfg->run_invocation_timeout_ms);
    }
    /* A failed hand-over is sticky: nothing more commits, the verdict still ends the try. */
    int room_rc = prs_coord_make_room(c, out->rows_len);
    prs_ticket fin;
    enum prs_verdict v =
        prs_sched_complete(&c->sched, m->batch.batch_id, outcome, out->row_count, &fin);
    if (out->errors_len) {
        prs_joblog_errors(c->d.log, out->errors, out->errors_len);
        prs_coord_note_first_error(c, out->errors, out->errors_len);
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
    int arc = prs_coord_add_finished(c, &up,
                                     c->d.cfg->output_action == PRS_OUTPUT_APPEND_ROW ? out : NULL);
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

/* ---- the loop -------------------------------------------------------------------------- */

/* Drains completions (after a short gathering wait); the first output error stops the
 * job. Keeps *code, or sets it to PRS_EXIT_STOPPED on the first error (the message, naming
 * the output file, is in deps.rep). */
static void drain_done(prs_coord *c, int *code) {
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
        if (wrc && !*code) {
            *code =
                prs_jobreport_fail(c->d.rep, PRS_EXIT_STOPPED,
                                   "%s: cannot append rows: %s; the job stops and can be resumed",
                                   c->d.rep->output_path, strerror(-wrc));
            prs_sched_stop(&c->sched);
        }
    }
}

int prs_coord_run(prs_coord *c) {
    /* The first error's exit code: it ends the job with its own message, whatever the
     * passes after it (which only drain what runs) return. */
    int code = 0;
    /* Bounded by the job: every pass either starts, completes or waits one tick. */
    while (!prs_sched_finished(&c->sched)) {
        int rc = dispatch(c);
        if (rc && !code) {
            code = prs_jobreport_fail(c->d.rep, PRS_EXIT_INTERNAL,
                                      "%s/data.mdb: cannot read the pending batches: %s",
                                      c->d.state_dir, strerror(-rc));
            prs_sched_stop(&c->sched);
        }
        drain_done(c, &code);
        if (prs_coord_commit_due(c)) return PRS_EXIT_STOPPED;
        prs_coord_watch(c);
        prs_jobreport_progress(c->d.rep, &c->sched, c->output_bytes, c->first_error, false);
    }
    return code;
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
    c->rows_cap = PRS_COORD_ROWS_FLUSH_BYTES;
    c->rows = malloc(c->rows_cap);
    if (!c->rows) return prs_jobreport_fail(d->rep, PRS_EXIT_INTERNAL, "out of memory");
    rc = prs_committer_start(&c->committer, d->queue, d->out, cfg->durable, PRS_COORD_GROUP_CAP);
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
    prs_keeporder_io io = prs_coord_order_io(c);
    rc = prs_keeporder_init(&c->order, c->reader, c->committer, &io, qc.total_batches,
                            prs_keeporder_window(workers));
    if (rc)
        return prs_jobreport_fail(d->rep, PRS_EXIT_INTERNAL, "%s/data.mdb: --keep-order: %s",
                                  d->state_dir, strerror(-rc));
    return 0;
}

bool prs_coord_nothing_pending(prs_coord *c) {
    if (prs_counts_finished_batches(&c->sched.counts) != c->sched.counts.total_batches)
        return false;
    prs_sched_store_exhausted(&c->sched);
    return true;
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
