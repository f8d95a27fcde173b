/* shard.h -- how a job's mini-batches are split into N shards: pure functions.
 *
 * Owns nothing; may call libc (and units.h for number parsing). Safe from any thread.
 *
 * The cut: shard K of N takes the contiguous range of the job's global mini-batch numbers
 * [first, end) with first = K*(B/N) + min(K, B%N) over the B batches a single-machine run
 * of the same input and options would create; the first B%N shards hold one batch more.
 * The same input and options give every shard the same B, so every node computes the same
 * partition without talking to the others, and every batch is in exactly one shard.
 * Contiguous, not interleaved: shard 0's rows, then shard 1's, ... are the rows of a
 * single-machine run in order (with one worker), and each node reads one region of the
 * input (one range of directories, one byte range of a big CSV) instead of all of it.
 * The price: balance is by batch count, not by cost; an input whose cost grows along its
 * order (sorted by size) gives the last shards more work (README, "Beyond one machine"). */
#ifndef PRS_SHARD_H
#define PRS_SHARD_H

#include "base.h"

#define PRS_SHARD_MAX 10000u /* shards of one job at most (Slurm's MaxArraySize is 1001) */

typedef struct prs_shard {
    uint32_t index; /* K: 0 .. count-1 */
    uint32_t count; /* N: 1 .. PRS_SHARD_MAX; 0: the job is not sharded */
} prs_shard;

/* Parses an option value "K/N", or "auto/N" where K comes from slurm_task_id (Slurm's
 * SLURM_ARRAY_TASK_ID), else from k8s_index (JOB_COMPLETION_INDEX of a Kubernetes Indexed
 * Job); either may be NULL (unset). N is never taken from the environment: a partial
 * resubmission of an array changes SLURM_ARRAY_TASK_COUNT. Returns 0, or -EINVAL with err
 * saying what is wrong (no option name: the caller prefixes it). */
int prs_shard_parse(const char *text, const char *slurm_task_id, const char *k8s_index,
                    prs_shard *out, char *err, size_t err_size);

/* The global batch numbers [*first, *end) of shard s out of total_batches. s.count >= 1,
 * s.index < s.count (asserted: callers validate with prs_shard_parse). */
void prs_shard_range(uint64_t total_batches, prs_shard s, uint64_t *first, uint64_t *end);

/* The shard that holds global batch number batch (< total_batches) when split count ways. */
uint32_t prs_shard_owner(uint64_t batch, uint64_t total_batches, uint32_t count);

/* A shard's directory name under OUT/shards/: "K-of-N". Returns 0, or -ENAMETOOLONG. */
int prs_shard_dir_name(prs_shard s, char *buf, size_t size);

/* Parses a directory name "K-of-N" (exactly as prs_shard_dir_name writes it: no leading
 * zeros, K < N <= PRS_SHARD_MAX). Returns 0, or -EINVAL for any other name. */
int prs_shard_dir_parse(const char *name, prs_shard *out);

/* --allowed-failed-percent of the whole job as a count of failed batches one shard may
 * have on its own: the job fails when failed*100 > percent*job_batches, i.e. (failed being
 * a whole number) failed > floor(percent*job_batches/100). Combined with allowed_failed_count
 * (-1: ignored) by taking the smaller; percent 100 ignores. Returns the count, -1 for none. */
int64_t prs_shard_failed_limit(int64_t allowed_failed_count, uint32_t allowed_failed_percent,
                               uint64_t job_batches);

#endif
