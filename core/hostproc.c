/* hostproc.c -- see hostproc.h. */
#include "hostproc.h"

#include "clock.h"
#include "le.h"
#include "prs_host.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define HP_POLL_MS 20         /* how often a wait looks at the cancel flag */
#define HP_DRAIN_ROUNDS 64    /* reads per stream per poll round: the next round returns */
#define HP_EXIT_DRAIN_MS 200u /* after the host is reaped, its children may hold its pipes */
#define HP_READ_CHUNK 65536u

/* The "oom_kill N" count in file, or -1. */
static int oom_count(const char *file) {
    FILE *f = fopen(file, "re");
    if (!f) return -1;
    char line[256];
    int n = -1;
    while (n < 0 && fgets(line, sizeof(line), f)) {
        if (sscanf(line, "oom_kill %d", &n) != 1) n = -1;
    }
    fclose(f);
    return n;
}

/* The OOM killer's count for this process's memory cgroup: v2 memory.events, v1
 * memory.oom_control (at the cgroup's path, or at the mount's root when a cgroup
 * namespace makes that the process's own); -1 where none can be read. */
static int oom_kills(void) {
    char line[4096], path[4300];
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f) return -1;
    int n = -1;
    while (n < 0 && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = 0;
        if (strncmp(line, "0::", 3) == 0) {
            snprintf(path, sizeof(path), "/sys/fs/cgroup%s/memory.events", line + 3);
            n = oom_count(path);
        }
        const char *v1 = strstr(line, ":memory:");
        if (n < 0 && v1) {
            snprintf(path, sizeof(path), "/sys/fs/cgroup/memory%s/memory.oom_control", v1 + 8);
            n = oom_count(path);
            if (n < 0) n = oom_count("/sys/fs/cgroup/memory/memory.oom_control");
        }
    }
    fclose(f);
    return n;
}

/* ---- output streams ------------------------------------------------------------------- */

static void stream_emit(prs_hostproc *hp, prs_hostproc_stream *s) {
    if (hp->log) prs_joblog_user_stream(hp->log, hp->worker, s->name, s->line, s->len);
    s->len = 0;
}

static void tail_add(prs_hostproc *hp, const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        hp->tail[(hp->tail_total + i) % PRS_HOSTPROC_TAIL_BYTES] = p[i];
    hp->tail_total += n;
    hp->tail_len = (size_t)PRS_MIN(hp->tail_total, (uint64_t)PRS_HOSTPROC_TAIL_BYTES);
}

static void stream_bytes(prs_hostproc *hp, prs_hostproc_stream *s, const char *p, size_t n) {
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) : n;
        size_t room = sizeof(s->line) - s->len;
        size_t k = PRS_MIN(take, room);
        memcpy(s->line + s->len, p, k);
        s->len += k;
        p += k;
        n -= k;
        if (s->len == sizeof(s->line) || (nl && k == take)) {
            if (s->len > 0 && s->line[s->len - 1] == '\r') s->len--;
            stream_emit(hp, s); /* a full buffer is cut: the rest is the next line */
            if (nl && k == take) {
                p++;
                n--;
            }
        }
    }
}

