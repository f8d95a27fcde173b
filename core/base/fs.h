/* fs.h -- directories: mkdir -p; files prs writes: never through a symlink.
 *
 * Owns: nothing. Header only.
 * May call: mkdir, open, lstat, fdopen (libc). Callers: any thread (it touches only the
 * path it is given).
 * Every file prs writes under OUT is opened with O_NOFOLLOW and an explicit mode (0644,
 * directories 0755, whatever the umask lets through): a symlink planted at a log's path
 * makes the open fail (ELOOP) instead of appending to the file it points at. */
#ifndef PRS_FS_H
#define PRS_FS_H

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* fopen for writing that never follows a symlink: mode "w" (truncate) or "a" (append);
 * created 0644. NULL with errno (ELOOP for a symlink) on failure. */
static inline FILE *prs_fopen_nofollow(const char *path, const char *mode) {
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (mode[0] == 'a' ? O_APPEND : O_TRUNC);
    int fd = open(path, flags, 0644);
    if (fd < 0) return NULL;
    if (mode[0] == 'a') lseek(fd, 0, SEEK_END); /* as fopen "a": ftell tells an empty file */
    FILE *f = fdopen(fd, mode[0] == 'a' ? "a" : "w");
    if (!f) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return f;
}

/* The first component of path at or below base (a prefix of path) that is a symlink,
 * copied to out: true if there is one. A directory of OUT that is a symlink would carry
 * every file written into it elsewhere. */
static inline bool prs_symlink_below(const char *base, const char *path, char *out, size_t size) {
    size_t blen = strlen(base);
    if (strncmp(path, base, blen) != 0) return false;
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n >= sizeof(buf)) return false;
    memcpy(buf, path, n + 1);
    for (size_t i = blen + 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        char c = buf[i];
        buf[i] = 0;
        struct stat st;
        bool link = lstat(buf, &st) == 0 && S_ISLNK(st.st_mode);
        if (link) snprintf(out, size, "%s", buf);
        buf[i] = c;
        if (link) return true;
    }
    return false;
}

#endif
