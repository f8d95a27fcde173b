/* errlog.c -- see errlog.h. */
#include "errlog.h"

#include "clock.h"
#include "errgroup.h"
#include "fs.h"
#include "symbolize.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ERRLOG_REWRITE_NS 1000000000ull

struct prs_errlog {
    char dir[4096]; /* OUT/logs */
    char node[64];
    char error_dir[4200];
    uint64_t error_seq;
    uint64_t first_seq; /* the lowest-numbered error file: the first error */
    char first_file[96];
    uint64_t errors_unfiled;
    prs_errgroups *groups;
    bool errors_dirty;
    uint64_t errors_written_ns;
};

/* "2026-11-29T03:29:33.123Z" for a CLOCK_REALTIME time. */
static void stamp_plain(uint64_t ns, char *buf, size_t size) {
    time_t sec = (time_t)(ns / 1000000000ull);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char prefix[32];
    strftime(prefix, sizeof(prefix), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%03uZ", prefix, (unsigned)(ns % 1000000000ull / 1000000u));
}

/* Splits "batch B attempt A item I: message" into its parts; other lines (an init()
 * failure, ...) are all message. */
static void error_parse(const char *line, unsigned long long *batch, unsigned *attempt, char *item,
                        size_t item_size, const char **message) {
    *batch = 0;
    *attempt = 0;
    item[0] = 0;
    *message = line;
    int off = 0;
    if (sscanf(line, "batch %llu attempt %u item %n", batch, attempt, &off) != 2 || off == 0) {
        *batch = 0;
        return;
    }
    const char *rest = line + off;
    const char *colon = strstr(rest, ": ");
    if (!colon) return;
    snprintf(item, item_size, "%.*s", (int)(colon - rest), rest);
    *message = colon + 2;
}

/* The crash handler's evidence for a batch: crash-<pid>-w<w>-b<batch>.txt. */
static bool crash_file_for(prs_errlog *jl, unsigned long long batch, char *name, size_t size) {
    DIR *d = opendir(jl->error_dir);
    if (!d) return false;
    char suffix[48];
    snprintf(suffix, sizeof(suffix), "-b%llu.txt", batch);
    size_t sl = strlen(suffix);
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        size_t nl = strlen(e->d_name);
        if (strncmp(e->d_name, "crash-", 6) == 0 && nl > sl &&
            strcmp(e->d_name + nl - sl, suffix) == 0) {
            snprintf(name, size, "%s", e->d_name);
            found = true;
        }
    }
    closedir(d);
    return found;
}

/* A hosted script's (Python's) traceback for that try: traceback-b<batch>-a<attempt>.txt,
 * written by the worker before it reported the error (see host.c). */
static bool traceback_file_for(prs_errlog *jl, unsigned long long batch, unsigned attempt,
                               char *name, size_t size) {
    char path[4600];
    snprintf(name, size, "traceback-b%llu-a%u.txt", batch, attempt);
    snprintf(path, sizeof(path), "%s/%s", jl->error_dir, name);
    return access(path, F_OK) == 0;
}

