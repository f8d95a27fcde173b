/* shard_cli.h -- the prs commands of a job split into shards: `prs run --shard K/N` (its
 * output directory), `prs merge`, `prs status` of a sharded OUT
 * (tools/submit.c submits them to Slurm).
 *
 * Owns: the layout OUT/shards/K-of-N/ (one complete prs job per shard).
 * May call: core/shard, core/shards, libc.
 * Callers must: call from the CLI's main thread (they print to stdout/stderr and exit
 *   codes are PRS_EXIT_*). */
#ifndef PRS_SHARD_CLI_H
#define PRS_SHARD_CLI_H

#include "prs.h"

/* prs run --shard TEXT --output OUT (TEXT NULL: a run without --shard, refused on an OUT
 * holding shards): parses TEXT (K/N or auto/N, K from the environment),
 * checks OUT holds no single-machine job and no shards of another N, sets c->shard_index,
 * c->shard_count and c->output_dir = OUT/shards/K-of-N (held in dir, dir_size bytes).
 * Returns 0 or PRS_EXIT_USAGE with the message printed. */
int prs_shard_cli_run_output(const char *text, prs_job_config *c, char *dir, size_t dir_size);

/* prs status OUT when OUT is a sharded job: returns -1 (nothing printed) when OUT has no
 * shards/ directory, else the command's exit code. detail (--json, --batches): refused for
 * the sharded view (exit 2, naming prs status OUT/shards/K-of-N, which has them). */
int prs_shard_cli_status(const char *out_dir, bool detail);

int prs_shard_cli_merge(int argc, char **argv); /* prs merge OUT */

#endif
