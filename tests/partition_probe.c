/* partition_probe.c -- a test entry script for --partition-keys: one row per record,
 *   "<batch id>\t<key>=<value or NULL>[,...]\t<the record's bytes>"
 * so tests can check that a batch holds one key combination, whole, in input order, and
 * that the values the batch carries are its records' values. Init: "--crash-batch N"
 * crashes batch N's first try (a resume in the middle of a partitioned job). */
#include "prs_entry.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long crash_batch = -1; /* "--crash-batch N": segfault on batch N's first try */

int prs_init(prs_ctx *ctx, int argc, char **argv) {
    (void)ctx;
    for (int i = 1; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--crash-batch")) crash_batch = atol(argv[i + 1]);
    }
    return 0;
}

int prs_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    (void)ctx;
    if ((long)batch->id == crash_batch && batch->attempt == 1) raise(SIGSEGV);
    char keys[1024];
    size_t w = 0;
    keys[0] = 0;
    for (uint32_t k = 0; k < batch->partition_key_count && w < sizeof(keys) - 1; k++) {
        const char *v = batch->partition_values[k];
        int n = snprintf(keys + w, sizeof(keys) - w, "%s%s=%s", k ? "," : "",
                         batch->partition_keys[k], v ? v : "NULL");
        if (n < 0) return -1;
        w += (size_t)n;
    }
    for (uint32_t i = 0; i < batch->count; i++) {
        char row[2048];
        int n = snprintf(row, sizeof(row), "%llu\t%s\t%.*s", (unsigned long long)batch->id, keys,
                         (int)batch->items[i].size, (const char *)batch->items[i].data);
        if (n < 0 || (size_t)n >= sizeof(row)) return -1;
        prs_emit(out, row, (size_t)n);
    }
    return 0;
}
