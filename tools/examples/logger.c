/* logger.c -- an entry script that logs: for each item one prs_log line at every level
 * (DEBUG .. CRITICAL), and, if asked, one line on stdout and one on stderr. It emits one
 * row per item. Used by tests/test_logs.c (--logging-level, stdout capture) and by the
 * logging benchmark (tools/bench/logjob).
 * Arguments: --levels (log at every level; default: one INFO line per item),
 *            --print (also printf/fprintf(stderr) per item), --quiet-log (no prs_log). */
#include "prs_entry.h"

#include <stdio.h>
#include <string.h>

static int levels, print, quiet_log;

int prs_init(prs_ctx *ctx, int argc, char **argv) {
    (void)ctx;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--levels") == 0)
            levels = 1;
        else if (strcmp(argv[i], "--print") == 0)
            print = 1;
        else if (strcmp(argv[i], "--quiet-log") == 0)
            quiet_log = 1;
    }
    return 0;
}

int prs_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    static const int all[] = {PRS_LOG_DEBUG, PRS_LOG_INFO, PRS_LOG_WARNING, PRS_LOG_ERROR,
                              PRS_LOG_CRITICAL};
    static const char *names[] = {"debug", "info", "warning", "error", "critical"};
    for (uint32_t i = 0; i < batch->count; i++) {
        const char *name = batch->items[i].name;
        if (!quiet_log) {
            if (levels) {
                for (int l = 0; l < 5; l++)
                    prs_log(ctx, all[l], "logger: %s-line item %s", names[l], name);
            } else {
                prs_log(ctx, PRS_LOG_INFO, "logger: item %s", name);
            }
        }
        if (print) {
            printf("logger-stdout item %s\n", name);
            fprintf(stderr, "logger-stderr item %s\n", name);
        }
        prs_emit(out, name, strlen(name));
    }
    return 0;
}
