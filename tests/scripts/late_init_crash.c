/* late_init_crash.c -- worker 1's prs_init sleeps --delay-ms (default 1500) and then
 * segfaults, every life; the other workers do all the work meanwhile. A job whose work
 * is complete must finish. */
#include "args.h"

#include <signal.h>
#include <time.h>

int prs_init(prs_ctx *ctx, int argc, char **argv) {
    if (prs_worker_id(ctx) != 1) return 0;
    long ms = atol(script_arg(argc, argv, "--delay-ms", "1500"));
    nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000L}, NULL);
    raise(SIGSEGV);
    return 0;
}

int prs_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    (void)ctx;
    return script_rows(batch, out);
}
