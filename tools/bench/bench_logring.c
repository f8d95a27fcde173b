/* bench_logring -- what the log ring costs producers, against the obvious alternative.
 *
 * Usage: bench_logring [--pin] [total_records]   (default 10000000; 1000 .. 100000000)
 *   --pin: pin producer i to CPU i, as prs pins its workers (the consumer is not pinned).
 *
 * Every case: 2 producer threads write log lines ("worker N batch ...", 54..56 bytes of
 * message) between them; each line carries a CLOCK_REALTIME stamp, a level and the
 * worker id. "text" cases log a message that is already a string (prs_logring_push),
 * "format" cases log printf arguments (prs_logring_pushf; the baseline formats the same
 * arguments). Formatting costs several times a push, so format cases run total/4 records.
 *   ring: ..., consumer pops             a WAIT ring of 4096 records; the consumer pops and
 *                                        discards: the ring's own throughput.
 *   ring: ..., consumer writes /dev/null the consumer also builds each line (by hand, see
 *                                        format_line) and fwrite()s it: end to end, one
 *                                        flusher thread.
 *   baseline fprintf under mutex         the baseline asked for: each producer reads the
 *                                        clock, takes a shared pthread mutex and fprintf()s
 *                                        the whole line to one FILE* on /dev/null.
 *   baseline hand-built line, fwrite     the best a mutex design does: the line built
 *                                        outside the lock, only fwrite() under it.
 *   latency                              bursts that always fit (2 x 16384 into a 65536 ring,
 *                                        drained between bursts), every 8th push timed with
 *                                        CLOCK_MONOTONIC; samples include one clock read,
 *                                        whose cost is printed alongside.
 * /dev/null is the baselines' best case (no disk). When the ring is empty the consumer
 * sleeps 20 us, as a flusher should (see idle()).
 * Exit 1 if a count comes out wrong (a correctness failure); a missed performance target
 * is reported in the table but is not an error (timings on a shared machine vary). */
#include "logring.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PRODUCERS 2u
#define RING_RECORDS 4096u
#define LAT_RING_RECORDS PRS_LOGRING_MAX_RECORDS
#define LAT_BURST_RECORDS (LAT_RING_RECORDS / 4u) /* per producer: 2 bursts fill half */
#define LAT_ROUNDS 32u
#define LAT_SAMPLE_EVERY 8u
#define LEVEL_INFO 20

static uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Consumer-side wait for "ring empty", as a flusher would do it: sleep, do not spin. A
 * consumer polling an empty ring keeps pulling the very cache line the next producer is
 * writing; measured here, that cost about 40% of the throughput. 20 us (~70 us with the
 * default timer slack) lets ~1000 records gather, well inside the 4096-record ring. */
static void idle(void) {
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 20000};
    nanosleep(&ts, NULL);
}

/* ---- a start line all threads cross together ------------------------------------------- */

static atomic_uint ready_threads;
static atomic_bool go;
static bool pin_producers;

