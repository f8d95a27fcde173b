/* fuzz_queue -- libFuzzer target: the LMDB record encodings of storage/queue.c (pure
 * functions; no LMDB is opened).
 *
 * Input: byte 0 picks the record kind (batch, counts, item); the rest is, in turn,
 *   1. stored bytes: decode must not crash; it accepts exactly when an independent
 *      reference check (written out below from the documented layout) accepts, with the
 *      same fields; and an accepted record encodes back to the very same bytes;
 *   2. a record in memory (the bytes read as its fields): decode(encode(x)) == x whenever
 *      the reference calls x possible, and decode refuses it otherwise.
 * Any difference aborts, so libFuzzer keeps the input.
 *
 * Build: clang -std=c17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined
 *          -iquote core -iquote storage fuzz/fuzz_queue.c storage/queue.c -llmdb
 * Run:   tools/fuzz fuzz_queue 60   (seeds: fuzz/corpus/queue) */
#include "queue.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, size_t size) {
    fprintf(stderr, "fuzz_queue: %s (input %zu bytes)\n", what, size);
    abort();
}

static uint64_t le(const uint8_t *p, unsigned n) {
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* ---- reference checks: the rules in queue.h, spelled out in 128-bit arithmetic ----------- */

static bool ref_batch_ok(const prs_batch_rec *r) {
    return r->state <= PRS_BATCH_FAILED && r->attempts <= PRS_QUEUE_MAX_ATTEMPTS &&
           !(r->state == PRS_BATCH_FAILED && r->attempts == 0) && r->item_count > 0 &&
           (unsigned __int128)r->first_item + r->item_count <= (unsigned __int128)UINT64_MAX &&
           r->succeeded <= r->item_count && (r->state == PRS_BATCH_DONE || r->succeeded == 0);
}

static bool ref_counts_ok(const prs_queue_counts *c) {
    typedef unsigned __int128 u128;
    return c->total_batches <= c->total_items &&
           (u128)c->done_batches + c->failed_batches <= c->total_batches &&
           (u128)c->succeeded_items + c->failed_items <= c->total_items;
}

static void batch_from(const uint8_t *p, prs_batch_rec *r) {
    *r = (prs_batch_rec){.state = (uint32_t)le(p, 4),
                         .attempts = (uint32_t)le(p + 4, 4),
                         .first_item = le(p + 8, 8),
                         .item_count = (uint32_t)le(p + 16, 4),
                         .succeeded = (uint32_t)le(p + 20, 4)};
}

static void counts_from(const uint8_t *p, prs_queue_counts *c) {
    *c = (prs_queue_counts){le(p, 8),      le(p + 8, 8),  le(p + 16, 8), le(p + 24, 8),
                            le(p + 32, 8), le(p + 40, 8), le(p + 48, 8), 0};
}

static void fuzz_batch(const uint8_t *d, size_t n, size_t size) {
    prs_batch_rec got, want;
    int rc = prs_queue_batch_decode(d, n, &got);
    bool ok = n == PRS_QUEUE_BATCH_BYTES;
    if (ok) {
        batch_from(d, &want);
        ok = ref_batch_ok(&want);
    }
    if ((rc == 0) != ok || (rc != 0 && rc != -EINVAL)) fail("batch decode disagrees", size);
    if (rc == 0) {
        if (memcmp(&got, &want, sizeof(got))) fail("batch decode: wrong fields", size);
        uint8_t back[PRS_QUEUE_BATCH_BYTES];
        prs_queue_batch_encode(&got, back);
        if (memcmp(back, d, sizeof(back))) fail("batch: encode(decode(b)) != b", size);
    }
    if (n >= PRS_QUEUE_BATCH_BYTES) { /* the same bytes as a record in memory */
        prs_batch_rec x;
        batch_from(d, &x);
        x.state %= 4; /* mostly valid states, one invalid */
        x.attempts %= PRS_QUEUE_MAX_ATTEMPTS + 2;
        uint64_t span =
            (uint64_t)x.item_count + 1u + (x.succeeded & 1); /* sometimes one too many */
        x.succeeded = (uint32_t)(x.succeeded % span);
        uint8_t enc[PRS_QUEUE_BATCH_BYTES];
        prs_queue_batch_encode(&x, enc);
        prs_batch_rec y;
        int rc2 = prs_queue_batch_decode(enc, sizeof(enc), &y);
        if ((rc2 == 0) != ref_batch_ok(&x)) fail("batch round-trip: accept/refuse", size);
        if (rc2 == 0 && memcmp(&x, &y, sizeof(x))) fail("batch: decode(encode(x)) != x", size);
    }
}

static void fuzz_counts(const uint8_t *d, size_t n, size_t size) {
    prs_queue_counts got, want;
    int rc = prs_queue_counts_decode(d, n, &got);
    bool ok = n == PRS_QUEUE_COUNTS_BYTES;
    if (ok) {
        counts_from(d, &want);
        ok = ref_counts_ok(&want);
    }
    if ((rc == 0) != ok || (rc != 0 && rc != -EINVAL)) fail("counts decode disagrees", size);
    if (rc == 0) {
        if (memcmp(&got, &want, sizeof(got))) fail("counts decode: wrong fields", size);
        uint8_t back[PRS_QUEUE_COUNTS_BYTES];
        prs_queue_counts_encode(&got, back);
        if (memcmp(back, d, sizeof(back))) fail("counts: encode(decode(b)) != b", size);
    }
    if (n >= PRS_QUEUE_COUNTS_BYTES) { /* small fields make possible counts likely */
        prs_queue_counts x;
        counts_from(d, &x);
        uint64_t *f = &x.total_batches;
        for (unsigned i = 0; i < 6; i++)
            f[i] = (d[i] & 0x80) ? f[i] : f[i] % 1000;
        uint8_t enc[PRS_QUEUE_COUNTS_BYTES];
        prs_queue_counts_encode(&x, enc);
        prs_queue_counts y;
        int rc2 = prs_queue_counts_decode(enc, sizeof(enc), &y);
        if ((rc2 == 0) != ref_counts_ok(&x)) fail("counts round-trip: accept/refuse", size);
        if (rc2 == 0 && memcmp(&x, &y, sizeof(x))) fail("counts: decode(encode(x)) != x", size);
    }
}

static void fuzz_item(const uint8_t *d, size_t n, size_t size) {
    const char *name;
    size_t name_len;
    int rc = prs_queue_item_decode(d, n, &name, &name_len);
    bool ok = n >= 2 && n <= PRS_QUEUE_MAX_ITEM_BYTES && d[n - 1] == 0 && !memchr(d, 0, n - 1);
    if ((rc == 0) != ok) fail("item decode disagrees", size);
    if (rc == 0 && (name != (const char *)d || name_len != n - 1)) fail("item view", size);
    /* encode the bytes as a name: accepted exactly when non-empty, NUL-free and short enough */
    static char buf[PRS_QUEUE_MAX_ITEM_BYTES];
    size_t len = 0;
    int rc2 = prs_queue_item_encode((const char *)d, n, buf, sizeof(buf), &len);
    bool enc_ok = n >= 1 && n + 1 <= PRS_QUEUE_MAX_ITEM_BYTES && !memchr(d, 0, n);
    if ((rc2 == 0) != enc_ok) fail("item encode accept/refuse", size);
    if (rc2 == 0) {
        if (prs_queue_item_decode(buf, len, &name, &name_len) || name_len != n ||
            memcmp(name, d, n))
            fail("item: decode(encode(x)) != x", size);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    switch (data[0] % 3) {
    case 0:
        fuzz_batch(d, n, size);
        break;
    case 1:
        fuzz_counts(d, n, size);
        break;
    default:
        fuzz_item(d, n, size);
        break;
    }
    return 0;
}
