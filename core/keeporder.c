/* keeporder.c -- see keeporder.h. */
#include "keeporder.h"

#define KEEPORDER_PER_WORKER 16u

uint32_t prs_keeporder_window(uint32_t workers) {
    uint64_t w = (uint64_t)PRS_MAX(workers, 1u) * KEEPORDER_PER_WORKER;
    return (uint32_t)PRS_MIN(w, (uint64_t)PRS_REORDER_RING);
}

/* Learns, from the store's batch records, the marks of the ids entering the ring: ids
 * never started in this life, so their records are an earlier life's last word. */
static int learn(prs_keeporder *k) {
    uint64_t id = prs_reorder_unknown(&k->ring);
    uint64_t end = PRS_MIN(k->ring.total, k->ring.next + PRS_REORDER_RING);
    if (id >= end) return 0;
    int rc = prs_queue_reader_begin(k->reader);
    if (rc) return rc;
    for (; id < end && rc == 0; id++) { /* bounded by the ring */
        prs_batch_rec rec;
        rc = prs_queue_reader_batch(k->reader, id, &rec);
        if (rc == 0) prs_reorder_learn(&k->ring, rec.state != PRS_BATCH_PENDING);
    }
    prs_queue_reader_end(k->reader);
    return rc;
}

/* The store's lowest pending batch, or total when none. */
static int lowest_pending_id(prs_queue_reader *r, uint64_t total, uint64_t *next) {
    uint64_t cursor = 0, id;
    prs_batch_rec rec;
    /* Each round looks at 64 batches or finds one: at most total / 64 + 1 rounds. */
    for (uint64_t round = 0; round <= total / 64 + 1; round++) {
        int rc = prs_queue_reader_begin(r);
        if (rc) return rc;
        rc = prs_queue_reader_pending(r, &cursor, &id, &rec, 1);
        prs_queue_reader_end(r);
        if (rc == -EAGAIN) continue;
        if (rc < 0) return rc;
        *next = rc == 0 ? total : id;
        return 0;
    }
    return -EBADMSG; /* more batch records than the counts say */
}

/* The oldest unwritten batch: the lowest pending or holding one, or total when none. */
static int oldest_unwritten(prs_queue_reader *r, uint64_t total, uint64_t *next) {
    /* A crash's repair (core/jobstate) may have failed the oldest unwritten batch: then
     * the batches held after it come first. */
    int rc = prs_queue_reader_begin(r);
    if (rc) return rc;
    uint64_t held = total;
    rc = prs_queue_reader_held_first(r, &held);
    prs_queue_reader_end(r);
    if (rc && rc != -ENOENT) return rc;
    rc = lowest_pending_id(r, total, next);
    if (rc == 0) *next = PRS_MIN(*next, held);
    return rc;
}

int prs_keeporder_init(prs_keeporder *k, prs_queue_reader *reader, prs_committer *committer,
                       const prs_keeporder_io *io, uint64_t total_batches, uint32_t window) {
    *k = (prs_keeporder){.reader = reader, .committer = committer, .io = *io};
    uint64_t next;
    int rc = oldest_unwritten(reader, total_batches, &next);
    if (rc) return rc;
    rc = prs_reorder_init(&k->ring, next, total_batches, window);
    PRS_ASSERT(rc == 0); /* the window is prs_keeporder_window's, next at most total */
    return learn(k);
}

bool prs_keeporder_admits(const prs_keeporder *k, uint64_t id) {
    return prs_reorder_admits(&k->ring, id);
}

uint64_t prs_keeporder_next(const prs_keeporder *k) {
    return k->ring.next;
}

static int add_update(prs_keeporder *k, const prs_batch_update *up) {
    if (prs_committer_add(k->committer, up)) return 0;
    int rc = k->io.flush(k->io.arg);
    if (rc) return rc;
    bool added = prs_committer_add(k->committer, up);
    PRS_ASSERT(added); /* a group was just handed over: this one is empty */
    return 0;
}

static int add_held(prs_keeporder *k, const prs_batch_update *up, const void *rows, size_t len) {
    int rc = prs_committer_add_held(k->committer, up, rows, len);
    if (rc != -EAGAIN) return rc;
    if ((rc = k->io.flush(k->io.arg))) return rc;
    rc = prs_committer_add_held(k->committer, up, rows, len);
    PRS_ASSERT(rc != -EAGAIN); /* an empty group takes one batch's rows, however many */
    return rc;
}

/* Rows held in LMDB (an earlier group, or an earlier life: stored, which may hold none),
 * dropped in the group that now writes them. */
static int write_stored(prs_keeporder *k, uint64_t id, bool stored) {
    int rc = stored ? 0 : prs_committer_drain(k->committer); /* its group is committed */
    if (rc || (rc = prs_queue_reader_begin(k->reader))) return rc;
    const void *rows;
    size_t len;
    rc = prs_queue_reader_held(k->reader, id, &rows, &len);
    if (rc == -ENOENT) rc = stored ? 1 : -EBADMSG; /* held this life and gone: not prs's doing */
    /* A hand-over while the read snapshot is open is fine: the view stays valid. */
    if (rc == 0 && !prs_committer_drop_held(k->committer, id)) {
        rc = k->io.flush(k->io.arg);
        bool dropped = rc == 0 && prs_committer_drop_held(k->committer, id);
        PRS_ASSERT(rc || dropped); /* an empty group has room */
    }
    if (rc == 0) rc = k->io.write(k->io.arg, rows, len);
    prs_queue_reader_end(k->reader);
    return rc == 1 ? 0 : rc;
}

/* Writes every finished batch from next on, in order. */
static int advance(prs_keeporder *k) {
    uint64_t id;
    enum prs_reorder_mark mark;
    int rc = 0;
    /* Bounded by the ring: every round moves next past one finished batch. */
    while (rc == 0 && prs_reorder_advance(&k->ring, &id, &mark)) {
        const void *rows;
        size_t len;
        if (mark == PRS_REORDER_HELD && prs_committer_take_held(k->committer, id, &rows, &len))
            rc = k->io.write(k->io.arg, rows, len); /* before any flush: rows live till then */
        else if (mark != PRS_REORDER_EMPTY)
            rc = write_stored(k, id, mark == PRS_REORDER_STORED);
        if (rc == 0 && prs_reorder_unknown(&k->ring) < k->ring.next + PRS_REORDER_RING / 2)
            rc = learn(k);
    }
    return rc ? rc : learn(k);
}

int prs_keeporder_finish(prs_keeporder *k, const prs_batch_update *update, const void *rows,
                         size_t len) {
    PRS_ASSERT(update->rec.state == PRS_BATCH_DONE || update->rec.state == PRS_BATCH_FAILED);
    uint64_t id = update->batch_id;
    if (id != k->ring.next) {
        int rc = len ? add_held(k, update, rows, len) : add_update(k, update);
        if (rc == 0) prs_reorder_finish(&k->ring, id, len > 0);
        return rc;
    }
    int rc = add_update(k, update); /* first: the group that covers the rows says done */
    if (rc == 0 && len) rc = k->io.write(k->io.arg, rows, len);
    if (rc) return rc;
    prs_reorder_finish(&k->ring, id, false);
    return advance(k);
}
