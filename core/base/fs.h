/* fs.h -- directories: mkdir -p.
 *
 * Owns: nothing. Header only.
 * May call: mkdir (libc). Callers: any thread (it touches only the path it is given). */
#ifndef PRS_FS_H
#define PRS_FS_H

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Makes path and every missing parent (mode 0755); one that exists already is fine. 0, or
 * the negative errno of the first mkdir that failed otherwise (-EACCES, -ENOTDIR,
 * -ENOSPC...); -ENAMETOOLONG when path does not fit PATH_MAX. */
static inline int prs_mkdir_p(const char *path) {
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n >= sizeof(buf)) return -ENAMETOOLONG;
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        int rc = mkdir(buf, 0755);
        *p = '/';
        if (rc != 0 && errno != EEXIST) return -errno;
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -errno;
    return 0;
}

#endif
