/* logring.c -- see logring.h for the contract and the design. */
#include "logring.h"
#include "clock.h"

#include <sched.h>
#include <string.h>
#include <time.h>

struct prs_logring_slot {
    _Atomic uint64_t seq;
    prs_log_record rec;
};

_Static_assert(sizeof(prs_log_record) == PRS_LOGRING_SLOT_BYTES - sizeof(uint64_t),
               "a record fills its slot exactly, so the text gets every spare byte");
_Static_assert(sizeof(struct prs_logring_slot) == PRS_LOGRING_SLOT_BYTES,
               "slots are whole cache lines: two producers never share a line");
_Static_assert(PRS_LOGRING_SLOT_BYTES % PRS_CACHE_LINE_BYTES == 0, "slot/cache line");
_Static_assert(sizeof(PRS_LOGRING_TRUNC_MARKER) - 1 < PRS_LOGRING_TEXT_MAX / 2,
               "the marker leaves room for the message");
_Static_assert(PRS_LOGRING_TEXT_MAX <= UINT16_MAX, "len is a uint16_t");

#define MARKER_LEN (sizeof(PRS_LOGRING_TRUNC_MARKER) - 1)

/* Back-off schedule of a WAIT producer facing a full ring (documented in logring.h). */
#define BACKOFF_SPINS 128u
#define BACKOFF_YIELDS 32u
#define BACKOFF_SLEEP_MIN_NS 20000L
#define BACKOFF_SLEEP_MAX_NS 200000L

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#else
    atomic_signal_fence(memory_order_seq_cst);
#endif
}

static void backoff(uint32_t *round) {
    uint32_t n = *round;
    if (n < BACKOFF_SPINS) {
        cpu_relax();
    } else if (n < BACKOFF_SPINS + BACKOFF_YIELDS) {
        sched_yield();
    } else {
        uint32_t doublings = PRS_MIN(n - BACKOFF_SPINS - BACKOFF_YIELDS, 4u);
        long ns = PRS_MIN(BACKOFF_SLEEP_MIN_NS << doublings, BACKOFF_SLEEP_MAX_NS);
        struct timespec ts = {.tv_sec = 0, .tv_nsec = ns};
        /* An EINTR just means an earlier retry, which is harmless. */
        nanosleep(&ts, NULL);
    }
    /* Saturates: the sleep step is already at its cap long before. */
    if (n < UINT32_MAX) *round = n + 1;
}

static bool is_pow2(uint32_t x) {
    return x != 0 && (x & (x - 1)) == 0;
}

int prs_logring_init(prs_logring *r, uint32_t capacity_records, enum prs_logring_policy policy) {
    memset(r, 0, sizeof(*r));
    if (capacity_records < PRS_LOGRING_MIN_RECORDS || capacity_records > PRS_LOGRING_MAX_RECORDS ||
        !is_pow2(capacity_records))
        return -EINVAL;
    if (policy != PRS_LOGRING_WAIT && policy != PRS_LOGRING_DROP) return -EINVAL;
    size_t size_bytes = (size_t)capacity_records * sizeof(struct prs_logring_slot);
    r->slots = aligned_alloc(PRS_CACHE_LINE_BYTES, size_bytes);
    if (!r->slots) return -ENOMEM;
    /* Touch every slot now: page faults belong at init, not on a producer's fast path. */
    memset(r->slots, 0, size_bytes);
    for (uint32_t i = 0; i < capacity_records; i++)
        atomic_init(&r->slots[i].seq, (uint64_t)i);
    r->capacity_records = capacity_records;
    r->mask = capacity_records - 1u;
    atomic_init(&r->policy, (int)policy);
    atomic_init(&r->enqueue_pos, 0);
    atomic_init(&r->dropped, 0);
    atomic_init(&r->dequeue_pos, 0);
    r->dropped_reported = 0;
    return 0;
}

void prs_logring_destroy(prs_logring *r) {
    free(r->slots);
    r->slots = NULL;
    r->capacity_records = 0;
}

int prs_logring_set_policy(prs_logring *r, enum prs_logring_policy policy) {
    if (policy != PRS_LOGRING_WAIT && policy != PRS_LOGRING_DROP) return -EINVAL;
    atomic_store_explicit(&r->policy, (int)policy, memory_order_relaxed);
    return 0;
}

/* Claims the next position (*pos_out). Returns its slot, or NULL when the record is
 * dropped (and already counted). */
