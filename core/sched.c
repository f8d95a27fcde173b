/* sched.c -- see sched.h. Pure: every function is a deterministic step of the machine. */
#include "sched.h"

#include <string.h>

static void sched_check(const prs_sched *s) {
    PRS_ASSERT(s->in_flight + s->retry_len <= s->limits.slots);
    PRS_ASSERT(s->counts.done_batches + s->counts.failed_batches <= s->counts.total_batches);
    PRS_ASSERT(s->counts.succeeded_items + s->counts.failed_items <= s->counts.total_items);
    PRS_ASSERT(s->workers_ready + s->workers_init_failed <= s->limits.workers);
}

static void sched_check_thresholds(prs_sched *s);

int prs_sched_init(prs_sched *s, const prs_sched_limits *limits, const prs_sched_counts *counts) {
    if (limits->run_max_try < 1 || limits->run_max_try > PRS_SCHED_MAX_TRY) return -EINVAL;
    if (limits->slots < 1 || limits->slots > PRS_SCHED_MAX_SLOTS) return -EINVAL;
    if (limits->allowed_failed_percent > 100) return -EINVAL;
    if (limits->error_threshold < -1 || limits->allowed_failed_count < -1) return -EINVAL;
    if (counts->partial_batches > counts->done_batches) return -EINVAL;
    if (limits->workers < 1) return -EINVAL;
    if (counts->done_batches + counts->failed_batches > counts->total_batches) return -EINVAL;
    if (counts->succeeded_items + counts->failed_items > counts->total_items) return -EINVAL;
    memset(s, 0, sizeof(*s));
    s->limits = *limits;
    s->counts = *counts;
    s->state = PRS_JOB_RUNNING;
    /* A resumed job may already be over a threshold (a try charged while repairing a crash,
     * or a death between a failure and the verdict): it must end FAILED, not run on. */
    sched_check_thresholds(s);
    sched_check(s);
    return 0;
}

static void sched_drain(prs_sched *s, enum prs_job_reason reason) {
    if (s->state != PRS_JOB_RUNNING) return; /* the first reason is the one reported */
    s->state = PRS_JOB_DRAINING;
    s->reason = reason;
    s->retry_len = 0; /* queued retries stay pending in the store: resumable */
}

static void sched_check_thresholds(prs_sched *s) {
    const prs_sched_limits *l = &s->limits;
    const prs_sched_counts *c = &s->counts;
    if (l->error_threshold >= 0 && c->failed_items > (uint64_t)l->error_threshold) {
        sched_drain(s, PRS_REASON_ERROR_THRESHOLD);
    } else if (l->allowed_failed_count >= 0 &&
               c->failed_batches > (uint64_t)l->allowed_failed_count) {
        sched_drain(s, PRS_REASON_FAILED_COUNT);
    } else if (l->allowed_failed_percent < 100 &&
               c->failed_batches * 100 > (uint64_t)l->allowed_failed_percent * c->total_batches) {
        /* Failed batches only grow, so once over the percent of all batches the end verdict
         * is certain: stop now instead of running the rest for nothing. */
        sched_drain(s, PRS_REASON_FAILED_PERCENT);
    } else if (l->batch_errors_limited &&
               c->failed_batches + c->partial_batches > l->batch_errors_allowed) {
        sched_drain(s, PRS_REASON_BATCH_ERRORS);
    }
}

static bool sched_done(const prs_sched *s) {
    return s->store_exhausted && s->retry_len == 0 && s->in_flight == 0;
}

enum prs_pick prs_sched_next(prs_sched *s, prs_ticket *ticket) {
    sched_check(s);
    if (s->state != PRS_JOB_RUNNING) return PRS_PICK_END;
    if (sched_done(s)) return PRS_PICK_END;
    if (s->workers_ready == 0) return PRS_PICK_WAIT;
    /* Retries go first: that bounds the retry queue by the slots it came from. */
    if (s->in_flight + s->retry_len >= s->limits.slots && s->retry_len == 0) return PRS_PICK_WAIT;
    if (s->retry_len > 0) {
        *ticket = s->retry[s->retry_head];
        s->retry_head = (s->retry_head + 1) % PRS_SCHED_MAX_SLOTS;
        s->retry_len--;
        return PRS_PICK_RETRY;
    }
    if (s->store_exhausted) return PRS_PICK_WAIT; /* in-flight batches may still retry */
    return PRS_PICK_NEW;
}

void prs_sched_store_exhausted(prs_sched *s) {
    s->store_exhausted = true;
}

static prs_sched_slot *sched_find(prs_sched *s, uint64_t batch_id) {
    for (uint32_t i = 0; i < s->limits.slots; i++) {
        if (s->slot[i].used && s->slot[i].ticket.batch_id == batch_id) return &s->slot[i];
    }
    return NULL;
}

void prs_sched_start(prs_sched *s, const prs_ticket *ticket, uint64_t now_ms) {
    PRS_UNUSED(now_ms);
    PRS_ASSERT(s->state == PRS_JOB_RUNNING);
    PRS_ASSERT(ticket->attempt >= 1 && ticket->attempt <= s->limits.run_max_try);
    PRS_ASSERT(s->in_flight < s->limits.slots);
    PRS_ASSERT(sched_find(s, ticket->batch_id) == NULL);
    for (uint32_t i = 0; i < s->limits.slots; i++) {
        if (!s->slot[i].used) {
            s->slot[i] =
                (prs_sched_slot){.ticket = *ticket, .deadline_ms = UINT64_MAX, .used = true};
            s->in_flight++;
            sched_check(s);
            return;
        }
    }
    PRS_ASSERT(!"no free slot although in_flight < slots");
}

