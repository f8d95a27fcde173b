/* dryrun.c -- see dryrun.h. */
#include "dryrun.h"

#include "partition.h"
#include "records.h"
#include "scan.h"

#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define DR_SHOW_BATCHES 3u /* first and last batches printed */
#define DR_SHOW_ITEMS 5u   /* items printed per batch */
#define DR_NAME_BYTES (PRS_SCAN_MAX_PATH + 32)

typedef struct dr_batch {
    uint64_t id, items, bytes;
    uint32_t shown;
    char names[DR_SHOW_ITEMS][DR_NAME_BYTES];
} dr_batch;

typedef struct dr {
    const prs_job_config *c;
    char root[PATH_MAX]; /* tabular: paths from a directory walk are relative to it */
    uint64_t items, batches, files, bytes, malformed;
    dr_batch *first; /* DR_SHOW_BATCHES */
    dr_batch *last;  /* a ring of DR_SHOW_BATCHES, indexed by id */
    dr_batch *open;  /* the batch being filled: one of the above */
    char *err;
    size_t err_size;
} dr;

/* A new batch: kept among the first ones, else in the ring of the last ones. */
static void dr_begin(dr *d) {
    uint64_t id = d->batches++;
    dr_batch *b = id < DR_SHOW_BATCHES ? &d->first[id] : &d->last[id % DR_SHOW_BATCHES];
    b->id = id;
    b->items = b->bytes = 0;
    b->shown = 0;
    d->open = b;
}

static void dr_item(dr *d, const char *name, size_t len, uint64_t bytes) {
    dr_batch *b = d->open;
    if (b->shown < DR_SHOW_ITEMS)
        snprintf(b->names[b->shown++], DR_NAME_BYTES, "%.*s", (int)PRS_MIN(len, 4000u), name);
    b->items++;
    b->bytes += bytes;
    d->items++;
}

static int dr_file_item(void *arg, const char *path, size_t len) {
    dr *d = arg;
    if (d->items % d->c->mini_batch_size == 0) dr_begin(d);
    dr_item(d, path, len, 0);
    return 0;
}

/* One tabular file cut as job creation cuts it (core/runtime.c tab_file). */
static int dr_tab_file(void *arg, const char *path, size_t path_len) {
    (void)path_len;
    dr *d = arg;
    char full[PATH_MAX + PRS_SCAN_MAX_PATH];
    snprintf(full, sizeof(full), "%s%s%s", path[0] == '/' ? "" : d->root, path[0] == '/' ? "" : "/",
             path);
    int fd = open(full, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        snprintf(d->err, d->err_size, "%s: %s", full, strerror(e));
        return -e;
    }
    int rc = 0;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size == 0) goto close_fd;
    size_t len = (size_t)st.st_size;
    char *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        rc = -errno;
        snprintf(d->err, d->err_size, "%s: cannot map it: %s", full, strerror(-rc));
        goto close_fd;
    }
    madvise(map, len, MADV_SEQUENTIAL);
    prs_splitter sp;
    prs_batcher bat;
    prs_record hdr, rec;
    prs_splitter_init(&sp, (enum prs_format)d->c->input_format, map, len);
    if (prs_splitter_header(&sp, &hdr) == 1 && hdr.error) {
        snprintf(d->err, d->err_size, "%s:%llu: the header row is malformed: %s", full,
                 (unsigned long long)hdr.line, hdr.error);
        rc = -EILSEQ;
        goto unmap;
    }
    prs_batcher_init(&bat, d->c->mini_batch_bytes);
    d->files++;
    while (prs_splitter_next(&sp, &rec) == 1) {
        if (prs_batcher_add(&bat, &rec)) dr_begin(d);
        char name[DR_NAME_BYTES];
        int n = snprintf(name, sizeof(name), "%s:%llu", path, (unsigned long long)rec.line);
        dr_item(d, name, (size_t)PRS_MAX(n, 0), rec.size_bytes + rec.term_bytes);
        d->bytes += rec.size_bytes + rec.term_bytes;
        d->malformed += rec.error != NULL;
    }
unmap:
    munmap(map, len);
close_fd:
    close(fd);
    return rc;
}

static int dr_walk(dr *d) {
    const prs_job_config *c = d->c;
    bool tab = c->input_format != PRS_FORMAT_FILES;
    prs_scan_fn fn = tab ? dr_tab_file : dr_file_item;
    if (c->input[0] == '@') return prs_scan_list(c->input + 1, fn, d, d->err, d->err_size);
    struct stat st;
    if (tab && stat(c->input, &st) == 0 && S_ISREG(st.st_mode)) {
        char real[PATH_MAX];
        if (!realpath(c->input, real)) {
            snprintf(d->err, d->err_size, "--input %s: %s", c->input, strerror(errno));
            return -ENOENT;
        }
        return dr_tab_file(d, real, strlen(real));
    }
    snprintf(d->root, sizeof(d->root), "%s", c->input);
    return prs_scan_dir(c->input, fn, d, d->err, d->err_size);
}

