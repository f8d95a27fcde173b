/* hostproc.h -- one host process (core/prs_host.h): start it, exchange frames, see it die.
 *
 * Owns: the child process (pid), the four pipes to it, a frame read buffer, the line
 *   buffers of its stdout and stderr, and the tail of its stderr since the last request.
 * May call: libc (posix_spawn, poll, waitpid), joblog (user lines only).
 * Callers must: use a prs_hostproc from one thread at a time (the one that spawned it,
 *   or took it over with prs_hostproc_adopt), with SIGPIPE blocked in that thread (spawn
 *   and adopt block it); keep the spawning thread alive while the host runs (the
 *   kernel's PR_SET_PDEATHSIG, which ends a host whose prs is gone, follows that thread);
 *   end it with prs_hostproc_end (which reaps the child) before freeing it.
 * While a call waits for the host, whatever the host writes on stdout/stderr goes to
 * the user log, tagged with the worker, line by line. */
#ifndef PRS_HOSTPROC_H
#define PRS_HOSTPROC_H

#include "base.h"
#include "joblog.h"

#include <stdatomic.h>
#include <sys/types.h>
#include <sys/uio.h>

#define PRS_HOSTPROC_LINE_MAX 4000u
#define PRS_HOSTPROC_TAIL_BYTES 16384u
#define PRS_HOSTPROC_WHY_BYTES 512u

typedef struct prs_hostproc_stream {
    int fd;
    const char *name; /* "stdout" or "stderr" */
    char line[PRS_HOSTPROC_LINE_MAX];
    size_t len;
} prs_hostproc_stream;

typedef struct prs_hostproc {
    pid_t pid;      /* 0: none */
    pid_t last_pid; /* the latest host's, kept after it ended */
    int req_fd, resp_fd;
    prs_hostproc_stream out, err;
    char *rbuf; /* answers read, not yet consumed: [roff, rlen) */
    size_t roff, rlen, rcap;
    char tail[PRS_HOSTPROC_TAIL_BYTES]; /* stderr since the last request, a ring */
    size_t tail_len;
    uint64_t tail_total;
    prs_joblog *log;
    int worker;
    uint64_t started_unix_ms;
    int oom_kills_at_start; /* the cgroup's memory.events oom_kill at spawn, or -1 */
    bool killed;            /* prs sent the SIGKILL */
    uint64_t cancel_ms;     /* when the wait saw the cancel (0: not yet) */
    uint64_t ended_unix_ms;
    /* After the host is gone: how, for the error message and processes.csv. */
    int exit_code, signal;
    char why[PRS_HOSTPROC_WHY_BYTES];
} prs_hostproc;

typedef struct prs_hostproc_spec {
    const char *const *argv; /* argv[0]: the interpreter */
    const char *const *env;  /* "K=V" to add to (or replace in) prs's environment */
    uint32_t env_count;
    int cpu;                     /* pin to it, or -1 */
    uint64_t memory_limit_bytes; /* RLIMIT_AS of the host; 0: none */
    int worker;
    prs_joblog *log;
} prs_hostproc_spec;

/* Starts the host. Returns 0; -ENOENT / -EACCES (the interpreter: err says so) or
 * another negative errno (pipes, spawn). */
int prs_hostproc_spawn(prs_hostproc *hp, const prs_hostproc_spec *spec, char *err, size_t err_size);

/* Takes over a host spawned by another thread (the job-start check's, for worker 0):
 * its output now goes to log as worker's, it is pinned to cpu, and the calling thread
 * blocks SIGPIPE. The host still dies with the thread that spawned it. */
void prs_hostproc_adopt(prs_hostproc *hp, prs_joblog *log, int worker, int cpu);

/* Sends one frame whose payload is the iov parts, concatenated. Drains the host's output
 * meanwhile. Returns 0, -EPIPE (the host died: hp->why), -ETIMEDOUT (cancel turned true
 * and the host was killed kill_after_ms later), -EINVAL (a payload too large). */
int prs_hostproc_send(prs_hostproc *hp, uint32_t type, const struct iovec *iov, int iovcnt,
                      const atomic_bool *cancel, uint32_t kill_after_ms);

/* Waits for the next frame. 0 with *type and *payload, *len (valid until the next call);
 * -EPIPE, -ETIMEDOUT as for send; -EPROTO (a frame longer than the ABI allows: the host
 * was killed). cancel may be NULL (wait until the host answers or dies). */
int prs_hostproc_recv(prs_hostproc *hp, const atomic_bool *cancel, uint32_t kill_after_ms,
                      uint32_t *type, const char **payload, uint32_t *len);

/* Before each request: a new stderr tail, no cancel seen yet. */
void prs_hostproc_request_begin(prs_hostproc *hp);
/* The stderr tail in order, into buf (NUL-terminated); returns its length. */
size_t prs_hostproc_tail(const prs_hostproc *hp, char *buf, size_t size);

/* Ends the host: waits up to grace_ms for it to exit on its own (after SHUTDOWN or a
 * closed request pipe), then kills it (SIGKILL) and reaps it; logs what is left on its
 * stdout/stderr. Sets exit_code/signal/why. Idempotent; a no-op without a host. */
void prs_hostproc_end(prs_hostproc *hp, uint32_t grace_ms);

/* Frees the buffers (after end). */
void prs_hostproc_free(prs_hostproc *hp);

#endif
