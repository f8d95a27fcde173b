/* reader.c -- see reader.h.
 *
 * One item moves through these stages (both paths share them; the sync path just runs
 * each step at once instead of through the ring):
 *   NEW    -> CHAIN   open -> read(chunk) -> close on a direct descriptor (3 CQEs)
 *   CHAIN  -> DONE    short read (= end of file), or an error
 *   CHAIN  -> QUEUED  the chunk filled up: the size is unknown
 *   QUEUED -> READ    reopened, fstat'ed, below the threshold: one exact-size read
 *   QUEUED -> ADVISE  at or above the threshold: mmap'ed, WILLNEED + POPULATE_READ
 *   QUEUED -> DONE    fstat says the chunk already held the whole file, or an error
 *   READ   -> DONE    or -> QUEUED again if fstat after the read disagrees (size changed)
 *   ADVISE -> DONE    or -> QUEUED again, same check after the prefetch
 * Going back to QUEUED is counted and bounded (PRS_READER_MAX_SIZE_CHANGES, then -EAGAIN).
 * QUEUED items wait in a per-slot FIFO because they need ring room and a file descriptor,
 * which are only taken when the item can be issued at once (bounded fd use).
 *
 * Ring setup: SINGLE_ISSUER|COOP_TASKRUN, not DEFER_TASKRUN. With DEFER the link's next step
 * (read after open, close after read) only runs when this thread calls io_uring_enter with
 * GETEVENTS, i.e. in prs_reader_wait: batch k+1's reads would sit still while the entry
 * script runs batch k, which is the whole point of the two slots. With COOP they run on
 * this thread's next kernel entry or exit (any syscall, a timer tick). Measured with the
 * benchmark (warm page cache) the two are equal in throughput. */
#include "reader.h"

#include <fcntl.h>
#ifndef PRS_NO_URING
#include <liburing.h>
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14; older glibc headers lack it */
#endif

#define RING_SQ_ENTRIES 256u
#define RING_CQ_ENTRIES 1024u
#define FILE_TABLE_SLOTS 256u
/* Plain descriptors held at once by READ/ADVISE items (the process limit is shared). */
#define MAX_HELD_FDS 32u
#define CHUNK_START_BYTES ((size_t)64 << 10)
#define CHUNK_MAX_BYTES ((size_t)1 << 20)
#define CHUNK_MIN_BYTES ((size_t)4 << 10)
/* Address space one slot may reserve for first-read chunks; big batches get smaller chunks. */
#define SLOT_CHUNK_BUDGET_BYTES ((size_t)256 << 20)
#define BLOCK_MIN_BYTES ((size_t)8 << 20)
/* Above this, a read could be cut at MAX_RW_COUNT (~2 GiB): bigger files are always mapped. */
#define THRESHOLD_MAX_BYTES ((size_t)1 << 30)
/* Prefetch (WILLNEED + POPULATE_READ) covers at most this much of a mapping: the ring's
 * madvise length is 32 bits, and paging in more than this ahead of use mostly evicts. */
#define PREFETCH_MAX_BYTES ((size_t)1 << 30)
#define REAP_BATCH 64u
#define EINTR_RETRIES 100

enum op { OP_OPEN = 1, OP_READ, OP_CLOSE, OP_PREAD, OP_WILLNEED, OP_POPULATE };
enum stage { ST_NEW, ST_CHAIN, ST_QUEUED, ST_READ, ST_ADVISE, ST_DONE };
enum slot_state { SL_IDLE, SL_SUBMITTED, SL_READY };

/* user_data: item index (24 bits) | op (4) | slot (4) | slot generation (32). The
 * generation lets an assert catch a completion that outlived its batch. */
#define UD_ITEM_BITS 24
#define UD_OP_SHIFT 24
#define UD_SLOT_SHIFT 28
#define UD_GEN_SHIFT 32

typedef struct block {
    uint8_t *base;
    size_t size_bytes;
} block;

/* Grow-only bump allocator: reset on release, blocks kept, so a warm reader allocates
 * nothing per batch. */
typedef struct pool {
    block *blocks;
    uint32_t n, cap;
    uint32_t cur;
    size_t used_bytes; /* in blocks[cur] */
    size_t total_bytes;
} pool;

typedef struct item_st {
    uint8_t *buf;
    void *map;
    size_t map_bytes;
    size_t want_bytes; /* READ: length asked; ADVISE: length advised */
    size_t have_bytes; /* CHAIN read this many bytes from offset 0 into buf */
    uint32_t path_off;
    uint32_t fslot;
    int32_t open_res;
    int32_t read_res; /* READ/PREAD result, or POPULATE result in ADVISE */
    int fd;
    uint8_t stage;
    uint8_t ops_left;
    uint8_t changes;
} item_st;

typedef struct bslot {
    enum slot_state state;
    uint32_t count, cap_items;
    uint32_t next;      /* next NEW item to start (uring) */
    uint32_t remaining; /* items not DONE */
    uint32_t inflight;  /* CQEs this slot is still owed */
    uint32_t overflowed;
    uint32_t gen;
    size_t chunk_bytes;
    prs_read_item *pub;
    item_st *st;
    uint32_t *q; /* FIFO of QUEUED items; each item is in it at most once */
    uint32_t q_head, q_len;
    char *paths;
    size_t paths_cap;
    pool pool;
} bslot;

struct prs_reader {
    int root_fd;
    bool uring;
    bool madvise_ring;
    bool populate_ok;
    int fatal;
    pthread_t owner;
    size_t threshold_bytes;
    size_t chunk_bytes;
    size_t chunk_max_bytes;
#ifndef PRS_NO_URING
    struct io_uring ring;
#endif
    uint32_t cq_budget;
    uint32_t inflight; /* CQEs still owed by the kernel */
    uint32_t *free_fslots;
    uint32_t n_free_fslots, n_fslots;
    uint32_t held_fds;
    bslot slots[PRS_READER_SLOTS];
    prs_reader_sized_hook hook;
    void *hook_arg;
    prs_reader_stats stats;
    char why[PRS_READER_WHY_BYTES];
};

