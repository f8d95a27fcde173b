/* test_shards.c -- a job run as shards (prs run --shard K/N), assembled by prs merge and
 * shown by prs status (core/shards.c, tools/shard_cli.c), driving $PRS_BIN. */
#include "e2e.h"

#include <sys/stat.h>
#include <unistd.h>

/* Runs shard k of n of r's job with faulty.so (args after --); returns the exit code. */
static int run_shard(const e2e_run *r, unsigned k, unsigned n, const char *opts, const char *args) {
    char o[512];
    snprintf(o, sizeof(o), "--shard %u/%u %s", k, n, opts);
    return e2e_prs(r, "faulty", o, args);
}

static int merge(const e2e_run *r, char *msg_path, size_t size) {
    snprintf(msg_path, size, "%s/merge.txt", r->dir);
    return tu_sh("%s merge '%s' >'%s' 2>&1", tu_prs(), r->out, msg_path);
}

static char *read_rel(const e2e_run *r, const char *name) {
    char p[600];
    snprintf(p, sizeof(p), "%s/%s", r->out, name);
    return tu_read(p, NULL);
}

/* One worker: rows in batch order, so the merge equals the single-machine output byte for
 * byte (contiguous shards keep order); every item counted once; a second merge writes the
 * same bytes. */
Test(shards, merge_equals_a_single_machine_run_in_order) {
    e2e_run r, single;
    e2e_setup(&r, "shards-order", 503);
    e2e_setup(&single, "shards-single", 0);
    snprintf(single.in, sizeof(single.in), "%s", r.in);
    for (unsigned k = 0; k < 4; k++)
        cr_assert_eq(run_shard(&r, k, 4, "--workers 1 --mini-batch-size 7", "--fail-item 3.t"), 0);
    cr_assert_eq(e2e_prs(&single, "faulty", "--workers 1 --mini-batch-size 7", "--fail-item 3.t"),
                 0);
    char msg[600];
    cr_assert_eq(merge(&r, msg, sizeof(msg)), 0, "%s", tu_read(msg, NULL));
    char *merged = e2e_out_file(&r, "parallel_run_step.txt");
    char *want = e2e_out_file(&single, "parallel_run_step.txt");
    cr_assert(merged && want);
    cr_assert_str_eq(merged, want, "the merged rows differ from a single-machine run");
    char *ov = read_rel(&r, "logs/overview.txt");
    cr_assert(ov && strstr(ov, "state: SUCCEEDED"), "%s", ov);
    cr_assert(strstr(ov, "items: total 503, succeeded 453, failed 50"), "%s", ov);
    cr_assert(strstr(ov, "created 72, processed 72"), "%s", ov);
    char *errs = read_rel(&r, "logs/user/error.txt");
    cr_assert(errs && strstr(errs, "errors: 50 in "), "%s", errs);
    char *ov1 = ov, *errs1 = errs;
    cr_assert_eq(merge(&r, msg, sizeof(msg)), 0);
    char *merged2 = e2e_out_file(&r, "parallel_run_step.txt");
    ov = read_rel(&r, "logs/overview.txt");
    errs = read_rel(&r, "logs/user/error.txt");
    cr_assert_str_eq(merged2, merged, "a second merge changed the rows");
    cr_assert_str_eq(ov, ov1, "a second merge changed overview.txt");
    cr_assert_str_eq(errs, errs1, "a second merge changed error.txt");
    free(merged), free(merged2), free(want), free(ov), free(ov1), free(errs), free(errs1);
}

/* Two workers: rows in completion order; the merge holds every row exactly once. */
Test(shards, merge_holds_every_row_once) {
    e2e_run r;
    e2e_setup(&r, "shards-once", 400);
    for (unsigned k = 0; k < 3; k++)
        cr_assert_eq(run_shard(&r, k, 3, "--workers 2 --mini-batch-size 3", ""), 0);
    char msg[600];
    cr_assert_eq(merge(&r, msg, sizeof(msg)), 0);
    e2e_assert_rows_once(&r, 400, NULL);
}

