/* partition.c -- see partition.h. */
#include "partition.h"

#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* libxxhash's XXH3-128 (not the inline build): one streamed hash per record while the job
 * is created, where a call is cheap and 4 KiB of inlined hash code in libprs is not. */
#include <xxhash.h>

#define PART_DROP_BYTES ((uint64_t)16 << 20) /* pass 1: bytes read between page drops */
#define PART_MAX_RECORD_BYTES ((uint64_t)UINT32_MAX)
#define PART_MAX_FILES (1u << 24)
#define RADIX_BITS 16u
#define RADIX_BUCKETS ((size_t)1 << RADIX_BITS)

/* 32 bytes. Input order is (file, offset): files are added in walk order, so no sequence
 * number is needed; a run's tuples are appended in input order, which its stable sort
 * keeps for equal keys. */
typedef struct tuple {
    uint64_t hi, lo; /* XXH3-128 of the key values */
    uint64_t offset; /* of the record in its file */
    uint32_t file;
    uint32_t size; /* record bytes, terminator excluded */
} tuple;
_Static_assert(sizeof(tuple) == 32, "a sort tuple is 32 bytes");

typedef struct run_reader {
    int fd;
    uint64_t next, end; /* byte offsets in the runs file */
    tuple *buf;
    size_t len, pos, cap;
} run_reader;

#define PART_MAPS 8u /* input files kept mapped while copying */

typedef struct map_cache {
    uint32_t file; /* UINT32_MAX: empty */
    char *map;
    size_t len;
} map_cache;

typedef struct keyvals keyvals;

struct prs_partition {
    enum prs_format format;
    char sep;
    uint32_t key_count;
    char keys[PRS_PARTITION_MAX_KEYS][256];
    int key_col[PRS_PARTITION_MAX_KEYS]; /* csv/tsv: column of key i */
    char spill[PATH_MAX];
    char runs_path[PATH_MAX];
    int runs_fd;
    uint64_t run_start[PRS_PARTITION_MAX_RUNS + 1];
    uint32_t runs;
    tuple *buf, *tmp; /* the run, and the radix sort's second buffer */
    size_t buf_len, buf_cap;
    size_t *hist; /* the radix sort's bucket counts */
    char **files;
    uint32_t file_count, file_cap;
    char *header; /* csv/tsv: the first file's header row */
    size_t header_len;
    uint64_t records, partitions;
    map_cache cache[PART_MAPS];
    uint32_t cache_next;
    /* Pass 1's key values (64 KiB) and hash state, on the heap with the partition: not in
     * every thread's static TLS (which glibc zeroes, so touches, in each new thread). */
    keyvals *kv;
    XXH3_state_t *hash;
};

/* ---- key values ------------------------------------------------------------------------- */

struct keyvals {
    uint32_t missing; /* bit i: no value for key i */
    size_t len[PRS_PARTITION_MAX_KEYS];
    char val[PRS_PARTITION_MAX_KEYS][PRS_PARTITION_MAX_VALUE_BYTES];
};

static void put_value(keyvals *kv, uint32_t k, const char *s, size_t n, bool unquote_csv) {
    size_t w = 0;
    for (size_t i = 0; i < n && w < PRS_PARTITION_MAX_VALUE_BYTES - 1; i++) {
        if (unquote_csv && s[i] == '"' && i + 1 < n && s[i + 1] == '"') i++;
        kv->val[k][w++] = s[i];
    }
    kv->len[k] = w;
    kv->missing &= ~(1u << k);
}

/* csv/tsv: the fields of a record (or the header) by RFC 4180 quoting; fn per field. */
typedef void (*field_fn)(void *arg, uint32_t col, const char *s, size_t n, bool quoted);

