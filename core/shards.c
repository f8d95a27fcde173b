/* shards.c -- see shards.h. */
#include "shards.h"

#include "prs.h"
#include "queue.h"
#include "status.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHARDS_CONFIG_BYTES 16384u
#define SHARDS_RESULT_BYTES 1100u
#define SHARDS_LISTED_MAX 20u /* shards named in one message at most */

enum shard_state {
    SHARD_MISSING = 0, /* no OUT/shards/K-of-N: never started */
    SHARD_NOT_CREATED, /* started, its job not (yet) created */
    SHARD_RUNNING,     /* a prs holds its lock */
    SHARD_STOPPED,     /* no result: resumable */
    SHARD_FAILED,      /* a result other than 0 or 1 (init failed, ...) */
    SHARD_FINISHED,    /* result 0 or 1: its verdict is known */
};

static const char *const shard_state_text[] = {
    "missing (never started)", "not created yet", "running",
    "stopped (resumable)",     "failed",          "finished",
};

typedef struct shard_info {
    enum shard_state state;
    int exit_code;
    prs_queue_counts counts;
    uint64_t job_batches; /* from its "shard" record: the whole job's batch count */
    char result[256];     /* its result message */
    bool same_job;        /* identity and input equal to the reference shard's */
    char differs[256];    /* else: what differs */
} shard_info;

struct prs_shards {
    char out_dir[PATH_MAX];
    uint32_t count;
    shard_info *info;
    int32_t reference;                /* the first created shard: the job's identity */
    char config[SHARDS_CONFIG_BYTES]; /* its identity without the shard= line */
    char shard_meta[512];             /* its "shard" record without the shard= line */
};

/* Removes the line "shard=..." (which legitimately differs between shards) in place. */
static void drop_shard_line(char *text) {
    char *line = strncmp(text, "shard=", 6) == 0 ? text : strstr(text, "\nshard=");
    if (!line) return;
    if (line != text) line++;
    char *end = strchr(line, '\n');
    memmove(line, end ? end + 1 : line + strlen(line), strlen(end ? end + 1 : "") + 1);
}

static void meta_text(prs_queue *q, const char *key, char *buf, size_t cap) {
    size_t len = 0;
    if (prs_queue_meta_get(q, key, buf, cap - 1, &len) != 0) len = 0;
    buf[len] = 0;
}

/* The first line that differs, for a message. */
static void first_difference(const char *a, const char *b, char *out, size_t size) {
    while (*a && *b) {
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
        if (la != lb || memcmp(a, b, la) != 0) {
            snprintf(out, size, "'%.*s' vs '%.*s'", (int)PRS_MIN(la, 100), a, (int)PRS_MIN(lb, 100),
                     b);
            return;
        }
        a += la + (a[la] == '\n');
        b += lb + (b[lb] == '\n');
    }
    snprintf(out, size, "'%.100s' vs '%.100s'", *a ? a : "(end)", *b ? b : "(end)");
}

