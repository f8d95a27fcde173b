/* capture.c -- see capture.h. */
#include "capture.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CAPTURE_TICK_MS 100        /* how often the reader looks for the stop */
#define CAPTURE_DRAIN_ROUNDS 2048u /* reads per stream at the stop, at most (8 KiB each) */

typedef struct capture_stream {
    const char *name;
    int target_fd; /* 1 or 2 */
    int saved_fd;  /* the original, restored at stop */
    int read_fd;   /* the pipe's read end; -1 once at EOF */
    size_t len;
    char line[PRS_CAPTURE_LINE_MAX + 1]; /* + its newline */
} capture_stream;

struct prs_capture {
    prs_joblog *log;
    _Atomic(prs_progress *) progress; /* copies of stderr lines go through it, once set */
    pthread_t reader;
    atomic_bool stopping; /* the reader drains what is there and ends */
    capture_stream s[2];
};

static void stream_line(prs_capture *cap, capture_stream *st) {
    prs_joblog_capture(cap->log, st->name, st->line, st->len);
    if (st->target_fd == STDERR_FILENO) {
        /* The user still sees the script's stderr where they expect it (one write: the
         * line and its newline; above the progress bar when one is drawn). */
        st->line[st->len] = '\n';
        prs_progress *p = atomic_load(&cap->progress);
        if (p) {
            prs_progress_write_above(p, st->line, st->len + 1);
        } else {
            ssize_t ignored = write(st->saved_fd, st->line, st->len + 1);
            (void)ignored;
        }
    }
    st->len = 0;
}

static void stream_bytes(prs_capture *cap, capture_stream *st, const char *buf, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            stream_line(cap, st);
            continue;
        }
        if (st->len == PRS_CAPTURE_LINE_MAX) stream_line(cap, st); /* cut, never lost */
        st->line[st->len++] = buf[i];
    }
}

/* Reads what is there on a stream; marks it over at EOF, an error, or a descriptor the
 * script closed (POLLNVAL: never read or closed again by prs). */
static void stream_read(prs_capture *cap, capture_stream *st, short revents) {
    char buf[8192];
    if (revents & POLLNVAL) {
        st->read_fd = -1;
        return;
    }
    ssize_t got = read(st->read_fd, buf, sizeof(buf));
    if (got > 0) {
        stream_bytes(cap, st, buf, (size_t)got);
        return;
    }
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (st->len) stream_line(cap, st); /* a last line without '\n' */
    close(st->read_fd);
    st->read_fd = -1;
}

/* Until both streams end, or until the stop: then what is already in the pipes, within
 * CAPTURE_DRAIN_ROUNDS. A process the script started may hold the pipes' write ends for
 * ever: capture ends with the runtime, never waits for EOF. */
static void *reader_main(void *arg) {
    prs_capture *cap = arg;
    unsigned rounds = 0;
    for (;;) {
        struct pollfd p[2];
        nfds_t n = 0;
        capture_stream *by[2];
        for (int i = 0; i < 2; i++) {
            if (cap->s[i].read_fd < 0) continue;
            p[n] = (struct pollfd){.fd = cap->s[i].read_fd, .events = POLLIN};
            by[n++] = &cap->s[i];
        }
        if (n == 0) break;
        bool stopping = atomic_load(&cap->stopping);
        int rc = poll(p, n, stopping ? 0 : CAPTURE_TICK_MS);
        if (rc < 0 && errno != EINTR) break;
        if (rc == 0 && stopping) break; /* nothing more right now */
        for (nfds_t i = 0; rc > 0 && i < n; i++) {
            if (p[i].revents) stream_read(cap, by[i], p[i].revents);
        }
        if (stopping && ++rounds > CAPTURE_DRAIN_ROUNDS) break;
    }
    for (int i = 0; i < 2; i++) {
        capture_stream *st = &cap->s[i];
        if (st->len) stream_line(cap, st);
    }
    return NULL;
}

int prs_capture_start(prs_capture **out, prs_joblog *log) {
    prs_capture *cap = calloc(1, sizeof(*cap));
    if (!cap) return -ENOMEM;
    cap->log = log;
    cap->s[0] = (capture_stream){
        .name = "stdout", .target_fd = STDOUT_FILENO, .saved_fd = -1, .read_fd = -1};
    cap->s[1] = (capture_stream){
        .name = "stderr", .target_fd = STDERR_FILENO, .saved_fd = -1, .read_fd = -1};
    int rc = 0;
    int fds[2][2] = {{-1, -1}, {-1, -1}};
    for (int i = 0; i < 2 && rc == 0; i++) {
        cap->s[i].saved_fd = fcntl(cap->s[i].target_fd, F_DUPFD_CLOEXEC, 3);
        if (cap->s[i].saved_fd < 0 || pipe2(fds[i], O_CLOEXEC) != 0) rc = -errno;
    }
    if (rc) goto undo_fds;
    fflush(stdout);
    fflush(stderr);
    for (int i = 0; i < 2; i++) {
        cap->s[i].read_fd = fds[i][0];
        fcntl(fds[i][0], F_SETFL, O_NONBLOCK); /* the drain at the stop must not block */
        dup2(fds[i][1], cap->s[i].target_fd);  /* fd 1/2 without CLOEXEC: children inherit it */
        close(fds[i][1]);
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* a pipe now: lines must not wait for exit */
    rc = -pthread_create(&cap->reader, NULL, reader_main, cap);
    if (rc) {
        for (int i = 0; i < 2; i++) {
            dup2(cap->s[i].saved_fd, cap->s[i].target_fd);
            close(cap->s[i].read_fd);
            close(cap->s[i].saved_fd);
        }
        free(cap);
        return rc;
    }
    *out = cap;
    return 0;
undo_fds:
    for (int i = 0; i < 2; i++) {
        if (fds[i][0] >= 0) close(fds[i][0]);
        if (fds[i][1] >= 0) close(fds[i][1]);
        if (cap->s[i].saved_fd >= 0) close(cap->s[i].saved_fd);
    }
    free(cap);
    return rc;
}

void prs_capture_stop(prs_capture *cap) {
    if (!cap) return;
    fflush(stdout);
    fflush(stderr);
    /* Putting the originals back closes the pipes' write ends prs holds; the reader
     * drains what is left and ends, whoever else still holds them. */
    for (int i = 0; i < 2; i++)
        dup2(cap->s[i].saved_fd, cap->s[i].target_fd);
    atomic_store(&cap->stopping, true);
    pthread_join(cap->reader, NULL); /* bounded: a tick, then the drain */
    for (int i = 0; i < 2; i++) {
        if (cap->s[i].read_fd >= 0) close(cap->s[i].read_fd);
        close(cap->s[i].saved_fd);
    }
    free(cap);
}

void prs_capture_set_progress(prs_capture *cap, prs_progress *p) {
    if (cap) atomic_store(&cap->progress, p);
}

int prs_capture_stderr_fd(const prs_capture *cap) {
    return cap ? cap->s[1].saved_fd : STDERR_FILENO;
}
