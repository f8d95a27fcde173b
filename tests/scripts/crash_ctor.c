/* crash_ctor.c -- a constructor that segfaults: the runtime dies while loading the script,
 * before it made OUT. prs must call it a crash loop without pointing into an OUT/logs that
 * does not exist. */
#include "args.h"

#include <signal.h>

__attribute__((constructor)) static void crash_at_load(void) {
    raise(SIGSEGV);
}

int prs_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    (void)ctx;
    return script_rows(batch, out);
}