static int shard_read(prs_shards *s, uint32_t k, char *err, size_t err_size) {
    shard_info *in = &s->info[k];
    char dir[PATH_MAX + 64], state_dir[PATH_MAX + 80];
    snprintf(dir, sizeof(dir), "%s/shards/%u-of-%u", s->out_dir, k, s->count);
    snprintf(state_dir, sizeof(state_dir), "%s/.prs", dir);
    struct stat st;
    if (stat(dir, &st) != 0) return 0; /* SHARD_MISSING */
    in->state = SHARD_NOT_CREATED;
    bool running = prs_status_running(state_dir);
    prs_queue *q;
    char qerr[PATH_MAX + 256];
    int rc = prs_queue_open_readonly(&q, state_dir, qerr, sizeof(qerr));
    if (rc == -ENOENT || (rc == 0 && !prs_queue_created(q))) {
        if (rc == 0) prs_queue_close(q);
        if (running) in->state = SHARD_RUNNING;
        return 0;
    }
    if (rc) {
        snprintf(err, err_size, "%s", qerr);
        return rc;
    }
    rc = prs_queue_counts_get(q, &in->counts);
    if (rc) {
        snprintf(err, err_size, "%s/data.mdb: job counters unreadable: %s", state_dir,
                 strerror(-rc));
        goto close_queue;
    }
    char result[SHARDS_RESULT_BYTES], meta[512];
    char config[SHARDS_CONFIG_BYTES];
    meta_text(q, "result", result, sizeof(result));
    meta_text(q, "shard", meta, sizeof(meta));
    meta_text(q, "config", config, sizeof(config));
    char *jb = strstr(meta, "job_batches=");
    in->job_batches = jb ? strtoull(jb + 12, NULL, 10) : 0;
    drop_shard_line(meta);
    drop_shard_line(config);
    if (result[0]) {
        in->exit_code = atoi(result);
        const char *msg = strchr(result, ' ');
        snprintf(in->result, sizeof(in->result), "%.250s", msg ? msg + 1 : result);
        bool verdict = in->exit_code == PRS_EXIT_OK || in->exit_code == PRS_EXIT_THRESHOLD;
        in->state = verdict ? SHARD_FINISHED : SHARD_FAILED;
    } else {
        in->state = running ? SHARD_RUNNING : SHARD_STOPPED;
    }
    if (s->reference < 0) {
        s->reference = (int32_t)k;
        snprintf(s->config, sizeof(s->config), "%s", config);
        snprintf(s->shard_meta, sizeof(s->shard_meta), "%s", meta);
    }
    in->same_job = true;
    if (strcmp(config, s->config) != 0) {
        in->same_job = false;
        first_difference(s->config, config, in->differs, sizeof(in->differs));
    } else if (strcmp(meta, s->shard_meta) != 0) {
        in->same_job = false;
        first_difference(s->shard_meta, meta, in->differs, sizeof(in->differs));
        snprintf(in->differs + strlen(in->differs), sizeof(in->differs) - strlen(in->differs),
                 " (the input changed between shard starts)");
    }
close_queue:
    prs_queue_close(q);
    return rc;
}

/* The one N of the shard directories OUT/shards/K-of-N; -EINVAL for two. */
static int shards_count(const char *out_dir, uint32_t *count, char *err, size_t err_size) {
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/shards", out_dir);
    DIR *d = opendir(path);
    if (!d) {
        snprintf(err, err_size, "%s: no sharded job here (no shards/ directory)", out_dir);
        return -ENOENT;
    }
    struct dirent *e;
    uint32_t n = 0;
    char first[64] = "";
    int rc = 0;
    while ((e = readdir(d))) {
        prs_shard sh;
        if (prs_shard_dir_parse(e->d_name, &sh) != 0) continue;
        if (n && sh.count != n) {
            snprintf(err, err_size,
                     "%s holds shards of two different splits (%s and %s): one job has one "
                     "shard count; remove the shards of the wrong one",
                     path, first, e->d_name);
            rc = -EINVAL;
            break;
        }
        n = sh.count;
        snprintf(first, sizeof(first), "%.60s", e->d_name);
    }
    closedir(d);
    if (rc == 0 && n == 0) {
        snprintf(err, err_size, "%s: no shard directories (K-of-N) in it", path);
        rc = -ENOENT;
    }
    *count = n;
    return rc;
}

int prs_shards_open(prs_shards **out, const char *out_dir, char *err, size_t err_size) {
    char state[PATH_MAX + 16];
    snprintf(state, sizeof(state), "%s/.prs", out_dir);
    if (access(state, F_OK) == 0) {
        snprintf(err, err_size,
                 "%s holds a single-machine job (%s): a sharded job needs an OUT of its own",
                 out_dir, state);
        return -EINVAL;
    }
    uint32_t n;
    int rc = shards_count(out_dir, &n, err, err_size);
    if (rc) return rc;
    prs_shards *s = calloc(1, sizeof(*s));
    if (s) s->info = calloc(n, sizeof(*s->info));
    if (!s || !s->info) {
        free(s);
        snprintf(err, err_size, "out of memory");
        return -ENOMEM;
    }
    snprintf(s->out_dir, sizeof(s->out_dir), "%s", out_dir);
    s->count = n;
    s->reference = -1;
    for (uint32_t k = 0; k < n; k++) {
        rc = shard_read(s, k, err, err_size);
        if (rc) {
            prs_shards_close(s);
            return rc;
        }
    }
    *out = s;
    return 0;
}