/* ---- pool ------------------------------------------------------------------------------ */

static uint8_t *pool_alloc(pool *p, size_t size, size_t align) {
    if (size == 0) size = 1; /* an empty file still gets a valid, distinct pointer */
    /* Each pass returns, moves to the next block, or appends one big enough (which the
     * pass after it returns from): n + 2 passes at most. */
    const uint32_t passes = p->n + 2;
    for (uint32_t pass = 0; pass < passes; pass++) {
        if (p->cur < p->n) {
            block *b = &p->blocks[p->cur];
            size_t off = (p->used_bytes + align - 1) & ~(align - 1);
            if (off <= b->size_bytes && size <= b->size_bytes - off) {
                p->used_bytes = off + size;
                return b->base + off;
            }
            p->cur++;
            p->used_bytes = 0;
            continue;
        }
        if (p->n == p->cap) {
            uint32_t ncap = p->cap ? p->cap * 2 : 4;
            block *nb = realloc(p->blocks, ncap * sizeof(*nb));
            if (!nb) return NULL;
            p->blocks = nb;
            p->cap = ncap;
        }
        /* Geometric growth keeps the block count logarithmic in the peak footprint. */
        size_t bytes = PRS_MAX(BLOCK_MIN_BYTES, p->total_bytes);
        size_t need = (size + align + ((size_t)2 << 20) - 1) & ~(((size_t)2 << 20) - 1);
        bytes = PRS_MAX(bytes, need);
        /* NORESERVE: first-read chunks are mostly untouched past each file's end. */
        void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) return NULL;
        p->blocks[p->n].base = m;
        p->blocks[p->n].size_bytes = bytes;
        p->n++;
        p->total_bytes += bytes;
        p->cur = p->n - 1;
        p->used_bytes = 0;
    }
    PRS_ASSERT(!"pool_alloc: a fresh block did not fit its request");
    return NULL;
}

static void pool_reset(pool *p) {
    p->cur = 0;
    p->used_bytes = 0;
}

static void pool_free(pool *p) {
    for (uint32_t i = 0; i < p->n; i++)
        munmap(p->blocks[i].base, p->blocks[i].size_bytes);
    free(p->blocks);
    memset(p, 0, sizeof(*p));
}

/* ---- item bookkeeping (shared by both paths) -------------------------------------------- */

static bool on_owner_thread(const prs_reader *r) {
    return pthread_equal(pthread_self(), r->owner) != 0;
}

static const char *item_path(const bslot *s, uint32_t i) {
    return s->paths + s->st[i].path_off;
}

static void close_item_fd(prs_reader *r, item_st *it) {
    if (it->fd < 0) return;
    close(it->fd);
    it->fd = -1;
    PRS_ASSERT(r->held_fds > 0);
    r->held_fds--;
}

static void finish(prs_reader *r, bslot *s, uint32_t i, const void *data, size_t n, int err) {
    item_st *it = &s->st[i];
    PRS_ASSERT(it->stage != ST_DONE);
    close_item_fd(r, it);
    if (err && it->map) {
        munmap(it->map, it->map_bytes);
        it->map = NULL;
    }
    prs_read_item *out = &s->pub[i];
    out->data = err ? NULL : data;
    out->size_bytes = err ? 0 : n;
    out->error = err;
    it->stage = ST_DONE;
    PRS_ASSERT(s->remaining > 0);
    s->remaining--;
    r->stats.items++;
    if (err)
        r->stats.items_failed++;
    else if (it->map)
        r->stats.items_mapped++;
}

static void enqueue(prs_reader *r, bslot *s, uint32_t i) {
    s->st[i].stage = ST_QUEUED;
    if (!r->uring) return; /* the sync loop picks it up itself */
    PRS_ASSERT(s->q_len < s->count);
    s->q[(s->q_head + s->q_len) % s->count] = i;
    s->q_len++;
}

/* The first read is done: either it reached end of file or the size must be asked. */
static void on_chain_done(prs_reader *r, bslot *s, uint32_t i) {
    item_st *it = &s->st[i];
    if (it->open_res < 0) {
        finish(r, s, i, NULL, 0, it->open_res);
        return;
    }
    if (it->read_res < 0) {
        finish(r, s, i, NULL, 0, it->read_res);
        return;
    }
    size_t n = (size_t)it->read_res;
    PRS_ASSERT(n <= s->chunk_bytes);
    if (n < s->chunk_bytes) {
        finish(r, s, i, it->buf, n, 0);
        return;
    }
    it->have_bytes = n;
    s->overflowed++;
    r->stats.items_restated++;
    enqueue(r, s, i);
}

/* QUEUED -> READ, ADVISE or DONE. Opens the file again (plain descriptor, which fstat and
 * mmap need and a direct descriptor cannot give) unless the item still holds one. */
