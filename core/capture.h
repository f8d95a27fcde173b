/* capture.h -- the entry script's stdout and stderr, captured into the user log.
 *
 * Owns: two pipes that replace file descriptors 1 and 2 of this process while the job
 *   runs, a saved copy of the original stdout and stderr, and one reader thread that
 *   splits what arrives into lines and hands them to prs_joblog_capture (the stderr
 *   lines are also copied to the original stderr, so the user still sees them).
 * May call: libc, pthreads, joblog (capture only), progress (write_above only).
 * Callers must: start it once, from the coordinator, after the joblog is open and
 *   before the workers start; stop it after the workers stopped and before the joblog
 *   closes. Only a process that owns its descriptors (the supervised runtime child)
 *   should capture: an embedder's fds 1 and 2 are not prs's to take.
 * Lines are tagged with their stream, not their worker: the workers are threads of one
 *   process sharing fds 1 and 2, so nothing in the bytes says which thread wrote them
 *   (prs_log lines carry the worker). A line longer than PRS_CAPTURE_LINE_MAX is cut
 *   into several. */
#ifndef PRS_CAPTURE_H
#define PRS_CAPTURE_H

#include "base.h"
#include "joblog.h"
#include "progress.h"

#define PRS_CAPTURE_LINE_MAX 4000u

typedef struct prs_capture prs_capture;

/* Returns 0 or negative errno (nothing is redirected then). */
int prs_capture_start(prs_capture **out, prs_joblog *log);
/* Restores fds 1 and 2, drains what is in the pipes into the log and joins the reader.
 * Bounded: a process the script started that still holds the pipes is not waited for,
 * and a stream whose descriptor the script closed ends there. NULL ok. */
void prs_capture_stop(prs_capture *cap);
/* From now on the copies of stderr lines go through p (a progress bar on the terminal is
 * cleared before each and redrawn after). Any thread; p must outlive the capture. */
void prs_capture_set_progress(prs_capture *cap, prs_progress *p);
/* The original stderr, for prs's own messages (progress), which must not be captured. */
int prs_capture_stderr_fd(const prs_capture *cap);

#endif
