/* The log ring: FIFO order and exact contents, wrap-around, exact drop counts, truncation
 * (with UTF-8 boundaries), bad arguments, and many producers against a slow consumer
 * under both policies. The same multi-producer checks run under ThreadSanitizer from
 * tests/stress_logring.c (Criterion cannot start under TSan). */
#include "logring.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

static uint64_t realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_us(long us) {
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void expect_record(const prs_log_record *rec, uint32_t producer, int level,
                          const char *text) {
    size_t len = strlen(text);
    cr_assert_eq(rec->producer_id, producer);
    cr_assert_eq(rec->level, level);
    cr_assert_eq(rec->len, len, "len %u, expected %zu", (unsigned)rec->len, len);
    cr_assert_eq(rec->flags, 0);
    cr_assert_eq(memcmp(rec->text, text, len + 1), 0, "text \"%s\", expected \"%s\"", rec->text,
                 text);
}

Test(logring, fifo_single_thread) {
    prs_logring r;
    cr_assert_eq(prs_logring_init(&r, 8, PRS_LOGRING_WAIT), 0);
    prs_log_record rec;
    cr_assert_eq(prs_logring_pop(&r, &rec), 0, "a new ring is empty");
    uint64_t before_ns = realtime_ns();
    cr_assert_eq(prs_logring_push(&r, 1, 20, "first", 5), 0);
    cr_assert_eq(prs_logring_push(&r, 2, 40, "second!", 7), 0);
    cr_assert_eq(prs_logring_pushf(&r, 3, 10, "third %d/%s", 3, "x"), 0);
    cr_assert_eq(prs_logring_push(&r, 4, 30, NULL, 0), 0);
    uint64_t after_ns = realtime_ns();

    cr_assert_eq(prs_logring_pop(&r, &rec), 1);
    expect_record(&rec, 1, 20, "first");
    cr_assert(rec.timestamp_ns >= before_ns && rec.timestamp_ns <= after_ns);
    cr_assert_eq(prs_logring_pop(&r, &rec), 1);
    expect_record(&rec, 2, 40, "second!");
    cr_assert_eq(prs_logring_pop(&r, &rec), 1);
    expect_record(&rec, 3, 10, "third 3/x");
    cr_assert_eq(prs_logring_pop(&r, &rec), 1);
    expect_record(&rec, 4, 30, "");
    cr_assert_eq(prs_logring_pop(&r, &rec), 0);
    cr_assert_eq(prs_logring_dropped(&r), 0);
    prs_logring_destroy(&r);
}

Test(logring, wraps_around_many_laps) {
    prs_logring r;
    cr_assert_eq(prs_logring_init(&r, 4, PRS_LOGRING_DROP), 0);
    prs_log_record rec;
    unsigned next_pop = 0, next_push = 0;
    /* Vary the fill level between 1 and the full capacity across 250 laps of the ring. */
    for (unsigned round = 0; round < 1000; round++) {
        unsigned burst = 1 + round % 4;
        for (unsigned i = 0; i < burst; i++)
            cr_assert_eq(prs_logring_pushf(&r, 0, 20, "n%u", next_push++), 0);
        for (unsigned i = 0; i < burst; i++) {
            char want[32];
            snprintf(want, sizeof(want), "n%u", next_pop++);
            cr_assert_eq(prs_logring_pop(&r, &rec), 1);
            expect_record(&rec, 0, 20, want);
        }
        cr_assert_eq(prs_logring_pop(&r, &rec), 0);
    }
    cr_assert_eq(prs_logring_dropped(&r), 0);
    prs_logring_destroy(&r);
}

Test(logring, embedded_nul_and_newline_kept) {
    prs_logring r;
    cr_assert_eq(prs_logring_init(&r, 2, PRS_LOGRING_WAIT), 0);
    const char msg[] = {'a', '\0', 'b', '\n', 'c'};
    cr_assert_eq(prs_logring_push(&r, 9, 50, msg, sizeof(msg)), 0);
    prs_log_record rec;
    cr_assert_eq(prs_logring_pop(&r, &rec), 1);
    cr_assert_eq(rec.len, sizeof(msg));
    cr_assert_eq(memcmp(rec.text, msg, sizeof(msg)), 0);
    cr_assert_eq(rec.text[rec.len], '\0');
    prs_logring_destroy(&r);
}

Test(logring, pushf_format_error_is_logged_not_lost) {
    prs_logring r;
    cr_assert_eq(prs_logring_init(&r, 2, PRS_LOGRING_WAIT), 0);
    /* In the C locale a non-ASCII wide character cannot be converted: vsnprintf fails. */
    cr_assert_eq(prs_logring_pushf(&r, 5, 40, "x%lcy", (wint_t)0x4e2d), 0);
    prs_log_record rec;
    cr_assert_eq(prs_logring_pop(&r, &rec), 1);
    expect_record(&rec, 5, 40, "[prs: bad log format]");
    prs_logring_destroy(&r);
}

Test(logring, full_ring_drop_counts_exactly) {
    prs_logring r;
    cr_assert_eq(prs_logring_init(&r, 8, PRS_LOGRING_DROP), 0);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(prs_logring_pushf(&r, 0, 20, "r%d", i), 0);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(prs_logring_pushf(&r, 0, 20, "lost%d", i), -EAGAIN);
        cr_assert_eq(prs_logring_push(&r, 0, 20, "lost", 4), -EAGAIN);
    }
    cr_assert_eq(prs_logring_dropped(&r), 10);
    cr_assert_eq(prs_logring_take_dropped(&r), 10);
    cr_assert_eq(prs_logring_take_dropped(&r), 0, "a take resets the consumer's tally");
    cr_assert_eq(prs_logring_dropped(&r), 10, "the total never resets");

    /* The kept records are the first 8, intact and in order; none of the dropped ones. */
    prs_log_record rec;
    for (int i = 0; i < 8; i++) {
        char want[16];
        snprintf(want, sizeof(want), "r%d", i);
        cr_assert_eq(prs_logring_pop(&r, &rec), 1);
        expect_record(&rec, 0, 20, want);
    }
    cr_assert_eq(prs_logring_pop(&r, &rec), 0);

    /* Space again: pushes succeed; one slot short of space, the counts resume exactly. */
    for (int i = 0; i < 8; i++)
        cr_assert_eq(prs_logring_push(&r, 1, 20, "again", 5), 0);
    cr_assert_eq(prs_logring_push(&r, 1, 20, "x", 1), -EAGAIN);
    cr_assert_eq(prs_logring_dropped(&r), 11);
    cr_assert_eq(prs_logring_take_dropped(&r), 1);
    prs_logring_destroy(&r);
}

