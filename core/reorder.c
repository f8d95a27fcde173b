/* reorder.c -- see reorder.h. */
#include "reorder.h"

#include <string.h>

static void reorder_check(const prs_reorder *r) {
    PRS_ASSERT(r->next <= r->total && r->window >= 1 && r->window <= PRS_REORDER_RING);
    PRS_ASSERT(r->known >= r->next && r->known - r->next <= PRS_REORDER_RING);
    PRS_ASSERT(r->known <= r->total);
}

int prs_reorder_init(prs_reorder *r, uint64_t next, uint64_t total, uint32_t window) {
    if (window < 1 || window > PRS_REORDER_RING || next > total) return -EINVAL;
    memset(r, 0, sizeof(*r));
    r->next = next;
    r->total = total;
    r->window = window;
    r->known = next;
    return 0;
}

uint64_t prs_reorder_unknown(const prs_reorder *r) {
    reorder_check(r);
    return r->known;
}

void prs_reorder_learn(prs_reorder *r, bool finished) {
    reorder_check(r);
    /* Only while the ring has room and the job has ids: a caller's bug otherwise. */
    PRS_ASSERT(r->known < r->total && r->known - r->next < PRS_REORDER_RING);
    r->mark[r->known % PRS_REORDER_RING] = finished ? PRS_REORDER_STORED : PRS_REORDER_OPEN;
    r->known++;
}

bool prs_reorder_admits(const prs_reorder *r, uint64_t id) {
    reorder_check(r);
    return id >= r->next && id < r->total && id - r->next < r->window && id < r->known;
}

void prs_reorder_finish(prs_reorder *r, uint64_t id, bool held) {
    reorder_check(r);
    PRS_ASSERT(id >= r->next && id < r->known); /* started, so admitted */
    uint8_t *m = &r->mark[id % PRS_REORDER_RING];
    PRS_ASSERT(*m == PRS_REORDER_OPEN);   /* finished once */
    PRS_ASSERT(!(held && id == r->next)); /* next's rows are written, never held */
    *m = held ? PRS_REORDER_HELD : PRS_REORDER_EMPTY;
}

bool prs_reorder_advance(prs_reorder *r, uint64_t *id, enum prs_reorder_mark *mark) {
    reorder_check(r);
    if (r->next == r->known) return false; /* the end, or the next mark is not learnt */
    uint8_t *m = &r->mark[r->next % PRS_REORDER_RING];
    if (*m == PRS_REORDER_OPEN) return false;
    *id = r->next;
    *mark = (enum prs_reorder_mark) * m;
    *m = PRS_REORDER_OPEN;
    r->next++;
    return true;
}
