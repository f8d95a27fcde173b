/* chan.c -- see chan.h. */
#include "chan.h"
#include "clock.h"

#include <string.h>
#include <time.h>

int prs_chan_init(prs_chan *c, uint32_t capacity, size_t msg_bytes) {
    memset(c, 0, sizeof(*c)); /* first: destroy after a failed init finds no buffer */
    if (capacity == 0 || msg_bytes == 0) return -EINVAL;
    c->buf = calloc(capacity, msg_bytes);
    if (!c->buf) return -ENOMEM;
    c->capacity = capacity;
    c->msg_bytes = msg_bytes;
    c->wake_len = 1;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->not_empty, &attr);
    pthread_cond_init(&c->not_full, &attr);
    pthread_condattr_destroy(&attr);
    return 0;
}

void prs_chan_destroy(prs_chan *c) {
    if (!c->buf) return;
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->not_empty);
    pthread_cond_destroy(&c->not_full);
    free(c->buf);
    c->buf = NULL;
}

void prs_chan_push(prs_chan *c, const void *msg) {
    pthread_mutex_lock(&c->lock);
    while (c->len == c->capacity)
        pthread_cond_wait(&c->not_full, &c->lock);
    uint32_t tail = (c->head + c->len) % c->capacity;
    memcpy(c->buf + (size_t)tail * c->msg_bytes, msg, c->msg_bytes);
    c->len++;
    if (c->len >= c->wake_len) pthread_cond_signal(&c->not_empty);
    pthread_mutex_unlock(&c->lock);
}

static void chan_take(prs_chan *c, void *msg) {
    PRS_ASSERT(c->len > 0);
    memcpy(msg, c->buf + (size_t)c->head * c->msg_bytes, c->msg_bytes);
    c->head = (c->head + 1) % c->capacity;
    c->len--;
}

void prs_chan_pop(prs_chan *c, void *msg) {
    pthread_mutex_lock(&c->lock);
    PRS_ASSERT(c->wake_len == 1); /* a push below wake_len would not wake it */
    while (c->len == 0)
        pthread_cond_wait(&c->not_empty, &c->lock);
    chan_take(c, msg);
    pthread_cond_signal(&c->not_full);
    pthread_mutex_unlock(&c->lock);
}

uint32_t prs_chan_pop_many(prs_chan *c, void *msgs, uint32_t cap, uint64_t timeout_ms) {
    pthread_mutex_lock(&c->lock);
    /* No wait asked (a worker's look for a batch ahead): no clock read and no futex call
     * for a deadline already past, which would cost two system calls per batch. */
    if (timeout_ms > 0 && c->len < c->wake_len) {
        struct timespec until = prs_mono_deadline(timeout_ms);
        while (c->len < c->wake_len) {
            if (pthread_cond_timedwait(&c->not_empty, &c->lock, &until) == ETIMEDOUT) break;
        }
    }
    uint32_t n = 0;
    while (n < cap && c->len > 0) {
        chan_take(c, (unsigned char *)msgs + (size_t)n * c->msg_bytes);
        n++;
    }
    if (n) pthread_cond_broadcast(&c->not_full);
    pthread_mutex_unlock(&c->lock);
    return n;
}

void prs_chan_set_wake(prs_chan *c, uint32_t wake_len) {
    PRS_ASSERT(wake_len >= 1);
    pthread_mutex_lock(&c->lock);
    c->wake_len = PRS_MIN(wake_len, c->capacity);
    pthread_mutex_unlock(&c->lock);
}