static void csv_fields(const char *r, size_t size, char sep, field_fn fn, void *arg) {
    size_t i = 0;
    for (uint32_t col = 0; i <= size; col++) {
        if (i < size && r[i] == '"') {
            size_t start = ++i;
            while (i < size && !(r[i] == '"' && (i + 1 >= size || r[i + 1] != '"')))
                i += r[i] == '"' ? 2 : 1;
            size_t end = PRS_MIN(i, size);
            fn(arg, col, r + start, end - start, true);
            while (i < size && r[i] != sep) /* bytes after a closing quote: skipped */
                i++;
        } else {
            const char *e = memchr(r + i, sep, size - i);
            size_t end = e ? (size_t)(e - r) : size;
            fn(arg, col, r + i, end - i, false);
            i = end;
        }
        if (i >= size) break;
        i++; /* the separator */
    }
}

typedef struct csv_pick {
    const prs_partition *p;
    keyvals *kv;
} csv_pick;

static void pick_field(void *arg, uint32_t col, const char *s, size_t n, bool quoted) {
    csv_pick *c = arg;
    for (uint32_t k = 0; k < c->p->key_count; k++) {
        if (c->p->key_col[k] == (int)col) put_value(c->kv, k, s, n, quoted);
    }
}

/* jsonl: the end of the JSON value at s[i] (strings, nesting and scalars). */
static size_t json_skip(const char *s, size_t n, size_t i) {
    if (i >= n) return n;
    if (s[i] == '"') {
        for (i++; i < n && s[i] != '"'; i++)
            i += s[i] == '\\';
        return PRS_MIN(i + 1, n);
    }
    if (s[i] == '{' || s[i] == '[') {
        int depth = 0;
        for (; i < n; i++) {
            if (s[i] == '"') {
                i = json_skip(s, n, i) - 1;
            } else if (s[i] == '{' || s[i] == '[') {
                depth++;
            } else if ((s[i] == '}' || s[i] == ']') && --depth == 0) {
                return i + 1;
            }
        }
        return n;
    }
    while (i < n && !strchr(",}] \t\r", s[i]))
        i++;
    return i;
}

static size_t json_ws(const char *s, size_t n, size_t i) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
        i++;
    return i;
}

/* The top-level members of one object; a string value is its contents (escapes kept as
 * written), null is no value, anything else its JSON text. */
static void json_pick(const prs_partition *p, const char *s, size_t n, keyvals *kv) {
    size_t i = json_ws(s, n, 0);
    if (i >= n || s[i] != '{') return;
    for (i++;;) {
        i = json_ws(s, n, i);
        if (i >= n || s[i] != '"') return;
        size_t kend = json_skip(s, n, i);
        const char *key = s + i + 1;
        size_t klen = kend - i >= 2 ? kend - i - 2 : 0;
        i = json_ws(s, n, kend);
        if (i >= n || s[i] != ':') return;
        i = json_ws(s, n, i + 1);
        size_t vend = json_skip(s, n, i);
        for (uint32_t k = 0; k < p->key_count; k++) {
            if (strlen(p->keys[k]) != klen || memcmp(p->keys[k], key, klen)) continue;
            if (s[i] == '"')
                put_value(kv, k, s + i + 1, vend - i >= 2 ? vend - i - 2 : 0, false);
            else if (vend - i != 4 || memcmp(s + i, "null", 4))
                put_value(kv, k, s + i, vend - i, false);
        }
        i = json_ws(s, n, vend);
        if (i >= n || s[i] != ',') return;
        i++;
    }
}

static void key_values(const prs_partition *p, const char *rec, size_t size, keyvals *kv) {
    kv->missing = (1u << p->key_count) - 1;
    for (uint32_t k = 0; k < p->key_count; k++)
        kv->len[k] = 0; /* a missing key hashes the same whatever came before */
    if (p->format == PRS_FORMAT_JSONL) {
        json_pick(p, rec, size, kv);
    } else {
        csv_pick c = {p, kv};
        csv_fields(rec, size, p->sep, pick_field, &c);
    }
}

