/* progress.h -- the job's progress on stderr.
 *
 * Owns: the progress line: a one-line bar redrawn in place ('\r') when the stream is a
 *   terminal, cut to the terminal's width (TIOCGWINSZ, asked again at every redraw, so a
 *   resized terminal gets the new width within one redraw; the runtime runs in its own
 *   process group, which the terminal's SIGWINCH does not reach), and plain lines every
 *   PRS_PROGRESS_PLAIN_EVERY_NS otherwise (a log file or a pipe must not fill with carriage
 *   returns; none at 0). The rate and the ETA (h:mm:ss) count only this run's items: a
 *   resumed job's earlier items were not done at this run's speed.
 * May call: libc (write and ioctl on the given fd), pthreads, core/base (counts.h).
 * Callers must: tick and end from one thread (the coordinator); prs_progress_write_above
 *   may be called from any thread (the capture reader): the bar is cleared before the text
 *   and redrawn after, under the progress's lock. Call prs_progress_end once at the end so
 *   a terminal's cursor leaves the bar's line. */
#ifndef PRS_PROGRESS_H
#define PRS_PROGRESS_H

#include "base.h"
#include "counts.h"

#include <pthread.h>

#define PRS_PROGRESS_TTY_EVERY_NS 200000000ull    /* bar redraw */
#define PRS_PROGRESS_PLAIN_EVERY_NS 5000000000ull /* plain line */
#define PRS_PROGRESS_LINE_BYTES 512u

typedef struct prs_progress {
    int fd;
    bool tty;
    bool started;         /* the first tick saw this run's starting counts */
    uint64_t base_items;  /* items finished before this run (a resume) */
    uint64_t last_ns;     /* the last line's time */
    pthread_mutex_t lock; /* fd's writes: tick, end and write_above */
    bool drawn;           /* a bar is on the screen: cleared before other text */
    char bar[PRS_PROGRESS_LINE_BYTES];
    size_t bar_len;
} prs_progress;

void prs_progress_init(prs_progress *p, int fd);
/* Draws if its period passed (or force). elapsed_ns: since this run began. */
void prs_progress_tick(prs_progress *p, const prs_counts *c, uint64_t now_ns, uint64_t elapsed_ns,
                       bool force);
void prs_progress_end(prs_progress *p);
/* Writes text (whole lines) to the fd; a bar on the screen is cleared first and redrawn
 * after. Any thread. */
void prs_progress_write_above(prs_progress *p, const char *text, size_t len);

/* Formats the line (no '\r' or '\n') into buf, at most cols - 1 characters (a terminal
 * wraps a line that reaches its last column); cols 0: no limit. base_items: finished
 * before this run. For tests too. */
void prs_progress_format(const prs_counts *c, uint64_t base_items, uint64_t elapsed_ns, bool bar,
                         unsigned cols, char *buf, size_t size);
/* "h:mm:ss". */
void prs_progress_hms(uint64_t seconds, char *buf, size_t size);

#endif
