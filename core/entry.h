/* entry.h -- loading an entry script (a shared object) into a prs_entry_table.
 *
 * Owns: the dlopen handle. May call: libdl, libc.
 * The script's undefined prs_* symbols (prs_emit, prs_log, ...) resolve against the
 * host: the prs binary exports them (-rdynamic; only the PRS_API ones are visible), a
 * host linking libprs.so.0 finds them there, and a host linking libprs.a exports them with
 * libprs-static.pc's -Wl,--export-dynamic-symbol flags (README "Embedding"). */
#ifndef PRS_ENTRY_LOAD_H
#define PRS_ENTRY_LOAD_H

#include "base.h"
#include "prs.h"

typedef struct prs_entry_lib {
    void *handle;
    prs_entry_table table;
} prs_entry_lib;

/* err names the path and says what is wrong: missing, not a shared object, no prs_run.
 * Returns 0, -ENOENT, -ENOEXEC (not loadable) or -ESRCH (no prs_run). */
int prs_entry_load(prs_entry_lib *lib, const char *path, char *err, size_t err_size);
void prs_entry_unload(prs_entry_lib *lib);

#endif
