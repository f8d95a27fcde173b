/* records_probe.c -- a test entry script: one row per item,
 *   "<name>\t<size>\t<header size>\t<bytes, with \n, \r and \t shown as \\n, \\r, \\t>"
 * so tests can check every record (or file) was seen once and whole, with its header.
 * Init arguments: "--rm PATH" removes PATH before any batch runs (every worker tries; a
 * file already gone is fine): an input that vanishes between the scan and the read. */
#include "prs_entry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int prs_init(prs_ctx *ctx, int argc, char **argv) {
    (void)ctx;
    for (int i = 1; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--rm") && unlink(argv[i + 1]) != 0 && errno != ENOENT) return -1;
    }
    return 0;
}

int prs_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    (void)ctx;
    static _Thread_local char *row;
    static _Thread_local size_t cap;
    for (uint32_t i = 0; i < batch->count; i++) {
        const prs_item *it = &batch->items[i];
        size_t need = strlen(it->name) + 64 + 2 * it->size;
        if (need > cap) {
            char *p = realloc(row, need);
            if (!p) return -1;
            row = p;
            cap = need;
        }
        int n = snprintf(row, cap, "%s\t%zu\t%zu\t", it->name, it->size, batch->header_size);
        size_t len = (size_t)n;
        const char *d = it->data;
        for (size_t k = 0; k < it->size; k++) {
            char c = d[k];
            if (c == '\n' || c == '\r' || c == '\t') {
                row[len++] = '\\';
                row[len++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
            } else {
                row[len++] = c;
            }
        }
        if (prs_emit(out, row, len) != 0) return -1;
    }
    return 0;
}