static void dr_print_batch(const dr *d, const dr_batch *b, FILE *f) {
    if (d->c->input_format == PRS_FORMAT_FILES)
        fprintf(f, "  mini-batch %llu: %llu file%s\n", (unsigned long long)b->id,
                (unsigned long long)b->items, b->items == 1 ? "" : "s");
    else
        fprintf(f, "  mini-batch %llu: %llu records, %llu bytes\n", (unsigned long long)b->id,
                (unsigned long long)b->items, (unsigned long long)b->bytes);
    for (uint32_t i = 0; i < b->shown; i++)
        fprintf(f, "    %s\n", b->names[i]);
    if (b->items > b->shown)
        fprintf(f, "    ... and %llu more\n", (unsigned long long)(b->items - b->shown));
}

static void dr_print_state(const prs_job_config *c, FILE *f) {
    char path[PATH_MAX + 32];
    struct stat st;
    snprintf(path, sizeof(path), "%s/.prs/data.mdb", c->output_dir);
    if (stat(path, &st) == 0)
        fprintf(f, "output: %s holds a job state: prs run would resume it (--fresh: start over)\n",
                c->output_dir);
    else if (stat(c->output_dir, &st) == 0)
        fprintf(f, "output: %s exists and holds no job: a new job would start there\n",
                c->output_dir);
    else
        fprintf(f, "output: %s does not exist: prs run would create it\n", c->output_dir);
    if (c->entry_script && stat(c->entry_script, &st) != 0)
        fprintf(f, "warning: entry script %s: %s (prs run would stop with exit 2)\n",
                c->entry_script, strerror(errno));
}

/* --partition-keys: the grouping runs for real, into a scratch directory removed after
 * (OUT is not touched), and the first and last partitions are shown with their values. */
typedef struct dr_part {
    const char *keys;
    FILE *f;
    uint64_t n, records;
    prs_partition_batch last[DR_SHOW_BATCHES];
    char last_values[DR_SHOW_BATCHES][1024];
} dr_part;

static void dr_part_line(const dr_part *p, uint64_t id, const prs_partition_batch *b,
                         const char *values) {
    fprintf(p->f, "  mini-batch %llu: %u records, %llu bytes:", (unsigned long long)id, b->records,
            (unsigned long long)b->length);
    const char *k = p->keys, *v = values;
    for (uint32_t i = 0; *k; i++) {
        size_t kl = strcspn(k, ",");
        fprintf(p->f, " %.*s=%s", (int)kl, k, b->missing & (1u << i) ? "(none)" : v);
        v += strlen(v) + 1;
        k += kl + (k[kl] == ',');
    }
    fputc('\n', p->f);
}

static int dr_part_batch(void *arg, const prs_partition_batch *b) {
    dr_part *p = arg;
    if (p->n < DR_SHOW_BATCHES) dr_part_line(p, p->n, b, b->values);
    prs_partition_batch *l = &p->last[p->n % DR_SHOW_BATCHES];
    char *keep = p->last_values[p->n % DR_SHOW_BATCHES];
    *l = *b;
    if (b->values_len <= sizeof(p->last_values[0])) {
        memcpy(keep, b->values, b->values_len);
    } else { /* shown as that many empty values: the count is what matters */
        memset(keep, 0, sizeof(p->last_values[0]));
        l->missing = ~0u;
    }
    l->values = keep;
    p->n++;
    p->records += b->records;
    return 0;
}

typedef struct dr_part_walk {
    prs_partition *part;
    char root[PATH_MAX];
    char *err;
    size_t err_size;
} dr_part_walk;

static int dr_part_file(void *arg, const char *path, size_t len) {
    (void)len;
    dr_part_walk *w = arg;
    char full[PATH_MAX * 2];
    snprintf(full, sizeof(full), "%s%s%s", path[0] == '/' ? "" : w->root, path[0] == '/' ? "" : "/",
             path);
    return prs_partition_add(w->part, full, path, w->err, w->err_size);
}

