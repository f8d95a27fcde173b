/* faulty.c -- an entry script that fails by rules given after `--`, for tests and demos.
 * Every item that is not failed gets the row "<name>\tok".
 *
 *   --fail-item S        items whose name contains S get no row (a failed item)
 *   --fail-named S       like --fail-item, with a message naming the item, its size and a path
 *   --fail-batch S       a batch holding an item whose name contains S fails (prs_fail_batch)
 *   --fail-attempts N    every batch returns -1 on its tries 1..N, then succeeds
 *   --fail-init W        init fails on worker W ("all": on every worker)
 *   --extra-rows N       emit N extra rows per batch (more rows than items)
 *   --log-each           log one INFO line per item and one DEBUG line per batch
 *   --print-each         write one line per item to stderr
 *   --crash-item S       segfault on an item whose name contains S
 *   --abort-item S       abort() on an item whose name contains S
 *   --hang-item S        loop forever on such an item, ignoring prs_cancelled()
 *   --slow-item S        loop on such an item until prs_cancelled(), then return -1
 *   --crash-attempts N   segfault on every batch's tries 1..N (then succeed)
 *   --leak N             leak N bytes per batch
 *   --sleep-us N         sleep N microseconds per item (a job long enough to kill)
 *
 * Seeded fault injection (tools/stress): every decision is a pure function of (seed, item
 * name, fault kind), so a resumed or restarted run decides the same, and tools/stress
 * computes the expected rows from the same rule (keep the two in step: FNV-1a 64 over the
 * seed's 8 little-endian bytes, the kind letter, the name; then the splitmix64 finaliser;
 * the item is hit when (h >> 11) / 2^53 < P).
 *   --seed N             the seed (default 0)
 *   --fail-rate P        kind 'f': the item fails on every try (no row)
 *   --batch-fail-rate P  kind 'b': a batch holding such an item returns -1 on every try
 *   --flaky-rate P       kind 'l': a batch holding such an item returns -1 on its first try
 *   --crash-rate P       kind 'c': ... segfaults on its first try
 *   --exit-rate P        kind 'x': ... calls exit(0) on its first try (the supervisor must
 *                        charge that try, never take 0 for the job's result)
 *   --hang-rate P        kind 'h': ... hangs on its first try, ignoring prs_cancelled()
 *   --slow-rate P        kind 's': such an item takes --slow-ms (default 10) ms, or less if
 *                        cancelled (then the batch returns -1)
 * First-try faults are checked in the order crash, exit, hang, flaky, then batch-fail, so with
 * --run-max-try >= 2 only batch-fail and fail decide the rows. */
#include "prs_entry.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct rules {
    const char *fail_item, *fail_batch, *fail_named;
    const char *crash_item, *abort_item, *hang_item, *slow_item;
    unsigned fail_attempts, extra_rows, crash_attempts, leak_bytes, sleep_us;
    int log_each, print_each;
    uint64_t seed;
    double fail_rate, batch_fail_rate, flaky_rate, crash_rate, exit_rate, hang_rate, slow_rate;
    unsigned slow_ms;
} rules;

/* The seeded rule (see the top comment; tools/stress has the same in Python). */
static bool hit(const rules *r, char kind, const char *name, double rate) {
    if (rate <= 0) return false;
    uint64_t h = 1469598103934665603ull;
    for (unsigned i = 0; i < 8; i++)
        h = (h ^ ((r->seed >> (8 * i)) & 0xff)) * 1099511628211ull;
    h = (h ^ (uint8_t)kind) * 1099511628211ull;
    for (const char *p = name; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    h ^= h >> 30; /* splitmix64 finaliser: spreads FNV's weak low bits */
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return (double)(h >> 11) / 9007199254740992.0 < rate;
}

static bool batch_hit(const rules *r, char kind, const prs_batch *b, double rate) {
    for (uint32_t i = 0; rate > 0 && i < b->count; i++)
        if (hit(r, kind, b->items[i].name, rate)) return true;
    return false;
}

/* A rate in [0, 1]; anything else refuses the init with the option named. */
static int parse_rate(prs_ctx *ctx, const char *opt, const char *text, double *rate) {
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || !(v >= 0 && v <= 1)) {
        prs_log(ctx, PRS_LOG_ERROR, "faulty: %s wants a rate in [0, 1], not '%s'", opt, text);
        return -1;
    }
    *rate = v;
    return 0;
}

