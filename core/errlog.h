/* errlog.h -- logs/user/error.txt and logs/user/error/<node>/: one file per error, and
 * every error counted under its group (errgroup.h).
 *
 * Owns: the error directory's numbering (error-NNNNNN-batchB-attemptA.txt, each written
 *   whole and renamed, so a crash leaves no half file), the first error's file name, and
 *   error.txt (rewritten atomically at most once a second, on sync and at close).
 * May call: errgroup, symbolize (at open: crashes nobody symbolized yet), libc.
 * Callers must: use it from one thread (the coordinator), through joblog.h's
 *   prs_joblog_errors*, which hold the only prs_errlog of a job.
 * At open it reads the files earlier lives wrote, in their order, so a try redone after a
 * restart is recognised and filed once. */
#ifndef PRS_ERRLOG_H
#define PRS_ERRLOG_H

#include "base.h"

#define PRS_ERRLOG_FILES_MAX 10000u /* files in user/error/<node>/; past it, counted only */

typedef struct prs_errlog prs_errlog;

/* logs_dir: OUT/logs; node: the machine's (safe) name. 0, or a negative errno with err
 * naming the directory. */
int prs_errlog_open(prs_errlog **out, const char *logs_dir, const char *node, char *err,
                    size_t err_size);
/* Writes error.txt if it changed; frees. NULL ok. */
void prs_errlog_close(prs_errlog *e);
/* Error lines, each "batch B attempt A item I: message\n" (or any other '\n'-terminated
 * line): each becomes one file (unless the same try filed it already) and is counted. */
void prs_errlog_add(prs_errlog *e, const char *text, size_t len);
/* Rewrites error.txt now if errors came since it was last written. NULL ok. */
void prs_errlog_sync(prs_errlog *e);
/* The first error's file name ("" while there is none). */
const char *prs_errlog_first_file(const prs_errlog *e);

#endif
