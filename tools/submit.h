/* submit.h -- `prs submit --slurm`: a sharded job as a Slurm job array plus a merge job.
 *
 * Owns: OUT/slurm/: the generated scripts (shards.sbatch: one array task per shard;
 *   merge.sbatch: prs merge OUT, submitted with --dependency=afterok on the array), the
 *   submission record (submit.txt: the shard count, every array and merge job id) and
 *   Slurm's per-task logs. prs adds no scheduler: Slurm places, runs and requeues tasks.
 * May call: core/shards (which shards a resubmission needs), tools/jobspec (the run
 *   options' --config job.yml: resources.instance_count, its output), libc (posix_spawnp of sbatch
 *   and scancel, found on PATH).
 * Callers must: call from the CLI's main thread. */
#ifndef PRS_SUBMIT_H
#define PRS_SUBMIT_H

/* prs submit --slurm --shards N [--sbatch-arg ARG]... -- <prs run options>
 * prs submit --slurm --resume OUT [--sbatch-arg ARG]...
 * Returns a PRS_EXIT_* code: 0 submitted; 2 bad usage; 70 sbatch missing or failing (its
 * message is shown). */
int prs_submit_cli(int argc, char **argv);

#endif