static void key_hash(prs_partition *p, const keyvals *kv, tuple *t) {
    XXH3_state_t *st = p->hash;
    XXH3_128bits_reset(st);
    for (uint32_t k = 0; k < p->key_count; k++) {
        uint8_t present = !(kv->missing & (1u << k));
        uint64_t len = kv->len[k];
        XXH3_128bits_update(st, &present, 1);
        XXH3_128bits_update(st, &len, sizeof(len));
        if (present) XXH3_128bits_update(st, kv->val[k], kv->len[k]);
    }
    XXH128_hash_t h = XXH3_128bits_digest(st);
    t->hi = h.high64;
    t->lo = h.low64;
}

/* ---- open, pass 1 ----------------------------------------------------------------------- */

int prs_partition_open(prs_partition **out, enum prs_format format, const char *keys,
                       const char *spill, const char *tmp_dir, size_t run_bytes, char *err,
                       size_t err_size) {
    *out = NULL;
    if (format != PRS_FORMAT_CSV && format != PRS_FORMAT_TSV && format != PRS_FORMAT_JSONL) {
        snprintf(err, err_size, "--partition-keys needs --input-format csv, tsv or jsonl");
        return -EINVAL;
    }
    prs_partition *p = calloc(1, sizeof(*p));
    if (!p) return -ENOMEM;
    p->format = format;
    p->sep = format == PRS_FORMAT_TSV ? '\t' : ',';
    p->runs_fd = -1;
    for (uint32_t i = 0; i < PART_MAPS; i++)
        p->cache[i].file = UINT32_MAX;
    for (const char *k = keys; k && *k;) {
        size_t l = strcspn(k, ",");
        if (l == 0 || l >= sizeof(p->keys[0]) || p->key_count == PRS_PARTITION_MAX_KEYS) {
            snprintf(err, err_size,
                     "--partition-keys %s: COL[,COL...], at most %u names of 1..255 bytes", keys,
                     PRS_PARTITION_MAX_KEYS);
            free(p);
            return -EINVAL;
        }
        snprintf(p->keys[p->key_count++], sizeof(p->keys[0]), "%.*s", (int)l, k);
        k += l + (k[l] == ',');
    }
    if (p->key_count == 0) {
        snprintf(err, err_size, "--partition-keys: name at least one column");
        free(p);
        return -EINVAL;
    }
    snprintf(p->spill, sizeof(p->spill), "%s", spill);
    snprintf(p->runs_path, sizeof(p->runs_path), "%s/partition-runs.XXXXXX", tmp_dir);
    p->runs_fd = mkostemp(p->runs_path, O_CLOEXEC);
    p->buf_cap = PRS_MAX((run_bytes ? run_bytes : PRS_PARTITION_RUN_BYTES) / sizeof(tuple), 1u);
    p->buf = malloc(p->buf_cap * sizeof(tuple));
    p->tmp = malloc(p->buf_cap * sizeof(tuple));
    p->hist = malloc(RADIX_BUCKETS * sizeof(size_t));
    p->kv = malloc(sizeof(*p->kv));
    p->hash = XXH3_createState();
    if (p->runs_fd < 0 || !p->buf || !p->tmp || !p->hist || !p->kv || !p->hash) {
        int e = p->runs_fd < 0 ? errno : ENOMEM;
        snprintf(err, err_size, "%s: %s", p->runs_path, strerror(e));
        prs_partition_close(p);
        return -e;
    }
    *out = p;
    return 0;
}

