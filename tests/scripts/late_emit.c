/* late_emit.c -- keeps the out of its first prs_run and emits through it from a thread of
 * its own after that prs_run returned: during the third prs_run (one worker), which waits
 * (bounded) for that emit first, so without a check the row would land in that later batch.
 * The thread writes what prs_emit returned to --rc PATH. Every item gets "<name>\tok". */
#include "args.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

static const char *rc_path;
static prs_out *kept;
static pthread_t late;
static atomic_int runs, late_state; /* late_state: 0 not started, 1 waiting, 2 emitted */

static void nap_ms(long ms) {
    nanosleep(&(struct timespec){.tv_sec = 0, .tv_nsec = ms * 1000000L}, NULL);
}

static void *late_main(void *arg) {
    (void)arg;
    for (int i = 0; i < 1000 && atomic_load(&runs) < 3; i++) /* 10 s at most */
        nap_ms(10);
    static const char row[] = "LATE\tthis row belongs to no batch";
    int rc = prs_emit(kept, row, sizeof(row) - 1);
    FILE *f = fopen(rc_path, "w");
    if (f) {
        fprintf(f, "%d\n", rc);
        fclose(f);
    }
    atomic_store(&late_state, 2);
    return NULL;
}

int prs_init(prs_ctx *ctx, int argc, char **argv) {
    (void)ctx;
    rc_path = script_arg(argc, argv, "--rc", "/dev/null");
    return 0;
}

int prs_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    (void)ctx;
    int n = atomic_fetch_add(&runs, 1) + 1;
    if (n == 1) {
        kept = out;
        if (pthread_create(&late, NULL, late_main, NULL) == 0) atomic_store(&late_state, 1);
    }
    for (int i = 0; n == 3 && i < 1000 && atomic_load(&late_state) == 1; i++)
        nap_ms(10); /* the late emit happens while this batch runs */
    return script_rows(batch, out);
}

void prs_shutdown(prs_ctx *ctx) {
    (void)ctx;
    if (atomic_load(&late_state) != 0) pthread_join(late, NULL);
}
