/* side.c -- see side.h. */
#include "side.h"
#include "clock.h"
#include "fs.h"
#include "prs.h"
#include "sidescan.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

static bool name_ok(const char *s, size_t len) {
    if (len == 0 || len > PRS_SIDE_NAME_MAX) return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok) return false;
    }
    return true;
}

static int bad(char *err, size_t err_size, const char *opt, const char *text, const char *why) {
    snprintf(err, err_size, "%s %s: %s", opt, text, why);
    return -EINVAL;
}

int prs_side_parse_input(const char *text, prs_side_input *in, char *err, size_t err_size) {
    const char *eq = strchr(text, '=');
    if (!eq) return bad(err, err_size, "--side-input", text, "expected NAME=PATH");
    if (!name_ok(text, (size_t)(eq - text)))
        return bad(err, err_size, "--side-input", text, "NAME must be 1..64 of A-Z a-z 0-9 _ . -");
    if (!eq[1]) return bad(err, err_size, "--side-input", text, "PATH is empty");
    if (strlen(eq + 1) >= sizeof(in->path))
        return bad(err, err_size, "--side-input", text, "PATH too long");
    memset(in, 0, sizeof(*in));
    memcpy(in->name, text, (size_t)(eq - text));
    snprintf(in->path, sizeof(in->path), "%s", eq + 1);
    return 0;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int prs_side_parse_table(const char *text, prs_side_table *t, char *err, size_t err_size) {
    const char *opt = "--side-table";
    const char *eq = strchr(text, '=');
    if (!eq) return bad(err, err_size, opt, text, "expected NAME=FILE[,key=COLUMN][,format=F]");
    if (!name_ok(text, (size_t)(eq - text)))
        return bad(err, err_size, opt, text, "NAME must be 1..64 of A-Z a-z 0-9 _ . -");
    memset(t, 0, sizeof(*t));
    memcpy(t->name, text, (size_t)(eq - text));
    /* FILE ends at the first comma followed by a sub-option ("word="): a comma elsewhere
     * stays in the path. */
    const char *file = eq + 1, *p = file, *opts = NULL;
    for (; (p = strchr(p, ',')); p++) {
        const char *w = p + 1;
        while (*w >= 'a' && *w <= 'z')
            w++;
        if (w > p + 1 && *w == '=') {
            opts = p;
            break;
        }
    }
    size_t file_len = opts ? (size_t)(opts - file) : strlen(file);
    if (file_len == 0) return bad(err, err_size, opt, text, "FILE is empty");
    if (file_len >= sizeof(t->path)) return bad(err, err_size, opt, text, "FILE too long");
    memcpy(t->path, file, file_len);
    bool have_format = false, have_key = false;
    for (p = opts; p && *p;) {
        p++; /* the comma */
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 4 && !strncmp(p, "key=", 4)) {
            if (have_key) return bad(err, err_size, opt, text, "key= given twice");
            if (len - 4 > PRS_SIDE_KEY_MAX) return bad(err, err_size, opt, text, "key too long");
            memcpy(t->key, p + 4, len - 4);
            have_key = true;
        } else if (len > 7 && !strncmp(p, "format=", 7)) {
            if (have_format) return bad(err, err_size, opt, text, "format= given twice");
            const char *f = p + 7;
            size_t flen = len - 7;
            if (flen == 3 && !strncmp(f, "csv", 3))
                t->format = PRS_SIDE_CSV;
            else if (flen == 3 && !strncmp(f, "tsv", 3))
                t->format = PRS_SIDE_TSV;
            else if (flen == 5 && !strncmp(f, "jsonl", 5))
                t->format = PRS_SIDE_JSONL;
            else
                return bad(err, err_size, opt, text, "format must be csv, tsv or jsonl");
            have_format = true;
        } else if (len == 4 && !strncmp(p, "key=", 4)) {
            return bad(err, err_size, opt, text, "key= needs a column name");
        } else {
            return bad(err, err_size, opt, text,
                       "unknown sub-option (expected key=COLUMN or format=csv|tsv|jsonl)");
        }
        p = end ? end : p + len;
    }
    if (!have_format) {
        if (ends_with(t->path, ".tsv") || ends_with(t->path, ".tab"))
            t->format = PRS_SIDE_TSV;
        else if (ends_with(t->path, ".jsonl") || ends_with(t->path, ".ndjson"))
            t->format = PRS_SIDE_JSONL;
        else
            t->format = PRS_SIDE_CSV;
    }
    return 0;
}

