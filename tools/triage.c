/* triage.c -- see triage.h. */
#include "triage.h"

#include "prs.h"
#include "why.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

static const char usage_why[] =
    "usage: prs why OUT ITEM|BATCH-ID\n"
    "\n"
    "The story of one item or mini-batch of the job in OUT, on one screen: the mini-batch\n"
    "it is in, every try (worker, start, duration, outcome), the error of each try, the\n"
    "crash stack with function, file and line when it crashed, the user-log lines of those\n"
    "tries, and what to open or run next. Safe while the job runs (it only reads).\n"
    "  ITEM       an item's name as logs/user/error.txt shows it (a path relative to the\n"
    "             input, or FILE:LINE for tabular inputs)\n"
    "  BATCH-ID   a mini-batch id (digits)\n"
    "exit code: 0; 2 for bad usage, or no such job, item or mini-batch; 70 if the state is\n"
    "unreadable\n";

int prs_cmd_why(int argc, char **argv) {
    const char *args[2] = {NULL, NULL};
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) {
            fputs(usage_why, stdout);
            return 0;
        }
        if (n == 2) {
            fprintf(stderr, "prs why: %s: unexpected argument\n\n%s", argv[i], usage_why);
            return PRS_EXIT_USAGE;
        }
        args[n++] = argv[i];
    }
    if (n < 2) {
        fprintf(stderr, "prs why: %s is required\n\n%s", n ? "ITEM or BATCH-ID" : "OUT", usage_why);
        return PRS_EXIT_USAGE;
    }
    char err[PATH_MAX + 512];
    int rc = prs_why_print(args[0], args[1], stdout, err, sizeof(err));
    if (rc == 0) return 0;
    fprintf(stderr, "prs why: %s\n", err);
    return rc == -ENOENT ? PRS_EXIT_USAGE : PRS_EXIT_INTERNAL;
}