/* Reads what the stream has now. Closes it at end of file. */
static void stream_drain(prs_hostproc *hp, prs_hostproc_stream *s) {
    char buf[8192];
    for (int i = 0; s->fd >= 0 && i < HP_DRAIN_ROUNDS; i++) {
        ssize_t n = read(s->fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        if (n <= 0) {
            if (s->len) stream_emit(hp, s);
            close(s->fd);
            s->fd = -1;
            return;
        }
        if (s == &hp->err) tail_add(hp, buf, (size_t)n);
        stream_bytes(hp, s, buf, (size_t)n);
    }
}

/* ---- answers -------------------------------------------------------------------------- */

/* Room for need more bytes after rlen: drops what was consumed, then grows. */
static int rbuf_reserve(prs_hostproc *hp, size_t need) {
    if (hp->roff) {
        memmove(hp->rbuf, hp->rbuf + hp->roff, hp->rlen - hp->roff);
        hp->rlen -= hp->roff;
        hp->roff = 0;
    }
    if (hp->rcap - hp->rlen >= need) return 0;
    size_t cap = hp->rcap ? hp->rcap : HP_READ_CHUNK;
    while (cap - hp->rlen < need)
        cap *= 2;
    char *p = realloc(hp->rbuf, cap);
    if (!p) return -ENOMEM;
    hp->rbuf = p;
    hp->rcap = cap;
    return 0;
}

/* Reads the answer pipe once. 0 (bytes, or none yet), -EPIPE at its end, -ENOMEM. */
static int resp_read(prs_hostproc *hp) {
    int rc = rbuf_reserve(hp, HP_READ_CHUNK);
    if (rc) return rc;
    for (;;) {
        ssize_t n = read(hp->resp_fd, hp->rbuf + hp->rlen, hp->rcap - hp->rlen);
        if (n > 0) {
            hp->rlen += (size_t)n;
            return 0;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return 0;
        return -EPIPE;
    }
}

/* 1 with a whole frame at roff, 0 not yet, -EPROTO too long, -ENOMEM. */
static int frame_ready(prs_hostproc *hp, uint32_t *type, uint32_t *len) {
    size_t have = hp->rlen - hp->roff;
    if (have < PRS_HOST_FRAME_HEAD_BYTES) return 0;
    *type = prs_le32_get(hp->rbuf + hp->roff);
    *len = prs_le32_get(hp->rbuf + hp->roff + 4);
    if (*len > PRS_HOST_FRAME_MAX) return -EPROTO;
    size_t want = PRS_HOST_FRAME_HEAD_BYTES + (size_t)*len;
    if (have >= want) return 1;
    return rbuf_reserve(hp, want - have);
}

/* ---- waiting -------------------------------------------------------------------------- */

/* One poll round of at most HP_POLL_MS: logs output, buffers answers. *writable: the
 * request pipe has room (when asked). Returns 0 or -EPIPE (the answer pipe ended). */
static int pump(prs_hostproc *hp, bool want_write, bool *writable) {
    struct pollfd p[4] = {{.fd = hp->resp_fd, .events = POLLIN},
                          {.fd = hp->out.fd, .events = POLLIN},
                          {.fd = hp->err.fd, .events = POLLIN},
                          {.fd = want_write ? hp->req_fd : -1, .events = POLLOUT}};
    int n = poll(p, 4, HP_POLL_MS);
    if (n < 0 && errno != EINTR) return -EPIPE;
    if (n <= 0) return 0;
    if (p[1].revents) stream_drain(hp, &hp->out);
    if (p[2].revents) stream_drain(hp, &hp->err);
    if (writable) *writable = p[3].revents != 0;
    if (p[0].revents) return resp_read(hp);
    return 0;
}

/* A death seen on the pipes: reap the host and say how it went. */
static int died(prs_hostproc *hp) {
    prs_hostproc_end(hp, 2000);
    return -EPIPE;
}

/* -ETIMEDOUT once the cancel has been on for kill_after_ms (the host is then killed). */
static int check_cancel(prs_hostproc *hp, const atomic_bool *cancel, uint32_t kill_after_ms) {
    if (!cancel || !atomic_load_explicit(cancel, memory_order_relaxed)) return 0;
    uint64_t now = prs_mono_ms();
    if (!hp->cancel_ms) hp->cancel_ms = now;
    if (now - hp->cancel_ms < kill_after_ms) return 0;
    kill(hp->pid, SIGKILL);
    hp->killed = true;
    prs_hostproc_end(hp, 0);
    return -ETIMEDOUT;
}

int prs_hostproc_recv(prs_hostproc *hp, const atomic_bool *cancel, uint32_t kill_after_ms,
                      uint32_t *type, const char **payload, uint32_t *len) {
    if (!hp->pid) return -EPIPE;
    for (;;) {
        int rc = frame_ready(hp, type, len);
        if (rc == 1) {
            *payload = hp->rbuf + hp->roff + PRS_HOST_FRAME_HEAD_BYTES;
            hp->roff += PRS_HOST_FRAME_HEAD_BYTES + *len;
            return 0;
        }
        if (rc == -EPROTO) {
            kill(hp->pid, SIGKILL);
            hp->killed = true;
            prs_hostproc_end(hp, 0);
            snprintf(hp->why, sizeof(hp->why),
                     "it sent a frame longer than the protocol allows (core/prs_host.h): killed");
            return -EPROTO;
        }
        if (rc) return rc;
        if ((rc = check_cancel(hp, cancel, kill_after_ms))) return rc;
        if (pump(hp, false, NULL) == -EPIPE) {
            /* What it wrote before the end may hold a whole answer. */
            rc = frame_ready(hp, type, len);
            if (rc != 1) return died(hp);
        }
    }
}

int prs_hostproc_send(prs_hostproc *hp, uint32_t type, const struct iovec *iov, int iovcnt,
                      const atomic_bool *cancel, uint32_t kill_after_ms) {
    if (!hp->pid) return -EPIPE;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    if (total > PRS_HOST_FRAME_MAX || iovcnt > 15) return -EINVAL;
    unsigned char head[PRS_HOST_FRAME_HEAD_BYTES];
    prs_le32_put(head, type);
    prs_le32_put(head + 4, (uint32_t)total);
    struct iovec v[16] = {{.iov_base = head, .iov_len = sizeof(head)}};
    memcpy(v + 1, iov, (size_t)iovcnt * sizeof(*iov));
    int cnt = iovcnt + 1, first = 0;
    while (first < cnt) {
        ssize_t n = writev(hp->req_fd, v + first, cnt - first);
        if (n < 0) {
            if (errno == EPIPE) {
                sigset_t pipe_set;
                sigemptyset(&pipe_set);
                sigaddset(&pipe_set, SIGPIPE);
                sigtimedwait(&pipe_set, NULL, &(struct timespec){0}); /* the blocked one */
                return died(hp);
            }
            if (errno != EAGAIN && errno != EINTR) return died(hp);
            n = 0;
        }
        size_t k = (size_t)n;
        while (first < cnt && k >= v[first].iov_len)
            k -= v[first++].iov_len;
        if (first == cnt) break;
        v[first].iov_base = (char *)v[first].iov_base + k;
        v[first].iov_len -= k;
        int rc = check_cancel(hp, cancel, kill_after_ms);
        if (rc) return rc;
        bool writable = false;
        if (pump(hp, true, &writable) == -EPIPE) return died(hp);
    }
    return 0;
}

void prs_hostproc_request_begin(prs_hostproc *hp) {
    hp->tail_total = 0;
    hp->tail_len = 0;
    hp->cancel_ms = 0;
}

size_t prs_hostproc_tail(const prs_hostproc *hp, char *buf, size_t size) {
    size_t n = PRS_MIN(hp->tail_len, size - 1);
    uint64_t start = hp->tail_total - n;
    for (size_t i = 0; i < n; i++)
        buf[i] = hp->tail[(start + i) % PRS_HOSTPROC_TAIL_BYTES];
    buf[n] = 0;
    return n;
}

/* ---- start and end -------------------------------------------------------------------- */

static void describe(prs_hostproc *hp, int status) {
    hp->exit_code = 0;
    hp->signal = 0;
    if (WIFEXITED(status)) {
        hp->exit_code = WEXITSTATUS(status);
        snprintf(hp->why, sizeof(hp->why), "exited with code %d", hp->exit_code);
        return;
    }
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    hp->signal = sig;
    const char *abbrev = sigabbrev_np(sig);
    int n = snprintf(hp->why, sizeof(hp->why), "killed by signal %d (SIG%s: %s)", sig,
                     abbrev ? abbrev : "?", strsignal(sig));
    size_t room = sizeof(hp->why) - (size_t)n;
    if (sig != SIGKILL) return;
    if (hp->killed) {
        snprintf(hp->why + n, room, " sent by prs");
    } else {
        int now = oom_kills();
        if (now >= 0 && hp->oom_kills_at_start >= 0 && now > hp->oom_kills_at_start)
            snprintf(hp->why + n, room, ": the kernel's OOM killer (the cgroup's oom_kill rose)");
        else
            snprintf(hp->why + n, room, " from outside prs (another process, or the OOM killer)");
    }
}

/* Waits up to wait_ms for the child to exit; true once it is reaped (status set). */
static bool reap_within(prs_hostproc *hp, uint32_t wait_ms, int *status) {
    uint64_t until = prs_mono_ms() + wait_ms;
    for (;;) {
        pid_t r = waitpid(hp->pid, status, WNOHANG);
        if (r == hp->pid || (r < 0 && errno == ECHILD)) return true;
        if (prs_mono_ms() >= until) return false;
        if (hp->resp_fd >= 0 && resp_read(hp) == -EPIPE) {
            close(hp->resp_fd);
            hp->resp_fd = -1;
        }
        pump(hp, false, NULL); /* it may be writing its last words */
    }
}

void prs_hostproc_end(prs_hostproc *hp, uint32_t grace_ms) {
    if (!hp->pid) return;
    if (hp->req_fd >= 0) close(hp->req_fd); /* end of requests: the host exits */
    hp->req_fd = -1;
    int status = 0;
    if (!reap_within(hp, grace_ms, &status)) {
        kill(hp->pid, SIGKILL);
        hp->killed = true;
        waitpid(hp->pid, &status, 0); /* SIGKILL cannot be caught: bounded by the kernel */
    }
    uint64_t until = prs_mono_ms() + HP_EXIT_DRAIN_MS;
    while ((hp->out.fd >= 0 || hp->err.fd >= 0) && prs_mono_ms() < until) {
        struct pollfd p[2] = {{.fd = hp->out.fd, .events = POLLIN},
                              {.fd = hp->err.fd, .events = POLLIN}};
        if (poll(p, 2, HP_POLL_MS) <= 0) continue;
        if (p[0].revents) stream_drain(hp, &hp->out);
        if (p[1].revents) stream_drain(hp, &hp->err);
    }
    prs_hostproc_stream *streams[2] = {&hp->out, &hp->err};
    for (int i = 0; i < 2; i++) {
        if (streams[i]->len) stream_emit(hp, streams[i]);
        if (streams[i]->fd >= 0) close(streams[i]->fd);
        streams[i]->fd = -1;
    }
    if (hp->resp_fd >= 0) close(hp->resp_fd);
    hp->resp_fd = -1;
    describe(hp, status);
    hp->ended_unix_ms = prs_wall_ms();
    hp->pid = 0;
}

void prs_hostproc_free(prs_hostproc *hp) {
    PRS_ASSERT(hp->pid == 0);
    free(hp->rbuf);
    hp->rbuf = NULL;
    hp->rcap = hp->rlen = hp->roff = 0;
}

/* prs's environment with spec's entries added or replacing theirs; NULL on ENOMEM. */
static char **spawn_env(const prs_hostproc_spec *spec) {
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + spec->env_count + 1, sizeof(char *));
    if (!env) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool replaced = false;
        for (uint32_t e = 0; e < spec->env_count && !replaced; e++) {
            size_t key = strcspn(spec->env[e], "=");
            replaced = strncmp(environ[i], spec->env[e], key + 1) == 0;
        }
        if (!replaced) env[k++] = environ[i];
    }
    for (uint32_t e = 0; e < spec->env_count; e++)
        env[k++] = (char *)(uintptr_t)spec->env[e];
    return env;
}

