/* bench_side -- side-table lookups: prs's shared LMDB table against the usual approach, a
 * private hash table loaded by every worker.
 *
 * Usage: bench_side [rows] [lookups]     (defaults 5000000 rows, 20000000 lookups/worker)
 *
 * Generates a csv of `rows` rows "kNNNNNNNN,value-NNNNNNNN-<16 letters>" (about 36 bytes a
 * row) under $TMPDIR, then runs each case in a fresh child process (its own RSS, nothing
 * inherited) and reports what the child measured:
 *   prs load        prs_side_table_load into a new OUT/.prs/side-like environment: seconds
 *                   (its own process; the lookup cases reuse the load)
 *   prs W=1, W=2    W worker threads, each with its own reader, doing `lookups` random
 *                   lookups of existing keys: single prs_sidedb_get, then the same number
 *                   through prs_sidedb_get_many in chunks of 64
 *   base W=1, W=2   W worker threads that each load the csv into their own open-addressing
 *                   hash table (keys and rows copied into a per-worker arena: what an
 *                   init() that reads the table does), then the same single lookups
 * RSS is VmRSS of the child at the end of the lookups (tables still held). RSS growth per
 * extra worker = RSS(W=2) - RSS(W=1). Targets (issue 6): prs single lookups >= 5M/s per
 * worker with 2 workers; prs RSS growth <= 1 MiB per extra worker (the baseline grows by
 * the table's size). Exit 1 if a lookup returns a wrong row (correctness); a missed speed
 * target is reported, not an error. */
#include "side.h"
#include "sidedb.h"

#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define MANY 64u
#define KEY_LEN 9u

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double rss_mib(void) {
    FILE *f = fopen("/proc/self/status", "re");
    if (!f) return -1;
    char line[256];
    double kib = -1;
    while (fgets(line, sizeof(line), f)) {
        if (!strncmp(line, "VmRSS:", 6)) kib = strtod(line + 6, NULL);
    }
    fclose(f);
    return kib / 1024.0;
}

static inline uint64_t xorshift(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* "kNNNNNNNN": formatted by hand, cheaper than the lookup it feeds. */
static inline void key_of(uint64_t i, char *k) {
    k[0] = 'k';
    for (int d = 8; d >= 1; d--) {
        k[d] = (char)('0' + i % 10);
        i /= 10;
    }
}

static int gen_table(const char *path, uint64_t rows) {
    FILE *f = fopen(path, "we");
    if (!f) return -1;
    fputs("key,value\n", f);
    uint64_t s = 42;
    char k[KEY_LEN];
    for (uint64_t i = 0; i < rows; i++) {
        char pad[17];
        for (int c = 0; c < 16; c++)
            pad[c] = (char)('a' + xorshift(&s) % 26);
        pad[16] = 0;
        key_of(i, k);
        fprintf(f, "%.9s,value-%08llu-%s\n", k, (unsigned long long)i, pad);
    }
    return fclose(f);
}

/* ---- the baseline: a private hash table per worker ------------------------------------- */

typedef struct base_table {
    uint64_t *slots; /* hash tag | (offset into arena + 1) */
    uint64_t mask;
    char *arena; /* [u32 key_len][u32 row_len][key][row] */
    size_t arena_len;
} base_table;

static int base_load(base_table *t, const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    fstat(fd, &st);
    size_t size = (size_t)st.st_size;
    const char *data = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (data == MAP_FAILED) return -1;
    uint64_t rows = 0;
    for (const char *p = data; (p = memchr(p, '\n', size - (size_t)(p - data))); p++)
        rows++;
    uint64_t n = 16;
    while (n * 3 < rows * 5)
        n *= 2;
    t->slots = calloc(n, 8);
    t->mask = n - 1;
    t->arena = malloc(size + rows * 8 + rows * KEY_LEN);
    t->arena_len = 0;
    const char *p = (const char *)memchr(data, '\n', size) + 1,
               *end = data + size; /* past the header */
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *comma = memchr(p, ',', (size_t)(nl - p));
        uint32_t h[2] = {(uint32_t)(comma - p), (uint32_t)(nl - p)};
        uint64_t hash = XXH3_64bits(p, h[0]), pos = hash & t->mask;
        while (t->slots[pos])
            pos = (pos + 1) & t->mask;
        t->slots[pos] = (hash >> 40) << 40 | (t->arena_len + 1);
        memcpy(t->arena + t->arena_len, h, 8);
        memcpy(t->arena + t->arena_len + 8, p, h[0]);
        memcpy(t->arena + t->arena_len + 8 + h[0], p, h[1]);
        t->arena_len += 8 + h[0] + h[1];
        p = nl + 1;
    }
    munmap((void *)(uintptr_t)data, size);
    return 0;
}

