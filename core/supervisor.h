/* supervisor.h -- the child side of prs_supervise (declared in prs.h): how a supervised
 * runtime ends so that its supervisor can tell its own exits from every other end.
 *
 * Owns: the report pipe of the current life (its write end, in the child).
 * May call: write(2), _exit(2).
 * The supervisor trusts an exit code only when the runtime reported it through the pipe
 * first (prs_supervisor_exit). Any other end -- the entry script calling exit(N) or
 * _exit(N), a signal, a stop -- is a death: it is charged to the batches in hand by the
 * scoreboard's rules (scoreboard.h, crash.h) and the runtime is restarted, so no script
 * can make its exit status the job's result. */
#ifndef PRS_SUPERVISOR_H
#define PRS_SUPERVISOR_H

#include "prs.h"

/* Ends the runtime process with code, reporting code and report (may be NULL) to the
 * supervisor first (unsupervised: just ends). Any thread; never returns. */
_Noreturn void prs_supervisor_exit(int code, const prs_job_report *report);

#endif
