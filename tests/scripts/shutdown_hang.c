/* shutdown_hang.c -- every batch succeeds; prs_shutdown (or with --global
 * prs_global_shutdown) never returns. The job's committed state is final: prs must end
 * (a bounded wait for shutdown, or at a second SIGTERM), never hang. */
#include "args.h"

#include <time.h>

static int hang_global;

int prs_global_init(prs_global *g, int argc, char **argv) {
    (void)g;
    hang_global = script_flag(argc, argv, "--global");
    return 0;
}

int prs_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    (void)ctx;
    return script_rows(batch, out);
}

static void hang(void) {
    for (;;)
        nanosleep(&(struct timespec){.tv_sec = 1}, NULL);
}

void prs_shutdown(prs_ctx *ctx) {
    (void)ctx;
    if (!hang_global) hang();
}

void prs_global_shutdown(prs_global *g) {
    (void)g;
    if (hang_global) hang();
}
