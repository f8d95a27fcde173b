/* progress.c -- see progress.h. */
#include "progress.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define PROGRESS_BAR_MAX_CELLS 24u
#define PROGRESS_BAR_MIN_CELLS 8u
#define PROGRESS_DEFAULT_COLS 80u

/* SIGWINCHs received by the process (the handler's only state). */
static atomic_uint progress_winches;
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the SIGWINCH handler needs a lock-free counter");

void prs_progress_on_sigwinch(int sig) {
    (void)sig;
    atomic_fetch_add_explicit(&progress_winches, 1u, memory_order_relaxed);
}

void prs_progress_init(prs_progress *p, int fd) {
    memset(p, 0, sizeof(*p));
    p->fd = fd;
    p->tty = isatty(fd) == 1;
    pthread_mutex_init(&p->lock, NULL);
}

void prs_progress_hms(uint64_t seconds, char *buf, size_t size) {
    snprintf(buf, size, "%llu:%02u:%02u", (unsigned long long)(seconds / 3600),
             (unsigned)(seconds / 60 % 60), (unsigned)(seconds % 60));
}

/* Appends " part" (or "part" first) if it fits in limit; returns whether it did. */
static bool add_part(char *buf, size_t *n, size_t limit, const char *part) {
    size_t len = strlen(part) + (*n ? 2 : 0);
    if (*n + len > limit) return false;
    *n += (size_t)snprintf(buf + *n, limit + 1 - *n, "%s%s", *n ? ", " : "", part);
    return true;
}

void prs_progress_format(const prs_counts *c, uint64_t base_items, uint64_t elapsed_ns, bool bar,
                         unsigned cols, char *buf, size_t size) {
    double secs = (double)elapsed_ns / 1e9;
    uint64_t done_now =
        prs_counts_finished_items(c) > base_items ? prs_counts_finished_items(c) - base_items : 0;
    double rate = secs > 0 ? (double)done_now / secs : 0.0;
    uint64_t left = c->total_items > prs_counts_finished_items(c)
                        ? c->total_items - prs_counts_finished_items(c)
                        : 0;
    char parts[6][96], eta[32];
    if (rate > 0) {
        prs_progress_hms((uint64_t)((double)left / rate + 0.5), eta, sizeof(eta));
    } else {
        snprintf(eta, sizeof(eta), "?");
    }
    /* Most needed first: a narrow terminal keeps the head of the list. */
    snprintf(parts[0], sizeof(parts[0]), "%llu/%llu mini-batches",
             (unsigned long long)prs_counts_finished_batches(c),
             (unsigned long long)c->total_batches);
    snprintf(parts[1], sizeof(parts[1]), "%llu/%llu items",
             (unsigned long long)prs_counts_finished_items(c), (unsigned long long)c->total_items);
    snprintf(parts[2], sizeof(parts[2]), "ETA %s", eta);
    snprintf(parts[3], sizeof(parts[3]), "failed %llu", (unsigned long long)c->failed_items);
    snprintf(parts[4], sizeof(parts[4]), "%.0f items/s", rate);
    snprintf(parts[5], sizeof(parts[5]), "%.1f s", secs);
    size_t limit = size - 1;
    if (cols > 1 && cols - 1 < limit) limit = cols - 1;
    size_t text = 0, n = 0;
    char *body = buf;
    char tmp[PRS_PROGRESS_LINE_BYTES];
    size_t tlimit = PRS_MIN(limit, sizeof(tmp) - 1);
    tmp[0] = 0;
    /* A bar needs its smallest size beside the text; a very narrow terminal gets none. */
    size_t reserve = bar && tlimit >= 40 ? PROGRESS_BAR_MIN_CELLS + 3 : bar ? 0 : 5;
    for (int i = 0; i < 6; i++)
        if (!add_part(tmp, &text, tlimit - reserve, parts[i])) break;
    if (bar) {
        /* The bar takes what the text leaves, up to its full size. */
        size_t room = tlimit > text + 3 ? tlimit - text - 3 : 0;
        unsigned cells = (unsigned)PRS_MIN(room, (size_t)PROGRESS_BAR_MAX_CELLS);
        if (cells >= PROGRESS_BAR_MIN_CELLS) {
            uint64_t full =
                c->total_batches ? cells * prs_counts_finished_batches(c) / c->total_batches : 0;
            body[n++] = '[';
            for (unsigned i = 0; i < cells; i++)
                body[n++] = i < full ? '#' : '.';
            body[n++] = ']';
            body[n++] = ' ';
        }
    } else {
        n = (size_t)snprintf(body, size, "prs: ");
    }
    snprintf(body + n, size - n, "%s", tmp);
    buf[PRS_MIN(limit, strlen(buf))] = 0;
}

