/* scan.c -- see scan.h. */
#include "scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct scan_walk {
    prs_scan_fn fn;
    void *arg;
    char *err;
    size_t err_size;
    const char *root;
    prs_scan_skipped *skipped;
    char path[PRS_SCAN_MAX_PATH + 256];
} scan_walk;

typedef struct scan_entry {
    char *name;
    bool is_dir;
} scan_entry;

static int entry_cmp(const void *a, const void *b) {
    return strcmp(((const scan_entry *)a)->name, ((const scan_entry *)b)->name);
}

static void free_entries(scan_entry *e, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(e[i].name);
    free(e);
}

/* Reads one directory's entries (items and subdirectories), sorted. */
static int read_entries(int dfd, scan_entry **out, size_t *count, prs_scan_skipped *skipped) {
    DIR *d = fdopendir(dfd);
    if (!d) {
        int e = errno;
        close(dfd);
        return -e;
    }
    scan_entry *e = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' &&
            (de->d_name[1] == 0 || (de->d_name[1] == '.' && !de->d_name[2])))
            continue;
        bool is_dir = de->d_type == DT_DIR, is_file = de->d_type == DT_REG, link = false;
        if (de->d_type == DT_UNKNOWN || de->d_type == DT_LNK) {
            struct stat st, lst;
            if (fstatat(dirfd(d), de->d_name, &lst, AT_SYMLINK_NOFOLLOW) != 0 ||
                fstatat(dirfd(d), de->d_name, &st, 0) != 0) { /* vanished, dangling, a loop */
                skipped->broken++;
                continue;
            }
            link = S_ISLNK(lst.st_mode);
            is_file = S_ISREG(st.st_mode);
            is_dir = S_ISDIR(st.st_mode) && !link;
        }
        if (!is_dir && !is_file) {
            if (link && !is_file) {
                skipped->dir_links++; /* or a link to a FIFO...: counted with the links */
            } else {
                skipped->special++;
            }
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            scan_entry *grown = realloc(e, cap * sizeof(*e));
            if (!grown) {
                rc = -ENOMEM;
                break;
            }
            e = grown;
        }
        e[n].name = strdup(de->d_name);
        if (!e[n].name) {
            rc = -ENOMEM;
            break;
        }
        e[n++].is_dir = is_dir;
        errno = 0;
    }
    if (rc == 0 && errno) rc = -errno;
    closedir(d);
    if (rc) {
        free_entries(e, n);
        return rc;
    }
    if (n > 1) qsort(e, n, sizeof(*e), entry_cmp);
    *out = e;
    *count = n;
    return 0;
}

/* path holds the directory's path relative to the root ("" at the top), len its length. */
static int walk(scan_walk *w, int dfd, size_t len, int depth) {
    if (depth > PRS_SCAN_MAX_DEPTH) {
        snprintf(w->err, w->err_size, "%s/%s: deeper than %d directories", w->root, w->path,
                 PRS_SCAN_MAX_DEPTH);
        close(dfd);
        return -ELOOP;
    }
    scan_entry *e;
    size_t n;
    int list_fd = dup(dfd); /* fdopendir takes one; dfd stays open for openat of children */
    int rc = list_fd < 0 ? -errno : read_entries(list_fd, &e, &n, w->skipped);
    if (rc) {
        close(dfd);
        snprintf(w->err, w->err_size, "%s/%s: cannot list directory: %s", w->root, w->path,
                 strerror(-rc));
        return rc;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t nlen = strlen(e[i].name);
        size_t plen = len + (len ? 1 : 0) + nlen;
        if (plen > PRS_SCAN_MAX_PATH) {
            snprintf(w->err, w->err_size, "%s/%s/%s: path longer than %d bytes", w->root, w->path,
                     e[i].name, PRS_SCAN_MAX_PATH);
            rc = -ENAMETOOLONG;
            break;
        }
        if (len) w->path[len] = '/';
        memcpy(w->path + len + (len ? 1 : 0), e[i].name, nlen + 1);
        if (e[i].is_dir) {
            int child = openat(dfd, e[i].name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (child < 0) {
                snprintf(w->err, w->err_size, "%s/%s: cannot open directory: %s", w->root, w->path,
                         strerror(errno));
                rc = -errno;
            } else {
                rc = walk(w, child, plen, depth + 1);
            }
        } else {
            rc = w->fn(w->arg, w->path, plen);
        }
        w->path[len] = 0;
    }
    free_entries(e, n);
    close(dfd);
    return rc;
}

int prs_scan_dir(const char *root, prs_scan_fn fn, void *arg, char *err, size_t err_size) {
    prs_scan_skipped unused = {0};
    return prs_scan_dir_counted(root, fn, arg, &unused, err, err_size);
}

int prs_scan_dir_counted(const char *root, prs_scan_fn fn, void *arg, prs_scan_skipped *skipped,
                         char *err, size_t err_size) {
    scan_walk *w = calloc(1, sizeof(*w));
    if (!w) return -ENOMEM;
    *w = (scan_walk){
        .fn = fn, .arg = arg, .err = err, .err_size = err_size, .root = root, .skipped = skipped};
    int rc;
    int dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        rc = -errno;
        snprintf(err, err_size, "%s: cannot open input directory: %s", root, strerror(errno));
    } else {
        rc = walk(w, dfd, 0, 0);
    }
    free(w);
    return rc;
}

