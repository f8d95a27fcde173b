/* shutdown_crash.c -- every batch succeeds; prs_shutdown segfaults (every life).
 * After the last commit nothing is left to do: the job must finish, not crash-loop. */
#include "args.h"

#include <signal.h>

int prs_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    (void)ctx;
    return script_rows(batch, out);
}

void prs_shutdown(prs_ctx *ctx) {
    (void)ctx;
    raise(SIGSEGV);
}
