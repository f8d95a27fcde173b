/* scan.h -- walks a file dataset in a deterministic order.
 *
 * Owns: nothing past a call. May call: libc (openat, getdents via readdir, fstatat).
 * Order: entries of a directory sorted bytewise (strcmp), directories descended where
 * their name sorts, so the same tree always yields the same item order (and the same
 * batches). Regular files and symlinks to regular files are items; symlinked directories
 * are not followed (no cycles); other types (FIFOs, sockets, devices) and dangling or
 * looping links are skipped, and counted (prs_scan_skipped). Memory: the names of one
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

/* What a directory walk left out, by kind. */
typedef struct prs_scan_skipped {
    uint64_t dir_links; /* symlinks to directories: not followed */
    uint64_t special;   /* FIFOs, sockets, character and block devices */
    uint64_t broken;    /* dangling or looping symlinks, entries that vanished */
} prs_scan_skipped;

/* err gets a message naming the path that failed. -ENOENT/-ENOTDIR/-EACCES for a bad root. */
int prs_scan_dir(const char *root, prs_scan_fn fn, void *arg, char *err, size_t err_size);
/* The same, adding what it skipped to *skipped. */
int prs_scan_dir_counted(const char *root, prs_scan_fn fn, void *arg, prs_scan_skipped *skipped,
                         char *err, size_t err_size);
/* True if path (which need not exist yet) is root or lies under it, symlinks resolved:
 * an output directory there would be walked as input. */
bool prs_scan_within(const char *root, const char *path);
int prs_scan_list(const char *list_path, prs_scan_fn fn, void *arg, char *err, size_t err_size);

#endif
