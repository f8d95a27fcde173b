/* jobcreate.h -- job creation: the input (a directory, an @list, or a tabular file) cut
 * into mini-batches in the queue.
 *
 * Owns: nothing after it returns; while it runs, the queue's one builder.
 * May call: storage/queue (the builder), io/scan (directory and list walks), io/records
 *   (the tabular splitter and batcher), core/trypick (prs try's pick), core/inputdiff (the
 *   creation's stamp), core/joblog (master.txt), core/jobreport.
 * Callers must: call it on the thread running prs_job_run, before any reader, worker or
 *   committer uses the queue (prs_queue_grow below needs the environment to itself).
 *
 * Files: one item per file, mini_batch_size files a batch. Tabular: one item per batch,
 * a reference to a byte range of an input file holding up to mini_batch_bytes of records;
 * the file is mapped and read once front to back (pages behind the cursor dropped), so a
 * file larger than memory is cut without holding it. A shard (cfg->shard_count) walks the
 * input twice: once to count the job's batches and fix its range (core/shard.h), once to
 * keep only its own; its range is stored as the "shard" meta. */
#ifndef PRS_JOBCREATE_H
#define PRS_JOBCREATE_H

#include "base.h"
#include "jobreport.h"
#include "prs.h"
#include "queue.h"

/* Creates the job in q: every batch, then the "config" meta (config_text), then the
 * created mark, in one builder run; a map that fills up is grown and the run redone
 * (at most 24 doublings). With a pick, only the picked batch is created and *picked_id
 * is set to its id in the whole job (else untouched). root_fd: what item paths are relative to
 * (AT_FDCWD for a list or one tabular file). state_dir names data.mdb in messages. Returns 0;
 * PRS_EXIT_INPUT (an input unreadable, malformed, or empty); PRS_EXIT_USAGE (a shard of a job with
 * fewer batches than shards, or a pick (cfg->pick_item, pick_batch) that names no batch);
 * PRS_EXIT_STOPPED (the map cannot grow: resumable); PRS_EXIT_INTERNAL (the queue failed). */
int prs_jobcreate_run(prs_queue *q, const prs_job_config *cfg, int root_fd, const char *config_text,
                      const char *state_dir, prs_jobreport *rep, uint64_t *picked_id);

#endif
