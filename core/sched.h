/* sched.h -- the scheduler: a pure state machine over mini-batch attempts.
 *
 * Owns: the in-flight slot table, the retry queue, the job's counters and its verdict
 *   (thresholds: --error-threshold, --allowed-failed-count, --allowed-failed-percent,
 *   --mini-batch-error-threshold, --run-max-try, init failures, stop requests).
 * May call: nothing but core/base (base.h, counts.h). No syscalls, no clock reads, no threads, no
 * allocation: time (now_ms) and events are inputs, so the coordinator drives it for real and
 *   fuzz/sim drives it with a simulated clock and injected faults.
 * Callers must: serialise all calls on one prs_sched (the coordinator thread owns it);
 *   persist every verdict before acting on the next pick (the durable queue is theirs).
 *
 * Batch life: the store holds each batch as pending(attempts spent) / done / failed.
 * prs_sched_next() says what to dispatch: a queued retry (id and attempt given), or the
 * store's next pending batch (PRS_PICK_NEW: the caller reads it and calls
 * prs_sched_start with attempt = attempts spent + 1). Every started batch ends in exactly
 * one prs_sched_complete(), whose verdict the caller commits:
 *   DONE   -> state done, rows written;  RETRY -> attempts = attempt, queued again here;
 *   FAILED -> state failed, every item of the batch failed.
 * Invariants (asserted): in_flight + queued retries <= slots; attempt <= run_max_try;
 * done + failed batches <= total batches; a batch id is in at most one slot. */
#ifndef PRS_SCHED_H
#define PRS_SCHED_H

#include "base.h"
#include "counts.h"

#include <stdbool.h>

#define PRS_SCHED_MAX_SLOTS 1024u
#define PRS_SCHED_MAX_TRY 100u

enum prs_pick {
    PRS_PICK_WAIT = 0, /* nothing to start now: slots full or waiting on in-flight batches */
    PRS_PICK_NEW,      /* start the store's next pending batch */
    PRS_PICK_RETRY,    /* start the retry in *ticket */
    PRS_PICK_END,      /* no more starts; once in_flight is 0 the job is finished */
};

enum prs_outcome {
    PRS_OUTCOME_OK = 0,  /* run() returned >= 0: the batch is done, rows count items */
    PRS_OUTCOME_ERROR,   /* run() returned < 0 */
    PRS_OUTCOME_TIMEOUT, /* run() passed --run-invocation-timeout */
    PRS_OUTCOME_CRASH,   /* the process died while the batch ran */
};

enum prs_verdict {
    PRS_VERDICT_DONE = 0,
    PRS_VERDICT_RETRY,
    PRS_VERDICT_FAILED,
};

enum prs_job_state {
    PRS_JOB_RUNNING = 0,
    PRS_JOB_DRAINING, /* failed or stopped: no more starts, waiting for in-flight batches */
    PRS_JOB_SUCCEEDED,
    PRS_JOB_FAILED,
    PRS_JOB_STOPPED, /* a stop was asked for: resumable */
};

enum prs_job_reason {
    PRS_REASON_NONE = 0,
    PRS_REASON_ERROR_THRESHOLD, /* failed items > --error-threshold */
    PRS_REASON_FAILED_COUNT,    /* failed batches > --allowed-failed-count */
    PRS_REASON_FAILED_PERCENT,  /* failed batches > --allowed-failed-percent of all */
    PRS_REASON_INIT_FAILED,     /* init() failed on every worker */
    PRS_REASON_STOP_REQUESTED,  /* SIGINT/SIGTERM or an embedder's stop */
    PRS_REASON_BATCH_ERRORS,    /* failed + partial batches > --mini-batch-error-threshold */
};

