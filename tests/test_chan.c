/* The bounded channel: FIFO order, bounds, timeouts, and a producer/consumer pair. */
#include "chan.h"

#include <criterion/criterion.h>
#include <pthread.h>

Test(chan, fifo_and_pop_many) {
    prs_chan c;
    cr_assert_eq(prs_chan_init(&c, 4, sizeof(int)), 0);
    for (int i = 0; i < 4; i++)
        prs_chan_push(&c, &i);
    int got[8];
    cr_assert_eq(prs_chan_pop_many(&c, got, 8, 0), 4);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(got[i], i);
    cr_assert_eq(prs_chan_pop_many(&c, got, 8, 10), 0); /* empty: times out */
    prs_chan_destroy(&c);
}

Test(chan, rejects_zero_sizes) {
    prs_chan c;
    cr_assert_eq(prs_chan_init(&c, 0, 4), -EINVAL);
    cr_assert_eq(prs_chan_init(&c, 4, 0), -EINVAL);
}

static void *producer(void *arg) {
    prs_chan *c = arg;
    for (int i = 0; i < 10000; i++)
        prs_chan_push(c, &i); /* blocks when full */
    return NULL;
}

Test(chan, bounded_producer_consumer_keeps_order) {
    prs_chan c;
    cr_assert_eq(prs_chan_init(&c, 3, sizeof(int)), 0);
    pthread_t t;
    pthread_create(&t, NULL, producer, &c);
    for (int i = 0; i < 10000; i++) {
        int v;
        prs_chan_pop(&c, &v);
        cr_assert_eq(v, i);
    }
    pthread_join(t, NULL);
    prs_chan_destroy(&c);
}

static void *slow_pairs(void *arg) {
    prs_chan *c = arg;
    for (int i = 0; i < 1000; i++)
        prs_chan_push(c, &i);
    return NULL;
}

Test(chan, wake_len_groups_messages_and_never_loses_one) {
    prs_chan c;
    cr_assert_eq(prs_chan_init(&c, 8, sizeof(int)), 0);
    prs_chan_set_wake(&c, 4);
    int one = 7, got[8];
    prs_chan_push(&c, &one);
    /* Fewer than wake_len: the wait times out and takes what is there. */
    cr_assert_eq(prs_chan_pop_many(&c, got, 8, 5), 1);
    cr_assert_eq(got[0], 7);
    prs_chan_set_wake(&c, 100); /* clamped to the capacity: a full channel always wakes */
    pthread_t t;
    pthread_create(&t, NULL, slow_pairs, &c);
    int next = 0;
    for (int rounds = 0; next < 1000 && rounds < 100000; rounds++) {
        uint32_t n = prs_chan_pop_many(&c, got, 8, 1000);
        for (uint32_t i = 0; i < n; i++)
            cr_assert_eq(got[i], next++);
    }
    pthread_join(t, NULL);
    cr_assert_eq(next, 1000);
    prs_chan_destroy(&c);
}
