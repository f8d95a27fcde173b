/* wordcount.c -- an entry script: one row per file, "<name>\t<words>\t<bytes>".
 * Build: gcc -shared -fPIC -iquote core tools/examples/wordcount.c -o wordcount.so */
#include "prs_entry.h"

#include <stdio.h>

int prs_init(prs_ctx *ctx, int argc, char **argv) {
    (void)argv;
    prs_log(ctx, PRS_LOG_INFO, "wordcount init on worker %d with %d argument(s)",
            prs_worker_id(ctx), argc - 1);
    return 0;
}

int prs_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    prs_log(ctx, PRS_LOG_DEBUG, "batch %llu: %u files", (unsigned long long)batch->id,
            batch->count);
    for (uint32_t i = 0; i < batch->count; i++) {
        const prs_item *it = &batch->items[i];
        const unsigned char *p = it->data;
        unsigned long long words = 0;
        int in_word = 0;
        for (size_t k = 0; k < it->size; k++) {
            int space = p[k] == ' ' || p[k] == '\n' || p[k] == '\t' || p[k] == '\r';
            if (!space && !in_word) words++;
            in_word = !space;
        }
        char row[4200];
        int n = snprintf(row, sizeof(row), "%s\t%llu\t%zu", it->name, words, it->size);
        if (n < 0 || (size_t)n >= sizeof(row)) {
            prs_fail_item(out, i, "name too long for a row");
            continue;
        }
        if (prs_emit(out, row, (size_t)n) != 0) return -1;
    }
    return 0;
}
