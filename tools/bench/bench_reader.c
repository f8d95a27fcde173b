/* bench_reader -- the batch reader's io_uring path against its sync path and a plain loop.
 *
 * Usage: bench_reader [files] [dir] [batch]
 *   files  number of 4 KiB files (default 200000; 1000 .. 2000000)
 *   dir    where they live (default $TMPDIR/prs-bench-reader-<files>); made once, reused
 *          on later runs (a marker file says it is complete), never deleted
 *   batch  files per batch (default 64; 1 .. 4096)
 *
 * All files are read once first so the page cache is warm: this measures per-file CPU
 * cost (syscalls, io_uring overhead, copies), not the disk. Each case runs on 2 threads,
 * pinned to CPUs 0 and 1 when there are two, each over its own half of the files, and
 * hashes every byte it gets (so data is touched, and the hash sums must agree):
 *   io_uring reader   prs_reader in mode URING, two slots: batch k+1 is submitted
 *                     before batch k is hashed, as a prs worker does
 *   sync reader       prs_reader in mode SYNC, same loop (its reads happen in wait)
 *   plain loop        openat + pread(64 KiB buffer) + close per file
 * Each case runs 3 times, interleaved; the median is reported.
 * Then a cold-data section: before each case, the pages of the first min(files, 20000)
 * files are dropped from the page cache with syncfs + posix_fadvise(DONTNEED) (untimed;
 * only this benchmark's own files are dropped, nothing machine-wide), checked with mincore
 * on a sample (the share still cached is printed), and each case reads them once. Dentries and
 * inodes stay cached, so this is "data on disk, metadata warm": what the reader's reads in
 * flight buy when the bytes really come from the device.
 * Exit 1 if the hash sums differ or a read fails (correctness); a missed speed target is
 * reported, not an error. */
#include "reader.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FILE_BYTES 4096u
#define THREADS 2u
#define ROUNDS 3
#define PLAIN_BUF_BYTES (64u << 10)
#define FILES_PER_DIR 1000u
#define COLD_FILES_MAX 20000u

enum kind { K_URING, K_SYNC, K_PLAIN, K_COUNT };
static const char *const kind_name[K_COUNT] = {"io_uring reader", "sync reader", "plain loop"};

typedef struct job {
    enum kind kind;
    int dirfd;
    const char *const *paths;
    uint32_t n;
    uint32_t batch;
    unsigned cpu;
    pthread_barrier_t *start;
    uint64_t hash;
    uint64_t bytes;
    uint64_t failures;
    int rc;
    char why[PRS_READER_WHY_BYTES];
} job;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Cheap but reads every byte: independent lanes of word sums and xors (vectorised), so
 * the hash does not drown the I/O cost being measured. */
static uint64_t hash_bytes(const void *data, size_t n) {
    const uint8_t *p = data;
    uint64_t sum[4] = {0}, x[4] = {0};
    size_t k = 0;
    for (; k + 32 <= n; k += 32) {
        uint64_t w[4];
        memcpy(w, p + k, 32);
        for (int l = 0; l < 4; l++) {
            sum[l] += w[l];
            x[l] ^= w[l];
        }
    }
    uint64_t h = n;
    for (; k < n; k++)
        h = h * 31u + p[k];
    for (int l = 0; l < 4; l++)
        h = (h ^ sum[l]) * 0x100000001b3ull ^ (x[l] << l);
    return h;
}

