/* classify.c -- an entry script in the spirit of ParallelRunStep's tutorial: it "classifies"
 * each input file with a shared model, maps the class id to a label through a side table,
 * and emits "file<TAB>label".
 *
 *   prs run --entry-script build/examples/classify.so --input DIR --output OUT \
 *       --side-table labels=tools/examples/labels.csv,key=class_id -- --classes 4
 *
 * The "model" is a table of random 64-bit weights per (position mod 8, byte value),
 * derived from a seed; a file's class is the XOR of its bytes' weights (tabulation
 * hashing) modulo the number of classes: deterministic, so the same file always gets the
 * same class, and spread evenly over the classes. It is built once per
 * process in prs_global_init and read by every worker through prs_shared() (one copy, not
 * one per worker). The labels table is loaded once into LMDB; prs_side_get returns a view
 * of the row "class_id,label,description" without copying it.
 * Arguments: --classes N (default 4: the rows of labels.csv), --seed S (default 1).
 * Build: gcc -shared -fPIC -iquote core tools/examples/classify.c -o classify.so */
#include "prs_entry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CLASSES 64

typedef struct model {
    unsigned classes;
    uint64_t weight[8][256]; /* per position mod 8, per byte value */
} model;

static uint64_t mix(uint64_t x) { /* splitmix64: a well-spread deterministic weight */
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

int prs_global_init(prs_global *g, int argc, char **argv) {
    unsigned classes = 4;
    uint64_t seed = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--classes"))
            classes = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--seed"))
            seed = strtoull(argv[i + 1], NULL, 10);
    }
    if (classes < 1 || classes > MAX_CLASSES) {
        fprintf(stderr, "classify: --classes must be 1..%d\n", MAX_CLASSES);
        return -EINVAL;
    }
    model *m = malloc(sizeof(*m));
    if (!m) return -ENOMEM;
    m->classes = classes;
    for (unsigned k = 0; k < 8; k++) {
        for (unsigned b = 0; b < 256; b++)
            m->weight[k][b] = mix(seed * 4099u + k * 256u + b);
    }
    prs_global_set(g, m);
    return 0;
}

void prs_global_shutdown(prs_global *g) {
    free(prs_global_get(g));
}

static unsigned classify(const model *m, const unsigned char *p, size_t n) {
    uint64_t h = 0;
    for (size_t i = 0; i < n; i++)
        h ^= m->weight[i & 7][p[i]];
    return (unsigned)(h % m->classes);
}

int prs_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    const model *m = prs_shared(ctx);
    for (uint32_t i = 0; i < batch->count; i++) {
        const prs_item *it = &batch->items[i];
        unsigned id = classify(m, it->data, it->size);
        char key[16];
        int klen = snprintf(key, sizeof(key), "%u", id);
        const char *rowp;
        size_t len;
        int rc = prs_side_get(ctx, "labels", key, (size_t)klen, (const void **)&rowp, &len);
        if (rc) {
            prs_fail_item(out, i, "class %u has no row in the labels table (%s)", id,
                          rc == -ENOENT ? "missing key" : "no such table");
            continue;
        }
        /* The row is "class_id,label,description": the label is the second field. */
        const char *label = memchr(rowp, ',', len);
        size_t label_len = 0;
        if (label) {
            label++;
            const char *end = memchr(label, ',', len - (size_t)(label - rowp));
            label_len = end ? (size_t)(end - label) : len - (size_t)(label - rowp);
        }
        char row[4200];
        int n =
            snprintf(row, sizeof(row), "%s\t%.*s", it->name, (int)label_len, label ? label : "");
        if (n < 0 || (size_t)n >= sizeof(row)) {
            prs_fail_item(out, i, "name too long for a row");
            continue;
        }
        if (prs_emit(out, row, (size_t)n) != 0) return -1;
    }
    return 0;
}
