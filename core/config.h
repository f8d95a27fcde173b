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
 * input format, side inputs and tables; a shard's place and the job's thresholds). It is
 * stored in the queue's meta at creation. */
#ifndef PRS_CONFIG_H
#define PRS_CONFIG_H

#include "base.h"
#include "prs.h"
#include "side.h"

#define PRS_CONFIG_TEXT_BYTES 16384u /* the identity text, NUL included, at most */

/* Checks every option's range and shape. 0, or -EINVAL with err naming the option
 * ("--workers 300: at most 256"). The caller exits PRS_EXIT_USAGE on -EINVAL. */
int prs_config_validate(const prs_job_config *c, char *err, size_t err_size);

/* Writes the identity text into buf. input_path: c->input resolved to an absolute path
 * (without the '@' of a list, which the text adds back); script: the entry script's
 * absolute path, or NULL for a function table. Returns 0, or -ENAMETOOLONG when the text
 * does not fit in size bytes (buf then holds a truncated, unusable text). */
int prs_config_text(const prs_job_config *c, const char *input_path, const char *script,
                    const prs_side_config *side, char *buf, size_t size);

/* Names the first option of now whose value differs in stored, as
 * "--mini-batch-size was '10', now '20'" (underscores of the key become dashes), or
 * "the options differ" when no line of now names a difference. Always NUL-terminates
 * out (out_size > 0). */
void prs_config_diff(const char *stored, const char *now, char *out, size_t out_size);

#endif
