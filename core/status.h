/* status.h -- `prs status OUT`: a read-only view of a job, running or not.
 *
 * Owns: nothing durable. Opens OUT/.prs read-only (LMDB MDB_RDONLY, the scoreboard mapped
 *   PROT_READ) and prints what it finds; it never writes to OUT and never takes the job's
 *   lock, so it is safe beside a running job (it sees the last committed group).
 * May call: storage/queue (read-only), core/scoreboard, core/base (clock.h), libc.
 * Callers must: nothing; each call is self-contained.
 *
 * What it shows: whether a runtime holds the job (running), the committed counts, the
 *   result of a finished job, the first error, each worker's current batch (from the
 *   scoreboard: batch, attempt, items, for how long), and the failed mini-batches with
 *   their attempts; with all_batches, every batch. Text for people, JSON for programs. */
#ifndef PRS_STATUS_H
#define PRS_STATUS_H

#include "base.h"

#include <stdbool.h>
#include <stdio.h>

typedef struct prs_status_options {
    bool json;
    bool all_batches;      /* list every batch, not only the failed ones */
    uint32_t failed_limit; /* failed batches listed at most (the count is always exact) */
} prs_status_options;

/* Prints the status of the job in out_dir to f. Returns 0, -ENOENT when out_dir holds no
 * job (err says so), or another negative error with err naming the file. */
int prs_status_print(const char *out_dir, const prs_status_options *opt, FILE *f, char *err,
                     size_t err_size);

/* True when a runtime holds the job in state_dir (OUT/.prs) now: probed with a shared
 * flock on its lock file, which creates nothing. */
bool prs_status_running(const char *state_dir);

#endif