static int tuple_cmp(const void *a, const void *b) {
    const tuple *x = a, *y = b;
    if (x->hi != y->hi) return x->hi < y->hi ? -1 : 1;
    if (x->lo != y->lo) return x->lo < y->lo ? -1 : 1;
    if (x->file != y->file) return x->file < y->file ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Sorts a run by (hi, lo), stably: four LSD passes of 16 bits over hi (input order kept
 * for equal keys, so no comparison of positions), then equal-hi stretches, almost always
 * of one key, put in lo order by a stable insertion sort. About 3x faster than qsort on
 * 32-byte tuples, for a second buffer of the run's size. */
static void radix_sort(prs_partition *p) {
    tuple *a = p->buf, *b = p->tmp;
    size_t n = p->buf_len;
    for (unsigned shift = 0; shift < 64; shift += RADIX_BITS) {
        memset(p->hist, 0, RADIX_BUCKETS * sizeof(size_t));
        for (size_t i = 0; i < n; i++)
            p->hist[(a[i].hi >> shift) & (RADIX_BUCKETS - 1)]++;
        size_t sum = 0;
        for (size_t k = 0; k < RADIX_BUCKETS; k++) {
            size_t c = p->hist[k];
            p->hist[k] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            b[p->hist[(a[i].hi >> shift) & (RADIX_BUCKETS - 1)]++] = a[i];
        tuple *t = a;
        a = b;
        b = t;
    }
    PRS_ASSERT(a == p->buf); /* an even number of passes */
    for (size_t i = 1; i < n; i++) {
        tuple t = a[i];
        size_t j = i;
        while (j > 0 && a[j - 1].hi == t.hi && a[j - 1].lo > t.lo) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = t;
    }
}

static int flush_run(prs_partition *p, char *err, size_t err_size) {
    if (p->buf_len == 0) return 0;
    if (p->runs == PRS_PARTITION_MAX_RUNS) {
        snprintf(err, err_size, "--partition-keys: more than %u sort runs (%llu records)",
                 PRS_PARTITION_MAX_RUNS, (unsigned long long)p->records);
        return -EFBIG;
    }
    radix_sort(p);
    size_t bytes = p->buf_len * sizeof(tuple), done = 0;
    uint64_t at = p->run_start[p->runs];
    while (done < bytes) {
        ssize_t w = pwrite(p->runs_fd, (char *)p->buf + done, bytes - done, (off_t)(at + done));
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            snprintf(err, err_size, "%s: %s", p->runs_path, strerror(e));
            return -e;
        }
        done += (size_t)w;
    }
    p->run_start[++p->runs] = at + bytes;
    p->buf_len = 0;
    return 0;
}

static void find_col(void *arg, uint32_t col, const char *s, size_t n, bool quoted) {
    (void)quoted;
    prs_partition *p = arg;
    for (uint32_t k = 0; k < p->key_count; k++) {
        if (p->key_col[k] < 0 && strlen(p->keys[k]) == n && !memcmp(p->keys[k], s, n))
            p->key_col[k] = (int)col;
    }
}

/* csv/tsv: the key columns from the first header; later files must repeat it. */
static int check_header(prs_partition *p, const char *name, const prs_splitter *sp, const char *map,
                        char *err, size_t err_size) {
    prs_record h;
    if (p->format == PRS_FORMAT_JSONL) return 0;
    if (prs_splitter_header(sp, &h) != 1 || h.error) {
        snprintf(err, err_size, "%s: %s", name,
                 h.error ? h.error : "no header row: --partition-keys needs column names");
        return -EINVAL;
    }
    if (p->header) {
        if (h.size_bytes == p->header_len && !memcmp(map + h.offset, p->header, p->header_len))
            return 0;
        snprintf(err, err_size,
                 "%s: its header differs from %s's: partitions span files, so every file needs "
                 "the same columns",
                 name, p->files[0]);
        return -EINVAL;
    }
    for (uint32_t k = 0; k < p->key_count; k++)
        p->key_col[k] = -1;
    csv_fields(map + h.offset, h.size_bytes, p->sep, find_col, p);
    for (uint32_t k = 0; k < p->key_count; k++) {
        if (p->key_col[k] >= 0) continue;
        snprintf(err, err_size, "--partition-keys: %s has no column '%s' (its header: %.*s)", name,
                 p->keys[k], (int)PRS_MIN(h.size_bytes, 300u), map + h.offset);
        return -EINVAL;
    }
    if (!(p->header = malloc(h.size_bytes + 1))) return -ENOMEM;
    memcpy(p->header, map + h.offset, h.size_bytes);
    p->header_len = h.size_bytes;
    return 0;
}

static int add_record(prs_partition *p, const char *map, const prs_record *r, keyvals *kv,
                      const char *name, char *err, size_t err_size) {
    if (r->size_bytes > PART_MAX_RECORD_BYTES) {
        snprintf(err, err_size, "%s:%llu: a record of more than 4 GiB", name,
                 (unsigned long long)r->line);
        return -EFBIG;
    }
    p->records++;
    tuple t = {.offset = r->offset, .file = p->file_count - 1, .size = (uint32_t)r->size_bytes};
    key_values(p, map + r->offset, r->size_bytes, kv);
    key_hash(p, kv, &t);
    p->buf[p->buf_len++] = t;
    return p->buf_len == p->buf_cap ? flush_run(p, err, err_size) : 0;
}

static int scan_file(prs_partition *p, const char *name, char *map, size_t len, char *err,
                     size_t err_size) {
    prs_splitter sp;
    prs_record rec;
    int rc = prs_splitter_init(&sp, p->format, map, len);
    if (rc == 0) rc = check_header(p, name, &sp, map, err, err_size);
    uint64_t dropped = 0;
    while (rc == 0 && prs_splitter_next(&sp, &rec) == 1) {
        rc = add_record(p, map, &rec, p->kv, name, err, err_size);
        if (rec.offset - dropped >= PART_DROP_BYTES) {
            uint64_t upto = rec.offset & ~(uint64_t)0xfffff;
            madvise(map + dropped, (size_t)(upto - dropped), MADV_DONTNEED);
            dropped = upto;
        }
    }
    return rc;
}

int prs_partition_add(prs_partition *p, const char *path, const char *name, char *err,
                      size_t err_size) {
    if (p->file_count == PART_MAX_FILES) {
        snprintf(err, err_size, "--partition-keys: more than %u files", PART_MAX_FILES);
        return -EFBIG;
    }
    if (p->file_count == p->file_cap) {
        uint32_t cap = p->file_cap ? p->file_cap * 2 : 64;
        char **f = realloc(p->files, cap * sizeof(char *));
        if (!f) return -ENOMEM;
        p->files = f;
        p->file_cap = cap;
    }
    if (!(p->files[p->file_count] = strdup(path))) return -ENOMEM;
    p->file_count++;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        snprintf(err, err_size, "%s: %s", name, strerror(e));
        if (fd >= 0) close(fd);
        return -e;
    }
    int rc = 0;
    size_t len = (size_t)st.st_size;
    char *map = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (map == MAP_FAILED) {
        rc = -errno;
        snprintf(err, err_size, "%s: cannot map it: %s", name, strerror(-rc));
        return rc;
    }
    if (len) {
        madvise(map, len, MADV_SEQUENTIAL);
        rc = scan_file(p, name, map, len, err, err_size);
        munmap(map, len);
    }
    return rc;
}