Test(logring, truncates_long_messages_with_marker) {
    prs_logring r;
    cr_assert_eq(prs_logring_init(&r, 8, PRS_LOGRING_WAIT), 0);
    const size_t mlen = strlen(PRS_LOGRING_TRUNC_MARKER);
    char big[1000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + i % 26);
    prs_log_record rec;

    /* Exactly the maximum fits untouched. */
    cr_assert_eq(prs_logring_push(&r, 0, 20, big, PRS_LOGRING_TEXT_MAX), 0);
    cr_assert_eq(prs_logring_pop(&r, &rec), 1);
    cr_assert_eq(rec.len, PRS_LOGRING_TEXT_MAX);
    cr_assert_eq(rec.flags, 0);
    cr_assert_eq(memcmp(rec.text, big, PRS_LOGRING_TEXT_MAX), 0);
    cr_assert_eq(rec.text[PRS_LOGRING_TEXT_MAX], '\0');

    /* One byte more, and a lot more: prefix + marker, flagged. */
    size_t lens[] = {PRS_LOGRING_TEXT_MAX + 1, sizeof(big)};
    for (size_t k = 0; k < PRS_ARRAY_LEN(lens); k++) {
        cr_assert_eq(prs_logring_push(&r, 0, 20, big, lens[k]), 0);
        cr_assert_eq(prs_logring_pop(&r, &rec), 1);
        cr_assert_eq(rec.len, PRS_LOGRING_TEXT_MAX);
        cr_assert_eq(rec.flags, PRS_LOG_RECORD_TRUNCATED);
        size_t keep = PRS_LOGRING_TEXT_MAX - mlen;
        cr_assert_eq(memcmp(rec.text, big, keep), 0);
        cr_assert_str_eq(rec.text + keep, PRS_LOGRING_TRUNC_MARKER);
    }

    /* pushf truncates the formatted text the same way push does. */
    cr_assert_eq(prs_logring_pushf(&r, 0, 20, "%.*s", (int)sizeof(big), big), 0);
    prs_log_record via_fmt;
    cr_assert_eq(prs_logring_pop(&r, &via_fmt), 1);
    cr_assert_eq(via_fmt.flags, PRS_LOG_RECORD_TRUNCATED);
    cr_assert_eq(via_fmt.len, rec.len);
    cr_assert_eq(memcmp(via_fmt.text, rec.text, rec.len + 1), 0);
    prs_logring_destroy(&r);
}

