/* committer.h -- the one LMDB writer of a running job: group commits off the coordinator.
 *
 * Owns: a thread and two groups of batch updates (double buffering). While the committer
 *   syncs the output file and commits group k, the coordinator fills group k+1, so
 *   durability costs throughput only when a commit takes longer than a whole group.
 * May call: storage/queue (writes), io/outfile (sync), pthreads.
 * Callers must: add and flush from one thread (the coordinator); write every output byte
 *   a group's counts cover before flushing that group (the committer syncs the file,
 *   then commits: a committed length is always a synced one). */
#ifndef PRS_COMMITTER_H
#define PRS_COMMITTER_H

#include "outfile.h"
#include "queue.h"

/* A meta value handed with a group, at most: the job's result ("CODE MESSAGE", the
 * message up to 1024 bytes) fits whole (coord.c asserts it at compile time). */
#define PRS_COMMITTER_META_BYTES 1100u

typedef struct prs_committer prs_committer;

/* out may be NULL (summary_only). durable: sync the output before each commit. */
int prs_committer_start(prs_committer **out, prs_queue *q, prs_outfile *file, bool durable,
                        uint32_t group_cap);
/* Joins the thread after the last group finished. */
void prs_committer_stop(prs_committer *c);

/* Adds to the group being filled; false when it is full (flush with wait first). */
bool prs_committer_add(prs_committer *c, const prs_batch_update *update);
uint32_t prs_committer_pending(const prs_committer *c);

/* Hands the group being filled to the thread with the counts it leads to and an optional
 * meta value. If the previous group is still being committed: with wait, waits for it;
 * without, returns -EBUSY and keeps filling. Returns the sticky error of an earlier
 * commit, if any (then nothing more is committed). */
int prs_committer_flush(prs_committer *c, const prs_queue_counts *counts, const char *meta_key,
                        const void *meta_val, size_t meta_len, bool wait);
/* Waits until everything handed over is committed; returns the sticky error or 0. */
int prs_committer_drain(prs_committer *c);

#endif
