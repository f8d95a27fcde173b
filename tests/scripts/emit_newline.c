/* emit_newline.c -- for items whose name contains --newline S, emits a row holding a
 * newline ("<name>\tfirst\nsecond") and checks prs_emit refused it with -EINVAL (the batch
 * fails otherwise); every other item gets "<name>\tok". A row ending in its newline is
 * fine. */
#include "args.h"

#include <errno.h>

static const char *newline_in;

int prs_init(prs_ctx *ctx, int argc, char **argv) {
    (void)ctx;
    newline_in = script_arg(argc, argv, "--newline", "\x01");
    return 0;
}

int prs_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    (void)ctx;
    for (uint32_t i = 0; i < batch->count; i++) {
        const char *name = batch->items[i].name;
        char row[512];
        bool bad = strstr(name, newline_in) != NULL;
        int n = snprintf(row, sizeof(row), "%s\t%s\n", name, bad ? "first\nsecond" : "ok");
        int rc = prs_emit(out, row, (size_t)n);
        if (rc != (bad ? -EINVAL : 0)) return -1;
    }
    return 0;
}
