/* failed.h -- OUT/logs/failed_items.txt: every item of the job's failed mini-batches (their
 * tries spent), one a line, ready to run again: `--input @failed_items.txt` in a new job,
 * or `--retry-failed` on the same OUT.
 *
 * Owns: the file, written whole to a temporary name and renamed over the old one, so a
 *   reader never sees half a list and a rerun never sees a stale one (no failure: empty).
 * May call: storage/queue (read only: failed batches and their item records), io/records
 *   (to name a tabular batch's records), libc.
 * Callers must: call it from the thread that owns the queue, with no write in progress.
 *
 * A line is an absolute path (files), or FILE:LINE for a record of a tabular input, FILE
 * absolute and LINE the record's first physical line (what errors name). Items of batches
 * that succeeded with fewer rows than items are not listed: a row is free text, so prs
 * cannot tell which of such a batch's items lacked one (its count is in the overview). */
#ifndef PRS_FAILED_H
#define PRS_FAILED_H

#include "queue.h"
#include "records.h"

/* input: the job's --input (a directory, @LIST, or a tabular file); format its format.
 * *items gets the number of lines written. Returns 0, or a negative errno with err naming
 * the file or the record that failed. */
int prs_failed_write(prs_queue *q, const char *input, enum prs_format format, const char *path,
                     uint64_t *items, char *err, size_t err_size);

#endif
