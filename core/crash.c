/* crash.c -- see crash.h. */
#include "crash.h"
#include "fs.h"

#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CRASH_ALT_STACK_BYTES (64u * 1024u)
#define CRASH_MAX_ITEMS 64u
#define CRASH_MAX_FRAMES 64

static int crash_dir_fd = -1;

typedef struct crash_thread {
    int worker_id;
    prs_scoreboard_slot *slot;
    const prs_batch *batch;
    void *alt_stack;
} crash_thread;

/* initial-exec: no lazy TLS allocation can happen inside the handler. */
static __thread crash_thread *crash_self __attribute__((tls_model("initial-exec")));
static __thread volatile sig_atomic_t crash_in_handler __attribute__((tls_model("initial-exec")));

/* The thread that writes the evidence and ends the process. Two workers can fault at
 * once: each marks its own slot (both batches crashed), the second then waits for the
 * first to end the process instead of dying of a default action before the first has
 * marked anything. */
static atomic_int crash_owner;

/* Restores sig's default action and raises it: the process dies of it now (SA_NODEFER),
 * or, where delivery is deferred to the handler's return (ThreadSanitizer), when the
 * handler returns -- a real fault then faults again, into the default action. */
static void crash_die(int sig) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    raise(sig);
}

static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};

static const char *sig_name(int sig) {
    switch (sig) {
    case SIGSEGV:
        return "SIGSEGV";
    case SIGBUS:
        return "SIGBUS";
    case SIGFPE:
        return "SIGFPE";
    case SIGILL:
        return "SIGILL";
    case SIGABRT:
        return "SIGABRT";
    }
    return "signal";
}

/* Async-signal-safe formatting: a tiny appender over a fixed buffer. */
typedef struct sbuf {
    char b[8192];
    size_t n;
} sbuf;

static void put(sbuf *s, const char *text) {
    for (; *text && s->n < sizeof(s->b); text++)
        s->b[s->n++] = *text;
}

static void put_u64(sbuf *s, uint64_t v, unsigned base) {
    char tmp[24];
    int i = 0;
    do {
        tmp[i++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v && i < (int)sizeof(tmp));
    while (i > 0 && s->n < sizeof(s->b))
        s->b[s->n++] = tmp[--i];
}

static void crash_handler(int sig, siginfo_t *info, void *uctx) {
    (void)uctx;
    if (crash_in_handler) { /* the handler itself faulted */
        crash_die(sig);
        return;
    }
    crash_in_handler = 1;
    crash_thread *self = crash_self;
    const prs_batch *batch = self ? self->batch : NULL;
    if (self && self->slot && batch) {
        atomic_store_explicit(&self->slot->signal, sig, memory_order_relaxed);
        atomic_store_explicit(&self->slot->state, PRS_SLOT_CRASHED, memory_order_release);
    }
    int none = 0;
    if (!atomic_compare_exchange_strong(&crash_owner, &none, 1)) {
        for (;;)
            pause(); /* the owner ends the process */
    }
    sbuf name = {.n = 0};
    put(&name, "crash-");
    put_u64(&name, (uint64_t)getpid(), 10);
    if (self) {
        put(&name, "-w");
        put_u64(&name, (uint64_t)self->worker_id, 10);
    }
    if (batch) {
        put(&name, "-b");
        put_u64(&name, batch->id, 10);
    }
    put(&name, ".txt");
    name.b[PRS_MIN(name.n, sizeof(name.b) - 1)] = 0;
    int fd = crash_dir_fd >= 0
                 ? openat(crash_dir_fd, name.b, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)
                 : -1;
    if (fd < 0) fd = STDERR_FILENO;
    static sbuf s; /* static: the alternate stack is small; one crash is handled at a time */
    s.n = 0;
    put(&s, "prs: fatal signal ");
    put_u64(&s, (uint64_t)sig, 10);
    put(&s, " (");
    put(&s, sig_name(sig));
    put(&s, ") at address 0x");
    put_u64(&s, (uint64_t)(uintptr_t)info->si_addr, 16);
    put(&s, "\n");
    if (self) {
        put(&s, "worker ");
        put_u64(&s, (uint64_t)self->worker_id, 10);
        put(&s, "\n");
    }
    if (batch) {
        put(&s, "batch ");
        put_u64(&s, batch->id, 10);
        put(&s, ", attempt ");
        put_u64(&s, batch->attempt, 10);
        put(&s, ", items ");
        put_u64(&s, batch->count, 10);
        put(&s, ":\n");
        for (uint32_t i = 0; i < batch->count && i < CRASH_MAX_ITEMS; i++) {
            put(&s, "  ");
            put(&s, batch->items[i].name);
            put(&s, "\n");
        }
    } else {
        put(&s, "not inside prs_run (init, shutdown or prs itself)\n");
    }
    put(&s, "stack:\n");
    ssize_t ignored = write(fd, s.b, s.n);
    (void)ignored;
    void *frames[CRASH_MAX_FRAMES];
    int n = backtrace(frames, CRASH_MAX_FRAMES);
    backtrace_symbols_fd(frames, n, fd);
    if (fd != STDERR_FILENO) close(fd);
    crash_die(sig);
}

int prs_crash_install(const char *error_dir) {
    int rc = prs_mkdir_p(error_dir);
    if (rc) return rc;
    int fd = open(error_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    if (crash_dir_fd >= 0) close(crash_dir_fd);
    crash_dir_fd = fd;
    /* backtrace() loads libgcc on first use, which is not signal-safe: do it now. */
    void *warm[2];
    backtrace(warm, 2);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = crash_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < PRS_ARRAY_LEN(crash_signals); i++) {
        if (sigaction(crash_signals[i], &sa, NULL) != 0) return -errno;
    }
    return 0;
}

int prs_crash_thread_enter(int worker_id, prs_scoreboard_slot *slot) {
    crash_thread *t = calloc(1, sizeof(*t));
    if (!t) return -ENOMEM;
    t->alt_stack = malloc(CRASH_ALT_STACK_BYTES);
    if (!t->alt_stack) {
        free(t);
        return -ENOMEM;
    }
    stack_t st = {.ss_sp = t->alt_stack, .ss_size = CRASH_ALT_STACK_BYTES, .ss_flags = 0};
    if (sigaltstack(&st, NULL) != 0) {
        free(t->alt_stack);
        free(t);
        return -errno;
    }
    t->worker_id = worker_id;
    t->slot = slot;
    crash_self = t;
    return 0;
}

void prs_crash_thread_leave(void) {
    crash_thread *t = crash_self;
    if (!t) return;
    stack_t st = {.ss_flags = SS_DISABLE};
    sigaltstack(&st, NULL);
    crash_self = NULL;
    free(t->alt_stack);
    free(t);
}

void prs_crash_set_batch(const prs_batch *batch) {
    if (crash_self) crash_self->batch = batch;
}