Test(logring, truncation_does_not_split_utf8_characters) {
    prs_logring r;
    cr_assert_eq(prs_logring_init(&r, 4, PRS_LOGRING_WAIT), 0);
    const size_t mlen = strlen(PRS_LOGRING_TRUNC_MARKER);
    const size_t room = PRS_LOGRING_TEXT_MAX - mlen;
    /* "日" is 3 bytes (E6 97 A5), "€" too; "𝄞" is 4 (F0 9D 84 9E). Try every alignment of
     * the character stream against the cut, for 3- and 4-byte characters. */
    const char *chars[] = {"\xe6\x97\xa5", "\xf0\x9d\x84\x9e"};
    for (size_t c = 0; c < PRS_ARRAY_LEN(chars); c++) {
        size_t clen = strlen(chars[c]);
        for (size_t lead = 0; lead < clen; lead++) {
            char msg[600];
            size_t n = 0;
            for (; n < lead; n++)
                msg[n] = 'x';
            while (n + clen <= sizeof(msg)) {
                memcpy(msg + n, chars[c], clen);
                n += clen;
            }
            cr_assert_eq(prs_logring_push(&r, 0, 20, msg, n), 0);
            prs_log_record rec;
            cr_assert_eq(prs_logring_pop(&r, &rec), 1);
            cr_assert_eq(rec.flags, PRS_LOG_RECORD_TRUNCATED);
            size_t keep = rec.len - mlen;
            /* Whole characters only, and never more than 3 bytes short of the room. */
            cr_assert_eq((keep - lead) % clen, 0, "cut inside a character (keep %zu)", keep);
            cr_assert(keep <= room && keep + 3 >= room, "keep %zu, room %zu", keep, room);
            cr_assert_eq(memcmp(rec.text, msg, keep), 0);
            cr_assert_str_eq(rec.text + keep, PRS_LOGRING_TRUNC_MARKER);
        }
    }
    prs_logring_destroy(&r);
}

Test(logring, rejects_bad_arguments) {
    prs_logring r;
    uint32_t bad[] = {0, 1, 3, 6, 1000, PRS_LOGRING_MAX_RECORDS * 2, UINT32_MAX};
    for (size_t i = 0; i < PRS_ARRAY_LEN(bad); i++) {
        cr_assert_eq(prs_logring_init(&r, bad[i], PRS_LOGRING_WAIT), -EINVAL, "capacity %u",
                     bad[i]);
        prs_logring_destroy(&r); /* safe after a failed init */
    }
    cr_assert_eq(prs_logring_init(&r, 8, (enum prs_logring_policy)7), -EINVAL);
    prs_logring_destroy(&r);

    cr_assert_eq(prs_logring_init(&r, PRS_LOGRING_MIN_RECORDS, PRS_LOGRING_DROP), 0);
    prs_logring_destroy(&r);
    cr_assert_eq(prs_logring_init(&r, PRS_LOGRING_MAX_RECORDS, PRS_LOGRING_DROP), 0);
    cr_assert_eq(prs_logring_push(&r, 0, 20, NULL, 3), -EINVAL);
    cr_assert_eq(prs_logring_dropped(&r), 0, "a refused push is not a drop");
    cr_assert_eq(prs_logring_set_policy(&r, (enum prs_logring_policy) - 1), -EINVAL);
    prs_log_record rec;
    cr_assert_eq(prs_logring_pop(&r, &rec), 0);
    prs_logring_destroy(&r);
}

