/* why.h -- `prs why OUT ITEM|BATCH-ID`: the story of one item or mini-batch on one screen.
 *
 * Owns: nothing durable. Reads OUT/.prs read-only (LMDB MDB_RDONLY, like status.h) and the
 *   files of OUT/logs; never writes to OUT and never takes the job's lock, so it is safe
 *   beside a running job.
 * May call: storage/queue (read-only), core/scoreboard (read-only), libc.
 * Callers must: nothing; each call is self-contained.
 *
 * What it shows: which mini-batch the item is in (and its other items), the batch's state,
 *   every try (worker, start, duration, outcome: from logs/sys/node/, and crashes from the
 *   error files), the error text of each try, the crash stack (function, file:line) when it
 *   crashed, the user-log lines written during those tries (same worker, inside the try's
 *   time), and what to open or run next. Output is bounded: at most PRS_WHY_LINES_MAX lines
 *   of each kind. */
#ifndef PRS_WHY_H
#define PRS_WHY_H

#include "base.h"

#include <stdio.h>

#define PRS_WHY_LINES_MAX 20u

/* what: an item name (as in error.txt: a path relative to the input, or FILE:LINE), or a
 * mini-batch id (digits). Returns 0; -ENOENT when OUT holds no job or no such item/batch
 * (err says which); another negative error with err naming the file. */
int prs_why_print(const char *out_dir, const char *what, FILE *f, char *err, size_t err_size);

#endif
