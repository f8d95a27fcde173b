/* sim.h -- a deterministic simulator that drives the real scheduler (core/sched.c) through
 * jobs, faults and restarts, and checks it against an independent reference model.
 *
 * Owns: one simulated world per run: a durable store (per batch: pending/done/failed,
 *   attempts spent, items succeeded), a simulated clock, workers, a dispatch queue, a write
 *   buffer of verdicts not yet committed, and the reference model that predicts what the
 *   scheduler and the store must hold after every event.
 * May call: core/sched.h and libc. No threads, no clock, no randomness but the seed's.
 * Callers must: give a seed (the jobs' shapes and limits derive from it) and either let
 *   prs_sim_run() draw events from the seed, or replay an event array; the same seed and
 *   events give the same run, bit for bit, so any failure is a trace that reproduces it.
 *
 * What is modelled (one event each, see enum prs_sim_kind):
 *   worker init ok/failed; dispatch (prs_sched_next: NEW takes the store's next pending
 *   batch by a cursor, or reports the store exhausted; RETRY; then prs_sched_start); a worker
 *   starts run() (prs_sched_running); run() returns rows or an error; run() hangs past its
 *   deadline (found by prs_sched_expired, completed as TIMEOUT; optionally the thread ignores
 *   the cancel and the runtime restarts after committing the timeout); time passes; a group
 *   commit (verdicts reach the store only here, atomically); a process crash (the scoreboard
 *   charges a try to the crashed running batches only, CRASH outcome; the uncommitted group
 *   is lost, or was committed just before the death; or a death between a finished
 *   process's last commit and its result's); a stop request (drain, optionally
 *   taking queued batches back with prs_sched_unstart); a full disk (a commit fails: the
 *   runtime stops, resumable). A finished scheduler ends the process: STOPPED resumes with
 *   a new prs_sched built from the store; SUCCEEDED/FAILED ends the job and the next job of
 *   the seed begins. After the random events, a fault-free settle phase must end the job
 *   within a step bound.
 *
 * Invariants checked after every event (a broken one fails the run, naming it):
 *   pick: what prs_sched_next may answer given slots, ready workers, retries, store, state;
 *   start: a NEW batch is pending in the store, idle, attempt = attempts spent + 1 <=
 *     run_max_try; a RETRY ticket is a queued retry with the next attempt; done/failed
 *     batches (committed or not) never start again;
 *   verdict: each completion's verdict and final ticket equal the reference's;
 *   counts: prs_sched counts == store counts + uncommitted verdicts (all six fields);
 *   slots: the slot table and retry ring hold exactly the reference's batches, once each;
 *   state: RUNNING/DRAINING and the drain reason agree (a threshold reason must be exceeded);
 *   deadline: prs_sched_expired returns exactly the running batches past their deadline;
 *   store: the store equals the reference's store; committed done/failed never change;
 *     attempts <= run_max_try, pending batches keep a try left;
 *   finished: prs_sched_finished agrees with the reference;
 *   result: SUCCEEDED exceeds no threshold and leaves no batch pending (none lost); FAILED
 *     names an exceeded threshold or all inits failed; STOPPED only after a stop;
 *   liveness: the fault-free settle phase ends the job within its bound. */
#ifndef PRS_SIM_H
#define PRS_SIM_H

#include "sched.h"

#include <stdio.h>

#define PRS_SIM_MAX_BATCHES 200u
#define PRS_SIM_MAX_WORKERS 4u
#define PRS_SIM_MAX_SLOTS 16u
#define PRS_SIM_MAX_ITEMS 50u

/* Event kinds; a and b are the event's arguments, n the number of running batches.
 *   INIT_OK / INIT_FAIL  the next worker that has not reported finishes init() / fails it
 *   DISPATCH   up to a picks from prs_sched_next, each started (a == 0: one)
 *   RUN        an idle ready worker takes the oldest queued batch: prs_sched_running
 *   OK         running batch a%n returns b%(items+3) rows (a timeout if past its deadline)
 *   ERROR      running batch a%n: run() returns < 0
 *   HANG       running batch a%n hangs: clock to its deadline, TIMEOUT; b&1: run() ignores the
 *              cancel, the runtime commits the timeout and restarts
 *   TICK       b ms pass; deadlines re-armed as the runtime does, expired batches checked
 *   COMMIT     the write buffer reaches the store
 *   CRASH      the process dies: running batch i charged (CRASH) if bit i of a is set;
 *              b&1: just after a commit; b&2: instead, arm a death between the process's
 *              last commit and the commit of its result
 *   STOP       stop requested; b&1: queued batches taken back (prs_sched_unstart)
 *   DISK_FULL  a commit fails: the runtime stops, the group is lost, restart */
