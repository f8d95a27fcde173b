/* counts.h -- the job's counters: one struct for the scheduler (what it has decided), the
 * queue (what is committed: prs_queue_counts is this type) and the reports.
 *
 * Owns: nothing. Header only; plain data.
 * May call: nothing. Callers: core/sched (prs_sched_counts), storage/queue
 *   (prs_queue_counts, encoded in the "counts" record), core/progress (the bar), core/status
 *   and the reports: one type, passed as it is, never converted field by field.
 *
 * Invariants (checked where counts are decoded or a scheduler starts, never assumed of
 * bytes on disk): done_batches + failed_batches <= total_batches, succeeded_items +
 * failed_items <= total_items, total_batches <= total_items (every batch holds an item). */
#ifndef PRS_COUNTS_H
#define PRS_COUNTS_H

#include <stdint.h>

typedef struct prs_counts {
    uint64_t total_batches;
    uint64_t total_items;
    uint64_t done_batches;
    uint64_t failed_batches;
    uint64_t succeeded_items;
    uint64_t failed_items;
    /* Committed length of the append_row output file. The queue stores it; the scheduler
     * neither reads nor changes it (the coordinator owns it). */
    uint64_t output_bytes;
    /* Done batches with fewer rows than items: with failed_batches, what v2's
     * mini_batch_error_threshold counts. The queue does not store it (a resume recounts
     * it from the batch records, only when that threshold is set). */
    uint64_t partial_batches;
} prs_counts;

/* Batches / items finished either way. */
static inline uint64_t prs_counts_finished_batches(const prs_counts *c) {
    return c->done_batches + c->failed_batches;
}

static inline uint64_t prs_counts_finished_items(const prs_counts *c) {
    return c->succeeded_items + c->failed_items;
}

#endif