void prs_shards_close(prs_shards *s) {
    if (!s) return;
    free(s->info);
    free(s);
}

typedef struct shards_sum {
    prs_queue_counts c;
    uint64_t job_batches;
    uint32_t by_state[SHARD_FINISHED + 1];
    uint32_t other_jobs;
} shards_sum;

static void shards_add(const prs_shards *s, shards_sum *sum) {
    memset(sum, 0, sizeof(*sum));
    for (uint32_t k = 0; k < s->count; k++) {
        const shard_info *in = &s->info[k];
        sum->by_state[in->state]++;
        if (in->state >= SHARD_RUNNING && !in->same_job) sum->other_jobs++;
        sum->c.total_batches += in->counts.total_batches;
        sum->c.total_items += in->counts.total_items;
        sum->c.done_batches += in->counts.done_batches;
        sum->c.failed_batches += in->counts.failed_batches;
        sum->c.succeeded_items += in->counts.succeeded_items;
        sum->c.failed_items += in->counts.failed_items;
        sum->c.output_bytes += in->counts.output_bytes;
        if (in->job_batches) sum->job_batches = in->job_batches;
    }
}

void prs_shards_print(const prs_shards *s, FILE *f) {
    shards_sum sum;
    shards_add(s, &sum);
    fprintf(f,
            "sharded job in %s: %u shards; %u finished, %u running, %u resumable, %u failed, "
            "%u not started\n",
            s->out_dir, s->count, sum.by_state[SHARD_FINISHED], sum.by_state[SHARD_RUNNING],
            sum.by_state[SHARD_STOPPED] + sum.by_state[SHARD_NOT_CREATED],
            sum.by_state[SHARD_FAILED], sum.by_state[SHARD_MISSING]);
    for (uint32_t k = 0; k < s->count; k++) {
        const shard_info *in = &s->info[k];
        const prs_queue_counts *c = &in->counts;
        fprintf(f, "  shard %u-of-%u: %s", k, s->count, shard_state_text[in->state]);
        if (in->state == SHARD_FINISHED || in->state == SHARD_FAILED)
            fprintf(f, " (exit %d)", in->exit_code);
        if (in->state >= SHARD_RUNNING) {
            fprintf(f, ": mini-batches %llu done, %llu failed of %llu; items %llu, %llu failed",
                    (unsigned long long)c->done_batches, (unsigned long long)c->failed_batches,
                    (unsigned long long)c->total_batches, (unsigned long long)c->total_items,
                    (unsigned long long)c->failed_items);
        }
        fputc('\n', f);
        if (in->state >= SHARD_RUNNING && !in->same_job)
            fprintf(f, "    a different job than shard %d: %s\n", s->reference, in->differs);
    }
    uint64_t pending = sum.c.total_batches - sum.c.done_batches - sum.c.failed_batches;
    fprintf(f,
            "totals: mini-batches %llu of the job's %llu created in shards, done %llu, "
            "failed %llu, pending %llu; items %llu, succeeded %llu, failed %llu\n",
            (unsigned long long)sum.c.total_batches, (unsigned long long)sum.job_batches,
            (unsigned long long)sum.c.done_batches, (unsigned long long)sum.c.failed_batches,
            (unsigned long long)pending, (unsigned long long)sum.c.total_items,
            (unsigned long long)sum.c.succeeded_items, (unsigned long long)sum.c.failed_items);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/logs/overview.txt", s->out_dir);
    bool merged = access(path, F_OK) == 0;
    fprintf(f, "merged: %s\n",
            merged ? "yes (logs/overview.txt; prs merge again after a rerun of a shard)"
            : sum.by_state[SHARD_FINISHED] == s->count ? "no: run prs merge OUT"
                                                       : "no: prs merge OUT once every shard "
                                                         "finished");
}