static int base_get(const base_table *t, const void *key, size_t len, const void **v, size_t *vl) {
    uint64_t hash = XXH3_64bits(key, len), pos = hash & t->mask, tag = hash >> 40;
    for (;; pos = (pos + 1) & t->mask) {
        uint64_t s = t->slots[pos];
        if (!s) return -ENOENT;
        if (s >> 40 != tag) continue;
        const char *rec = t->arena + (s & ((1ull << 40) - 1)) - 1;
        uint32_t h[2];
        memcpy(h, rec, 8);
        if (h[0] == len && !memcmp(rec + 8, key, len)) {
            *v = rec + 8 + h[0];
            *vl = h[1];
            return 0;
        }
    }
}

/* ---- workers ---------------------------------------------------------------------------- */

typedef struct worker {
    pthread_t thread;
    int id;
    bool baseline;
    prs_sidedb *db;
    const char *csv;
    uint64_t rows, lookups;
    double load_s, single_per_s, many_per_s;
    uint64_t wrong;
    base_table table;
    prs_sidedb_reader *reader;
} worker;

static pthread_barrier_t start_line;

/* A row is right when it starts with its key and names its number. */
static bool row_ok(const char *key, const char *row, size_t len) {
    return len > 24 && !memcmp(row, key, KEY_LEN) && !memcmp(row + 16, key + 1, 8);
}

static void *worker_main(void *arg) {
    worker *w = arg;
    uint64_t s = 0x9e3779b97f4a7c15ull * (uint64_t)(w->id + 1);
    char key[KEY_LEN];
    const void *v;
    size_t vl;
    if (w->baseline) {
        double t0 = now_s();
        if (base_load(&w->table, w->csv) != 0) w->wrong++;
        w->load_s = now_s() - t0;
    } else {
        prs_sidedb_reader_open(w->db, &w->reader);
        prs_sidedb_reader_begin(w->reader);
    }
    pthread_barrier_wait(&start_line); /* the timed part runs with every worker at once */
    double t0 = now_s();
    for (uint64_t i = 0; i < w->lookups; i++) {
        key_of(xorshift(&s) % w->rows, key);
        int rc = w->baseline ? base_get(&w->table, key, KEY_LEN, &v, &vl)
                             : prs_sidedb_get(w->reader, 0, key, KEY_LEN, &v, &vl);
        if (rc || !row_ok(key, v, vl)) w->wrong++;
    }
    w->single_per_s = (double)w->lookups / (now_s() - t0);
    if (!w->baseline) {
        char keys[MANY][KEY_LEN];
        const void *kp[MANY], *vals[MANY];
        size_t kl[MANY], vls[MANY];
        int found[MANY];
        for (unsigned i = 0; i < MANY; i++) {
            kp[i] = keys[i];
            kl[i] = KEY_LEN;
        }
        t0 = now_s();
        for (uint64_t i = 0; i < w->lookups; i += MANY) {
            for (unsigned k = 0; k < MANY; k++)
                key_of(xorshift(&s) % w->rows, keys[k]);
            size_t hits = prs_sidedb_get_many(w->reader, 0, MANY, kp, kl, vals, vls, found);
            if (hits != MANY || !row_ok(keys[MANY - 1], vals[MANY - 1], vls[MANY - 1])) w->wrong++;
        }
        w->many_per_s = (double)w->lookups / (now_s() - t0);
    }
    return NULL;
}

/* One case in this (child) process: prints "load_s rss_mib single/s many/s wrong". */
static int run_case(const char *mode, int workers, const char *csv, const char *dir, uint64_t rows,
                    uint64_t lookups) {
    bool baseline = !strcmp(mode, "base");
    prs_sidedb *db = NULL;
    char err[1024];
    double load_s = 0;
    if (!baseline) {
        if (prs_sidedb_open(&db, dir, 1, err, sizeof(err))) {
            fprintf(stderr, "bench_side: %s\n", err);
            return 2;
        }
        prs_side_table t = {.name = "t", .format = PRS_SIDE_CSV};
        snprintf(t.path, sizeof(t.path), "%s", csv);
        prs_sidedb_load_info info;
        double t0 = now_s();
        if (prs_side_table_load(db, &t, &info, err, sizeof(err))) {
            fprintf(stderr, "bench_side: %s\n", err);
            return 2;
        }
        load_s = now_s() - t0;
        if (info.rows != rows) return 1;
    }
    if (workers == 0) { /* the load case */
        printf("%.3f %.2f 0 0 0\n", load_s, rss_mib());
        prs_sidedb_close(db);
        return 0;
    }
    worker *w = calloc((size_t)workers, sizeof(*w));
    pthread_barrier_init(&start_line, NULL, (unsigned)workers);
    for (int i = 0; i < workers; i++) {
        w[i] = (worker){
            .id = i, .baseline = baseline, .db = db, .csv = csv, .rows = rows, .lookups = lookups};
        pthread_create(&w[i].thread, NULL, worker_main, &w[i]);
    }
    double single = 0, many = 0, wload = 0;
    uint64_t wrong = 0;
    for (int i = 0; i < workers; i++) {
        pthread_join(w[i].thread, NULL);
        single += w[i].single_per_s / workers;
        many += w[i].many_per_s / workers;
        wload = w[i].load_s > wload ? w[i].load_s : wload;
        wrong += w[i].wrong;
    }
    double rss = rss_mib(); /* tables and readers still held */
    printf("%.3f %.2f %.0f %.0f %llu\n", baseline ? wload : load_s, rss, single, many,
           (unsigned long long)wrong);
    for (int i = 0; i < workers; i++) {
        free(w[i].table.slots);
        free(w[i].table.arena);
        prs_sidedb_reader_close(w[i].reader);
    }
    free(w);
    prs_sidedb_close(db);
    return wrong ? 1 : 0;
}

