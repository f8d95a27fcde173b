/* joblog.h -- the job's logs/ directory (ParallelRunStep layout).
 *
 * Owns: OUT/logs/ and the files in it: overview.txt (rewritten atomically),
 *   sys/master.txt (the coordinator's view), user/<ip>/<node>.log.txt (the entry
 *   script's logger), user/error.txt (every item and batch error, one line each).
 * May call: libc, pthreads.
 * Callers must: call master/error/overview from the coordinator thread only; user() may
 *   be called from any thread (it serialises lines so none are torn or interleaved).
 * Node name and IP come from the machine (hostname, first non-loopback IPv4), reduced
 * to [A-Za-z0-9._-] so they cannot name a path outside logs/. */
#ifndef PRS_JOBLOG_H
#define PRS_JOBLOG_H

#include "base.h"

#include <stdarg.h>

typedef struct prs_joblog prs_joblog;

int prs_joblog_open(prs_joblog **out, const char *out_dir, int level, char *err,
                    size_t err_size);
void prs_joblog_close(prs_joblog *jl);

const char *prs_joblog_node(const prs_joblog *jl);
const char *prs_joblog_ip(const prs_joblog *jl);
const char *prs_joblog_dir(const prs_joblog *jl);

void prs_joblog_master(prs_joblog *jl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Entry-script logger; dropped below the job's --logging-level. */
void prs_joblog_user(prs_joblog *jl, int worker, int level, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
bool prs_joblog_user_enabled(const prs_joblog *jl, int level);
/* Appends error lines (already formatted, '\n'-terminated) to user/error.txt. */
void prs_joblog_errors(prs_joblog *jl, const char *text, size_t len);
/* Replaces overview.txt with text, atomically (write then rename). */
int prs_joblog_overview(prs_joblog *jl, const char *text);

const char *prs_log_level_name(int level);
/* "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL" (any case) -> PRS_LOG_*; -EINVAL. */
int prs_log_level_parse(const char *text, int *level);

#endif
