/* faulty.c -- an entry script that fails by rules given after `--`, for tests and demos.
 * Every item that is not failed gets the row "<name>\tok".
 *
 *   --fail-item S        items whose name contains S get no row (a failed item)
 *   --fail-batch S       a batch holding an item whose name contains S returns -1
 *   --fail-attempts N    every batch returns -1 on its tries 1..N, then succeeds
 *   --fail-init W        init fails on worker W ("all": on every worker)
 *   --extra-rows N       emit N extra rows per batch (more rows than items)
 *   --log-each           log one INFO line per item and one DEBUG line per batch
 *   --crash-item S       segfault on an item whose name contains S
 *   --abort-item S       abort() on an item whose name contains S
 *   --hang-item S        loop forever on such an item, ignoring prs_cancelled()
 *   --slow-item S        loop on such an item until prs_cancelled(), then return -1
 *   --crash-attempts N   segfault on every batch's tries 1..N (then succeed)
 *   --leak N             leak N bytes per batch
 *   --sleep-us N         sleep N microseconds per item (a job long enough to kill) */
#include "prs_entry.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct rules {
    const char *fail_item, *fail_batch;
    const char *crash_item, *abort_item, *hang_item, *slow_item;
    unsigned fail_attempts, extra_rows, crash_attempts, leak_bytes, sleep_us;
    int log_each;
} rules;

int prs_init(prs_ctx *ctx, int argc, char **argv) {
    rules *r = calloc(1, sizeof(*r)); /* per worker: workers share no state */
    if (!r) return -1;
    const char *fail_init = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (!strcmp(a, "--fail-item") && has_value) r->fail_item = argv[++i];
        else if (!strcmp(a, "--fail-batch") && has_value) r->fail_batch = argv[++i];
        else if (!strcmp(a, "--fail-attempts") && has_value) r->fail_attempts = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--fail-init") && has_value) fail_init = argv[++i];
        else if (!strcmp(a, "--extra-rows") && has_value) r->extra_rows = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--log-each")) r->log_each = 1;
        else if (!strcmp(a, "--crash-item") && has_value) r->crash_item = argv[++i];
        else if (!strcmp(a, "--abort-item") && has_value) r->abort_item = argv[++i];
        else if (!strcmp(a, "--hang-item") && has_value) r->hang_item = argv[++i];
        else if (!strcmp(a, "--slow-item") && has_value) r->slow_item = argv[++i];
        else if (!strcmp(a, "--crash-attempts") && has_value) r->crash_attempts = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--leak") && has_value) r->leak_bytes = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--sleep-us") && has_value) r->sleep_us = (unsigned)atoi(argv[++i]);
        else {
            prs_log(ctx, PRS_LOG_ERROR, "faulty: unknown argument %s", a);
            free(r);
            return -1;
        }
    }
    if (fail_init && (!strcmp(fail_init, "all") || atoi(fail_init) == prs_worker_id(ctx))) {
        prs_log(ctx, PRS_LOG_ERROR, "faulty: init fails on worker %d as asked", prs_worker_id(ctx));
        free(r);
        return -1;
    }
    prs_set_user(ctx, r);
    return 0;
}

static void crash(void) {
    raise(SIGSEGV); /* what a stray pointer would do, without undefined behaviour */
}

int prs_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    const rules *r = prs_user(ctx);
    if (r->log_each) prs_log(ctx, PRS_LOG_DEBUG, "batch %llu", (unsigned long long)batch->id);
    if (batch->attempt <= r->fail_attempts) return -1;
    if (batch->attempt <= r->crash_attempts) crash();
    if (r->leak_bytes) {
        volatile char *lost = malloc(r->leak_bytes);
        if (lost) lost[0] = 1; /* deliberately never freed */
    }
    for (uint32_t i = 0; i < batch->count; i++) {
        if (r->fail_batch && strstr(batch->items[i].name, r->fail_batch)) return -1;
    }
    for (uint32_t i = 0; i < batch->count; i++) {
        const char *name = batch->items[i].name;
        if (r->log_each) prs_log(ctx, PRS_LOG_INFO, "item %s", name);
        if (r->sleep_us) usleep(r->sleep_us);
        if (r->crash_item && strstr(name, r->crash_item)) crash();
        if (r->abort_item && strstr(name, r->abort_item)) abort();
        if (r->hang_item && strstr(name, r->hang_item)) {
            for (;;) pause(); /* ignores prs_cancelled: only a restart ends it */
        }
        if (r->slow_item && strstr(name, r->slow_item)) {
            while (!prs_cancelled(ctx)) usleep(1000);
            return -1;
        }
        if (r->fail_item && strstr(name, r->fail_item)) {
            prs_fail_item(out, i, "faulty: fails items matching '%s'", r->fail_item);
            continue;
        }
        char row[4200];
        int n = snprintf(row, sizeof(row), "%s\tok", name);
        if (prs_emit(out, row, (size_t)n) != 0) return -1;
    }
    for (unsigned k = 0; k < r->extra_rows; k++) prs_emit(out, "extra", 5);
    return 0;
}

void prs_shutdown(prs_ctx *ctx) {
    free(prs_user(ctx));
}