/* ---- a producer blocked on a full WAIT ring ----------------------------------------- */

struct blocked_push {
    prs_logring *r;
    atomic_int rc;
    atomic_bool done;
};

static void *push_one(void *arg) {
    struct blocked_push *b = arg;
    int rc = prs_logring_push(b->r, 7, 20, "late", 4);
    atomic_store(&b->rc, rc);
    atomic_store(&b->done, true);
    return NULL;
}

Test(logring, wait_blocks_until_the_consumer_frees_a_slot, .timeout = 20) {
    prs_logring r;
    cr_assert_eq(prs_logring_init(&r, 2, PRS_LOGRING_WAIT), 0);
    cr_assert_eq(prs_logring_push(&r, 0, 20, "a", 1), 0);
    cr_assert_eq(prs_logring_push(&r, 0, 20, "b", 1), 0);
    struct blocked_push b = {.r = &r};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, push_one, &b), 0);
    sleep_us(100000);
    cr_assert(!atomic_load(&b.done), "push on a full WAIT ring returned early");
    prs_log_record rec;
    cr_assert_eq(prs_logring_pop(&r, &rec), 1);
    expect_record(&rec, 0, 20, "a");
    pthread_join(t, NULL);
    cr_assert_eq(atomic_load(&b.rc), 0);
    cr_assert_eq(prs_logring_pop(&r, &rec), 1);
    expect_record(&rec, 0, 20, "b");
    cr_assert_eq(prs_logring_pop(&r, &rec), 1);
    expect_record(&rec, 7, 20, "late");
    cr_assert_eq(prs_logring_dropped(&r), 0);
    prs_logring_destroy(&r);
}

Test(logring, switching_to_drop_releases_waiting_producers, .timeout = 20) {
    prs_logring r;
    cr_assert_eq(prs_logring_init(&r, 2, PRS_LOGRING_WAIT), 0);
    cr_assert_eq(prs_logring_push(&r, 0, 20, "a", 1), 0);
    cr_assert_eq(prs_logring_push(&r, 0, 20, "b", 1), 0);
    struct blocked_push b = {.r = &r};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, push_one, &b), 0);
    sleep_us(100000);
    cr_assert(!atomic_load(&b.done));
    cr_assert_eq(prs_logring_set_policy(&r, PRS_LOGRING_DROP), 0);
    pthread_join(t, NULL);
    cr_assert_eq(atomic_load(&b.rc), -EAGAIN);
    cr_assert_eq(prs_logring_dropped(&r), 1);
    prs_logring_destroy(&r);
}

/* ---- many producers, one slow consumer ---------------------------------------------- */

#define MT_PER_PRODUCER 20000u
#define MT_MAX_PRODUCERS 4u

/* A record's text is a function of (producer, seq) of varying length, so the consumer can
 * rebuild it and notice any torn or mixed-up record, not just a wrong header. */
static size_t mt_text(char *buf, size_t size, uint32_t producer, uint64_t seq) {
    int n = snprintf(buf, size, "p%u s%llu ", producer, (unsigned long long)seq);
    size_t len = (size_t)n + (size_t)((seq * 7 + producer * 13) % 150);
    PRS_ASSERT(len < size);
    for (size_t i = (size_t)n; i < len; i++)
        buf[i] = (char)('A' + (seq + i + producer) % 26);
    buf[len] = '\0';
    return len;
}

struct mt_producer {
    prs_logring *r;
    uint32_t id;
    uint64_t sent, refused;
};

static void *mt_produce(void *arg) {
    struct mt_producer *p = arg;
    char buf[PRS_LOGRING_TEXT_BYTES];
    for (uint64_t seq = 0; seq < MT_PER_PRODUCER; seq++) {
        size_t len = mt_text(buf, sizeof(buf), p->id, seq);
        /* Alternate the two entry points so both are raced. */
        int rc = (seq & 1) ? prs_logring_push(p->r, p->id, 20, buf, len)
                           : prs_logring_pushf(p->r, p->id, 20, "%s", buf);
        if (rc == 0)
            p->sent++;
        else if (rc == -EAGAIN)
            p->refused++;
        else
            PRS_ASSERT(!"unexpected push return");
    }
    return NULL;
}