/* Pipes: the child's ends are moved to fds >= 10 so that every dup2 onto 1..4 is a real
 * copy (one onto itself would keep close-on-exec). p[i][0] read, p[i][1] write. */
static int spawn_pipes(int p[4][2]) {
    for (int i = 0; i < 4; i++)
        p[i][0] = p[i][1] = -1;
    for (int i = 0; i < 4; i++) {
        if (pipe2(p[i], O_CLOEXEC) != 0) return -errno;
        int child_end = i == 0 ? 0 : 1; /* 0: requests (child reads); else child writes */
        int moved = fcntl(p[i][child_end], F_DUPFD_CLOEXEC, 10);
        if (moved < 0) return -errno;
        close(p[i][child_end]);
        p[i][child_end] = moved;
    }
    return 0;
}

static void close_pipes(int p[4][2]) {
    for (int i = 0; i < 4; i++)
        for (int e = 0; e < 2; e++)
            if (p[i][e] >= 0) close(p[i][e]);
}

static int spawn_child(pid_t *pid, const prs_hostproc_spec *spec, int p[4][2], char **env) {
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, p[1][1], 1); /* stdout */
    posix_spawn_file_actions_adddup2(&fa, p[2][1], 2); /* stderr */
    posix_spawn_file_actions_adddup2(&fa, p[0][0], 3); /* requests */
    posix_spawn_file_actions_adddup2(&fa, p[3][1], 4); /* answers */
    posix_spawn_file_actions_addclosefrom_np(&fa, 5);
    /* A clean signal state: the worker blocks SIGPIPE, the runtime may ignore others. */
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    int rc = posix_spawn(pid, spec->argv[0], &fa, &at, (char *const *)(uintptr_t)spec->argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return -rc;
}

