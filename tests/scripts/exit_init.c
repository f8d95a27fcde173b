/* exit_init.c -- calls exit(N) in prs_init (-- --code N), on every worker, every life.
 * No batch is in hand: nothing can be charged, so prs must call it a crash loop (exit 6)
 * that names the exit, never exit N. */
#include "args.h"

int prs_init(prs_ctx *ctx, int argc, char **argv) {
    (void)ctx;
    exit(atoi(script_arg(argc, argv, "--code", "0")));
}

int prs_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    (void)ctx;
    return script_rows(batch, out);
}