/* ---- merge ------------------------------------------------------------------------------- */

/* The value of "key=" in the identity text, or def. */
static int64_t config_int(const char *config, const char *key, int64_t def) {
    char pat[64];
    snprintf(pat, sizeof(pat), "\n%s=", key);
    const char *p = strstr(config, pat);
    return p ? strtoll(p + strlen(pat), NULL, 10) : def;
}

static void config_str(const char *config, const char *key, char *out, size_t size) {
    char pat[64];
    snprintf(pat, sizeof(pat), "\n%s=", key);
    const char *p = strstr(config, pat);
    out[0] = 0;
    if (p) snprintf(out, size, "%.*s", (int)strcspn(p + strlen(pat), "\n"), p + strlen(pat));
}

/* Writes path through path.tmp: written, synced, renamed. */
static int write_atomic(const char *path, const char *text, size_t len, char *err,
                        size_t err_size) {
    char tmp[PATH_MAX + 80];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) goto fail;
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) goto close_fd;
        off += (size_t)n;
    }
    if (fsync(fd) != 0) goto close_fd;
    if (close(fd) != 0) goto fail;
    if (rename(tmp, path) != 0) goto fail;
    return 0;
close_fd:
    close(fd);
fail:
    snprintf(err, err_size, "%.4000s: %s", tmp, strerror(errno));
    return -errno;
}

/* Appends the committed bytes of one shard's output file to fd. */
static int copy_rows(int fd, const char *src, uint64_t bytes, char *err, size_t err_size) {
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        snprintf(err, err_size, "%.4000s: %s", src, strerror(errno));
        return -errno;
    }
    int rc = 0;
    uint64_t left = bytes;
    while (left > 0) {
        ssize_t n = copy_file_range(in, NULL, fd, NULL, (size_t)PRS_MIN(left, 1u << 30), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            rc = n < 0 ? -errno : -EIO;
            snprintf(err, err_size, "%.4000s: %s", src,
                     n < 0 ? strerror(errno)
                           : "shorter than the length its job state committed (corrupt?)");
            break;
        }
        left -= (uint64_t)n;
    }
    close(in);
    return rc;
}

static int merge_rows(const prs_shards *s, const char *file, char *err, size_t err_size) {
    char path[PATH_MAX + 300], tmp[PATH_MAX + 310], src[PATH_MAX + 400];
    snprintf(path, sizeof(path), "%s/%s", s->out_dir, file);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, err_size, "%.4000s: %s", tmp, strerror(errno));
        return -errno;
    }
    int rc = 0;
    for (uint32_t k = 0; k < s->count && rc == 0; k++) {
        snprintf(src, sizeof(src), "%s/shards/%u-of-%u/%s", s->out_dir, k, s->count, file);
        rc = copy_rows(fd, src, s->info[k].counts.output_bytes, err, err_size);
    }
    if (rc == 0 && fsync(fd) != 0) rc = -errno;
    if (close(fd) != 0 && rc == 0) rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0) rc = -errno;
    if (rc && !err[0]) snprintf(err, err_size, "%.4000s: %s", tmp, strerror(-rc));
    return rc;
}

/* error.txt groups, summed over the shards by message. */
typedef struct err_group {
    char *message, *first, *file;
    uint64_t count;
} err_group;

typedef struct err_groups {
    err_group g[256];
    uint32_t len;
    uint64_t total, other;
} err_groups;

