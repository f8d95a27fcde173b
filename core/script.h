/* script.h -- loading an entry script into a prs_entry_table: a shared object, or a
 * script run by a host process per worker (*.py: host.h), behind the same table.
 *
 * Owns: the dlopen handle. May call: libdl, libc, host (when linked: see script.c).
 * The script's undefined prs_* symbols (prs_emit, prs_log, ...) resolve against the
 * host: the prs binary exports them (-rdynamic; only the PRS_API ones are visible), a
 * host linking libprs.so.0 finds them there, and a host linking libprs.a exports them with
 * libprs-static.pc's -Wl,--export-dynamic-symbol flags (README "Embedding"). */
#ifndef PRS_SCRIPT_H
#define PRS_SCRIPT_H

#include "base.h"
#include "joblog.h"
#include "prs.h"

typedef struct prs_script_lib {
    void *handle;
    prs_entry_table table;
    bool hosted;          /* *.py: run by host processes (host.h) */
    const void *host_key; /* the job whose checked host waits for worker 0 (host.h) */
    /* Hosted: called by each worker before a batch's timed window; NULL otherwise. */
    int (*ready)(prs_ctx *ctx, struct prs_out *out);
} prs_script_lib;

/* err names the path and says what is wrong: missing, not a shared object, no prs_run.
 * Returns 0, -ENOENT, -ENOEXEC (not loadable; a *.py script in a program linked without
 * the Python host) or -ESRCH (no prs_run). */
int prs_script_load(prs_script_lib *lib, const char *path, char *err, size_t err_size);
void prs_script_unload(prs_script_lib *lib);

/* Once per job, after the log is open and before any worker starts: a hosted script is
 * imported once (host.h: prs_host_check; argv as init() gets it). Returns 0 or a
 * PRS_EXIT_* code with err. */
int prs_script_check(prs_script_lib *lib, const prs_job_config *cfg, int argc, char **argv,
                     prs_joblog *log, char *err, size_t err_size);

#endif
