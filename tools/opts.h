/* opts.h -- command-line option matching for the prs CLI: long names with their
 * ParallelRunConfig spellings, unique prefixes, short options, and messages that say what
 * was meant ("did you mean --entry-script?") or which options a prefix could be.
 *
 * Owns: nothing past a call. The option table is the caller's (tools/prs.c): one row per
 *   option, its names here, its meaning there.
 * May call: libc only. Pure functions, safe from any thread.
 *
 * Matching rules (prs_opts_find):
 *   - '_' and '-' are the same character, so every option also answers to its
 *     ParallelRunConfig spelling (--mini_batch_size is --mini-batch-size);
 *   - an exact match of a name or an alias wins;
 *   - else a prefix of exactly one option's names is that option (--entry for
 *     --entry-script, as getopt_long allows); a prefix of several is an error listing them;
 *   - else the nearest name by edit distance is suggested when it is close enough
 *     (at most 2 edits, or a third of the name's length for longer names). */
#ifndef PRS_OPTS_H
#define PRS_OPTS_H

#include "base.h"

typedef struct prs_opt {
    const char *name;    /* long name, dashed, without "--": "entry-script" */
    const char *aliases; /* other long names, space-separated ("process_count_per_node"), or NULL */
    char short_name;     /* 0: none */
    const char *arg;     /* placeholder of its value ("N", "PATH"); NULL: a flag */
} prs_opt;

/* One option as given: which row, its value (NULL for a flag), and how the user spelled
 * it ("--workers", "-j", "--process_count_per_node"): messages repeat the user's words. */
typedef struct prs_opt_hit {
    uint32_t index;
    const char *value;
    char spelled[64];
} prs_opt_hit;

/* Tables: n rows (n <= 1024) stride bytes apart, a prs_opt the first member of each, so a
 * caller's row type can carry more (PRS_OPTS_TABLE(rows) gives the three arguments). */
#define PRS_OPTS_TABLE(rows) &(rows)[0].o, PRS_ARRAY_LEN(rows), sizeof((rows)[0])

/* The row whose names match name[0..len) (no leading dashes). Returns the index (>= 0);
 * -ENOENT for no match (err: "unknown option --X; did you mean --Y?"), -EINVAL for an
 * ambiguous prefix (err lists the candidates). */
int prs_opts_find(const prs_opt *t, size_t n, size_t stride, const char *name, size_t len,
                  char *err, size_t err_size);

/* The nearest of words (a NULL-terminated list) to word by edit distance with '_' = '-',
 * when close enough (see above); NULL if none is. For "did you mean" in other places
 * (job YAML keys). */
const char *prs_opts_nearest(const char *word, const char *const *words);

/* Parses argv[1..argc) (argv[0] is the command) into hits[], in the order given: "--name",
 * "--name=value", "--name value", "-x", "-xVALUE", "-x VALUE", and clusters of flags
 * ("-qn"). Stops at "--": *rest is the index after it, or -1 when there is none. Returns 0, or
 * -EINVAL with err naming the word (an unknown option, a missing value, a value for a flag, a stray
 * argument), or -E2BIG when more than cap options were given. */
int prs_opts_parse(const prs_opt *t, size_t n, size_t stride, int argc, char **argv,
                   prs_opt_hit *hits, size_t cap, size_t *count, int *rest, char *err,
                   size_t err_size);

#endif
