/* host.h -- entry scripts that run in a host process (Python), behind the entry table.
 *
 * Owns: per worker, one prs_host (ctx->user): its host process (hostproc.h), the request
 *   buffer, and what a restart needs. The worker thread drives it; the coordinator sees
 *   the same init/run/shutdown as for a shared object and cannot tell the kinds apart.
 * May call: hostproc (the process), hostmsg (the frames), joblog (user lines, process
 *   rows, error files), the worker's prs_out (rows, errors), libc.
 * Callers: entry.c puts the prs_host_entry_* functions into the table of a *.py script;
 *   the worker calls prs_host_entry_ready before each batch's timed window (a host that
 *   died is started again there, so its import and init() are not charged to
 *   --run-invocation-timeout); the runtime calls prs_host_check once per job, after the
 *   log is open and before any worker starts.
 * A dead or hung host costs its batch one try and that worker one host restart: the
 * runtime never restarts for it. The frames are those of prs_host.h. */
#ifndef PRS_HOST_LOAD_H
#define PRS_HOST_LOAD_H

#include "base.h"
#include "joblog.h"
#include "prs.h"

#define PRS_HOST_DEFAULT_PYTHON "/usr/bin/python3"

/* Imports the script once in a host of its own (no init()): a missing interpreter, a
 * script that does not import, has no run(), or a tabular job without pandas is a usage
 * error. Returns 0 or PRS_EXIT_USAGE with err saying what (the traceback's last line)
 * and the traceback in logs/user/error/<node>/traceback-import.txt. Coordinator thread
 * (it must outlive the job's workers: a host dies with the thread that started it).
 * The checked host is kept for worker 0 of the job whose config is cfg, which then
 * only runs init() in it: the import is not paid twice. */
int prs_host_check(const prs_job_config *cfg, int argc, char **argv, prs_joblog *log, char *err,
                   size_t err_size);
/* Ends the host kept for cfg's worker 0 if no worker took it. Any thread. */
void prs_host_spare_drop(const void *cfg);

/* The entry table of a hosted script; worker thread. init: 0, or -1 when the host could
 * not start or its init() failed (the traceback in logs/user/error/<node>/, its last
 * line in the user log and on stderr). run: 0 (rows emitted), -1 (run() failed: the
 * error says what it raised or returned), -EPIPE (the host died: how), -ETIMEDOUT
 * (killed past the timeout). */
int prs_host_entry_init(prs_ctx *ctx, int argc, char **argv);
int prs_host_entry_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out);
void prs_host_entry_shutdown(prs_ctx *ctx);
/* Starts a new host if the last one died. 0, or -1 with the error in out (the batch
 * then fails this try without running). */
int prs_host_entry_ready(prs_ctx *ctx, prs_out *out);

#endif