Test(shards, merge_refuses_a_missing_shard) {
    e2e_run r;
    e2e_setup(&r, "shards-missing", 100);
    cr_assert_eq(run_shard(&r, 0, 3, "", ""), 0);
    cr_assert_eq(run_shard(&r, 2, 3, "", ""), 0);
    char msg[600];
    cr_assert_eq(merge(&r, msg, sizeof(msg)), 5);
    char *m = tu_read(msg, NULL);
    cr_assert(strstr(m, "1 of 3 shards have not finished: 1-of-3 missing"), "%s", m);
    cr_assert_null(e2e_out_file(&r, "parallel_run_step.txt"), "a refused merge wrote rows");
    cr_assert_null(read_rel(&r, "logs/overview.txt"), "a refused merge wrote the overview");
    free(m);
    /* status shows every shard and what is missing. */
    snprintf(msg, sizeof(msg), "%s/status.txt", r.dir);
    cr_assert_eq(tu_sh("%s status '%s' >'%s' 2>&1", tu_prs(), r.out, msg), 0);
    m = tu_read(msg, NULL);
    cr_assert(strstr(m, "3 shards; 2 finished"), "%s", m);
    cr_assert(strstr(m, "shard 1-of-3: missing (never started)"), "%s", m);
    cr_assert(strstr(m, "of the job's 10 created in shards, done 7"), "%s", m);
    cr_assert(strstr(m, "items 70, succeeded 70"), "%s", m);
    free(m);
    /* --json is one shard's: refused on the sharded view, naming where it is. */
    cr_assert_eq(tu_sh("%s status '%s' --json >'%s' 2>&1", tu_prs(), r.out, msg), 2);
    m = tu_read(msg, NULL);
    cr_assert(strstr(m, "/shards/K-of-N --json"), "%s", m);
    free(m);
}

/* A shard whose init fails on every worker (exit 4) is failed, not finished. */
Test(shards, merge_refuses_a_failed_shard) {
    e2e_run r;
    e2e_setup(&r, "shards-failed", 60);
    cr_assert_eq(run_shard(&r, 0, 2, "", ""), 0);
    cr_assert_eq(run_shard(&r, 1, 2, "", "--fail-init all"), 4);
    char msg[600];
    cr_assert_eq(merge(&r, msg, sizeof(msg)), 5);
    char *m = tu_read(msg, NULL);
    cr_assert(strstr(m, "1-of-2 failed"), "%s", m);
    free(m);
}

/* The thresholds are the job's: each shard is within --error-threshold on its own, the
 * sum is not, so the merge fails the job (exit 1) as a single-machine run would. */
Test(shards, thresholds_apply_to_the_whole_job) {
    e2e_run r;
    e2e_setup(&r, "shards-threshold", 300);
    for (unsigned k = 0; k < 3; k++)
        cr_assert_eq(run_shard(&r, k, 3, "--error-threshold 25", "--fail-item 7.t"), 0);
    char msg[600];
    cr_assert_eq(merge(&r, msg, sizeof(msg)), 1);
    char *ov = read_rel(&r, "logs/overview.txt");
    cr_assert(ov && strstr(ov, "state: FAILED"), "%s", ov);
    cr_assert(strstr(ov, "failed because: failed items exceeded --error-threshold"), "%s", ov);
    free(ov);
}

/* A shard whose own counts exceed the job's threshold stops early (exit 1); merge says so. */
Test(shards, a_shard_over_the_threshold_fails_the_job) {
    e2e_run r;
    e2e_setup(&r, "shards-over", 200);
    cr_assert_eq(run_shard(&r, 0, 2, "--allowed-failed-percent 10 --workers 1", "--fail-batch f00"),
                 1);
    cr_assert_eq(run_shard(&r, 1, 2, "--allowed-failed-percent 10 --workers 1", "--fail-batch f00"),
                 0);
    char msg[600];
    cr_assert_eq(merge(&r, msg, sizeof(msg)), 1, "%s", tu_read(msg, NULL));
    char *ov = read_rel(&r, "logs/overview.txt");
    cr_assert(strstr(ov, "exceeded --allowed-failed-percent"), "%s", ov);
    free(ov);
}