int prs_scan_list(const char *list_path, prs_scan_fn fn, void *arg, char *err, size_t err_size) {
    FILE *f = fopen(list_path, "re");
    if (!f) {
        snprintf(err, err_size, "%s: cannot open input list: %s", list_path, strerror(errno));
        return -errno;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(err, err_size,
                 "@%s is a directory: @LIST takes a file listing paths (give a directory as "
                 "--input DIR)",
                 list_path);
        fclose(f);
        return -EISDIR;
    }
    char cwd[PRS_SCAN_MAX_PATH];
    if (!getcwd(cwd, sizeof(cwd))) {
        snprintf(err, err_size, "cannot read the current directory: %s", strerror(errno));
        fclose(f);
        return -errno;
    }
    /* NUL-separated if the file holds a NUL anywhere: decided by a first pass. */
    int sep = '\n', c;
    while ((c = getc(f)) != EOF) {
        if (c == 0) {
            sep = 0;
            break;
        }
    }
    rewind(f);
    char *line = NULL;
    size_t cap = 0;
    char path[PRS_SCAN_MAX_PATH * 2 + 2];
    int rc = 0;
    uint64_t lineno = 0;
    ssize_t got;
    while (rc == 0 && (got = getdelim(&line, &cap, sep, f)) > 0) {
        lineno++;
        size_t len = (size_t)got;
        while (len && (line[len - 1] == (char)sep || line[len - 1] == '\r'))
            len--;
        if (len == 0) continue;
        line[len] = 0;
        int n = line[0] == '/' ? snprintf(path, sizeof(path), "%s", line)
                               : snprintf(path, sizeof(path), "%s/%s", cwd, line);
        if (n < 0 || (size_t)n > PRS_SCAN_MAX_PATH) {
            snprintf(err, err_size, "%s:%llu: path longer than %d bytes", list_path,
                     (unsigned long long)lineno, PRS_SCAN_MAX_PATH);
            rc = -ENAMETOOLONG;
            break;
        }
        rc = fn(arg, path, (size_t)n);
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, err_size, "%s: read error", list_path);
        rc = -EIO;
    }
    free(line);
    fclose(f);
    return rc;
}

/* realpath of path, or of its longest existing prefix with the rest appended. */
static bool resolve(const char *path, char *out) {
    char buf[PATH_MAX];
    int len = path[0] == '/' ? snprintf(buf, sizeof(buf), "%s", path)
                             : snprintf(buf, sizeof(buf), "./%s", path);
    if (len < 0 || len >= (int)sizeof(buf)) return false;
    /* Each pass drops one trailing component: bounded by the path's length. */
    for (int cut = len; cut >= 0; cut--) {
        if (cut != len && buf[cut] != '/') continue;
        char c = buf[cut];
        buf[cut] = 0;
        bool ok = realpath(cut ? buf : "/", out) != NULL;
        buf[cut] = c;
        if (!ok) continue;
        size_t n = strlen(out);
        return snprintf(out + n, PATH_MAX - n, "%s", buf + cut) < (int)(PATH_MAX - n);
    }
    return false;
}

bool prs_scan_within(const char *root, const char *path) {
    char r[PATH_MAX], p[PATH_MAX];
    if (!realpath(root, r) || !resolve(path, p)) return false;
    size_t n = strlen(r);
    if (n == 1) return true; /* the root directory holds everything */
    return strncmp(p, r, n) == 0 && (p[n] == 0 || p[n] == '/');
}
