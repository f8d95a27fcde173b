/* outfile.c -- see outfile.h. */
#include "outfile.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int prs_outfile_open(prs_outfile *o, const char *path, uint64_t committed_bytes, char *err,
                     size_t err_size) {
    o->fd = -1;
    if (snprintf(o->path, sizeof(o->path), "%s", path) >= (int)sizeof(o->path)) {
        snprintf(err, err_size, "%s: path too long", path);
        return -ENAMETOOLONG;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        int e = errno;
        snprintf(err, err_size, "%s: cannot open output file: %s", path, strerror(e));
        return -e;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) goto fail_errno;
    if ((uint64_t)st.st_size < committed_bytes) {
        snprintf(err, err_size,
                 "%s: output file is %lld bytes but %llu were committed: it was changed "
                 "outside prs; refusing to touch it",
                 path, (long long)st.st_size, (unsigned long long)committed_bytes);
        close(fd);
        return -EBADMSG;
    }
    if ((uint64_t)st.st_size > committed_bytes && ftruncate(fd, (off_t)committed_bytes) != 0)
        goto fail_errno;
    if (lseek(fd, (off_t)committed_bytes, SEEK_SET) < 0) goto fail_errno;
    o->fd = fd;
    o->size_bytes = committed_bytes;
    return 0;
fail_errno:;
    int e = errno;
    snprintf(err, err_size, "%s: %s", path, strerror(e));
    close(fd);
    return -e;
}

int prs_outfile_append(prs_outfile *o, const void *buf, size_t len) {
    const char *p = buf;
    /* Bounded: every pass writes at least one byte or returns. */
    while (len > 0) {
        ssize_t n = write(o->fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (n == 0) return -EIO;
        p += n;
        len -= (size_t)n;
        o->size_bytes += (uint64_t)n;
    }
    return 0;
}

int prs_outfile_sync(prs_outfile *o) {
    return fdatasync(o->fd) == 0 ? 0 : -errno;
}

void prs_outfile_close(prs_outfile *o) {
    if (o->fd >= 0) close(o->fd);
    o->fd = -1;
}
