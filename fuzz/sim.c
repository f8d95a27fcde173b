/* sim.c -- see sim.h. The harness half plays the runtime's part (store, cursor, workers,
 * group commit, scoreboard repair) exactly as sched.h tells a caller to; the reference half
 * predicts every answer from the event alone, never from what the scheduler said. */
#include "sim.h"

#include <stdarg.h>
#include <string.h>

enum { REC_PENDING = 0, REC_DONE, REC_FAILED };

typedef struct rec {
    uint8_t state;
    uint8_t attempts;
    uint32_t succeeded;
} rec;

/* Where the reference thinks a batch is, within the current process. */
enum { RS_IDLE = 0, RS_QUEUED, RS_RUNNING, RS_RETRY, RS_FINISHED };
enum { W_UNREPORTED = 0, W_READY, W_FAILED };

typedef struct write_rec {
    uint32_t batch;
    uint8_t verdict;
    uint8_t attempt;
    uint32_t ok_items;
} write_rec;

/* A group commit of the runtime holds a bounded number of updates; a full one is committed
 * before the next is added, as job_complete does. */
#define SIM_BUF_CAP 64u
#define SIM_EXPIRED_CAP 64u

typedef struct running_rec {
    uint32_t batch, worker;
    uint64_t start_ms;
} running_rec;

typedef struct world {
    const prs_sim_options *opt;
    prs_sim_result *r;
    uint64_t seed;
    uint32_t job_index;
    prs_sim_job job;
    prs_sched s;
    uint64_t now_ms;

    /* The durable queue as the harness writes it, and as the reference says it must be. */
    rec store[PRS_SIM_MAX_BATCHES];
    rec ref_store[PRS_SIM_MAX_BATCHES];
    bool store_changed;

    /* The current process: harness side. */
    uint32_t cursor;
    bool exhausted;
    uint8_t worker[PRS_SIM_MAX_WORKERS];
    bool worker_busy[PRS_SIM_MAX_WORKERS];
    uint32_t queued[PRS_SIM_MAX_SLOTS], nqueued;
    running_rec running[PRS_SIM_MAX_WORKERS];
    uint32_t nrunning;
    write_rec buf[SIM_BUF_CAP];
    uint32_t nbuf;

    /* The current process: reference side. */
    write_rec ref_buf[SIM_BUF_CAP];
    uint32_t nref_buf;
    uint8_t rs[PRS_SIM_MAX_BATCHES];
    uint8_t ref_attempt[PRS_SIM_MAX_BATCHES]; /* in flight: its try; RS_RETRY: the next */
    uint64_t ref_deadline[PRS_SIM_MAX_BATCHES];
    uint32_t ref_inflight, ref_retries, ref_ready, ref_init_failed;
    bool ref_running;
    unsigned ref_reasons; /* draining: the reasons the scheduler may report, 1u << reason */
    bool ref_stop_asked;
    prs_sched_counts ref_counts;
    bool start_over_threshold;
    bool die_before_result; /* armed: the process dies after its last commit, before its result */

    uint64_t mark[PRS_SIM_MAX_BATCHES], mark_gen; /* 64 bits: never wraps, no stale match */
    uint32_t touched; /* a batch this event acted on, for prs_sched_has; UINT32_MAX: none */
    uint64_t step;
    bool settling, settled;
    const prs_sim_event *ev; /* the event being executed, for failure messages */
    size_t ev_index;
} world;

/* ---- PRNG: splitmix64 seeds xoshiro256** (explicit, so a seed means the same forever) ---- */

typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void rng_seed(rng *g, uint64_t seed) {
    for (int i = 0; i < 4; i++)
        g->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(rng *g) {
    uint64_t *s = g->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/* Slightly biased for huge n; n here is at most 65536, where the bias is below 2^-47. */
static uint32_t below(rng *g, uint32_t n) {
    return n ? (uint32_t)(rng_next(g) % n) : 0;
}

/* ---- failures ---- */

static const char *kind_letter = "IFDROEHTCXSZ";

static const char *kind_name(uint8_t kind) {
    static const char *names[PRS_SIM_KINDS] = {"INIT_OK", "INIT_FAIL", "DISPATCH", "RUN",
                                               "OK",      "ERROR",     "HANG",     "TICK",
                                               "COMMIT",  "CRASH",     "STOP",     "DISK_FULL"};
    return kind < PRS_SIM_KINDS ? names[kind] : "?";
}

__attribute__((format(printf, 3, 4))) static void fail(world *w, const char *tag, const char *fmt,
                                                       ...) {
    prs_sim_result *r = w->r;
    if (r->failed) return; /* the first broken invariant is the one that matters */
    r->failed = true;
    r->tag = tag;
    r->fail_index = w->ev_index;
    r->job = w->job;
    char ev[64];
    snprintf(ev, sizeof(ev), "%s", w->settling ? "end of settle" : "start");
    if (w->ev) prs_sim_event_text(w->ev, ev, sizeof(ev));
    int n = snprintf(r->what, sizeof(r->what), "[%s] %s event %zu (%s), job %u: ", tag,
                     w->settling ? "settle" : "trace", w->ev_index, ev, w->job_index);
    if (n < 0 || (size_t)n >= sizeof(r->what)) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->what + n, sizeof(r->what) - (size_t)n, fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 2, 3))) static void narrate(const world *w, const char *fmt, ...) {
    if (!w->opt->narrate) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("      ", w->opt->narrate);
    vfprintf(w->opt->narrate, fmt, ap);
    fputc('\n', w->opt->narrate);
    va_end(ap);
}

static const char *rec_state_text(uint8_t st) {
    return st == REC_PENDING ? "pending" : st == REC_DONE ? "done" : "failed";
}

static const char *verdict_text(int v) {
    return v == PRS_VERDICT_DONE ? "DONE" : v == PRS_VERDICT_RETRY ? "RETRY" : "FAILED";
}

static const char *pick_text(int p) {
    switch (p) {
    case PRS_PICK_WAIT:
        return "WAIT";
    case PRS_PICK_NEW:
        return "NEW";
    case PRS_PICK_RETRY:
        return "RETRY";
    case PRS_PICK_END:
        return "END";
    }
    return "?";
}

/* ---- the reference's rules, written from sched.h and the ParallelRunStep semantics ---- */

static unsigned thresholds_exceeded(const prs_sched_limits *l, const prs_sched_counts *c) {
    unsigned m = 0;
    if (l->error_threshold >= 0 && c->failed_items > (uint64_t)l->error_threshold)
        m |= 1u << PRS_REASON_ERROR_THRESHOLD;
    if (l->allowed_failed_count >= 0 && c->failed_batches > (uint64_t)l->allowed_failed_count)
        m |= 1u << PRS_REASON_FAILED_COUNT;
    /* failed/total > percent/100, kept in integers */
    if (l->allowed_failed_percent < 100 &&
        c->failed_batches * 100u > (uint64_t)l->allowed_failed_percent * c->total_batches)
        m |= 1u << PRS_REASON_FAILED_PERCENT;
    return m;
}

