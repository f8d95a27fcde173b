/* coord_stop.c -- see coord_stop.h. */
#include "coord_stop.h"

#include "clock.h"
#include "coord_commit.h"

#include <stdatomic.h>
#include <string.h>

#define COORD_STOP_GRACE_NS 10000000000ull /* after a stop request, running batches get this */

/* Stop requests from signal handlers: a counter, so the second one is seen as such. */
static atomic_uint coord_stop_requests;

void prs_coord_request_stop(void) {
    atomic_fetch_add(&coord_stop_requests, 1);
}

unsigned prs_coord_stop_mark(void) {
    return atomic_load(&coord_stop_requests);
}

/* Batches waiting in the dispatch queue go back to pending without a try spent. */
static void take_back_queued(prs_coord *c) {
    prs_dispatch_msg m;
    while (prs_chan_pop_many(&c->dispatch, &m, 1, 0) == 1) {
        if (!m.stop) prs_sched_unstart(&c->sched, m.batch_id);
    }
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
    if (stop_now && c->sched.in_flight > 0 && c->d.cfg->supervised)
        prs_coord_abandon(c, PRS_EXIT_STOPPED);
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
        prs_coord_abandon(c, PRS_EXIT_RESTART);
    }
    if ((rc = prs_coord_make_room(c, 0)))
        prs_joblog_master(c->d.log, "cannot commit before batch %llu's timeout: %s",
                          (unsigned long long)id, strerror(-rc));
    prs_ticket fin;
    enum prs_verdict v = prs_sched_complete(&c->sched, id, PRS_OUTCOME_TIMEOUT, 0, &fin);
    rec.attempts = fin.attempt;
    if (v == PRS_VERDICT_FAILED) rec.state = PRS_BATCH_FAILED;
    PRS_COORD_ERROR_LINE(c, true,
                         "batch %llu attempt %u item -: run() ignored the cancel %llu ms after "
                         "--run-invocation-timeout; %s; the runtime restarts",
                         (unsigned long long)id, fin.attempt, (unsigned long long)grace_ms,
                         v == PRS_VERDICT_FAILED ? "no tries left: the batch failed"
                                                 : "it will be retried");
    prs_batch_update up = {.batch_id = id, .rec = rec};
    rc = prs_coord_add_finished(c, &up, NULL);
    if (rc)
        prs_joblog_master(c->d.log, "cannot record the timeout of batch %llu: %s",
                          (unsigned long long)id, strerror(-rc));
    prs_coord_abandon(c, PRS_EXIT_RESTART);
}

/* Stop requests and run() deadlines, once per tick. */
void prs_coord_watch(prs_coord *c) {
    uint64_t t = prs_mono_ns();
    watch_stop(c, t);
    uint64_t timeout_ms = c->d.cfg->run_invocation_timeout_ms;
    if (timeout_ms == 0) return;
    watch_deadlines(c, t, timeout_ms);
    watch_hung(c, t, timeout_ms);
}

/* A completion that arrives after the job stopped: rows are not committed, but a failed
 * init is still reported. Workers below `joined` are gone (their buffers and lock freed):
 * a completion one of them pushed just before its join has nothing left to release. */
static void drop_completion(prs_coord *c, const prs_done_msg *m, uint32_t joined) {
    if (m->kind == PRS_DONE_BATCH && m->worker >= joined)
        prs_worker_release_out(prs_workers_get(c->workers, m->worker), m->out_index);
    else if (!m->init_ok)
        prs_coord_note_init_failure(c, m);
}

uint64_t prs_coord_shutdown_bound_ms(const prs_coord *c) {
    uint64_t t = c->d.cfg->run_invocation_timeout_ms;
    return t ? t : PRS_COORD_SHUTDOWN_BOUND_MS;
}

struct timespec prs_coord_shutdown_deadline(const prs_coord *c) {
    return prs_wall_deadline(prs_coord_shutdown_bound_ms(c));
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
