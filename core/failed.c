/* failed.c -- see failed.h. */
#include "failed.h"
#include "fs.h"

#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct fw {
    prs_queue_reader *reader;
    enum prs_format format;
    char root[PATH_MAX]; /* a directory input's real path; "" when item paths are absolute */
    FILE *out;
    uint64_t items;
    int rc; /* the first error; the scan goes on without effect after it */
    char *err;
    size_t err_size;
} fw;

static void fw_path(const fw *w, const char *p, size_t len, char *buf, size_t size) {
    if (p[0] == '/' || !w->root[0])
        snprintf(buf, size, "%.*s", (int)len, p);
    else
        snprintf(buf, size, "%s/%.*s", w->root, (int)len, p);
}

/* One tabular batch: every record of its byte range, by its first line. */
static int fw_records(fw *w, const prs_tab_ref *ref) {
    char path[PATH_MAX + 4096];
    fw_path(w, ref->path, strlen(ref->path), path, sizeof(path));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(w->err, w->err_size, "%s: %s", path, strerror(e));
        return -e;
    }
    int rc = 0;
    size_t len = (size_t)(ref->offset + ref->length);
    struct stat st;
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size < len) {
        snprintf(w->err, w->err_size, "%s: shorter than when the job was created", path);
        rc = -ESTALE;
        goto close_fd;
    }
    char *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        rc = -errno;
        snprintf(w->err, w->err_size, "%s: cannot map it: %s", path, strerror(-rc));
        goto close_fd;
    }
    prs_splitter sp;
    prs_record rec;
    rc = prs_splitter_init_at(&sp, w->format, map, len, ref->offset, ref->first_line);
    for (uint32_t n = 0; rc == 0 && n < ref->records && prs_splitter_next(&sp, &rec) == 1; n++) {
        fprintf(w->out, "%s:%llu\n", path, (unsigned long long)rec.line);
        w->items++;
    }
    munmap(map, len);
close_fd:
    close(fd);
    return rc;
}

static int fw_item(fw *w, const void *view, size_t size) {
    if (w->format == PRS_FORMAT_FILES) {
        const char *name;
        size_t name_len;
        if (prs_queue_item_decode(view, size, &name, &name_len)) return -EBADMSG;
        char path[PATH_MAX + 4096];
        fw_path(w, name, name_len, path, sizeof(path));
        fprintf(w->out, "%s\n", path);
        w->items++;
        return 0;
    }
    prs_tab_ref ref;
    if (prs_queue_tab_decode(view, size, &ref)) return -EBADMSG;
    return fw_records(w, &ref);
}

static void fw_batch(void *arg, uint64_t id, const prs_batch_rec *rec) {
    fw *w = arg;
    /* A tabular batch is one item record (its byte range) counting item_count records. */
    uint32_t n = w->format == PRS_FORMAT_FILES ? rec->item_count : 1;
    for (uint32_t i = 0; i < n && w->rc == 0; i++) {
        const void *view;
        size_t size;
        int rc = prs_queue_reader_items(w->reader, rec->first_item + i, 1, &view, &size);
        if (rc == 0) rc = fw_item(w, view, size);
        if (rc == -EBADMSG)
            snprintf(w->err, w->err_size, "batch %llu: a corrupt item record",
                     (unsigned long long)id);
        else if (rc && !w->err[0])
            snprintf(w->err, w->err_size, "batch %llu: %s", (unsigned long long)id, strerror(-rc));
        w->rc = rc;
    }
}

static int fw_root(fw *w, const char *input) {
    struct stat st;
    if (input[0] == '@' || (stat(input, &st) == 0 && S_ISREG(st.st_mode))) return 0;
    if (!realpath(input, w->root)) {
        int e = errno;
        snprintf(w->err, w->err_size, "--input %s: %s", input, strerror(e));
        return -e;
    }
    return 0;
}

int prs_failed_write(prs_queue *q, const char *input, enum prs_format format, const char *path,
                     uint64_t *items, char *err, size_t err_size) {
    fw w = {.format = format, .err = err, .err_size = err_size};
    err[0] = 0;
    int rc = fw_root(&w, input);
    if (rc) return rc;
    char tmp[PATH_MAX + 16];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (!(w.out = prs_fopen_nofollow(tmp, "w"))) {
        rc = -errno;
        snprintf(err, err_size, "%s: %s", tmp, strerror(-rc));
        return rc;
    }
    if ((rc = prs_queue_reader_open(q, &w.reader))) {
        snprintf(err, err_size, "queue: %s", strerror(-rc));
        goto close_out;
    }
    if ((rc = prs_queue_reader_begin(w.reader)) == 0) {
        rc = prs_queue_scan_batches(q, PRS_BATCH_FAILED, SIZE_MAX, fw_batch, &w);
        prs_queue_reader_end(w.reader);
    }
    if (rc == 0) rc = w.rc;
    if (rc && !err[0]) snprintf(err, err_size, "queue: %s", strerror(-rc));
    prs_queue_reader_close(w.reader);
close_out:
    if (fclose(w.out) != 0 && rc == 0) {
        rc = -errno;
        snprintf(err, err_size, "%s: %s", tmp, strerror(-rc));
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -errno;
        snprintf(err, err_size, "%s: %s", path, strerror(-rc));
    }
    if (rc) unlink(tmp);
    *items = w.items;
    return rc;
}