static struct prs_logring_slot *claim(prs_logring *r, uint64_t *pos_out) {
    PRS_ASSERT(r->slots != NULL);
    uint64_t pos = atomic_load_explicit(&r->enqueue_pos, memory_order_relaxed);
    uint32_t round = 0;
    for (;;) {
        struct prs_logring_slot *s = &r->slots[pos & r->mask];
        uint64_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
        int64_t diff = (int64_t)(seq - pos);
        if (diff == 0) {
            /* Weak is enough: a spurious failure reloads pos and goes round again. */
            if (atomic_compare_exchange_weak_explicit(&r->enqueue_pos, &pos, pos + 1,
                                                      memory_order_relaxed, memory_order_relaxed)) {
                *pos_out = pos;
                return s;
            }
            /* pos now holds the current value: retry at once, another producer won. */
        } else if (diff < 0) {
            /* Slot still holds the record of the previous lap: the ring is full. */
            if (atomic_load_explicit(&r->policy, memory_order_relaxed) == PRS_LOGRING_DROP) {
                atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
                return NULL;
            }
            backoff(&round);
            pos = atomic_load_explicit(&r->enqueue_pos, memory_order_relaxed);
        } else {
            /* Another producer claimed pos since we read it: catch up. */
            pos = atomic_load_explicit(&r->enqueue_pos, memory_order_relaxed);
        }
    }
}

static void publish(struct prs_logring_slot *s, uint64_t pos) {
    PRS_ASSERT(s->rec.len <= PRS_LOGRING_TEXT_MAX);
    PRS_ASSERT(s->rec.text[s->rec.len] == '\0');
    /* Nobody else writes the sequence of a claimed slot: if it moved, the ring is broken. */
    PRS_ASSERT(atomic_load_explicit(&s->seq, memory_order_relaxed) == pos);
    atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
}

/* How many bytes of a too-long text to keep before the marker: the room left, moved back
 * so that no UTF-8 character is cut in half (a continuation byte 10xxxxxx at the cut
 * means the character started before it; a character is at most 4 bytes). */
static size_t keep_before_marker(const char *text) {
    size_t keep = PRS_LOGRING_TEXT_MAX - MARKER_LEN;
    for (int i = 0; i < 3 && keep > 0 && ((unsigned char)text[keep] & 0xC0u) == 0x80u; i++)
        keep--;
    return keep;
}

int prs_logring_push(prs_logring *r, uint32_t producer_id, int level, const char *msg, size_t len) {
    if (!msg && len > 0) return -EINVAL;
    uint64_t t_ns = prs_wall_ns();
    uint64_t pos;
    struct prs_logring_slot *s = claim(r, &pos);
    if (!s) return -EAGAIN;
    prs_log_record *rec = &s->rec;
    rec->timestamp_ns = t_ns;
    rec->producer_id = producer_id;
    rec->level = (int32_t)level;
    if (len <= PRS_LOGRING_TEXT_MAX) {
        if (len) memcpy(rec->text, msg, len);
        rec->text[len] = '\0';
        rec->len = (uint16_t)len;
        rec->flags = 0;
    } else {
        size_t keep = keep_before_marker(msg);
        memcpy(rec->text, msg, keep);
        memcpy(rec->text + keep, PRS_LOGRING_TRUNC_MARKER, MARKER_LEN + 1);
        rec->len = (uint16_t)(keep + MARKER_LEN);
        rec->flags = PRS_LOG_RECORD_TRUNCATED;
    }
    publish(s, pos);
    return 0;
}

int prs_logring_vpushf(prs_logring *r, uint32_t producer_id, int level, const char *fmt,
                       va_list ap) {
    uint64_t t_ns = prs_wall_ns();
    uint64_t pos;
    struct prs_logring_slot *s = claim(r, &pos);
    if (!s) return -EAGAIN;
    prs_log_record *rec = &s->rec;
    rec->timestamp_ns = t_ns;
    rec->producer_id = producer_id;
    rec->level = (int32_t)level;
    rec->flags = 0;
    int n = vsnprintf(rec->text, sizeof(rec->text), fmt, ap);
    if (n < 0) {
        static const char bad[] = "[prs: bad log format]";
        memcpy(rec->text, bad, sizeof(bad));
        rec->len = (uint16_t)(sizeof(bad) - 1);
    } else if ((size_t)n <= PRS_LOGRING_TEXT_MAX) {
        rec->len = (uint16_t)n;
    } else {
        /* vsnprintf kept the first TEXT_MAX bytes and a NUL; cutting there is the same as
         * push cutting the fully formatted message. */
        size_t keep = keep_before_marker(rec->text);
        memcpy(rec->text + keep, PRS_LOGRING_TRUNC_MARKER, MARKER_LEN + 1);
        rec->len = (uint16_t)(keep + MARKER_LEN);
        rec->flags = PRS_LOG_RECORD_TRUNCATED;
    }
    publish(s, pos);
    return 0;
}

