/* crash.h -- evidence of a fatal signal in a worker, written from the signal handler.
 *
 * Owns: the process's handlers for SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT, a
 *   directory descriptor for OUT/logs/user/error/<node>/, and one alternate signal stack
 *   per worker thread (so a stack overflow still leaves evidence).
 * May call: only async-signal-safe functions inside the handler (open, write, close,
 *   backtrace_symbols_fd after backtrace was warmed up at install); at install, also
 *   core/base (fs.h: the error directory is made) and sigaction/sigaltstack.
 * Callers must: install once per process before workers start; each worker enters with
 *   its scoreboard slot and a pointer to the batch it runs (NULL between batches).
 * The handler writes crash-<pid>-w<worker>-b<batch>.txt (batch, attempt, items, signal,
 *   faulting address, stack), marks the worker's scoreboard slot CRASHED, restores the
 *   default action and re-raises: the process dies as it would have, with evidence. */
#ifndef PRS_CRASH_H
#define PRS_CRASH_H

#include "prs_entry.h"
#include "scoreboard.h"

int prs_crash_install(const char *error_dir);
/* Per worker thread. */
int prs_crash_thread_enter(int worker_id, prs_scoreboard_slot *slot);
void prs_crash_thread_leave(void);
void prs_crash_set_batch(const prs_batch *batch);

#endif
