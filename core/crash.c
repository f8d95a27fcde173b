/* crash.c -- see crash.h. */
#include "crash.h"
#include "fs.h"

#include <dirent.h>
#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <ucontext.h>
#include <unistd.h>

#define CRASH_ALT_STACK_BYTES (64u * 1024u)
#define CRASH_MAPS_MAX_BYTES (4u << 20) /* /proc/self/maps copied at most */
#define CRASH_MAX_FRAMES 64

static int crash_dir_fd = -1;
static prs_scoreboard_file *crash_scoreboard;

typedef struct crash_thread {
    int worker_id;
    prs_scoreboard_slot *slot;
    const prs_batch *batch;
    const uint32_t *progress;
    void *alt_stack;
} crash_thread;

/* initial-exec: no lazy TLS allocation can happen inside the handler. */
static __thread crash_thread *crash_self __attribute__((tls_model("initial-exec")));
static __thread volatile sig_atomic_t crash_in_handler __attribute__((tls_model("initial-exec")));
static __thread bool crash_own __attribute__((tls_model("initial-exec")));
/* The batch prs_run runs on this thread, kept apart from crash_self (which may be missing
 * when prs_crash_thread_enter failed): prs_crash_thread_batch must always know. */
static __thread const prs_batch *crash_batch __attribute__((tls_model("initial-exec")));

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

