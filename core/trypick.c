/* trypick.c -- see trypick.h. */
#include "trypick.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int prs_trypick_begin(prs_trypick *p, const prs_job_config *c, char *err, size_t err_size) {
    memset(p, 0, sizeof(*p));
    p->on = c->pick_item || c->pick_batch;
    if (!c->pick_item) return 0;
    const char *colon = strrchr(c->pick_item, ':');
    size_t digits = colon ? strspn(colon + 1, "0123456789") : 0;
    if (!colon || !digits || colon[1 + digits] || c->partition_keys ||
        (size_t)(colon - c->pick_item) >= sizeof(p->file)) {
        snprintf(err, err_size, "--item %.1900s: %s", c->pick_item,
                 c->partition_keys ? "with --partition-keys, pick the mini-batch by --batch"
                                   : "a tabular item is named FILE:LINE (as error.txt names it)");
        return -ESRCH;
    }
    snprintf(p->file, sizeof(p->file), "%.*s", (int)(colon - c->pick_item), c->pick_item);
    p->line = strtoull(colon + 1, NULL, 10);
    return 0;
}

void prs_trypick_mark(prs_trypick *p, const char *path, uint64_t line) {
    if (p->on && line == p->line && !strcmp(path, p->file)) p->hit = true;
}

enum prs_shard_take prs_trypick_batch(prs_trypick *p, const prs_job_config *c, const char *path,
                                      uint64_t first_line, uint32_t records) {
    PRS_ASSERT(p->on);
    uint64_t id = p->next++;
    bool hit = c->pick_item ? p->hit : id + 1 == c->pick_batch;
    p->hit = false;
    if (p->kept) return c->partition_keys ? PRS_SHARD_SKIP : PRS_SHARD_PAST;
    if (!hit) return PRS_SHARD_SKIP;
    p->kept = true;
    p->id = id;
    p->records = records;
    p->first_line = first_line;
    snprintf(p->path, sizeof(p->path), "%s", path);
    return PRS_SHARD_TAKE;
}

int prs_trypick_end(const prs_trypick *p, const prs_job_config *c, char *err, size_t err_size) {
    if (!p->on || p->kept) return 0;
    if (c->pick_item)
        snprintf(err, err_size,
                 "--item %.1900s: no record of --input starts at that line (items are named "
                 "FILE:LINE, FILE as the input names it: relative to an --input directory)",
                 c->pick_item);
    else /* an input without records is refused by creation itself: p->next >= 1 */
        snprintf(err, err_size, "--batch %llu: no such mini-batch: this input makes 0..%llu",
                 (unsigned long long)c->pick_batch - 1,
                 (unsigned long long)(p->next ? p->next - 1 : 0));
    return -ESRCH;
}