static prs_sched_counts counts_of(const world *w, const rec *store) {
    prs_sched_counts c = {.total_batches = w->job.batches};
    for (uint32_t i = 0; i < w->job.batches; i++) {
        c.total_items += w->job.items[i];
        if (store[i].state == REC_DONE) {
            c.done_batches++;
            c.succeeded_items += store[i].succeeded;
            c.failed_items += w->job.items[i] - store[i].succeeded;
        } else if (store[i].state == REC_FAILED) {
            c.failed_batches++;
            c.failed_items += w->job.items[i];
        }
    }
    return c;
}

static void ref_drain(world *w, unsigned reasons) {
    if (!w->ref_running) return;
    w->ref_running = false;
    w->ref_reasons = reasons;
    /* Queued retries go back to the store as pending: no more starts in this process. */
    for (uint32_t i = 0; i < w->job.batches; i++) {
        if (w->rs[i] == RS_RETRY) w->rs[i] = RS_IDLE;
    }
    w->ref_retries = 0;
}

/* ---- store writes ---- */

static void apply(world *w, rec *store, const write_rec *u, const char *who) {
    rec *r = &store[u->batch];
    if (r->state != REC_PENDING) {
        fail(w, "store", "%s: batch %u was already %s when a %s for it was committed", who,
             u->batch, rec_state_text(r->state), verdict_text(u->verdict));
        return;
    }
    switch (u->verdict) {
    case PRS_VERDICT_DONE:
        r->state = REC_DONE;
        r->attempts = (uint8_t)(u->attempt - 1); /* tries spent failing, as the runtime keeps */
        r->succeeded = u->ok_items;
        break;
    case PRS_VERDICT_RETRY:
        r->attempts = u->attempt;
        break;
    default:
        r->state = REC_FAILED;
        r->attempts = u->attempt;
        break;
    }
    w->store_changed = true;
}

static void commit(world *w) {
    for (uint32_t i = 0; i < w->nbuf; i++)
        apply(w, w->store, &w->buf[i], "harness");
    for (uint32_t i = 0; i < w->nref_buf; i++)
        apply(w, w->ref_store, &w->ref_buf[i], "reference");
    if (w->nbuf) narrate(w, "commit: %u verdicts reach the store", w->nbuf);
    w->nbuf = w->nref_buf = 0;
}

/* ---- processes and jobs ---- */

static void process_begin(world *w, bool new_job) {
    prs_sched_counts c = counts_of(w, w->store);
    int rc = prs_sched_init(&w->s, &w->job.limits, &c);
    if (rc != 0) {
        fail(w, "init", "prs_sched_init returned %d for the store's counts", rc);
        return;
    }
    /* The planted bug: a restart that forgets to rescan skips every batch it had passed. */
    if (new_job || w->opt->bug != PRS_SIM_BUG_CURSOR_KEPT) w->cursor = 0;
    w->exhausted = false;
    memset(w->worker, 0, sizeof(w->worker));
    memset(w->worker_busy, 0, sizeof(w->worker_busy));
    w->nqueued = w->nrunning = w->nbuf = w->nref_buf = 0;
    memset(w->rs, RS_IDLE, sizeof(w->rs));
    w->ref_inflight = w->ref_retries = w->ref_ready = w->ref_init_failed = 0;
    w->ref_running = true;
    w->ref_reasons = 0;
    w->ref_stop_asked = false;
    w->ref_counts = counts_of(w, w->ref_store);
    unsigned over = thresholds_exceeded(&w->job.limits, &w->ref_counts);
    w->start_over_threshold = over != 0;
    /* Stored counts already over a threshold: the job drains before anything starts. */
    if (over) ref_drain(w, over);
    w->die_before_result = false;
    w->store_changed = true;
    bool any_pending = false;
    for (uint32_t i = 0; i < w->job.batches && !any_pending; i++)
        any_pending = w->store[i].state == REC_PENDING;
    if (w->job.exhausted_at_start && !any_pending) {
        prs_sched_store_exhausted(&w->s);
        w->exhausted = true;
    }
    narrate(w, "process starts: %llu done, %llu failed of %llu batches%s",
            (unsigned long long)c.done_batches, (unsigned long long)c.failed_batches,
            (unsigned long long)c.total_batches,
            w->start_over_threshold ? " (stored counts already over a threshold)" : "");
}

static void job_begin(world *w) {
    if (w->job_index == 0 && w->opt->first_job) {
        w->job = *w->opt->first_job;
    } else {
        prs_sim_job_from_seed(w->seed, w->job_index, &w->job);
    }
    memset(w->store, 0, sizeof(w->store));
    memset(w->ref_store, 0, sizeof(w->ref_store));
    if (w->opt->narrate) {
        char text[256];
        prs_sim_job_text(&w->job, text, sizeof(text));
        narrate(w, "job %u: %s", w->job_index, text);
    }
    process_begin(w, true);
}

static void restart(world *w) {
    w->r->stats.restarts++;
    narrate(w, "restart");
    process_begin(w, false);
}

static void end_process(world *w) {
    commit(w); /* the coordinator commits everything before it reports */
    if (w->r->failed) return;
    if (w->die_before_result) {
        /* The result is a commit of its own: a death (or a full disk) before it leaves the
         * job to the next process, with every verdict of this one stored. */
        w->r->stats.crashes++;
        narrate(w, "process dies before its result is committed");
        restart(w);
        return;
    }
    enum prs_job_state got = prs_sched_result(&w->s);
    enum prs_job_state want = w->ref_running ? PRS_JOB_SUCCEEDED
                              : w->ref_reasons == 1u << PRS_REASON_STOP_REQUESTED ? PRS_JOB_STOPPED
                                                                                  : PRS_JOB_FAILED;
    prs_sched_counts fin = counts_of(w, w->store);
    unsigned over = thresholds_exceeded(&w->job.limits, &fin);
    narrate(w, "process ends: %s (%s); store: %llu done, %llu failed, %llu failed items",
            prs_sched_state_text(got), prs_sched_reason_text(w->s.reason),
            (unsigned long long)fin.done_batches, (unsigned long long)fin.failed_batches,
            (unsigned long long)fin.failed_items);
    if (got != want) {
        fail(w, "result", "job ended %s (%s), the reference says %s", prs_sched_state_text(got),
             prs_sched_reason_text(w->s.reason), prs_sched_state_text(want));
        return;
    }
    if (got == PRS_JOB_SUCCEEDED) {
        for (uint32_t i = 0; i < w->job.batches; i++) {
            if (w->store[i].state == REC_PENDING) {
                fail(w, "lost", "job SUCCEEDED but batch %u is still pending (%u tries spent)", i,
                     w->store[i].attempts);
                return;
            }
        }
        if (over) {
            fail(w, "result",
                 "job SUCCEEDED although a threshold is exceeded (mask 0x%x): failed items %llu "
                 "(error_threshold %lld), failed batches %llu of %llu (allowed_failed_count %lld, "
                 "allowed_failed_percent %u)%s",
                 over, (unsigned long long)fin.failed_items,
                 (long long)w->job.limits.error_threshold, (unsigned long long)fin.failed_batches,
                 (unsigned long long)fin.total_batches,
                 (long long)w->job.limits.allowed_failed_count,
                 w->job.limits.allowed_failed_percent,
                 w->start_over_threshold ? "; the stored counts were over it when this process "
                                           "started"
                                         : "");
            return;
        }
    } else if (got == PRS_JOB_FAILED) {
        enum prs_job_reason why = w->s.reason;
        bool ok = why == PRS_REASON_INIT_FAILED ? w->ref_init_failed == w->job.limits.workers
                                                : (over & (1u << why)) != 0;
        if (!ok) {
            fail(w, "result", "job FAILED (%s) but that does not hold at the end",
                 prs_sched_reason_text(why));
            return;
        }
    } else if (!w->ref_stop_asked) {
        fail(w, "result", "job STOPPED without a stop request");
        return;
    }
    prs_sim_stats *st = &w->r->stats;
    if (got == PRS_JOB_STOPPED) {
        st->jobs_stopped++;
        restart(w);
        return;
    }
    if (got == PRS_JOB_SUCCEEDED) {
        st->jobs_succeeded++;
    } else {
        st->jobs_failed++;
        st->failed_by_reason[w->s.reason]++;
    }
    st->batches_done += fin.done_batches;
    st->batches_failed += fin.failed_batches;
    if (w->settling) {
        w->settled = true;
        return;
    }
    w->job_index++;
    job_begin(w);
}