static void groups_add(err_groups *gs, uint32_t k, uint32_t n, const char *msg, uint64_t count,
                       const char *first, const char *file) {
    gs->total += count;
    for (uint32_t i = 0; i < gs->len; i++) {
        if (strcmp(gs->g[i].message, msg) == 0) {
            gs->g[i].count += count;
            return;
        }
    }
    if (gs->len == PRS_ARRAY_LEN(gs->g)) {
        gs->other += count;
        return;
    }
    err_group *g = &gs->g[gs->len++];
    char buf[4300];
    g->message = strdup(msg);
    snprintf(buf, sizeof(buf), "shard %u-of-%u: %s", k, n, first);
    g->first = strdup(buf);
    snprintf(buf, sizeof(buf), "shards/%u-of-%u/%s", k, n, file);
    g->file = strdup(file[0] ? buf : "");
    g->count = count;
}

/* Reads one shard's logs/user/error.txt (the format joblog.c writes). */
static void groups_read(err_groups *gs, const char *out_dir, uint32_t k, uint32_t n) {
    char path[PATH_MAX + 80], line[4200], msg[4200] = "", first[4200] = "";
    snprintf(path, sizeof(path), "%s/shards/%u-of-%u/logs/user/error.txt", out_dir, k, n);
    FILE *f = fopen(path, "re");
    if (!f) return; /* no errors */
    unsigned long long count = 0;
    bool open_group = false;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = 0;
        int off = 0;
        if (sscanf(line, "[%llu x] %n", &count, &off) == 1 && off) {
            if (open_group) groups_add(gs, k, n, msg, count, first, "");
            snprintf(msg, sizeof(msg), "%s", line + off);
            first[0] = 0;
            open_group = true;
        } else if (open_group && strncmp(line, "  first: ", 9) == 0) {
            snprintf(first, sizeof(first), "%s", line + 9);
        } else if (open_group && strncmp(line, "  file: ", 8) == 0) {
            groups_add(gs, k, n, msg, count, first, line + 8);
            open_group = false;
        }
    }
    fclose(f);
    if (open_group) groups_add(gs, k, n, msg, count, first, "");
}

static int merge_errors(const prs_shards *s, char *err, size_t err_size) {
    err_groups *gs = calloc(1, sizeof(*gs));
    if (!gs) return -ENOMEM;
    for (uint32_t k = 0; k < s->count; k++)
        groups_read(gs, s->out_dir, k, s->count);
    size_t cap = 4096, len = 0;
    for (uint32_t i = 0; i < gs->len; i++)
        cap += strlen(gs->g[i].message) + strlen(gs->g[i].first) + strlen(gs->g[i].file) + 64;
    char *text = malloc(cap);
    int rc = -ENOMEM;
    if (!text) goto free_groups;
    len += (size_t)snprintf(text, cap,
                            "errors: %llu in %u distinct messages, over %u shards; each shard's "
                            "own list: shards/K-of-%u/logs/user/error.txt\n",
                            (unsigned long long)gs->total, gs->len, s->count, s->count);
    for (uint32_t i = 0; i < gs->len; i++) {
        const err_group *g = &gs->g[i];
        len += (size_t)snprintf(text + len, cap - len, "\n[%llu x] %s\n  first: %s\n",
                                (unsigned long long)g->count, g->message, g->first);
        if (g->file[0]) len += (size_t)snprintf(text + len, cap - len, "  file: %s\n", g->file);
    }
    if (gs->other)
        len += (size_t)snprintf(text + len, cap - len, "\n[%llu x] (other messages)\n",
                                (unsigned long long)gs->other);
    char path[PATH_MAX + 40];
    snprintf(path, sizeof(path), "%s/logs/user/error.txt", s->out_dir);
    rc = write_atomic(path, text, len, err, err_size);
    free(text);
free_groups:
    for (uint32_t i = 0; i < gs->len; i++) {
        free(gs->g[i].message);
        free(gs->g[i].first);
        free(gs->g[i].file);
    }
    free(gs);
    return rc;
}

