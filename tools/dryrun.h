/* dryrun.h -- `prs run --dry-run`: how a job's input would be cut, without creating or
 * running anything.
 *
 * Owns: nothing past a call (a few batches' item names, bounded, while it walks).
 * May call: io/scan (the walk), io/records (the splitter and the batcher), core/partition
 *   (--partition-keys: the grouping itself, into a scratch directory under $TMPDIR that it
 *   removes, so the partitions shown are the ones a run makes) and libc. It cuts
 *   with the same primitives and rules as job creation in the library (files: runs of
 *   --mini-batch-size in scan order; tabular: per file, records by bytes, never across
 *   files), reading each input once; it writes nothing and never opens OUT's state.
 * Threads: any one thread. */
#ifndef PRS_DRYRUN_H
#define PRS_DRYRUN_H

#include "prs.h"

#include <stdio.h>

/* Prints the cut of c's input to f: items, mini-batches, the first and the last few
 * batches with their items, what OUT holds now. Returns 0, or PRS_EXIT_INPUT with err
 * naming the path when the input cannot be read (what a real run would exit with). */
int prs_dryrun_print(const prs_job_config *c, FILE *f, char *err, size_t err_size);

#endif