/* ---- events ---- */

static void start_batch(world *w, const prs_ticket *t, bool retry) {
    uint32_t id = (uint32_t)t->batch_id;
    if (t->batch_id >= w->job.batches) {
        fail(w, "start", "ticket names batch %llu of %u", (unsigned long long)t->batch_id,
             w->job.batches);
        return;
    }
    if (w->ref_store[id].state != REC_PENDING || w->store[id].state != REC_PENDING) {
        fail(w, "start", "batch %u starts again although it is %s in the store", id,
             rec_state_text(w->ref_store[id].state));
        return;
    }
    if (w->rs[id] == RS_FINISHED) {
        fail(w, "start", "batch %u starts again after its final verdict (not yet committed)", id);
        return;
    }
    uint32_t want_attempt = retry ? w->ref_attempt[id] : w->ref_store[id].attempts + 1u;
    if (retry ? w->rs[id] != RS_RETRY : w->rs[id] != RS_IDLE) {
        fail(w, "start", "batch %u offered as %s while the reference holds it in state %d", id,
             retry ? "a retry" : "new", w->rs[id]);
        return;
    }
    if (t->attempt != want_attempt || t->item_count != w->job.items[id]) {
        fail(w, "start",
             "batch %u starts as attempt %u with %u items; the reference says "
             "attempt %u with %u items",
             id, t->attempt, t->item_count, want_attempt, w->job.items[id]);
        return;
    }
    if (t->attempt > w->job.limits.run_max_try || t->attempt == 0) {
        fail(w, "attempts", "batch %u would start attempt %u of run_max_try %u", id, t->attempt,
             w->job.limits.run_max_try);
        return;
    }
    if (w->ref_inflight >= w->job.limits.slots) {
        fail(w, "pick", "a start was offered with all %u slots in flight", w->job.limits.slots);
        return;
    }
    prs_sched_start(&w->s, t, w->now_ms);
    if (retry) w->ref_retries--;
    w->rs[id] = RS_QUEUED;
    w->ref_attempt[id] = (uint8_t)t->attempt;
    w->ref_deadline[id] = UINT64_MAX;
    w->ref_inflight++;
    PRS_ASSERT(w->nqueued < PRS_SIM_MAX_SLOTS);
    w->queued[w->nqueued++] = id;
    w->touched = id;
    narrate(w, "start batch %u attempt %u (%s)", id, t->attempt, retry ? "retry" : "new");
}

static void ev_dispatch(world *w, uint32_t picks) {
    for (uint32_t i = 0; i < PRS_MAX(picks, 1u) && !w->r->failed; i++) {
        prs_ticket t = {0};
        enum prs_pick pick = prs_sched_next(&w->s, &t);
        bool ready = w->ref_ready > 0;
        bool done = w->exhausted && w->ref_retries == 0 && w->ref_inflight == 0;
        bool must_end = !w->ref_running || done;
        bool can_retry = w->ref_running && ready && w->ref_retries > 0;
        bool can_new = w->ref_running && ready && !w->exhausted &&
                       w->ref_inflight + w->ref_retries < w->job.limits.slots;
        bool ok = false;
        switch (pick) {
        case PRS_PICK_END:
            ok = must_end;
            break;
        case PRS_PICK_WAIT:
            ok = !must_end && !can_retry && !can_new;
            break;
        case PRS_PICK_NEW:
            ok = can_new;
            break;
        case PRS_PICK_RETRY:
            ok = can_retry;
            break;
        }
        if (!ok) {
            fail(w, "pick",
                 "prs_sched_next said %s; reference: running %d, ready workers %u, in flight %u, "
                 "retries %u, slots %u, store exhausted %d",
                 pick_text(pick), w->ref_running, w->ref_ready, w->ref_inflight, w->ref_retries,
                 w->job.limits.slots, w->exhausted);
            return;
        }
        if (pick == PRS_PICK_WAIT || pick == PRS_PICK_END) return;
        if (pick == PRS_PICK_RETRY) {
            start_batch(w, &t, true);
            continue;
        }
        while (w->cursor < w->job.batches && w->store[w->cursor].state != REC_PENDING)
            w->cursor++;
        if (w->cursor == w->job.batches) {
            prs_sched_store_exhausted(&w->s);
            w->exhausted = true;
            narrate(w, "store exhausted");
            continue;
        }
        uint32_t id = w->cursor++;
        t = (prs_ticket){
            .batch_id = id, .attempt = w->store[id].attempts + 1u, .item_count = w->job.items[id]};
        start_batch(w, &t, false);
    }
}

static void ev_init(world *w, bool ok) {
    for (uint32_t i = 0; i < w->job.limits.workers; i++) {
        if (w->worker[i] != W_UNREPORTED) continue;
        prs_sched_worker_init(&w->s, ok);
        w->worker[i] = ok ? W_READY : W_FAILED;
        if (ok) {
            w->ref_ready++;
        } else if (++w->ref_init_failed == w->job.limits.workers) {
            ref_drain(w, 1u << PRS_REASON_INIT_FAILED);
        }
        narrate(w, "worker %u init %s", i, ok ? "ok" : "failed");
        return;
    }
}

static void ev_run(world *w) {
    if (w->nqueued == 0) return;
    for (uint32_t k = 0; k < w->job.limits.workers; k++) {
        if (w->worker[k] != W_READY || w->worker_busy[k]) continue;
        uint32_t id = w->queued[0];
        memmove(w->queued, w->queued + 1, (w->nqueued - 1) * sizeof(w->queued[0]));
        w->nqueued--;
        w->worker_busy[k] = true;
        w->running[w->nrunning++] = (running_rec){.batch = id, .worker = k, .start_ms = w->now_ms};
        prs_sched_running(&w->s, id, w->now_ms);
        w->rs[id] = RS_RUNNING;
        uint64_t tmo = w->job.limits.run_timeout_ms;
        w->ref_deadline[id] = tmo ? w->now_ms + tmo : UINT64_MAX;
        w->touched = id;
        narrate(w, "worker %u runs batch %u at %llu ms", k, id, (unsigned long long)w->now_ms);
        return;
    }
}

