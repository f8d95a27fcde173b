/* errgroup.c -- see errgroup.h. */
#include "errgroup.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define EG_SEEN_START 1024u

typedef struct eg_group {
    uint64_t hash; /* of shape */
    char shape[256];
    char example[512];
    char file[96];
    uint64_t count, repeated;
    uint32_t order; /* first appearance */
} eg_group;

struct prs_errgroups {
    eg_group *groups;
    uint32_t len;
    uint64_t total, repeated, other, duplicates;
    uint64_t *seen; /* open addressing; 0 is empty */
    size_t seen_cap, seen_len;
    bool seen_full; /* past PRS_ERRGROUP_SEEN_MAX: new tries are no longer remembered */
};

int prs_errgroups_create(prs_errgroups **out) {
    prs_errgroups *g = calloc(1, sizeof(*g));
    if (!g) return -ENOMEM;
    g->groups = calloc(PRS_ERRGROUP_MAX, sizeof(*g->groups));
    g->seen = calloc(EG_SEEN_START, sizeof(*g->seen));
    if (!g->groups || !g->seen) {
        prs_errgroups_destroy(g);
        return -ENOMEM;
    }
    g->seen_cap = EG_SEEN_START;
    *out = g;
    return 0;
}

void prs_errgroups_destroy(prs_errgroups *g) {
    if (!g) return;
    free(g->groups);
    free(g->seen);
    free(g);
}

uint64_t prs_errgroups_total(const prs_errgroups *g) {
    return g->total;
}

static bool is_delim(char c) {
    return c == 0 || c == ' ' || c == '\t' || c == ',' || c == ';' || c == ')' || c == '"' ||
           c == '\'' || c == ']';
}

/* The length of the token at s, if it is a path (holds a '/' before its end), else 0. */
static size_t path_token(const char *s) {
    size_t n = 0;
    bool slash = false;
    while (!is_delim(s[n])) {
        if (s[n] == ':' && (s[n + 1] == ' ' || s[n + 1] == 0)) break;
        if (s[n] == '/') slash = true;
        n++;
    }
    return slash ? n : 0;
}

static size_t put(char *out, size_t at, size_t size, const char *text) {
    for (; *text && at + 1 < size; text++)
        out[at++] = *text;
    return at;
}

void prs_errgroup_shape(const char *item, const char *message, char *shape, size_t size) {
    size_t item_len = item && item[0] && strcmp(item, "-") != 0 ? strlen(item) : 0;
    size_t n = 0;
    bool token_start = true;
    for (size_t i = 0; message[i] && n + 1 < size;) {
        const char *s = message + i;
        size_t len;
        if (item_len && strncmp(s, item, item_len) == 0) {
            n = put(shape, n, size, "<item>");
            i += item_len;
        } else if (token_start && (len = path_token(s)) > 0) {
            n = put(shape, n, size, "<path>");
            i += len;
        } else if (*s >= '0' && *s <= '9') {
            bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && isxdigit((unsigned char)s[2]);
            len = hex ? 2 : 0;
            for (;;) {
                unsigned char c = (unsigned char)s[len];
                if (isdigit(c) || (hex && isxdigit(c))) {
                    len++;
                } else if (!hex && c == '.' && isdigit((unsigned char)s[len + 1])) {
                    len++;
                } else {
                    break;
                }
            }
            n = put(shape, n, size, "<N>");
            i += len;
        } else {
            shape[n++] = *s;
            i++;
        }
        char prev = message[i - 1];
        token_start = prev == ' ' || prev == '\t' || prev == '(' || prev == '"' || prev == '\'' ||
                      prev == '=' || prev == '[';
    }
    shape[n] = 0;
}

static uint64_t hash_parts(uint64_t seed, uint64_t batch, uint32_t attempt, const char *a,
                           const char *b) {
    char buf[4096];
    memcpy(buf, &batch, sizeof(batch));
    memcpy(buf + 8, &attempt, sizeof(attempt));
    int n = snprintf(buf + 12, sizeof(buf) - 12, "%s%c%s", a, 0, b);
    size_t len = 12 + PRS_MIN((size_t)(n < 0 ? 0 : n), sizeof(buf) - 13);
    uint64_t h = XXH3_64bits_withSeed(buf, len, seed);
    return h ? h : 1;
}

