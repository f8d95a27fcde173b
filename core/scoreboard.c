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

int prs_scoreboard_open(prs_scoreboard_file **out, const char *state_dir, bool create) {
    char path[4200];
    snprintf(path, sizeof(path), "%s/scoreboard", state_dir);
    int fd = open(path, (create ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC, 0644);
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
    void *map = mmap(NULL, sizeof(prs_scoreboard_file), create ? PROT_READ | PROT_WRITE : PROT_READ,
                     MAP_SHARED, fd, 0);
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

void prs_scoreboard_close(prs_scoreboard_file *sb) {
    if (sb) munmap(sb, sizeof(*sb));
}

void prs_scoreboard_begin(prs_scoreboard_slot *s, uint64_t batch_id, uint32_t attempt,
                          uint64_t first_item, uint32_t item_count) {
    uint64_t wall_ms = prs_wall_ms(), mono_ns = prs_mono_ns();
    memory_order r = memory_order_relaxed;
    atomic_store_explicit(&s->batch_id, batch_id, r);
    atomic_store_explicit(&s->attempt, attempt, r);
    atomic_store_explicit(&s->first_item, first_item, r);
    atomic_store_explicit(&s->item_count, item_count, r);
    atomic_store_explicit(&s->signal, 0, r);
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