/* Ends running[idx]. direct: the supervisor's crash repair writes the store at once. */
static void complete(world *w, uint32_t idx, enum prs_outcome outcome, uint64_t rows, bool direct) {
    running_rec run = w->running[idx];
    memmove(w->running + idx, w->running + idx + 1,
            (w->nrunning - idx - 1) * sizeof(w->running[0]));
    w->nrunning--;
    if (w->opt->bug != PRS_SIM_BUG_WORKER_LEAK || outcome != PRS_OUTCOME_TIMEOUT)
        w->worker_busy[run.worker] = false;
    uint32_t id = run.batch;
    uint32_t items = w->job.items[id];
    uint32_t att = w->ref_attempt[id];
    uint32_t max_try = w->job.limits.run_max_try;
    w->touched = id;

    write_rec want = {.batch = id, .attempt = (uint8_t)att};
    prs_sched_counts *c = &w->ref_counts;
    if (outcome == PRS_OUTCOME_OK) {
        want.verdict = PRS_VERDICT_DONE;
        want.ok_items = (uint32_t)PRS_MIN(rows, (uint64_t)items);
        c->done_batches++;
        c->succeeded_items += want.ok_items;
        c->failed_items += items - want.ok_items;
        w->rs[id] = RS_FINISHED;
    } else if (att < max_try) {
        want.verdict = PRS_VERDICT_RETRY;
        if (w->ref_running) {
            w->rs[id] = RS_RETRY;
            w->ref_attempt[id] = (uint8_t)(att + 1);
            w->ref_retries++;
        } else {
            w->rs[id] = RS_IDLE; /* draining: the try is spent, the batch waits for a resume */
        }
    } else {
        want.verdict = PRS_VERDICT_FAILED;
        c->failed_batches++;
        c->failed_items += items;
        w->rs[id] = RS_FINISHED;
    }
    w->ref_inflight--;

    prs_ticket fin = {0};
    enum prs_verdict v = prs_sched_complete(&w->s, id, outcome, rows, &fin);
    if (w->opt->bug == PRS_SIM_BUG_VERDICT_FLIP && v == PRS_VERDICT_FAILED) v = PRS_VERDICT_RETRY;
    static const char *outcome_text[] = {"OK", "ERROR", "TIMEOUT", "CRASH"};
    narrate(w, "batch %u attempt %u %s rows %llu -> %s", id, fin.attempt, outcome_text[outcome],
            (unsigned long long)rows, verdict_text(v));
    if ((int)v != want.verdict || fin.batch_id != id || fin.attempt != att ||
        fin.item_count != items) {
        fail(w, "verdict",
             "batch %u outcome %s: scheduler said %s for batch %llu attempt %u items %u; the "
             "reference says %s for attempt %u items %u",
             id, outcome_text[outcome], verdict_text(v), (unsigned long long)fin.batch_id,
             fin.attempt, fin.item_count, verdict_text(want.verdict), att, items);
        return;
    }
    if (w->ref_running) {
        unsigned over = thresholds_exceeded(&w->job.limits, c);
        if (over) ref_drain(w, over);
    }
    write_rec got = {.batch = id,
                     .verdict = (uint8_t)v,
                     .attempt = (uint8_t)fin.attempt,
                     .ok_items = (uint32_t)PRS_MIN(rows, (uint64_t)fin.item_count)};
    if (direct) {
        if (w->opt->bug == PRS_SIM_BUG_CRASH_SAME_ATTEMPT && got.verdict == PRS_VERDICT_RETRY)
            got.attempt--;
        apply(w, w->store, &got, "harness");
        apply(w, w->ref_store, &want, "reference");
        return;
    }
    if (w->nbuf == SIM_BUF_CAP) commit(w);
    w->buf[w->nbuf++] = got;
    w->ref_buf[w->nref_buf++] = want;
    prs_sim_stats *st = &w->r->stats;
    if (outcome == PRS_OUTCOME_TIMEOUT) st->timeouts++;
    if (v == PRS_VERDICT_RETRY) st->retries++;
}

static void check_expired(world *w) {
    uint64_t ids[SIM_EXPIRED_CAP];
    size_t n = prs_sched_expired(&w->s, w->now_ms, ids, SIM_EXPIRED_CAP);
    uint32_t want = 0;
    for (uint32_t i = 0; i < w->nrunning; i++) {
        if (w->ref_deadline[w->running[i].batch] <= w->now_ms) want++;
    }
    w->mark_gen++;
    for (size_t i = 0; i < n; i++) {
        uint64_t id = ids[i];
        if (id >= w->job.batches || w->rs[id] != RS_RUNNING || w->ref_deadline[id] > w->now_ms ||
            w->mark[id] == w->mark_gen) {
            fail(w, "deadline",
                 "prs_sched_expired at %llu ms names batch %llu, which is not a "
                 "running batch past its deadline (or is named twice)",
                 (unsigned long long)w->now_ms, (unsigned long long)id);
            return;
        }
        w->mark[id] = w->mark_gen;
    }
    if (n != want) {
        fail(w, "deadline", "prs_sched_expired at %llu ms names %zu batches, the reference %u",
             (unsigned long long)w->now_ms, n, want);
    }
}

static void ev_finish_run(world *w, uint8_t a, uint16_t b, enum prs_outcome outcome) {
    if (w->nrunning == 0) return;
    uint32_t idx = a % w->nrunning;
    const running_rec *run = &w->running[idx];
    uint64_t tmo = w->job.limits.run_timeout_ms;
    /* Past its deadline the watchdog has cancelled it: the worker reports a timeout. */
    if (tmo && run->start_ms + tmo <= w->now_ms) outcome = PRS_OUTCOME_TIMEOUT;
    uint64_t rows = outcome == PRS_OUTCOME_OK ? b % (w->job.items[run->batch] + 3u) : 0;
    complete(w, idx, outcome, rows, false);
}

static void ev_hang(world *w, uint8_t a, uint16_t b) {
    uint64_t tmo = w->job.limits.run_timeout_ms;
    if (w->nrunning == 0 || tmo == 0) return; /* no deadline: a hang is the user's to see */
    uint32_t idx = a % w->nrunning;
    uint64_t deadline = w->running[idx].start_ms + tmo;
    if (w->now_ms < deadline) w->now_ms = deadline;
    check_expired(w);
    if (w->r->failed) return;
    w->r->stats.hangs++;
    complete(w, idx, PRS_OUTCOME_TIMEOUT, 0, false);
    if (w->r->failed || !(b & 1u)) return;
    /* run() ignored the cancel: the runtime commits the timeout and restarts (coord.c: abandon);
     * the other running batches are not charged. */
    commit(w);
    if (!w->r->failed) restart(w);
}

