/* scan.h -- walks a file dataset in a deterministic order.
 *
 * Owns: nothing past a call. May call: libc (openat, getdents via readdir, fstatat).
 * Order: entries of a directory sorted bytewise (strcmp), directories descended where
 * their name sorts, so the same tree always yields the same item order (and the same
 * batches). Regular files and symlinks to regular files are items; symlinked directories
 * are not followed (no cycles); other types are skipped. Memory: the names of one
 * directory at a time, freed before its subdirectories are walked.
 * A list file (--input @LIST) holds one path a line, or NUL-separated when it contains
 * a NUL; relative paths are taken from the current directory and reported absolute. */
#ifndef PRS_SCAN_H
#define PRS_SCAN_H

#include "base.h"

#define PRS_SCAN_MAX_DEPTH 64
#define PRS_SCAN_MAX_PATH 4000

/* Called per item with its path (relative to the root for a directory, absolute for a
 * list); a non-zero return stops the walk and is returned. */
typedef int (*prs_scan_fn)(void *arg, const char *path, size_t len);

/* err gets a message naming the path that failed. -ENOENT/-ENOTDIR/-EACCES for a bad root. */
int prs_scan_dir(const char *root, prs_scan_fn fn, void *arg, char *err, size_t err_size);
int prs_scan_list(const char *list_path, prs_scan_fn fn, void *arg, char *err, size_t err_size);

#endif
