/* committer.h -- the one LMDB writer of a running job: group commits off the coordinator.
 *
 * Owns: a thread, two groups of batch updates (double buffering: while the thread syncs
 *   the output and commits group k, the coordinator fills group k+1, so durability costs
 *   throughput only when a commit takes longer than a whole group), and the sticky error
 *   of the first commit that failed.
 * May call: storage/queue (prs_queue_commit_held), io/outfile (prs_outfile_sync), pthreads.
 * Callers must: call every function from one thread (the coordinator); write every
 *   output byte a group's counts cover before flushing that group (the committer syncs
 *   the file, then commits: a committed length is always a synced one); keep the queue
 *   and the output file open, and write no other transaction on the queue, from start
 *   until prs_committer_stop returns.
 * Invariants (asserted): a group holds at most group_cap updates; at most one group is
 *   handed over at a time, and none is left when the thread ends; a group's counts never
 *   have more finished batches or items than created ones; a meta value is never cut
 *   (PRS_COMMITTER_META_BYTES). An update is not checked here: prs_queue_commit refuses
 *   a record it could not read back, and that error becomes the sticky one. */
#ifndef PRS_COMMITTER_H
#define PRS_COMMITTER_H

#include "outfile.h"
#include "queue.h"

/* A meta value handed with a group, at most: the job's result ("CODE MESSAGE", the
 * message up to 1024 bytes) fits whole (coord.c asserts it at compile time). */
#define PRS_COMMITTER_META_BYTES 1100u

typedef struct prs_committer prs_committer;

/* Starts the thread. q: the job's queue (borrowed; its only writer until stop). file:
 * the append_row output (borrowed), or NULL for summary_only. durable: sync file before
 * each commit. group_cap >= 1: updates per group (asserted). 0 with *out set; -ENOMEM:
 * the groups cannot be allocated; -EAGAIN (or pthread_create's other errors): no
 * thread. Nothing is left to free on an error. */
int prs_committer_start(prs_committer **out, prs_queue *q, prs_outfile *file, bool durable,
                        uint32_t group_cap);
/* Lets the thread finish the group it was handed (committed, or dropped after a sticky
 * error), joins it and frees everything; the group being filled is dropped: flush and
 * drain first to keep it. NULL is ignored. */
void prs_committer_stop(prs_committer *c);

/* Copies update into the group being filled. true; false when that group holds
 * group_cap updates already: flush it with wait, after which the add succeeds. */
bool prs_committer_add(prs_committer *c, const prs_batch_update *update);
/* --keep-order: a group may also hold the rows of batches that finished before an older
 * one (stored in LMDB's held table by the group's commit, with the batch's update), and
 * drop held rows that were written (core/reorder.h). A group's held rows take at most
 * this many bytes, unless one batch's rows alone are larger. */
#define PRS_COMMITTER_HELD_BYTES (64u << 20)
/* Copies update and its rows (len > 0, asserted) into the group being filled. 0; -EAGAIN:
 * the group has no room (group_cap updates, or the bytes bound): flush it with wait, after
 * which the add succeeds unless memory is short; -ENOMEM. */
int prs_committer_add_held(prs_committer *c, const prs_batch_update *update, const void *rows,
                           size_t len);
/* The rows batch_id holds in the group being filled, if it does: true, *rows valid until
 * the next flush, and the group will not store them (the caller writes them to the output
 * before that flush). false: they were handed over with an earlier group (drain, then
 * read them from the queue). */
bool prs_committer_take_held(prs_committer *c, uint64_t batch_id, const void **rows, size_t *len);
/* Has the group's commit delete batch_id's held rows. true; false when group_cap drops
 * are in the group already (flush with wait, then drop). */
bool prs_committer_drop_held(prs_committer *c, uint64_t batch_id);
/* True when the group being filled takes one more update (with held_bytes of held rows,
 * 0: none) without a flush. */
bool prs_committer_has_room(const prs_committer *c, size_t held_bytes);
/* Updates in the group being filled: 0 .. group_cap. */
uint32_t prs_committer_pending(const prs_committer *c);

/* Hands the group being filled to the thread, with the counts the queue will hold once
 * it is committed and an optional meta value (meta_key shorter than 32 bytes, meta_len at
 * most PRS_COMMITTER_META_BYTES: both asserted; copied). The next group starts empty.
 * If the previous group is still being committed: with wait, waits for it (unbounded:
 * as long as one sync and one LMDB commit take); without, returns -EBUSY having handed
 * nothing (keep filling). Otherwise returns the sticky error of an earlier commit, if any:
 * prs_outfile_sync's (-EIO, -ENOSPC...) or prs_queue_commit's (PRS_QUEUE_EMAPFULL: the
 * map is full, reopen it larger; -ENOSPC...); then nothing was handed and nothing more
 * will be committed. */
int prs_committer_flush(prs_committer *c, const prs_queue_counts *counts, const char *meta_key,
                        const void *meta_val, size_t meta_len, bool wait);
/* Waits until no group is under commit (unbounded, as flush with wait). 0, or the sticky
 * error (as flush). */
int prs_committer_drain(prs_committer *c);

#endif