static void ev_tick(world *w, uint16_t b) {
    w->now_ms += b;
    if (w->job.limits.run_timeout_ms) {
        /* The runtime's watchdog re-arms every running batch each tick: must be idempotent. */
        for (uint32_t i = 0; i < w->nrunning; i++)
            prs_sched_running(&w->s, w->running[i].batch, w->running[i].start_ms);
    }
    check_expired(w);
}

static void ev_crash(world *w, uint8_t mask, uint16_t b) {
    prs_sim_stats *st = &w->r->stats;
    if (b & 2u) {
        w->die_before_result = true;
        narrate(w, "armed: this process dies between its last commit and its result");
        return;
    }
    st->crashes++;
    if (b & 1u) {
        commit(w); /* died just after the group commit */
    } else {
        w->nbuf = w->nref_buf = 0; /* died before it: the group is lost */
    }
    uint32_t ids[PRS_SIM_MAX_WORKERS], n = 0;
    for (uint32_t i = 0; i < w->nrunning; i++) {
        if (mask & (1u << i)) ids[n++] = w->running[i].batch;
    }
    narrate(w, "process dies%s; %u running batches charged", b & 1u ? " after a commit" : "", n);
    for (uint32_t k = 0; k < n && !w->r->failed; k++) {
        for (uint32_t i = 0; i < w->nrunning; i++) {
            if (w->running[i].batch != ids[k]) continue;
            complete(w, i, PRS_OUTCOME_CRASH, 0, true);
            st->charged++;
            break;
        }
    }
    if (!w->r->failed) restart(w);
}

static void ev_stop(world *w, uint16_t b) {
    prs_sched_stop(&w->s);
    w->ref_stop_asked = true;
    ref_drain(w, 1u << PRS_REASON_STOP_REQUESTED);
    narrate(w, "stop requested%s", b & 1u ? "; queued batches taken back" : "");
    if (!(b & 1u) || w->nqueued == 0) return;
    if (w->s.state == PRS_JOB_RUNNING) {
        fail(w, "state", "still RUNNING after prs_sched_stop");
        return;
    }
    for (uint32_t i = 0; i < w->nqueued; i++) {
        uint32_t id = w->queued[i];
        prs_sched_unstart(&w->s, id);
        w->rs[id] = RS_IDLE;
        w->ref_inflight--;
        w->r->stats.takebacks++;
        w->touched = id;
    }
    w->nqueued = 0;
}

static void ev_disk_full(world *w) {
    w->r->stats.disk_full++;
    prs_sched_stop(&w->s);
    if (w->s.state == PRS_JOB_RUNNING) {
        fail(w, "state", "still RUNNING after prs_sched_stop");
        return;
    }
    narrate(w, "commit fails (disk full): %u verdicts lost, the runtime stops", w->nbuf);
    w->nbuf = w->nref_buf = 0;
    restart(w);
}

/* ---- checks after every event ---- */

static void check_counts(world *w) {
    const prs_sched_counts *a = &w->s.counts, *b = &w->ref_counts;
    if (a->total_batches != b->total_batches || a->total_items != b->total_items ||
        a->done_batches != b->done_batches || a->failed_batches != b->failed_batches ||
        a->succeeded_items != b->succeeded_items || a->failed_items != b->failed_items) {
        fail(w, "counts",
             "scheduler batches %llu/%llu done/%llu failed, items %llu/%llu ok/%llu failed; "
             "reference batches %llu/%llu/%llu, items %llu/%llu/%llu",
             (unsigned long long)a->total_batches, (unsigned long long)a->done_batches,
             (unsigned long long)a->failed_batches, (unsigned long long)a->total_items,
             (unsigned long long)a->succeeded_items, (unsigned long long)a->failed_items,
             (unsigned long long)b->total_batches, (unsigned long long)b->done_batches,
             (unsigned long long)b->failed_batches, (unsigned long long)b->total_items,
             (unsigned long long)b->succeeded_items, (unsigned long long)b->failed_items);
    }
}

static void check_state(world *w) {
    const prs_sched *s = &w->s;
    if (s->workers_ready != w->ref_ready || s->workers_init_failed != w->ref_init_failed) {
        fail(w, "state", "workers ready/failed %u/%u, reference %u/%u", s->workers_ready,
             s->workers_init_failed, w->ref_ready, w->ref_init_failed);
        return;
    }
    if ((s->state == PRS_JOB_RUNNING) != w->ref_running) {
        fail(w, "state", "scheduler %s (%s), reference %s", prs_sched_state_text(s->state),
             prs_sched_reason_text(s->reason), w->ref_running ? "RUNNING" : "DRAINING");
        return;
    }
    if (!w->ref_running &&
        (s->state != PRS_JOB_DRAINING || (unsigned)s->reason > PRS_REASON_STOP_REQUESTED ||
         !(w->ref_reasons & (1u << s->reason)))) {
        fail(w, "state", "scheduler %s for '%s'; the reference allows reasons 0x%x",
             prs_sched_state_text(s->state), prs_sched_reason_text(s->reason), w->ref_reasons);
    }
}

static void check_slots(world *w) {
    const prs_sched *s = &w->s;
    if (s->in_flight != w->ref_inflight) {
        fail(w, "slots", "in_flight %u, reference %u", s->in_flight, w->ref_inflight);
        return;
    }
    w->mark_gen++;
    uint32_t used = 0;
    for (uint32_t i = 0; i < w->job.limits.slots; i++) {
        const prs_sched_slot *sl = &s->slot[i];
        if (!sl->used) continue;
        uint64_t id = sl->ticket.batch_id;
        if (id >= w->job.batches || (w->rs[id] != RS_QUEUED && w->rs[id] != RS_RUNNING) ||
            w->mark[id] == w->mark_gen || sl->ticket.attempt != w->ref_attempt[id] ||
            sl->ticket.item_count != w->job.items[id]) {
            fail(w, "slots",
                 "slot %u holds batch %llu attempt %u, which the reference does not "
                 "have in flight (or twice)",
                 i, (unsigned long long)id, sl->ticket.attempt);
            return;
        }
        w->mark[id] = w->mark_gen;
        used++;
    }
    if (used != w->ref_inflight) {
        fail(w, "slots", "%u slots used, reference %u in flight", used, w->ref_inflight);
        return;
    }
    if (!w->ref_running) return; /* what a drained scheduler keeps queued is its own business */
    if (s->retry_len != w->ref_retries) {
        fail(w, "slots", "%u retries queued, reference %u", s->retry_len, w->ref_retries);
        return;
    }
    w->mark_gen++;
    for (uint32_t k = 0; k < s->retry_len; k++) {
        const prs_ticket *t = &s->retry[(s->retry_head + k) % PRS_SCHED_MAX_SLOTS];
        uint64_t id = t->batch_id;
        if (id >= w->job.batches || w->rs[id] != RS_RETRY || w->mark[id] == w->mark_gen ||
            t->attempt != w->ref_attempt[id]) {
            fail(w, "slots",
                 "retry queue holds batch %llu attempt %u, which the reference "
                 "does not queue (or twice)",
                 (unsigned long long)id, t->attempt);
            return;
        }
        w->mark[id] = w->mark_gen;
    }
}

