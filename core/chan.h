/* chan.h -- a bounded queue of fixed-size messages between threads.
 *
 * Owns: its buffer (allocated at init only) and a copy of every message between push
 *   and pop: a message is copied in and out by value (msg_bytes), so the caller keeps
 *   ownership of what a message points to.
 * May call: pthreads, core/base (clock.h).
 * Callers must: init before any thread uses it and destroy after every thread is done;
 *   size it so pushes that must not block fit (the coordinator sizes the dispatch
 *   channel to slots + workers, so it never blocks on it). Any number of threads may
 *   push and pop concurrently; pop (wake_len 1) and pop_many are for consumers.
 * Why a mutex and not lock-free: one message per mini-batch each way, against a
 * run() call that costs far more; the log ring (logring.h) is where lock-freedom pays. */
#ifndef PRS_CHAN_H
#define PRS_CHAN_H

#include "base.h"

#include <pthread.h>

typedef struct prs_chan {
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    unsigned char *buf;
    size_t msg_bytes;
    uint32_t capacity, head, len;
    uint32_t wake_len; /* a push wakes the consumer once this many messages wait */
} prs_chan;

/* Makes an empty channel of capacity messages of msg_bytes each (wake_len 1). Any thread,
 * before the channel is shared. 0; -EINVAL: capacity or msg_bytes is 0; -ENOMEM. */
int prs_chan_init(prs_chan *c, uint32_t capacity, size_t msg_bytes);
/* Frees the buffer; messages still in it are dropped. No thread may be inside a call or
 * use it after. Twice, or after a failed init, is fine. */
void prs_chan_destroy(prs_chan *c);
/* Copies msg (msg_bytes) in; blocks while full, with no time bound (see "Callers
 * must"). Any thread. Cannot fail. */
void prs_chan_push(prs_chan *c, const void *msg);
/* Copies the oldest message out into msg; blocks while empty, with no time bound (the
 * worker's wait for its next batch: the coordinator always sends a stop). Any thread.
 * Asserts wake_len == 1 (a push below wake_len would not wake it). Cannot fail. */
void prs_chan_pop(prs_chan *c, void *msg);
/* Copies up to cap messages, oldest first, into msgs (cap * msg_bytes), waiting at most
 * timeout_ms (CLOCK_MONOTONIC) for wake_len of them; fewer are taken when the time is up.
 * Returns the count, 0 when none came. Any thread. Cannot fail. */
uint32_t prs_chan_pop_many(prs_chan *c, void *msgs, uint32_t cap, uint64_t timeout_ms);
/* Sets wake_len (>= 1, asserted; capped at capacity): a consumer that can act on messages
 * in groups sleeps through single ones -- one wake-up (two context switches on a small
 * machine) per group. Any thread. */
void prs_chan_set_wake(prs_chan *c, uint32_t wake_len);

#endif