int prs_side_parse_env(const char *text, char *err, size_t err_size) {
    const char *eq = strchr(text, '=');
    if (!eq) return bad(err, err_size, "--env", text, "expected K=V");
    if (eq == text) return bad(err, err_size, "--env", text, "the name K is empty");
    return 0;
}

static bool name_taken(const prs_side_config *sc, const char *name) {
    for (uint32_t i = 0; i < sc->input_count; i++)
        if (!strcmp(sc->inputs[i].name, name)) return true;
    for (uint32_t i = 0; i < sc->table_count; i++)
        if (!strcmp(sc->tables[i].name, name)) return true;
    return false;
}

static int resolve(char *path, size_t size, const char *opt, const char *name, char *err,
                   size_t err_size) {
    char abs[PATH_MAX];
    if (!realpath(path, abs)) {
        int e = errno;
        snprintf(err, err_size, "%s %s=%s: %s", opt, name, path, strerror(e));
        return -e;
    }
    snprintf(path, size, "%s", abs);
    return 0;
}

int prs_side_config_build(prs_side_config *sc, const char *const *inputs, uint32_t input_count,
                          const char *const *tables, uint32_t table_count, char *err,
                          size_t err_size) {
    /* Only the counts: nothing reads an entry past them, and clearing all of *sc (540 KiB
     * of paths) would make every job's pages resident, side inputs or none. */
    sc->input_count = 0;
    sc->table_count = 0;
    if (input_count > PRS_SIDE_MAX || table_count > PRS_SIDE_MAX) {
        snprintf(err, err_size, "at most %u --side-input and %u --side-table", PRS_SIDE_MAX,
                 PRS_SIDE_MAX);
        return -EINVAL;
    }
    for (uint32_t i = 0; i < input_count; i++) {
        prs_side_input in;
        int rc = prs_side_parse_input(inputs[i], &in, err, err_size);
        if (rc) return rc;
        if (name_taken(sc, in.name))
            return bad(err, err_size, "--side-input", inputs[i], "NAME given twice");
        rc = resolve(in.path, sizeof(in.path), "--side-input", in.name, err, err_size);
        if (rc) return rc;
        sc->inputs[sc->input_count++] = in;
    }
    for (uint32_t i = 0; i < table_count; i++) {
        prs_side_table t;
        int rc = prs_side_parse_table(tables[i], &t, err, err_size);
        if (rc) return rc;
        if (name_taken(sc, t.name))
            return bad(err, err_size, "--side-table", tables[i], "NAME given twice");
        rc = resolve(t.path, sizeof(t.path), "--side-table", t.name, err, err_size);
        if (rc) return rc;
        sc->tables[sc->table_count++] = t;
    }
    return 0;
}

const char *prs_side_input_path(const prs_side_config *sc, const char *name) {
    for (uint32_t i = 0; i < sc->input_count; i++)
        if (!strcmp(sc->inputs[i].name, name)) return sc->inputs[i].path;
    return NULL;
}

char **prs_side_substitute(const prs_side_config *sc, int argc, char *const *argv) {
    char **out = calloc((size_t)(argc > 0 ? argc : 0) + 1, sizeof(char *));
    if (!out) return NULL;
    for (int i = 0; i < argc; i++) {
        const char *path = i > 0 ? prs_side_input_path(sc, argv[i]) : NULL;
        out[i] = path ? (char *)(uintptr_t)path : argv[i];
    }
    return out;
}