static void dispatch_sized(prs_reader *r, bslot *s, uint32_t i) {
    item_st *it = &s->st[i];
    PRS_ASSERT(it->stage == ST_QUEUED);
    const char *path = item_path(s, i);
    if (it->fd < 0) {
        int fd = openat(r->root_fd, path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) {
            finish(r, s, i, NULL, 0, -errno);
            return;
        }
        it->fd = fd;
        r->held_fds++;
    }
    struct stat st;
    if (fstat(it->fd, &st) != 0) {
        finish(r, s, i, NULL, 0, -errno);
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        finish(r, s, i, NULL, 0, -EISDIR);
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        finish(r, s, i, NULL, 0, -ESPIPE); /* a FIFO, socket or device: not read */
        return;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (r->hook) r->hook(r->hook_arg, path, size);
    if (size >= r->threshold_bytes) {
        if (size > SIZE_MAX) {
            finish(r, s, i, NULL, 0, -EFBIG);
            return;
        }
        void *m = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, it->fd, 0);
        if (m == MAP_FAILED) {
            finish(r, s, i, NULL, 0, -errno);
            return;
        }
        it->map = m;
        it->map_bytes = (size_t)size;
        it->want_bytes = PRS_MIN((size_t)size, PREFETCH_MAX_BYTES);
        it->read_res = 0;
        it->stage = ST_ADVISE;
        return;
    }
    /* size < threshold <= 1 GiB from here. */
    if (it->buf && it->have_bytes == size) {
        finish(r, s, i, it->buf, (size_t)size, 0);
        return;
    }
    uint8_t *buf = pool_alloc(&s->pool, (size_t)size, 64);
    if (!buf) {
        finish(r, s, i, NULL, 0, -ENOMEM);
        return;
    }
    it->buf = buf;
    it->have_bytes = 0;
    it->want_bytes = (size_t)size;
    it->stage = ST_READ;
}

/* The size fstat gave before the read or mapping is checked again after it: a file that
 * changed meanwhile (grew, shrank, even inside its last page where POPULATE_READ cannot see
 * it) is taken again from the start, a bounded number of times. */
static void size_changed(prs_reader *r, bslot *s, uint32_t i) {
    item_st *it = &s->st[i];
    if (it->map) munmap(it->map, it->map_bytes);
    it->map = NULL;
    it->have_bytes = 0;
    /* Queued items hold no descriptor, so the fd budget can never block the queue's head
     * behind items that are not in flight; the next step reopens the path. */
    close_item_fd(r, it);
    r->stats.size_changes++;
    if (++it->changes > PRS_READER_MAX_SIZE_CHANGES) {
        finish(r, s, i, NULL, 0, -EAGAIN);
        return;
    }
    enqueue(r, s, i);
}

/* 0 and *same when fstat on the item's descriptor still says `size`. */
static int same_size(const item_st *it, size_t size, bool *same) {
    struct stat st;
    if (fstat(it->fd, &st) != 0) return -errno;
    *same = (uint64_t)st.st_size == (uint64_t)size;
    return 0;
}

static void on_read_done(prs_reader *r, bslot *s, uint32_t i, int res) {
    item_st *it = &s->st[i];
    if (res < 0) {
        finish(r, s, i, NULL, 0, res);
        return;
    }
    PRS_ASSERT((size_t)res <= it->want_bytes);
    bool same = false;
    int rc = same_size(it, it->want_bytes, &same);
    if (rc) {
        finish(r, s, i, NULL, 0, rc);
        return;
    }
    /* A short read means the file shrank after fstat, which fstat now shows too. */
    if (!same || (size_t)res != it->want_bytes) {
        size_changed(r, s, i);
        return;
    }
    finish(r, s, i, it->buf, (size_t)res, 0);
}

static void on_advise_done(prs_reader *r, bslot *s, uint32_t i, int populate_res) {
    item_st *it = &s->st[i];
    if (populate_res == -EINVAL && r->populate_ok) {
        r->populate_ok = false; /* kernel < 5.14: WILLNEED alone from now on */
        populate_res = 0;
    }
    bool same = false;
    int rc = same_size(it, it->map_bytes, &same);
    if (rc) {
        finish(r, s, i, NULL, 0, rc);
        return;
    }
    if (!same) {
        size_changed(r, s, i);
        return;
    }
    /* -EFAULT at an unchanged size: touching those pages would SIGBUS (an I/O error).
     * Other failures (-ENOMEM, -EINTR...) only mean the pages were not prefetched. */
    if (populate_res == -EFAULT) {
        finish(r, s, i, NULL, 0, -EIO);
        return;
    }
    finish(r, s, i, it->map, it->map_bytes, 0);
}

static void advise_sync(prs_reader *r, bslot *s, uint32_t i) {
    item_st *it = &s->st[i];
    int res = 0;
    (void)madvise(it->map, it->want_bytes, MADV_WILLNEED); /* advice: failure is harmless */
    if (r->populate_ok && madvise(it->map, it->want_bytes, MADV_POPULATE_READ) != 0) res = -errno;
    on_advise_done(r, s, i, res);
}

/* ---- sync path --------------------------------------------------------------------------- */

static ssize_t pread_retry(int fd, void *buf, size_t len) {
    ssize_t n = -1;
    for (int k = 0; k < EINTR_RETRIES; k++) {
        n = pread(fd, buf, len, 0);
        if (n >= 0 || errno != EINTR) break;
    }
    return n < 0 ? -errno : n;
}

static void sync_item(prs_reader *r, bslot *s, uint32_t i) {
    item_st *it = &s->st[i];
    /* O_NONBLOCK: a FIFO among the items must not block the worker in open (pread then
     * fails with ESPIPE); for a regular file it changes nothing. */
    int fd = openat(r->root_fd, item_path(s, i), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        finish(r, s, i, NULL, 0, -errno);
        return;
    }
    it->fd = fd;
    r->held_fds++;
    it->buf = pool_alloc(&s->pool, s->chunk_bytes, 4096);
    if (!it->buf) {
        finish(r, s, i, NULL, 0, -ENOMEM);
        return;
    }
    it->stage = ST_CHAIN;
    it->open_res = 0;
    ssize_t n = pread_retry(fd, it->buf, s->chunk_bytes);
    it->read_res = (int32_t)n;
    on_chain_done(r, s, i);
    /* Each pass ends DONE or QUEUED again after a size change, which is bounded. */
    for (int pass = 0; pass < PRS_READER_MAX_SIZE_CHANGES + 2 && it->stage != ST_DONE; pass++) {
        dispatch_sized(r, s, i);
        if (it->stage == ST_READ)
            on_read_done(r, s, i, (int)pread_retry(it->fd, it->buf, it->want_bytes));
        else if (it->stage == ST_ADVISE)
            advise_sync(r, s, i);
    }
    PRS_ASSERT(it->stage == ST_DONE);
}