/* Workers in prs are pinned one per CPU; with --pin the producers are too. Best effort. */
static void pin_self(uint32_t id) {
    if (!pin_producers) return;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((int)(id % (uint32_t)PRS_MAX(cpus, 1)), &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void start_line(void) {
    atomic_fetch_add(&ready_threads, 1);
    while (!atomic_load_explicit(&go, memory_order_acquire))
        sched_yield();
}

static void start_all(unsigned threads) {
    while (atomic_load(&ready_threads) < threads)
        sched_yield();
    atomic_store_explicit(&go, true, memory_order_release);
}

static void start_reset(void) {
    atomic_store(&ready_threads, 0);
    atomic_store(&go, false);
}

/* ---- log lines --------------------------------------------------------------------------- */

static const char *level_name(int32_t level) {
    return level >= 40 ? "ERROR" : level >= 30 ? "WARNING" : level >= 20 ? "INFO" : "DEBUG";
}

/* Writes v as exactly `digits` decimal digits (zero-padded; v must fit). */
static char *put_digits(char *p, uint64_t v, int digits) {
    for (int i = digits - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + digits;
}

static char *put_str(char *p, const char *s, size_t n) {
    memcpy(p, s, n);
    return p + n;
}

/* The consumer's log line, "<sec>.<nsec> LEVEL worker N: text\n", built by hand: the
 * same bytes snprintf would give, at a fraction of the cost, which matters because one
 * flusher formats every producer's lines. */
static size_t format_line(char *line, const prs_log_record *rec) {
    char *p = line;
    p = put_digits(p, rec->timestamp_ns / 1000000000u, 10);
    *p++ = '.';
    p = put_digits(p, rec->timestamp_ns % 1000000000u, 9);
    *p++ = ' ';
    const char *lv = level_name(rec->level);
    p = put_str(p, lv, strlen(lv));
    p = put_str(p, " worker ", 8);
    uint32_t id = rec->producer_id;
    int digits = 1;
    for (uint32_t v = id; v >= 10; v /= 10)
        digits++;
    p = put_digits(p, id, digits);
    p = put_str(p, ": ", 2);
    p = put_str(p, rec->text, rec->len);
    *p++ = '\n';
    return (size_t)(p - line);
}

/* ---- the producers' work, ring and baseline ---------------------------------------------- */

/* What producers log. TEXT: the message is already a string (the entry script has the
 * bytes; prs_logring_push). FORMAT: printf-style arguments (prs_logring_pushf; the
 * baseline formats the same arguments with fprintf). Either way each log line gets
 * timestamp, level and worker id: the ring stores them as fields and the consumer formats
 * the line; the baseline formats the whole line under its lock. */
enum work {
    WORK_TEXT,
    WORK_FORMAT,
    WORK_TEXT_HAND, /* baseline only: the line built by format_line, fwrite under the lock */
};

/* A typical entry-script line, 54..56 bytes: with the 28-byte slot header it spans two
 * cache lines, as most real log lines do (texts under 36 bytes fit in one, and run
 * faster; see the report in the commit message). */
#define MSG_FMT "worker %u batch %06llu item %02u: scored %d rows, model ok"
#define MSG_ARGS(id, i)                                                                            \
    (id), (unsigned long long)((i) / 64), (unsigned)((i) % 64), (int)((i) % 1000)
#define N_TEXTS 64u

struct producer {
    enum work work;
    prs_logring *r; /* ring cases */
    FILE *f;        /* baseline cases */
    pthread_mutex_t *lock;
    uint32_t id;
    uint64_t count;
    uint64_t failed;
    char texts[N_TEXTS][80]; /* WORK_TEXT: the messages, made before the clock starts */
    uint16_t text_lens[N_TEXTS];
};

static void producer_setup(struct producer *p) {
    for (uint32_t k = 0; k < N_TEXTS; k++) {
        int n = snprintf(p->texts[k], sizeof(p->texts[k]), MSG_FMT, MSG_ARGS(p->id, k));
        p->text_lens[k] = (uint16_t)n;
    }
}

static inline int ring_push(struct producer *p, uint64_t i) {
    if (p->work == WORK_TEXT) {
        uint32_t k = (uint32_t)(i % N_TEXTS);
        return prs_logring_push(p->r, p->id, LEVEL_INFO, p->texts[k], p->text_lens[k]);
    }
    return prs_logring_pushf(p->r, p->id, LEVEL_INFO, MSG_FMT, MSG_ARGS(p->id, i));
}

static void *ring_produce(void *arg) {
    struct producer *p = arg;
    pin_self(p->id);
    start_line();
    for (uint64_t i = 0; i < p->count; i++) {
        if (ring_push(p, i) != 0) p->failed++;
    }
    return NULL;
}

static void *base_produce(void *arg) {
    struct producer *p = arg;
    pin_self(p->id);
    start_line();
    for (uint64_t i = 0; i < p->count; i++) {
        /* The ring stamps each record too: same work here, outside the lock. */
        uint64_t ts = realtime_ns();
        unsigned long long sec = ts / 1000000000u, nsec = ts % 1000000000u;
        if (p->work == WORK_TEXT_HAND) {
            /* The best a mutex can do: build the line outside the lock, hold it only for
             * the copy into the FILE buffer. */
            prs_log_record rec = {.timestamp_ns = ts, .producer_id = p->id, .level = LEVEL_INFO};
            uint32_t k = (uint32_t)(i % N_TEXTS);
            rec.len = p->text_lens[k];
            memcpy(rec.text, p->texts[k], (size_t)rec.len + 1);
            char line[512];
            size_t n = format_line(line, &rec);
            pthread_mutex_lock(p->lock);
            fwrite(line, 1, n, p->f);
            pthread_mutex_unlock(p->lock);
            continue;
        }
        pthread_mutex_lock(p->lock);
        if (p->work == WORK_TEXT)
            fprintf(p->f, "%llu.%09llu %s worker %u: %s\n", sec, nsec, "INFO", p->id,
                    p->texts[i % N_TEXTS]);
        else
            fprintf(p->f, "%llu.%09llu %s worker %u: " MSG_FMT "\n", sec, nsec, "INFO", p->id,
                    MSG_ARGS(p->id, i));
        pthread_mutex_unlock(p->lock);
    }
    return NULL;
}

/* ring == NULL: the baseline. sink: where the ring's consumer writes lines (NULL: it only
 * pops). Returns elapsed ns, or 0 on a wrong count. */
static uint64_t run_case(enum work work, bool ring, FILE *sink, FILE *base_file, uint64_t total) {
    prs_logring r;
    if (ring && prs_logring_init(&r, RING_RECORDS, PRS_LOGRING_WAIT) != 0) return 0;
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static struct producer prod[PRODUCERS];
    pthread_t t[PRODUCERS];
    start_reset();
    for (uint32_t i = 0; i < PRODUCERS; i++) {
        prod[i] = (struct producer){.work = work,
                                    .r = ring ? &r : NULL,
                                    .f = base_file,
                                    .lock = &lock,
                                    .id = i,
                                    .count = total / PRODUCERS};
        if (i == 0) prod[i].count += total % PRODUCERS;
        producer_setup(&prod[i]);
        pthread_create(&t[i], NULL, ring ? ring_produce : base_produce, &prod[i]);
    }
    start_all(PRODUCERS);
    uint64_t t0 = mono_ns(), got = 0, text_bytes = 0;
    prs_log_record rec;
    char line[512];
    while (ring && got < total) {
        if (!prs_logring_pop(&r, &rec)) {
            idle();
            continue;
        }
        got++;
        text_bytes += rec.len;
        if (sink) fwrite(line, 1, format_line(line, &rec), sink);
    }
    uint64_t failed = 0;
    for (uint32_t i = 0; i < PRODUCERS; i++) {
        pthread_join(t[i], NULL);
        failed += prod[i].failed;
    }
    if (!ring) fflush(base_file);
    uint64_t elapsed_ns = PRS_MAX(mono_ns() - t0, 1);
    if (!ring) return elapsed_ns;
    bool ok =
        failed == 0 && prs_logring_dropped(&r) == 0 && !prs_logring_pop(&r, &rec) && text_bytes > 0;
    prs_logring_destroy(&r);
    if (!ok)
        fprintf(stderr, "bench_logring: ring count mismatch (failed %llu)\n",
                (unsigned long long)failed);
    return ok ? elapsed_ns : 0;
}

/* ---- push latency on a ring that is never full ------------------------------------------- */

struct lat_producer {
    struct producer p;
    atomic_uint_fast64_t *drained; /* records the consumer has taken so far */
    uint64_t *samples;
    size_t n_samples;
};

static void *lat_produce(void *arg) {
    struct lat_producer *lp = arg;
    struct producer *p = &lp->p;
    pin_self(p->id);
    start_line();
    uint64_t seq = 0;
    for (uint32_t round = 0; round < LAT_ROUNDS; round++) {
        /* Wait until the previous round is drained, so the ring has room for this burst
         * whatever the consumer does meanwhile: no push below can meet a full ring. */
        uint64_t target = (uint64_t)round * LAT_BURST_RECORDS * PRODUCERS;
        while (atomic_load_explicit(lp->drained, memory_order_acquire) < target)
            sched_yield();
        for (uint32_t i = 0; i < LAT_BURST_RECORDS; i++, seq++) {
            if (seq % LAT_SAMPLE_EVERY == 0) {
                uint64_t t0 = mono_ns();
                int rc = ring_push(p, seq);
                uint64_t t1 = mono_ns();
                lp->samples[lp->n_samples++] = t1 - t0;
                if (rc) p->failed++;
            } else if (ring_push(p, seq) != 0) {
                p->failed++;
            }
        }
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

struct lat_result {
    uint64_t p50_ns, p99_ns, p999_ns, max_ns, clock_overhead_ns;
    size_t n;
};

static bool run_latency(enum work work, struct lat_result *out) {
    prs_logring r;
    if (prs_logring_init(&r, LAT_RING_RECORDS, PRS_LOGRING_WAIT) != 0) return false;
    const uint64_t total = (uint64_t)LAT_ROUNDS * LAT_BURST_RECORDS * PRODUCERS;
    const size_t per_producer = (size_t)LAT_ROUNDS * LAT_BURST_RECORDS / LAT_SAMPLE_EVERY;
    uint64_t *all = calloc(per_producer * PRODUCERS, sizeof(*all));
    if (!all) return false;
    atomic_uint_fast64_t drained;
    atomic_init(&drained, 0);
    static struct lat_producer prod[PRODUCERS];
    pthread_t t[PRODUCERS];
    start_reset();
    for (uint32_t i = 0; i < PRODUCERS; i++) {
        prod[i] = (struct lat_producer){.p = {.work = work, .r = &r, .id = i},
                                        .drained = &drained,
                                        .samples = all + i * per_producer};
        producer_setup(&prod[i].p);
        pthread_create(&t[i], NULL, lat_produce, &prod[i]);
    }
    start_all(PRODUCERS);
    prs_log_record rec;
    uint64_t got = 0;
    while (got < total) {
        if (prs_logring_pop(&r, &rec))
            atomic_store_explicit(&drained, ++got, memory_order_release);
        else
            idle();
    }
    uint64_t failed = 0;
    size_t n = 0;
    for (uint32_t i = 0; i < PRODUCERS; i++) {
        pthread_join(t[i], NULL);
        failed += prod[i].p.failed;
        /* Samples are contiguous per producer; pack them. */
        memmove(all + n, prod[i].samples, prod[i].n_samples * sizeof(*all));
        n += prod[i].n_samples;
    }
    prs_logring_destroy(&r);
    if (failed || n == 0) {
        free(all);
        return false;
    }
    qsort(all, n, sizeof(*all), cmp_u64);
    out->n = n;
    out->p50_ns = all[n / 2];
    out->p99_ns = all[(n * 99) / 100];
    out->p999_ns = all[(n * 999) / 1000];
    out->max_ns = all[n - 1];
    free(all);

    /* What two back-to-back clock reads cost here: the floor under every sample. */
    uint64_t sum = 0;
    for (int i = 0; i < 100000; i++) {
        uint64_t a = mono_ns(), b = mono_ns();
        sum += b - a;
    }
    out->clock_overhead_ns = sum / 100000;
    return true;
}

static double rate(uint64_t records, uint64_t ns) {
    return (double)records * 1e9 / (double)ns;
}

struct row {
    const char *name;
    uint64_t records, ns;
    int vs; /* index of the row it is compared with, -1 for none */
};

int main(int argc, char **argv) {
    uint64_t total = 10000000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--pin") == 0) {
            pin_producers = true;
            continue;
        }
        char *end;
        unsigned long long v = strtoull(argv[i], &end, 10);
        if (*end || v < 1000 || v > 100000000ull) {
            fprintf(stderr, "usage: %s [--pin] [total_records (1000..100000000)]\n", argv[0]);
            return 2;
        }
        total = v;
    }
    /* Formatting cases are several times slower per record: fewer records keep the whole
     * run near 15 s at the default size; rates do not depend on the count. */
    uint64_t total_fmt = PRS_MAX(total / 4, 1000);
    FILE *devnull = fopen("/dev/null", "w");
    if (!devnull) {
        perror("bench_logring: /dev/null");
        return 1;
    }
    printf("bench_logring: %u producers%s, ring %u x %u B (WAIT), %ld CPUs online\n", PRODUCERS,
           pin_producers ? " pinned" : "", RING_RECORDS, PRS_LOGRING_SLOT_BYTES,
           sysconf(_SC_NPROCESSORS_ONLN));
    fflush(stdout);

    struct row rows[] = {
        {"text: ring push, consumer pops", total, 0, 2},
        {"text: ring push, consumer writes /dev/null", total, 0, 2},
        {"text: baseline fprintf under mutex", total, 0, -1},
        {"text: baseline hand-built line, fwrite+mutex", total, 0, 2},
        {"format: ring pushf, consumer pops", total_fmt, 0, 6},
        {"format: ring pushf, consumer writes /dev/null", total_fmt, 0, 6},
        {"format: baseline fprintf under mutex", total_fmt, 0, -1},
    };
    rows[0].ns = run_case(WORK_TEXT, true, NULL, NULL, rows[0].records);
    rows[1].ns = run_case(WORK_TEXT, true, devnull, NULL, rows[1].records);
    rows[2].ns = run_case(WORK_TEXT, false, NULL, devnull, rows[2].records);
    rows[3].ns = run_case(WORK_TEXT_HAND, false, NULL, devnull, rows[3].records);
    rows[4].ns = run_case(WORK_FORMAT, true, NULL, NULL, rows[4].records);
    rows[5].ns = run_case(WORK_FORMAT, true, devnull, NULL, rows[5].records);
    rows[6].ns = run_case(WORK_FORMAT, false, NULL, devnull, rows[6].records);
    struct lat_result lat_text = {0}, lat_fmt = {0};
    bool lat_ok = run_latency(WORK_TEXT, &lat_text) && run_latency(WORK_FORMAT, &lat_fmt);
    fclose(devnull);
    for (size_t i = 0; i < PRS_ARRAY_LEN(rows); i++) {
        if (!rows[i].ns) lat_ok = false;
    }
    if (!lat_ok) {
        fprintf(stderr, "bench_logring: FAIL: a count came out wrong\n");
        return 1;
    }

    printf("\n%-46s %10s %12s %10s %10s\n", "case", "records", "records/s", "ns/record", "vs base");
    for (size_t i = 0; i < PRS_ARRAY_LEN(rows); i++) {
        double rt = rate(rows[i].records, rows[i].ns);
        char vs[16] = "-";
        if (rows[i].vs >= 0)
            snprintf(vs, sizeof(vs), "%.2fx",
                     rt / rate(rows[rows[i].vs].records, rows[rows[i].vs].ns));
        printf("%-46s %10llu %12.0f %10.1f %10s\n", rows[i].name,
               (unsigned long long)rows[i].records, rt,
               (double)rows[i].ns / (double)rows[i].records, vs);
    }
    const struct {
        const char *name;
        const struct lat_result *l;
    } lats[] = {{"text: push", &lat_text}, {"format: pushf", &lat_fmt}};
    printf("\npush latency, ring never full (2 producers, consumer draining; every %u-th push;\n"
           "each sample includes one clock read, ~%llu ns):\n",
           LAT_SAMPLE_EVERY, (unsigned long long)lat_text.clock_overhead_ns);
    printf("  %-16s %9s %8s %8s %8s %10s\n", "", "samples", "p50 ns", "p99 ns", "p99.9 ns",
           "max ns");
    for (size_t i = 0; i < PRS_ARRAY_LEN(lats); i++)
        printf("  %-16s %9zu %8llu %8llu %8llu %10llu\n", lats[i].name, lats[i].l->n,
               (unsigned long long)lats[i].l->p50_ns, (unsigned long long)lats[i].l->p99_ns,
               (unsigned long long)lats[i].l->p999_ns, (unsigned long long)lats[i].l->max_ns);

    for (int k = 0; k < 2; k++) {
        const struct row *ring_row = &rows[k ? 4 : 0], *base_row = &rows[k ? 6 : 2];
        const struct lat_result *l = k ? &lat_fmt : &lat_text;
        double rr = rate(ring_row->records, ring_row->ns);
        double br = rate(base_row->records, base_row->ns);
        printf("%s targets: >= 5M records/s: %s (%.1fM)   >= 5x baseline: %s (%.1fx)   "
               "p99 < 1 us: %s (%llu ns)\n",
               k ? "format" : "\ntext  ", rr >= 5e6 ? "met" : "MISSED", rr / 1e6,
               rr >= 5.0 * br ? "met" : "MISSED", rr / br, l->p99_ns < 1000 ? "met" : "MISSED",
               (unsigned long long)l->p99_ns);
    }
    return 0;
}