static void check_has(world *w, uint32_t id) {
    if (id >= w->job.batches) return;
    bool want = w->rs[id] == RS_QUEUED || w->rs[id] == RS_RUNNING;
    if (prs_sched_has(&w->s, id) != want)
        fail(w, "slots", "prs_sched_has(%u) is %d, reference %d", id, !want, want);
}

static void check_store(world *w) {
    uint32_t max_try = w->job.limits.run_max_try;
    for (uint32_t i = 0; i < w->job.batches; i++) {
        const rec *a = &w->store[i], *b = &w->ref_store[i];
        if (a->state != b->state || a->attempts != b->attempts || a->succeeded != b->succeeded) {
            fail(w, "store",
                 "batch %u is %s, %u tries, %u ok in the store; the reference says "
                 "%s, %u tries, %u ok",
                 i, rec_state_text(a->state), a->attempts, a->succeeded, rec_state_text(b->state),
                 b->attempts, b->succeeded);
            return;
        }
        if (a->attempts > max_try || (a->state == REC_PENDING && a->attempts >= max_try)) {
            fail(w, "attempts", "batch %u is %s with %u tries spent of run_max_try %u", i,
                 rec_state_text(a->state), a->attempts, max_try);
            return;
        }
    }
    w->store_changed = false;
}

static void maybe_end(world *w) {
    /* A finished process ends; a new one may be finished at once (nothing pending, told so
     * at start), then the job ends and the next begins, which never is: a few rounds. */
    for (int round = 0; round < 8 && !w->r->failed && !w->settled; round++) {
        bool want =
            w->ref_inflight == 0 && (!w->ref_running || (w->exhausted && w->ref_retries == 0));
        bool got = prs_sched_finished(&w->s);
        if (got != want) {
            fail(w, "finished",
                 "prs_sched_finished is %d, reference %d (in flight %u, running "
                 "%d, exhausted %d, retries %u)",
                 got, want, w->ref_inflight, w->ref_running, w->exhausted, w->ref_retries);
            return;
        }
        if (!got) return;
        end_process(w);
    }
}

static void check_all(world *w) {
    if (!w->r->failed) check_counts(w);
    if (!w->r->failed) check_state(w);
    if (!w->r->failed) check_slots(w);
    if (!w->r->failed) check_has(w, w->touched);
    if (!w->r->failed && w->job.batches) check_has(w, (uint32_t)(w->step % w->job.batches));
    if (!w->r->failed && w->store_changed) check_store(w);
    if (!w->r->failed) maybe_end(w);
    /* A new process or job may have begun: its first state is checked too. */
    if (!w->r->failed && w->store_changed) check_store(w);
    if (!w->r->failed) check_counts(w);
}

static void exec(world *w, const prs_sim_event *e) {
    w->ev = e;
    w->touched = UINT32_MAX;
    w->step++;
    w->r->stats.events++;
    if (w->opt->narrate) {
        char text[64];
        prs_sim_event_text(e, text, sizeof(text));
        fprintf(w->opt->narrate, "%s%5zu %s\n", w->settling ? "  settle" : "  ", w->ev_index, text);
    }
    switch (e->kind % PRS_SIM_KINDS) {
    case PRS_SIM_INIT_OK:
        ev_init(w, true);
        break;
    case PRS_SIM_INIT_FAIL:
        ev_init(w, false);
        break;
    case PRS_SIM_DISPATCH:
        ev_dispatch(w, e->a);
        break;
    case PRS_SIM_RUN:
        ev_run(w);
        break;
    case PRS_SIM_OK:
        ev_finish_run(w, e->a, e->b, PRS_OUTCOME_OK);
        break;
    case PRS_SIM_ERROR:
        ev_finish_run(w, e->a, e->b, PRS_OUTCOME_ERROR);
        break;
    case PRS_SIM_HANG:
        ev_hang(w, e->a, e->b);
        break;
    case PRS_SIM_TICK:
        ev_tick(w, e->b);
        break;
    case PRS_SIM_COMMIT:
        commit(w);
        break;
    case PRS_SIM_CRASH:
        ev_crash(w, e->a, e->b);
        break;
    case PRS_SIM_STOP:
        ev_stop(w, e->b);
        break;
    case PRS_SIM_DISK_FULL:
        ev_disk_full(w);
        break;
    }
    check_all(w);
}

/* Fault-free: inits succeed, every run returns all its rows, commits follow. Each round
 * completes a try if anything runs, so tries left + restarts bound the rounds. */
static void settle(world *w) {
    w->settling = true;
    uint64_t bound = (uint64_t)w->job.batches * w->job.limits.run_max_try +
                     3u * (w->job.limits.slots + w->job.limits.workers) + 16u;
    uint32_t start_job = w->job_index;
    for (uint64_t round = 0; round < bound && !w->settled && !w->r->failed; round++) {
        prs_sim_event e = {.kind = PRS_SIM_INIT_OK};
        for (uint32_t i = 0; i < w->job.limits.workers && !w->settled && !w->r->failed; i++) {
            if (w->worker[i] == W_UNREPORTED) exec(w, &e);
        }
        e = (prs_sim_event){.kind = PRS_SIM_DISPATCH, .a = PRS_SIM_MAX_SLOTS};
        if (!w->settled && !w->r->failed) exec(w, &e);
        e = (prs_sim_event){.kind = PRS_SIM_RUN};
        for (uint32_t i = 0; i < w->job.limits.workers && !w->settled && !w->r->failed; i++)
            exec(w, &e);
        if (!w->settled && !w->r->failed && w->nrunning) {
            e = (prs_sim_event){.kind = PRS_SIM_OK,
                                .b = (uint16_t)w->job.items[w->running[0].batch]};
            exec(w, &e);
        }
        e = (prs_sim_event){.kind = PRS_SIM_COMMIT};
        if (!w->settled && !w->r->failed) exec(w, &e);
    }
    PRS_ASSERT(w->job_index == start_job); /* settling ends the job it found */
    if (!w->settled && !w->r->failed) {
        w->ev = NULL;
        fail(w, "liveness",
             "the job did not end within %llu fault-free rounds (in flight %u, "
             "retries %u, exhausted %d, scheduler %s)",
             (unsigned long long)bound, w->ref_inflight, w->ref_retries, w->exhausted,
             prs_sched_state_text(w->s.state));
    }
}

static world *world_new(uint64_t seed, const prs_sim_options *opt, prs_sim_result *r) {
    world *w = calloc(1, sizeof(*w));
    PRS_ASSERT(w != NULL);
    memset(r, 0, sizeof(*r));
    w->opt = opt;
    w->r = r;
    w->seed = seed;
    w->now_ms = 1000;
    job_begin(w);
    check_all(w);
    return w;
}

static int world_end(world *w, size_t n) {
    if (!w->r->failed) {
        w->ev_index = n;
        settle(w);
    }
    int rc = w->r->failed ? -1 : 0;
    free(w);
    return rc;
}

/* ---- random events ---- */