/* ---- io_uring path ----------------------------------------------------------------------- */

#ifndef PRS_NO_URING
static uint32_t dequeue(bslot *s) {
    PRS_ASSERT(s->q_len > 0);
    uint32_t i = s->q[s->q_head];
    s->q_head = (s->q_head + 1) % s->count;
    s->q_len--;
    return i;
}

static uint64_t make_ud(const bslot *s, unsigned sidx, uint32_t i, enum op op) {
    return (uint64_t)i | ((uint64_t)op << UD_OP_SHIFT) | ((uint64_t)sidx << UD_SLOT_SHIFT) |
           ((uint64_t)s->gen << UD_GEN_SHIFT);
}

/* True when n SQEs can be taken; submits what is queued to make room. */
static bool sq_room(prs_reader *r, unsigned n) {
    if (io_uring_sq_space_left(&r->ring) >= n) return true;
    int rc = io_uring_submit(&r->ring);
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) r->fatal = rc;
    return io_uring_sq_space_left(&r->ring) >= n;
}

static struct io_uring_sqe *sqe_for(prs_reader *r) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
    PRS_ASSERT(sqe != NULL); /* sq_room() said there was room */
    return sqe;
}

/* Items of a list (paths from AT_FDCWD) were never typed by a directory walk: a FIFO
 * there would block the ring's open for ever (O_NONBLOCK cannot be used: io_uring would
 * then fail reads of uncached regular files with EAGAIN). False if the item is done. */
static bool list_item_is_regular(prs_reader *r, bslot *s, uint32_t i) {
    struct stat st;
    if (r->root_fd != AT_FDCWD || fstatat(AT_FDCWD, item_path(s, i), &st, 0) != 0) return true;
    if (S_ISREG(st.st_mode)) return true;
    finish(r, s, i, NULL, 0, S_ISDIR(st.st_mode) ? -EISDIR : -ESPIPE);
    return false;
}

static void start_chain(prs_reader *r, bslot *s, unsigned sidx, uint32_t i) {
    item_st *it = &s->st[i];
    if (!list_item_is_regular(r, s, i)) return;
    it->buf = pool_alloc(&s->pool, s->chunk_bytes, 4096);
    if (!it->buf) {
        finish(r, s, i, NULL, 0, -ENOMEM);
        return;
    }
    PRS_ASSERT(r->n_free_fslots > 0);
    uint32_t fslot = r->free_fslots[--r->n_free_fslots];
    it->fslot = fslot;
    it->stage = ST_CHAIN;
    it->ops_left = 3;
    it->open_res = it->read_res = 0;

    struct io_uring_sqe *sqe = sqe_for(r);
    /* No O_CLOEXEC: the kernel rejects it for direct descriptors (they are never in the
     * fd table, so there is nothing to leak across exec). */
    io_uring_prep_openat_direct(sqe, r->root_fd, item_path(s, i), O_RDONLY, 0, fslot);
    io_uring_sqe_set_flags(sqe, IOSQE_IO_LINK);
    io_uring_sqe_set_data64(sqe, make_ud(s, sidx, i, OP_OPEN));

    sqe = sqe_for(r);
    io_uring_prep_read(sqe, (int)fslot, it->buf, (unsigned)s->chunk_bytes, 0);
    /* HARDLINK: a short read (every file smaller than the chunk) counts as a failure for
     * links and would cancel the close, leaving the file in the slot. */
    io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE | IOSQE_IO_HARDLINK);
    io_uring_sqe_set_data64(sqe, make_ud(s, sidx, i, OP_READ));

    sqe = sqe_for(r);
    io_uring_prep_close_direct(sqe, fslot);
    io_uring_sqe_set_data64(sqe, make_ud(s, sidx, i, OP_CLOSE));
    r->inflight += 3;
    s->inflight += 3;
}

/* Issues the ring ops of an item that dispatch_sized() moved to READ or ADVISE. */
static void issue_sized(prs_reader *r, bslot *s, unsigned sidx, uint32_t i) {
    item_st *it = &s->st[i];
    if (it->stage == ST_READ) {
        struct io_uring_sqe *sqe = sqe_for(r);
        io_uring_prep_read(sqe, it->fd, it->buf, (unsigned)it->want_bytes, 0);
        io_uring_sqe_set_data64(sqe, make_ud(s, sidx, i, OP_PREAD));
        it->ops_left = 1;
        r->inflight += 1;
        s->inflight += 1;
    } else if (it->stage == ST_ADVISE) {
        if (!r->madvise_ring) {
            advise_sync(r, s, i);
            return;
        }
        /* Through the ring the page-in runs in io_uring's workers, not in this thread. */
        struct io_uring_sqe *sqe = sqe_for(r);
        io_uring_prep_madvise(sqe, it->map, (off_t)it->want_bytes, MADV_WILLNEED);
        io_uring_sqe_set_data64(sqe, make_ud(s, sidx, i, OP_WILLNEED));
        it->ops_left = 1;
        if (r->populate_ok) {
            io_uring_sqe_set_flags(sqe, IOSQE_IO_HARDLINK);
            sqe = sqe_for(r);
            io_uring_prep_madvise(sqe, it->map, (off_t)it->want_bytes, MADV_POPULATE_READ);
            io_uring_sqe_set_data64(sqe, make_ud(s, sidx, i, OP_POPULATE));
            it->ops_left = 2;
        }
        r->inflight += it->ops_left;
        s->inflight += it->ops_left;
    }
}

