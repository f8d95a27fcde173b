/* fuzz_logring -- libFuzzer target: the log ring, single-threaded, against a trivial
 * reference model (an array FIFO holding the expected records).
 *
 * Input: byte 0 picks the capacity (2, 4, 8 or 16) and the starting policy; the rest is a
 * sequence of operations -- push, pushf, pop, take_dropped, set_policy -- with their
 * arguments. After every operation the ring must agree with the model: FIFO order, exact
 * header and text (truncation included), pop() == 0 exactly when the model is empty,
 * push() == -EAGAIN exactly when the model is full under DROP, exact drop counts.
 * A push that would have to wait (full ring under WAIT) is skipped: single-threaded, it
 * would wait forever, by design.
 *
 * Build: clang -std=c17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined
 *          -iquote core fuzz/fuzz_logring.c core/logring.c -o build/fuzz/fuzz_logring
 * Run:   mkdir -p build/fuzz/corpus/logring
 *        build/fuzz/fuzz_logring -max_total_time=30 build/fuzz/corpus/logring fuzz/corpus/logring
 *        (libFuzzer writes new inputs into the FIRST directory: keep that one out of git). */
#include "logring.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MODEL_MAX 16u
#define MSG_MAX_BYTES 600u

struct expected {
    uint32_t producer_id;
    int32_t level;
    uint16_t len, flags;
    char text[PRS_LOGRING_TEXT_BYTES];
};

struct model {
    struct expected q[MODEL_MAX];
    uint32_t head, count, capacity;
    uint64_t dropped, taken;
    enum prs_logring_policy policy;
};

struct reader {
    const uint8_t *p;
    size_t left;
};

static uint8_t next_byte(struct reader *rd) {
    if (rd->left == 0) return 0;
    rd->left--;
    return *rd->p++;
}

/* The documented rule, written out the plain way: up to TEXT_MAX bytes kept as they are;
 * beyond that, the first TEXT_MAX - marker bytes, less up to 3 while the first byte cut
 * away is a UTF-8 continuation byte, then the marker. */
static void expect_text(struct expected *e, const char *msg, size_t len) {
    const size_t marker_len = strlen(PRS_LOGRING_TRUNC_MARKER);
    if (len <= PRS_LOGRING_TEXT_MAX) {
        memcpy(e->text, msg, len);
        e->text[len] = '\0';
        e->len = (uint16_t)len;
        e->flags = 0;
        return;
    }
    size_t keep = PRS_LOGRING_TEXT_MAX - marker_len;
    for (int i = 0; i < 3; i++) {
        if (keep == 0 || ((unsigned char)msg[keep] & 0xC0) != 0x80) break;
        keep--;
    }
    memcpy(e->text, msg, keep);
    strcpy(e->text + keep, PRS_LOGRING_TRUNC_MARKER);
    e->len = (uint16_t)(keep + marker_len);
    e->flags = PRS_LOG_RECORD_TRUNCATED;
}

/* What the model says a push should return; on 0 the expected record is queued. */
static int model_push(struct model *m, uint32_t producer, int level, const char *msg, size_t len) {
    if (m->count == m->capacity) {
        m->dropped++;
        return -EAGAIN;
    }
    struct expected *e = &m->q[(m->head + m->count) % m->capacity];
    e->producer_id = producer;
    e->level = (int32_t)level;
    expect_text(e, msg, len);
    m->count++;
    return 0;
}

static void check_pop(prs_logring *r, struct model *m) {
    prs_log_record rec;
    int got = prs_logring_pop(r, &rec);
    if (m->count == 0) {
        if (got != 0) abort();
        return;
    }
    if (got != 1) abort();
    const struct expected *e = &m->q[m->head];
    if (rec.producer_id != e->producer_id || rec.level != e->level) abort();
    if (rec.len != e->len || rec.flags != e->flags) abort();
    if (memcmp(rec.text, e->text, (size_t)e->len + 1) != 0) abort();
    if (rec.timestamp_ns == 0) abort();
    m->head = (m->head + 1) % m->capacity;
    m->count--;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    struct reader rd = {data, size};
    uint8_t first = next_byte(&rd);
    struct model m = {.capacity = 2u << (first & 3u)};
    m.policy = (first & 4u) ? PRS_LOGRING_DROP : PRS_LOGRING_WAIT;
    PRS_ASSERT(m.capacity <= MODEL_MAX);
    prs_logring r;
    if (prs_logring_init(&r, m.capacity, m.policy) != 0) abort();

    char msg[MSG_MAX_BYTES];
    uint32_t counter = 0;
    /* Each operation consumes at least one byte, so this ends. */
    while (rd.left > 0) {
        uint8_t op = next_byte(&rd);
        switch (op % 8) {
        case 0:
        case 1:
        case 2: {
            uint32_t producer = next_byte(&rd);
            int level = (int)(int8_t)next_byte(&rd);
            size_t len = (size_t)(next_byte(&rd) | (next_byte(&rd) & 3u) << 8) % MSG_MAX_BYTES;
            /* The message: input bytes, then (long messages from short inputs) a pattern
             * that includes UTF-8 continuation bytes around the cut. */
            size_t from_input = PRS_MIN(len, rd.left);
            memcpy(msg, rd.p, from_input);
            rd.p += from_input;
            rd.left -= from_input;
            for (size_t i = from_input; i < len; i++)
                msg[i] = (char)((op & 8u) ? 0x80u + (i % 64u) : 'a' + i % 26u);
            if (m.policy == PRS_LOGRING_WAIT && m.count == m.capacity) break;
            /* op bit 7: pass NULL for an empty message, which is allowed. */
            const char *p = (len == 0 && (op & 0x80u)) ? NULL : msg;
            int want = model_push(&m, producer, level, msg, len);
            if (prs_logring_push(&r, producer, level, p, len) != want) abort();
            break;
        }
        case 3: {
            uint32_t producer = next_byte(&rd);
            size_t n = next_byte(&rd);
            n = PRS_MIN(n, rd.left);
            /* %.*s stops at a NUL: the model formats the same way, then cuts by the rule. */
            char full[MSG_MAX_BYTES];
            int flen = snprintf(full, sizeof(full), "%.*s#%u", (int)n, (const char *)rd.p, counter);
            PRS_ASSERT(flen >= 0 && (size_t)flen < sizeof(full));
            if (!(m.policy == PRS_LOGRING_WAIT && m.count == m.capacity)) {
                int want = model_push(&m, producer, 30, full, (size_t)flen);
                if (prs_logring_pushf(&r, producer, 30, "%.*s#%u", (int)n, (const char *)rd.p,
                                      counter) != want)
                    abort();
            }
            rd.p += n;
            rd.left -= n;
            counter++;
            break;
        }
        case 4:
        case 5:
            check_pop(&r, &m);
            break;
        case 6: {
            uint64_t want = m.dropped - m.taken;
            if (prs_logring_take_dropped(&r) != want) abort();
            m.taken = m.dropped;
            if (prs_logring_dropped(&r) != m.dropped) abort();
            break;
        }
        case 7:
            m.policy = (op & 8u) ? PRS_LOGRING_DROP : PRS_LOGRING_WAIT;
            if (prs_logring_set_policy(&r, m.policy) != 0) abort();
            break;
        }
    }
    /* Drain: everything the model holds comes out, in order, then nothing. */
    while (m.count > 0)
        check_pop(&r, &m);
    check_pop(&r, &m);
    if (prs_logring_dropped(&r) != m.dropped) abort();
    if (prs_logring_take_dropped(&r) != m.dropped - m.taken) abort();
    prs_logring_destroy(&r);
    return 0;
}