const char *prs_side_format_name(enum prs_side_format f) {
    switch (f) {
    case PRS_SIDE_CSV:
        return "csv";
    case PRS_SIDE_TSV:
        return "tsv";
    case PRS_SIDE_JSONL:
        return "jsonl";
    }
    return "?";
}

int prs_side_apply_env(const char *const *env, uint32_t count, char *err, size_t err_size) {
    for (uint32_t i = 0; i < count; i++) {
        const char *eq = strchr(env[i], '=');
        char name[256];
        if (!eq) return bad(err, err_size, "--env", env[i], "expected K=V");
        if ((size_t)(eq - env[i]) >= sizeof(name))
            return bad(err, err_size, "--env", env[i], "the name is too long");
        snprintf(name, sizeof(name), "%.*s", (int)(eq - env[i]), env[i]);
        if (setenv(name, eq + 1, 1) != 0)
            return bad(err, err_size, "--env", env[i], strerror(errno));
    }
    return 0;
}

static int load_row(void *arg, const char *key, size_t key_len, const char *row, size_t row_len) {
    return prs_sidedb_load_add(arg, key, key_len, row, row_len);
}

/* Scans the mapped file into a new load and finishes it. */
static int load_rows(prs_sidedb_load *load, const prs_side_table *t, const char *data, size_t size,
                     prs_sidedb_load_info *info, char *err, size_t err_size) {
    const char *header;
    size_t header_len;
    int rc = prs_side_scan(t, data, size, load_row, load, &header, &header_len, err, err_size);
    if (rc) {
        prs_sidedb_load_abort(load);
        if (rc == -EINVAL) return rc; /* err already says what and where */
    } else {
        prs_sidedb_load_header(load, header, header_len);
        rc = prs_sidedb_load_finish(load, info);
        if (rc == 0) return 0;
    }
    if (rc == -EFBIG) {
        snprintf(err, err_size,
                 "--side-table %s=%s: too big (a record over ~500 MiB, LMDB's write-transaction "
                 "limit, over 3G rows, or over the 256 GiB map)",
                 t->name, t->path);
    } else {
        snprintf(err, err_size, "--side-table %s=%s: cannot store it: %s", t->name, t->path,
                 strerror(-rc));
    }
    return rc;
}

/* Begins a load of the mapped file: 0 and *load, PRS_SIDEDB_REUSED, or an error in err. */
static int load_begin(prs_sidedb *db, const prs_side_table *t, const char *data,
                      const struct stat *st, prs_sidedb_load **load, prs_sidedb_load_info *info,
                      char *err, size_t err_size) {
    prs_sidedb_source src = {.size_bytes = (uint64_t)st->st_size,
                             .mtime_ns =
                                 (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec,
                             .content_hash = XXH3_64bits(data, (size_t)st->st_size),
                             .format = (uint32_t)t->format,
                             .key = t->key[0] ? t->key : NULL};
    prs_sidedb_stale old;
    int rc = prs_sidedb_load_begin(db, t->name, &src, load, info, &old);
    if (rc == -ESTALE) {
        snprintf(err, err_size,
                 "--side-table %s=%s: the file changed since the job loaded it (%s%llu bytes, "
                 "now %llu; content hash %016llx, now %016llx): a resumed job must not mix "
                 "two tables; restore the file, or use --fresh to start the job over",
                 t->name, t->path, old.spec_differs ? "format or key differ; " : "",
                 (unsigned long long)old.size_bytes, (unsigned long long)src.size_bytes,
                 (unsigned long long)old.content_hash, (unsigned long long)src.content_hash);
    } else if (rc == -EINVAL) {
        snprintf(err, err_size, "--side-table %s=%s: more than %u side tables", t->name, t->path,
                 PRS_SIDE_MAX);
    } else if (rc < 0) {
        snprintf(err, err_size, "--side-table %s=%s: cannot start the load: %s", t->name, t->path,
                 strerror(-rc));
    }
    return rc;
}

int prs_side_table_load(prs_sidedb *db, const prs_side_table *t, prs_sidedb_load_info *info,
                        char *err, size_t err_size) {
    memset(info, 0, sizeof(*info));
    uint64_t t0 = prs_mono_ns();
    /* O_NONBLOCK: a FIFO is refused below, not waited on in open. */
    int fd = open(t->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        snprintf(err, err_size, "--side-table %s=%s: %s", t->name, t->path, strerror(e));
        return -e;
    }
    int rc;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        snprintf(err, err_size, "--side-table %s=%s: %s", t->name, t->path, strerror(-rc));
        goto close_fd;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
        snprintf(err, err_size, "--side-table %s=%s: not a regular file", t->name, t->path);
        goto close_fd;
    }
    size_t size = (size_t)st.st_size;
    void *map = NULL;
    if (size) {
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            rc = -errno;
            snprintf(err, err_size, "--side-table %s=%s: cannot map it: %s", t->name, t->path,
                     strerror(-rc));
            goto close_fd;
        }
        madvise(map, size, MADV_SEQUENTIAL);
    }
    const char *data = map ? map : "";
    prs_sidedb_load *load;
    rc = load_begin(db, t, data, &st, &load, info, err, err_size);
    if (rc == 0) rc = load_rows(load, t, data, size, info, err, err_size);
    if (rc == PRS_SIDEDB_REUSED) rc = 0;
    if (rc == 0) info->load_ns = prs_mono_ns() - t0;
    if (map) munmap(map, size);