int prs_logring_vpushf_split(prs_logring *r, uint32_t producer_id, int level, int more_flag,
                             const char *prefix, size_t prefix_len, const char *fmt, va_list ap) {
    PRS_ASSERT(prefix_len <= PRS_LOGRING_TEXT_MAX && (prefix || prefix_len == 0));
    uint64_t t_ns = prs_wall_ns();
    uint64_t pos;
    struct prs_logring_slot *s = claim(r, &pos);
    if (!s) return -EAGAIN;
    prs_log_record *rec = &s->rec;
    rec->timestamp_ns = t_ns;
    rec->producer_id = producer_id;
    rec->flags = 0;
    if (prefix_len) memcpy(rec->text, prefix, prefix_len);
    int n = vsnprintf(rec->text + prefix_len, sizeof(rec->text) - prefix_len, fmt, ap);
    int rc;
    if (n < 0) {
        static const char bad[] = "[prs: bad log format]";
        size_t keep = PRS_MIN(sizeof(bad) - 1, (size_t)PRS_LOGRING_TEXT_MAX - prefix_len);
        memcpy(rec->text + prefix_len, bad, keep);
        rec->text[prefix_len + keep] = '\0';
        rec->len = (uint16_t)(prefix_len + keep);
        rc = -EINVAL;
    } else {
        size_t whole = prefix_len + (size_t)n;
        /* vsnprintf kept what fit and a NUL: the record is the text's first bytes. */
        rec->len = (uint16_t)PRS_MIN(whole, (size_t)PRS_LOGRING_TEXT_MAX);
        rc = (int)PRS_MIN(whole, (size_t)INT32_MAX);
        if (whole > PRS_LOGRING_TEXT_MAX) level |= more_flag;
    }
    rec->level = (int32_t)level;
    publish(s, pos);
    return rc;
}

int prs_logring_pushf(prs_logring *r, uint32_t producer_id, int level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = prs_logring_vpushf(r, producer_id, level, fmt, ap);
    va_end(ap);
    return rc;
}

int prs_logring_pop(prs_logring *r, prs_log_record *out) {
    PRS_ASSERT(r->slots != NULL);
    /* Only the consumer writes dequeue_pos, so its own relaxed read is exact. */
    uint64_t pos = atomic_load_explicit(&r->dequeue_pos, memory_order_relaxed);
    struct prs_logring_slot *s = &r->slots[pos & r->mask];
    uint64_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
    if (seq != pos + 1) {
        /* Everything before pos was consumed and freed for this lap, so the slot is
         * either free or claimed-not-yet-published; any other value is corruption (or a
         * second consumer). */
        PRS_ASSERT(seq == pos);
        return 0;
    }
    const prs_log_record *rec = &s->rec;
    PRS_ASSERT(rec->len <= PRS_LOGRING_TEXT_MAX);
    /* Header and the used text only: most records are far shorter than the slot. */
    memcpy(out, rec, offsetof(prs_log_record, text) + rec->len + 1u);
    PRS_ASSERT(out->text[out->len] == '\0');
    atomic_store_explicit(&s->seq, pos + r->capacity_records, memory_order_release);
    atomic_store_explicit(&r->dequeue_pos, pos + 1, memory_order_relaxed);
    return 1;
}

uint64_t prs_logring_dropped(const prs_logring *r) {
    return atomic_load_explicit(&r->dropped, memory_order_relaxed);
}

uint64_t prs_logring_take_dropped(prs_logring *r) {
    uint64_t total = atomic_load_explicit(&r->dropped, memory_order_relaxed);
    PRS_ASSERT(total >= r->dropped_reported);
    uint64_t n = total - r->dropped_reported;
    r->dropped_reported = total;
    return n;
}
