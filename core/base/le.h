/* le.h -- little-endian integers in byte buffers: the one codec of every record prs
 * writes to disk (queue records, side-table buckets), whatever the host's byte order.
 *
 * Owns: nothing. Header only; pure functions, any thread.
 * May call: memcpy and <endian.h>'s conversions (libc). Callers: storage/ (records in
 *   LMDB), anything that lays out bytes.
 * p need not be aligned. memcpy and htole/letoh, not a loop over bytes: each is one load
 * or store on x86-64 (gcc -O2 does not merge a byte loop; a side-table lookup reads
 * several of these per probe). */
#ifndef PRS_LE_H
#define PRS_LE_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

static inline void prs_le16_put(void *p, uint16_t v) {
    v = htole16(v);
    memcpy(p, &v, sizeof(v));
}

static inline void prs_le32_put(void *p, uint32_t v) {
    v = htole32(v);
    memcpy(p, &v, sizeof(v));
}

static inline void prs_le64_put(void *p, uint64_t v) {
    v = htole64(v);
    memcpy(p, &v, sizeof(v));
}

static inline uint16_t prs_le16_get(const void *p) {
    uint16_t v;
    memcpy(&v, p, sizeof(v));
    return le16toh(v);
}

static inline uint32_t prs_le32_get(const void *p) {
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return le32toh(v);
}

static inline uint64_t prs_le64_get(const void *p) {
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return le64toh(v);
}

#endif
