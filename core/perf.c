/* perf.c -- see perf.h. */
#include "perf.h"
#include "fs.h"
#include "clock.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
    __attribute__((weak));

struct prs_perf {
    FILE *csv;
    uint64_t interval_ns;
    uint64_t last_ns;       /* monotonic time of the previous sample; 0: none yet */
    uint64_t last_proc_cpu; /* process CPU ns at the previous sample */
    uint32_t workers;
    uint64_t *last_cpu; /* per worker */
};

int prs_perf_open(prs_perf **out, const char *logs_dir, uint32_t interval_s, uint32_t workers) {
    prs_perf *p = calloc(1, sizeof(*p));
    if (!p) return -ENOMEM;
    p->last_cpu = calloc(workers ? workers : 1, sizeof(uint64_t));
    if (!p->last_cpu) goto undo_p;
    p->workers = workers;
    p->interval_ns = (uint64_t)(interval_s ? interval_s : 1) * 1000000000ull;
    char path[4200];
    snprintf(path, sizeof(path), "%s/sys/perf", logs_dir);
    if (prs_mkdir_p(path) != 0) goto undo_cpu;
    snprintf(path, sizeof(path), "%s/sys/perf/overview.csv", logs_dir);
    p->csv = prs_fopen_nofollow(path, "a");
    if (!p->csv) goto undo_cpu;
    if (ftell(p->csv) == 0) {
        fputs("time,who,pid,tid,cpu_percent,rss_bytes,jemalloc_allocated_bytes,"
              "jemalloc_active_bytes,jemalloc_resident_bytes,bytes_read,batches_done\n",
              p->csv);
    }
    *out = p;
    return 0;
undo_cpu:
    free(p->last_cpu);
undo_p : {
    int rc = -errno;
    free(p);
    return rc ? rc : -ENOMEM;
}
}

static uint64_t rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "re");
    if (!f) return 0;
    unsigned long long size = 0, resident = 0;
    if (fscanf(f, "%llu %llu", &size, &resident) != 2) resident = 0;
    fclose(f);
    return resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static uint64_t jemalloc_stat(const char *name) {
    if (!mallctl) return 0;
    size_t v = 0, len = sizeof(v);
    return mallctl(name, &v, &len, NULL, 0) == 0 ? (uint64_t)v : 0;
}

void prs_perf_tick(prs_perf *p, const prs_perf_worker *w, uint32_t n, bool force) {
    uint64_t now = prs_clock_ns(CLOCK_MONOTONIC);
    if (!force && p->last_ns && now - p->last_ns < p->interval_ns) return;
    uint64_t span = p->last_ns ? now - p->last_ns : 0;
    uint64_t wall_ms = prs_wall_ms();
    time_t t = (time_t)(wall_ms / 1000u);
    struct tm tm;
    gmtime_r(&t, &tm);
    char ts[40];
    size_t tn = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + tn, sizeof(ts) - tn, ".%03uZ", (unsigned)(wall_ms % 1000u)); /* as every log */
    int pid = (int)getpid();
    uint64_t batches = 0, input = 0;
    n = PRS_MIN(n, p->workers);
    for (uint32_t i = 0; i < n; i++) {
        clockid_t cid;
        uint64_t cpu = pthread_getcpuclockid(w[i].thread, &cid) == 0 ? prs_clock_ns(cid) : 0;
        double pct = span ? 100.0 * (double)(cpu - p->last_cpu[i]) / (double)span : 0.0;
        p->last_cpu[i] = cpu;
        batches += w[i].batches_done;
        input += w[i].input_bytes;
        fprintf(p->csv, "%s,worker-%u,%d,%d,%.1f,,,,,%llu,%llu\n", ts, i, pid, w[i].tid, pct,
                (unsigned long long)w[i].input_bytes, (unsigned long long)w[i].batches_done);
    }
    uint64_t proc = prs_clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    double pct = span ? 100.0 * (double)(proc - p->last_proc_cpu) / (double)span : 0.0;
    p->last_proc_cpu = proc;
    if (mallctl) { /* refresh jemalloc's cached statistics */
        uint64_t epoch = 1;
        size_t len = sizeof(epoch);
        mallctl("epoch", &epoch, &len, &epoch, len);
    }
    fprintf(p->csv, "%s,process,%d,%d,%.1f,%llu,%llu,%llu,%llu,%llu,%llu\n", ts, pid, pid, pct,
            (unsigned long long)rss_bytes(), (unsigned long long)jemalloc_stat("stats.allocated"),
            (unsigned long long)jemalloc_stat("stats.active"),
            (unsigned long long)jemalloc_stat("stats.resident"), (unsigned long long)input,
            (unsigned long long)batches);
    fflush(p->csv);
    p->last_ns = now;
}

void prs_perf_close(prs_perf *p) {
    if (!p) return;
    if (p->csv) fclose(p->csv);
    free(p->last_cpu);
    free(p);
}