/* The single-machine verdict over the summed counts: sched.c's rules, job-wide. */
static const char *job_verdict(const prs_shards *s, const prs_queue_counts *c) {
    int64_t et = config_int(s->config, "error_threshold", -1);
    int64_t fc = config_int(s->config, "allowed_failed_count", -1);
    int64_t fp = config_int(s->config, "allowed_failed_percent", 100);
    if (et >= 0 && c->failed_items > (uint64_t)et) return "failed items exceeded --error-threshold";
    if (fc >= 0 && c->failed_batches > (uint64_t)fc)
        return "failed mini-batches exceeded --allowed-failed-count";
    if (fp >= 0 && fp < 100 && c->failed_batches * 100 > (uint64_t)fp * c->total_batches)
        return "failed mini-batches exceeded --allowed-failed-percent";
    return NULL;
}

static int merge_overview(const prs_shards *s, const prs_queue_counts *c, const char *why,
                          const char *file, char *err, size_t err_size) {
    size_t cap = 4096 + (size_t)s->count * 400, len = 0;
    char *t = malloc(cap);
    if (!t) return -ENOMEM;
    uint64_t processed = c->done_batches + c->failed_batches;
    len += (size_t)snprintf(
        t, cap,
        "prs job overview (merged by prs merge from %u shards)\n"
        "state: %s\n"
        "mini-batches (tasks): created %llu, processed %llu (succeeded %llu, failed %llu), "
        "remaining %llu\n"
        "items: total %llu, succeeded %llu, failed %llu\n",
        s->count, why ? "FAILED" : "SUCCEEDED", (unsigned long long)c->total_batches,
        (unsigned long long)processed, (unsigned long long)c->done_batches,
        (unsigned long long)c->failed_batches, (unsigned long long)(c->total_batches - processed),
        (unsigned long long)c->total_items, (unsigned long long)c->succeeded_items,
        (unsigned long long)c->failed_items);
    if (file[0])
        len += (size_t)snprintf(t + len, cap - len, "output: %s/%s (%llu bytes)\n", s->out_dir,
                                file, (unsigned long long)c->output_bytes);
    if (why) len += (size_t)snprintf(t + len, cap - len, "failed because: %s\n", why);
    if (c->failed_items)
        len += (size_t)snprintf(t + len, cap - len,
                                "where to look: logs/user/error.txt (every error, by shard)\n");
    if (processed > 0 && c->succeeded_items == 0 && c->total_batches == processed)
        len += (size_t)snprintf(t + len, cap - len,
                                "warning: no item succeeded: run() emitted no row for any item\n");
    len += (size_t)snprintf(t + len, cap - len, "shards (each: shards/K-of-N/logs/):\n");
    for (uint32_t k = 0; k < s->count; k++)
        len += (size_t)snprintf(t + len, cap - len, "  %u-of-%u: exit %d: %s\n", k, s->count,
                                s->info[k].exit_code, s->info[k].result);
    char path[PATH_MAX + 40];
    snprintf(path, sizeof(path), "%s/logs/overview.txt", s->out_dir);
    int rc = write_atomic(path, t, len, err, err_size);
    free(t);
    return rc;
}

/* Names the shards that keep the merge from running; 0 when there are none. */
static int merge_blockers(const prs_shards *s, char *msg, size_t size) {
    size_t len = 0;
    uint32_t listed = 0, blocked = 0, other = 0;
    for (uint32_t k = 0; k < s->count; k++) {
        const shard_info *in = &s->info[k];
        bool different = in->state >= SHARD_RUNNING && !in->same_job;
        if (in->state == SHARD_FINISHED && !different) continue;
        blocked++;
        other += different;
        if (listed++ >= SHARDS_LISTED_MAX || len >= size) continue;
        int n =
            different
                ? snprintf(msg + len, size - len,
                           "%s%u-of-%u holds a different job "
                           "than %d-of-%u: %s",
                           len ? "; " : "", k, s->count, s->reference, s->count, in->differs)
                : snprintf(msg + len, size - len, "%s%u-of-%u %s%s%s", len ? "; " : "", k, s->count,
                           shard_state_text[in->state], in->result[0] ? ": " : "", in->result);
        len += n > 0 ? (size_t)n : 0;
    }
    if (blocked == 0) return 0;
    char head[160];
    snprintf(head, sizeof(head), "cannot merge: %u of %u shards %s: ", blocked, s->count,
             other ? "are not this job's or not finished" : "have not finished");
    size_t hl = strlen(head), ml = strnlen(msg, size - 1);
    if (hl + ml + 1 > size) ml = size - hl - 1;
    memmove(msg + hl, msg, ml);
    memcpy(msg, head, hl);
    msg[hl + ml] = 0;
    return other ? PRS_EXIT_USAGE : PRS_EXIT_STOPPED;
}

