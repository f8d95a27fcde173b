/* e2e.h -- what the end-to-end tests share: a scratch job (dataset, OUT, captured stderr),
 * running $PRS_BIN on it, reading OUT's files, checking the rows. Header-only because it
 * asserts with Criterion, which tests/util.c (also linked into benchmarks) must not. */
#ifndef PRS_TEST_E2E_H
#define PRS_TEST_E2E_H

#include "util.h"

#include <criterion/criterion.h>
#include <string.h>

typedef struct e2e_run {
    char dir[256]; /* scratch root */
    char in[300];  /* dataset */
    char out[300]; /* OUT */
    char err[400]; /* prs's stderr */
} e2e_run;

/* A scratch directory with a dataset of files "fNNNN.txt" (content: their own name). */
static inline void e2e_setup(e2e_run *r, const char *tag, unsigned files) {
    tu_tmpdir(r->dir, sizeof(r->dir), tag);
    snprintf(r->in, sizeof(r->in), "%s/in", r->dir);
    snprintf(r->out, sizeof(r->out), "%s/out", r->dir);
    snprintf(r->err, sizeof(r->err), "%s/stderr.txt", r->dir);
    tu_dataset(r->in, files);
}

/* Runs `prs run` with a script (build/examples/<name>.so, or a path with a '/'), extra
 * options and init args; returns the exit code. stderr goes to r->err. */
static inline int e2e_prs(const e2e_run *r, const char *script, const char *opts,
                          const char *args) {
    char path[256];
    if (strchr(script, '/')) {
        snprintf(path, sizeof(path), "%s", script);
    } else {
        snprintf(path, sizeof(path), "build/examples/%s.so", script);
    }
    return tu_sh("%s run --quiet --entry-script %s --input '%s' --output '%s' %s -- %s 2>'%s'",
                 tu_prs(), path, r->in, r->out, opts, args, r->err);
}

/* A file of OUT (NULL if missing); the caller frees it. */
static inline char *e2e_out_file(const e2e_run *r, const char *name) {
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", r->out, name);
    return tu_read(p, NULL);
}

/* Every per-error file of OUT/logs/user/error/<node>/ (not the crash evidence),
 * concatenated; the caller frees it. */
static inline char *e2e_error_files(const e2e_run *r) {
    char p[512];
    snprintf(p, sizeof(p), "%s/errors-all.txt", r->dir);
    tu_sh("cat /dev/null %s/logs/user/error/*/error-*.txt > '%s' 2>/dev/null", r->out, p);
    return tu_read(p, NULL);
}

static inline int e2e_cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Asserts the output holds exactly one row "fNNNN.txt<TAB>..." per file whose name does
 * not contain skip, and no other row. */
static inline void e2e_assert_rows_once(const e2e_run *r, unsigned files, const char *skip) {
    char *text = e2e_out_file(r, "parallel_run_step.txt");
    cr_assert(text != NULL, "no output file");
    char **rows = calloc(files + 1, sizeof(char *));
    size_t n = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        cr_assert_lt(n, files + 1, "more rows than files");
        rows[n++] = line;
    }
    qsort(rows, n, sizeof(char *), e2e_cmp_str);
    size_t k = 0;
    for (unsigned i = 0; i < files; i++) {
        char name[32];
        snprintf(name, sizeof(name), "f%04u.txt\t", i);
        if (skip && strstr(name, skip)) continue;
        cr_assert_lt(k, n, "row for %s missing", name);
        cr_assert(strncmp(rows[k], name, strlen(name)) == 0, "row %zu is '%s', wanted %s", k,
                  rows[k], name);
        k++;
    }
    cr_assert_eq(k, n, "%zu rows, %zu expected", n, k);
    free(rows);
    free(text);
}

/* How many times needle occurs in text. */
static inline size_t e2e_count(const char *text, const char *needle) {
    size_t n = 0;
    for (const char *p = text; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

#endif
