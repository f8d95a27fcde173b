/* coord.h -- the coordinator: the loop that runs a created job to its end.
 *
 * Three files: coord.c (set-up, the loop: dispatch and completions, close), coord_commit.c
 * (rows, group commits, the first error, prs_coord_flush/finish, the abandoning exit:
 * coord_commit.h) and coord_stop.c (stop requests, deadlines and cancels, the workers'
 * stop: coord_stop.h). This header is the contract of all three for callers.
 *
 * Owns: the scheduler (what starts, what a try's outcome means), the dispatch and done
 *   channels, a queue reader and the window of pending batches read from it, the rows of
 *   done batches not yet written, the committer (the only LMDB writer while workers run),
 *   the first error, the cancels sent to workers, the stop requests, and the workers set
 *   (started by the caller into .workers, stopped and freed here).
 * May call: core/sched, core/chan, core/committer, core/keeporder (--keep-order), core/worker,
 * core/shard (a shard's failure limit), core/scoreboard (reads the running slots), core/jobreport,
 *   core/joblog, core/supervisor (the exit), storage/queue (reads), io/outfile (appends),
 *   libc.
 * Callers must: call everything from one thread (the one running prs_job_run) except
 *   prs_coord_request_stop; keep the queue, logs, scoreboard and output file open until
 *   prs_coord_close.
 *
 * One pass of the loop: start what the scheduler picks (pending batches are read from
 * LMDB in windows, never all at once), drain completions, buffer the rows of every batch
 * the scheduler calls DONE, hand a group of batch updates with the output length to the
 * committer (it syncs the output, then commits them in one transaction: group commit),
 * watch deadlines and stop requests, draw progress. A crash before a commit loses only
 * uncommitted work: resume truncates the output to the committed length and the batches
 * are still pending.
 *
 * Functions returning int return 0 or a PRS_EXIT_* code whose message is in deps.rep.
 * A supervised runtime that must restart (a hung run(), a full map) or stop at once ends
 * the process here (_exit) after committing what it can: see prs_coord_abandon. */
#ifndef PRS_COORD_H
#define PRS_COORD_H

#include "base.h"
#include "chan.h"
#include "committer.h"
#include "jobreport.h"
#include "keeporder.h"
#include "outfile.h"
#include "queue.h"
#include "sched.h"
#include "scoreboard.h"
#include "worker.h"

#define PRS_COORD_PENDING_WINDOW 256u

/* What the coordinator uses and does not own (the lifecycle's). */
typedef struct prs_coord_deps {
    const prs_job_config *cfg;
    prs_jobreport *rep;
    prs_joblog *log;
    prs_queue *queue;
    prs_scoreboard_file *scoreboard;
    prs_outfile *out;      /* append_row: the output file; summary_only: NULL */
    const char *out_dir;   /* OUT (logs/processes.csv is under it) */
    const char *state_dir; /* OUT/.prs, for messages */
} prs_coord_deps;

typedef struct prs_coord {
    prs_coord_deps d;
    prs_sched sched;
    prs_chan dispatch, done;
    bool chans_ready;
    prs_queue_reader *reader;
    uint64_t cursor; /* the next batch id the pending window reads from */
    uint64_t pend_ids[PRS_COORD_PENDING_WINDOW];
    prs_batch_rec pend_recs[PRS_COORD_PENDING_WINDOW];
    uint32_t pend_len, pend_next;
    prs_committer *committer;
    prs_keeporder order; /* --keep-order: the reorder window (keep_order set) */
    bool keep_order;
    char *rows; /* rows of done batches not yet written to the output */
    size_t rows_len, rows_cap;
    uint64_t output_bytes; /* the output's length once every buffered row is written */
    uint64_t last_flush_ns;
    char first_error[PRS_JOBREPORT_ERROR_BYTES];
    bool first_error_new; /* not yet handed to the committer */
    unsigned stop_seen;   /* stop requests acted on */
    unsigned stop_base;   /* requests before the job began (another job's): prs_coord_stop_mark */
    uint64_t stop_ns;     /* when the first was */
    uint64_t cancelled[PRS_MAX_WORKERS]; /* batch id + 1 whose cancel was sent, per worker */
    prs_workers *workers; /* set by the caller: prs_workers_start with these channels */
    bool workers_stopped;
    bool workers_hung; /* one did not end by the shutdown bound: its thread runs on */
} prs_coord;

/* Asks the coordinators of this process to stop (prs_job_request_stop): async-signal-safe,
 * any thread. The first request stops starting batches, the second stops at once. */
void prs_coord_request_stop(void);
/* The count of stop requests so far: a job stores it in stop_base when it begins, so that a
 * request made before (during an earlier job of the process) is not its. Any thread. */
unsigned prs_coord_stop_mark(void);

/* The first error of an earlier life of the job, from the queue's meta (none: empty). */
void prs_coord_restore_first_error(prs_coord *c, prs_queue *q);

/* Sets up the scheduler for workers workers from the queue's counts, the row buffer, the
 * committer, the channels and the reader. PRS_EXIT_INTERNAL when any of them fails. c
 * must be zeroed (or restored only) before; prs_coord_close undoes any part done. */
int prs_coord_init(prs_coord *c, const prs_coord_deps *d, uint32_t workers);

/* Runs the loop until the scheduler says the job is finished. Returns 0 (the result is
 * prs_sched_result), PRS_EXIT_STOPPED (output or commit failed: resumable) or
 * PRS_EXIT_INTERNAL (the pending batches could not be read from the queue). The first
 * error decides, with its message in deps.rep. */
int prs_coord_run(prs_coord *c);

/* Nothing pending (all committed, the result not yet: a crash in prs_shutdown or in a
 * late prs_init after the last commit): marks the store exhausted and returns true, and
 * the caller starts no worker, whose init or shutdown could only crash again. After
 * prs_coord_init. */
bool prs_coord_nothing_pending(prs_coord *c);

/* Hands over the group being filled and waits until it is committed (errors are the
 * committer's sticky ones, seen again by prs_coord_finish): every batch's state reaches
 * LMDB before any prs_shutdown runs, so a crash there leaves nothing pending. */
void prs_coord_flush(prs_coord *c);

/* Stops and joins the workers, writing their rows of logs/processes.csv; completions
 * arriving meanwhile are dropped (their batches stay pending). Idempotent. */
void prs_coord_stop_workers(prs_coord *c);
/* How long the workers' prs_shutdown (all together) and prs_global_shutdown may take:
 * --run-invocation-timeout, or PRS_COORD_SHUTDOWN_BOUND_MS without one. A worker still in
 * the script then is left running (workers_hung): the runtime ends without it. */
#define PRS_COORD_SHUTDOWN_BOUND_MS 60000u
uint64_t prs_coord_shutdown_bound_ms(const prs_coord *c);
/* Now + that bound, on CLOCK_REALTIME (what pthread_timedjoin_np takes). */
struct timespec prs_coord_shutdown_deadline(const prs_coord *c);

/* The job's last commit: the first error if new, then the result (code and the report's
 * message) unless the job stopped. Returns 0, or PRS_EXIT_STOPPED when it cannot be
 * committed (a supervised runtime restarts instead when the map is full). */
int prs_coord_finish(prs_coord *c, int code, enum prs_job_state st);

/* The counts the coordinator has reached, as the queue will hold them once committed. */
void prs_coord_counts(const prs_coord *c, prs_queue_counts *out);

/* Stops the workers, lands what the committer was handed, stops it, frees the rest. */
void prs_coord_close(prs_coord *c);

#endif
