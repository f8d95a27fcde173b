/* logring.h -- the lock-free log ring: many producers, one consumer, fixed-size records.
 *
 * Owns: one buffer of capacity_records slots of PRS_LOGRING_SLOT_BYTES (256) each,
 *   allocated by prs_logring_init and freed by prs_logring_destroy; nothing else. No
 *   allocation, lock or system call on the push fast path.
 * May call: libc only -- clock_gettime (CLOCK_REALTIME, the record's timestamp, through
 *   core/base/clock.h),
 *   vsnprintf (pushf), sched_yield and nanosleep (the WAIT back-off), C11 atomics.
 * Callers must:
 *   - producers (any number of threads: workers on behalf of entry scripts, the
 *     coordinator, ...) hold nothing: push/pushf take no lock and may run concurrently;
 *   - have exactly ONE consumer at a time (the log flusher). pop/take_dropped are not
 *     safe to call from two threads at once. The role may be handed to another thread
 *     (e.g. the main thread drains at shutdown) if the handover is ordered, e.g. by
 *     pthread_join of the old consumer;
 *   - call init before, and destroy after, every other call; destroy only once all
 *     producers and the consumer have stopped. Records still in the ring are discarded.
 *   - not push from a signal handler (vsnprintf and the back-off are not async-signal-safe);
 *   - as the consumer, sleep when pop finds the ring empty (a tick of 20 us .. a few ms),
 *     rather than spin: polling an empty ring keeps pulling the very cache line the next
 *     producer writes; in tools/bench/bench_logring.c that cost ~40% of the throughput.
 *     Size the ring so it holds what producers log during one tick plus one write.
 *
 * Design (Vyukov's bounded MPMC queue, used with one consumer): each slot carries a
 *   sequence number. A producer claims position p with a CAS on the enqueue counter when
 *   slot p's sequence is p (free), writes the record in place, then publishes it by
 *   storing p+1 (release). The consumer takes position p once its sequence is p+1
 *   (acquire), copies the record out, and frees the slot for the next lap by storing
 *   p + capacity. A record is therefore never seen half-written (no torn records), and
 *   the records of one producer come out in the order it pushed them, since each of its
 *   pushes claims a later position than the one before. Between producers, order is
 *   the order in which they claimed positions.
 *   A producer preempted between claim and publish holds up the consumer at that slot
 *   (pop reports "empty" until it publishes); records behind it wait, none are lost.
 *
 * Long messages are TRUNCATED, not split: a record holds at most PRS_LOGRING_TEXT_MAX
 *   (227) bytes of text. A longer message keeps its first bytes (cut back to a UTF-8
 *   character boundary, at most 3 bytes further) followed by PRS_LOGRING_TRUNC_MARKER
 *   ("...[truncated]"), and the record's flags get PRS_LOG_RECORD_TRUNCATED. Truncation
 *   keeps one message = one record, so a message can never be half-delivered, and
 *   the reader of the log sees that something was cut. Text may contain any byte,
 *   including NUL and '\n' (escaping them is the log writer's business); len says how
 *   long it is and text[len] is always NUL.
 *
 * When the ring is full:
 *   PRS_LOGRING_WAIT (the default to use): the producer retries until a slot frees, with
 *     a back-off bounded per step: 128 busy spins (cpu pause), then 32 sched_yield()s,
 *     then nanosleep starting at 20 us and doubling up to 200 us per retry. So a waiting
 *     producer notices free space within ~200 us (plus scheduling), and burns no CPU
 *     while the consumer is slow. It waits for as long as the ring stays full; a
 *     consumer that stops for good must first switch the ring to DROP
 *     (prs_logring_set_policy), which releases every waiting producer.
 *   PRS_LOGRING_DROP: the push returns -EAGAIN at once and the record is counted.
 *   Dropped records are counted exactly; the consumer reads the count with
 *   prs_logring_dropped (total) or prs_logring_take_dropped (since its last take) and
 *   writes "N records dropped" into the log, so nothing is lost silently. */
#ifndef PRS_LOGRING_H
#define PRS_LOGRING_H

#include "base.h"

#include <stdarg.h>
#include <stdatomic.h>

#define PRS_LOGRING_SLOT_BYTES 256u
/* Record header (20 bytes) + text; a slot is its 8-byte sequence number + one record. */
#define PRS_LOGRING_TEXT_BYTES 228u
#define PRS_LOGRING_TEXT_MAX (PRS_LOGRING_TEXT_BYTES - 1u) /* text bytes, without the NUL */
#define PRS_LOGRING_TRUNC_MARKER "...[truncated]"
#define PRS_LOGRING_MIN_RECORDS 2u         /* one slot cannot tell "full" from "free" */
#define PRS_LOGRING_MAX_RECORDS (1u << 16) /* 16 MiB of slots: a log ring, not a spool */

