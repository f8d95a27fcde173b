/* The progress line (core/progress): it fits the width it is given, counts only this run's
 * items in the rate and the ETA, shows the ETA as h:mm:ss, prints nothing at 0 on a
 * non-terminal, text written above a bar clears it first, and a SIGWINCH redraws it at the
 * terminal's new width at once. */
#include "progress.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* 8678 batches and 86780 items finished, 3 and 30 of them failed. */
static const prs_counts resumed = {.total_batches = 10000,
                                   .done_batches = 8675,
                                   .failed_batches = 3,
                                   .total_items = 100000,
                                   .succeeded_items = 86750,
                                   .failed_items = 30};

Test(progress, fits_the_terminal_width) {
    for (unsigned cols = 20; cols <= 200; cols += 10) {
        char line[PRS_PROGRESS_LINE_BYTES];
        prs_progress_format(&resumed, 86000, 10000000000ull, true, cols, line, sizeof(line));
        cr_assert_leq(strlen(line), cols - 1, "%u columns: '%s' (%zu)", cols, line, strlen(line));
        cr_assert(strstr(line, "8678/10000 mini-batches") || cols < 30, "%u: '%s'", cols, line);
    }
    char line[PRS_PROGRESS_LINE_BYTES];
    prs_progress_format(&resumed, 86000, 10000000000ull, true, 80, line, sizeof(line));
    cr_assert(line[0] == '[' && strstr(line, "ETA "), "80 columns keep a bar and the ETA: '%s'",
              line);
}

Test(progress, rate_and_eta_count_this_run_only) {
    char line[PRS_PROGRESS_LINE_BYTES];
    /* 780 items in this run's 10 s: 78 items/s; 13220 left: 169.5 s = 0:02:49 or 0:02:50. */
    prs_progress_format(&resumed, 86000, 10000000000ull, false, 0, line, sizeof(line));
    cr_assert(strstr(line, "78 items/s"), "%s", line);
    cr_assert(strstr(line, "ETA 0:02:49") || strstr(line, "ETA 0:02:50"), "%s", line);
    char hms[32];
    prs_progress_hms(3 * 3600 + 7 * 60 + 5, hms, sizeof(hms));
    cr_assert_str_eq(hms, "3:07:05");
    prs_progress_hms(59, hms, sizeof(hms));
    cr_assert_str_eq(hms, "0:00:59");
}

/* What a progress on a pipe (not a terminal) writes. */
static size_t pipe_read(int fd, char *buf, size_t size) {
    ssize_t n = read(fd, buf, size - 1);
    buf[n > 0 ? n : 0] = 0;
    return n > 0 ? (size_t)n : 0;
}

Test(progress, plain_lines_none_at_zero_then_every_period) {
    int fds[2];
    cr_assert_eq(pipe2(fds, O_NONBLOCK), 0);
    prs_progress p;
    prs_progress_init(&p, fds[1]);
    cr_assert(!p.tty);
    char buf[4096];
    prs_counts zero = {.total_batches = 5, .total_items = 50};
    prs_progress_tick(&p, &zero, 1000, 0, false);
    cr_assert_eq(pipe_read(fds[0], buf, sizeof(buf)), 0, "a line at 0: %s", buf);
    prs_progress_tick(&p, &zero, 1000 + PRS_PROGRESS_PLAIN_EVERY_NS / 2, 1, false);
    cr_assert_eq(pipe_read(fds[0], buf, sizeof(buf)), 0, "before its period: %s", buf);
    prs_counts some = zero;
    some.succeeded_items = 10;
    some.done_batches = 1;
    prs_progress_tick(&p, &some, 1000 + PRS_PROGRESS_PLAIN_EVERY_NS, 5000000000ull, false);
    pipe_read(fds[0], buf, sizeof(buf));
    cr_assert(strncmp(buf, "prs: 1/5 mini-batches, 10/50 items, ETA 0:00:20", 47) == 0, "%s", buf);
    /* Above a plain line (no bar drawn) text goes out as it is. */
    prs_progress_write_above(&p, "hello\n", 6);
    pipe_read(fds[0], buf, sizeof(buf));
    cr_assert_str_eq(buf, "hello\n");
    prs_progress_end(&p);
    close(fds[0]);
    close(fds[1]);
}

