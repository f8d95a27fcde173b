/* keeporder.h -- --keep-order in the coordinator: rows reach the output in batch id order.
 *
 * Owns: the reorder window (core/reorder.h) of a running job.
 * May call: core/reorder, core/committer (held rows, drops, drain), storage/queue (reads:
 *   the lowest pending batch, batch records, held rows), and the writer the coordinator
 *   hands in (io: its row buffer and its group hand-over).
 * Callers must: call everything from the coordinator thread; keep the reader (inactive
 *   between calls: it is begun and ended here) and the committer alive until the job ends;
 *   start a batch only when prs_keeporder_admits; pass every verdict that finishes a batch
 *   (done or failed) to prs_keeporder_finish instead of writing its rows and adding its
 *   update themselves.
 *
 * How (exactly once, with core/reorder.h's invariant): a finished batch that is the oldest
 * unwritten one has its update added to the group and its rows written; then every
 * finished batch after it, in order, has its held rows written (from the group being
 * filled, or read back from LMDB once the group that held them is committed) and dropped
 * in the same group. Any other finished batch's rows go into the group with its update
 * (prs_committer_add_held): the commit that says it is done holds them. Every write into
 * a group happens after its update is in that group, so no hand-over splits them. */
#ifndef PRS_KEEPORDER_H
#define PRS_KEEPORDER_H

#include "committer.h"
#include "queue.h"
#include "reorder.h"

/* The coordinator's side. write: appends rows to the output through its buffer, counting
 * them in the output length the next hand-over commits; 0 or an output error. flush:
 * hands the group being filled to the committer, waiting for the one before; 0 or the
 * committer's sticky error. */
typedef struct prs_keeporder_io {
    int (*write)(void *arg, const void *rows, size_t len);
    int (*flush)(void *arg);
    void *arg;
} prs_keeporder_io;

typedef struct prs_keeporder {
    prs_reorder ring;
    prs_queue_reader *reader; /* borrowed */
    prs_committer *committer; /* borrowed */
    prs_keeporder_io io;
} prs_keeporder;

/* The batches that may start past the oldest unwritten one, for this many workers: deep
 * enough for the scheduler's slots (8 per worker) and as many finishing early again. */
uint32_t prs_keeporder_window(uint32_t workers);

/* Finds the oldest unwritten batch (the store's lowest pending or holding one;
 * total_batches when none) and what finished after it in an earlier life. 0; a queue read error
 * (-EBADMSG: a damaged batch record). */
int prs_keeporder_init(prs_keeporder *k, prs_queue_reader *reader, prs_committer *committer,
                       const prs_keeporder_io *io, uint64_t total_batches, uint32_t window);
/* True when batch id may start now. */
bool prs_keeporder_admits(const prs_keeporder *k, uint64_t id);
/* A batch finished: update (state done or failed, asserted) and its rows (len 0: none;
 * copied before return). Writes what is now in order and holds the rest. 0; an output
 * error (write's); the committer's sticky error; -ENOMEM; a queue read error (-EBADMSG
 * when rows held in an earlier group are missing: the state file is damaged). */
int prs_keeporder_finish(prs_keeporder *k, const prs_batch_update *update, const void *rows,
                         size_t len);
/* The oldest batch whose rows are not written yet (the job's end: total_batches). */
uint64_t prs_keeporder_next(const prs_keeporder *k);

#endif
