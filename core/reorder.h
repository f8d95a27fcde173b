/* reorder.h -- --keep-order's reorder window: which batches may start, and which finished
 * ones can be written, so that rows reach the output in batch id order (= input order:
 * batches are created in input order; partitions in order of first appearance).
 *
 * Owns: the window [next, next + PRS_REORDER_RING) of batch ids: next is the oldest batch
 *   whose rows are not written yet; for each id of the window, whether it finished (done
 *   or failed: a failed batch is written as no rows) and whether its rows are held (in the
 *   committer's group or in LMDB's held table: storage/queue.h).
 * May call: core/base only. Pure: no I/O, no allocation, no clock; the coordinator drives
 *   it, and reads held rows and the store's records for it.
 * Callers must: serialise all calls (the coordinator thread); start only batches that
 *   prs_reorder_admits; mark every batch finished exactly once per life of the runtime.
 *
 * Exactly once: a batch's rows are written when it becomes next's (then the window
 * advances over the contiguous run of finished batches, writing theirs), else held; the
 * commit that records a batch done also stores its held rows, and the commit that
 * records the output's new length drops the rows it covers. So after any commit next is
 * the store's lowest pending batch and every held batch is above it; a crash's repair may
 * then fail next (its last try): a resume finds next as the lowest batch pending or
 * holding rows, and what is finished above it from the batch table.
 * The bound: batches at or past next + window do not start, so at most window - 1
 * batches hold rows. Invariants (asserted): next <= total; a finished id is in the
 * window and not finished already; window in 1 .. PRS_REORDER_RING. */
#ifndef PRS_REORDER_H
#define PRS_REORDER_H

#include "base.h"

#include <stdbool.h>

#define PRS_REORDER_RING 2048u /* ids tracked past next: any window admits no more */

enum prs_reorder_mark {
    PRS_REORDER_OPEN = 0, /* not finished (pending, running, queued for a retry) */
    PRS_REORDER_EMPTY,    /* finished with no rows held (failed, or no rows) */
    PRS_REORDER_HELD,     /* finished; its rows wait (committer group or LMDB) */
    PRS_REORDER_STORED,   /* finished in an earlier life: its rows, if any, are in LMDB */
};

typedef struct prs_reorder {
    uint64_t next;                  /* oldest batch whose rows are not written */
    uint64_t total;                 /* batches in the job */
    uint32_t window;                /* batches at or past next + window do not start */
    uint64_t known;                 /* ids below it have their mark set; from next to next + RING */
    uint8_t mark[PRS_REORDER_RING]; /* by id % RING, for ids in [next, known) */
} prs_reorder;

/* Starts at next (the oldest unwritten batch; total when none), with every id of the
 * window OPEN until prs_reorder_learn says otherwise. window: 1 .. PRS_REORDER_RING.
 * -EINVAL for a window out of range or next > total. */
int prs_reorder_init(prs_reorder *r, uint64_t next, uint64_t total, uint32_t window);
/* The first id whose mark is not known yet (the store's record says: prs_reorder_learn),
 * or total / next + RING when every id of the ring is. */
uint64_t prs_reorder_unknown(const prs_reorder *r);
/* Sets the mark of id = prs_reorder_unknown(): STORED when the store says it finished in
 * an earlier life, OPEN when pending. */
void prs_reorder_learn(prs_reorder *r, bool finished);
/* True when batch id may start now: below next + window (and in the job). */
bool prs_reorder_admits(const prs_reorder *r, uint64_t id);
/* Batch id (in the window, OPEN, known: asserted) finished; held: its rows wait. When id is
 * next, the caller writes its rows at once (it passes held false) and then advances. */
void prs_reorder_finish(prs_reorder *r, uint64_t id, bool held);
/* While next is finished: *id = next, *mark its mark, next moves on, true (the caller
 * writes id's rows: none for EMPTY, its held rows for HELD, those LMDB holds, if any, for
 * STORED). false when next is OPEN, unknown, or the job's end. */
bool prs_reorder_advance(prs_reorder *r, uint64_t *id, enum prs_reorder_mark *mark);

#endif
