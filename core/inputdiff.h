/* inputdiff.h -- on resume: what changed in a job's input since the job was created, by
 * names and inode times only (no file's content is read).
 *
 * Owns: nothing past a call.
 * May call: storage/queue (the job's items and meta), io/scan (the walk), io/records
 *   (format names), libxxhash, libc.
 * Callers: the resume (core/jobstate), on the thread running prs_job_run, before any
 *   worker or committer uses the queue.
 *
 * The job records no file's size or mtime, only its name, and when its creation began
 * (PRS_INPUTDIFF_SINCE_KEY, a coarse wall-clock stamp taken before the walk, as file
 * times are). So, the cheapest honest check: a file of the job whose ctime or mtime is
 * later than that stamp was written (or replaced, renamed, chmod-ed) since; one that is
 * not there is gone. ctime cannot be set back by a user (touch -d, cp -p, rsync -t set
 * mtime only), so a rewrite is seen whatever its mtime. New files: a files job's input
 * walked again (a directory, or the @LIST read again), each name looked up among the
 * job's (XXH3-64 of the names, sorted: 9 bytes of memory per item). A tabular job's files
 * are checked for changes only (an empty or header-only file yields no item, so a walk
 * cannot tell a new file from it); a shard's walk holds the other shards' files, so a
 * shard is checked for changes only too; a partitioned job reads prs's grouped copy, not
 * the input: not checked. */
#ifndef PRS_INPUTDIFF_H
#define PRS_INPUTDIFF_H

#include "base.h"
#include "prs.h"
#include "queue.h"

#define PRS_INPUTDIFF_SINCE_KEY "input_since" /* meta: "SEC.NSEC", CLOCK_REALTIME_COARSE */
/* meta: the run (prs_job_config.run_started_unix_ms) that made or last checked the job:
 * a restarted runtime life of the same `prs run` does not check (and report) again. */
#define PRS_INPUTDIFF_RUN_KEY "input_checked"
#define PRS_INPUTDIFF_MAX_ITEMS ((uint64_t)1 << 24) /* above: not checked (memory) */

typedef struct prs_inputdiff {
    uint64_t added;   /* files present now that are not items of the job */
    uint64_t changed; /* items whose ctime or mtime is later than the job's creation */
    uint64_t gone;    /* items that are not there (or cannot be looked at) now */
    char first_added[512], first_changed[512], first_gone[512]; /* "" when none */
    bool added_checked;  /* false: new files were not looked for (see above) */
    const char *skipped; /* not checked at all, and why (a constant), or NULL */
    uint64_t elapsed_ms;
} prs_inputdiff;

/* The stamp to record at creation, before the walk: "SEC.NSEC" into buf. */
void prs_inputdiff_stamp(char *buf, size_t size);

/* Compares the job in q (created from cfg's input) with the input now. 0 with d filled
 * (d->skipped set when the job cannot be checked: no stamp, too many items, partitioned);
 * -ENOMEM; an error of the queue, or of the walk with err naming the path. */
int prs_inputdiff_run(prs_queue *q, const prs_job_config *cfg, prs_inputdiff *d, char *err,
                      size_t err_size);

#endif
