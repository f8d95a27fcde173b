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

/* Creating one shard: two walks of the same input in the same order. The first counts
 * the job's batches (and fingerprints them: a shard whose input differs from another's is
 * refused by prs merge); the second keeps only the shard's range and stops after it. */
typedef struct prs_shard_cut {
    prs_shard shard;
    bool counting;        /* the first walk */
    uint64_t batches;     /* counting: batches seen; building: the job's total */
    uint64_t next;        /* building: the global number of the next batch */
    uint64_t first, end;  /* building: this shard's range */
    uint64_t fingerprint; /* XXH3-64 chained over every batch's items, in order */
} prs_shard_cut;

enum prs_shard_take { PRS_SHARD_SKIP = 0, PRS_SHARD_TAKE, PRS_SHARD_PAST };

void prs_shard_count_begin(prs_shard_cut *cut, prs_shard s);
/* Counting: an item (a path, or a tabular batch's file/offset/length) enters the print. */
void prs_shard_count_item(prs_shard_cut *cut, const void *key, size_t len);
void prs_shard_count_batch(prs_shard_cut *cut);
/* Ends the count and fixes the range. -ERANGE when the job has fewer batches than shards
 * (a shard would be empty): the caller says so. */
int prs_shard_build_begin(prs_shard_cut *cut);
/* Building: what to do with the job's next batch: take it, skip it (before the range), or
 * stop walking (past it). */
enum prs_shard_take prs_shard_build_batch(prs_shard_cut *cut);
/* The record a shard stores beside its state: "shard=K/N\njob_batches=B\ninput_xxh3=X\n". */
int prs_shard_record(const prs_shard_cut *cut, char *buf, size_t size);

/* --allowed-failed-percent of the whole job as a count of failed batches one shard may
 * have on its own: the job fails when failed*100 > percent*job_batches, i.e. (failed being
 * a whole number) failed > floor(percent*job_batches/100). Combined with allowed_failed_count
 * (-1: ignored) by taking the smaller; percent 100 ignores. Returns the count, -1 for none. */
int64_t prs_shard_failed_limit(int64_t allowed_failed_count, uint32_t allowed_failed_percent,
                               uint64_t job_batches);

#endif