static void error_file(prs_errlog *jl, const char *line, char *name, size_t name_size) {
    unsigned long long batch;
    unsigned attempt;
    char item[1024];
    const char *message;
    error_parse(line, &batch, &attempt, item, sizeof(item), &message);
    name[0] = 0;
    enum prs_err_kind kind = prs_errgroups_seen(jl->groups, batch, attempt, item, message);
    if (kind == PRS_ERR_DUPLICATE) return; /* a redone batch said it already: filed once */
    if (jl->error_seq >= PRS_ERRLOG_FILES_MAX) {
        jl->errors_unfiled++;
    } else {
        jl->error_seq++;
        char fname[96], path[4400];
        if (batch || item[0]) {
            snprintf(fname, sizeof(fname), "error-%06llu-batch%llu-attempt%u.txt",
                     (unsigned long long)jl->error_seq, batch, attempt);
        } else {
            snprintf(fname, sizeof(fname), "error-%06llu.txt", (unsigned long long)jl->error_seq);
        }
        /* Written whole, then renamed: a crash meanwhile leaves no half file behind. */
        char tmp[4400];
        snprintf(path, sizeof(path), "%s/%s", jl->error_dir, fname);
        snprintf(tmp, sizeof(tmp), "%s/.error.tmp", jl->error_dir);
        FILE *f = prs_fopen_nofollow(tmp, "w");
        if (f) {
            char ts[48];
            stamp_plain(prs_wall_ns(), ts, sizeof(ts));
            fprintf(f, "time: %s\nnode: %s\n", ts, jl->node);
            if (batch || item[0]) {
                fprintf(f, "batch: %llu\nattempt: %u\nitem: %s\n", batch, attempt, item);
            }
            fprintf(f, "message: %s\n", message);
            if (kind == PRS_ERR_REPEATED)
                fputs("repeated: yes (the same error on an earlier try of this mini-batch)\n", f);
            char crash[256];
            if (batch && strstr(message, "crashed") &&
                crash_file_for(jl, batch, crash, sizeof(crash))) {
                fprintf(f, "stack trace: logs/user/error/%s/%s\n", jl->node, crash);
            } else if (batch && traceback_file_for(jl, batch, attempt, crash, sizeof(crash))) {
                fprintf(f, "stack trace: logs/user/error/%s/%s\n", jl->node, crash);
            } else {
                fprintf(
                    f,
                    "stack trace: none (the entry script reported this error; it did not crash)\n");
            }
            bool ok = fclose(f) == 0 && rename(tmp, path) == 0;
            if (ok) snprintf(name, name_size, "%s", fname);
            if (ok && !jl->first_file[0]) {
                snprintf(jl->first_file, sizeof(jl->first_file), "%s", fname);
                jl->first_seq = jl->error_seq;
            }
        }
    }
    prs_errgroups_count(jl->groups, item, message, line, name, kind == PRS_ERR_REPEATED);
    jl->errors_dirty = true;
}

/* One error file of an earlier life, counted again (and remembered: a redone try's
 * errors are then recognised); an unreadable file is skipped. */
static void error_reload(prs_errlog *jl, const char *fname, unsigned long long seq) {
    char path[4600], buf[2048];
    if (snprintf(path, sizeof(path), "%s/%s", jl->error_dir, fname) >= (int)sizeof(path)) return;
    FILE *f = fopen(path, "re");
    if (!f) return;
    char message[2048] = "", item[2048] = "";
    unsigned long long batch = 0;
    unsigned attempt = 0;
    while (fgets(buf, sizeof(buf), f)) {
        buf[strcspn(buf, "\n")] = 0;
        if (strncmp(buf, "message: ", 9) == 0) snprintf(message, sizeof(message), "%s", buf + 9);
        if (strncmp(buf, "item: ", 6) == 0) snprintf(item, sizeof(item), "%s", buf + 6);
        sscanf(buf, "batch: %llu", &batch);
        sscanf(buf, "attempt: %u", &attempt);
    }
    fclose(f);
    if (!message[0]) return; /* not an error file of ours */
    char line[4200];
    if (item[0]) {
        snprintf(line, sizeof(line), "batch %llu attempt %u item %s: %s", batch, attempt, item,
                 message);
    } else {
        snprintf(line, sizeof(line), "%s", message);
    }
    enum prs_err_kind kind = prs_errgroups_seen(jl->groups, batch, attempt, item, message);
    prs_errgroups_count(jl->groups, item, message, line, fname, kind == PRS_ERR_REPEATED);
    if (seq > jl->error_seq) jl->error_seq = seq;
    if (!jl->first_file[0] || seq < jl->first_seq) {
        snprintf(jl->first_file, sizeof(jl->first_file), "%.95s", fname);
        jl->first_seq = seq;
    }
}

typedef struct jl_seq_name {
    unsigned long long seq;
    char name[96];
} jl_seq_name;

