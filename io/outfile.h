/* outfile.h -- the append-only output file (append_row).
 *
 * Owns: one file descriptor. May call: libc.
 * Callers must: write from one thread; sync before committing a length that covers the
 *   bytes written (exactly-once rests on: committed length <= synced length).
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

int prs_outfile_open(prs_outfile *o, const char *path, uint64_t committed_bytes, char *err,
                     size_t err_size);
int prs_outfile_append(prs_outfile *o, const void *buf, size_t len);
int prs_outfile_sync(prs_outfile *o);
void prs_outfile_close(prs_outfile *o);

#endif
