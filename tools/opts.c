/* opts.c -- see opts.h. */
#include "opts.h"

#include <string.h>

#define OPTS_MAX_NAME 63u
#define OPTS_MAX_ROWS 1024u

/* Row i of a table whose rows are stride bytes apart (prs_opt is their first member). */
#define ROW(t, stride, i) ((const prs_opt *)(const void *)((const char *)(t) + (i) * (stride)))

static char norm(char c) {
    return c == '_' ? '-' : c;
}

static bool same(const char *a, size_t alen, const char *b, size_t blen) {
    if (alen != blen) return false;
    for (size_t i = 0; i < alen; i++) {
        if (norm(a[i]) != norm(b[i])) return false;
    }
    return true;
}

static bool is_prefix(const char *p, size_t plen, const char *w, size_t wlen) {
    return plen <= wlen && same(p, plen, w, plen);
}

/* Optimal string alignment distance (insert, delete, substitute, swap two neighbours: the
 * usual typos), '_' = '-'. Words longer than OPTS_MAX_NAME are never close. */
static size_t distance(const char *a, size_t al, const char *b, size_t bl) {
    if (al > OPTS_MAX_NAME || bl > OPTS_MAX_NAME) return SIZE_MAX;
    size_t d[OPTS_MAX_NAME + 1][OPTS_MAX_NAME + 1];
    for (size_t i = 0; i <= al; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= bl; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= al; i++) {
        for (size_t j = 1; j <= bl; j++) {
            size_t cost = norm(a[i - 1]) == norm(b[j - 1]) ? 0 : 1;
            size_t v = PRS_MIN(d[i - 1][j] + 1, d[i][j - 1] + 1);
            v = PRS_MIN(v, d[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 && norm(a[i - 1]) == norm(b[j - 2]) &&
                norm(a[i - 2]) == norm(b[j - 1]))
                v = PRS_MIN(v, d[i - 2][j - 2] + 1);
            d[i][j] = v;
        }
    }
    return d[al][bl];
}

static bool close_enough(size_t dist, size_t len) {
    return dist <= PRS_MAX((size_t)2, len / 3);
}

/* Calls fn on every name of row r (its name, then each alias) until fn returns true. */
typedef bool (*name_fn)(void *arg, const char *w, size_t wlen);

static bool each_name(const prs_opt *r, name_fn fn, void *arg) {
    if (fn(arg, r->name, strlen(r->name))) return true;
    for (const char *p = r->aliases; p && *p;) {
        size_t l = strcspn(p, " ");
        if (l && fn(arg, p, l)) return true;
        p += l;
        p += strspn(p, " ");
    }
    return false;
}

typedef struct probe {
    const char *name;
    size_t len;
    size_t best; /* nearest distance so far */
} probe;

static bool exact_fn(void *arg, const char *w, size_t wl) {
    probe *p = arg;
    return same(p->name, p->len, w, wl);
}

static bool prefix_fn(void *arg, const char *w, size_t wl) {
    probe *p = arg;
    return is_prefix(p->name, p->len, w, wl);
}

static bool near_fn(void *arg, const char *w, size_t wl) {
    probe *p = arg;
    p->best = PRS_MIN(p->best, distance(p->name, p->len, w, wl));
    return false;
}

static int unknown(const prs_opt *t, size_t n, size_t stride, const char *name, size_t len,
                   char *err, size_t err_size) {
    size_t best = SIZE_MAX, best_row = 0;
    for (size_t i = 0; i < n; i++) {
        probe p = {.name = name, .len = len, .best = SIZE_MAX};
        each_name(ROW(t, stride, i), near_fn, &p);
        if (p.best < best) {
            best = p.best;
            best_row = i;
        }
    }
    if (best != SIZE_MAX && close_enough(best, len))
        snprintf(err, err_size, "unknown option --%.*s; did you mean --%s?", (int)len, name,
                 ROW(t, stride, best_row)->name);
    else
        snprintf(err, err_size, "unknown option --%.*s", (int)len, name);
    return -ENOENT;
}

int prs_opts_find(const prs_opt *t, size_t n, size_t stride, const char *name, size_t len,
                  char *err, size_t err_size) {
    PRS_ASSERT(n <= OPTS_MAX_ROWS);
    probe p = {.name = name, .len = len};
    for (size_t i = 0; i < n; i++) {
        if (each_name(ROW(t, stride, i), exact_fn, &p)) return (int)i;
    }
    size_t found = 0, first = 0;
    for (size_t i = 0; len && i < n; i++) {
        if (!each_name(ROW(t, stride, i), prefix_fn, &p)) continue;
        if (found++ == 0) first = i;
    }
    if (found == 1) return (int)first;
    if (found == 0) return unknown(t, n, stride, name, len, err, err_size);
    int w = snprintf(err, err_size, "option --%.*s is ambiguous: it could be", (int)len, name);
    for (size_t i = 0, k = 0; i < n && w >= 0 && (size_t)w < err_size; i++) {
        if (!each_name(ROW(t, stride, i), prefix_fn, &p)) continue;
        w += snprintf(err + w, err_size - (size_t)w, "%s --%s",
                      k++ ? (k == found ? " or" : ",") : "", ROW(t, stride, i)->name);
    }
    return -EINVAL;
}

const char *prs_opts_nearest(const char *word, const char *const *words) {
    size_t len = strlen(word), best = SIZE_MAX;
    const char *pick = NULL;
    for (size_t i = 0; words[i] && i < OPTS_MAX_ROWS; i++) {
        size_t d = distance(word, len, words[i], strlen(words[i]));
        if (d < best) {
            best = d;
            pick = words[i];
        }
    }
    return pick && close_enough(best, len) ? pick : NULL;
}

static int add_hit(prs_opt_hit *hits, size_t cap, size_t *count, uint32_t index, const char *value,
                   const char *spelled, size_t spelled_len) {
    if (*count >= cap) return -E2BIG;
    prs_opt_hit *h = &hits[(*count)++];
    h->index = index;
    h->value = value;
    snprintf(h->spelled, sizeof(h->spelled), "%.*s", (int)PRS_MIN(spelled_len, 60u), spelled);
    return 0;
}

static int parse_long(const prs_opt *t, size_t n, size_t stride, int argc, char **argv, int *i,
                      prs_opt_hit *hits, size_t cap, size_t *count, char *err, size_t err_size) {
    const char *word = argv[*i];
    const char *name = word + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    int row = prs_opts_find(t, n, stride, name, len, err, err_size);
    if (row < 0) return -EINVAL;
    const char *value = eq ? eq + 1 : NULL;
    if (ROW(t, stride, row)->arg && !value) {
        if (*i + 1 >= argc) {
            snprintf(err, err_size, "--%.*s needs a value (%s)", (int)len, name,
                     ROW(t, stride, row)->arg);
            return -EINVAL;
        }
        value = argv[++*i];
    } else if (!ROW(t, stride, row)->arg && value) {
        snprintf(err, err_size, "--%.*s takes no value", (int)len, name);
        return -EINVAL;
    }
    int rc = add_hit(hits, cap, count, (uint32_t)row, value, word, len + 2);
    if (rc) snprintf(err, err_size, "too many options (at most %zu)", cap);
    return rc;
}

static int find_short(const prs_opt *t, size_t n, size_t stride, char c) {
    for (size_t i = 0; i < n; i++) {
        if (ROW(t, stride, i)->short_name == c) return (int)i;
    }
    return -ENOENT;
}

/* "-q", "-j4", "-j 4", "-qj4": flags first, the last letter may take a value. */
static int parse_short(const prs_opt *t, size_t n, size_t stride, int argc, char **argv, int *i,
                       prs_opt_hit *hits, size_t cap, size_t *count, char *err, size_t err_size) {
    const char *word = argv[*i];
    for (const char *p = word + 1; *p; p++) {
        int row = find_short(t, n, stride, *p);
        if (row < 0) {
            snprintf(err, err_size, "unknown option -%c%s", *p,
                     p == word + 1 && p[1] ? " (long options take two dashes)" : "");
            return -EINVAL;
        }
        char spelled[3] = {'-', *p, 0};
        const char *value = NULL;
        if (ROW(t, stride, row)->arg) {
            if (p[1]) {
                value = p + 1;
            } else if (*i + 1 < argc) {
                value = argv[++*i];
            } else {
                snprintf(err, err_size, "-%c needs a value (%s)", *p, ROW(t, stride, row)->arg);
                return -EINVAL;
            }
        }
        int rc = add_hit(hits, cap, count, (uint32_t)row, value, spelled, 2);
        if (rc) {
            snprintf(err, err_size, "too many options (at most %zu)", cap);
            return rc;
        }
        if (value) break;
    }
    return 0;
}

int prs_opts_parse(const prs_opt *t, size_t n, size_t stride, int argc, char **argv,
                   prs_opt_hit *hits, size_t cap, size_t *count, int *rest, char *err,
                   size_t err_size) {
    *count = 0;
    *rest = -1;
    for (int i = 1; i < argc; i++) {
        const char *w = argv[i];
        int rc;
        if (!strcmp(w, "--")) {
            *rest = i + 1;
            return 0;
        }
        if (w[0] == '-' && w[1] == '-') {
            rc = parse_long(t, n, stride, argc, argv, &i, hits, cap, count, err, err_size);
        } else if (w[0] == '-' && w[1]) {
            rc = parse_short(t, n, stride, argc, argv, &i, hits, cap, count, err, err_size);
        } else {
            snprintf(err, err_size, "%s: unexpected argument (arguments for init go after --)", w);
            rc = -EINVAL;
        }
        if (rc) return rc == -E2BIG ? rc : -EINVAL;
    }
    return 0;
}