close_fd:
    close(fd);
    return rc;
}

/* ---- loading a job's tables ------------------------------------------------------ */

/* The exit code of a table that cannot be loaded: a changed or bad file or option is the
 * user's to fix, memory and disk the environment's, the rest is the input. */
static int table_exit_code(int rc) {
    if (rc == -ESTALE || rc == -EINVAL || rc == -EFBIG) return PRS_EXIT_USAGE;
    if (rc == -ENOMEM || rc == -ENOSPC || rc == -EIO) return PRS_EXIT_INTERNAL;
    return PRS_EXIT_INPUT;
}

static void table_log(prs_joblog *log, const prs_side_table *t, const prs_sidedb_load_info *info) {
    prs_joblog_master(log, "side table %s: %s %s (%s): %llu rows, %llu bytes stored in %.3f s",
                      t->name, info->reused ? "reusing the load of" : "loaded", t->path,
                      prs_side_format_name(t->format), (unsigned long long)info->rows,
                      (unsigned long long)info->stored_bytes, (double)info->load_ns / 1e9);
    if (info->duplicates) {
        prs_joblog_master(log,
                          "warning: side table %s: %llu duplicate key(s) ignored: the first "
                          "row of a key wins",
                          t->name, (unsigned long long)info->duplicates);
    }
    if (info->empty_keys) {
        prs_joblog_master(log, "warning: side table %s: %llu row(s) with an empty key skipped",
                          t->name, (unsigned long long)info->empty_keys);
    }
}

int prs_side_load(const prs_side_config *sc, const char *state_dir, prs_joblog *log,
                  prs_sidedb **db, char *err, size_t err_size) {
    if (*db || sc->table_count == 0) return 0;
    char dir[PATH_MAX + 32];
    snprintf(dir, sizeof(dir), "%s/side", state_dir);
    int mrc = prs_mkdir_p(dir);
    if (mrc) {
        snprintf(err, err_size, "%s: %s", dir, strerror(-mrc));
        return PRS_EXIT_USAGE;
    }
    char why[PATH_MAX + 1024];
    int rc = prs_sidedb_open(db, dir, sc->table_count, why, sizeof(why));
    if (rc) {
        *db = NULL;
        snprintf(err, err_size, "side tables: %s", why);
        return PRS_EXIT_INTERNAL;
    }
    for (uint32_t i = 0; i < sc->table_count; i++) {
        const prs_side_table *t = &sc->tables[i];
        prs_sidedb_load_info info;
        rc = prs_side_table_load(*db, t, &info, err, err_size);
        if (rc) return table_exit_code(rc);
        table_log(log, t, &info);
    }
    return 0;
}