enum prs_logring_policy {
    PRS_LOGRING_WAIT = 0,
    PRS_LOGRING_DROP = 1,
};

enum {
    PRS_LOG_RECORD_TRUNCATED = 1u << 0,
};

typedef struct prs_log_record {
    uint64_t timestamp_ns; /* CLOCK_REALTIME when push was called (before any wait) */
    uint32_t producer_id;  /* as given by the producer (worker id, ...) */
    int32_t level;         /* as given (PRS_LOG_*); the ring does not filter */
    uint16_t len;          /* bytes in text, without the NUL */
    uint16_t flags;        /* PRS_LOG_RECORD_* */
    char text[PRS_LOGRING_TEXT_BYTES];
} prs_log_record;

struct prs_logring_slot;

/* Fields are grouped by who writes them, each group on its own cache line(s), so the
 * producers' CAS traffic on enqueue_pos does not evict the consumer's counter. The
 * padding is explicit rather than alignas(64) so that a prs_logring may live inside a
 * malloc'd struct (malloc only promises 16-byte alignment). */
typedef struct prs_logring {
    /* Written at init (and set_policy): read-mostly. */
    struct prs_logring_slot *slots;
    uint64_t mask;
    uint32_t capacity_records;
    _Atomic int policy;
    char pad0[PRS_CACHE_LINE_BYTES];
    /* Written by producers. */
    _Atomic uint64_t enqueue_pos;
    _Atomic uint64_t dropped;
    char pad1[PRS_CACHE_LINE_BYTES];
    /* Written by the consumer only. */
    _Atomic uint64_t dequeue_pos;
    uint64_t dropped_reported;
    char pad2[PRS_CACHE_LINE_BYTES];
} prs_logring;

/* capacity_records: a power of two in [PRS_LOGRING_MIN_RECORDS, PRS_LOGRING_MAX_RECORDS].
 * Returns 0, -EINVAL (bad capacity or policy; *r is then safe to destroy) or -ENOMEM. */
int prs_logring_init(prs_logring *r, uint32_t capacity_records, enum prs_logring_policy policy);
void prs_logring_destroy(prs_logring *r);

/* Copies len bytes of msg (truncated as described above; msg may be NULL if len is 0).
 * Returns 0 (queued), -EAGAIN (ring full under DROP, or switched to DROP while waiting:
 * the record is counted as dropped) or -EINVAL (msg NULL with len > 0; not counted). */
int prs_logring_push(prs_logring *r, uint32_t producer_id, int level, const char *msg, size_t len);
/* Formats straight into the claimed slot: no allocation, no intermediate buffer.
 * Same returns as push. A format error (vsnprintf < 0) stores "[prs: bad log format]". */
int prs_logring_pushf(prs_logring *r, uint32_t producer_id, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int prs_logring_vpushf(prs_logring *r, uint32_t producer_id, int level, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/* The producer side of a line longer than a record, formatted straight into the slot:
 * prefix (prefix_len <= PRS_LOGRING_TEXT_MAX bytes, no NUL needed) then fmt. When the whole
 * text is longer than a record, the record keeps its first PRS_LOGRING_TEXT_MAX bytes (no
 * truncation marker, not flagged TRUNCATED) and its level gets more_flag, so the caller
 * pushes the rest as continuation records (core/joblog.c: a line of up to 4 KiB). Returns
 * the whole text's length (prefix_len + what vsnprintf counted: > PRS_LOGRING_TEXT_MAX when
 * cut), -EAGAIN as push, or -EINVAL for a format error (vsnprintf < 0: the record holds the
 * prefix and "[prs: bad log format]"). */
int prs_logring_vpushf_split(prs_logring *r, uint32_t producer_id, int level, int more_flag,
                             const char *prefix, size_t prefix_len, const char *fmt, va_list ap)
    __attribute__((format(printf, 7, 0)));

/* Consumer only. Copies the oldest published record into *out: returns 1, or 0 if there
 * is none yet (empty, or the next one is still being written). Only the header and
 * text[0..len] of *out are written. */
int prs_logring_pop(prs_logring *r, prs_log_record *out);

/* Total records dropped since init. Any thread. Exact once the producers have stopped;
 * while they run it is a snapshot. */
uint64_t prs_logring_dropped(const prs_logring *r);
/* Consumer only: records dropped since the previous take (or init), for writing
 * "N records dropped" into the log. The takes add up to prs_logring_dropped(). */
uint64_t prs_logring_take_dropped(prs_logring *r);

/* Any thread. Switching to DROP makes producers waiting on a full ring give up
 * (-EAGAIN, counted) within one back-off step; the consumer does it when it stops for
 * good, so that no producer waits forever on a ring nobody drains. Returns 0 or -EINVAL. */
int prs_logring_set_policy(prs_logring *r, enum prs_logring_policy policy);

#endif
