/* side.h -- side inputs, side tables and --env: option parsing and argument substitution.
 *
 * Owns: the parsed, resolved side configuration of one job (names, absolute paths, table
 *   specs), in fixed arrays: nothing here allocates but the substituted argv; and the
 *   loading of side tables: prs_side_table_load maps a table's file, reads it with
 *   core/sidescan (io/records' splitter: the same rules as a tabular --input) and feeds
 *   the (key, row) pairs to storage/sidedb, which parses nothing.
 * May call: core/sidescan, storage/sidedb, core/joblog (master.txt lines of a load),
 *   libxxhash, libc. The parsers are pure (apart from realpath/stat) and any thread;
 *   prs_side_apply_env, prs_side_table_load and prs_side_load act.
 * Callers: tools/prs.c (early validation, so a bad value exits 2 before anything runs) and
 *   the lifecycle (core/prs.c: it resolves, loads and hands the result to the workers),
 *   on the thread that runs prs_job_run (sidedb's loading thread).
 *
 * Grammar (errors name the option and the value):
 *   --side-input NAME=PATH                      a file or directory, by name
 *   --side-table NAME=FILE[,key=COLUMN][,format=csv|tsv|jsonl]
 *                                              format default: by extension (.tsv, .jsonl,
 *                                              .ndjson; else csv); key default: first column
 *   --env K=V                                   K non-empty, no '=' in it
 *   NAME is [A-Za-z0-9_.-]{1,64}, unique across side inputs and side tables. */
#ifndef PRS_SIDE_H
#define PRS_SIDE_H

#include "base.h"
#include "joblog.h"
#include "sidedb.h"

#include <limits.h>

#define PRS_SIDE_NAME_MAX PRS_SIDEDB_NAME_MAX /* table and side-input names, bytes */
#define PRS_SIDE_KEY_MAX PRS_SIDEDB_KEY_MAX   /* key column names, bytes */

/* The values are stored in a side table's load (its source's format code): keep them. */
enum prs_side_format { PRS_SIDE_CSV = 0, PRS_SIDE_TSV, PRS_SIDE_JSONL };

#define PRS_SIDE_MAX 64u /* side inputs, side tables, --env each */

typedef struct prs_side_input {
    char name[PRS_SIDE_NAME_MAX + 1];
    char path[PATH_MAX]; /* absolute once resolved */
} prs_side_input;

typedef struct prs_side_table {
    char name[PRS_SIDE_NAME_MAX + 1];
    char path[PATH_MAX];
    char key[PRS_SIDE_KEY_MAX + 1]; /* "" = first column */
    enum prs_side_format format;
} prs_side_table;

typedef struct prs_side_config {
    prs_side_input inputs[PRS_SIDE_MAX];
    uint32_t input_count;
    prs_side_table tables[PRS_SIDE_MAX];
    uint32_t table_count;
} prs_side_config;

/* Parse one option value. 0 or -EINVAL with err naming the option and the value. */
int prs_side_parse_input(const char *text, prs_side_input *in, char *err, size_t err_size);
int prs_side_parse_table(const char *text, prs_side_table *t, char *err, size_t err_size);
int prs_side_parse_env(const char *text, char *err, size_t err_size);

/* Parses every value and resolves paths to absolute ones. -EINVAL: a bad value or a name
 * given twice; -ENOENT (or another errno): a path that cannot be resolved. */
int prs_side_config_build(prs_side_config *sc, const char *const *inputs, uint32_t input_count,
                          const char *const *tables, uint32_t table_count, char *err,
                          size_t err_size);

/* The resolved path of side input name, or NULL. */
const char *prs_side_input_path(const prs_side_config *sc, const char *name);

/* A new argv (the caller frees the array, not the strings): argv[0] kept, every later
 * argument equal to a side input's NAME replaced by its path. NULL when out of memory. */
char **prs_side_substitute(const prs_side_config *sc, int argc, char *const *argv);

const char *prs_side_format_name(enum prs_side_format f);
/* Loads table t into db (or keeps an earlier load of the same content: a touched mtime
 * alone is not a change): opens and maps t->path, scans it (sidescan.h) into a sidedb
 * load. Returns 0 with info filled (load_ns: the whole call); -ESTALE: the table was
 * loaded from different content (err says what differs: the caller refuses, a resumed
 * job must not mix tables); -EINVAL: bad content or a missing key column (err names
 * file, line, column), or not a regular file; -EISDIR; -ENOENT/-EACCES...: the file
 * cannot be read; -EFBIG: too big (a record over ~500 MiB, over ~3G rows, or the 256 GiB
 * map full); -ENOMEM, -ENOSPC, -EIO, -EBADMSG: from sidedb (err says which step). err
 * always starts "--side-table NAME=PATH: ". On sidedb's loading thread. */
int prs_side_table_load(prs_sidedb *db, const prs_side_table *t, prs_sidedb_load_info *info,
                        char *err, size_t err_size);

/* setenv of each "K=V" (already parsed: prs_side_parse_env). 0, or -EINVAL with err
 * naming the value (a name of 256 bytes or more, or setenv failed). Before any other
 * thread of the process reads the environment (see prs.h). */
int prs_side_apply_env(const char *const *env, uint32_t count, char *err, size_t err_size);

/* Loads each side table of sc into state_dir/side (or checks that an earlier load still
 * matches its file: a changed file is refused, since rows committed so far were computed
 * with the old table) and says so in master.txt. Does nothing when *db is open already or
 * there are no tables. Returns 0 or a PRS_EXIT_* code with err saying why: USAGE (the
 * directory cannot be made; a table changed, or its key or format is wrong, or it is too
 * large), INTERNAL (the store cannot be opened, memory, disk), INPUT (a table unreadable
 * or malformed). *db is the open store (or NULL) in every case; prs_sidedb_close it. */
int prs_side_load(const prs_side_config *sc, const char *state_dir, prs_joblog *log,
                  prs_sidedb **db, char *err, size_t err_size);

#endif