/* The terminal's width (asked at the first draw and after each SIGWINCH). */
static unsigned term_cols(int fd) {
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    return PROGRESS_DEFAULT_COLS;
}

static void write_all(int fd, const char *text, size_t len) {
    for (int tries = 0; len > 0 && tries < 64; tries++) {
        ssize_t n = write(fd, text, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        text += n;
        len -= (size_t)n;
    }
}

/* Under p->lock, on a terminal: a SIGWINCH since the last look (or the first draw) asks the
 * width again; a bar on the screen is cleared, with the rows a reflowing terminal wrapped
 * it onto when narrowed (the cursor is on the last of them). Returns whether it resized
 * (the first look is not a resize). */
static bool resize_locked(prs_progress *p) {
    unsigned seen = atomic_load_explicit(&progress_winches, memory_order_relaxed);
    if (p->cols && seen == p->winches) return false;
    bool first = !p->cols;
    p->winches = seen;
    p->cols = term_cols(p->fd);
    if (!p->drawn) return !first;
    char clear[16 + 3 * PRS_PROGRESS_LINE_BYTES];
    size_t n = 0, rows = p->bar_cols > p->cols ? (p->bar_cols - 1) / p->cols : 0;
    clear[n++] = '\r';
    for (size_t i = 0; i < rows && n + 8 < sizeof(clear); i++) {
        memcpy(clear + n, "\033[A", 3);
        n += 3;
    }
    memcpy(clear + n, "\033[J", 3);
    write_all(p->fd, clear, n + 3);
    p->drawn = false;
    return true;
}

void prs_progress_tick(prs_progress *p, const prs_counts *c, uint64_t now_ns, uint64_t elapsed_ns,
                       bool force) {
    if (!p->started) {
        /* This run's start: what is finished already is not this run's work, and a
         * non-terminal gets no line at 0. */
        p->started = true;
        p->base_items = prs_counts_finished_items(c);
        p->last_ns = now_ns;
        if (!p->tty && !force) return;
    }
    uint64_t every = p->tty ? PRS_PROGRESS_TTY_EVERY_NS : PRS_PROGRESS_PLAIN_EVERY_NS;
    pthread_mutex_lock(&p->lock); /* write_above may have handled a resize meanwhile */
    /* A resize is drawn at once: the old bar, wrapped, would stay until the next period. */
    bool resized = p->tty && (resize_locked(p) || p->resized);
    p->resized = false;
    if (!force && !resized && now_ns - p->last_ns < every) {
        pthread_mutex_unlock(&p->lock);
        return;
    }
    p->last_ns = now_ns;
    char line[PRS_PROGRESS_LINE_BYTES];
    prs_progress_format(c, p->base_items, elapsed_ns, p->tty, p->tty ? p->cols : 0, line,
                        sizeof(line));
    if (p->tty) {
        /* \033[K clears what a longer previous bar left on the line. */
        p->bar_cols = strlen(line);
        p->bar_len = (size_t)snprintf(p->bar, sizeof(p->bar), "\r%s\033[K", line);
        p->bar_len = PRS_MIN(p->bar_len, sizeof(p->bar) - 1);
        write_all(p->fd, p->bar, p->bar_len);
        p->drawn = true;
    } else {
        char out[PRS_PROGRESS_LINE_BYTES + 2];
        int n = snprintf(out, sizeof(out), "%s\n", line);
        write_all(p->fd, out, (size_t)PRS_MIN(n, (int)sizeof(out) - 1));
    }
    pthread_mutex_unlock(&p->lock);
}

void prs_progress_write_above(prs_progress *p, const char *text, size_t len) {
    pthread_mutex_lock(&p->lock);
    /* After a resize the bar is stale (its old width): cleared, not redrawn; the next tick
     * draws it at the new width. */
    if (p->tty && p->drawn && resize_locked(p)) p->resized = true;
    if (p->drawn) write_all(p->fd, "\r\033[K", 4);
    write_all(p->fd, text, len);
    if (p->drawn) write_all(p->fd, p->bar, p->bar_len);
    pthread_mutex_unlock(&p->lock);
}

void prs_progress_end(prs_progress *p) {
    pthread_mutex_lock(&p->lock);
    if (p->drawn) write_all(p->fd, "\n", 1);
    p->drawn = false;
    pthread_mutex_unlock(&p->lock);
}
