/* script.h -- loading an entry script (a shared object) into a prs_entry_table.
 *
 * Owns: the dlopen handle. May call: libdl, libc.
 * The script's undefined prs_* symbols (prs_emit, prs_log, ...) resolve against the
 * host: the prs binary exports them (-rdynamic); an embedder that loads scripts by
 * path must export them too, or pass a table instead. */
#ifndef PRS_SCRIPT_H
#define PRS_SCRIPT_H

#include "base.h"
#include "prs.h"

typedef struct prs_script_lib {
    void *handle;
    prs_entry_table table;
} prs_script_lib;

/* err names the path and says what is wrong: missing, not a shared object, no prs_run.
 * Returns 0, -ENOENT, -ENOEXEC (not loadable) or -ESRCH (no prs_run). */
int prs_script_load(prs_script_lib *lib, const char *path, char *err, size_t err_size);
void prs_script_unload(prs_script_lib *lib);

#endif
