/* config.h -- a job's configuration: validation, its identity text and the diff of two.
 *
 * Owns: nothing; pure functions of a prs_job_config (and of the resolved side options and
 *   paths the caller passes in). No I/O, no allocation, no global state: unit-tested in
 *   tests/test_config.c.
 * May call: core/side (parsing --env values), io/records (format names), libc.
 * Callers: the lifecycle (core/prs.c), on the thread that runs prs_job_run.
 *
 * The identity text is what a resume must match: one "key=value\n" line per option that
 * changes what the job computes (input, entry script, batch size, output action and file,
 * input format, side inputs and tables; a shard's place and the job's thresholds; the
 * entry script's identity, its size and content hash, as its last line). It is stored in
 * the queue's meta at creation. */
#ifndef PRS_CONFIG_H
#define PRS_CONFIG_H

#include "base.h"
#include "prs.h"
#include "side.h"

#define PRS_CONFIG_TEXT_BYTES 16384u /* the identity text, NUL included, at most */

/* Checks every option's range and shape. 0, or -EINVAL with err naming the option
 * ("--workers 300: at most 256"). The caller exits PRS_EXIT_USAGE on -EINVAL. */
int prs_config_validate(const prs_job_config *c, char *err, size_t err_size);

#define PRS_CONFIG_SCRIPT_ID_BYTES 64u /* "size=N,xxh3=H", NUL included, at most */

/* Writes the identity text into buf. input_path: c->input resolved to an absolute path
 * (without the '@' of a list, which the text adds back); script: the entry script's
 * absolute path, or NULL for a function table; script_id: its identity (jobstate's
 * prs_jobstate_script_identity), or NULL for none. Returns 0, or -ENAMETOOLONG when the
 * text does not fit in size bytes (buf then holds a truncated, unusable text). */
int prs_config_text(const prs_job_config *c, const char *input_path, const char *script,
                    const char *script_id, const prs_side_config *side, char *buf, size_t size);

/* How a stored identity text compares with the one of now. */
enum prs_config_match {
    PRS_CONFIG_SAME = 0,
    PRS_CONFIG_SCRIPT_CHANGED,    /* everything else equal; the script's identity differs */
    PRS_CONFIG_SCRIPT_UNRECORDED, /* everything else equal; stored has no identity (a job
                                     made by a prs before it was recorded) */
    PRS_CONFIG_DIFFERENT,         /* another option differs (prs_config_diff names it) */
};
/* Compares stored with now; was gets stored's script identity ("" when none; always
 * NUL-terminated, was_size > 0). */
enum prs_config_match prs_config_compare(const char *stored, const char *now, char *was,
                                         size_t was_size);
/* The script identity of text into id ("" when it has none; id_size > 0). */
void prs_config_script_id(const char *text, char *id, size_t id_size);

/* Names the first option of now whose value differs in stored, as
 * "--mini-batch-size was '10', now '20'" (underscores of the key become dashes), or
 * "the options differ" when no line of now names a difference. --input-format is looked
 * at first: it changes how --mini-batch-size reads (files or bytes), so a changed format
 * is named as such. The script's identity is not an option: prs_config_compare tells it.
 * Always NUL-terminates out (out_size > 0). */
void prs_config_diff(const char *stored, const char *now, char *out, size_t out_size);

#endif
