/* self_signal.c -- on a batch holding an item whose name contains --at S, sends itself
 * signal --sig N (kill(getpid(), N): SIGKILL is what an OOM kill looks like; SIGTERM,
 * SIGSTOP), or with --thread raises it in a thread it spawned (SIGSEGV there: what a
 * stray pointer in that thread does). --once DIR: the first time only.
 *   -- --sig N --at S [--thread] [--once DIR]
 * prs must charge the batch in hand, not stop, hang or crash-loop. */
#include "args.h"

#include <pthread.h>
#include <signal.h>

static int sig;
static const char *at, *once;
static int in_thread;

int prs_init(prs_ctx *ctx, int argc, char **argv) {
    (void)ctx;
    sig = atoi(script_arg(argc, argv, "--sig", "9"));
    at = script_arg(argc, argv, "--at", NULL);
    once = script_arg(argc, argv, "--once", NULL);
    in_thread = script_flag(argc, argv, "--thread");
    return 0;
}

static void *die(void *arg) {
    (void)arg;
    if (in_thread) {
        raise(sig); /* this thread */
    } else {
        kill(getpid(), sig);
    }
    return NULL;
}

int prs_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    (void)ctx;
    if (script_holds(batch, at) && script_first_time(once)) {
        if (in_thread) {
            pthread_t t;
            if (pthread_create(&t, NULL, die, NULL) == 0) pthread_join(t, NULL);
        } else {
            die(NULL);
        }
        sleep(5); /* a signal that does not end the process at once */
    }
    return script_rows(batch, out);
}