static int dr_partitions(const prs_job_config *c, FILE *f, char *err, size_t err_size) {
    const char *base = getenv("TMPDIR");
    char dir[PATH_MAX], spill[PATH_MAX + 16];
    snprintf(dir, sizeof(dir), "%s/prs-dry-run-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) {
        snprintf(err, err_size, "%s: %s", dir, strerror(errno));
        return PRS_EXIT_INTERNAL;
    }
    snprintf(spill, sizeof(spill), "%s/grouped", dir);
    dr_part_walk w = {.err = err, .err_size = err_size};
    dr_part p = {.keys = c->partition_keys, .f = f};
    int rc = prs_partition_open(&w.part, (enum prs_format)c->input_format, c->partition_keys, spill,
                                dir, 0, err, err_size);
    if (rc) goto remove_dir;
    struct stat st;
    if (c->input[0] == '@') {
        rc = prs_scan_list(c->input + 1, dr_part_file, &w, err, err_size);
    } else if (stat(c->input, &st) == 0 && S_ISREG(st.st_mode)) {
        rc = prs_partition_add(w.part, c->input, c->input, err, err_size);
    } else {
        snprintf(w.root, sizeof(w.root), "%s", c->input);
        rc = prs_scan_dir(c->input, dr_part_file, &w, err, err_size);
    }
    uint32_t header;
    fprintf(f, "partitions by --partition-keys %s (the size does not apply):\n", c->partition_keys);
    if (rc == 0) rc = prs_partition_finish(w.part, dr_part_batch, &p, &header, err, err_size);
    prs_partition_close(w.part);
    if (rc == 0) {
        uint64_t from =
            PRS_MAX(p.n > DR_SHOW_BATCHES ? p.n - DR_SHOW_BATCHES : 0, (uint64_t)DR_SHOW_BATCHES);
        if (from > DR_SHOW_BATCHES) fprintf(f, "  ...\n");
        for (uint64_t i = from; i < p.n; i++)
            dr_part_line(&p, i, &p.last[i % DR_SHOW_BATCHES], p.last[i % DR_SHOW_BATCHES].values);
        fprintf(f, "  %llu records in %llu partitions: %llu mini-batches\n",
                (unsigned long long)p.records, (unsigned long long)p.n, (unsigned long long)p.n);
    }
remove_dir:
    unlink(spill);
    rmdir(dir);
    if (rc == -EINVAL) return PRS_EXIT_USAGE;
    return rc ? PRS_EXIT_INPUT : 0;
}

int prs_dryrun_print(const prs_job_config *c, FILE *f, char *err, size_t err_size) {
    dr d = {.c = c, .err = err, .err_size = err_size};
    dr_batch *mem = calloc(2 * DR_SHOW_BATCHES, sizeof(dr_batch));
    if (!mem) {
        snprintf(err, err_size, "out of memory");
        return PRS_EXIT_INTERNAL;
    }
    d.first = mem;
    d.last = mem + DR_SHOW_BATCHES;
    err[0] = 0;
    int rc = dr_walk(&d);
    fprintf(f, "dry run: nothing was created and nothing ran\n");
    if (rc) {
        if (!err[0]) snprintf(err, err_size, "--input %s: %s", c->input, strerror(-rc));
        free(mem);
        return PRS_EXIT_INPUT;
    }
    bool tab = c->input_format != PRS_FORMAT_FILES;
    if (tab && c->partition_keys)
        fprintf(f, "input: %s (%s): %llu records (%llu bytes) in %llu files\n", c->input,
                prs_format_name((enum prs_format)c->input_format), (unsigned long long)d.items,
                (unsigned long long)d.bytes, (unsigned long long)d.files);
    else if (tab)
        fprintf(f,
                "input: %s (%s): %llu records (%llu bytes) in %llu files -> %llu mini-batches "
                "of up to %llu bytes\n",
                c->input, prs_format_name((enum prs_format)c->input_format),
                (unsigned long long)d.items, (unsigned long long)d.bytes,
                (unsigned long long)d.files, (unsigned long long)d.batches,
                (unsigned long long)c->mini_batch_bytes);
    else
        fprintf(f, "input: %s: %llu files -> %llu mini-batches of up to %u files\n", c->input,
                (unsigned long long)d.items, (unsigned long long)d.batches, c->mini_batch_size);
    if (d.malformed)
        fprintf(f, "  %llu malformed records: each would be a failed item\n",
                (unsigned long long)d.malformed);
    if (d.items == 0) {
        snprintf(err, err_size, "--input %s: no input %s found", c->input,
                 tab ? "records" : "files");
        free(mem);
        return PRS_EXIT_INPUT;
    }
    if (c->partition_keys) {
        int code = dr_partitions(c, f, err, err_size);
        dr_print_state(c, f);
        free(mem);
        return code;
    }
    for (uint64_t i = 0; i < PRS_MIN(d.batches, DR_SHOW_BATCHES); i++)
        dr_print_batch(&d, &d.first[i], f);
    uint64_t from = PRS_MAX(d.batches > DR_SHOW_BATCHES ? d.batches - DR_SHOW_BATCHES : 0,
                            (uint64_t)DR_SHOW_BATCHES);
    if (from > DR_SHOW_BATCHES) fprintf(f, "  ...\n");
    for (uint64_t i = from; i < d.batches; i++)
        dr_print_batch(&d, &d.last[i % DR_SHOW_BATCHES], f);
    dr_print_state(c, f);
    free(mem);
    return 0;
}