/* Puts as much work in the SQ as the budgets allow, slot `first` first. Queued (second
 * step) items go before new ones: they already hold pool memory. */
static void fill(prs_reader *r, unsigned first) {
    for (unsigned k = 0; k < PRS_READER_SLOTS && !r->fatal; k++) {
        unsigned sidx = (first + k) % PRS_READER_SLOTS;
        bslot *s = &r->slots[sidx];
        if (s->state != SL_SUBMITTED) continue;
        /* Each pass dequeues one item or stops: at most count passes. */
        for (uint32_t pass = 0; pass < s->count && s->q_len > 0; pass++) {
            const item_st *head = &s->st[s->q[s->q_head]];
            if (head->fd < 0 && r->held_fds >= MAX_HELD_FDS) break;
            if (r->inflight + 2 > r->cq_budget || !sq_room(r, 2)) break;
            uint32_t i = dequeue(s);
            dispatch_sized(r, s, i);
            issue_sized(r, s, sidx, i);
        }
        while (s->next < s->count) {
            if (r->n_free_fslots == 0 || r->inflight + 3 > r->cq_budget) break;
            if (!sq_room(r, 3)) break;
            start_chain(r, s, sidx, s->next++);
        }
    }
}

static void on_cqe(prs_reader *r, uint64_t ud, int res) {
    uint32_t i = (uint32_t)(ud & ((1u << UD_ITEM_BITS) - 1));
    enum op op = (enum op)((ud >> UD_OP_SHIFT) & 0xf);
    unsigned sidx = (unsigned)((ud >> UD_SLOT_SHIFT) & 0xf);
    PRS_ASSERT(sidx < PRS_READER_SLOTS);
    bslot *s = &r->slots[sidx];
    PRS_ASSERT(s->state == SL_SUBMITTED && (uint32_t)(ud >> UD_GEN_SHIFT) == s->gen);
    PRS_ASSERT(i < s->count);
    item_st *it = &s->st[i];
    PRS_ASSERT(r->inflight > 0 && s->inflight > 0 && it->ops_left > 0);
    r->inflight--;
    s->inflight--;
    it->ops_left--;
    switch (op) {
    case OP_OPEN:
        it->open_res = res;
        break;
    case OP_READ:
    case OP_PREAD:
    case OP_POPULATE:
        it->read_res = res;
        break;
    case OP_CLOSE:    /* an error here cannot undo a good read: ignored */
    case OP_WILLNEED: /* advice */
        break;
    default:
        PRS_ASSERT(!"unknown op in user_data");
    }
    if (it->ops_left > 0) return;
    switch (it->stage) {
    case ST_CHAIN:
        /* All three CQEs are in, so the close ran (or the open never installed a file):
         * the slot is free for the next open. */
        r->free_fslots[r->n_free_fslots++] = it->fslot;
        on_chain_done(r, s, i);
        break;
    case ST_READ:
        on_read_done(r, s, i, it->read_res);
        break;
    case ST_ADVISE:
        on_advise_done(r, s, i, it->read_res);
        break;
    default:
        PRS_ASSERT(!"completion for an item with nothing in flight");
    }
}

static void reap(prs_reader *r) {
    struct io_uring_cqe *cqes[REAP_BATCH];
    /* Each pass consumes >= 1 CQE and CQEs never exceed the ops issued: bounded. */
    for (uint32_t pass = 0; pass <= r->cq_budget; pass++) {
        unsigned n = io_uring_peek_batch_cqe(&r->ring, cqes, REAP_BATCH);
        if (n == 0) return;
        for (unsigned k = 0; k < n; k++)
            on_cqe(r, io_uring_cqe_get_data64(cqes[k]), cqes[k]->res);
        io_uring_cq_advance(&r->ring, n);
    }
}

static bool ring_error_is_transient(int rc) {
    return rc == -EINTR || rc == -EAGAIN || rc == -EBUSY || rc == -ETIME;
}

/* Pushes queued SQEs to the kernel without waiting. With COOP_TASKRUN the links' next
 * steps run as task work on the way out of this very syscall, so a chain that hits the page
 * cache is complete when it returns. Nothing queued: no syscall. */
static void kick(prs_reader *r) {
    if (r->fatal || io_uring_sq_ready(&r->ring) == 0) return;
    int rc = io_uring_submit(&r->ring);
    if (rc < 0 && !ring_error_is_transient(rc)) r->fatal = rc;
}

static int uring_wait(prs_reader *r, unsigned sidx) {
    bslot *s = &r->slots[sidx];
    /* Every pass that does not end the loop waits for >= 1 CQE, and a batch owes a bounded
     * number of them (3 per item plus at most 2 per sizing step and size change). */
    for (;;) {
        fill(r, sidx);
        if (r->fatal) return r->fatal;
        if (s->remaining == 0) break;
        PRS_ASSERT(r->inflight > 0 || io_uring_sq_ready(&r->ring) > 0);
        /* Waiting for everything this slot is owed (not just one CQE) saves enters; the
         * cap keeps a big batch refilling the ring while its reads are still running. All
         * of them will come: each op in flight posts exactly one CQE (no CQE skipping),
         * s->inflight counts those not reaped yet, and the CQ has room for every op in
         * flight (r->inflight <= cq_budget), so none waits in the overflow list. */
        unsigned want = PRS_MAX(1u, PRS_MIN(s->inflight, r->cq_budget / 4));
        int rc = io_uring_submit_and_wait(&r->ring, want);
        if (rc < 0 && !ring_error_is_transient(rc)) {
            r->fatal = rc;
            return rc;
        }
        reap(r);
    }
    /* The other slot's reads keep going while the caller works on this batch. */
    fill(r, (sidx + 1) % PRS_READER_SLOTS);
    kick(r);
    return r->fatal;
}

