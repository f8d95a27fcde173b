/* logfile.h -- append-only log files whose buffered writes can go through io_uring.
 *
 * Owns: one writer (a mutex, optionally one io_uring ring) shared by the stdio streams
 *   it opens; each stream owns its O_APPEND descriptor. A stream is an ordinary FILE*
 *   (fopencookie): callers format and buffer with stdio; each buffer flush is one write,
 *   submitted to the ring and waited for when the writer uses io_uring, else write(2).
 * May call: libc, liburing.
 * Callers must: close every stream before destroying the writer; switch the writer to
 *   io_uring at any time (it takes the mutex); use each FILE* from one thread at a time,
 *   as stdio requires. Why a ring for log files: where the input side reads through
 *   io_uring (possibly the only syscall path a sandbox allows), the logs follow it. */
#ifndef PRS_LOGFILE_H
#define PRS_LOGFILE_H

#include "base.h"

typedef struct prs_logfile_writer prs_logfile_writer;

int prs_logfile_writer_init(prs_logfile_writer **out);
/* From now on flushes are io_uring writes. 0, or a negative errno (the writer stays on
 * write(2), which is always correct). */
int prs_logfile_writer_use_uring(prs_logfile_writer *w);
bool prs_logfile_writer_uses_uring(prs_logfile_writer *w);
/* Flushes written through the ring so far (a test and a log line read it). */
uint64_t prs_logfile_writer_uring_writes(prs_logfile_writer *w);
void prs_logfile_writer_destroy(prs_logfile_writer *w);

/* Opens path for appending (created 0644), fully buffered with buffer_bytes; NULL with
 * errno set on failure. */
FILE *prs_logfile_open(prs_logfile_writer *w, const char *path, size_t buffer_bytes);

#endif
