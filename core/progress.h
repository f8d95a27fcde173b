/* progress.h -- the job's progress on stderr.
 *
 * Owns: the progress line: a one-line bar redrawn in place ('\r') when the stream is a
 *   terminal, cut to the terminal's width (TIOCGWINSZ, asked at the first draw and again
 *   after each SIGWINCH: prs_progress_on_sigwinch; the runtime runs in its own process
 *   group, so the supervisor forwards the terminal's SIGWINCH to it), and plain lines every
 *   PRS_PROGRESS_PLAIN_EVERY_NS otherwise (a log file or a pipe must not fill with carriage
 *   returns; none at 0). The rate and the ETA (h:mm:ss) count only this run's items: a
 *   resumed job's earlier items were not done at this run's speed.
 * May call: libc (write and ioctl on the given fd), pthreads, core/base (counts.h).
 * Resizes: a terminal that reflows its lines (tmux, VTE, kitty, iTerm2...) wraps a bar wider
 *   than its new width onto more rows; the redraw after a SIGWINCH goes up to the first of
 *   them and clears to the end of the screen, then draws the bar at the new width, at once
 *   (the coordinator ticks at least every 100 ms). A terminal that cuts lines instead
 *   (xterm) loses the line above the bar from the screen (not from the logs) when narrowed.
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
    size_t bar_len;   /* bytes of bar ('\r' and the clearing escape included) */
    size_t bar_cols;  /* columns the bar on the screen takes */
    unsigned cols;    /* the terminal's width (0: not asked yet) */
    unsigned winches; /* SIGWINCHs handled (prs_progress_on_sigwinch's count when last seen) */
    bool resized;     /* handled by write_above, not drawn yet: the next tick draws */
} prs_progress;

void prs_progress_init(prs_progress *p, int fd);
/* Draws if its period passed (or force). elapsed_ns: since this run began. */
void prs_progress_tick(prs_progress *p, const prs_counts *c, uint64_t now_ns, uint64_t elapsed_ns,
                       bool force);
void prs_progress_end(prs_progress *p);
/* The SIGWINCH handler (async-signal-safe: it only counts, in a lock-free atomic): every
 * progress of the process asks the width again at its next tick, which then draws at once.
 * Install it with SA_RESTART. */
void prs_progress_on_sigwinch(int sig);
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
