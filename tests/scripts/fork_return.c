/* fork_return.c -- forks in prs_run on a batch holding an item whose name contains --at S;
 * the child returns from prs_run into prs like the parent (no exec, no _exit). Only the
 * runtime may go on: the child must end there, touching nothing shared. */
#include "args.h"

#include <sys/wait.h>

static const char *at;

int prs_init(prs_ctx *ctx, int argc, char **argv) {
    (void)ctx;
    at = script_arg(argc, argv, "--at", NULL);
    return 0;
}

int prs_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    (void)ctx;
    if (script_holds(batch, at)) {
        pid_t child = fork();
        if (child == 0) return 0; /* the child returns into prs, with no row */
        if (child > 0) waitpid(child, NULL, 0);
    }
    return script_rows(batch, out);
}
