/* shards.h -- a sharded job seen whole: `prs status OUT` and `prs merge OUT`.
 *
 * A job run as N shards (`prs run --shard K/N --output OUT`) keeps shard K's complete job
 * (state, output, logs) in OUT/shards/K-of-N/ (shard.h says how batches are cut). This
 * module reads every shard's state read-only and assembles the job's own files in OUT:
 * parallel_run_step.txt (shard 0's rows, then 1's, ...), logs/overview.txt and
 * logs/user/error.txt, and the exit code the single-machine job would have had (the
 * thresholds, part of every shard's identity, applied to the summed counts).
 *
 * Owns: the files it writes in OUT (each written to a temporary name, synced, renamed:
 *   a merge cut short leaves the previous version or none, never half a file). It never
 *   writes inside OUT/shards/.
 * May call: storage/queue (read-only opens), core/status (the running probe), core/shard,
 *   libc.
 * Callers must: nothing; every call is self-contained. Safe beside running shards (it sees
 *   their last commits); a merge refuses until every shard has finished.
 * Deterministic: the same finished shards always give the same bytes (no times, no hosts). */
#ifndef PRS_SHARDS_H
#define PRS_SHARDS_H

#include "base.h"
#include "shard.h"

#include <stdio.h>

typedef struct prs_shards prs_shards;

/* Reads OUT/shards/. Returns 0; -ENOENT when OUT has no shards (err says so); -EINVAL for
 * shards of two different N, or OUT holding a single-machine job too (err says which);
 * -ENOMEM; another negative error with err naming the file. Shards that hold different
 * jobs are not an error here (status shows them); prs_shards_merge refuses them. */
int prs_shards_open(prs_shards **out, const char *out_dir, char *err, size_t err_size);
void prs_shards_close(prs_shards *s);

/* prs status OUT: every shard's state and counts, the totals, whether it is merged. */
void prs_shards_print(const prs_shards *s, FILE *f);

/* prs merge OUT. Returns the job's exit code: 0 / 1 (PRS_EXIT_THRESHOLD) when every shard
 * finished and the files were written; 5 (PRS_EXIT_STOPPED) when shards are missing, still
 * running, resumable or failed (message names them; nothing is written); 2 when the shards
 * hold different jobs or saw different inputs; 70 when a file cannot be read or written.
 * message gets one line for the user either way. */
int prs_shards_merge(const prs_shards *s, char *message, size_t message_size);

/* The shard count N. */
uint32_t prs_shards_count(const prs_shards *s);

/* Fills list (cap entries) with the shards a resubmission must run: every shard not
 * finished and not running now (missing, not created, resumable, failed). Returns how many
 * there are (may exceed cap: only cap are written); *running gets the running ones. */
uint32_t prs_shards_unfinished(const prs_shards *s, uint32_t *list, uint32_t cap,
                               uint32_t *running);

#endif