/* Inserts h; returns true if it was there already. */
static bool seen_insert(prs_errgroups *g, uint64_t h) {
    if ((g->seen_len + 1) * 4 > g->seen_cap * 3 && !g->seen_full) {
        size_t cap = g->seen_cap * 2;
        uint64_t *t = cap <= PRS_ERRGROUP_SEEN_MAX ? calloc(cap, sizeof(*t)) : NULL;
        if (!t) {
            g->seen_full = true;
        } else {
            for (size_t i = 0; i < g->seen_cap; i++) {
                uint64_t v = g->seen[i];
                if (!v) continue;
                size_t k = v & (cap - 1);
                while (t[k])
                    k = (k + 1) & (cap - 1);
                t[k] = v;
            }
            free(g->seen);
            g->seen = t;
            g->seen_cap = cap;
        }
    }
    size_t k = h & (g->seen_cap - 1);
    for (size_t probes = 0; probes < g->seen_cap; probes++, k = (k + 1) & (g->seen_cap - 1)) {
        if (g->seen[k] == h) return true;
        if (g->seen[k] == 0) {
            if (g->seen_full && (g->seen_len + 1) * 4 > g->seen_cap * 3) return false;
            g->seen[k] = h;
            g->seen_len++;
            return false;
        }
    }
    return false; /* full table: not remembered */
}

enum prs_err_kind prs_errgroups_seen(prs_errgroups *g, uint64_t batch, uint32_t attempt,
                                     const char *item, const char *message) {
    if (batch == 0 && (!item || !item[0])) return PRS_ERR_NEW;
    const char *it = item ? item : "";
    if (seen_insert(g, hash_parts(1, batch, attempt, it, message))) {
        g->duplicates++;
        return PRS_ERR_DUPLICATE;
    }
    char shape[256];
    prs_errgroup_shape(it, message, shape, sizeof(shape));
    /* Attempt 0 in the key: the same item failing the same way on any try of its batch. */
    return seen_insert(g, hash_parts(2, batch, 0, it, shape)) ? PRS_ERR_REPEATED : PRS_ERR_NEW;
}

void prs_errgroups_count(prs_errgroups *g, const char *item, const char *message, const char *line,
                         const char *file, bool repeated) {
    g->total++;
    if (repeated) g->repeated++;
    char shape[256];
    prs_errgroup_shape(item, message, shape, sizeof(shape));
    uint64_t h = XXH3_64bits(shape, strlen(shape));
    eg_group *grp = NULL;
    for (uint32_t i = 0; i < g->len && !grp; i++) {
        if (g->groups[i].hash == h && strcmp(g->groups[i].shape, shape) == 0) grp = &g->groups[i];
    }
    if (!grp) {
        if (g->len == PRS_ERRGROUP_MAX) {
            g->other++;
            return;
        }
        grp = &g->groups[g->len];
        grp->order = g->len++;
        grp->hash = h;
        snprintf(grp->shape, sizeof(grp->shape), "%s", shape);
        snprintf(grp->example, sizeof(grp->example), "%s", line);
        snprintf(grp->file, sizeof(grp->file), "%s", file);
    }
    grp->count++;
    if (repeated) grp->repeated++;
}

static int by_count(const void *a, const void *b) {
    const eg_group *x = *(const eg_group *const *)a, *y = *(const eg_group *const *)b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

int prs_errgroups_write(const prs_errgroups *g, FILE *f, const char *node, uint64_t unfiled,
                        uint32_t files_max) {
    const eg_group *order[PRS_ERRGROUP_MAX];
    for (uint32_t i = 0; i < g->len; i++)
        order[i] = &g->groups[i];
    qsort(order, g->len, sizeof(order[0]), by_count);
    fprintf(f,
            "errors: %llu in %u group%s (messages alike but for item names, numbers and "
            "paths); one file per error in logs/user/error/%s/\n",
            (unsigned long long)g->total, g->len, g->len == 1 ? "" : "s", node);
    if (g->repeated) {
        fprintf(f,
                "(%llu of them repeated: the same item failed the same way on a later try of "
                "its mini-batch)\n",
                (unsigned long long)g->repeated);
    }
    if (unfiled) {
        fprintf(f, "(%llu errors past the first %u have no file of their own)\n",
                (unsigned long long)unfiled, files_max);
    }
    if (g->seen_full)
        fputs("(too many errors to tell redone tries apart: counts may hold repeats)\n", f);
    for (uint32_t i = 0; i < g->len; i++) {
        const eg_group *e = order[i];
        fprintf(f, "\n[%llu x] %s\n", (unsigned long long)e->count, e->shape);
        if (e->repeated)
            fprintf(f, "  repeated: %llu on later tries\n", (unsigned long long)e->repeated);
        fprintf(f, "  first: %s\n", e->example);
        if (e->file[0]) fprintf(f, "  file: logs/user/error/%s/%s\n", node, e->file);
    }
    if (g->other) {
        fprintf(f, "\n[%llu x] (other messages, past %u groups)\n", (unsigned long long)g->other,
                PRS_ERRGROUP_MAX);
    }
    return ferror(f) ? -EIO : 0;
}
