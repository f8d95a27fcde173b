/* bench_io.c -- the baselines tools/bench/io measures prs against, in the same run.
 *
 *   bench_io read LIST THREADS   the files listed in LIST (one path a line, relative to the
 *                                current directory), read by THREADS threads with a plain
 *                                open/pread/close loop into a reused buffer, each file
 *                                hashed (FNV-1a, as tools/examples/hash.c); prints files/s
 *   bench_io memchr FILE         FILE mapped and scanned for '\n' with memchr (the ceiling
 *                                of any record splitter); prints GB/s and the line count
 *
 * Both print one line "name value unit". */
#include "base.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct job {
    char **paths;
    size_t count;
    atomic_size_t next;
    atomic_uint_fast64_t sink;
} job;

static void *reader_main(void *arg) {
    job *j = arg;
    size_t cap = 1 << 20;
    unsigned char *buf = malloc(cap);
    uint64_t acc = 0;
    for (;;) {
        size_t i = atomic_fetch_add(&j->next, 64); /* claim 64 files at a time */
        if (i >= j->count) break;
        size_t end = PRS_MIN(i + 64, j->count);
        for (; i < end; i++) {
            int fd = open(j->paths[i], O_RDONLY | O_CLOEXEC);
            if (fd < 0) continue;
            ssize_t n = pread(fd, buf, cap, 0);
            close(fd);
            uint64_t h = 0xcbf29ce484222325ull;
            for (ssize_t k = 0; k < n; k++)
                h = (h ^ buf[k]) * 0x100000001b3ull;
            acc += h;
        }
    }
    atomic_fetch_add(&j->sink, acc);
    free(buf);
    return NULL;
}

static int cmd_read(const char *list, int threads) {
    FILE *f = fopen(list, "re");
    if (!f) {
        perror(list);
        return 1;
    }
    job j = {0};
    size_t cap = 1024;
    j.paths = malloc(cap * sizeof(char *));
    char line[4096];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = 0;
        if (j.count == cap) j.paths = realloc(j.paths, (cap *= 2) * sizeof(char *));
        j.paths[j.count++] = strdup(line);
    }
    fclose(f);
    pthread_t t[64];
    threads = PRS_MIN(PRS_MAX(threads, 1), 64);
    double t0 = now_s();
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, reader_main, &j);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    double dt = now_s() - t0;
    printf("plain_loop %.0f files/s\n", (double)j.count / dt);
    for (size_t i = 0; i < j.count; i++)
        free(j.paths[i]);
    free(j.paths);
    return 0;
}

static int cmd_memchr(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        perror(path);
        return 1;
    }
    size_t len = (size_t)st.st_size;
    double t0 = now_s();
    const char *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    madvise((void *)(uintptr_t)p, len, MADV_SEQUENTIAL);
    size_t lines = 0;
    for (const char *q = p, *end = p + len; q < end;) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        if (!nl) break;
        lines++;
        q = nl + 1;
    }
    double dt = now_s() - t0;
    munmap((void *)(uintptr_t)p, len);
    close(fd);
    printf("memchr %.3f GB/s (%zu lines)\n", (double)len / dt / 1e9, lines);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "read")) return cmd_read(argv[2], atoi(argv[3]));
    if (argc == 3 && !strcmp(argv[1], "memchr")) return cmd_memchr(argv[2]);
    fprintf(stderr, "usage: bench_io read LIST THREADS | bench_io memchr FILE\n");
    return 2;
}