typedef struct rates {
    uint32_t init_fail_pct, short_rows_pct;
    uint32_t error_w, hang_w, tick_w, crash_w, stop_w, disk_w;
} rates;

static void draw_rates(rng *g, rates *f) {
    memset(f, 0, sizeof(*f));
    f->tick_w = 100 + below(g, 400);
    if (below(g, 8) == 0) return; /* one seed in eight: no faults at all */
    f->init_fail_pct = below(g, 3) == 0 ? below(g, 60) : 0;
    f->short_rows_pct = below(g, 40);
    f->error_w = below(g, 1000);
    f->hang_w = below(g, 500);
    f->crash_w = below(g, 150);
    f->stop_w = below(g, 2) ? below(g, 60) : 0;
    f->disk_w = below(g, 2) ? below(g, 60) : 0;
}

static void gen_event(world *w, rng *g, const rates *f, prs_sim_event *e) {
    uint32_t wt[PRS_SIM_KINDS] = {0};
    bool unreported = false, idle_ready = false;
    for (uint32_t i = 0; i < w->job.limits.workers; i++) {
        unreported |= w->worker[i] == W_UNREPORTED;
        idle_ready |= w->worker[i] == W_READY && !w->worker_busy[i];
    }
    if (unreported) {
        wt[PRS_SIM_INIT_OK] = 40u * (100u - f->init_fail_pct);
        wt[PRS_SIM_INIT_FAIL] = 40u * f->init_fail_pct;
    }
    wt[PRS_SIM_DISPATCH] = 2000;
    wt[PRS_SIM_RUN] = w->nqueued && idle_ready ? 2500 : 0;
    wt[PRS_SIM_OK] = w->nrunning ? 2500 : 0;
    wt[PRS_SIM_ERROR] = w->nrunning ? f->error_w : 0;
    wt[PRS_SIM_HANG] = w->nrunning && w->job.limits.run_timeout_ms ? f->hang_w : 0;
    wt[PRS_SIM_TICK] = f->tick_w;
    wt[PRS_SIM_COMMIT] = w->nbuf ? 800 : 0;
    wt[PRS_SIM_CRASH] = f->crash_w;
    wt[PRS_SIM_STOP] = f->stop_w;
    wt[PRS_SIM_DISK_FULL] = f->disk_w;
    uint32_t total = 0;
    for (int k = 0; k < PRS_SIM_KINDS; k++)
        total += wt[k];
    uint32_t x = below(g, total);
    int kind = 0;
    while (kind < PRS_SIM_KINDS - 1 && x >= wt[kind])
        x -= wt[kind++];
    *e = (prs_sim_event){.kind = (uint8_t)kind};
    switch (kind) {
    case PRS_SIM_DISPATCH:
        e->a = (uint8_t)(1 + below(g, 8));
        break;
    case PRS_SIM_OK: {
        e->a = (uint8_t)below(g, 256);
        uint32_t items = w->job.items[w->running[e->a % w->nrunning].batch];
        e->b = (uint16_t)(below(g, 100) < f->short_rows_pct ? below(g, items + 3) : items);
        break;
    }
    case PRS_SIM_ERROR:
        e->a = (uint8_t)below(g, 256);
        break;
    case PRS_SIM_HANG:
        e->a = (uint8_t)below(g, 256);
        e->b = below(g, 10) < 3;
        break;
    case PRS_SIM_TICK: {
        uint32_t small = (uint32_t)PRS_MAX(w->job.limits.run_timeout_ms / 2, 50u);
        e->b = (uint16_t)(below(g, 10) < 8 ? below(g, small + 1) : below(g, 65536));
        break;
    }
    case PRS_SIM_CRASH: {
        uint32_t x2 = below(g, 100);
        e->a = x2 < 60 ? (uint8_t)(1u << below(g, PRS_MAX(w->nrunning, 1u))) : x2 < 85 ? 0xFF : 0;
        e->b = (uint16_t)(below(g, 5) == 0 ? 2 : below(g, 2));
        break;
    }
    case PRS_SIM_STOP:
        e->b = below(g, 10) < 7;
        break;
    default:
        break;
    }
}

int prs_sim_run(uint64_t seed, uint64_t steps, const prs_sim_options *opt, prs_sim_event *trace,
                size_t trace_cap, size_t *trace_len, prs_sim_result *r) {
    rng g;
    rng_seed(&g, seed ^ 0x5EEDull);
    rates f;
    draw_rates(&g, &f);
    world *w = world_new(seed, opt, r);
    size_t i = 0;
    for (; i < steps && !r->failed; i++) {
        prs_sim_event e;
        gen_event(w, &g, &f, &e);
        if (trace && i < trace_cap) trace[i] = e;
        w->ev_index = i;
        exec(w, &e);
    }
    if (trace_len) *trace_len = PRS_MIN(i, trace_cap);
    return world_end(w, i);
}

int prs_sim_replay(uint64_t seed, const prs_sim_event *events, size_t n, const prs_sim_options *opt,
                   prs_sim_result *r) {
    world *w = world_new(seed, opt, r);
    for (size_t i = 0; i < n && !r->failed; i++) {
        w->ev_index = i;
        exec(w, &events[i]);
    }
    return world_end(w, n);
}

/* ---- shrinking ---- */

static bool same_failure(const prs_sim_result *a, const char *tag) {
    return a->failed && strcmp(a->tag, tag) == 0;
}

size_t prs_sim_shrink(uint64_t seed, prs_sim_event *events, size_t n, const prs_sim_options *opt,
                      size_t max_replays, prs_sim_result *r) {
    prs_sim_options quiet = *opt;
    quiet.narrate = NULL;
    prs_sim_result *res = malloc(sizeof(*res));
    prs_sim_event *tmp = malloc(PRS_MAX(n, (size_t)1) * sizeof(*tmp));
    PRS_ASSERT(res != NULL && tmp != NULL);
    prs_sim_replay(seed, events, n, &quiet, r);
    if (!r->failed) goto out;
    const char *tag = r->tag;
    if (r->fail_index < n) n = r->fail_index + 1;
    size_t replays = 0;
    /* Halving chunks, then single events until a pass removes nothing. */
    for (size_t chunk = PRS_MAX(n / 2, (size_t)1); replays < max_replays;) {
        bool removed = false;
        for (size_t i = 0; i < n && replays < max_replays;) {
            size_t len = PRS_MIN(chunk, n - i);
            memcpy(tmp, events, i * sizeof(*tmp));
            memcpy(tmp + i, events + i + len, (n - i - len) * sizeof(*tmp));
            prs_sim_replay(seed, tmp, n - len, &quiet, res);
            replays++;
            if (same_failure(res, tag)) {
                size_t m = n - len;
                if (res->fail_index < m) m = res->fail_index + 1;
                memcpy(events, tmp, m * sizeof(*tmp));
                n = m;
                removed = true;
            } else {
                i += len;
            }
        }
        if (chunk == 1 && !removed) break;
        chunk = PRS_MAX(chunk / 2, (size_t)1);
    }
    prs_sim_replay(seed, events, n, &quiet, r);
out:
    free(tmp);
    free(res);
    return n;
}

