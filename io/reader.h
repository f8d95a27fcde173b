/* reader.h -- the per-worker batch reader: a batch of paths in, each file's bytes out.
 *
 * Owns: one io_uring ring (or none, on the sync path), its fixed-file table, a grow-only
 *   buffer pool per batch slot, the mappings of large files, a copy of each batch's paths.
 * May call: libc, liburing. Knows nothing of the runtime, LMDB or the scheduler.
 * Callers must:
 *   - use a reader from ONE thread, the thread that created it (the ring is set up with
 *     IORING_SETUP_SINGLE_ISSUER; any other thread gets -EPERM from submit/wait);
 *   - keep root_dirfd open until prs_reader_destroy;
 *   - not touch items of a slot after prs_reader_release on it (mappings are gone, buffers
 *     are reused by the next batch).
 *
 * Pipelining. A reader has PRS_READER_SLOTS batch slots. prs_reader_submit(slot, paths)
 * queues the batch's reads and returns without waiting for them; prs_reader_wait(slot)
 * harvests them. So a worker submits batch k+1 to one slot, runs batch k from the other,
 * then waits for k+1. A slot cycles idle -> submitted (submit) -> ready (wait) -> idle
 * (release). Wait also drives the other slot's reads and leaves them submitted.
 * On the sync path submit only records the batch and wait does all the reads: same items,
 * no overlap.
 *
 * How a file is read (both paths give the same items):
 *   - Every file is first read with one chunk (64 KiB, less if the mmap threshold is lower;
 *     doubled up to 1 MiB when more than 1 in 8 files of a batch overflow it; shrunk so a
 *     slot reserves at most 256 MiB of address space): io_uring links open -> read -> close
 *     on a direct descriptor (a fixed-file slot the reader picks itself), the sync path does
 *     openat -> pread -> close. No stat for a file shorter than the chunk: a short read of
 *     a regular file is its end.
 *   - A read that fills the chunk cannot tell the size, so the file is opened again and
 *     fstat'ed (plain syscalls: this is the rare path). Size >= mmap threshold: mmap
 *     read-only, MADV_WILLNEED then MADV_POPULATE_READ (through the ring, so the page-in
 *     runs while the worker does something else; plain madvise on the sync path).
 *     Otherwise one exact-size read into the pool (through the ring, or pread).
 *     The threshold is clamped to 1 GiB (a single read may stop near 2 GiB).
 *   - Items are zero-copy: data points into the slot's pool or the file's mapping.
 *   - io_uring needs Linux >= 5.19 here (direct descriptors, linked fixed files, sparse
 *     file tables); the ring is SINGLE_ISSUER|COOP_TASKRUN when the kernel takes it (see
 *     reader.c for why not DEFER_TASKRUN). Anything missing: AUTO says why and uses sync.
 *
 * Files that change under the reader (tested through the hook below):
 *   - a file that needed fstat (it filled the first chunk) is checked with fstat again
 *     after its read or its prefetch; if the size differs (it grew, shrank, was truncated
 *     inside its last page, or a short read met a new end) it is read or mapped again from
 *     the start, at most PRS_READER_MAX_SIZE_CHANGES times, then reported as -EAGAIN;
 *   - a file shorter than the chunk is what one read found before end of file: bytes
 *     appended after that read are not in the item (nothing asked its size);
 *   - -EFAULT from MADV_POPULATE_READ at an unchanged size means the pages cannot be read:
 *     -EIO. A mapped file truncated AFTER wait returned raises SIGBUS where the entry script
 *     touches the lost pages: mmap's contract, which no reader can undo. Prefetch covers
 *     the first 1 GiB of a mapping; the rest is paged in on first touch.
 *
 * Per-item errors (negative errno in item.error, data NULL, the batch goes on): -ENOENT
 * (missing, or removed after the scan), -EACCES, -EISDIR, -ENOTDIR, -ELOOP, -ENAMETOOLONG,
 * -EINVAL (not a regular file at fstat time), -EAGAIN (kept changing size), -EIO, -ENOMEM
 * (pool or mapping), -EMFILE. Known limit: a path replaced by a FIFO after the scan blocks
 * its open (the scan only yields regular files; O_NONBLOCK would turn io_uring's cold
 * buffered reads into -EAGAIN). */
#ifndef PRS_READER_H
#define PRS_READER_H

#include "base.h"