typedef struct result {
    double load_s, rss, single, many;
    unsigned long long wrong;
} result;

static int child(const char *self, const char *mode, int workers, const char *csv, const char *dir,
                 uint64_t rows, uint64_t lookups, result *r) {
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "'%s' --case %s %d '%s' '%s' %llu %llu", self, mode, workers, csv,
             dir, (unsigned long long)rows, (unsigned long long)lookups);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    int n = fscanf(p, "%lf %lf %lf %lf %llu", &r->load_s, &r->rss, &r->single, &r->many, &r->wrong);
    int status = pclose(p);
    return n == 5 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc == 8 && !strcmp(argv[1], "--case")) {
        return run_case(argv[2], atoi(argv[3]), argv[4], argv[5], strtoull(argv[6], NULL, 10),
                        strtoull(argv[7], NULL, 10));
    }
    uint64_t rows = argc > 1 ? strtoull(argv[1], NULL, 10) : 5000000;
    uint64_t lookups = argc > 2 ? strtoull(argv[2], NULL, 10) : 20000000;
    if (rows < 1 || rows > 99999999 || lookups < MANY) {
        fprintf(stderr, "usage: bench_side [rows 1..99999999] [lookups >= %u]\n", MANY);
        return 2;
    }
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char dir[512], csv[600], db[600], self[4096];
    snprintf(dir, sizeof(dir), "%s/prs-bench-side-%llu", tmp, (unsigned long long)rows);
    snprintf(csv, sizeof(csv), "%s/table.csv", dir);
    snprintf(db, sizeof(db), "%s/side", dir);
    ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (sl < 0) return 2;
    self[sl] = 0;
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", dir, db);
    if (system(cmd) != 0) return 2;
    double t0 = now_s();
    if (gen_table(csv, rows) != 0) return 2;
    sync(); /* the csv's writeback is not the load's: the load's syncs would wait for it */
    struct stat st;
    stat(csv, &st);
    printf("table: %llu rows, %.1f MiB csv (generated in %.1f s); %llu lookups per worker\n",
           (unsigned long long)rows, (double)st.st_size / 1048576.0, now_s() - t0,
           (unsigned long long)lookups);
    fflush(stdout);
    result pl, p1, p2, b1, b2;
    /* The load in a process of its own: the lookup cases reuse it (a hash check only), so
     * their RSS holds no memory left over from loading. */
    if (child(self, "prs", 0, csv, db, rows, lookups, &pl) ||
        child(self, "prs", 1, csv, db, rows, lookups, &p1) ||
        child(self, "prs", 2, csv, db, rows, lookups, &p2) ||
        child(self, "base", 1, csv, db, rows, lookups, &b1) ||
        child(self, "base", 2, csv, db, rows, lookups, &b2)) {
        fprintf(stderr, "bench_side: a case failed (wrong rows or an error)\n");
        return 1;
    }
    stat(db, &st);
    char path[700];
    snprintf(path, sizeof(path), "%s/data.mdb", db);
    stat(path, &st);
    printf("load: prs %.2f s into LMDB (%.1f MiB data.mdb, once per job); baseline %.2f s per "
           "worker (every worker, every process start)\n",
           pl.load_s, (double)st.st_size / 1048576.0, b1.load_s);
    printf("lookups/s per worker, 1 worker:  prs get %.2fM, get_many %.2fM; baseline %.2fM\n",
           p1.single / 1e6, p1.many / 1e6, b1.single / 1e6);
    printf("lookups/s per worker, 2 workers: prs get %.2fM, get_many %.2fM; baseline %.2fM "
           "(prs get / baseline %.2f)\n",
           p2.single / 1e6, p2.many / 1e6, b2.single / 1e6, p2.single / b2.single);
    printf("RSS: prs %.1f MiB (1 worker), %.1f MiB (2); baseline %.1f MiB (1), %.1f MiB (2)\n",
           p1.rss, p2.rss, b1.rss, b2.rss);
    printf("RSS growth per extra worker: prs %+.2f MiB, baseline %+.1f MiB\n", p2.rss - p1.rss,
           b2.rss - b1.rss);
    printf("target single get >= 5M/s per worker (2 workers): %s (%.2fM); get_many: %s (%.2fM)\n",
           p2.single >= 5e6 ? "MET" : "MISSED", p2.single / 1e6, p2.many >= 5e6 ? "MET" : "MISSED",
           p2.many / 1e6);
    printf("target RSS growth <= 1 MiB per extra worker: %s (%+.2f MiB)\n",
           p2.rss - p1.rss <= 1.0 ? "MET" : "MISSED", p2.rss - p1.rss);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) return 2;
    return 0;
}
