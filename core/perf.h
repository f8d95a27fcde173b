/* perf.h -- logs/sys/perf/overview.csv: resource usage sampled every --perf-interval.
 *
 * Owns: the CSV file and the previous sample (for CPU % over the interval).
 * May call: libc, pthreads (pthread_getcpuclockid), core/base (clock.h), /proc/self,
 *   jemalloc's mallctl when the binary links it (weak: 0 columns otherwise).
 * Callers must: use it from the coordinator thread only; pass worker threads that are
 *   running (joined threads have no CPU clock).
 * Rows: one per worker (its thread's CPU %, input bytes read, batches done) and one for
 *   the process (CPU %, RSS, jemalloc stats.allocated / active / resident, input bytes
 *   read by all workers, batches done). bytes_read counts the bytes of the inputs handed
 *   to run() (files' bytes, tabular ranges) as the workers read them, on every I/O path:
 *   /proc's rchar misses io_uring reads and mapped files. Worker rows leave the memory columns
 *   empty: memory belongs to the process, not to a thread. */
#ifndef PRS_PERF_H
#define PRS_PERF_H

#include "base.h"

#include <pthread.h>

typedef struct prs_perf prs_perf;

typedef struct prs_perf_worker {
    pthread_t thread;
    int32_t tid; /* 0 until known (its first batch) */
    uint64_t batches_done;
    uint64_t input_bytes; /* read for its batches (prs_done_msg.input_bytes, summed) */
} prs_perf_worker;

/* logs_dir: OUT/logs. interval_s: seconds between samples, >= 1. */
int prs_perf_open(prs_perf **out, const char *logs_dir, uint32_t interval_s, uint32_t workers);
/* Samples if interval_s passed since the last sample (or force). */
void prs_perf_tick(prs_perf *p, const prs_perf_worker *w, uint32_t n, bool force);
void prs_perf_close(prs_perf *p);

#endif
