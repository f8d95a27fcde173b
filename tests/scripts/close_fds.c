/* close_fds.c -- on a batch holding an item whose name contains --at S, closes every
 * descriptor of the process (0..1023: the capture pipes, the job's files, all), then
 * fails the batch. prs may not finish such a job, but it must end, never spin or hang. */
#include "args.h"

static const char *at;

int prs_init(prs_ctx *ctx, int argc, char **argv) {
    (void)ctx;
    at = script_arg(argc, argv, "--at", NULL);
    return 0;
}

int prs_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    (void)ctx;
    if (!script_holds(batch, at)) return script_rows(batch, out);
    for (int fd = 0; fd < 1024; fd++)
        close(fd);
    return -1;
}