#define PRS_READER_SLOTS 2u
#define PRS_READER_DEFAULT_MMAP_THRESHOLD_BYTES ((size_t)1 << 20)
#define PRS_READER_MAX_ITEMS ((uint32_t)1 << 24)
#define PRS_READER_MAX_SIZE_CHANGES 3
/* Enough for "io_uring (...)" or the reason io_uring is not used. */
#define PRS_READER_WHY_BYTES 256

/* AUTO: io_uring when the kernel lets us, else the sync path (openat/pread/fstat/mmap).
 * URING: io_uring or an error. SYNC: never io_uring.
 * PRS_IO_FORCE_NO_URING=1 in the environment makes the io_uring probe fail as if the
 * kernel said -EPERM (test hook for kernel.io_uring_disabled / a seccomp profile). */
enum prs_io_mode { PRS_IO_AUTO, PRS_IO_URING, PRS_IO_SYNC };

typedef struct prs_reader prs_reader;

typedef struct prs_read_item {
    const void *data;  /* NULL when error != 0; non-NULL (maybe 0 bytes) otherwise */
    size_t size_bytes; /* 0 when error != 0 */
    int error;         /* 0 or -errno */
} prs_read_item;

typedef struct prs_reader_stats {
    uint64_t items;          /* harvested by wait */
    uint64_t items_failed;   /* of which error != 0 */
    uint64_t items_mapped;   /* of which mmap'ed (size >= threshold) */
    uint64_t items_restated; /* needed a second open + fstat (chunk was full) */
    uint64_t size_changes;   /* re-reads because a mapped file changed size */
    uint64_t chunk_bytes;    /* current first-read chunk */
} prs_reader_stats;

/* Creates a reader for paths relative to root_dirfd (AT_FDCWD allowed; absolute paths are
 * taken as they are). mmap_threshold_bytes 0 means PRS_READER_DEFAULT_MMAP_THRESHOLD_BYTES.
 * why (may be NULL) gets one line saying which path runs and why, e.g.
 * "sync pread/mmap: io_uring unavailable: io_uring_queue_init: Operation not permitted ...".
 * Returns 0, -EINVAL (bad mode), -ENOMEM, or (mode URING only) the error that made
 * io_uring unusable, e.g. -EPERM or -ENOSYS. */
int prs_reader_create(prs_reader **out, int root_dirfd, enum prs_io_mode mode,
                      size_t mmap_threshold_bytes, char *why, size_t why_size);
/* Waits for every read still in flight (the kernel may not write into freed buffers), then
 * frees everything. NULL is fine. */
void prs_reader_destroy(prs_reader *r);
bool prs_reader_uses_uring(const prs_reader *r);
/* The same line create wrote to why; valid as long as the reader. */
const char *prs_reader_why(const prs_reader *r);
void prs_reader_get_stats(const prs_reader *r, prs_reader_stats *out);

/* Queues count reads into an idle slot and returns without waiting for them. The paths are
 * copied: the caller may free them on return. count 0 is an empty batch.
 * Returns 0, -EINVAL (slot out of range, NULL paths), -EBUSY (slot not idle), -E2BIG
 * (count > PRS_READER_MAX_ITEMS), -ENOMEM, -EPERM (wrong thread), or a ring error. */
int prs_reader_submit(prs_reader *r, unsigned slot, const char *const *rel_paths, uint32_t count);
/* Blocks until every item of the slot is read; *items gets count items in the order of the
 * submitted paths, valid until prs_reader_release(slot). Returns count (>= 0), -EINVAL
 * (slot not submitted), -EPERM (wrong thread), or a ring error that broke the reader (every
 * later call returns it too). Waiting again on a ready slot returns the same items. */
int prs_reader_wait(prs_reader *r, unsigned slot, const prs_read_item **items);
/* Unmaps the slot's large files and recycles its buffers. A slot still in flight is waited
 * for first. An idle slot, or a slot index out of range, is left alone. */
void prs_reader_release(prs_reader *r, unsigned slot);

/* Test seam: called after a file's size was taken with fstat and before it is read or
 * mapped (only files that filled the first chunk get there), so tests can make a file grow
 * or shrink at the worst moment. NULL removes it. */
typedef void (*prs_reader_sized_hook)(void *arg, const char *rel_path, uint64_t size_bytes);
void prs_reader_set_sized_hook(prs_reader *r, prs_reader_sized_hook fn, void *arg);

#endif
