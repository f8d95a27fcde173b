/* inputdiff.c -- see inputdiff.h. */
#include "inputdiff.h"

#include "clock.h"
#include "records.h"
#include "scan.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#define ITEMS_CHUNK 4096u /* item records read per read snapshot */

typedef struct differ {
    const prs_job_config *cfg;
    prs_inputdiff *d;
    int root_fd;           /* item paths are relative to it (AT_FDCWD: absolute) */
    struct timespec since; /* the creation's stamp */
    uint64_t *hashes;      /* XXH3-64 of the job's paths, sorted, unique */
    size_t n;
} differ;

void prs_inputdiff_stamp(char *buf, size_t size) {
    struct timespec t;
    /* Coarse, as the kernel stamps file times: a write after this reads as later. */
    clock_gettime(CLOCK_REALTIME_COARSE, &t);
    snprintf(buf, size, "%lld.%09ld", (long long)t.tv_sec, t.tv_nsec);
}

static bool later(const struct timespec *a, const struct timespec *b) {
    return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The path of one item record: a files job's name, a tabular job's file. */
static const char *item_path(const differ *df, const void *view, size_t size) {
    const char *name = NULL;
    size_t len;
    prs_tab_ref ref;
    if (df->cfg->input_format == PRS_FORMAT_FILES)
        return prs_queue_item_decode(view, size, &name, &len) == 0 ? name : NULL;
    return prs_queue_tab_decode(view, size, &ref) == 0 ? ref.path : NULL;
}

/* One item of the job: gone or changed since the creation? (Called once per distinct
 * path: a tabular file is the item of many batches.) */
static void check_item(differ *df, const char *path) {
    struct stat st;
    prs_inputdiff *d = df->d;
    if (fstatat(df->root_fd, path, &st, 0) != 0) {
        if (!d->gone++) snprintf(d->first_gone, sizeof(d->first_gone), "%s", path);
    } else if (later(&st.st_ctim, &df->since) || later(&st.st_mtim, &df->since)) {
        if (!d->changed++) snprintf(d->first_changed, sizeof(d->first_changed), "%s", path);
    }
}

/* Reads the job's paths (count item records), checks each, and keeps their hashes. */
static int load_items(differ *df, prs_queue *q, uint64_t count) {
    df->hashes = malloc((count ? count : 1) * sizeof(uint64_t));
    if (!df->hashes) return -ENOMEM;
    prs_queue_reader *r;
    int rc = prs_queue_reader_open(q, &r);
    if (rc) return rc;
    const void *views[ITEMS_CHUNK];
    size_t sizes[ITEMS_CHUNK];
    bool have_prev = false;
    uint64_t prev_hash = 0;
    for (uint64_t first = 0; rc == 0 && first < count; first += ITEMS_CHUNK) {
        uint32_t k = (uint32_t)PRS_MIN((uint64_t)ITEMS_CHUNK, count - first);
        if ((rc = prs_queue_reader_begin(r))) break;
        rc = prs_queue_reader_items(r, first, k, views, sizes);
        for (uint32_t i = 0; rc == 0 && i < k; i++) {
            const char *path = item_path(df, views[i], sizes[i]);
            if (!path) {
                rc = -EBADMSG;
                break;
            }
            uint64_t h = XXH3_64bits(path, strlen(path));
            if (have_prev && h == prev_hash) continue; /* the last batch's file again */
            df->hashes[df->n++] = h;
            check_item(df, path);
            have_prev = true;
            prev_hash = h;
        }
        prs_queue_reader_end(r);
    }
    prs_queue_reader_close(r);
    if (rc) return rc;
    qsort(df->hashes, df->n, sizeof(uint64_t), cmp_u64);
    size_t u = 0;
    for (size_t i = 0; i < df->n; i++) {
        if (u == 0 || df->hashes[u - 1] != df->hashes[i]) df->hashes[u++] = df->hashes[i];
    }
    df->n = u;
    return 0;
}

/* A file of the walk: new unless the job has its name. */
static int walk_fn(void *arg, const char *path, size_t len) {
    differ *df = arg;
    uint64_t h = XXH3_64bits(path, len);
    if (!bsearch(&h, df->hashes, df->n, sizeof(uint64_t), cmp_u64) && !df->d->added++)
        snprintf(df->d->first_added, sizeof(df->d->first_added), "%s", path);
    return 0;
}

static int read_since(prs_queue *q, struct timespec *since) {
    char text[64];
    size_t len = 0;
    int rc = prs_queue_meta_get(q, PRS_INPUTDIFF_SINCE_KEY, text, sizeof(text) - 1, &len);
    if (rc) return rc;
    text[len] = 0;
    long long sec = 0;
    long nsec = 0;
    if (sscanf(text, "%lld.%ld", &sec, &nsec) != 2 || nsec < 0 || nsec > 999999999L)
        return -EBADMSG;
    *since = (struct timespec){.tv_sec = (time_t)sec, .tv_nsec = nsec};
    return 0;
}

/* What the job's item paths are relative to. */
static int open_root(const prs_job_config *cfg, int *fd) {
    struct stat st;
    *fd = AT_FDCWD;
    if (cfg->input[0] == '@') return 0;
    if (stat(cfg->input, &st) == 0 && S_ISREG(st.st_mode)) return 0; /* one tabular file */
    *fd = open(cfg->input, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return *fd < 0 ? -errno : 0;
}

int prs_inputdiff_run(prs_queue *q, const prs_job_config *cfg, prs_inputdiff *d, char *err,
                      size_t err_size) {
    memset(d, 0, sizeof(*d));
    err[0] = 0;
    uint64_t t0 = prs_mono_ns();
    differ df = {.cfg = cfg, .d = d, .root_fd = AT_FDCWD};
    prs_queue_counts c;
    int rc = prs_queue_counts_get(q, &c);
    if (rc) return rc;
    rc = read_since(q, &df.since);
    if (rc == -ENOENT) {
        d->skipped = "the job was made by a prs that did not record when it was made";
        return 0;
    }
    if (rc) return rc;
    bool files = cfg->input_format == PRS_FORMAT_FILES;
    uint64_t count = files ? c.total_items : c.total_batches; /* tabular: one per batch */
    if (cfg->partition_keys) d->skipped = "a partitioned job reads prs's grouped copy";
    if (count > PRS_INPUTDIFF_MAX_ITEMS) d->skipped = "more than 16,777,216 input files";
    if (d->skipped) return 0;
    if ((rc = open_root(cfg, &df.root_fd))) {
        snprintf(err, err_size, "--input %s: %s", cfg->input, strerror(-rc));
        return rc;
    }
    rc = load_items(&df, q, count);
    d->added_checked = rc == 0 && files && !cfg->shard_count;
    if (d->added_checked) {
        rc = cfg->input[0] == '@' ? prs_scan_list(cfg->input + 1, walk_fn, &df, err, err_size)
                                  : prs_scan_dir(cfg->input, walk_fn, &df, err, err_size);
    }
    if (df.root_fd >= 0) close(df.root_fd);
    free(df.hashes);
    d->elapsed_ms = (prs_mono_ns() - t0) / 1000000u;
    return rc;
}
