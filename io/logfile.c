/* logfile.c -- see logfile.h. */
#include "logfile.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#ifndef PRS_NO_URING
#include <liburing.h>
#endif

#define LOGFILE_RING_ENTRIES 4u
#define LOGFILE_MAX_PARTIAL 64u /* short writes retried at most this often per flush */

struct prs_logfile_writer {
    pthread_mutex_t lock;
    bool uring;
#ifndef PRS_NO_URING
    struct io_uring ring;
#endif
    _Atomic uint64_t uring_writes;
};

typedef struct logfile_stream {
    prs_logfile_writer *w;
    int fd;
} logfile_stream;

int prs_logfile_writer_init(prs_logfile_writer **out) {
    prs_logfile_writer *w = calloc(1, sizeof(*w));
    if (!w) return -ENOMEM;
    pthread_mutex_init(&w->lock, NULL);
    *out = w;
    return 0;
}

#ifndef PRS_NO_URING
int prs_logfile_writer_use_uring(prs_logfile_writer *w) {
    pthread_mutex_lock(&w->lock);
    int rc = 0;
    if (!w->uring) {
        rc = io_uring_queue_init(LOGFILE_RING_ENTRIES, &w->ring, 0);
        if (rc == 0 && !(w->ring.features & IORING_FEAT_RW_CUR_POS)) {
            io_uring_queue_exit(&w->ring);
            rc = -EOPNOTSUPP;
        }
        w->uring = rc == 0;
    }
    pthread_mutex_unlock(&w->lock);
    return rc;
}

static void ring_exit(prs_logfile_writer *w) {
    io_uring_queue_exit(&w->ring);
}

/* One write of up to len bytes through the ring; the byte count or a negative errno. */
static ssize_t uring_write_locked(prs_logfile_writer *w, int fd, const char *buf, size_t len) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
    PRS_ASSERT(sqe != NULL); /* one write in flight at a time, under the lock */
    io_uring_prep_write(sqe, fd, buf, (unsigned)PRS_MIN(len, (size_t)1 << 30), (uint64_t)-1);
    int rc = io_uring_submit_and_wait(&w->ring, 1);
    if (rc < 0) return rc;
    struct io_uring_cqe *cqe;
    rc = io_uring_peek_cqe(&w->ring, &cqe);
    if (rc < 0) return rc;
    ssize_t res = cqe->res;
    io_uring_cqe_seen(&w->ring, cqe);
    return res;
}
#else /* PRS_NO_URING: the writer always uses write(2) */
int prs_logfile_writer_use_uring(prs_logfile_writer *w) {
    (void)w;
    return -ENOSYS;
}

/* w->uring is never set in this build. */
static void ring_exit(prs_logfile_writer *w) {
    (void)w;
    PRS_ASSERT(!"io_uring log writes in a build without them");
}

static ssize_t uring_write_locked(prs_logfile_writer *w, int fd, const char *buf, size_t len) {
    (void)fd;
    (void)buf;
    (void)len;
    ring_exit(w);
    return -ENOSYS;
}
#endif

bool prs_logfile_writer_uses_uring(prs_logfile_writer *w) {
    pthread_mutex_lock(&w->lock);
    bool uring = w->uring;
    pthread_mutex_unlock(&w->lock);
    return uring;
}

uint64_t prs_logfile_writer_uring_writes(prs_logfile_writer *w) {
    return atomic_load(&w->uring_writes);
}

void prs_logfile_writer_destroy(prs_logfile_writer *w) {
    if (!w) return;
    if (w->uring) ring_exit(w);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

static ssize_t logfile_write(void *cookie, const char *buf, size_t len) {
    logfile_stream *s = cookie;
    prs_logfile_writer *w = s->w;
    size_t done = 0;
    pthread_mutex_lock(&w->lock);
    bool uring = w->uring;
    for (unsigned pass = 0; done < len && pass < LOGFILE_MAX_PARTIAL; pass++) {
        ssize_t n = uring ? uring_write_locked(w, s->fd, buf + done, len - done)
                          : write(s->fd, buf + done, len - done);
        if (!uring && n < 0) n = -errno;
        if (n == -EINTR || n == -EAGAIN) continue;
        if (n <= 0) {
            pthread_mutex_unlock(&w->lock);
            errno = n == 0 ? EIO : (int)-n;
            return done ? (ssize_t)done : -1;
        }
        done += (size_t)n;
    }
    if (uring) atomic_fetch_add(&w->uring_writes, 1);
    pthread_mutex_unlock(&w->lock);
    return (ssize_t)done;
}

static int logfile_close(void *cookie) {
    logfile_stream *s = cookie;
    int rc = close(s->fd);
    free(s);
    return rc;
}

FILE *prs_logfile_open(prs_logfile_writer *w, const char *path, size_t buffer_bytes) {
    logfile_stream *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->w = w;
    s->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (s->fd < 0) goto free_stream;
    cookie_io_functions_t io = {.write = logfile_write, .close = logfile_close};
    FILE *f = fopencookie(s, "a", io);
    if (!f) goto close_fd;
    setvbuf(f, NULL, _IOFBF, buffer_bytes);
    return f;
close_fd:;
    int e = errno;
    close(s->fd);
    errno = e;
free_stream:
    free(s);
    return NULL;
}