/* ---- setup ------------------------------------------------------------------------------- */

static const struct {
    unsigned flags;
    const char *name;
} ring_flag_sets[] = {
    {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN, "SINGLE_ISSUER|COOP_TASKRUN"},
    {IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN"},
    {0, "no setup flags"},
};

static void explain_eperm(char *buf, size_t size) {
    int fd = open("/proc/sys/kernel/io_uring_disabled", O_RDONLY | O_CLOEXEC);
    char v[8] = "";
    if (fd >= 0) {
        ssize_t n = read(fd, v, sizeof(v) - 1);
        close(fd);
        v[n > 0 ? n : 0] = 0;
        if (n > 0 && v[n - 1] == '\n') v[n - 1] = 0;
    }
    if (v[0] && v[0] != '0')
        snprintf(buf, size, " (kernel.io_uring_disabled=%s)", v);
    else
        snprintf(buf, size, " (a seccomp profile, e.g. Docker's default, or an LSM)");
}

/* 0 with the ring set up, or -errno with reason[] saying what failed. */
/* Ring memory is mapped by liburing with raw system calls, which ThreadSanitizer does not
 * see: a ring created at the address another thread just unmapped looks like a race on
 * the same bytes. Every ring exit bumps this with release before its unmap, and every ring
 * setup reads it with acquire after its map: the real order (an address is reused only
 * after its unmap), told to TSan; one atomic per reader's life. */
static atomic_uint ring_generation;

static void ring_exit(struct io_uring *ring) {
    atomic_fetch_add_explicit(&ring_generation, 1, memory_order_release);
    io_uring_queue_exit(ring);
}

static int uring_setup(prs_reader *r, char *reason, size_t reason_size, const char **flags_name) {
    const char *force = getenv("PRS_IO_FORCE_NO_URING");
    if (force && force[0] && strcmp(force, "0") != 0) {
        snprintf(reason, reason_size, "io_uring_queue_init: %s (forced by PRS_IO_FORCE_NO_URING)",
                 strerror(EPERM));
        return -EPERM;
    }
    int rc = -EINVAL;
    for (size_t k = 0; k < PRS_ARRAY_LEN(ring_flag_sets); k++) {
        struct io_uring_params p;
        memset(&p, 0, sizeof(p));
        p.flags = ring_flag_sets[k].flags | IORING_SETUP_CQSIZE;
        p.cq_entries = RING_CQ_ENTRIES;
        rc = io_uring_queue_init_params(RING_SQ_ENTRIES, &r->ring, &p);
        (void)atomic_load_explicit(&ring_generation, memory_order_acquire);
        if (rc == 0) {
            *flags_name = ring_flag_sets[k].name;
            r->cq_budget = p.cq_entries;
            if (!(p.features & IORING_FEAT_LINKED_FILE)) {
                ring_exit(&r->ring);
                snprintf(reason, reason_size,
                         "kernel lacks IORING_FEAT_LINKED_FILE (< 5.17): a read cannot follow "
                         "an open to a direct descriptor in one link");
                return -EOPNOTSUPP;
            }
            break;
        }
        if (rc != -EINVAL) break; /* EINVAL: flags unknown to this kernel, try fewer */
    }
    if (rc != 0) {
        char hint[96] = "";
        if (rc == -EPERM) explain_eperm(hint, sizeof(hint));
        snprintf(reason, reason_size, "io_uring_queue_init: %s%s", strerror(-rc), hint);
        return rc;
    }

    struct io_uring_probe *probe = io_uring_get_probe_ring(&r->ring);
    if (!probe) {
        snprintf(reason, reason_size, "io_uring opcode probe failed");
        rc = -EOPNOTSUPP;
        goto fail;
    }
    bool ops_ok = io_uring_opcode_supported(probe, IORING_OP_OPENAT) &&
                  io_uring_opcode_supported(probe, IORING_OP_READ) &&
                  io_uring_opcode_supported(probe, IORING_OP_CLOSE);
    r->madvise_ring = io_uring_opcode_supported(probe, IORING_OP_MADVISE);
    io_uring_free_probe(probe);
    if (!ops_ok) {
        snprintf(reason, reason_size, "kernel io_uring lacks OPENAT/READ/CLOSE");
        rc = -EOPNOTSUPP;
        goto fail;
    }

    /* Direct descriptors need a table slot each, and the table counts against
     * RLIMIT_NOFILE even though it holds no process descriptors. */
    struct rlimit rl;
    uint32_t slots = FILE_TABLE_SLOTS;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < slots * 2u)
        slots = (uint32_t)PRS_MAX(rl.rlim_cur / 2u, 1u);
    rc = io_uring_register_files_sparse(&r->ring, slots);
    if (rc != 0) {
        snprintf(reason, reason_size, "io_uring_register_files_sparse(%u): %s", slots,
                 strerror(-rc));
        goto fail;
    }
    r->free_fslots = malloc(slots * sizeof(*r->free_fslots));
    if (!r->free_fslots) {
        snprintf(reason, reason_size, "out of memory");
        rc = -ENOMEM;
        goto fail;
    }
    r->n_fslots = r->n_free_fslots = slots;
    for (uint32_t k = 0; k < slots; k++)
        r->free_fslots[k] = slots - 1 - k;

    /* Self-test: an open into an explicit direct slot and its close, as every small file
     * will do. Old kernels reject file_index with -EINVAL; a permission error on "/" still
     * proves the mechanism works. */
    struct io_uring_sqe *sqe = sqe_for(r); /* the SQ is empty: cannot be NULL */
    io_uring_prep_openat_direct(sqe, AT_FDCWD, "/", O_RDONLY, 0, 0);
    io_uring_sqe_set_flags(sqe, IOSQE_IO_LINK);
    sqe = sqe_for(r);
    io_uring_prep_close_direct(sqe, 0);
    rc = io_uring_submit_and_wait(&r->ring, 2);
    int res[2] = {0, 0};
    for (int k = 0; k < 2 && rc >= 0; k++) {
        struct io_uring_cqe *cqe;
        rc = io_uring_wait_cqe(&r->ring, &cqe);
        if (rc == 0) {
            res[k] = cqe->res;
            io_uring_cqe_seen(&r->ring, cqe);
        }
    }
    if (rc < 0 || res[0] == -EINVAL || res[0] == -EBADF || res[1] == -EINVAL) {
        snprintf(reason, reason_size, "open to a direct descriptor failed: %s",
                 strerror(rc < 0       ? -rc
                          : res[0] < 0 ? -res[0]
                                       : -res[1]));
        rc = rc < 0 ? rc : -EOPNOTSUPP;
        goto fail;
    }
    /* Saves the fd lookup on every io_uring_enter; older kernels say no, which is fine. */
    (void)io_uring_register_ring_fd(&r->ring);
    return 0;
fail:
    free(r->free_fslots);
    r->free_fslots = NULL;
    ring_exit(&r->ring);
    return rc;
}

