/* htmlreport.h -- OUT/logs/report.html: one self-contained page (inline SVG and CSS, no
 * script, nothing fetched) that shows a job as pictures with their numbers beside them.
 *
 * Owns: the page's layout. The numbers come from jobstats (files prs already writes).
 * May call: jobstats, libc. Belongs to the CLI (tools/), not libprs: embedders that do
 *   not want a report do not carry it.
 * Thread: any; the CLI calls it from the supervising process (single-threaded), while
 *   the job runs and once at its end.
 * Bounded: the page has O(workers x PRS_JOBSTATS_BUCKETS) SVG elements past
 *   PRS_JOBSTATS_MAX_BARS tries, whatever the job's size. */
#ifndef PRS_HTMLREPORT_H
#define PRS_HTMLREPORT_H

#include "jobstats.h"

/* Writes the page for s to f. refresh_s > 0 adds a meta refresh (a running job's page
 * reloads itself); 0 for a finished job. Returns 0, or -EIO when a write failed. */
int prs_htmlreport_render(const prs_jobstats *s, FILE *f, unsigned refresh_s);

/* Reads OUT/logs/, renders, and replaces OUT/logs/report.html atomically (a temporary
 * file beside it, renamed over it; neither followed if it is a symlink). Returns 0;
 * -ENOENT when OUT has no logs/ (err says so); -ELOOP when logs/report.html is a
 * symlink; another negative errno when writing failed (err names the file). */
int prs_htmlreport_write(const char *out_dir, unsigned refresh_s, char *err, size_t err_size);

/* A job run as shards (OUT/shards/K-of-N/): writes each shard's own report, then OUT's:
 * the merged state (logs/overview.txt, once `prs merge` wrote it), the shards side by side
 * (a lane and a row each, linking their reports) and the merged error groups. Creates
 * OUT/logs/ if the job is not merged yet. prs_htmlreport_write calls it for such an OUT.
 * Returns 0 or a negative errno with err naming the file. */
int prs_htmlreport_write_sharded(const char *out_dir, char *err, size_t err_size);

#define PRS_HTMLREPORT_MAX_SHARDS 1024u

#endif
