/* scoreboard.c -- see scoreboard.h. */
#include "scoreboard.h"
#include "clock.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(prs_scoreboard_slot) == PRS_CACHE_LINE_BYTES, "one line per worker");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "slot states are written from signal handlers");

static const char magic[8] = "prsscb1";

enum sb_mode { SB_READ, SB_WRITE, SB_CREATE };

static int sb_open(prs_scoreboard_file **out, const char *state_dir, enum sb_mode mode) {
    bool create = mode == SB_CREATE;
    char path[4200];
    snprintf(path, sizeof(path), "%s/scoreboard", state_dir);
    int flags = mode == SB_READ ? O_RDONLY : O_RDWR | (create ? O_CREAT : 0);
    int fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) return -errno;
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        goto close_fd;
    }
    bool fresh = (size_t)st.st_size != sizeof(prs_scoreboard_file);
    if (fresh && !create) {
        rc = -ENOENT;
        goto close_fd;
    }
    if (fresh && (ftruncate(fd, 0) != 0 || ftruncate(fd, sizeof(prs_scoreboard_file)) != 0)) {
        rc = -errno;
        goto close_fd;
    }
    void *map = mmap(NULL, sizeof(prs_scoreboard_file),
                     mode == SB_READ ? PROT_READ : PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        rc = -errno;
        goto close_fd;
    }
    prs_scoreboard_file *sb = map;
    if (memcmp(sb->magic, magic, sizeof(magic)) != 0) {
        if (!create) {
            munmap(map, sizeof(*sb));
            rc = -ENOENT;
            goto close_fd;
        }
        memset(sb, 0, sizeof(*sb));
        memcpy(sb->magic, magic, sizeof(magic));
        sb->slots = PRS_MAX_WORKERS;
    }
    *out = sb;
close_fd:
    close(fd);
    return rc;
}

int prs_scoreboard_open(prs_scoreboard_file **out, const char *state_dir, bool create) {
    return sb_open(out, state_dir, create ? SB_CREATE : SB_READ);
}

int prs_scoreboard_open_existing(prs_scoreboard_file **out, const char *state_dir) {
    return sb_open(out, state_dir, SB_WRITE);
}

unsigned prs_scoreboard_charge_running(prs_scoreboard_file *sb, enum prs_death_cause cause,
                                       int value) {
    unsigned n = 0;
    for (uint32_t i = 0; sb && i < PRS_MAX_WORKERS; i++) {
        prs_scoreboard_slot *s = &sb->slot[i];
        uint32_t running = PRS_SLOT_RUNNING;
        if (atomic_load_explicit(&s->state, memory_order_acquire) != running) continue;
        atomic_store_explicit(&s->cause, (int32_t)cause, memory_order_relaxed);
        atomic_store_explicit(&s->signal, value, memory_order_relaxed);
        /* Only a RUNNING slot changes: one its worker ended meanwhile stays as it is. */
        if (atomic_compare_exchange_strong(&s->state, &running, PRS_SLOT_CRASHED)) n++;
    }
    return n;
}

bool prs_scoreboard_any_running(const prs_scoreboard_file *sb) {
    for (uint32_t i = 0; sb && i < PRS_MAX_WORKERS; i++)
        if (atomic_load(&sb->slot[i].state) == PRS_SLOT_RUNNING) return true;
    return false;
}

void prs_scoreboard_death_text(const prs_scoreboard_slot *s, char *buf, size_t size) {
    int v = atomic_load(&s->signal);
    switch (atomic_load(&s->cause)) {
    case PRS_DEATH_EXIT:
        snprintf(buf, size, "the entry script called exit(%d) (or _exit) in run()", v);
        return;
    case PRS_DEATH_THREAD:
        snprintf(buf, size,
                 "the process crashed with signal %d (%s) in a thread that is no worker "
                 "(one the script started?) while this batch ran",
                 v, strsignal(v));
        return;
    case PRS_DEATH_SELF:
        snprintf(buf, size, "the entry script sent its own process signal %d (%s) in run()", v,
                 strsignal(v));
        return;
    case PRS_DEATH_KILLED:
        snprintf(buf, size,
                 "the runtime was killed (signal %d, %s) again and again without progress "
                 "while this batch ran: out of memory, or a kill the script made",
                 v, strsignal(v));
        return;
    case PRS_DEATH_STOPPED:
        snprintf(buf, size,
                 "the runtime stayed stopped (signal %d, %s) while this batch ran: treated as "
                 "hung and killed",
                 v, strsignal(v));
        return;
    default:
        snprintf(buf, size, "the process crashed in run() with signal %d (%s)", v, strsignal(v));
    }
}

void prs_scoreboard_close(prs_scoreboard_file *sb) {
    if (sb) munmap(sb, sizeof(*sb));
}

void prs_scoreboard_begin(prs_scoreboard_slot *s, uint64_t batch_id, uint32_t attempt,
                          uint64_t first_item, uint32_t item_count, uint64_t wall_ms,
                          uint64_t mono_ns) {
    memory_order r = memory_order_relaxed;
    atomic_store_explicit(&s->batch_id, batch_id, r);
    atomic_store_explicit(&s->attempt, attempt, r);
    atomic_store_explicit(&s->first_item, first_item, r);
    atomic_store_explicit(&s->item_count, item_count, r);
    atomic_store_explicit(&s->signal, 0, r);
    atomic_store_explicit(&s->cause, PRS_DEATH_SIGNAL, r);
    atomic_store_explicit(&s->started_unix_ms, wall_ms, r);
    atomic_store_explicit(&s->started_mono_ns, mono_ns, r);
    /* A slot belongs to one worker thread: its tid is asked once, not once per batch. */
    if (atomic_load_explicit(&s->tid, r) == 0)
        atomic_store_explicit(&s->tid, (int32_t)syscall(SYS_gettid), r);
    atomic_store_explicit(&s->state, PRS_SLOT_RUNNING, memory_order_release);
}

void prs_scoreboard_end(prs_scoreboard_slot *s) {
    atomic_store_explicit(&s->state, PRS_SLOT_IDLE, memory_order_release);
}