static void pin(unsigned cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    (void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void run_plain(job *j) {
    static __thread uint8_t buf[PLAIN_BUF_BYTES];
    for (uint32_t i = 0; i < j->n; i++) {
        int fd = openat(j->dirfd, j->paths[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            j->failures++;
            continue;
        }
        ssize_t got = pread(fd, buf, sizeof(buf), 0);
        close(fd);
        if (got < 0) {
            j->failures++;
            continue;
        }
        j->hash += hash_bytes(buf, (size_t)got);
        j->bytes += (uint64_t)got;
    }
}

static void consume(job *j, const prs_read_item *items, int n) {
    for (int k = 0; k < n; k++) {
        if (items[k].error) {
            j->failures++;
            continue;
        }
        j->hash += hash_bytes(items[k].data, items[k].size_bytes);
        j->bytes += items[k].size_bytes;
    }
}

/* The worker loop prs runs: submit the next batch, then work on the current one. */
static void run_reader(job *j, prs_reader *r) {
    uint32_t nb = (j->n + j->batch - 1) / j->batch;
    if (nb == 0) return;
    j->rc = prs_reader_submit(r, 0, j->paths, PRS_MIN(j->batch, j->n));
    for (uint32_t b = 0; b < nb && !j->rc; b++) {
        unsigned cur = b % 2, nxt = (b + 1) % 2;
        if (b + 1 < nb) {
            uint32_t off = (b + 1) * j->batch;
            j->rc = prs_reader_submit(r, nxt, j->paths + off, PRS_MIN(j->batch, j->n - off));
            if (j->rc) break;
        }
        const prs_read_item *items;
        int got = prs_reader_wait(r, cur, &items);
        if (got < 0) {
            j->rc = got;
            break;
        }
        consume(j, items, got);
        prs_reader_release(r, cur);
    }
}

static void *thread_main(void *arg) {
    job *j = arg;
    pin(j->cpu);
    prs_reader *r = NULL;
    if (j->kind != K_PLAIN) {
        /* Created on the thread that uses it: the ring is single-issuer. */
        enum prs_io_mode mode = j->kind == K_URING ? PRS_IO_URING : PRS_IO_SYNC;
        j->rc = prs_reader_create(&r, j->dirfd, mode, 0, j->why, sizeof(j->why));
    }
    pthread_barrier_wait(j->start);
    if (j->rc == 0) {
        if (j->kind == K_PLAIN)
            run_plain(j);
        else
            run_reader(j, r);
    }
    pthread_barrier_wait(j->start);
    prs_reader_destroy(r);
    return NULL;
}

typedef struct result {
    double seconds;
    uint64_t hash, bytes, failures;
    int rc;
    char why[PRS_READER_WHY_BYTES];
} result;

static result run_case(enum kind kind, int dirfd, const char *const *paths, uint32_t n,
                       uint32_t batch, long cpus) {
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS + 1);
    job jobs[THREADS];
    pthread_t th[THREADS];
    for (unsigned t = 0; t < THREADS; t++) {
        uint32_t lo = (uint32_t)((uint64_t)n * t / THREADS);
        uint32_t hi = (uint32_t)((uint64_t)n * (t + 1) / THREADS);
        jobs[t] = (job){.kind = kind,
                        .dirfd = dirfd,
                        .paths = paths + lo,
                        .n = hi - lo,
                        .batch = batch,
                        .cpu = (unsigned)(cpus >= 2 ? t : 0),
                        .start = &start};
        pthread_create(&th[t], NULL, thread_main, &jobs[t]);
    }
    pthread_barrier_wait(&start); /* readers are set up */
    uint64_t t0 = now_ns();
    pthread_barrier_wait(&start); /* all threads done */
    uint64_t t1 = now_ns();
    result res = {.seconds = (double)(t1 - t0) / 1e9};
    for (unsigned t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        res.hash += jobs[t].hash;
        res.bytes += jobs[t].bytes;
        res.failures += jobs[t].failures;
        if (jobs[t].rc && !res.rc) res.rc = jobs[t].rc;
    }
    snprintf(res.why, sizeof(res.why), "%s", jobs[0].why);
    pthread_barrier_destroy(&start);
    return res;
}

static int make_dataset(const char *dir, uint32_t n) {
    char marker[4200];
    snprintf(marker, sizeof(marker), "%s/.complete-%u", dir, n);
    if (access(marker, F_OK) == 0) return 0;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) return -errno;
    uint8_t buf[FILE_BYTES];
    char path[4300];
    uint64_t t0 = now_ns();
    for (uint32_t i = 0; i < n; i++) {
        if (i % FILES_PER_DIR == 0) {
            snprintf(path, sizeof(path), "%s/d%04u", dir, i / FILES_PER_DIR);
            if (mkdir(path, 0755) != 0 && errno != EEXIST) return -errno;
        }
        for (uint32_t k = 0; k < FILE_BYTES; k++)
            buf[k] = (uint8_t)(i * 131u + k * 7u);
        snprintf(path, sizeof(path), "%s/d%04u/f%07u", dir, i / FILES_PER_DIR, i);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) return -errno;
        ssize_t w = write(fd, buf, sizeof(buf));
        close(fd);
        if (w != (ssize_t)sizeof(buf)) return -EIO;
    }
    int fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) close(fd);
    fprintf(stderr, "generated %u files in %.1f s\n", n, (double)(now_ns() - t0) / 1e9);
    return 0;
}

