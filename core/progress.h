/* progress.h -- the job's progress on stderr.
 *
 * Owns: nothing but the formatting: a one-line bar redrawn in place ('\r') when the
 *   stream is a terminal, plain periodic lines otherwise (a log file or a pipe must not
 *   fill with carriage returns).
 * May call: libc (write to the given fd).
 * Callers must: call from one thread (the coordinator); call prs_progress_end once at
 *   the end so a terminal's cursor leaves the bar's line. */
#ifndef PRS_PROGRESS_H
#define PRS_PROGRESS_H

#include "base.h"

#define PRS_PROGRESS_TTY_EVERY_NS 200000000ull    /* bar redraw */
#define PRS_PROGRESS_PLAIN_EVERY_NS 5000000000ull /* plain line */

typedef struct prs_progress {
    int fd;
    bool tty;
    bool drawn; /* a bar is on the screen: end it with a newline */
    uint64_t last_ns;
} prs_progress;

typedef struct prs_progress_counts {
    uint64_t total_batches, finished_batches, failed_batches;
    uint64_t total_items, finished_items, failed_items;
} prs_progress_counts;

void prs_progress_init(prs_progress *p, int fd);
/* Draws if its period passed (or force). elapsed_ns: since the job (this life) began. */
void prs_progress_tick(prs_progress *p, const prs_progress_counts *c, uint64_t now_ns,
                       uint64_t elapsed_ns, bool force);
void prs_progress_end(prs_progress *p);
/* Formats the line (no '\r' or '\n') into buf; for tests. */
void prs_progress_format(const prs_progress_counts *c, uint64_t elapsed_ns, bool bar, char *buf,
                         size_t size);

#endif
