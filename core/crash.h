/* crash.h -- evidence of a fatal signal in a worker, written from the signal handler.
 *
 * Owns: the process's handlers for SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT, a
 *   directory descriptor for OUT/logs/user/error/<node>/, and one alternate signal stack
 *   per worker thread (so a stack overflow still leaves evidence).
 * May call: only async-signal-safe functions inside the handler (open, write, close,
 *   backtrace_symbols_fd after backtrace was warmed up at install); at install, also
 *   core/base (fs.h: the error directory is made) and sigaction/sigaltstack.
 * Callers must: reserve, then install before workers start (one job of a process at a
 *   time: the handlers are the process's), release after they stopped; each worker enters with
 *   its scoreboard slot and a pointer to the batch it runs (NULL between batches).
 * The handler writes crash-<pid>-w<worker>-b<batch>.txt (batch, attempt, the item run()
 *   was on when known, signal, faulting address, backtrace_symbols' stack, then the raw
 *   frame addresses and the process's memory map), marks the worker's scoreboard slot
 *   CRASHED, restores the default action and re-raises: the process dies as it would
 *   have, with evidence. Function, file and line come later, outside the handler
 *   (libdw is not async-signal-safe): symbolize.h rewrites the file from the raw part.
 * Which batches a death is charged to (the policy of issue 13, case 4): a worker thread
 *   inside run() charges its own batch; a thread that is no worker and not the runtime's
 *   main thread (one the script started) charges every batch in hand (every RUNNING slot:
 *   the scoreboard's best knowledge); a worker outside run() (init, shutdown) and the main
 *   thread charge nothing (the supervisor's crash-loop rule handles those). */
#ifndef PRS_CRASH_H
#define PRS_CRASH_H

#include "prs_entry.h"
#include "scoreboard.h"

/* Claims the handlers for the calling job: 0, or -EBUSY while another job of this process
 * holds them. Any thread; a job that asks for them, before it touches OUT. */
int prs_crash_reserve(void);
/* Installs them (reserved first). scoreboard: where deaths outside a worker are charged
 * (may be NULL: never). The process's previous actions are kept for prs_crash_release.
 * Returns 0, or the -errno of making or opening error_dir or of sigaction (nothing is
 * installed then). */
int prs_crash_install(const char *error_dir, prs_scoreboard_file *scoreboard);
/* Puts back the actions prs_crash_install replaced (if it did) and ends the reservation.
 * The holder's coordinator thread, after its workers stopped. */
void prs_crash_release(void);
/* The calling thread is prs's own (the runtime's main thread): a death in it is not the
 * batches' fault. */
void prs_crash_own_thread(void);
/* Charges the death the calling thread is about to cause (exit(status), a self-sent
 * signal) by the policy above; async-signal-safe. */
void prs_crash_charge(enum prs_death_cause cause, int value);
/* Charges every batch in hand (a death no thread can be blamed for); async-signal-safe. */
void prs_crash_charge_all(enum prs_death_cause cause, int value);
/* Per worker thread. */
int prs_crash_thread_enter(int worker_id, prs_scoreboard_slot *slot);
void prs_crash_thread_leave(void);
void prs_crash_set_batch(const prs_batch *batch);
/* The batch prs_run runs on the calling thread (what prs_crash_set_batch set on it), or
 * NULL: not a worker thread inside prs_run (a thread the script started, or after run()
 * returned). prs_entry checks with it that an out is used by the call it was handed to. */
const prs_batch *prs_crash_thread_batch(void);
/* Where the worker keeps the index of the item run() is on (prs_out's progress), read by
 * the handler to name the faulting item; NULL: unknown. */
void prs_crash_set_progress(const uint32_t *progress);

/* The faulting item a crash file of (worker, batch, attempt) in error_dir names, into item.
 * Not for the handler. 0, or -ENOENT when no such file names one. */
int prs_crash_item_of(const char *error_dir, uint32_t worker, uint64_t batch, uint32_t attempt,
                      char *item, size_t item_size);

#endif