static int by_seq(const void *a, const void *b) {
    const jl_seq_name *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* A restarted runtime (or a resumed job) counts what the earlier lives filed, in the order
 * they were filed (which try came first decides what is a repeat). */
static void errors_load(prs_errlog *jl) {
    DIR *d = opendir(jl->error_dir);
    if (!d) return;
    jl_seq_name *files = calloc(PRS_ERRLOG_FILES_MAX, sizeof(*files));
    size_t n = 0;
    struct dirent *e;
    while (files && n < PRS_ERRLOG_FILES_MAX && (e = readdir(d))) {
        unsigned long long seq;
        size_t len = strlen(e->d_name);
        if (sscanf(e->d_name, "error-%llu", &seq) != 1 || len >= sizeof(files[n].name)) continue;
        files[n].seq = seq;
        memcpy(files[n].name, e->d_name,
               len + 1); /* fits: checked (-Os cannot see it for snprintf) */
        n++;
    }
    closedir(d);
    if (!files) return;
    qsort(files, n, sizeof(*files), by_seq);
    for (size_t i = 0; i < n; i++)
        error_reload(jl, files[i].name, files[i].seq);
    free(files);
}

static void errors_write(prs_errlog *jl) {
    char tmp[4200], path[4200];
    snprintf(tmp, sizeof(tmp), "%s/user/.error.txt.tmp", jl->dir);
    snprintf(path, sizeof(path), "%s/user/error.txt", jl->dir);
    FILE *f = prs_fopen_nofollow(tmp, "w");
    if (!f) return;
    prs_errgroups_write(jl->groups, f, jl->node, jl->errors_unfiled, PRS_ERRLOG_FILES_MAX);
    if (fclose(f) != 0 || rename(tmp, path) != 0) return;
    jl->errors_dirty = false;
    jl->errors_written_ns = prs_mono_ns();
}

void prs_errlog_add(prs_errlog *jl, const char *text, size_t len) {
    char line[2048];
    while (len > 0) {
        const char *nl = memchr(text, '\n', len);
        size_t n = nl ? (size_t)(nl - text) : len;
        snprintf(line, sizeof(line), "%.*s", (int)PRS_MIN(n, sizeof(line) - 1), text);
        char name[96];
        error_file(jl, line, name, sizeof(name));
        size_t step = nl ? n + 1 : n;
        text += step;
        len -= step;
    }
    if (jl->errors_dirty && prs_mono_ns() - jl->errors_written_ns >= ERRLOG_REWRITE_NS)
        errors_write(jl);
}

void prs_errlog_sync(prs_errlog *jl) {
    if (jl && jl->errors_dirty) errors_write(jl);
}

int prs_errlog_open(prs_errlog **out, const char *logs_dir, const char *node, char *err,
                    size_t err_size) {
    prs_errlog *e = calloc(1, sizeof(*e));
    if (!e) return -ENOMEM;
    int rc = prs_errgroups_create(&e->groups);
    if (rc) {
        free(e);
        snprintf(err, err_size, "error groups: %s", strerror(-rc));
        return rc;
    }
    snprintf(e->dir, sizeof(e->dir), "%s", logs_dir);
    snprintf(e->node, sizeof(e->node), "%s", node);
    snprintf(e->error_dir, sizeof(e->error_dir), "%s/user/error/%s", logs_dir, node);
    rc = prs_mkdir_p(e->error_dir);
    if (rc) {
        snprintf(err, err_size, "%s: %s", e->error_dir, strerror(-rc));
        prs_errlog_close(e);
        return rc;
    }
    /* Crashes the supervisor did not symbolize (an embedded job, a killed supervisor). */
    prs_symbolize_crash_dir(e->error_dir, PRS_ERRLOG_FILES_MAX);
    errors_load(e);
    *out = e;
    return 0;
}

void prs_errlog_close(prs_errlog *e) {
    if (!e) return;
    if (e->errors_dirty) errors_write(e);
    prs_errgroups_destroy(e->groups);
    free(e);
}

const char *prs_errlog_first_file(const prs_errlog *e) {
    return e->first_file;
}
