/* daemon_child.c -- on the first batch, starts a child process that keeps the script's
 * stdout and stderr (prs's capture pipes) open for --sleep-s seconds (default 30), and
 * writes its pid to --pid-file. prs must end when its work does, not when that child
 * closes the pipes. */
#include "args.h"

#include <signal.h>
#include <stdio.h>

static const char *pid_file;
static unsigned sleep_s;
static int started;

int prs_init(prs_ctx *ctx, int argc, char **argv) {
    (void)ctx;
    pid_file = script_arg(argc, argv, "--pid-file", NULL);
    sleep_s = (unsigned)atoi(script_arg(argc, argv, "--sleep-s", "30"));
    return 0;
}

int prs_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    (void)ctx;
    if (!__atomic_exchange_n(&started, 1, __ATOMIC_SEQ_CST)) {
        pid_t child = fork();
        if (child == 0) {
            setsid(); /* a daemon: not in the runtime's process group */
            printf("daemon child writing to stdout\n");
            fflush(stdout);
            sleep(sleep_s);
            _exit(0);
        }
        FILE *f = pid_file ? fopen(pid_file, "w") : NULL;
        if (f) {
            fprintf(f, "%d\n", (int)child);
            fclose(f);
        }
    }
    return script_rows(batch, out);
}