static void uring_teardown(prs_reader *r) {
    ring_exit(&r->ring);
}

#else /* PRS_NO_URING: built without liburing (tools/configure's nouring variant) */

/* Auto mode then always takes the sync path, saying why; --io uring is refused. */
static int uring_setup(prs_reader *r, char *reason, size_t reason_size, const char **flags_name) {
    (void)r;
    (void)flags_name;
    snprintf(reason, reason_size, "this prs was built without io_uring (PRS_NO_URING)");
    return -ENOSYS;
}

/* r->uring is never set in this build: the ring's steps cannot be reached. */
static void fill(prs_reader *r, unsigned first) {
    (void)r;
    (void)first;
    PRS_ASSERT(!"io_uring path in a build without it");
}
static void kick(prs_reader *r) {
    fill(r, 0);
}
static void reap(prs_reader *r) {
    fill(r, 0);
}
static int uring_wait(prs_reader *r, unsigned sidx) {
    fill(r, sidx);
    return -ENOSYS;
}
static void uring_teardown(prs_reader *r) {
    fill(r, 0);
}

#endif

int prs_reader_create(prs_reader **out, int root_dirfd, enum prs_io_mode mode,
                      size_t mmap_threshold_bytes, char *why, size_t why_size) {
    if (why && why_size) why[0] = 0;
    if (!out) return -EINVAL;
    *out = NULL;
    if (mode != PRS_IO_AUTO && mode != PRS_IO_URING && mode != PRS_IO_SYNC) {
        if (why && why_size) snprintf(why, why_size, "unknown io mode %d", (int)mode);
        return -EINVAL;
    }
    prs_reader *r = calloc(1, sizeof(*r));
    if (!r) return -ENOMEM;
    r->root_fd = root_dirfd;
    r->owner = pthread_self();
    r->populate_ok = true;
    size_t t =
        mmap_threshold_bytes ? mmap_threshold_bytes : PRS_READER_DEFAULT_MMAP_THRESHOLD_BYTES;
    r->threshold_bytes = PRS_MIN(t, THRESHOLD_MAX_BYTES);
    /* The chunk never exceeds the threshold, so a file at the threshold always overflows
     * it and gets the fstat that sends it to mmap. */
    r->chunk_bytes = PRS_MIN(CHUNK_START_BYTES, r->threshold_bytes);
    r->chunk_max_bytes = PRS_MIN(CHUNK_MAX_BYTES, r->threshold_bytes);
    r->stats.chunk_bytes = r->chunk_bytes;

    char reason[PRS_READER_WHY_BYTES - 64] = "";
    const char *flags_name = "";
    int rc = 0;
    if (mode != PRS_IO_SYNC) rc = uring_setup(r, reason, sizeof(reason), &flags_name);
    if (mode == PRS_IO_SYNC) {
        snprintf(r->why, sizeof(r->why), "sync pread/mmap: requested (io mode sync)");
    } else if (rc == 0) {
        r->uring = true;
        snprintf(r->why, sizeof(r->why), "io_uring (%s, %u direct slots, madvise %s)", flags_name,
                 r->n_fslots, r->madvise_ring ? "via ring" : "inline");
    } else if (mode == PRS_IO_URING) {
        snprintf(r->why, sizeof(r->why), "io_uring required but unavailable: %s", reason);
        if (why && why_size) snprintf(why, why_size, "%s", r->why);
        free(r);
        return rc;
    } else {
        snprintf(r->why, sizeof(r->why), "sync pread/mmap: io_uring unavailable: %s", reason);
    }
    if (why && why_size) snprintf(why, why_size, "%s", r->why);
    *out = r;
    return 0;
}

/* ---- batches ----------------------------------------------------------------------------- */

static int slot_reserve(bslot *s, uint32_t count, size_t paths_bytes) {
    if (count > s->cap_items) {
        prs_read_item *pub = realloc(s->pub, count * sizeof(*pub));
        if (!pub) return -ENOMEM;
        s->pub = pub;
        item_st *st = realloc(s->st, count * sizeof(*st));
        if (!st) return -ENOMEM;
        s->st = st;
        uint32_t *q = realloc(s->q, count * sizeof(*q));
        if (!q) return -ENOMEM;
        s->q = q;
        s->cap_items = count;
    }
    if (paths_bytes > s->paths_cap) {
        char *p = realloc(s->paths, paths_bytes);
        if (!p) return -ENOMEM;
        s->paths = p;
        s->paths_cap = paths_bytes;
    }
    return 0;
}