typedef struct prs_sched_limits {
    uint32_t run_max_try;            /* 1 .. PRS_SCHED_MAX_TRY */
    int64_t error_threshold;         /* failed items tolerated; -1 = ignore */
    int64_t allowed_failed_count;    /* failed batches tolerated; -1 = ignore */
    uint32_t allowed_failed_percent; /* 0 .. 100; 100 = ignore */
    uint64_t run_timeout_ms;         /* 0 = no deadline */
    uint32_t slots;                  /* 1 .. PRS_SCHED_MAX_SLOTS batches in flight */
    uint32_t workers;                /* workers that will report init */
    /* v2's mini_batch_error_threshold: when batch_errors_limited, batches that failed or
     * returned fewer rows than items, tolerated. Off when zero-initialised. */
    bool batch_errors_limited;
    uint64_t batch_errors_allowed;
} prs_sched_limits;

/* What the store already holds (zero for a new job): the job's one counts struct
 * (core/base/counts.h; the scheduler leaves output_bytes alone). */
typedef prs_counts prs_sched_counts;

typedef struct prs_ticket {
    uint64_t batch_id;
    uint32_t attempt;
    uint32_t item_count;
} prs_ticket;

typedef struct prs_sched_slot {
    prs_ticket ticket;
    uint64_t deadline_ms; /* UINT64_MAX: none */
    bool used;
} prs_sched_slot;

typedef struct prs_sched {
    prs_sched_limits limits;
    prs_sched_counts counts;
    enum prs_job_state state;
    enum prs_job_reason reason;
    bool store_exhausted; /* the store has no pending batch left to hand out */
    uint32_t in_flight;
    uint32_t workers_ready;
    uint32_t workers_init_failed;
    uint32_t retry_head, retry_len;
    prs_ticket retry[PRS_SCHED_MAX_SLOTS];
    prs_sched_slot slot[PRS_SCHED_MAX_SLOTS];
} prs_sched;

/* Returns -EINVAL (naming nothing: the caller validated the options) on limits out of range. */
int prs_sched_init(prs_sched *s, const prs_sched_limits *limits, const prs_sched_counts *counts);

/* What to start next. No start is offered before one worker finished init(). */
enum prs_pick prs_sched_next(prs_sched *s, prs_ticket *ticket);

/* The store has no more pending batches (after a PRS_PICK_NEW found none, or at start). */
void prs_sched_store_exhausted(prs_sched *s);

/* Starts a batch. attempt is 1 + attempts already spent (retries: the ticket's). */
void prs_sched_start(prs_sched *s, const prs_ticket *ticket, uint64_t now_ms);

/* Takes back a started batch that never reached a worker (a stop pulled it off the
 * dispatch queue): no verdict, no try spent; the store still holds it as pending. */
void prs_sched_unstart(prs_sched *s, uint64_t batch_id);

/* True if batch_id is started and not yet completed. */
bool prs_sched_has(const prs_sched *s, uint64_t batch_id);

/* The worker began run() on a started batch: its deadline counts from now_ms. */
void prs_sched_running(prs_sched *s, uint64_t batch_id, uint64_t now_ms);

/* Ends a started batch. rows = rows emitted (OK outcome only; more rows than items count
 * as all items succeeded). Fills *final with the attempt's record for the store. */
enum prs_verdict prs_sched_complete(prs_sched *s, uint64_t batch_id, enum prs_outcome outcome,
                                    uint64_t rows, prs_ticket *final);

/* Started batches whose deadline is at or before now_ms, up to cap of them. */
size_t prs_sched_expired(const prs_sched *s, uint64_t now_ms, uint64_t *batch_ids, size_t cap);

/* A worker finished init(): ok or not. All workers failing fails the job. */
void prs_sched_worker_init(prs_sched *s, bool ok);

/* Stop asked (signal, embedder): no more starts; the job ends STOPPED (resumable). */
void prs_sched_stop(prs_sched *s);

/* True once nothing is in flight and nothing more will start; *state is final then. */
bool prs_sched_finished(const prs_sched *s);

/* The job's end: SUCCEEDED, FAILED (s->reason says why) or STOPPED. Only once finished. */
enum prs_job_state prs_sched_result(const prs_sched *s);

const char *prs_sched_reason_text(enum prs_job_reason reason);
const char *prs_sched_state_text(enum prs_job_state state);

#endif
