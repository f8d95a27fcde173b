/* outfile.h -- the append-only output file (append_row).
 *
 * Owns: one file descriptor, from a successful open to close. May call: libc, core/base.
 * Callers must: use one prs_outfile from one thread at a time (in prs the committer);
 *   sync before committing a length that covers the bytes written (exactly-once rests
 *   on: committed length <= synced length). size_bytes is the file's length as written
 *   so far: read it, never set it.
 * Opening truncates the file to the length the caller last committed, dropping rows of
 * batches that never committed. A file shorter than that length was changed by someone
 * else: -EBADMSG, and the file is left as it is. */
#ifndef PRS_OUTFILE_H
#define PRS_OUTFILE_H

#include "base.h"

typedef struct prs_outfile {
    int fd;
    uint64_t size_bytes;
    char path[4096];
} prs_outfile;

/* Opens (creating, mode 0644) path for appending at committed_bytes: a longer file is
 * truncated to it. 0 with o->size_bytes = committed_bytes; else o->fd is -1, err names
 * the path, and: -ENAMETOOLONG: path does not fit o->path; -EBADMSG: the file is shorter
 * than committed_bytes (changed outside prs: left as it is); another negative errno from
 * open, fstat, ftruncate or lseek (-EACCES, -EISDIR, -ENOSPC...). */
int prs_outfile_open(prs_outfile *o, const char *path, uint64_t committed_bytes, char *err,
                     size_t err_size);
/* Writes len bytes of buf at the end (retrying short writes and EINTR). 0; else a
 * negative errno from write (-ENOSPC, -EDQUOT, -EIO, -EFBIG...), or -EIO for a write
 * that wrote nothing: some bytes may have been written (size_bytes counts them) and must
 * not be committed; the next open truncates them away. buf stays the caller's. */
int prs_outfile_append(prs_outfile *o, const void *buf, size_t len);
/* fdatasync: 0 once every appended byte is on disk; else fdatasync's negative errno
 * (-EIO, -ENOSPC, -EDQUOT): nothing written since the last good sync may be committed. */
int prs_outfile_sync(prs_outfile *o);
/* Closes the descriptor (no sync: sync first if the bytes matter). Fine after a failed
 * open or twice. */
void prs_outfile_close(prs_outfile *o);

#endif