/* ---- pass 2: merge the runs, copy the partitions ----------------------------------------- */

static int run_fill(prs_partition *p, run_reader *r, char *err, size_t err_size) {
    size_t want = (size_t)PRS_MIN((uint64_t)r->cap, (r->end - r->next) / sizeof(tuple));
    size_t bytes = want * sizeof(tuple), got = 0;
    while (got < bytes) {
        ssize_t n = pread(r->fd, (char *)r->buf + got, bytes - got, (off_t)(r->next + got));
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            snprintf(err, err_size, "%s: %s", p->runs_path, strerror(e));
            return -e;
        }
        got += (size_t)n;
    }
    r->next += bytes;
    r->len = want;
    r->pos = 0;
    return 0;
}

/* The input file's mapping, from a small round-robin cache. */
static const char *file_map(prs_partition *p, uint32_t file, char *err, size_t err_size) {
    for (uint32_t i = 0; i < PART_MAPS; i++) {
        if (p->cache[i].file == file) return p->cache[i].map;
    }
    map_cache *c = &p->cache[p->cache_next++ % PART_MAPS];
    if (c->file != UINT32_MAX) munmap(c->map, c->len);
    c->file = UINT32_MAX;
    int fd = open(p->files[file], O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, err_size, "%s: %s", p->files[file], strerror(errno));
        if (fd >= 0) close(fd);
        return NULL;
    }
    c->len = (size_t)st.st_size;
    c->map = c->len ? mmap(NULL, c->len, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    close(fd);
    if (c->map == MAP_FAILED) {
        snprintf(err, err_size, "%s: cannot map it (changed since it was read?)", p->files[file]);
        return NULL;
    }
    c->file = file;
    return c->map;
}

