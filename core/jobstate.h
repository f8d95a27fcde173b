/* jobstate.h -- a job's state in OUT: the lock, --fresh, the repair after a death, and
 * the decision to create or resume.
 *
 * Owns: OUT and OUT/.prs (their resolved paths), the exclusive lock on OUT/.prs/lock, the
 *   job's logs (joblog), the stdout/stderr capture, the queue (LMDB environment) and the
 *   scoreboard file; all opened by prs_jobstate_open and closed by prs_jobstate_close.
 * May call: storage/queue, core/joblog, core/capture, core/scoreboard, core/crash,
 *   core/config (the identity diff), core/inputdiff (what changed in the input),
 *   core/jobreport (errors), libxxhash, libc.
 * Callers must: use it from the thread running prs_job_run; hold it open while anything
 *   else of the job (workers, committer) uses the queue, the logs or the scoreboard.
 *
 * Every function returns 0 or a PRS_EXIT_* code whose message is in rep (jobreport.h). */
#ifndef PRS_JOBSTATE_H
#define PRS_JOBSTATE_H

#include "base.h"
#include "capture.h"
#include "jobreport.h"
#include "joblog.h"
#include "prs.h"
#include "queue.h"
#include "scoreboard.h"

#include <limits.h>

typedef struct prs_jobstate {
    char out_dir[PATH_MAX];        /* OUT, absolute */
    char state_dir[PATH_MAX + 16]; /* OUT/.prs */
    int lock_fd;                   /* -1 when not locked */
    prs_joblog *log;
    prs_capture *capture; /* NULL unless supervised (and capture works) */
    prs_queue *queue;
    prs_scoreboard_file *scoreboard;
} prs_jobstate;

/* Creates OUT and OUT/.prs, takes the lock (waiting up to 3 s for a runtime that is
 * dying), discards the old state on --fresh, opens the logs (and sets rep->log and
 * rep->capture), the queue, the scoreboard, and installs the crash handlers when the job
 * asked for them (cfg->handlers; prs_job_run reserved them first).
 * PRS_EXIT_USAGE: OUT unusable, busy, or its state unreadable; PRS_EXIT_INTERNAL: the
 * queue or scoreboard cannot be opened. st is closeable in every case. */
int prs_jobstate_open(prs_jobstate *st, const prs_job_config *cfg, prs_jobreport *rep);
void prs_jobstate_close(prs_jobstate *st);

/* After a death: charges a try to each batch whose worker crashed (the scoreboard says
 * which), puts the rest back to pending, and clears the scoreboard. Idempotent.
 * PRS_EXIT_INTERNAL: the queue cannot be read; PRS_EXIT_STOPPED: the repair cannot be
 * committed (resumable). */
int prs_jobstate_repair(prs_jobstate *st, const prs_job_config *cfg, prs_jobreport *rep);

/* No job in the queue yet: refuses (PRS_EXIT_USAGE) an output file holding rows that no
 * job state describes, else says "new job" in master.txt. */
int prs_jobstate_check_new(prs_jobstate *st, const prs_job_config *cfg, prs_jobreport *rep);

/* The entry script's identity for the job's identity text: "size=BYTES,xxh3=HASH" of
 * the file's content (XXH3-64, as side tables are identified; a Python script: its .py
 * file). Any thread; reads the file once. 0; -ENOBUFS (out_size below
 * PRS_CONFIG_SCRIPT_ID_BYTES); open's or read's errno. */
int prs_jobstate_script_identity(const char *path, char *out, size_t out_size);

/* A job in the queue: it must be the one config_text describes (PRS_EXIT_USAGE naming
 * the first option that differs), else says "resuming" in master.txt. An entry script
 * whose content changed is refused the same way (saying how the output would mix rows of
 * both versions) unless cfg->allow_changed_script: then master.txt records the change and
 * the stored identity becomes the new one. A job created before the script's identity was
 * recorded gets it recorded now. PRS_EXIT_INTERNAL: the stored config cannot be read;
 * PRS_EXIT_STOPPED: the new identity cannot be committed (resumable). */
int prs_jobstate_check_resume(prs_jobstate *st, const prs_job_config *cfg, const char *config_text,
                              prs_jobreport *rep);

/* --retry-failed: a finished job's failed batches go back to pending with no try spent,
 * the counts lose them, the result is cleared, and the "retry" meta says what this retry
 * took ("BATCHES ITEMS FAILED_ITEMS_BEFORE"); then the job resumes like any other, its
 * rows appended once to the same output. In commits of up to 4096 batches: one cut short
 * leaves a job that resumes the part reset, and a second --retry-failed takes the rest.
 * Returns 0; PRS_EXIT_USAGE when the job has not finished; PRS_EXIT_STOPPED when the
 * state cannot be written (resumable). */
int prs_jobstate_retry_failed(prs_jobstate *st, prs_jobreport *rep);

/* A job that already finished is reported from its stored result (message and counts
 * into rep, *code its exit code) and returns true; false when it has not finished. */
bool prs_jobstate_finished(prs_jobstate *st, prs_jobreport *rep, int *code);

#endif
