/* hash.c -- an entry script: one row per item, "<name>\t<FNV-1a 64 of its bytes, hex>".
 * The small-files benchmark's work per file (tools/bench/io): it touches every byte.
 * Build: gcc -shared -fPIC -iquote core tools/examples/hash.c -o hash.so */
#include "prs_entry.h"

#include <stdio.h>

int prs_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    (void)ctx;
    for (uint32_t i = 0; i < batch->count; i++) {
        const prs_item *it = &batch->items[i];
        const unsigned char *p = it->data;
        uint64_t h = 0xcbf29ce484222325ull;
        for (size_t k = 0; k < it->size; k++)
            h = (h ^ p[k]) * 0x100000001b3ull;
        char row[4200];
        int n = snprintf(row, sizeof(row), "%s\t%016llx", it->name, (unsigned long long)h);
        if (n < 0 || (size_t)n >= sizeof(row)) {
            prs_fail_item(out, i, "name too long for a row");
            continue;
        }
        if (prs_emit(out, row, (size_t)n) != 0) return -1;
    }
    return 0;
}
