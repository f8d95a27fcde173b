/* committer.c -- see committer.h. */
#include "committer.h"

#include <pthread.h>
#include <string.h>

typedef struct group {
    prs_batch_update *updates;
    uint32_t len;
    prs_queue_counts counts;
    char meta_key[32];
    char meta_val[PRS_COMMITTER_META_BYTES];
    size_t meta_len;
} group;

struct prs_committer {
    prs_queue *q;
    prs_outfile *file;
    bool durable;
    uint32_t cap;
    group groups[2];
    uint32_t filling; /* index of the group the coordinator fills */
    bool handed;      /* the other group is waiting for or under commit */
    bool stopping;
    int error; /* sticky: the first commit error */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work, idle;
};

static int commit_group(prs_committer *c, group *g) {
    if (c->file && c->durable) {
        int rc = prs_outfile_sync(c->file);
        if (rc) return rc;
    }
    return prs_queue_commit(c->q, g->updates, g->len, &g->counts,
                            g->meta_key[0] ? g->meta_key : NULL, g->meta_val, g->meta_len);
}

static void *committer_main(void *arg) {
    prs_committer *c = arg;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->handed && !c->stopping)
            pthread_cond_wait(&c->work, &c->lock);
        if (!c->handed) break; /* stopping with nothing left */
        group *g = &c->groups[c->filling ^ 1];
        PRS_ASSERT(g->len <= c->cap && g->meta_len <= sizeof(g->meta_val));
        pthread_mutex_unlock(&c->lock);
        int rc = c->error ? 0 : commit_group(c, g);
        pthread_mutex_lock(&c->lock);
        if (rc && !c->error) c->error = rc;
        g->len = 0;
        g->meta_key[0] = 0;
        c->handed = false;
        pthread_cond_broadcast(&c->idle);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

int prs_committer_start(prs_committer **out, prs_queue *q, prs_outfile *file, bool durable,
                        uint32_t group_cap) {
    PRS_ASSERT(q && group_cap >= 1);
    prs_committer *c = calloc(1, sizeof(*c));
    if (!c) return -ENOMEM;
    *c = (prs_committer){.q = q, .file = file, .durable = durable, .cap = group_cap};
    for (int i = 0; i < 2; i++) {
        c->groups[i].updates = calloc(group_cap, sizeof(prs_batch_update));
        if (!c->groups[i].updates) goto fail_groups;
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->work, NULL);
    pthread_cond_init(&c->idle, NULL);
    int rc = -pthread_create(&c->thread, NULL, committer_main, c);
    if (rc) goto destroy_sync;
    *out = c;
    return 0;
destroy_sync:
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->work);
    pthread_cond_destroy(&c->idle);
    goto free_groups;
fail_groups:
    rc = -ENOMEM;
free_groups:
    free(c->groups[0].updates);
    free(c->groups[1].updates);
    free(c);
    return rc;
}

void prs_committer_stop(prs_committer *c) {
    if (!c) return;
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_cond_signal(&c->work);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    PRS_ASSERT(!c->handed); /* the thread commits a handed group before it ends */
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->work);
    pthread_cond_destroy(&c->idle);
    free(c->groups[0].updates);
    free(c->groups[1].updates);
    free(c);
}

bool prs_committer_add(prs_committer *c, const prs_batch_update *update) {
    PRS_ASSERT(c->filling <= 1);
    group *g = &c->groups[c->filling]; /* only the coordinator touches the filling group */
    PRS_ASSERT(g->len <= c->cap);
    if (g->len == c->cap) return false;
    g->updates[g->len++] = *update;
    return true;
}

uint32_t prs_committer_pending(const prs_committer *c) {
    return c->groups[c->filling].len;
}

int prs_committer_flush(prs_committer *c, const prs_queue_counts *counts, const char *meta_key,
                        const void *meta_val, size_t meta_len, bool wait) {
    pthread_mutex_lock(&c->lock);
    while (c->handed && wait)
        pthread_cond_wait(&c->idle, &c->lock);
    if (c->handed) {
        pthread_mutex_unlock(&c->lock);
        return -EBUSY;
    }
    int err = c->error;
    if (err == 0) {
        group *g = &c->groups[c->filling];
        /* The counts a group commits: finished within created, batches and items. */
        PRS_ASSERT(prs_counts_finished_batches(counts) <= counts->total_batches);
        PRS_ASSERT(prs_counts_finished_items(counts) <= counts->total_items);
        g->counts = *counts;
        g->meta_key[0] = 0;
        if (meta_key) {
            PRS_ASSERT(strlen(meta_key) < sizeof(g->meta_key));
            snprintf(g->meta_key, sizeof(g->meta_key), "%s", meta_key);
            PRS_ASSERT(meta_len <= sizeof(g->meta_val)); /* a caller's bug: never cut */
            g->meta_len = meta_len;
            memcpy(g->meta_val, meta_val, g->meta_len);
        }
        c->filling ^= 1;
        c->handed = true;
        pthread_cond_signal(&c->work);
    }
    pthread_mutex_unlock(&c->lock);
    return err;
}

int prs_committer_drain(prs_committer *c) {
    pthread_mutex_lock(&c->lock);
    while (c->handed)
        pthread_cond_wait(&c->idle, &c->lock);
    int err = c->error;
    pthread_mutex_unlock(&c->lock);
    return err;
}