static void block_sigpipe(void) {
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, NULL); /* a dead host's pipe gives EPIPE */
}

static void pin(pid_t pid, int cpu) {
    if (cpu < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(pid, sizeof(set), &set); /* best effort, as for the worker */
}

void prs_hostproc_adopt(prs_hostproc *hp, prs_joblog *log, int worker, int cpu) {
    hp->log = log;
    hp->worker = worker;
    block_sigpipe();
    pin(hp->pid, cpu);
}

int prs_hostproc_spawn(prs_hostproc *hp, const prs_hostproc_spec *spec, char *err,
                       size_t err_size) {
    char *rbuf = hp->rbuf;
    size_t rcap = hp->rcap;
    memset(hp, 0, offsetof(prs_hostproc, rbuf)); /* a restart keeps its buffer */
    hp->rbuf = rbuf;
    hp->rcap = rcap;
    hp->roff = hp->rlen = 0;
    hp->req_fd = hp->resp_fd = hp->out.fd = hp->err.fd = -1;
    hp->out.name = "stdout";
    hp->err.name = "stderr";
    hp->log = spec->log;
    hp->worker = spec->worker;
    hp->why[0] = 0;
    hp->killed = false;
    block_sigpipe();
    int p[4][2];
    int rc = spawn_pipes(p);
    char **env = rc ? NULL : spawn_env(spec);
    if (!rc && !env) rc = -ENOMEM;
    if (rc) {
        snprintf(err, err_size, "cannot create the host's pipes: %s", strerror(-rc));
        goto close_pipes;
    }
    hp->oom_kills_at_start = oom_kills();
    pid_t pid;
    rc = spawn_child(&pid, spec, p, env);
    free(env);
    if (rc) {
        snprintf(err, err_size, "cannot start %s: %s", spec->argv[0], strerror(-rc));
        goto close_pipes;
    }
    pin(pid, spec->cpu);
    if (spec->memory_limit_bytes) {
        /* Before the host reads INIT, so before the entry script is imported. */
        struct rlimit lim = {.rlim_cur = spec->memory_limit_bytes,
                             .rlim_max = spec->memory_limit_bytes};
        prlimit(pid, RLIMIT_AS, &lim, NULL);
    }
    hp->pid = pid;
    hp->last_pid = pid;
    hp->started_unix_ms = prs_wall_ms();
    hp->req_fd = p[0][1];
    hp->out.fd = p[1][0];
    hp->err.fd = p[2][0];
    hp->resp_fd = p[3][0];
    p[0][1] = p[1][0] = p[2][0] = p[3][0] = -1; /* kept */
    for (int i = 0; i < 4; i++) {
        int fd = i == 0 ? hp->req_fd : i == 1 ? hp->out.fd : i == 2 ? hp->err.fd : hp->resp_fd;
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
close_pipes:
    close_pipes(p);
    return rc;
}
