/* symbolize.h -- function, file and line for the stacks in crash files, outside the crash.
 *
 * Owns: nothing durable; rewrites a crash file (write then rename) once, adding a
 *   "stack (function, file:line):" section read from the file's raw part (the faulting pc,
 *   the frame addresses and the dead process's memory map, which crash.c's handler wrote).
 *   The files named in the map must still be there (the entry script, prs, libc): their
 *   debug info (DWARF in the file, or a separate debug file found by build id) gives the
 *   lines; a frame without debug info keeps its function name (or its address).
 * May call: libdw (libdwfl), libc. Not async-signal-safe: never from a signal handler.
 * Callers: the supervisor once its runtime died of a signal, and the runtime at start (a
 *   crash the supervisor did not see: an embedded job, or a supervisor killed). Any thread,
 *   one call at a time per file. */
#ifndef PRS_SYMBOLIZE_H
#define PRS_SYMBOLIZE_H

#include "base.h"

/* Rewrites the crash file at path with its symbolized stack. 0; -EALREADY: it has one;
 * -EINVAL: it holds no raw part (an older format); -ENOMEM, -EIO, or the open's errno. */
int prs_symbolize_crash_file(const char *path);

/* Every crash-*.txt in dir not symbolized yet. Returns how many it symbolized (>= 0), or
 * -errno when dir cannot be read. Bounded: at most max_files files are looked at. */
int prs_symbolize_crash_dir(const char *dir, uint32_t max_files);

/* Every OUT/logs/user/error/<node>/ of the job in out_dir, as above. */
int prs_symbolize_job(const char *out_dir);

#endif