/* The faulting instruction, from the signal's context (0 where unknown). */
static uint64_t crash_pc(const void *uctx) {
    const ucontext_t *uc = uctx;
#if defined(__x86_64__)
    return (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (uint64_t)uc->uc_mcontext.pc;
#else
    (void)uc;
    return 0;
#endif
}

/* What the symbolizer needs, after the readable stack: the faulting pc, the frames'
 * addresses and the memory map (which file is loaded where). read/write only. */
static void crash_write_raw(int fd, const void *uctx, void *const *frames, int n) {
    static sbuf s;
    s.n = 0;
    put(&s, "raw pc: 0x");
    put_u64(&s, crash_pc(uctx), 16);
    put(&s, "\nraw frames:");
    for (int i = 0; i < n; i++) {
        put(&s, " 0x");
        put_u64(&s, (uint64_t)(uintptr_t)frames[i], 16);
    }
    put(&s, "\nmaps:\n");
    ssize_t ignored = write(fd, s.b, s.n);
    int maps = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (maps >= 0) {
        size_t copied = 0;
        ssize_t got;
        while (copied < CRASH_MAPS_MAX_BYTES && (got = read(maps, s.b, sizeof(s.b))) > 0) {
            ignored = write(fd, s.b, (size_t)got);
            copied += (size_t)got;
        }
        close(maps);
    }
    ignored = write(fd, "end of maps\n", 12);
    (void)ignored;
}

static void crash_handler(int sig, siginfo_t *info, void *uctx) {
    if (crash_in_handler) { /* the handler itself faulted */
        crash_die(sig);
        return;
    }
    crash_in_handler = 1;
    crash_thread *self = crash_self;
    const prs_batch *batch = self ? self->batch : NULL;
    prs_crash_charge(self ? PRS_DEATH_SIGNAL : PRS_DEATH_THREAD, sig);
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
    int fd = crash_dir_fd >= 0 ? openat(crash_dir_fd, name.b,
                                        O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644)
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
        put(&s, "\n");
        uint32_t at = self->progress ? *self->progress : UINT32_MAX;
        if (at < batch->count) {
            put(&s, "item: ");
            put(&s, batch->items[at].name);
            put(&s, "\nitem index: ");
            put_u64(&s, at, 10);
            put(&s, " (run() had emitted a row for, or failed, the items before it)\n");
        } else {
            put(&s, "item: unknown (run() had accounted for every item of the batch)\n");
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
    crash_write_raw(fd, uctx, frames, n);
    if (fd != STDERR_FILENO) close(fd);
    crash_die(sig);
}

void prs_crash_own_thread(void) {
    crash_own = true;
}

void prs_crash_charge(enum prs_death_cause cause, int value) {
    crash_thread *self = crash_self;
    if (self && self->slot && self->batch) {
        atomic_store_explicit(&self->slot->cause, (int32_t)cause, memory_order_relaxed);
        atomic_store_explicit(&self->slot->signal, value, memory_order_relaxed);
        atomic_store_explicit(&self->slot->state, PRS_SLOT_CRASHED, memory_order_release);
    } else if (!self && !crash_own) {
        prs_scoreboard_charge_running(crash_scoreboard,
                                      cause == PRS_DEATH_SIGNAL ? PRS_DEATH_THREAD : cause, value);
    }
}

void prs_crash_charge_all(enum prs_death_cause cause, int value) {
    prs_scoreboard_charge_running(crash_scoreboard, cause, value);
}

/* The host's actions, put back by prs_crash_release. One job of a process at a time holds
 * the handlers: crash_reserved says one does (from prs_crash_reserve to prs_crash_release),
 * crash_active that they are installed (the holder's coordinator thread only). */
static struct sigaction crash_saved[PRS_ARRAY_LEN(crash_signals)];
static atomic_bool crash_reserved;
static bool crash_active;

int prs_crash_reserve(void) {
    return atomic_exchange(&crash_reserved, true) ? -EBUSY : 0;
}

int prs_crash_install(const char *error_dir, prs_scoreboard_file *scoreboard) {
    PRS_ASSERT(atomic_load(&crash_reserved) && !crash_active);
    int rc = prs_mkdir_p(error_dir);
    if (rc) return rc;
    int fd = open(error_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    crash_scoreboard = scoreboard;
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
        if (sigaction(crash_signals[i], &sa, &crash_saved[i]) != 0) {
            rc = -errno;
            while (i-- > 0)
                sigaction(crash_signals[i], &crash_saved[i], NULL);
            goto close_dir;
        }
    }
    crash_active = true;
    return 0;
close_dir:
    close(crash_dir_fd);
    crash_dir_fd = -1;
    crash_scoreboard = NULL;
    return rc;
}

void prs_crash_release(void) {
    if (crash_active) {
        for (size_t i = 0; i < PRS_ARRAY_LEN(crash_signals); i++)
            sigaction(crash_signals[i], &crash_saved[i], NULL);
        close(crash_dir_fd);
        crash_dir_fd = -1;
        crash_scoreboard = NULL;
        crash_active = false;
    }
    atomic_store(&crash_reserved, false);
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
    crash_batch = batch;
    if (crash_self) crash_self->batch = batch;
}

const prs_batch *prs_crash_thread_batch(void) {
    return crash_batch;
}

void prs_crash_set_progress(const uint32_t *progress) {
    if (crash_self) crash_self->progress = progress;
}

/* Whether the crash file at path is of (batch, attempt); its item line into item. */
static bool crash_file_item(const char *path, uint64_t batch, uint32_t attempt, char *item,
                            size_t item_size) {
    FILE *f = fopen(path, "re");
    if (!f) return false;
    char line[4096];
    bool match = false, found = false;
    for (int lines = 0; lines < 16 && fgets(line, sizeof(line), f); lines++) {
        unsigned long long b;
        unsigned a;
        if (sscanf(line, "batch %llu, attempt %u", &b, &a) == 2) match = b == batch && a == attempt;
        if (match && strncmp(line, "item: ", 6) == 0 && strncmp(line, "item: unknown", 13) != 0) {
            line[strcspn(line, "\n")] = 0;
            snprintf(item, item_size, "%s", line + 6);
            found = true;
            break;
        }
    }
    fclose(f);
    return found;
}

int prs_crash_item_of(const char *error_dir, uint32_t worker, uint64_t batch, uint32_t attempt,
                      char *item, size_t item_size) {
    DIR *d = opendir(error_dir);
    if (!d) return -ENOENT;
    char suffix[64];
    snprintf(suffix, sizeof(suffix), "-w%u-b%llu.txt", worker, (unsigned long long)batch);
    size_t sl = strlen(suffix);
    int rc = -ENOENT;
    struct dirent *e;
    while (rc && (e = readdir(d))) {
        size_t nl = strlen(e->d_name);
        if (strncmp(e->d_name, "crash-", 6) != 0 || nl <= sl ||
            strcmp(e->d_name + nl - sl, suffix) != 0)
            continue;
        char path[4600];
        snprintf(path, sizeof(path), "%s/%s", error_dir, e->d_name);
        if (crash_file_item(path, batch, attempt, item, item_size)) rc = 0;
    }
    closedir(d);
    return rc;
}
