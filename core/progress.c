/* progress.c -- see progress.h. */
#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PROGRESS_BAR_CELLS 24u

void prs_progress_init(prs_progress *p, int fd) {
    memset(p, 0, sizeof(*p));
    p->fd = fd;
    p->tty = isatty(fd) == 1;
}

void prs_progress_format(const prs_progress_counts *c, uint64_t elapsed_ns, bool bar, char *buf,
                         size_t size) {
    double secs = (double)elapsed_ns / 1e9;
    double rate = secs > 0 ? (double)c->finished_items / secs : 0.0;
    uint64_t left = c->total_items > c->finished_items ? c->total_items - c->finished_items : 0;
    char eta[32];
    if (rate > 0) {
        snprintf(eta, sizeof(eta), "%.0f s", (double)left / rate);
    } else {
        snprintf(eta, sizeof(eta), "?");
    }
    size_t n = 0;
    if (bar) {
        uint32_t full =
            c->total_batches
                ? (uint32_t)(PROGRESS_BAR_CELLS * c->finished_batches / c->total_batches)
                : 0;
        full = PRS_MIN(full, PROGRESS_BAR_CELLS);
        n += (size_t)snprintf(buf, size, "[");
        for (uint32_t i = 0; i < PROGRESS_BAR_CELLS && n + 2 < size; i++)
            buf[n++] = i < full ? '#' : '.';
        n += (size_t)snprintf(buf + n, size - n, "] ");
    } else {
        n += (size_t)snprintf(buf, size, "prs: ");
    }
    snprintf(buf + n, size - PRS_MIN(n, size),
             "%llu/%llu mini-batches, %llu/%llu items, %.0f items/s, ETA %s, failed %llu items "
             "(%llu batches), %.1f s",
             (unsigned long long)c->finished_batches, (unsigned long long)c->total_batches,
             (unsigned long long)c->finished_items, (unsigned long long)c->total_items, rate, eta,
             (unsigned long long)c->failed_items, (unsigned long long)c->failed_batches, secs);
}

void prs_progress_tick(prs_progress *p, const prs_progress_counts *c, uint64_t now_ns,
                       uint64_t elapsed_ns, bool force) {
    uint64_t every = p->tty ? PRS_PROGRESS_TTY_EVERY_NS : PRS_PROGRESS_PLAIN_EVERY_NS;
    if (!force && p->last_ns && now_ns - p->last_ns < every) return;
    p->last_ns = now_ns;
    char line[512];
    prs_progress_format(c, elapsed_ns, p->tty, line, sizeof(line));
    char out[560];
    /* \033[K clears what a longer previous bar left on the line. */
    int n = p->tty ? snprintf(out, sizeof(out), "\r%s\033[K", line)
                   : snprintf(out, sizeof(out), "%s\n", line);
    ssize_t ignored = write(p->fd, out, (size_t)PRS_MIN(n, (int)sizeof(out) - 1));
    (void)ignored;
    p->drawn = p->tty;
}

void prs_progress_end(prs_progress *p) {
    if (!p->drawn) return;
    ssize_t ignored = write(p->fd, "\n", 1);
    (void)ignored;
    p->drawn = false;
}