/* ---- jobs ---- */

void prs_sim_job_from_seed(uint64_t seed, uint32_t index, prs_sim_job *job) {
    rng g;
    rng_seed(&g, seed * 0x9E3779B97F4A7C15ull + index + 1);
    memset(job, 0, sizeof(*job));
    job->batches = 1 + below(&g, below(&g, 2) ? 20 : PRS_SIM_MAX_BATCHES);
    uint32_t max_items = 1 + below(&g, PRS_SIM_MAX_ITEMS);
    for (uint32_t i = 0; i < job->batches; i++)
        job->items[i] = 1 + below(&g, max_items);
    prs_sched_limits *l = &job->limits;
    l->run_max_try = 1 + below(&g, 5);
    l->error_threshold = below(&g, 2) ? -1 : (int64_t)below(&g, 3 * max_items);
    l->allowed_failed_count = below(&g, 2) ? -1 : (int64_t)below(&g, 6);
    uint32_t p = below(&g, 10);
    l->allowed_failed_percent = p < 4 ? 100 : p == 4 ? 0 : below(&g, 101);
    l->run_timeout_ms = below(&g, 4) == 0 ? 0 : 10 + below(&g, 5000);
    l->slots = 1 + below(&g, PRS_SIM_MAX_SLOTS);
    l->workers = 1 + below(&g, PRS_SIM_MAX_WORKERS);
    job->exhausted_at_start = below(&g, 2);
}

size_t prs_sim_job_from_bytes(const uint8_t *data, size_t size, prs_sim_job *job) {
    uint8_t b[8] = {0};
    size_t used = PRS_MIN(size, sizeof(b));
    memcpy(b, data, used);
    memset(job, 0, sizeof(*job));
    /* Small jobs: a fuzzer reaches every end of a 5-batch job in few events, and the settle
     * phase of a big one would cost more than its events. */
    job->batches = 1 + (b[0] & 0x80 ? b[0] % 40 : b[0] % 8);
    uint64_t x = b[7];
    uint32_t max_items = 1 + b[7] % PRS_SIM_MAX_ITEMS;
    for (uint32_t i = 0; i < job->batches; i++)
        job->items[i] = 1 + (uint32_t)(splitmix64(&x) % max_items);
    prs_sched_limits *l = &job->limits;
    l->run_max_try = 1 + b[1] % 5;
    job->exhausted_at_start = b[1] & 0x80;
    l->error_threshold = b[2] < 128 ? -1 : (b[2] - 128) % 40;
    l->allowed_failed_count = b[3] < 128 ? -1 : (b[3] - 128) % 6;
    l->allowed_failed_percent = b[4] <= 100 ? b[4] : 100;
    l->run_timeout_ms = b[5] < 64 ? 0 : (uint64_t)b[5] * 20;
    l->slots = 1 + b[6] % PRS_SIM_MAX_SLOTS;
    l->workers = 1 + (b[6] >> 4) % PRS_SIM_MAX_WORKERS;
    return used;
}

/* ---- text ---- */

int prs_sim_event_token(const prs_sim_event *e, char *buf, size_t cap) {
    char letter = e->kind < PRS_SIM_KINDS ? kind_letter[e->kind] : '?';
    return snprintf(buf, cap, "%c%u:%u", letter, e->a, e->b);
}

long prs_sim_parse_trace(const char *text, prs_sim_event *events, size_t cap) {
    size_t n = 0;
    const char *p = text;
    for (size_t guard = 0; guard <= strlen(text); guard++) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == ',')
            p++;
        if (*p == '\0') return (long)n;
        const char *k = strchr(kind_letter, *p);
        if (!k || n == cap) return -1;
        char *end;
        unsigned long a = strtoul(p + 1, &end, 10);
        if (end == p + 1 || *end != ':' || a > 255) return -1;
        const char *bp = end + 1;
        unsigned long b = strtoul(bp, &end, 10);
        if (end == bp || b > 65535) return -1;
        events[n++] =
            (prs_sim_event){.kind = (uint8_t)(k - kind_letter), .a = (uint8_t)a, .b = (uint16_t)b};
        p = end;
    }
    return -1;
}

void prs_sim_event_text(const prs_sim_event *e, char *buf, size_t cap) {
    char tok[24];
    prs_sim_event_token(e, tok, sizeof(tok));
    switch (e->kind) {
    case PRS_SIM_DISPATCH:
        snprintf(buf, cap, "%s DISPATCH x%u", tok, PRS_MAX(e->a, 1u));
        break;
    case PRS_SIM_OK:
        snprintf(buf, cap, "%s OK running#%u rows=%u", tok, e->a, e->b);
        break;
    case PRS_SIM_ERROR:
        snprintf(buf, cap, "%s ERROR running#%u", tok, e->a);
        break;
    case PRS_SIM_HANG:
        snprintf(buf, cap, "%s HANG running#%u%s", tok, e->a, e->b & 1u ? " +restart" : "");
        break;
    case PRS_SIM_TICK:
        snprintf(buf, cap, "%s TICK +%u ms", tok, e->b);
        break;
    case PRS_SIM_CRASH:
        if (e->b & 2u) {
            snprintf(buf, cap, "%s CRASH-BEFORE-RESULT (armed)", tok);
        } else {
            snprintf(buf, cap, "%s CRASH charge-mask=0x%x%s", tok, e->a,
                     e->b & 1u ? " after-commit" : " before-commit");
        }
        break;
    case PRS_SIM_STOP:
        snprintf(buf, cap, "%s STOP%s", tok, e->b & 1u ? " +takeback" : "");
        break;
    default:
        snprintf(buf, cap, "%s %s", tok, kind_name(e->kind));
        break;
    }
}

void prs_sim_job_text(const prs_sim_job *job, char *buf, size_t cap) {
    const prs_sched_limits *l = &job->limits;
    uint64_t items = 0;
    for (uint32_t i = 0; i < job->batches; i++)
        items += job->items[i];
    snprintf(buf, cap,
             "%u batches, %llu items, run_max_try %u, error_threshold %lld, allowed_failed_count "
             "%lld, allowed_failed_percent %u, run_timeout_ms %llu, slots %u, workers %u%s",
             job->batches, (unsigned long long)items, l->run_max_try, (long long)l->error_threshold,
             (long long)l->allowed_failed_count, l->allowed_failed_percent,
             (unsigned long long)l->run_timeout_ms, l->slots, l->workers,
             job->exhausted_at_start ? ", exhausted told at start" : "");
}

const char *prs_sim_bug_name(enum prs_sim_bug bug) {
    switch (bug) {
    case PRS_SIM_BUG_NONE:
        return "none";
    case PRS_SIM_BUG_CRASH_SAME_ATTEMPT:
        return "crash-same-attempt";
    case PRS_SIM_BUG_CURSOR_KEPT:
        return "cursor-kept";
    case PRS_SIM_BUG_VERDICT_FLIP:
        return "verdict-flip";
    case PRS_SIM_BUG_WORKER_LEAK:
        return "worker-leak";
    case PRS_SIM_BUG_COUNT:
        break;
    }
    return "?";
}