/* Drops the files' pages from the page cache: written back first (DONTNEED skips dirty
 * pages, and a fresh dataset is dirty), then advised away. Returns 0 or -errno. */
static int evict(int dirfd, const char *const *paths, uint32_t n) {
    if (syncfs(dirfd) != 0) return -errno;
    for (uint32_t i = 0; i < n; i++) {
        int fd = openat(dirfd, paths[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) return -errno;
        int rc = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
        if (rc) return -rc;
    }
    return 0;
}

/* Fraction of pages still cached, over every 64th file: proof the cold case is cold. */
static double resident_fraction(int dirfd, const char *const *paths, uint32_t n) {
    uint64_t pages = 0, resident = 0;
    for (uint32_t i = 0; i < n; i += 64) {
        int fd = openat(dirfd, paths[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        void *m = mmap(NULL, FILE_BYTES, PROT_READ, MAP_SHARED, fd, 0);
        close(fd);
        if (m == MAP_FAILED) continue;
        unsigned char vec[FILE_BYTES / 4096];
        if (mincore(m, FILE_BYTES, vec) == 0)
            for (size_t k = 0; k < sizeof(vec); k++)
                resident += vec[k] & 1u;
        pages += sizeof(vec);
        munmap(m, FILE_BYTES);
    }
    return pages ? (double)resident / (double)pages : 1.0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    uint32_t n = 200000, batch = 64;
    if (argc > 1) n = (uint32_t)strtoul(argv[1], NULL, 10);
    if (argc > 3) batch = (uint32_t)strtoul(argv[3], NULL, 10);
    if (n < 1000 || n > 2000000 || batch < 1 || batch > 4096) {
        fprintf(stderr, "usage: bench_reader [files 1000..2000000] [dir] [batch 1..4096]\n");
        return 2;
    }
    char dir[4096];
    if (argc > 2) {
        snprintf(dir, sizeof(dir), "%s", argv[2]);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof(dir), "%s/prs-bench-reader-%u", tmp && *tmp ? tmp : "/tmp", n);
    }
    int rc = make_dataset(dir, n);
    if (rc) {
        fprintf(stderr, "bench_reader: cannot make %s: %s\n", dir, strerror(-rc));
        return 2;
    }
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        perror(dir);
        return 2;
    }
    char **paths = malloc(n * sizeof(*paths));
    if (!paths) return 2;
    for (uint32_t i = 0; i < n; i++) {
        char p[32];
        snprintf(p, sizeof(p), "d%04u/f%07u", i / FILES_PER_DIR, i);
        paths[i] = strdup(p);
        if (!paths[i]) return 2;
    }
    const char *const *cpaths = (const char *const *)paths;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    /* Warm the page cache (and the dentry cache) so every case sees the same memory. */
    result warm = run_case(K_PLAIN, dirfd, cpaths, n, batch, cpus);
    if (warm.failures || warm.bytes != (uint64_t)n * FILE_BYTES) {
        fprintf(stderr, "bench_reader: warm-up read %llu bytes with %llu failures\n",
                (unsigned long long)warm.bytes, (unsigned long long)warm.failures);
        return 1;
    }

    double secs[K_COUNT][ROUNDS];
    result last[K_COUNT];
    bool have[K_COUNT] = {true, true, true};
    int bad = 0;
    for (int round = 0; round < ROUNDS; round++) {
        for (int k = 0; k < K_COUNT; k++) {
            if (!have[k]) continue;
            result res = run_case((enum kind)k, dirfd, cpaths, n, batch, cpus);
            if (res.rc) {
                fprintf(stderr, "%s: unavailable (%d): %s\n", kind_name[k], res.rc, res.why);
                have[k] = false;
                continue;
            }
            if (res.failures || res.hash != warm.hash || res.bytes != warm.bytes) {
                fprintf(stderr, "%s: WRONG RESULT (failures %llu, bytes %llu, hash %llx vs %llx)\n",
                        kind_name[k], (unsigned long long)res.failures,
                        (unsigned long long)res.bytes, (unsigned long long)res.hash,
                        (unsigned long long)warm.hash);
                bad = 1;
            }
            secs[k][round] = res.seconds;
            last[k] = res;
        }
    }

    printf("bench_reader: %u files of %u bytes, %u threads, batches of %u\n", n, FILE_BYTES,
           THREADS, batch);
    printf("warm page cache: %d runs per case, median\n", ROUNDS);
    if (have[K_URING]) printf("  reader (uring): %s\n", last[K_URING].why);
    double rate[K_COUNT] = {0};
    for (int k = 0; k < K_COUNT; k++) {
        if (!have[k]) continue;
        qsort(secs[k], ROUNDS, sizeof(double), cmp_double);
        double med = secs[k][ROUNDS / 2];
        rate[k] = n / med;
        printf("  %-16s %10.0f files/s  %7.1f MB/s  (median of %d: %.3f s; min %.3f, max %.3f)\n",
               kind_name[k], rate[k], rate[k] * FILE_BYTES / 1e6, ROUNDS, med, secs[k][0],
               secs[k][ROUNDS - 1]);
    }
    if (have[K_URING] && have[K_SYNC])
        printf("  uring / sync   = %.2fx (target >= 1.20x) %s\n", rate[K_URING] / rate[K_SYNC],
               rate[K_URING] >= 1.2 * rate[K_SYNC] ? "met" : "MISSED");
    if (have[K_URING])
        printf("  uring / plain  = %.2fx (target >= 1.00x) %s\n", rate[K_URING] / rate[K_PLAIN],
               rate[K_URING] >= rate[K_PLAIN] ? "met" : "MISSED");
    if (have[K_SYNC]) printf("  sync  / plain  = %.2fx\n", rate[K_SYNC] / rate[K_PLAIN]);

    uint32_t cold_n = PRS_MIN(n, COLD_FILES_MAX);
    result cold_ref = run_case(K_PLAIN, dirfd, cpaths, cold_n, batch, cpus);
    printf("cold data: first %u files, their pages dropped before each case, 1 run each\n", cold_n);
    double cold_rate[K_COUNT] = {0};
    for (int k = 0; k < K_COUNT; k++) {
        if (!have[k]) continue;
        rc = evict(dirfd, cpaths, cold_n);
        if (rc) {
            fprintf(stderr, "bench_reader: posix_fadvise: %s\n", strerror(-rc));
            return 2;
        }
        double left = resident_fraction(dirfd, cpaths, cold_n);
        result res = run_case((enum kind)k, dirfd, cpaths, cold_n, batch, cpus);
        if (res.rc || res.failures || res.hash != cold_ref.hash) {
            fprintf(stderr, "%s (cold): WRONG RESULT (rc %d, failures %llu)\n", kind_name[k],
                    res.rc, (unsigned long long)res.failures);
            bad = 1;
            continue;
        }
        cold_rate[k] = cold_n / res.seconds;
        printf("  %-16s %10.0f files/s  %7.1f MB/s  (%.3f s; %.1f%% of sampled pages still "
               "cached at start)\n",
               kind_name[k], cold_rate[k], cold_rate[k] * FILE_BYTES / 1e6, res.seconds,
               100.0 * left);
    }
    if (cold_rate[K_URING] > 0 && cold_rate[K_SYNC] > 0)
        printf("  uring / sync   = %.2fx\n", cold_rate[K_URING] / cold_rate[K_SYNC]);
    if (cold_rate[K_URING] > 0 && cold_rate[K_PLAIN] > 0)
        printf("  uring / plain  = %.2fx\n", cold_rate[K_URING] / cold_rate[K_PLAIN]);

    for (uint32_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    close(dirfd);
    return bad;
}
