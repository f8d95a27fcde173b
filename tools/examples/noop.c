/* noop.c -- an entry script that does nothing but emit an empty row per item: the
 * scheduler benchmark's workload (it measures prs, not the script). */
#include "prs_entry.h"

int prs_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    (void)ctx;
    for (uint32_t i = 0; i < batch->count; i++)
        prs_emit(out, "", 0);
    return 0;
}
