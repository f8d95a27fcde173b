/* side_probe.c -- an entry script for tests/test_side.c: reports what it sees of side
 * inputs, side tables, --env and the shared (global) init, one row per item:
 *   "<item name>\t<field>\t<field>..." with the fields asked for by the words after `--`
 *   (a newline in a value shown as a backslash and 'n'):
 *     path=NAME      p=<prs_side_path(NAME)>
 *     args           a=<argv[1..] joined by spaces>
 *     env=VAR        e=<getenv(VAR)>
 *     table=T        v=<row of key <item name> in T>, or v=MISSING(<rc>)
 *     many           the lookup goes through prs_side_get_many
 *     len            l=<row length> instead of v=
 *     hdr            h=<T's header row>
 *     shared         s=<what prs_global_init shared>
 *     fail_global    prs_global_init fails
 * prs_global_init appends "init <pid>" (prs_global_shutdown "shutdown <pid>") to the file
 * named by $PROBE_GLOBAL_LOG, if set. */
#include "prs_entry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct probe {
    const char *paths[8];
    int npaths;
    int args, many, len, hdr, shared, fail_global;
    const char *env, *table;
    int argc;
    char **argv;
    char model[64];
} probe;

static probe cfg; /* written by prs_global_init only, before any worker: read-only after */

static void global_log(const char *what) {
    const char *path = getenv("PROBE_GLOBAL_LOG");
    if (!path) return;
    FILE *f = fopen(path, "a");
    if (!f) return;
    fprintf(f, "%s %d\n", what, (int)getpid());
    fclose(f);
}

int prs_global_init(prs_global *g, int argc, char **argv) {
    memset(&cfg, 0, sizeof(cfg));
    cfg.argc = argc;
    cfg.argv = argv;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strncmp(a, "path=", 5) && cfg.npaths < 8)
            cfg.paths[cfg.npaths++] = a + 5;
        else if (!strcmp(a, "args"))
            cfg.args = 1;
        else if (!strncmp(a, "env=", 4))
            cfg.env = a + 4;
        else if (!strncmp(a, "table=", 6))
            cfg.table = a + 6;
        else if (!strcmp(a, "many"))
            cfg.many = 1;
        else if (!strcmp(a, "len"))
            cfg.len = 1;
        else if (!strcmp(a, "hdr"))
            cfg.hdr = 1;
        else if (!strcmp(a, "shared"))
            cfg.shared = 1;
        else if (!strcmp(a, "fail_global"))
            cfg.fail_global = 1;
    }
    if (cfg.fail_global) return -1;
    global_log("init");
    snprintf(cfg.model, sizeof(cfg.model), "model-of-%d", (int)getpid());
    prs_global_set(g, cfg.model);
    return 0;
}

void prs_global_shutdown(prs_global *g) {
    if (prs_global_get(g) == cfg.model) global_log("shutdown");
}

int prs_init(prs_ctx *ctx, int argc, char **argv) {
    (void)argc;
    (void)argv;
    /* Every worker must see the one model: a worker that does not fails its init. */
    return prs_shared(ctx) == cfg.model ? 0 : -1;
}

/* Appends prefix, then n bytes of data (nothing if they do not fit); a newline in data is
 * written as a backslash and 'n': one row is one line of the output (prs_emit refuses a
 * row holding a newline). */
static void put(char **p, char *end, const char *prefix, const void *data, size_t n) {
    size_t plen = strlen(prefix);
    if (plen + 2 * n >= (size_t)(end - *p)) return;
    memcpy(*p, prefix, plen);
    *p += plen;
    for (size_t i = 0; i < n; i++) {
        char c = ((const char *)data)[i];
        if (c == '\n') {
            *(*p)++ = '\\';
            c = 'n';
        }
        *(*p)++ = c;
    }
}

int prs_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    static __thread char row[1 << 16];
    for (uint32_t i = 0; i < batch->count; i++) {
        const prs_item *it = &batch->items[i];
        char *p = row, *end = row + sizeof(row);
        put(&p, end, "", it->name, strlen(it->name));
        for (int k = 0; k < cfg.npaths; k++) {
            const char *path = prs_side_path(ctx, cfg.paths[k]);
            put(&p, end, "\tp=", path ? path : "(null)", strlen(path ? path : "(null)"));
        }
        if (cfg.args) {
            put(&p, end, "\ta=", "", 0);
            for (int k = 1; k < cfg.argc; k++) {
                put(&p, end, k > 1 ? " " : "", cfg.argv[k], strlen(cfg.argv[k]));
            }
        }
        if (cfg.env) {
            const char *v = getenv(cfg.env);
            put(&p, end, "\te=", v ? v : "(unset)", strlen(v ? v : "(unset)"));
        }
        if (cfg.table) {
            const void *v = NULL;
            size_t n = 0;
            int rc;
            if (cfg.many) {
                const void *key = it->name;
                size_t key_len = strlen(it->name);
                int found = 0;
                long hits = prs_side_get_many(ctx, cfg.table, 1, &key, &key_len, &v, &n, &found);
                rc = hits < 0 ? (int)hits : found;
            } else {
                rc = prs_side_get(ctx, cfg.table, it->name, strlen(it->name), &v, &n);
            }
            if (rc) {
                char m[32];
                snprintf(m, sizeof(m), "%d", rc);
                put(&p, end, "\tv=MISSING(", m, strlen(m));
                put(&p, end, ")", "", 0);
            } else if (cfg.len) {
                char m[32];
                snprintf(m, sizeof(m), "%zu", n);
                put(&p, end, "\tl=", m, strlen(m));
            } else {
                put(&p, end, "\tv=", v, n);
            }
            if (cfg.hdr) {
                const void *h = NULL;
                size_t hn = 0;
                if (prs_side_header(ctx, cfg.table, &h, &hn) == 0) put(&p, end, "\th=", h, hn);
            }
        }
        if (cfg.shared) {
            const char *s = prs_shared(ctx);
            put(&p, end, "\ts=", s, strlen(s));
        }
        if (prs_emit(out, row, (size_t)(p - row)) != 0) return -1;
    }
    return 0;
}