int prs_shards_merge(const prs_shards *s, char *message, size_t message_size) {
    message[0] = 0;
    int code = merge_blockers(s, message, message_size);
    if (code) return code;
    shards_sum sum;
    shards_add(s, &sum);
    if (sum.c.total_batches != sum.job_batches) {
        snprintf(message, message_size,
                 "cannot merge: the shards hold %llu mini-batches, the job has %llu: a shard's "
                 "state does not match the partition (rerun the shards with --fresh)",
                 (unsigned long long)sum.c.total_batches, (unsigned long long)sum.job_batches);
        return PRS_EXIT_USAGE;
    }
    char file[300], action[32], dir[PATH_MAX + 32], err[PATH_MAX + 256] = "";
    config_str(s->config, "append_row_file_name", file, sizeof(file));
    config_str(s->config, "output_action", action, sizeof(action));
    if (strcmp(action, "append_row") != 0) file[0] = 0;
    snprintf(dir, sizeof(dir), "%s/logs/user", s->out_dir);
    int rc = mkdir(dir, 0755) == 0 || errno == EEXIST ? 0 : -errno;
    if (rc == -ENOENT) {
        snprintf(dir, sizeof(dir), "%s/logs", s->out_dir);
        rc = mkdir(dir, 0755) == 0 || errno == EEXIST ? 0 : -errno;
        snprintf(dir, sizeof(dir), "%s/logs/user", s->out_dir);
        if (rc == 0) rc = mkdir(dir, 0755) == 0 || errno == EEXIST ? 0 : -errno;
    }
    if (rc) snprintf(err, sizeof(err), "%s: %s", dir, strerror(-rc));
    if (rc == 0 && file[0]) rc = merge_rows(s, file, err, sizeof(err));
    if (rc == 0) rc = merge_errors(s, err, sizeof(err));
    const char *why = job_verdict(s, &sum.c);
    if (rc == 0) rc = merge_overview(s, &sum.c, why, file, err, sizeof(err));
    if (rc) {
        snprintf(message, message_size, "merge failed: %s", err[0] ? err : strerror(-rc));
        return PRS_EXIT_INTERNAL;
    }
    snprintf(message, message_size,
             "%s: %u shards merged: %llu of %llu mini-batches succeeded, %llu failed; %llu of "
             "%llu items failed%s%s%s",
             why ? "FAILED" : "SUCCEEDED", s->count, (unsigned long long)sum.c.done_batches,
             (unsigned long long)sum.c.total_batches, (unsigned long long)sum.c.failed_batches,
             (unsigned long long)sum.c.failed_items, (unsigned long long)sum.c.total_items,
             why ? " (" : "", why ? why : "", why ? ")" : "");
    return why ? PRS_EXIT_THRESHOLD : PRS_EXIT_OK;
}

uint32_t prs_shards_count(const prs_shards *s) {
    return s->count;
}

uint32_t prs_shards_unfinished(const prs_shards *s, uint32_t *list, uint32_t cap,
                               uint32_t *running) {
    uint32_t n = 0;
    *running = 0;
    for (uint32_t k = 0; k < s->count; k++) {
        enum shard_state st = s->info[k].state;
        if (st == SHARD_RUNNING) ++*running;
        if (st == SHARD_FINISHED || st == SHARD_RUNNING) continue;
        if (n < cap) list[n] = k;
        n++;
    }
    return n;
}