enum prs_sim_kind {
    PRS_SIM_INIT_OK = 0,
    PRS_SIM_INIT_FAIL,
    PRS_SIM_DISPATCH,
    PRS_SIM_RUN,
    PRS_SIM_OK,
    PRS_SIM_ERROR,
    PRS_SIM_HANG,
    PRS_SIM_TICK,
    PRS_SIM_COMMIT,
    PRS_SIM_CRASH,
    PRS_SIM_STOP,
    PRS_SIM_DISK_FULL,
    PRS_SIM_KINDS
};

/* Compact and replayable: every event means something (or nothing) in any state. */
typedef struct prs_sim_event {
    uint8_t kind; /* enum prs_sim_kind */
    uint8_t a;
    uint16_t b;
} prs_sim_event;

typedef struct prs_sim_job {
    uint32_t batches;
    uint32_t items[PRS_SIM_MAX_BATCHES];
    prs_sched_limits limits;
    bool exhausted_at_start; /* tell prs_sched_store_exhausted at start when nothing is pending */
} prs_sim_job;

/* Bugs the harness can plant in itself, to show the checks catch them. */
enum prs_sim_bug {
    PRS_SIM_BUG_NONE = 0,
    PRS_SIM_BUG_CRASH_SAME_ATTEMPT, /* crash repair forgets the try: re-run with the same attempt */
    PRS_SIM_BUG_CURSOR_KEPT,        /* a restart keeps the dead process's store cursor */
    PRS_SIM_BUG_VERDICT_FLIP,       /* a last-try failure is passed on as RETRY */
    PRS_SIM_BUG_WORKER_LEAK,        /* a worker whose run() timed out never takes a batch again */
    PRS_SIM_BUG_COUNT
};

typedef struct prs_sim_options {
    enum prs_sim_bug bug;
    FILE *narrate; /* non-NULL: one line per event, what the scheduler and store did */
    const prs_sim_job *first_job; /* non-NULL: job 0 is this one (the fuzz target's) */
} prs_sim_options;

typedef struct prs_sim_stats {
    uint64_t events;                                    /* random and settle events executed */
    uint64_t jobs_succeeded, jobs_failed, jobs_stopped; /* stopped: resumed processes */
    uint64_t failed_by_reason[PRS_REASON_STOP_REQUESTED + 1];
    uint64_t restarts, crashes, charged, disk_full, hangs, timeouts, retries, takebacks;
    uint64_t batches_done, batches_failed;
} prs_sim_stats;

typedef struct prs_sim_result {
    bool failed;
    const char *tag;   /* the invariant broken: "pick", "counts", ... (static string) */
    char what[640];    /* the event, the job and the values that disagree */
    size_t fail_index; /* index of the failing event in the trace; n: in the settle phase */
    prs_sim_job job;   /* the job it happened in */
    prs_sim_stats stats;
} prs_sim_result;

/* Runs the seed: `steps` random events, then a settle phase. If trace is non-NULL, stores
 * the events executed (up to trace_cap; the first failing one is the last) in it and their
 * number in *trace_len. Returns 0 if every check held, -1 if one failed (r says which). */
int prs_sim_run(uint64_t seed, uint64_t steps, const prs_sim_options *opt, prs_sim_event *trace,
                size_t trace_cap, size_t *trace_len, prs_sim_result *r);

/* Replays events (jobs from the seed, or opt->first_job), then the settle phase. */
int prs_sim_replay(uint64_t seed, const prs_sim_event *events, size_t n, const prs_sim_options *opt,
                   prs_sim_result *r);

/* Shrinks a failing trace in place, keeping the same broken invariant (delta debugging,
 * at most max_replays replays). Returns the new length; *r describes its failure. */
size_t prs_sim_shrink(uint64_t seed, prs_sim_event *events, size_t n, const prs_sim_options *opt,
                      size_t max_replays, prs_sim_result *r);

/* Job `index` of a seed. */
void prs_sim_job_from_seed(uint64_t seed, uint32_t index, prs_sim_job *job);

/* A job from raw bytes (the fuzz target's); reads up to 8 bytes, returns bytes used. */
size_t prs_sim_job_from_bytes(const uint8_t *data, size_t size, prs_sim_job *job);

/* Event as a token ("O1:7") and back; tokens separated by blanks make a replayable trace. */
int prs_sim_event_token(const prs_sim_event *e, char *buf, size_t cap);
/* Parses tokens from text into events; returns the count, or -1 (bad token, or over cap). */
long prs_sim_parse_trace(const char *text, prs_sim_event *events, size_t cap);
/* Human words for an event ("OK running#1 rows=7"). */
void prs_sim_event_text(const prs_sim_event *e, char *buf, size_t cap);
void prs_sim_job_text(const prs_sim_job *job, char *buf, size_t cap);

const char *prs_sim_bug_name(enum prs_sim_bug bug);

#endif
