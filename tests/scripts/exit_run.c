/* exit_run.c -- ends the process from prs_run: exit(N) (or _exit(N) with --raw) on a
 * batch holding an item whose name contains --at S; --once DIR: the first time only.
 *   -- --code N --at S [--raw] [--once DIR]
 * prs must charge that batch a try ("the entry script called exit(N)"), never take N
 * for the job's result. */
#include "args.h"

static int code;
static const char *at, *once;
static int raw;

int prs_init(prs_ctx *ctx, int argc, char **argv) {
    (void)ctx;
    code = atoi(script_arg(argc, argv, "--code", "0"));
    at = script_arg(argc, argv, "--at", NULL);
    once = script_arg(argc, argv, "--once", NULL);
    raw = script_flag(argc, argv, "--raw");
    return 0;
}

int prs_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    (void)ctx;
    if (script_holds(batch, at) && script_first_time(once)) {
        if (raw) _exit(code);
        exit(code);
    }
    return script_rows(batch, out);
}
