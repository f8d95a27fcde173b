/* An entry script whose prs_init crashes: no batch is ever running, so no death charges
 * a try and the job cannot progress. prs must call it a crash loop, not restart forever. */
#include "prs_entry.h"

#include <signal.h>

int prs_init(prs_ctx *ctx, int argc, char **argv) {
    (void)ctx, (void)argc, (void)argv;
    raise(SIGSEGV);
    return 0;
}

int prs_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    (void)ctx, (void)batch, (void)out;
    return 0;
}