void prs_sched_unstart(prs_sched *s, uint64_t batch_id) {
    prs_sched_slot *slot = sched_find(s, batch_id);
    PRS_ASSERT(slot != NULL);
    PRS_ASSERT(s->state != PRS_JOB_RUNNING); /* only a stop or a failure takes batches back */
    slot->used = false;
    s->in_flight--;
    sched_check(s);
}

bool prs_sched_has(const prs_sched *s, uint64_t batch_id) {
    for (uint32_t i = 0; i < s->limits.slots; i++) {
        if (s->slot[i].used && s->slot[i].ticket.batch_id == batch_id) return true;
    }
    return false;
}

void prs_sched_running(prs_sched *s, uint64_t batch_id, uint64_t now_ms) {
    prs_sched_slot *slot = sched_find(s, batch_id);
    PRS_ASSERT(slot != NULL);
    if (s->limits.run_timeout_ms > 0) slot->deadline_ms = now_ms + s->limits.run_timeout_ms;
}

enum prs_verdict prs_sched_complete(prs_sched *s, uint64_t batch_id, enum prs_outcome outcome,
                                    uint64_t rows, prs_ticket *final) {
    prs_sched_slot *slot = sched_find(s, batch_id);
    PRS_ASSERT(slot != NULL);
    prs_ticket t = slot->ticket;
    slot->used = false;
    s->in_flight--;
    *final = t;

    enum prs_verdict verdict;
    if (outcome == PRS_OUTCOME_OK) {
        uint64_t ok = PRS_MIN(rows, (uint64_t)t.item_count);
        s->counts.done_batches++;
        s->counts.succeeded_items += ok;
        s->counts.failed_items += t.item_count - ok;
        s->counts.partial_batches += ok < t.item_count;
        verdict = PRS_VERDICT_DONE;
    } else if (t.attempt < s->limits.run_max_try && s->state == PRS_JOB_RUNNING) {
        PRS_ASSERT(s->retry_len < PRS_SCHED_MAX_SLOTS);
        prs_ticket again = t;
        again.attempt = t.attempt + 1;
        s->retry[(s->retry_head + s->retry_len) % PRS_SCHED_MAX_SLOTS] = again;
        s->retry_len++;
        verdict = PRS_VERDICT_RETRY;
    } else if (t.attempt < s->limits.run_max_try) {
        /* Draining: the try is spent but the batch stays pending for a resumed run. */
        verdict = PRS_VERDICT_RETRY;
    } else {
        s->counts.failed_batches++;
        s->counts.failed_items += t.item_count;
        verdict = PRS_VERDICT_FAILED;
    }
    sched_check_thresholds(s);
    sched_check(s);
    return verdict;
}

size_t prs_sched_expired(const prs_sched *s, uint64_t now_ms, uint64_t *batch_ids, size_t cap) {
    size_t n = 0;
    for (uint32_t i = 0; i < s->limits.slots && n < cap; i++) {
        if (s->slot[i].used && s->slot[i].deadline_ms <= now_ms) {
            batch_ids[n++] = s->slot[i].ticket.batch_id;
        }
    }
    return n;
}

void prs_sched_worker_init(prs_sched *s, bool ok) {
    if (ok) {
        s->workers_ready++;
    } else {
        s->workers_init_failed++;
    }
    sched_check(s);
    if (s->workers_init_failed == s->limits.workers) sched_drain(s, PRS_REASON_INIT_FAILED);
}

void prs_sched_stop(prs_sched *s) {
    sched_drain(s, PRS_REASON_STOP_REQUESTED);
}

bool prs_sched_finished(const prs_sched *s) {
    if (s->in_flight > 0) return false;
    if (s->state == PRS_JOB_DRAINING) return true;
    return sched_done(s);
}

enum prs_job_state prs_sched_result(const prs_sched *s) {
    PRS_ASSERT(prs_sched_finished(s));
    if (s->state == PRS_JOB_RUNNING) return PRS_JOB_SUCCEEDED;
    PRS_ASSERT(s->state == PRS_JOB_DRAINING);
    return s->reason == PRS_REASON_STOP_REQUESTED ? PRS_JOB_STOPPED : PRS_JOB_FAILED;
}

const char *prs_sched_reason_text(enum prs_job_reason reason) {
    switch (reason) {
    case PRS_REASON_NONE:
        return "none";
    case PRS_REASON_ERROR_THRESHOLD:
        return "failed items exceeded --error-threshold";
    case PRS_REASON_FAILED_COUNT:
        return "failed mini-batches exceeded --allowed-failed-count";
    case PRS_REASON_FAILED_PERCENT:
        return "failed mini-batches exceeded --allowed-failed-percent";
    case PRS_REASON_INIT_FAILED:
        return "init() failed on every worker";
    case PRS_REASON_STOP_REQUESTED:
        return "stop requested";
    case PRS_REASON_BATCH_ERRORS:
        return "failed mini-batches (failed, or fewer rows than items) exceeded "
               "--mini-batch-error-threshold";
    }
    return "unknown";
}

const char *prs_sched_state_text(enum prs_job_state state) {
    switch (state) {
    case PRS_JOB_RUNNING:
        return "RUNNING";
    case PRS_JOB_DRAINING:
        return "DRAINING";
    case PRS_JOB_SUCCEEDED:
        return "SUCCEEDED";
    case PRS_JOB_FAILED:
        return "FAILED";
    case PRS_JOB_STOPPED:
        return "STOPPED";
    }
    return "UNKNOWN";
}