int prs_init(prs_ctx *ctx, int argc, char **argv) {
    rules *r = calloc(1, sizeof(*r)); /* per worker: workers share no state */
    if (!r) return -1;
    r->slow_ms = 10;
    const char *fail_init = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (!strcmp(a, "--fail-item") && has_value)
            r->fail_item = argv[++i];
        else if (!strcmp(a, "--fail-named") && has_value)
            r->fail_named = argv[++i];
        else if (!strcmp(a, "--fail-batch") && has_value)
            r->fail_batch = argv[++i];
        else if (!strcmp(a, "--fail-attempts") && has_value)
            r->fail_attempts = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--fail-init") && has_value)
            fail_init = argv[++i];
        else if (!strcmp(a, "--extra-rows") && has_value)
            r->extra_rows = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--log-each"))
            r->log_each = 1;
        else if (!strcmp(a, "--print-each"))
            r->print_each = 1;
        else if (!strcmp(a, "--crash-item") && has_value)
            r->crash_item = argv[++i];
        else if (!strcmp(a, "--abort-item") && has_value)
            r->abort_item = argv[++i];
        else if (!strcmp(a, "--hang-item") && has_value)
            r->hang_item = argv[++i];
        else if (!strcmp(a, "--slow-item") && has_value)
            r->slow_item = argv[++i];
        else if (!strcmp(a, "--crash-attempts") && has_value)
            r->crash_attempts = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--leak") && has_value)
            r->leak_bytes = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--sleep-us") && has_value)
            r->sleep_us = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--seed") && has_value)
            r->seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "--slow-ms") && has_value)
            r->slow_ms = (unsigned)atoi(argv[++i]);
        else if (has_value && (!strcmp(a, "--fail-rate") || !strcmp(a, "--batch-fail-rate") ||
                               !strcmp(a, "--flaky-rate") || !strcmp(a, "--crash-rate") ||
                               !strcmp(a, "--exit-rate") || !strcmp(a, "--hang-rate") ||
                               !strcmp(a, "--slow-rate"))) {
            double *rate = !strcmp(a, "--fail-rate")         ? &r->fail_rate
                           : !strcmp(a, "--batch-fail-rate") ? &r->batch_fail_rate
                           : !strcmp(a, "--flaky-rate")      ? &r->flaky_rate
                           : !strcmp(a, "--crash-rate")      ? &r->crash_rate
                           : !strcmp(a, "--exit-rate")       ? &r->exit_rate
                           : !strcmp(a, "--hang-rate")       ? &r->hang_rate
                                                             : &r->slow_rate;
            if (parse_rate(ctx, a, argv[++i], rate)) {
                free(r);
                return -1;
            }
        } else {
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
        if (r->fail_batch && strstr(batch->items[i].name, r->fail_batch))
            return prs_fail_batch(out,
                                  "faulty: the batch holds %s, which matches --fail-batch '%s'",
                                  batch->items[i].name, r->fail_batch);
    }
    if (batch->attempt == 1) { /* first-try faults: a retry recovers them */
        if (batch_hit(r, 'c', batch, r->crash_rate)) crash();
        if (batch_hit(r, 'x', batch, r->exit_rate)) exit(0);
        if (batch_hit(r, 'h', batch, r->hang_rate)) {
            for (;;)
                pause(); /* only the run-invocation timeout and a restart end it */
        }
        if (batch_hit(r, 'l', batch, r->flaky_rate)) return -1;
    }
    if (batch_hit(r, 'b', batch, r->batch_fail_rate)) return -1;
    for (uint32_t i = 0; i < batch->count; i++) {
        const char *name = batch->items[i].name;
        if (r->log_each) prs_log(ctx, PRS_LOG_INFO, "item %s", name);
        if (r->print_each) fprintf(stderr, "faulty: working on %s\n", name);
        if (r->sleep_us) usleep(r->sleep_us);
        if (r->crash_item && strstr(name, r->crash_item)) crash();
        if (r->abort_item && strstr(name, r->abort_item)) abort();
        if (r->hang_item && strstr(name, r->hang_item)) {
            for (;;)
                pause(); /* ignores prs_cancelled: only a restart ends it */
        }
        if (r->slow_item && strstr(name, r->slow_item)) {
            while (!prs_cancelled(ctx))
                usleep(1000);
            return -1;
        }
        if (hit(r, 's', name, r->slow_rate)) {
            for (unsigned ms = 0; ms < r->slow_ms; ms++) {
                if (prs_cancelled(ctx)) return -1;
                usleep(1000);
            }
        }
        if (hit(r, 'f', name, r->fail_rate)) {
            prs_fail_item(out, i, "faulty: seeded failure of %s", name);
            continue;
        }
        if (r->fail_item && strstr(name, r->fail_item)) {
            prs_fail_item(out, i, "faulty: fails items matching '%s'", r->fail_item);
            continue;
        }
        if (r->fail_named && strstr(name, r->fail_named)) {
            prs_fail_item(out, i, "cannot parse %s (%zu bytes) at /data/in/%s", name,
                          batch->items[i].size, name);
            continue;
        }
        char row[4200];
        int n = snprintf(row, sizeof(row), "%s\tok", name);
        if (prs_emit(out, row, (size_t)n) != 0) return -1;
    }
    for (unsigned k = 0; k < r->extra_rows; k++)
        prs_emit(out, "extra", 5);
    return 0;
}

void prs_shutdown(prs_ctx *ctx) {
    free(prs_user(ctx));
}