/* A slot reserves count * chunk of address space up front; keep that bounded. */
static size_t chunk_for(const prs_reader *r, uint32_t count) {
    size_t c = r->chunk_bytes;
    if (count == 0) return c;
    size_t cap = SLOT_CHUNK_BUDGET_BYTES / count;
    if (c > cap) c = PRS_MAX(CHUNK_MIN_BYTES, cap & ~(CHUNK_MIN_BYTES - 1));
    return PRS_MIN(c, r->threshold_bytes);
}

int prs_reader_submit(prs_reader *r, unsigned slot, const char *const *rel_paths, uint32_t count) {
    if (!r || slot >= PRS_READER_SLOTS || (count && !rel_paths)) return -EINVAL;
    if (!on_owner_thread(r)) return -EPERM;
    if (r->fatal) return r->fatal;
    bslot *s = &r->slots[slot];
    if (s->state != SL_IDLE) return -EBUSY;
    if (count > PRS_READER_MAX_ITEMS) return -E2BIG;
    size_t paths_bytes = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (!rel_paths[i]) return -EINVAL;
        paths_bytes += strlen(rel_paths[i]) + 1;
    }
    if (paths_bytes > UINT32_MAX) return -E2BIG;
    int rc = slot_reserve(s, count, paths_bytes);
    if (rc) return rc;
    size_t off = 0;
    for (uint32_t i = 0; i < count; i++) {
        size_t len = strlen(rel_paths[i]) + 1;
        memcpy(s->paths + off, rel_paths[i], len);
        item_st *it = &s->st[i];
        memset(it, 0, sizeof(*it));
        it->path_off = (uint32_t)off;
        it->fd = -1;
        it->stage = ST_NEW;
        s->pub[i] = (prs_read_item){0};
        off += len;
    }
    s->count = count;
    s->next = 0;
    s->remaining = count;
    s->overflowed = 0;
    s->q_head = s->q_len = 0;
    s->gen++;
    s->chunk_bytes = chunk_for(r, count);
    s->state = SL_SUBMITTED;
    if (r->uring && count) {
        fill(r, slot);
        kick(r);
        /* Chains served from the page cache are complete by now: harvesting them lets the
         * freed slots start more of this batch before the caller goes back to work. */
        reap(r);
        fill(r, slot);
        kick(r);
    }
    return 0;
}

static void adapt_chunk(prs_reader *r, const bslot *s) {
    /* Many files above the chunk pay a second open and read each: try a bigger chunk. */
    if (s->count >= 8 && s->overflowed * 8u > s->count && r->chunk_bytes < r->chunk_max_bytes) {
        r->chunk_bytes = PRS_MIN(r->chunk_bytes * 2, r->chunk_max_bytes);
        r->stats.chunk_bytes = r->chunk_bytes;
    }
}

int prs_reader_wait(prs_reader *r, unsigned slot, const prs_read_item **items) {
    if (!r || slot >= PRS_READER_SLOTS || !items) return -EINVAL;
    if (!on_owner_thread(r)) return -EPERM;
    bslot *s = &r->slots[slot];
    if (s->state == SL_READY) {
        *items = s->pub;
        return (int)s->count;
    }
    if (s->state != SL_SUBMITTED) return -EINVAL;
    if (r->fatal) return r->fatal;
    if (r->uring) {
        int rc = uring_wait(r, slot);
        if (rc) return rc;
    } else {
        for (uint32_t i = 0; i < s->count; i++)
            sync_item(r, s, i);
    }
    PRS_ASSERT(s->remaining == 0);
    adapt_chunk(r, s);
    s->state = SL_READY;
    *items = s->pub;
    return (int)s->count;
}

void prs_reader_release(prs_reader *r, unsigned slot) {
    if (!r || slot >= PRS_READER_SLOTS) return;
    bslot *s = &r->slots[slot];
    if (s->state == SL_IDLE) return;
    if (s->state == SL_SUBMITTED) {
        const prs_read_item *ignored;
        /* On a broken ring the kernel may still own buffers: keep the slot (and its memory)
         * rather than hand them to the next batch. */
        if (prs_reader_wait(r, slot, &ignored) < 0) return;
    }
    for (uint32_t i = 0; i < s->count; i++) {
        item_st *it = &s->st[i];
        if (it->map) munmap(it->map, it->map_bytes);
        it->map = NULL;
        PRS_ASSERT(it->fd < 0);
    }
    pool_reset(&s->pool);
    s->count = 0;
    s->state = SL_IDLE;
}

void prs_reader_destroy(prs_reader *r) {
    if (!r) return;
    for (unsigned k = 0; k < PRS_READER_SLOTS; k++)
        prs_reader_release(r, k);
    bool kernel_may_write = false;
    for (unsigned k = 0; k < PRS_READER_SLOTS; k++)
        kernel_may_write |= r->slots[k].state != SL_IDLE;
    if (r->uring) uring_teardown(r);
    for (unsigned k = 0; k < PRS_READER_SLOTS; k++) {
        bslot *s = &r->slots[k];
        /* A broken ring can leave reads in flight: leaking their buffers is the safe way. */
        if (!kernel_may_write) pool_free(&s->pool);
        free(s->pub);
        free(s->st);
        free(s->q);
        free(s->paths);
    }
    free(r->free_fslots);
    free(r);
}

bool prs_reader_uses_uring(const prs_reader *r) {
    return r && r->uring;
}

const char *prs_reader_why(const prs_reader *r) {
    return r ? r->why : "";
}

void prs_reader_get_stats(const prs_reader *r, prs_reader_stats *out) {
    if (r && out) *out = r->stats;
}

void prs_reader_set_sized_hook(prs_reader *r, prs_reader_sized_hook fn, void *arg) {
    if (!r) return;
    r->hook = fn;
    r->hook_arg = arg;
}
