/* stress_logring -- many producers against one consumer on the log ring, as a plain
 * program so ThreadSanitizer can run it (Criterion cannot start under TSan).
 *
 * Usage: stress_logring [records_per_producer]   (default 50000)
 * Exit 0: every scenario passed. Otherwise a message on stderr and exit 1.
 *
 * Scenarios: WAIT and DROP, 2 and 4 producers, capacities from 2 (every push races the
 * consumer for the same slots) to 256, a fast consumer and a deliberately slow one; and
 * producers blocked on a full WAIT ring released by switching it to DROP mid-run.
 * Checks: every record intact (its text is rebuilt from producer and seq); per producer,
 * seq strictly increasing; under WAIT nothing lost; under DROP received + dropped ==
 * attempted exactly, and the consumer's take_dropped tallies add up to the total. */
#include "logring.h"

#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#define MAX_PRODUCERS 4u

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("stress_logring: FAIL: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) fail(__VA_ARGS__);                                                            \
    } while (0)

static void sleep_us(long us) {
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The text of record (producer, seq): varying length, content derived from both, so a
 * torn or mixed-up record cannot pass for a good one. */
static size_t record_text(char *buf, size_t size, uint32_t producer, uint64_t seq) {
    int n = snprintf(buf, size, "p%u s%llu ", producer, (unsigned long long)seq);
    size_t len = (size_t)n + (size_t)((seq * 7 + producer * 13) % 200);
    if (len >= size) len = size - 1;
    for (size_t i = (size_t)n; i < len; i++)
        buf[i] = (char)('A' + (seq + i + producer) % 26);
    buf[len] = '\0';
    return len;
}

struct producer {
    prs_logring *r;
    uint32_t id;
    bool paced; /* yield now and then, so the consumer keeps up some of the time */
    uint64_t count;
    uint64_t sent, refused;
};

static void *produce(void *arg) {
    struct producer *p = arg;
    char buf[PRS_LOGRING_TEXT_BYTES];
    for (uint64_t seq = 0; seq < p->count; seq++) {
        size_t len = record_text(buf, sizeof(buf), p->id, seq);
        int rc = (seq % 3 == 0) ? prs_logring_pushf(p->r, p->id, 20, "%s", buf)
                                : prs_logring_push(p->r, p->id, 20, buf, len);
        if (rc == 0)
            p->sent++;
        else if (rc == -EAGAIN)
            p->refused++;
        else
            fail("producer %u: push returned %d", p->id, rc);
        if (p->paced && seq % 32 == 31) sched_yield();
    }
    return NULL;
}

struct scenario {
    const char *name;
    uint32_t producers;
    uint32_t capacity;
    enum prs_logring_policy policy;
    bool slow_consumer;
    bool paced_producers;
    /* Switch a WAIT ring to DROP after this many records were consumed (0: never). */
    uint64_t switch_to_drop_after;
};

static void run(const struct scenario *sc, uint64_t per_producer) {
    double t0 = mono_s();
    prs_logring r;
    CHECK(prs_logring_init(&r, sc->capacity, sc->policy) == 0, "%s: init", sc->name);
    struct producer prod[MAX_PRODUCERS];
    pthread_t t[MAX_PRODUCERS];
    for (uint32_t i = 0; i < sc->producers; i++) {
        prod[i] = (struct producer){
            .r = &r, .id = i, .paced = sc->paced_producers, .count = per_producer};
        CHECK(pthread_create(&t[i], NULL, produce, &prod[i]) == 0, "%s: thread", sc->name);
    }
    const uint64_t attempted = (uint64_t)sc->producers * per_producer;
    int64_t last_seq[MAX_PRODUCERS];
    uint64_t got[MAX_PRODUCERS] = {0};
    for (uint32_t i = 0; i < MAX_PRODUCERS; i++)
        last_seq[i] = -1;
    uint64_t received = 0, taken = 0;
    bool switched = false, lossless = sc->policy == PRS_LOGRING_WAIT;
    /* Early enough that producers are still running (and blocked) when it happens. */
    const uint64_t switch_at = PRS_MIN(sc->switch_to_drop_after, attempted / 4 + 1);
    prs_log_record rec;
    char want[PRS_LOGRING_TEXT_BYTES];
    double last_progress_s = mono_s();
    for (;;) {
        if (prs_logring_pop(&r, &rec)) {
            uint32_t p = rec.producer_id;
            CHECK(p < sc->producers, "%s: producer id %u", sc->name, p);
            unsigned long long seq;
            CHECK(sscanf(rec.text, "p%*u s%llu ", &seq) == 1, "%s: text %s", sc->name, rec.text);
            CHECK((int64_t)seq > last_seq[p], "%s: producer %u: seq %llu after %lld", sc->name, p,
                  seq, (long long)last_seq[p]);
            if (lossless)
                CHECK((int64_t)seq == last_seq[p] + 1, "%s: producer %u: lost %lld..%llu", sc->name,
                      p, (long long)last_seq[p] + 1, seq - 1);
            size_t len = record_text(want, sizeof(want), p, seq);
            CHECK(rec.len == len && memcmp(rec.text, want, len + 1) == 0,
                  "%s: torn record (len %u, want %zu): %s", sc->name, (unsigned)rec.len, len,
                  rec.text);
            CHECK(rec.level == 20 && rec.flags == 0, "%s: header", sc->name);
            last_seq[p] = (int64_t)seq;
            got[p]++;
            received++;
            last_progress_s = mono_s();
            if (sc->slow_consumer && received % 256 == 0) sleep_us(1000);
            if (sc->switch_to_drop_after && !switched && received >= switch_at) {
                /* The consumer "stops for good": waiting producers must all come back. */
                CHECK(prs_logring_set_policy(&r, PRS_LOGRING_DROP) == 0, "set_policy");
                switched = true;
                lossless = false;
                sleep_us(20000);
            }
            continue;
        }
        taken += prs_logring_take_dropped(&r);
        if (received + prs_logring_dropped(&r) == attempted) break;
        CHECK(mono_s() - last_progress_s < 30.0, "%s: no progress for 30 s (%llu of %llu)",
              sc->name, (unsigned long long)received, (unsigned long long)attempted);
        sleep_us(50);
    }
    for (uint32_t i = 0; i < sc->producers; i++)
        pthread_join(t[i], NULL);
    CHECK(prs_logring_pop(&r, &rec) == 0, "%s: extra record after the full count", sc->name);
    taken += prs_logring_take_dropped(&r);

    uint64_t sent = 0, refused = 0;
    for (uint32_t i = 0; i < sc->producers; i++) {
        CHECK(got[i] == prod[i].sent, "%s: producer %u: got %llu, pushed %llu", sc->name, i,
              (unsigned long long)got[i], (unsigned long long)prod[i].sent);
        sent += prod[i].sent;
        refused += prod[i].refused;
    }
    uint64_t dropped = prs_logring_dropped(&r);
    CHECK(received == sent, "%s: received %llu, sent %llu", sc->name, (unsigned long long)received,
          (unsigned long long)sent);
    CHECK(dropped == refused && taken == dropped, "%s: dropped %llu, refused %llu, taken %llu",
          sc->name, (unsigned long long)dropped, (unsigned long long)refused,
          (unsigned long long)taken);
    CHECK(received + dropped == attempted, "%s: %llu + %llu != %llu", sc->name,
          (unsigned long long)received, (unsigned long long)dropped, (unsigned long long)attempted);
    if (sc->policy == PRS_LOGRING_WAIT && !sc->switch_to_drop_after)
        CHECK(dropped == 0, "%s: WAIT dropped %llu", sc->name, (unsigned long long)dropped);
    if (sc->policy == PRS_LOGRING_DROP && sc->slow_consumer)
        CHECK(dropped > 0, "%s: the slow consumer never let the ring fill", sc->name);
    if (sc->switch_to_drop_after)
        CHECK(switched, "%s: never switched (received %llu)", sc->name,
              (unsigned long long)received);
    prs_logring_destroy(&r);
    printf("  %-34s ok  received %9llu  dropped %9llu  %6.2f s\n", sc->name,
           (unsigned long long)received, (unsigned long long)dropped, mono_s() - t0);
    fflush(stdout);
}

int main(int argc, char **argv) {
    uint64_t per_producer = 50000;
    if (argc > 1) {
        char *end;
        unsigned long long v = strtoull(argv[1], &end, 10);
        if (*end || v == 0 || v > 100000000ull) {
            fprintf(stderr, "usage: %s [records_per_producer (1..1e8)]\n", argv[0]);
            return 2;
        }
        per_producer = v;
    }
    const struct scenario scenarios[] = {
        /* name, producers, capacity, policy, slow consumer, paced producers, switch */
        {"wait/2 producers/cap 2/fast", 2, 2, PRS_LOGRING_WAIT, false, false, 0},
        {"wait/4 producers/cap 16/fast", 4, 16, PRS_LOGRING_WAIT, false, false, 0},
        {"wait/4 producers/cap 256/fast", 4, 256, PRS_LOGRING_WAIT, false, false, 0},
        {"wait/3 producers/cap 8/slow", 3, 8, PRS_LOGRING_WAIT, true, false, 0},
        {"drop/2 producers/cap 2/fast", 2, 2, PRS_LOGRING_DROP, false, false, 0},
        {"drop/4 producers/cap 16/fast", 4, 16, PRS_LOGRING_DROP, false, false, 0},
        {"drop/4 producers/cap 64/slow", 4, 64, PRS_LOGRING_DROP, true, false, 0},
        {"drop/4 producers/cap 256/paced", 4, 256, PRS_LOGRING_DROP, false, true, 0},
        {"wait->drop/4 producers/cap 4/slow", 4, 4, PRS_LOGRING_WAIT, true, false, 1000},
    };
    printf("stress_logring: %llu records per producer\n", (unsigned long long)per_producer);
    for (size_t i = 0; i < PRS_ARRAY_LEN(scenarios); i++)
        run(&scenarios[i], per_producer);
    printf("stress_logring: all %zu scenarios passed\n", PRS_ARRAY_LEN(scenarios));
    return 0;
}