Test(shards, merge_refuses_two_splits_and_different_jobs) {
    e2e_run r;
    e2e_setup(&r, "shards-mixed", 50);
    cr_assert_eq(run_shard(&r, 0, 2, "", ""), 0);
    cr_assert_eq(run_shard(&r, 1, 2, "--mini-batch-size 5", ""), 0);
    char msg[600];
    cr_assert_eq(merge(&r, msg, sizeof(msg)), 2);
    char *m = tu_read(msg, NULL);
    cr_assert(strstr(m, "1-of-2 holds a different job than 0-of-2"), "%s", m);
    free(m);
    /* A run with another N is refused; shards of two N (made by hand) too. */
    cr_assert_eq(run_shard(&r, 0, 3, "", ""), 2);
    char *e = tu_read(r.err, NULL);
    cr_assert(strstr(e, "already holds shards of a split into 2"), "%s", e);
    free(e);
    cr_assert_eq(tu_sh("mkdir -p '%s/shards/0-of-3'", r.out), 0);
    cr_assert_eq(merge(&r, msg, sizeof(msg)), 2);
    m = tu_read(msg, NULL);
    cr_assert(strstr(m, "two different splits"), "%s", m);
    free(m);
}

Test(shards, bad_shard_options) {
    e2e_run r;
    e2e_setup(&r, "shards-bad", 20);
    static const char *const bad[][2] = {
        {"4/4", "shards of 4 are 0..3"},
        {"0/0", "N must be a whole number from 1 to 10000"},
        {"x/y", "N must be"},
        {"auto/4", "neither SLURM_ARRAY_TASK_ID"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char o[64];
        snprintf(o, sizeof(o), "--shard %s", bad[i][0]);
        cr_assert_eq(e2e_prs(&r, "faulty", o, ""), 2, "--shard %s", bad[i][0]);
        char *e = tu_read(r.err, NULL);
        cr_assert(strstr(e, bad[i][1]), "--shard %s: %s", bad[i][0], e);
        free(e);
    }
    /* More shards than batches; a shard OUT over a single-machine job and the reverse. */
    cr_assert_eq(e2e_prs(&r, "faulty", "--shard 0/3", ""), 2);
    char *e = tu_read(r.err, NULL);
    cr_assert(strstr(e, "the job has only 2 mini-batches"), "%s", e);
    free(e);
    cr_assert_eq(e2e_prs(&r, "faulty", "", ""), 2); /* OUT has shards/ now */
    e = tu_read(r.err, NULL);
    cr_assert(strstr(e, "holds a sharded job"), "%s", e);
    free(e);
    snprintf(r.out, sizeof(r.out), "%s/single", r.dir);
    cr_assert_eq(e2e_prs(&r, "faulty", "", ""), 0);
    cr_assert_eq(e2e_prs(&r, "faulty", "--shard 0/2", ""), 2);
    e = tu_read(r.err, NULL);
    cr_assert(strstr(e, "holds a single-machine job"), "%s", e);
    free(e);
    char msg[600];
    cr_assert_eq(merge(&r, msg, sizeof(msg)), 2);
}

/* prs submit against stand-in sbatch/squeue/scancel (shell builtins only: PATH holds
 * nothing else, so the real Slurm tools are never found): what it passes them, and what
 * it says when sbatch fails or is missing (the real thing: tests/test_slurm.sh). */
static void write_tool(const e2e_run *r, const char *name, const char *body) {
    char p[600];
    snprintf(p, sizeof(p), "%s/bin", r->dir);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/bin/%s", r->dir, name);
    FILE *f = fopen(p, "w");
    cr_assert(f);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    chmod(p, 0755);
}

static void fake_tools(const e2e_run *r) {
    char body[1200];
    /* Job ids 41, 42, ... from a counter file; every call's arguments logged. */
    snprintf(body, sizeof(body),
             "echo \"$@\" >> %s/sbatch.log\nn=40\n[ -f %s/n ] && read n < %s/n\n"
             "n=$((n+1))\necho $n > %s/n\necho \"$n;cluster\"",
             r->dir, r->dir, r->dir, r->dir);
    write_tool(r, "sbatch", body);
    write_tool(r, "squeue", "exit 0");
    snprintf(body, sizeof(body), "echo \"$@\" >> %s/scancel.log", r->dir);
    write_tool(r, "scancel", body);
}

static int submit(const e2e_run *r, const char *args, char *log, size_t size) {
    snprintf(log, size, "%s/submit.txt", r->dir);
    return tu_sh("PATH='%s/bin' %s submit %s >'%s' 2>&1", r->dir, tu_prs(), args, log);
}

Test(shards, submit_passes_array_and_dependency) {
    e2e_run r;
    e2e_setup(&r, "shards-submit", 30);
    fake_tools(&r);
    char args[900], log[400];
    snprintf(args, sizeof(args),
             "--slurm --shards 3 --sbatch-arg=--time=5 -- --entry-script build/examples/faulty.so "
             "--input '%s' --output '%s' --workers 1 -- --fail-item 'it'\\''s'",
             r.in, r.out);
    cr_assert_eq(submit(&r, args, log, sizeof(log)), 0, "%s", tu_read(log, NULL));
    char *out = tu_read(log, NULL);
    cr_assert(strstr(out, "Slurm job array 41 (tasks 0-2 of 0-2)"), "%s", out);
    cr_assert(strstr(out, "merge:  job 42"), "%s", out);
    char p[600];
    snprintf(p, sizeof(p), "%s/sbatch.log", r.dir);
    char *calls = tu_read(p, NULL);
    cr_assert(strstr(calls, "--parsable --array=0-2 "), "%s", calls);
    cr_assert(strstr(calls, "--parsable --dependency=afterok:41 "), "%s", calls);
    char *script = read_rel(&r, "slurm/shards.sbatch");
    cr_assert(script && strstr(script, "#SBATCH --time=5\n"), "%s", script);
    cr_assert(strstr(script, "'--fail-item' 'it'\\''s'"), "quoting: %s", script);
    cr_assert(strstr(script, "N=3\n"), "%s", script);
    /* The script runs in bash as written: its quoting survives a shell. */
    cr_assert_eq(tu_sh("bash -n '%s/slurm/shards.sbatch'", r.out), 0);
    /* A second submit of the same OUT is refused; --resume after shard 0 ran by hand
     * submits shards 1 and 2 and cancels the old merge job. */
    cr_assert_eq(submit(&r, args, log, sizeof(log)), 2);
    cr_assert_eq(run_shard(&r, 0, 3, "--workers 1", "--fail-item \"it's\""), 0);
    snprintf(args, sizeof(args), "--slurm --resume '%s' --sbatch-arg=--qos=low", r.out);
    cr_assert_eq(submit(&r, args, log, sizeof(log)), 0, "%s", tu_read(log, NULL));
    free(out);
    out = tu_read(log, NULL);
    cr_assert(strstr(out, "2 of 3 shards to run again: 1,2"), "%s", out);
    cr_assert(strstr(out, "cancelled the previous merge job 42"), "%s", out);
    free(calls);
    calls = tu_read(p, NULL);
    cr_assert(strstr(calls, "--parsable --array=1,2 --qos=low "), "%s", calls);
    cr_assert(strstr(calls, "--parsable --dependency=afterok:43 "), "%s", calls);
    free(out), free(calls), free(script);
}

Test(shards, submit_shows_sbatch_failing_or_missing) {
    e2e_run r;
    e2e_setup(&r, "shards-sbatch", 10);
    write_tool(&r, "sbatch", "echo 'sbatch: error: invalid partition specified: nope' >&2; exit 1");
    char args[700], log[400];
    snprintf(args, sizeof(args),
             "--slurm --shards 2 -- --entry-script build/examples/faulty.so --input '%s' "
             "--output '%s'",
             r.in, r.out);
    cr_assert_eq(submit(&r, args, log, sizeof(log)), 70);
    char *out = tu_read(log, NULL);
    cr_assert(strstr(out, "sbatch: error: invalid partition specified: nope"), "%s", out);
    cr_assert(strstr(out, "failed (exit 1)"), "%s", out);
    free(out);
    cr_assert_eq(tu_sh("rm '%s/bin/sbatch' && rm -rf '%s/slurm'", r.dir, r.out), 0); /* missing */
    cr_assert_eq(submit(&r, args, log, sizeof(log)), 70);
    out = tu_read(log, NULL);
    cr_assert(strstr(out, "cannot run sbatch: No such file or directory (not on PATH"), "%s", out);
    free(out);
    /* Bad usage. */
    cr_assert_eq(submit(&r, "--shards 2 -- --input x", log, sizeof(log)), 2);
    cr_assert_eq(submit(&r, "--slurm --shards 0 -- --output x", log, sizeof(log)), 2);
    cr_assert_eq(submit(&r, "--slurm --shards 2 -- --input x", log, sizeof(log)), 2);
    out = tu_read(log, NULL);
    cr_assert(strstr(out, "need --output OUT"), "%s", out);
    free(out);
    cr_assert_eq(submit(&r, "--slurm --shards 2 -- --output x --shard 0/2", log, sizeof(log)), 2);
}

/* Tabular input: a shard's batches are byte ranges of the file; the same rule holds. */
Test(shards, tabular_merge_equals_a_single_machine_run) {
    e2e_run r, single;
    e2e_setup(&r, "shards-tab", 0);
    e2e_setup(&single, "shards-tab-single", 0);
    snprintf(r.in, sizeof(r.in), "%s/lines.txt", r.dir);
    snprintf(single.in, sizeof(single.in), "%s", r.in);
    cr_assert_eq(tu_sh("seq 1 20000 > '%s'", r.in), 0);
    const char *opts = "--input-format lines --mini-batch-size 4KB --workers 1";
    for (unsigned k = 0; k < 4; k++)
        cr_assert_eq(run_shard(&r, k, 4, opts, "--fail-item :77"), 0, "shard %u", k);
    cr_assert_eq(e2e_prs(&single, "faulty", opts, "--fail-item :77"), 0);
    char msg[600];
    cr_assert_eq(merge(&r, msg, sizeof(msg)), 0, "%s", tu_read(msg, NULL));
    char *merged = e2e_out_file(&r, "parallel_run_step.txt");
    char *want = e2e_out_file(&single, "parallel_run_step.txt");
    cr_assert(merged && want && strcmp(merged, want) == 0, "tabular merge differs");
    char *ov = read_rel(&r, "logs/overview.txt");
    cr_assert(strstr(ov, "items: total 20000, succeeded 19889, failed 111"), "%s", ov);
    free(merged), free(want), free(ov);
}

/* The generated scripts run as Slurm would run them (bash, SLURM_ARRAY_TASK_ID set): a
 * shard over its threshold ends its task with 0, and the merge gives the job's 1. */
Test(shards, generated_scripts_map_a_threshold_to_the_merge) {
    e2e_run r;
    e2e_setup(&r, "shards-scripts", 60);
    fake_tools(&r);
    char args[900], log[400];
    snprintf(args, sizeof(args),
             "--slurm --shards 3 -- --entry-script build/examples/faulty.so --input '%s' "
             "--output '%s' --workers 1 --error-threshold 0 -- --fail-item f0001",
             r.in, r.out);
    cr_assert_eq(submit(&r, args, log, sizeof(log)), 0, "%s", tu_read(log, NULL));
    for (unsigned k = 0; k < 3; k++)
        cr_assert_eq(
            tu_sh("SLURM_ARRAY_TASK_ID=%u bash '%s/slurm/shards.sbatch' >/dev/null 2>&1", k, r.out),
            0, "task %u", k);
    char p[600];
    snprintf(p, sizeof(p), "%s/shards/0-of-3", r.out);
    cr_assert_eq(tu_sh("%s status '%s' | grep -q 'exit code 1'", tu_prs(), p), 0,
                 "shard 0 should have failed its threshold");
    cr_assert_eq(tu_sh("bash '%s/slurm/merge.sbatch' >/dev/null 2>&1", r.out), 1);
    char *ov = read_rel(&r, "logs/overview.txt");
    cr_assert(ov && strstr(ov, "failed because: failed items exceeded --error-threshold"), "%s",
              ov);
    free(ov);
}

/* prs submit -- --config job.yml: resources.instance_count is the shard count and the
 * file's output the OUT, unless --shards / --output say otherwise; a file that does not
 * load is a usage error naming it. */
Test(shards, submit_takes_instance_count_from_the_config) {
    e2e_run r;
    e2e_setup(&r, "shards-config", 12);
    fake_tools(&r);
    char yml[400], args[900], log[400], p[600];
    snprintf(yml, sizeof(yml), "%s/job.yml", r.dir);
    cr_assert_eq(tu_sh("cp tests/jobs/file_job.yml '%s' && mv '%s' '%s/data' && mkdir -p "
                       "'%s/model' && ln -s \"$PWD/build/examples\" '%s/src'",
                       yml, r.in, r.dir, r.dir, r.dir),
                 0);
    snprintf(args, sizeof(args), "--slurm -- --config '%s'", yml);
    cr_assert_eq(submit(&r, args, log, sizeof(log)), 0, "%s", tu_read(log, NULL));
    char *out = tu_read(log, NULL);
    cr_assert(strstr(out, "2 shards, from resources.instance_count"), "%s", out);
    cr_assert(strstr(out, "Slurm job array 41 (tasks 0-1 of 0-1)"), "%s", out);
    free(out);
    snprintf(p, sizeof(p), "%s/out/slurm/shards.sbatch", r.dir);
    cr_assert_eq(access(p, F_OK), 0, "the file's output ./out is OUT");
    snprintf(args, sizeof(args), "--slurm --shards 3 -- --config '%s' --output '%s/o3'", yml,
             r.dir);
    cr_assert_eq(submit(&r, args, log, sizeof(log)), 0, "%s", tu_read(log, NULL));
    out = tu_read(log, NULL);
    cr_assert(strstr(out, "Slurm job array 43 (tasks 0-2 of 0-2)"), "--shards wins: %s", out);
    cr_assert_null(strstr(out, "from resources.instance_count"), "%s", out);
    free(out);
    snprintf(p, sizeof(p), "%s/o3/slurm/shards.sbatch", r.dir);
    cr_assert_eq(access(p, F_OK), 0, "--output wins over the file's");
    /* Without the key and without --shards: refused; a file that does not load: named. */
    cr_assert_eq(tu_sh("sed -i '/resources:/d; /instance_count:/d' '%s'", yml), 0);
    snprintf(args, sizeof(args), "--slurm -- --config '%s' --output '%s/o4'", yml, r.dir);
    cr_assert_eq(submit(&r, args, log, sizeof(log)), 2);
    out = tu_read(log, NULL);
    cr_assert(strstr(out, "or resources.instance_count"), "%s", out);
    free(out);
    snprintf(args, sizeof(args), "--slurm -- --config '%s/nope.yml' --output '%s/o5'", r.dir,
             r.dir);
    cr_assert_eq(submit(&r, args, log, sizeof(log)), 2);
    out = tu_read(log, NULL);
    cr_assert(strstr(out, "nope.yml"), "%s", out);
    free(out);
}
