/* trypick.h -- prs try's pick (prs_job_config.pick_item, pick_batch): which one of a tabular
 * job's mini-batches job creation keeps, decided as creation closes each batch, so the
 * kept batch is cut by the job's own code (the same records, header and names as prs run)
 * and keeps its id in the whole job.
 *
 * Owns: nothing but the struct (the pick's state while one creation walks the input).
 * May call: libc; core/shard.h for its take/skip/past answer.
 * Callers must: use one prs_trypick from one thread (core/jobcreate's builder), through one
 *   walk of the input: begin, then for each record joining the batch being filled mark,
 *   for each batch closed decide, then end. */
#ifndef PRS_TRYPICK_H
#define PRS_TRYPICK_H

#include "base.h"
#include "prs.h"
#include "shard.h"

#include <limits.h>

typedef struct prs_trypick {
    bool on;             /* a pick was asked for */
    char file[PATH_MAX]; /* pick_item's FILE and LINE */
    uint64_t line;
    uint64_t next; /* the job's batches closed so far: the next one's id */
    bool hit;      /* the batch being filled holds pick_item's record */
    bool kept;     /* done: every later batch is dropped */
    uint64_t id;   /* the kept batch: its id in the job, its records and where they begin */
    uint32_t records;
    uint64_t first_line;
    char path[PATH_MAX];
} prs_trypick;

/* What c asks for. 0 (p->on false: no pick), or -ESRCH with err saying why pick_item
 * names nothing (not FILE:LINE; with partition_keys). */
int prs_trypick_begin(prs_trypick *p, const prs_job_config *c, char *err, size_t err_size);
/* The record of path starting at line joined the batch being filled. */
void prs_trypick_mark(prs_trypick *p, const char *path, uint64_t line);
/* The batch being filled is closed (its first record: path:first_line): take it (the
 * pick), skip it, or stop the walk (past the pick; never for partitioned jobs, whose
 * grouping runs to its end). */
enum prs_shard_take prs_trypick_batch(prs_trypick *p, const prs_job_config *c, const char *path,
                                      uint64_t first_line, uint32_t records);
/* After the walk: 0 when the pick was kept, else -ESRCH with err saying nothing matched
 * (no record starts at pick_item's line; no batch pick_batch - 1). */
int prs_trypick_end(const prs_trypick *p, const prs_job_config *c, char *err, size_t err_size);

#endif