/* Runs n producers against a consumer that sleeps now and then (so the ring fills), and
 * checks: every record intact; per producer, strictly increasing seq; under WAIT, every
 * seq exactly once; under DROP, received + dropped == attempted, exactly. */
static void mt_run(uint32_t n, enum prs_logring_policy policy, uint32_t capacity) {
    prs_logring r;
    cr_assert_eq(prs_logring_init(&r, capacity, policy), 0);
    struct mt_producer prod[MT_MAX_PRODUCERS];
    pthread_t t[MT_MAX_PRODUCERS];
    for (uint32_t i = 0; i < n; i++) {
        prod[i] = (struct mt_producer){.r = &r, .id = i};
        cr_assert_eq(pthread_create(&t[i], NULL, mt_produce, &prod[i]), 0);
    }
    int64_t last_seq[MT_MAX_PRODUCERS];
    uint64_t got[MT_MAX_PRODUCERS] = {0};
    for (uint32_t i = 0; i < n; i++)
        last_seq[i] = -1;
    uint64_t received = 0, taken_dropped = 0, empty_polls = 0;
    const uint64_t attempted = (uint64_t)n * MT_PER_PRODUCER;
    prs_log_record rec;
    char want[PRS_LOGRING_TEXT_BYTES];
    /* Bounded: under WAIT the consumer stops at the full count; under DROP, once it has
     * seen every attempt accounted for. 20 s of empty polls means something is stuck. */
    for (;;) {
        if (prs_logring_pop(&r, &rec)) {
            cr_assert_lt(rec.producer_id, n);
            uint32_t p = rec.producer_id;
            unsigned long long seq;
            cr_assert_eq(sscanf(rec.text, "p%*u s%llu ", &seq), 1, "text: %s", rec.text);
            cr_assert_gt((int64_t)seq, last_seq[p], "producer %u: seq %llu after %lld", p, seq,
                         (long long)last_seq[p]);
            if (policy == PRS_LOGRING_WAIT)
                cr_assert_eq((int64_t)seq, last_seq[p] + 1, "producer %u lost a record", p);
            size_t len = mt_text(want, sizeof(want), p, seq);
            cr_assert_eq(rec.len, len);
            cr_assert_eq(memcmp(rec.text, want, len + 1), 0, "torn record: %s", rec.text);
            last_seq[p] = (int64_t)seq;
            got[p]++;
            received++;
            /* Deliberately slow: a pause every 512 records keeps the ring full often. */
            if (received % 512 == 0) sleep_us(2000);
            continue;
        }
        taken_dropped += prs_logring_take_dropped(&r);
        if (received + prs_logring_dropped(&r) == attempted) break;
        cr_assert_lt(++empty_polls, 200000u, "consumer starved: %llu of %llu",
                     (unsigned long long)received, (unsigned long long)attempted);
        sleep_us(100);
    }
    for (uint32_t i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(prs_logring_pop(&r, &rec), 0, "a record after the count was complete");
    taken_dropped += prs_logring_take_dropped(&r);

    uint64_t sent = 0, refused = 0;
    for (uint32_t i = 0; i < n; i++) {
        cr_assert_eq(got[i], prod[i].sent, "producer %u: got %llu, sent %llu", i,
                     (unsigned long long)got[i], (unsigned long long)prod[i].sent);
        sent += prod[i].sent;
        refused += prod[i].refused;
    }
    cr_assert_eq(received, sent);
    cr_assert_eq(prs_logring_dropped(&r), refused);
    cr_assert_eq(taken_dropped, refused);
    cr_assert_eq(received + refused, attempted);
    if (policy == PRS_LOGRING_WAIT) {
        cr_assert_eq(refused, 0);
        cr_assert_eq(received, attempted);
    } else {
        /* Not a correctness property, but the test is pointless unless drops happened. */
        cr_assert_gt(refused, 0, "the slow consumer never let the ring fill");
    }
    prs_logring_destroy(&r);
}

Test(logring_mt, wait_two_producers_lose_nothing, .timeout = 60) {
    mt_run(2, PRS_LOGRING_WAIT, 16);
}
Test(logring_mt, wait_four_producers_lose_nothing, .timeout = 60) {
    mt_run(4, PRS_LOGRING_WAIT, 64);
}
Test(logring_mt, drop_two_producers_count_exactly, .timeout = 60) {
    mt_run(2, PRS_LOGRING_DROP, 16);
}
Test(logring_mt, drop_four_producers_count_exactly, .timeout = 60) {
    mt_run(4, PRS_LOGRING_DROP, 64);
}

static int split_push(prs_logring *r, const char *prefix, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int split_push(prs_logring *r, const char *prefix, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = prs_logring_vpushf_split(r, 2, 20, 0x100, prefix, strlen(prefix), fmt, ap);
    va_end(ap);
    return n;
}

Test(logring, vpushf_split_prefixes_and_flags_a_line_longer_than_a_record) {
    prs_logring r;
    cr_assert_eq(prs_logring_init(&r, 4, PRS_LOGRING_WAIT), 0);
    cr_assert_eq(split_push(&r, "[batch 7 try 1] ", "item %s n=%d", "a.txt", 3), 30);
    prs_log_record rec;
    cr_assert_eq(prs_logring_pop(&r, &rec), 1);
    expect_record(&rec, 2, 20, "[batch 7 try 1] item a.txt n=3");
    /* 16 + 300 bytes: the record is the first TEXT_MAX of them, no marker, the flag set. */
    char big[301];
    memset(big, 'x', 300);
    big[300] = '\0';
    big[0] = 'B';
    cr_assert_eq(split_push(&r, "[batch 8 try 2] ", "%s", big), 316);
    cr_assert_eq(prs_logring_pop(&r, &rec), 1);
    cr_assert_eq(rec.level, 20 | 0x100);
    cr_assert_eq(rec.len, PRS_LOGRING_TEXT_MAX);
    cr_assert_eq(rec.flags, 0, "cut for continuation records, not truncated");
    cr_assert_eq(memcmp(rec.text, "[batch 8 try 2] Bxxx", 20), 0);
    cr_assert_eq(rec.text[PRS_LOGRING_TEXT_MAX - 1], 'x');
    cr_assert_eq(rec.text[rec.len], '\0');
    /* No prefix: as vpushf without the truncation. */
    cr_assert_eq(split_push(&r, "", "plain %u", 9u), 7);
    cr_assert_eq(prs_logring_pop(&r, &rec), 1);
    expect_record(&rec, 2, 20, "plain 9");
    prs_logring_destroy(&r);
}

Test(logring, vpushf_split_format_error_keeps_the_prefix_and_says_so) {
    prs_logring r;
    cr_assert_eq(prs_logring_init(&r, 2, PRS_LOGRING_WAIT), 0);
    /* In the C locale a non-ASCII wide character cannot be converted: vsnprintf fails. */
    cr_assert_eq(split_push(&r, "[batch 1 try 1] ", "x%lcy", (wint_t)0x4e2d), -EINVAL);
    prs_log_record rec;
    cr_assert_eq(prs_logring_pop(&r, &rec), 1);
    expect_record(&rec, 2, 20, "[batch 1 try 1] [prs: bad log format]");
    prs_logring_destroy(&r);
}

Test(logring, vpushf_split_on_a_full_drop_ring_counts_the_drop) {
    prs_logring r;
    cr_assert_eq(prs_logring_init(&r, 2, PRS_LOGRING_DROP), 0);
    cr_assert_eq(split_push(&r, "p ", "%d", 1), 3);
    cr_assert_eq(split_push(&r, "p ", "%d", 2), 3);
    cr_assert_eq(split_push(&r, "p ", "%d", 3), -EAGAIN);
    cr_assert_eq(prs_logring_dropped(&r), 1);
    prs_logring_destroy(&r);
}