typedef struct emitter {
    prs_partition *p;
    FILE *out;
    uint64_t pos, line;
    tuple group; /* the open partition's first tuple */
    prs_partition_batch b;
    keyvals kv;
    int (*fn)(void *arg, const prs_partition_batch *b);
    void *arg;
    char *err;
    size_t err_size;
} emitter;

static int emit(emitter *e) {
    if (e->b.records == 0) return 0;
    char values[PRS_PARTITION_MAX_KEYS * PRS_PARTITION_MAX_VALUE_BYTES];
    size_t w = 0;
    for (uint32_t k = 0; k < e->p->key_count; k++) {
        memcpy(values + w, e->kv.val[k], e->kv.len[k]);
        w += e->kv.len[k];
        values[w++] = 0;
    }
    e->b.values = values;
    e->b.values_len = w;
    e->b.missing = e->kv.missing;
    e->b.length = e->pos - e->b.offset;
    e->p->partitions++;
    int rc = e->fn(e->arg, &e->b);
    e->b.records = 0;
    return rc;
}

static int copy_record(emitter *e, const tuple *t) {
    prs_partition *p = e->p;
    bool same = e->b.records && t->hi == e->group.hi && t->lo == e->group.lo;
    int rc = same ? 0 : emit(e);
    if (rc) return rc;
    const char *map = file_map(p, t->file, e->err, e->err_size);
    if (!map) return -ESTALE;
    const char *r = map + t->offset;
    if (!same) {
        e->group = *t;
        e->b.offset = e->pos;
        e->b.first_line = e->line;
        key_values(p, r, t->size, &e->kv);
    }
    if (e->b.records == INT32_MAX) {
        snprintf(e->err, e->err_size, "--partition-keys: a partition of more than %d records",
                 INT32_MAX);
        return -EFBIG;
    }
    e->b.records++;
    if (fwrite(r, 1, t->size, e->out) != t->size || fputc('\n', e->out) == EOF) return -errno;
    e->pos += (uint64_t)t->size + 1;
    e->line += 1;
    for (const char *q = r; (q = memchr(q, '\n', (size_t)(r + t->size - q))); q++)
        e->line++; /* a csv record's quoted newlines */
    return 0;
}

/* The merge's heap of run indices, the smallest head first: log2(runs) comparisons per
 * record (a scan of every run's head cost one per run, a sixth of a 2 GB job's creation). */
static bool head_less(const run_reader *rr, uint32_t a, uint32_t b) {
    return tuple_cmp(&rr[a].buf[rr[a].pos], &rr[b].buf[rr[b].pos]) < 0;
}

