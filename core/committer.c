/* committer.c -- see committer.h. */
#include "committer.h"

#include <pthread.h>
#include <string.h>

/* A batch's rows held in the group (--keep-order), at off in the group's bytes. */
typedef struct held_entry {
    uint64_t batch_id;
    size_t off, len;
    bool taken; /* written by the coordinator before the group was handed: not stored */
} held_entry;

typedef struct group {
    prs_batch_update *updates;
    uint32_t len;
    held_entry *held; /* group_cap of them: each comes with its batch's update */
    uint32_t held_len;
    char *bytes; /* the held rows */
    size_t bytes_len, bytes_cap;
    uint64_t *drops; /* held batches whose rows were written: group_cap at most */
    uint32_t drops_len;
    prs_queue_held_put *puts; /* built from held at commit time (the committer thread's) */
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
    prs_queue_held held = {.puts = g->puts, .drops = g->drops, .drop_count = g->drops_len};
    for (uint32_t i = 0; i < g->held_len; i++) {
        const held_entry *e = &g->held[i];
        if (e->taken) continue;
        g->puts[held.put_count++] =
            (prs_queue_held_put){.batch_id = e->batch_id, .rows = g->bytes + e->off, .len = e->len};
    }
    return prs_queue_commit_held(c->q, g->updates, g->len, &g->counts,
                                 g->meta_key[0] ? g->meta_key : NULL, g->meta_val, g->meta_len,
                                 held.put_count || held.drop_count ? &held : NULL);
}

static void group_clear(group *g) {
    g->len = 0;
    g->held_len = 0;
    g->bytes_len = 0;
    g->drops_len = 0;
    g->meta_key[0] = 0;
}

static void group_free(group *g) {
    free(g->updates);
    free(g->held);
    free(g->bytes);
    free(g->drops);
    free(g->puts);
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
        group_clear(g);
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
        group *g = &c->groups[i];
        g->updates = calloc(group_cap, sizeof(prs_batch_update));
        g->held = calloc(group_cap, sizeof(held_entry));
        g->drops = calloc(group_cap, sizeof(uint64_t));
        g->puts = calloc(group_cap, sizeof(prs_queue_held_put));
        if (!g->updates || !g->held || !g->drops || !g->puts) goto fail_groups;
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
    group_free(&c->groups[0]);
    group_free(&c->groups[1]);
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
    group_free(&c->groups[0]);
    group_free(&c->groups[1]);
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

int prs_committer_add_held(prs_committer *c, const prs_batch_update *update, const void *rows,
                           size_t len) {
    PRS_ASSERT(len > 0 && c->filling <= 1);
    group *g = &c->groups[c->filling];
    PRS_ASSERT(g->len <= c->cap && g->held_len <= g->len);
    if (g->len == c->cap) return -EAGAIN;
    /* A group's held rows are bounded, except one batch's alone: it must fit somewhere. */
    if (g->bytes_len && g->bytes_len + len > PRS_COMMITTER_HELD_BYTES) return -EAGAIN;
    if (g->bytes_len + len > g->bytes_cap) {
        size_t cap = PRS_MAX(g->bytes_len + len,
                             PRS_MIN(2 * g->bytes_cap + 4096, (size_t)PRS_COMMITTER_HELD_BYTES));
        char *bytes = realloc(g->bytes, cap);
        if (!bytes) return -ENOMEM;
        g->bytes = bytes;
        g->bytes_cap = cap;
    }
    memcpy(g->bytes + g->bytes_len, rows, len);
    g->held[g->held_len++] =
        (held_entry){.batch_id = update->batch_id, .off = g->bytes_len, .len = len};
    g->bytes_len += len;
    g->updates[g->len++] = *update;
    return 0;
}

bool prs_committer_take_held(prs_committer *c, uint64_t batch_id, const void **rows, size_t *len) {
    group *g = &c->groups[c->filling];
    for (uint32_t i = g->held_len; i-- > 0;) {
        held_entry *e = &g->held[i];
        if (e->batch_id != batch_id || e->taken) continue;
        e->taken = true;
        *rows = g->bytes + e->off;
        *len = e->len;
        return true;
    }
    return false;
}

bool prs_committer_drop_held(prs_committer *c, uint64_t batch_id) {
    group *g = &c->groups[c->filling];
    PRS_ASSERT(g->drops_len <= c->cap);
    if (g->drops_len == c->cap) return false;
    g->drops[g->drops_len++] = batch_id;
    return true;
}

bool prs_committer_has_room(const prs_committer *c, size_t held_bytes) {
    const group *g = &c->groups[c->filling];
    if (g->len == c->cap) return false;
    return held_bytes == 0 || g->bytes_len == 0 ||
           g->bytes_len + held_bytes <= PRS_COMMITTER_HELD_BYTES;
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