Test(progress, text_above_a_bar_clears_and_redraws_it) {
    int fds[2];
    cr_assert_eq(pipe2(fds, O_NONBLOCK), 0);
    prs_progress p;
    prs_progress_init(&p, fds[1]);
    p.tty = true; /* as on a terminal: the width falls back to 80 on a pipe */
    prs_counts c = {
        .total_batches = 4, .done_batches = 1, .total_items = 40, .succeeded_items = 10};
    prs_progress_tick(&p, &c, 1, 1000000000ull, true);
    char buf[4096];
    pipe_read(fds[0], buf, sizeof(buf));
    cr_assert(buf[0] == '\r' && strstr(buf, "1/4 mini-batches") && strlen(buf) <= 80 + 4, "%s",
              buf);
    prs_progress_write_above(&p, "script says hi\n", 15);
    pipe_read(fds[0], buf, sizeof(buf));
    cr_assert(strncmp(buf, "\r\033[Kscript says hi\n\r[", 21) == 0, "%s", buf);
    prs_progress_end(&p);
    pipe_read(fds[0], buf, sizeof(buf));
    cr_assert_str_eq(buf, "\n");
    close(fds[0]);
    close(fds[1]);
}

/* What the terminal side of pty m got (non-blocking, bounded). */
static void pty_read(int m, char *buf, size_t size) {
    size_t n = 0;
    for (int tries = 0; tries < 50 && n + 1 < size; tries++) {
        ssize_t got = read(m, buf + n, size - 1 - n);
        if (got > 0) n += (size_t)got;
        if (got <= 0) {
            if (n) break;
            usleep(10000);
        }
    }
    buf[n] = 0;
}

static void pty_cols(int m, unsigned short cols) {
    struct winsize ws = {.ws_row = 24, .ws_col = cols};
    cr_assert_eq(ioctl(m, TIOCSWINSZ, &ws), 0);
}

/* A terminal narrowed from 120 to 60 columns: the width is asked again only after a
 * SIGWINCH, which redraws at once (within the period), first going up over the row the
 * terminal wrapped the old bar onto. */
Test(progress, sigwinch_redraws_at_the_new_width_at_once) {
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK);
    cr_assert(m >= 0 && grantpt(m) == 0 && unlockpt(m) == 0);
    int s = open(ptsname(m), O_RDWR | O_NOCTTY);
    cr_assert(s >= 0);
    pty_cols(m, 120);
    prs_progress p;
    prs_progress_init(&p, s);
    cr_assert(p.tty);
    prs_progress_tick(&p, &resumed, 1, 10000000000ull, true);
    char buf[4096];
    pty_read(m, buf, sizeof(buf));
    size_t wide = strcspn(buf + 1, "\033");
    cr_assert(wide > 60 && wide <= 119, "%zu: %s", wide, buf);
    /* Narrowed, no signal: a tick within the period draws nothing; a forced one keeps the
     * width it knows (nothing asks the terminal without a SIGWINCH). */
    pty_cols(m, 60);
    prs_progress_tick(&p, &resumed, 2, 10000000000ull, false);
    pty_read(m, buf, sizeof(buf));
    cr_assert_str_eq(buf, "");
    prs_progress_tick(&p, &resumed, 3, 10000000000ull, true);
    pty_read(m, buf, sizeof(buf));
    cr_assert(buf[0] == '\r' && buf[1] == '[' && strcspn(buf + 1, "\033") == wide, "%s", buf);
    prs_progress_on_sigwinch(SIGWINCH);
    prs_progress_tick(&p, &resumed, 4, 10000000000ull, false); /* within the period */
    pty_read(m, buf, sizeof(buf));
    cr_assert(strncmp(buf, "\r\033[A\033[J\r", 8) == 0, "%s", buf);
    size_t narrow = strcspn(buf + 8, "\033");
    cr_assert(narrow <= 59 && strstr(buf, "mini-batches"), "%zu: %s", narrow, buf);
    /* Widened again: nothing to go up over. */
    pty_cols(m, 120);
    prs_progress_on_sigwinch(SIGWINCH);
    prs_progress_tick(&p, &resumed, 5, 10000000000ull, false);
    pty_read(m, buf, sizeof(buf));
    cr_assert(strncmp(buf, "\r\033[J\r", 5) == 0 && strcspn(buf + 5, "\033") > 60, "%s", buf);
    prs_progress_end(&p);
    close(s);
    close(m);
}
