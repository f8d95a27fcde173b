/* chan.h -- a bounded queue of fixed-size messages between threads.
 *
 * Owns: its buffer (allocated at init only). May call: pthreads.
 * Callers must: size it so pushes that must not block fit (the coordinator sizes the
 *   dispatch channel to slots + workers, so it never blocks on it).
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

int prs_chan_init(prs_chan *c, uint32_t capacity, size_t msg_bytes);
void prs_chan_destroy(prs_chan *c);
/* Blocks while full. */
void prs_chan_push(prs_chan *c, const void *msg);
/* Blocks while empty. Not for a channel with wake_len > 1. */
void prs_chan_pop(prs_chan *c, void *msg);
/* Takes up to cap messages, waiting at most timeout_ms for wake_len of them (1 unless
 * set; fewer are taken when the time is up). Returns the count. */
uint32_t prs_chan_pop_many(prs_chan *c, void *msgs, uint32_t cap, uint64_t timeout_ms);
/* Sets wake_len (>= 1): a consumer that can act on messages in groups sleeps through
 * single ones -- one wake-up (two context switches on a small machine) per group. */
void prs_chan_set_wake(prs_chan *c, uint32_t wake_len);

#endif
