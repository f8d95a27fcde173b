/* count.c -- an entry script for tabular inputs: counts records. Each record gets an empty
 * row (a row is how an item counts as succeeded); with --output-action summary_only nothing
 * is written, and logs/overview.txt holds the count. Used by tools/bench/io.
 * Build: gcc -shared -fPIC -iquote core tools/examples/count.c -o count.so */
#include "prs_entry.h"

int prs_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    (void)ctx;
    for (uint32_t i = 0; i < batch->count; i++) {
        if (prs_emit(out, "\n", 1) != 0) return -1;
    }
    return 0;
}
