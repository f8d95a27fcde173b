/* le.h -- little-endian integers in byte buffers: the one codec of every record prs
 * writes to disk (queue records, side-table buckets), whatever the host's byte order.
 *
 * Owns: nothing. Header only; pure functions, any thread.
 * May call: nothing. Callers: storage/ (records in LMDB), anything that lays out bytes.
 * p need not be aligned. Compilers turn each loop into one load or store on x86-64. */
#ifndef PRS_LE_H
#define PRS_LE_H

#include <stdint.h>

static inline void prs_le16_put(void *p, uint16_t v) {
    uint8_t *b = p;
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
}

static inline void prs_le32_put(void *p, uint32_t v) {
    uint8_t *b = p;
    for (unsigned i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

static inline void prs_le64_put(void *p, uint64_t v) {
    uint8_t *b = p;
    for (unsigned i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t prs_le16_get(const void *p) {
    const uint8_t *b = p;
    return (uint16_t)(b[0] | (uint16_t)b[1] << 8);
}

static inline uint32_t prs_le32_get(const void *p) {
    const uint8_t *b = p;
    uint32_t v = 0;
    for (unsigned i = 0; i < 4; i++)
        v |= (uint32_t)b[i] << (8 * i);
    return v;
}

static inline uint64_t prs_le64_get(const void *p) {
    const uint8_t *b = p;
    uint64_t v = 0;
    for (unsigned i = 0; i < 8; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

#endif
