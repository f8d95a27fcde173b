/* emit_huge.c -- calls prs_emit with impossible lengths (SIZE_MAX, SIZE_MAX - 1) before
 * emitting each item's row; the row says what prs_emit returned ("<name>\t-12 -12"): it
 * must refuse them (-ENOMEM), never wrap its size check and copy. */
#include "args.h"

#include <stdint.h>

int prs_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    (void)ctx;
    static const char byte = 'x';
    for (uint32_t i = 0; i < batch->count; i++) {
        int a = prs_emit(out, &byte, SIZE_MAX);
        int b = prs_emit(out, &byte, SIZE_MAX - 1);
        char row[512];
        int n = snprintf(row, sizeof(row), "%s\t%d %d", batch->items[i].name, a, b);
        if (prs_emit(out, row, (size_t)n) != 0) return -1;
    }
    return 0;
}
