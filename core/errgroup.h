/* errgroup.h -- logs/user/error.txt's content: errors grouped by the shape of their message.
 *
 * Owns: the groups (one per message shape: the message with the failing item's name, other
 *   paths and numbers taken out; the first whole example and the file it went to; a count
 *   and how many of those were the same item failing again on a later try) and a set of
 *   the tries already seen, so that a batch redone after a crash restart (same batch, same
 *   attempt) is not counted twice.
 * May call: libc, xxhash.
 * Callers must: use one set from one thread (the coordinator). Memory is bounded: at most
 *   PRS_ERRGROUP_MAX groups (the rest are counted as "other") and PRS_ERRGROUP_SEEN_MAX
 *   remembered tries (past it, redone batches may be counted again; the count says so). */
#ifndef PRS_ERRGROUP_H
#define PRS_ERRGROUP_H

#include "base.h"

#include <stdio.h>

#define PRS_ERRGROUP_MAX 256u
#define PRS_ERRGROUP_SEEN_MAX (1u << 21)

typedef struct prs_errgroups prs_errgroups;

/* What prs_errgroups_seen found. */
enum prs_err_kind {
    PRS_ERR_NEW = 0,       /* first time: file it and count it */
    PRS_ERR_REPEATED = 1,  /* the same item, the same shape, on another try: count it, marked */
    PRS_ERR_DUPLICATE = 2, /* the same try said it already (a redone batch): drop it */
};

/* 0 or -ENOMEM. */
int prs_errgroups_create(prs_errgroups **out);
void prs_errgroups_destroy(prs_errgroups *g);

/* The shape of message: the item's name becomes <item>, every token with a '/' <path>,
 * every run of digits (and 0x-hex) <N>. item may be NULL or "" or "-". */
void prs_errgroup_shape(const char *item, const char *message, char *shape, size_t size);

/* Classifies an error of (batch, attempt, item) and remembers it. batch 0 with an empty
 * item: an error outside a batch (an init failure): always NEW. */
enum prs_err_kind prs_errgroups_seen(prs_errgroups *g, uint64_t batch, uint32_t attempt,
                                     const char *item, const char *message);

/* Counts one error under its shape: line is the whole error line (the example), file the
 * name of the file it went to ("" if none). */
void prs_errgroups_count(prs_errgroups *g, const char *item, const char *message, const char *line,
                         const char *file, bool repeated);

/* error.txt's text, groups ordered by count (then by first appearance). unfiled: errors
 * past the file limit (files_max). Returns 0 or -EIO. */
int prs_errgroups_write(const prs_errgroups *g, FILE *f, const char *node, uint64_t unfiled,
                        uint32_t files_max);

uint64_t prs_errgroups_total(const prs_errgroups *g);

#endif