static void heap_down(const run_reader *rr, uint32_t *h, uint32_t n, uint32_t i) {
    while (2 * i + 1 < n) { /* i at least doubles */
        uint32_t l = 2 * i + 1, m = head_less(rr, h[l], h[i]) ? l : i;
        if (l + 1 < n && head_less(rr, h[l + 1], h[m])) m = l + 1;
        if (m == i) return;
        uint32_t t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static int merge_runs(prs_partition *p, emitter *e) {
    int rc = flush_run(p, e->err, e->err_size);
    if (rc) return rc;
    run_reader *rr = calloc(p->runs, sizeof(run_reader));
    size_t cap = PRS_MAX((size_t)1024, ((size_t)16 << 20) / sizeof(tuple) / p->runs);
    for (uint32_t i = 0; rr && i < p->runs; i++) {
        rr[i] = (run_reader){.fd = p->runs_fd,
                             .next = p->run_start[i],
                             .end = p->run_start[i + 1],
                             .cap = cap,
                             .buf = malloc(cap * sizeof(tuple))};
        if (!rr[i].buf) rc = -ENOMEM;
        if (rc == 0) rc = run_fill(p, &rr[i], e->err, e->err_size);
    }
    uint32_t *heap = malloc(p->runs * sizeof(uint32_t)), n = 0;
    if (!rr || !heap) rc = -ENOMEM;
    for (uint32_t i = 0; rc == 0 && i < p->runs; i++) {
        if (rr[i].pos < rr[i].len) heap[n++] = i;
    }
    for (uint32_t i = n / 2; rc == 0 && i-- > 0;)
        heap_down(rr, heap, n, i);
    while (rc == 0 && n > 0) { /* one record per step: bounded by the records */
        uint32_t i = heap[0];
        rc = copy_record(e, &rr[i].buf[rr[i].pos++]);
        if (rc == 0 && rr[i].pos == rr[i].len && rr[i].next < rr[i].end)
            rc = run_fill(p, &rr[i], e->err, e->err_size);
        if (rr[i].pos == rr[i].len) heap[0] = heap[--n]; /* run i is done */
        heap_down(rr, heap, n, 0);
    }
    free(heap);
    for (uint32_t i = 0; rr && i < p->runs; i++)
        free(rr[i].buf);
    free(rr);
    return rc;
}

int prs_partition_finish(prs_partition *p, int (*fn)(void *arg, const prs_partition_batch *b),
                         void *arg, uint32_t *header_size, char *err, size_t err_size) {
    err[0] = 0;
    *header_size = 0;
    /* On the heap (its key values are 64 KiB): see struct prs_partition. */
    emitter *e = calloc(1, sizeof(*e));
    if (!e) {
        snprintf(err, err_size, "%s: %s", p->spill, strerror(ENOMEM));
        return -ENOMEM;
    }
    e->p = p;
    e->fn = fn;
    e->arg = arg;
    e->err = err;
    e->err_size = err_size;
    e->line = 1;
    if (!(e->out = fopen(p->spill, "we"))) {
        int rc = -errno;
        snprintf(err, err_size, "%s: %s", p->spill, strerror(-rc));
        free(e);
        return rc;
    }
    setvbuf(e->out, NULL, _IOFBF, 1 << 20);
    int rc = 0;
    if (p->header) {
        if (fwrite(p->header, 1, p->header_len, e->out) != p->header_len || fputc('\n', e->out) < 0)
            rc = -errno;
        e->pos = p->header_len + 1;
        e->line = 2;
        *header_size = (uint32_t)PRS_MIN(p->header_len, UINT32_MAX);
    }
    if (rc == 0 && p->runs == 0) {
        /* Everything fitted in one buffer: sorted in place, no run written. */
        radix_sort(p);
        for (size_t i = 0; rc == 0 && i < p->buf_len; i++)
            rc = copy_record(e, &p->buf[i]);
    } else if (rc == 0) {
        rc = merge_runs(p, e);
    }
    if (rc == 0) rc = emit(e);
    if (fflush(e->out) != 0 || fsync(fileno(e->out)) != 0) rc = rc ? rc : -errno;
    if (fclose(e->out) != 0 && rc == 0) rc = -errno;
    if (rc && !err[0]) snprintf(err, err_size, "%s: %s", p->spill, strerror(-rc));
    free(e);
    return rc;
}

void prs_partition_close(prs_partition *p) {
    if (!p) return;
    for (uint32_t i = 0; i < PART_MAPS; i++) {
        if (p->cache[i].file != UINT32_MAX) munmap(p->cache[i].map, p->cache[i].len);
    }
    if (p->runs_fd >= 0) {
        close(p->runs_fd);
        unlink(p->runs_path);
    }
    for (uint32_t i = 0; i < p->file_count; i++)
        free(p->files[i]);
    free(p->files);
    free(p->header);
    free(p->buf);
    free(p->tmp);
    free(p->hist);
    free(p->kv);
    XXH3_freeState(p->hash);
    free(p);
}

uint64_t prs_partition_records(const prs_partition *p) {
    return p->records;
}

uint64_t prs_partition_count(const prs_partition *p) {
    return p->partitions;
}
