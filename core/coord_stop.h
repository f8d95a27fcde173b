/* coord_stop.h -- the coordinator's watch, inside core/coord: stop requests (the counter
 * signal handlers bump), run() deadlines and the cancels sent for them, a run() that
 * ignores its cancel (a supervised runtime restarts), and the workers' stop and join. The
 * public part (prs_coord_request_stop, prs_coord_stop_mark, prs_coord_stop_workers,
 * prs_coord_shutdown_bound_ms, prs_coord_shutdown_deadline) is declared in coord.h;
 * coord.c's loop calls prs_coord_watch once per tick.
 *
 * Owns: the process's stop-request counter; prs_coord's stop_seen, stop_ns, cancelled[],
 *   workers_stopped and workers_hung.
 * May call: core/sched, core/chan, core/worker (cancel, join, process rows),
 *   core/scoreboard (reads the running slots), core/coord_commit (error lines, a
 *   timed-out try's update, prs_coord_abandon), core/jobreport, core/joblog,
 *   storage/queue (the reader), libc.
 * Callers must: call on the coordinator's thread, after prs_coord_init and with
 *   c->workers set (prs_coord_request_stop and prs_coord_stop_mark: any thread). */
#ifndef PRS_COORD_STOP_H
#define PRS_COORD_STOP_H

#include "coord.h"

/* Stop requests and run() deadlines, once per tick: the first request stops starting
 * batches (queued ones go back to pending), the second (or the grace period's end) ends a
 * supervised runtime with running batches at once; an expired batch's worker is asked to
 * stop; one that ignores it past a grace period restarts a supervised runtime. Does not
 * return in those two cases (prs_coord_abandon). */
void prs_coord_watch(prs_coord *c);

#endif
