/* prs.c -- the command line: a thin layer over prs_job_run (core/prs.h).
 * Matches options with tools/opts.c (ParallelRunConfig spellings, prefixes, suggestions),
 * reads an Azure ML job YAML with tools/jobspec.c, validates values with units.h, and maps
 * everything to a prs_job_config. All job behaviour lives in the library; --dry-run's
 * preview of the cut is tools/dryrun.c. */
#include "dryrun.h"
#include "htmlreport.h"
#include "jobspec.h"
#include "joblog.h"
#include "opts.h"
#include "prs.h"
#include "records.h"
#include "sched.h"
#include "shard_cli.h"
#include "side.h"
#include "status.h"
#include "submit.h"
#include "triage.h"
#include "units.h"

#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

static const char usage_main[] =
    "usage: prs <command> [options]\n"
    "\n"
    "prs runs an entry script's prs_init/prs_run/prs_shutdown over a dataset split into\n"
    "mini-batches, on pinned worker threads, with retries and failure thresholds. Results\n"
    "are appended to one output file; logs follow the ParallelRunStep logs/ layout. The\n"
    "queue is durable: running the same command again resumes an unfinished job.\n"
    "\n"
    "commands:\n"
    "  run       run or resume a job          (prs run --help)\n"
    "  status    show a job, running or not   (prs status --help)\n"
    "  merge     assemble a job run as shards (prs merge --help)\n"
    "  submit    run a job as shards on Slurm (prs submit --help)\n"
    "  report    write OUT/logs/report.html   (prs report --help)\n"
    "  why       the story of one item or mini-batch: tries, errors, stack, log lines\n"
    "  try       run init() and one mini-batch in the foreground, nothing committed\n"
    "  help      this text\n"
    "  version   print the version\n"
    "\n"
    "exit codes:\n"
    "  0   the job succeeded (failed items within the thresholds)\n"
    "  1   a failure threshold was exceeded: the job failed\n"
    "  2   bad usage or configuration (the message names the option)\n"
    "  3   the input cannot be read (the message names the path)\n"
    "  4   the entry script's init failed on every worker\n"
    "  5   stopped before the end (signal, full disk): run again to resume\n"
    "  6   the runtime kept crashing without progress (crash loop): resumable\n"
    "  70  internal error (the message says what failed)\n";

/* ---- prs run: the option table ------------------------------------------------------------
 * One row per option: its names (opts.h matches them: dashes or ParallelRunConfig's
 * underscores, unique prefixes, the short letter), how its value is set, its default as
 * --dry-run shows it, and its --help text. A job YAML (--config) sets options through the
 * same rows, so a value is checked the same way wherever it comes from. To add an option:
 * one row here (and a setter if none of the generic ones fits). */

enum run_source { SRC_DEFAULT_V2 = 1, SRC_CONFIG, SRC_COMMAND_LINE };

#define RUN_MAX_GIVEN 512u

typedef struct run_given {
    uint32_t row;
    const char *value;
    enum run_source source;
    char who[320]; /* for messages: "--workers", "job.yml:7: max_concurrency_per_instance" */
} run_given;

typedef struct run_ctx {
    prs_job_config c;
    const char *side_inputs[PRS_SIDE_MAX], *side_tables[PRS_SIDE_MAX], *envs[PRS_SIDE_MAX];
    const char *mbs; /* --mini-batch-size as given: its unit depends on --input-format */
    const char *mbs_who;
    const char *source_directory;
    const char *config;
    const char *shard; /* --shard K/N as given (tools/shard_cli.c) */
    enum prs_format format;
    bool dry_run, help;
    run_given given[RUN_MAX_GIVEN]; /* every value set, in the order applied */
    size_t given_count;
} run_ctx;

typedef struct run_opt run_opt;
typedef int (*run_set_fn)(run_ctx *r, const run_opt *o, const char *who, const char *value);

struct run_opt {
    prs_opt o;           /* names (opts.h) */
    run_set_fn set;      /* applies a value; its messages name who */
    size_t field;        /* generic setters: where in prs_job_config */
    int64_t min, max;    /* generic integer setters: the range */
    bool repeat;         /* may be given several times: every value counts */
    const char *def;     /* the default as --dry-run shows it */
    const char *section; /* --help: a heading printed before this row */
    const char *help;    /* --help text, lines split by '\n'; NULL: not listed */
};

static int bad(const char *who, const char *value, const char *why) {
    fprintf(stderr, "prs run: %s%s%s: %s (see prs run --help)\n", who, value ? " " : "",
            value ? value : "", why);
    return PRS_EXIT_USAGE;
}

/* A message that already names the option and its value. */
static int bad_msg(const char *who, const char *msg) {
    fprintf(stderr, "prs run: %s: %s (see prs run --help)\n", who, msg);
    return PRS_EXIT_USAGE;
}

static void *field_of(run_ctx *r, const run_opt *o) {
    return (char *)&r->c + o->field;
}

static int parse_int(const char *who, const char *text, int64_t min, int64_t max, int64_t *v) {
    int rc = prs_units_parse_int(text, min, max, v);
    if (rc == -EINVAL) return bad(who, text, "not a whole number");
    if (rc) {
        char why[96];
        snprintf(why, sizeof(why), "out of range %lld..%lld", (long long)min, (long long)max);
        return bad(who, text, why);
    }
    return 0;
}

static int set_i64(run_ctx *r, const run_opt *o, const char *who, const char *value) {
    int64_t v;
    int rc = parse_int(who, value, o->min, o->max, &v);
    if (rc == 0) *(int64_t *)field_of(r, o) = v;
    return rc;
}

/* -1: not counted; N >= 0: at most N failed mini-batches. */
static int set_batch_errors(run_ctx *r, const run_opt *o, const char *who, const char *value) {
    int64_t v;
    int rc = parse_int(who, value, o->min, o->max, &v);
    if (rc) return rc;
    r->c.mini_batch_error_limited = v >= 0;
    r->c.mini_batch_error_threshold = v >= 0 ? (uint64_t)v : 0;
    return 0;
}

static int set_u32(run_ctx *r, const run_opt *o, const char *who, const char *value) {
    int64_t v;
    int rc = parse_int(who, value, o->min, o->max, &v);
    if (rc == 0) *(uint32_t *)field_of(r, o) = (uint32_t)v;
    return rc;
}

static int set_str(run_ctx *r, const run_opt *o, const char *who, const char *value) {
    (void)who;
    *(const char **)field_of(r, o) = value;
    return 0;
}

static int set_true(run_ctx *r, const run_opt *o, const char *who, const char *value) {
    (void)who, (void)value;
    *(bool *)field_of(r, o) = true;
    return 0;
}

/* value must be one of choices ("a|b|c"); its position goes to the uint32_t/int field. */
static int set_choice(run_ctx *r, const run_opt *o, const char *who, const char *value,
                      const char *choices, size_t size) {
    uint32_t i = 0;
    for (const char *p = choices; *p; i++) {
        size_t l = strcspn(p, "|");
        if (strlen(value) == l && !strncmp(p, value, l)) {
            if (size == sizeof(bool))
                *(bool *)field_of(r, o) = i == 0; /* durability: full|none */
            else
                *(uint32_t *)field_of(r, o) = i;
            return 0;
        }
        p += l + (p[l] == '|');
    }
    char why[160];
    snprintf(why, sizeof(why), "must be one of %s", choices);
    return bad(who, value, why);
}

static int set_action(run_ctx *r, const run_opt *o, const char *who, const char *value) {
    return set_choice(r, o, who, value, "append_row|summary_only", sizeof(uint32_t));
}

static int set_durability(run_ctx *r, const run_opt *o, const char *who, const char *value) {
    return set_choice(r, o, who, value, "full|none", sizeof(bool));
}

static int set_io(run_ctx *r, const run_opt *o, const char *who, const char *value) {
    return set_choice(r, o, who, value, "auto|uring|sync", sizeof(uint32_t));
}

static int set_row_format(run_ctx *r, const run_opt *o, const char *who, const char *value) {
    return set_choice(r, o, who, value, "space|csv|tsv|jsonl", sizeof(uint32_t));
}

static int set_memory_limit(run_ctx *r, const run_opt *o, const char *who, const char *value) {
    (void)o;
    uint64_t n;
    if (prs_units_parse_size(value, &n) || n < (64u << 20))
        return bad(who, value, "not a size of at least 64MB (e.g. 4GB)");
    r->c.worker_memory_limit_bytes = n;
    return 0;
}

static int set_log_policy(run_ctx *r, const run_opt *o, const char *who, const char *value) {
    return set_choice(r, o, who, value, "wait|drop", sizeof(uint32_t));
}

static int set_mbs(run_ctx *r, const run_opt *o, const char *who, const char *value) {
    (void)o;
    r->mbs = value;
    r->mbs_who = who;
    return 0;
}

static int set_timeout(run_ctx *r, const run_opt *o, const char *who, const char *value) {
    int64_t v;
    int rc = parse_int(who, value, o->min, o->max, &v);
    if (rc == 0) r->c.run_invocation_timeout_ms = (uint64_t)v * 1000u;
    return rc;
}

static int set_level(run_ctx *r, const run_opt *o, const char *who, const char *value) {
    (void)o;
    if (prs_log_level_parse(value, &r->c.logging_level))
        return bad(who, value, "must be DEBUG, INFO, WARNING, ERROR or CRITICAL");
    return 0;
}

static int set_format(run_ctx *r, const run_opt *o, const char *who, const char *value) {
    (void)o;
    if (prs_format_parse(value, &r->format))
        return bad(who, value, "must be files, csv, tsv, jsonl or lines");
    r->c.input_format = (uint32_t)r->format;
    return 0;
}

static int set_help(run_ctx *r, const run_opt *o, const char *who, const char *value) {
    (void)o, (void)who, (void)value;
    r->help = true;
    return 0;
}

static int set_dry_run(run_ctx *r, const run_opt *o, const char *who, const char *value) {
    (void)o, (void)who, (void)value;
    r->dry_run = true;
    return 0;
}

static int set_shard(run_ctx *r, const run_opt *o, const char *who, const char *value) {
    (void)o, (void)who;
    r->shard = value; /* checked with --output, in prs_shard_cli_run_output */
    return 0;
}

static int set_config(run_ctx *r, const run_opt *o, const char *who, const char *value) {
    (void)o;
    if (r->config && strcmp(r->config, value)) return bad(who, value, "given twice");
    r->config = value;
    return 0;
}

static int set_source_dir(run_ctx *r, const run_opt *o, const char *who, const char *value) {
    (void)o, (void)who;
    r->source_directory = value;
    return 0;
}

/* Appends a repeatable option's value; bounded like the library's limits. */
static int add_value(const char *who, const char *value, const char **list, uint32_t *count) {
    if (*count >= PRS_SIDE_MAX) return bad(who, value, "given too many times (at most 64)");
    list[(*count)++] = value;
    return 0;
}

static int set_side_input(run_ctx *r, const run_opt *o, const char *who, const char *value) {
    (void)o;
    char why[PATH_MAX + 256];
    prs_side_input in;
    if (prs_side_parse_input(value, &in, why, sizeof(why))) return bad_msg(who, why);
    return add_value(who, value, r->side_inputs, &r->c.side_input_count);
}

static int set_side_table(run_ctx *r, const run_opt *o, const char *who, const char *value) {
    (void)o;
    char why[PATH_MAX + 256];
    prs_side_table t;
    if (prs_side_parse_table(value, &t, why, sizeof(why))) return bad_msg(who, why);
    return add_value(who, value, r->side_tables, &r->c.side_table_count);
}

static int set_env(run_ctx *r, const run_opt *o, const char *who, const char *value) {
    (void)o;
    char why[PATH_MAX + 256];
    if (prs_side_parse_env(value, why, sizeof(why))) return bad_msg(who, why);
    return add_value(who, value, r->envs, &r->c.env_count);
}

/* ParallelRunConfig arguments that only mean something on Azure ML. */
static int set_azure_only(run_ctx *r, const run_opt *o, const char *who, const char *value) {
    (void)r, (void)value;
    if (!strcmp(o->o.name, "node-count"))
        return bad(who, NULL,
                   "prs run uses this machine; to spread a job over machines, prs submit runs "
                   "it as shards");
    return bad(who, NULL,
               "an Azure ML setting with no meaning here (prs runs on this machine, in its "
               "environment): remove it");
}

#define CFG(f) offsetof(prs_job_config, f)

static const run_opt run_opts[] = {
    {{"entry-script", NULL, 0, "PATH"},
     set_str,
     CFG(entry_script),
     .section = "required",
     .help = "the entry script: a shared object exporting prs_run, or a\n"
             "Python script (*.py) defining run(mini_batch)"},
    {{"input", "input_data", 0, "DIR|@LIST"}, set_str, CFG(input), .help = "the dataset"},
    {{"output", NULL, 0, "OUT"},
     set_str,
     CFG(output_dir),
     .help = "output directory: results, logs/ and the job state (.prs/)"},
    {{"config", NULL, 0, "FILE"},
     set_config,
     .section = "Azure ML job files",
     .help = "an Azure ML parallel job YAML (CLI v2, type: parallel);\n"
             "its settings become these options (README \"Azure ML job\n"
             "files\"), and options on the command line override them.\n"
             "v2's defaults apply: --run-max-try 2, and summary_only\n"
             "unless task.append_row_to is set"},
    {{"dry-run", NULL, 'n', NULL},
     set_dry_run,
     .help = "create nothing, run nothing: print how the input would\n"
             "be cut into mini-batches, and every option's value with\n"
             "where it came from (default, job YAML, command line)"},
    {{"mini-batch-size", NULL, 0, "N"},
     set_mbs,
     .def = "10 files; tabular: 1MB",
     .section = "ParallelRunConfig options (same names, same defaults; the underscore spellings\n"
                "--mini_batch_size ... work too)",
     .help = "files per mini-batch (default 10); tabular formats: bytes\n"
             "per mini-batch with units: 1024, 64KB, 1MB (default), 1GB"},
    {{"workers", "process_count_per_node max_concurrency_per_instance jobs", 'j', "N"},
     set_u32,
     CFG(workers),
     1,
     PRS_MAX_WORKERS,
     .def = "CPUs in the affinity mask and cgroup quota",
     .help = "worker threads (default: CPUs in the affinity mask and the\n"
             "cgroup quota); more than CPUs is allowed: placed round-robin.\n"
             "Also -j N, --process_count_per_node and\n"
             "--max_concurrency_per_instance"},
    {{"output-action", NULL, 0, "A"},
     set_action,
     CFG(output_action),
     .def = "append_row",
     .help = "append_row (default): every emitted row becomes a line of\n"
             "the output file; summary_only: rows are only counted"},
    {{"append-row-file-name", NULL, 0, "F"},
     set_str,
     CFG(append_row_file_name),
     .def = "parallel_run_step.txt",
     .help = "output file name in OUT (default parallel_run_step.txt)"},
    {{"error-threshold", NULL, 0, "N"},
     set_i64,
     CFG(error_threshold),
     -1,
     INT64_MAX / 4,
     .def = "-1",
     .help = "failed items tolerated over the job; -1 ignores (default -1)"},
    {{"allowed-failed-count", NULL, 0, "N"},
     set_i64,
     CFG(allowed_failed_count),
     -1,
     INT64_MAX / 4,
     .def = "-1",
     .help = "failed mini-batches tolerated; -1 ignores (default -1)"},
    {{"allowed-failed-percent", NULL, 0, "P"},
     set_u32,
     CFG(allowed_failed_percent),
     0,
     100,
     .def = "100",
     .help = "failed mini-batches tolerated, percent 0..100 (default 100)"},
    {{"mini-batch-error-threshold", NULL, 0, "N"},
     set_batch_errors,
     0,
     -1,
     INT64_MAX / 4,
     .def = "-1",
     .help = "v2's mini_batch_error_threshold: mini-batches that failed\n"
             "or returned fewer rows than items, tolerated; -1 ignores\n"
             "(default -1)"},
    {{"partition-keys", NULL, 0, "COL[,COL...]"},
     set_str,
     CFG(partition_keys),
     .def = "(none)",
     .help = "tabular inputs: each mini-batch is exactly the records of\n"
             "one combination of these columns' values (jsonl: members),\n"
             "in input order; --mini-batch-size does not apply. Scripts\n"
             "get the values: batch->partition_values (C),\n"
             "mini_batch_context.partition_key_value (Python)"},
    {{"keep-order", NULL, 0, NULL},
     set_true,
     CFG(keep_order),
     .def = "off",
     .help = "append_row: rows in input order (batch order, partitions\n"
             "in order of first appearance), exactly once after crashes;\n"
             "early batches wait in the job state, at most 16 per worker\n"
             "ahead of the oldest unwritten one. Part of the job"},
    {{"run-max-try", "max_retries", 0, "N"},
     set_u32,
     CFG(run_max_try),
     1,
     PRS_SCHED_MAX_TRY,
     .def = "3",
     .help = "tries of a failing mini-batch (default 3, at least 1; a job\n"
             "YAML's retry_settings.max_retries, default 2, is the same count)"},
    {{"run-invocation-timeout", NULL, 0, "S"},
     set_timeout,
     0,
     0,
     30 * 86400,
     .def = "60",
     .help = "seconds one prs_run may take (default 60; 0: no limit).\n"
             "Past it prs_cancelled() turns true; a run() that still\n"
             "does not return within a grace period (a quarter of the\n"
             "timeout, 0.5..10 s) spends that try and the runtime is\n"
             "restarted; other batches lose nothing"},
    {{"logging-level", NULL, 0, "L"},
     set_level,
     .def = "INFO",
     .help = "DEBUG, INFO (default), WARNING, ERROR, CRITICAL"},
    {{"source-directory", NULL, 0, "DIR"},
     set_source_dir,
     .help = "a relative --entry-script is taken from DIR"},
    {{"log-policy", NULL, 0, "wait|drop"},
     set_log_policy,
     CFG(log_policy),
     .def = "wait",
     .help = "log ring full: wait (default) or drop and count"},
    {{"perf-interval", NULL, 0, "S"},
     set_u32,
     CFG(perf_interval_s),
     1,
     86400,
     .def = "10",
     .help = "seconds between logs/sys/perf samples (default 10)"},
    {{"node-count", "compute_target", 0, "X"}, .set = set_azure_only},
    {{"environment", NULL, 0, "X"}, .set = set_azure_only},
    {{"durability", NULL, 0, "full|none"},
     set_durability,
     CFG(durable),
     .def = "full",
     .section = "prs options",
     .help = "full (default): output and queue synced at every commit;\n"
             "none: no syncs (a process crash loses nothing, a power cut\n"
             "may lose the last seconds of progress, never consistency)"},
    {{"input-format", NULL, 0, "F"},
     set_format,
     .def = "files",
     .help = "files (default: one item per file), or csv, tsv, jsonl,\n"
             "lines: --input is one file, a directory or @LIST of such\n"
             "files; one item per record, named FILE:LINE; mini-batches\n"
             "are cut on record boundaries; a CSV/TSV header row is\n"
             "handed to every batch (batch->header); a malformed record\n"
             "(unterminated quote, a JSON line that is not an object) is\n"
             "a failed item"},
    {{"io", NULL, 0, "auto|uring|sync"},
     set_io,
     CFG(io_mode),
     .def = "auto (PRS_IO)",
     .help = "how input files are read: io_uring, or pread/mmap; auto\n"
             "(default; PRS_IO in the environment changes it) probes\n"
             "io_uring; logs/sys/master.txt says which path runs, and why"},
    {{"quiet", NULL, 'q', NULL},
     set_true,
     CFG(quiet),
     .def = "off",
     .help = "no progress lines on stderr (also -q)"},
    {{"shard", NULL, 0, "K/N"},
     set_shard,
     .def = "(none)",
     .help = "run shard K (0..N-1) of the job split into N: the K-th\n"
             "contiguous range of its mini-batches, as a complete job in\n"
             "OUT/shards/K-of-N/ (prs merge OUT assembles them); auto/N\n"
             "takes K from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX"},
    {{"fresh", NULL, 0, NULL},
     set_true,
     CFG(fresh),
     .def = "off",
     .help = "discard the job state in OUT (and its output file) and\n"
             "start over; without it, OUT holding a different job is\n"
             "refused with what differs"},
    {{"allow-changed-script", NULL, 0, NULL},
     set_true,
     CFG(allow_changed_script),
     .def = "off",
     .help = "resume although the entry script's content changed since\n"
             "the job was created (refused without it: the output would\n"
             "hold rows of both versions); master.txt records the change"},
    {{"retry-failed", NULL, 0, NULL},
     set_true,
     CFG(retry_failed),
     .def = "off",
     .help = "on a finished job: run its failed mini-batches again, with\n"
             "fresh tries, into the same output (exactly once); the\n"
             "overview says how many were retried and recovered. Their\n"
             "items are in OUT/logs/failed_items.txt after every job"},
    {{"help", NULL, 'h', NULL}, set_help, .help = "this text"},
    {{"python", NULL, 0, "PATH"},
     set_str,
     CFG(python),
     .def = "/usr/bin/python3",
     .section = "Python entry scripts (--entry-script S.py: ParallelRunStep's init/run/shutdown)",
     .help = "the interpreter (default /usr/bin/python3; a virtualenv's\n"
             "bin/python works). Each worker runs the script in its own\n"
             "process, pinned to the worker's CPU; run() gets a list of\n"
             "absolute paths (files) or a pandas DataFrame (tabular) and\n"
             "returns a list (one row per element) or a DataFrame"},
    {{"row-format", NULL, 0, "space|csv|tsv|jsonl"},
     set_row_format,
     CFG(row_format),
     .def = "space",
     .help = "a returned DataFrame's rows: space-separated values, as\n"
             "ParallelRunStep writes them (default), or csv, tsv, jsonl"},
    {{"append-row-dataframe-header", NULL, 0, NULL},
     set_true,
     CFG(append_row_dataframe_header),
     .def = "off",
     .help = "write a returned DataFrame's header once, as line one"},
    {{"worker-memory-limit", NULL, 0, "SIZE"},
     set_memory_limit,
     .def = "none",
     .help = "a host process's memory (address space, RLIMIT_AS) at\n"
             "most, e.g. 4GB: past it run() fails (MemoryError), the\n"
             "host is ended and restarted, the batch spends that try"},
    {{"gpus", NULL, 0, "N"},
     set_u32,
     CFG(gpus),
     0,
     1024,
     .def = "detected (/proc/driver/nvidia/gpus), else none",
     .help = "GPUs to share out: worker W's host gets\n"
             "CUDA_VISIBLE_DEVICES=W mod N (a restarted host the same)"},
    {{"side-input", NULL, 0, "NAME=PATH"},
     set_side_input,
     .repeat = true,
     .section = "side inputs, tables and environment (each may be repeated, up to 64 times)",
     .help = "a file or directory for the script: prs_side_path(ctx,\n"
             "\"NAME\") gives its absolute path, and an argument after --\n"
             "equal to NAME is replaced by that path"},
    {{"side-table", NULL, 0, "NAME=FILE[,key=COLUMN][,format=csv|tsv|jsonl]"},
     set_side_table,
     .repeat = true,
     .help = "a lookup table loaded once into OUT/.prs/side (LMDB) and\n"
             "read zero-copy by every worker: prs_side_get(ctx, \"NAME\",\n"
             "key, len, &row, &row_len). key: a header column (jsonl: a\n"
             "field), default the first; format default by extension\n"
             "(.tsv/.tab, .jsonl/.ndjson, else csv). Duplicate keys: the\n"
             "first row wins (counted in logs/sys/master.txt); empty keys\n"
             "are skipped (counted); a missing key column is an error.\n"
             "A resumed job reuses the load; if FILE's content changed it\n"
             "is refused (exit 2): restore it, or --fresh"},
    {{"env", "environment_variables", 0, "K=V"},
     set_env,
     .repeat = true,
     .help = "set in the environment before the entry script is loaded"},
};

static const char usage_run_head[] =
    "usage: prs run --entry-script S.so --input DIR|@LIST --output OUT [options] [-- ARGS]\n"
    "       prs run --config job.yml [options] [-- ARGS]\n"
    "\n"
    "Splits the files under DIR (recursively, in sorted order), or listed in LIST (one path\n"
    "a line, or NUL-separated), into mini-batches and runs S.so's prs_run on each. ARGS\n"
    "after -- reach prs_init(ctx, argc, argv) with argv[0] = S.so (they replace a job\n"
    "YAML's task.program_arguments).\n"
    "Options may be abbreviated to a unique prefix; a mistyped one is answered with the\n"
    "nearest (\"did you mean --entry-script?\").\n";

static const char usage_run_tail[] =
    "\n"
    "A failed item is an item without a row: a batch of N items that emits M rows has N-M\n"
    "failed items. A batch whose prs_run returns < 0 is retried up to --run-max-try times,\n"
    "then fails with all its items. The job fails when any threshold is exceeded.\n"
    "\n"
    "prs runs the job in a child process and restarts it after a crash (a fatal signal\n"
    "in prs_run spends that batch's try; evidence goes to logs/user/error/<node>/) or a\n"
    "hung prs_run. kill -9, a power cut or OOM lose nothing: run the same command again.\n"
    "SIGINT/SIGTERM: no new batches, running ones finish (10 s at most), exit 5; a second\n"
    "signal stops at once. Either way the job resumes where it stopped.\n"
    "\n"
    "files in OUT:\n"
    "  parallel_run_step.txt      the rows (append_row)\n"
    "  logs/overview.txt          progress and the result; on failure, the first error\n"
    "  logs/sys/master.txt        the coordinator's log\n"
    "  logs/user/error.txt        every item and batch error\n"
    "  logs/user/<ip>/<node>.log.txt  the entry script's prs_log lines\n";

static void usage_run(FILE *f) {
    fputs(usage_run_head, f);
    for (size_t i = 0; i < PRS_ARRAY_LEN(run_opts); i++) {
        const run_opt *o = &run_opts[i];
        if (o->section) fprintf(f, "\n%s:\n", o->section);
        if (!o->help) continue;
        char head[96];
        int w = snprintf(head, sizeof(head), "  --%s%s%s", o->o.name, o->o.arg ? " " : "",
                         o->o.arg ? o->o.arg : "");
        const char *h = o->help;
        size_t l = strcspn(h, "\n");
        if (w > 28) {
            fprintf(f, "%s\n%29s%.*s\n", head, "", (int)l, h);
        } else {
            fprintf(f, "%-29s%.*s\n", head, (int)l, h);
        }
        for (h += l; *h == '\n'; h += l) {
            h++;
            l = strcspn(h, "\n");
            fprintf(f, "%29s%.*s\n", "", (int)l, h);
        }
    }
    fputs(usage_run_tail, f);
}

/* ---- applying values ------------------------------------------------------------------- */

static int apply(run_ctx *r, uint32_t row, const char *value, enum run_source src,
                 const char *who) {
    if (r->given_count >= RUN_MAX_GIVEN) return bad(who, value, "too many options");
    run_given *g = &r->given[r->given_count++];
    *g = (run_given){.row = row, .value = value, .source = src};
    snprintf(g->who, sizeof(g->who), "%s", who);
    return run_opts[row].set(r, &run_opts[row], g->who, value);
}

static int apply_jobspec(run_ctx *r, const prs_jobspec *js) {
    char who[PATH_MAX + 128], err[256];
    for (size_t i = 0; i < js->count; i++) {
        const prs_jobspec_setting *s = &js->settings[i];
        snprintf(who, sizeof(who), "%s:%u: %s", js->path, s->line, s->key);
        int row =
            prs_opts_find(PRS_OPTS_TABLE(run_opts), s->option, strlen(s->option), err, sizeof(err));
        if (row < 0 || strcmp(run_opts[row].o.name, s->option))
            return bad(who, NULL, "not supported by this version of prs: remove it");
        int rc = apply(r, (uint32_t)row, s->value, SRC_CONFIG, who);
        if (rc) return rc;
    }
    return 0;
}

/* The mini-batch size in the unit --input-format calls for. */
static int resolve_mbs(run_ctx *r) {
    const char *mbs = r->mbs, *who = r->mbs_who;
    if (!mbs) return 0;
    uint64_t n;
    int rc = prs_units_parse_size(mbs, &n);
    if (r->format == PRS_FORMAT_FILES) {
        if (rc == 0 && n != (uint64_t)atoll(mbs))
            return bad(who, mbs, "a file dataset counts files: give a number");
        if (rc) return bad(who, mbs, "not a number of files");
        if (n < 1) return bad(who, mbs, "must be at least 1");
        if (n > 1000000) return bad(who, mbs, "at most 1000000 files");
        r->c.mini_batch_size = (uint32_t)n;
        return 0;
    }
    if (rc) return bad(who, mbs, "not a size in bytes (1024, 64KB, 1MB, 1GB)");
    if (n < 1) return bad(who, mbs, "must be at least 1 byte");
    r->c.mini_batch_bytes = n;
    return 0;
}

/* --source-directory: a relative entry script is taken from it. */
static int resolve_entry(run_ctx *r, char *buf, size_t size) {
    if (!r->source_directory || !r->c.entry_script || r->c.entry_script[0] == '/') return 0;
    if (snprintf(buf, size, "%s/%s", r->source_directory, r->c.entry_script) >= (int)size)
        return bad("--source-directory", r->source_directory, "path too long");
    r->c.entry_script = buf;
    return 0;
}

/* ---- --dry-run: every option's value and where it came from ----------------------------- */

static const char *source_text(const run_given *g, char *buf, size_t size) {
    switch (g->source) {
    case SRC_DEFAULT_V2:
        return "default (v2 job YAML)";
    case SRC_CONFIG:
        return g->who;
    case SRC_COMMAND_LINE:
        snprintf(buf, size, "command line (%s)", g->who);
        return buf;
    }
    return "?";
}

static void print_options(const run_ctx *r, FILE *f) {
    fprintf(f, "options (value, and where it came from):\n");
    char buf[400];
    for (uint32_t i = 0; i < PRS_ARRAY_LEN(run_opts); i++) {
        const run_opt *o = &run_opts[i];
        if (!o->help || o->set == set_help || o->set == set_dry_run) continue;
        const run_given *last = NULL;
        for (size_t k = 0; k < r->given_count; k++) {
            const run_given *g = &r->given[k];
            if (g->row != i) continue;
            if (o->repeat)
                fprintf(f, "  --%-24s %-28s %s\n", o->o.name, g->value,
                        source_text(g, buf, sizeof(buf)));
            last = g;
        }
        if (o->repeat) continue;
        if (last)
            fprintf(f, "  --%-24s %-28s %s\n", o->o.name, last->value ? last->value : "on",
                    source_text(last, buf, sizeof(buf)));
        else
            fprintf(f, "  --%-24s %-28s default\n", o->o.name, o->def ? o->def : "(none)");
    }
}

/* ---- prs run ----------------------------------------------------------------------------- */

/* argv for init: the script, then the words after "--" (or the job YAML's arguments). */
static char **init_args(const run_ctx *r, int argc, char **argv, int rest, const prs_jobspec *js,
                        int *count) {
    int n = rest >= 0 ? argc - rest : js ? js->argc : 0;
    char **a = calloc((size_t)n + 2, sizeof(char *));
    if (!a) return NULL;
    a[0] = (char *)(uintptr_t)r->c.entry_script;
    for (int i = 0; i < n; i++)
        a[i + 1] = rest >= 0 ? argv[rest + i] : js->args[i];
    *count = n + 1;
    return a;
}

static int run_parse(run_ctx *r, int argc, char **argv, prs_jobspec *js, bool *js_loaded,
                     int *rest) {
    static prs_opt_hit hits[RUN_MAX_GIVEN];
    size_t nhits;
    char err[512];
    int rc = prs_opts_parse(PRS_OPTS_TABLE(run_opts), argc, argv, hits, PRS_ARRAY_LEN(hits), &nhits,
                            rest, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "prs run: %s (see prs run --help)\n", err);
        return PRS_EXIT_USAGE;
    }
    /* --config and --help first: the file's values come before the command line's. */
    for (size_t i = 0; i < nhits; i++) {
        run_set_fn set = run_opts[hits[i].index].set;
        if (set != set_config && set != set_help) continue;
        if ((rc = apply(r, hits[i].index, hits[i].value, SRC_COMMAND_LINE, hits[i].spelled)))
            return rc;
    }
    if (r->help) return 0;
    if (r->config) {
        char why[PATH_MAX + 512];
        rc = prs_jobspec_load(js, r->config, why, sizeof(why));
        *js_loaded = true;
        if (rc) {
            fprintf(stderr, "prs run: %s\n", why);
            return rc == -EINVAL ? PRS_EXIT_USAGE : PRS_EXIT_INPUT;
        }
        /* v2's default: retry_settings.max_retries is 2. */
        int row = prs_opts_find(PRS_OPTS_TABLE(run_opts), "run-max-try", 11, err, sizeof(err));
        PRS_ASSERT(row >= 0);
        if ((rc = apply(r, (uint32_t)row, "2", SRC_DEFAULT_V2, "default"))) return rc;
        if ((rc = apply_jobspec(r, js))) return rc;
    }
    for (size_t i = 0; i < nhits; i++) {
        run_set_fn set = run_opts[hits[i].index].set;
        if (set == set_config || set == set_help) continue;
        if ((rc = apply(r, hits[i].index, hits[i].value, SRC_COMMAND_LINE, hits[i].spelled)))
            return rc;
    }
    return 0;
}

/* OUT/logs/report.html, for the job the run just ended; a report that cannot be
 * written is said, never changes the job's exit code. */
static void write_report(const char *out_dir, unsigned refresh_s) {
    char err[PATH_MAX + 256];
    if (prs_htmlreport_write(out_dir, refresh_s, err, sizeof(err)) != 0)
        fprintf(stderr, "prs: report not written: %s\n", err);
}

#define LIVE_REPORT_PERIOD_S 5u

typedef struct live_report {
    const char *out_dir;
    double next_s; /* CLOCK_MONOTONIC */
} live_report;

static double monotonic_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The supervisor's tick while the job runs: rewrites the report with a refresh, at most
 * one tenth of the time (a million-batch job's logs take seconds to read), silently until
 * OUT/logs exists. */
static void on_supervisor_tick(void *arg) {
    live_report *lr = arg;
    double now = monotonic_s();
    if (now < lr->next_s) return;
    char err[PATH_MAX + 256];
    prs_htmlreport_write(lr->out_dir, LIVE_REPORT_PERIOD_S, err, sizeof(err));
    double took = monotonic_s() - now;
    lr->next_s = now + PRS_MAX(LIVE_REPORT_PERIOD_S - 0.5, 10 * took);
}

static int run_job(run_ctx *r, const prs_jobspec *js, int argc, char **argv, int rest) {
    int n;
    char **init_argv = init_args(r, argc, argv, rest, js, &n);
    if (!init_argv) return PRS_EXIT_INTERNAL;
    r->c.argc = n;
    r->c.argv = init_argv;
    int code;
    if (r->dry_run) {
        char err[PATH_MAX + 512];
        code = prs_dryrun_print(&r->c, stdout, err, sizeof(err));
        if (code) fprintf(stderr, "prs run --dry-run: %s\n", err);
        print_options(r, stdout);
        printf("init arguments (argv[1..]):");
        for (int i = 1; i < n; i++)
            printf(" '%s'", init_argv[i]);
        printf("%s\n", n > 1 ? "" : " (none)");
        if (js && js->instance_count)
            printf("resources.instance_count %lld (%s:%u): shards, for prs submit; prs run uses "
                   "this machine\n",
                   (long long)js->instance_count, js->path, js->instance_count_line);
        free(init_argv);
        return code;
    }
    prs_job_report report;
    live_report live = {.out_dir = r->c.output_dir};
    r->c.supervisor_tick = on_supervisor_tick;
    r->c.supervisor_tick_arg = &live;
    r->c.supervisor_tick_ms = LIVE_REPORT_PERIOD_S * 1000;
    code = prs_supervise(&r->c, &report);
    fprintf(stderr, "prs: %s\n", report.message);
    /* A refused job (OUT holds another one, or bad usage): OUT's files are not this job's. */
    bool ours = code != PRS_EXIT_USAGE;
    if (ours && r->c.output_action == PRS_OUTPUT_APPEND_ROW && report.total_batches) {
        fprintf(stderr, "prs: results: %s/%s\n", r->c.output_dir, r->c.append_row_file_name);
    }
    if (ours && report.total_batches) {
        fprintf(stderr, "prs: logs:    %s/logs/overview.txt\n", r->c.output_dir);
        write_report(r->c.output_dir, 0);
    }
    free(init_argv);
    return code;
}

static int cmd_run(int argc, char **argv) {
    static run_ctx r;
    static prs_jobspec js;
    memset(&r, 0, sizeof(r));
    prs_job_config_defaults(&r.c);
    r.c.quiet = false; /* the library is quiet by default; the CLI draws progress */
    r.c.side_inputs = r.side_inputs;
    r.c.side_tables = r.side_tables;
    r.c.env = r.envs;
    bool js_loaded = false;
    int rest, code = run_parse(&r, argc, argv, &js, &js_loaded, &rest);
    char entry[PATH_MAX * 2];
    if (code) goto free_spec;
    if (r.help) {
        usage_run(stdout);
        goto free_spec;
    }
    if ((code = resolve_mbs(&r)) || (code = resolve_entry(&r, entry, sizeof(entry))))
        goto free_spec;
    const char *missing = !r.c.entry_script ? "--entry-script"
                          : !r.c.input      ? "--input"
                          : !r.c.output_dir ? "--output"
                                            : NULL;
    if (missing) {
        code =
            bad(missing, NULL,
                r.config ? "is required (on the command line, or in the job YAML)" : "is required");
        goto free_spec;
    }
    static char shard_dir[PATH_MAX + 64]; /* OUT/shards/K-of-N: --dry-run creates nothing */
    if (!r.dry_run &&
        (code = prs_shard_cli_run_output(r.shard, &r.c, shard_dir, sizeof(shard_dir))))
        goto free_spec;
    code = run_job(&r, js_loaded ? &js : NULL, argc, argv, rest);
free_spec:
    if (js_loaded) prs_jobspec_free(&js);
    return code;
}

static const char usage_report[] =
    "usage: prs report OUT\n"
    "\n"
    "Writes OUT/logs/report.html: one self-contained page (no script, nothing fetched) with\n"
    "the job's state, progress, throughput and a timeline per worker, batch durations, the\n"
    "error groups with their files, restarts, and CPU and memory use, from the files prs\n"
    "already wrote under OUT/logs/. Works for any job: finished, running or resumable.\n"
    "`prs run` writes it at the end of every run.\n"
    "exit code: 0; 2 for bad usage or when OUT holds no job logs; 70 if it cannot be written\n";

static int cmd_report(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "--help")) {
        fputs(usage_report, stdout);
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "prs report: expected one argument, OUT\n\n%s", usage_report);
        return PRS_EXIT_USAGE;
    }
    char err[PATH_MAX + 256];
    int rc = prs_htmlreport_write(argv[1], 0, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "prs report: %s\n", err);
        return rc == -ENOENT ? PRS_EXIT_USAGE : PRS_EXIT_INTERNAL;
    }
    printf("%s/logs/report.html\n", argv[1]);
    return 0;
}

static const char usage_status[] =
    "usage: prs status OUT [--json] [--batches]\n"
    "\n"
    "Shows the job in OUT without touching it (safe while it runs): running, finished or\n"
    "resumable; committed counts; the result; the first error; each worker's current\n"
    "mini-batch (attempt, items, for how long); the failed mini-batches with their\n"
    "attempts (the first 100; --batches lists every mini-batch).\n"
    "  --json      one JSON object instead of text\n"
    "  --batches   list every mini-batch with its state and attempts\n"
    "exit code: 0; 2 for bad usage or when OUT holds no job; 70 if the state is unreadable\n";

static int cmd_status(int argc, char **argv) {
    prs_status_options opt = {.failed_limit = 100};
    const char *out_dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            opt.json = true;
        } else if (!strcmp(argv[i], "--batches")) {
            opt.all_batches = true;
        } else if (!strcmp(argv[i], "--help")) {
            fputs(usage_status, stdout);
            return 0;
        } else if (argv[i][0] == '-' || out_dir) {
            fprintf(stderr, "prs status: %s: unexpected argument\n\n%s", argv[i], usage_status);
            return PRS_EXIT_USAGE;
        } else {
            out_dir = argv[i];
        }
    }
    if (!out_dir) {
        fprintf(stderr, "prs status: OUT is required\n\n%s", usage_status);
        return PRS_EXIT_USAGE;
    }
    int code = prs_shard_cli_status(out_dir, opt.json || opt.all_batches);
    if (code >= 0) return code;
    char err[PATH_MAX + 256];
    int rc = prs_status_print(out_dir, &opt, stdout, err, sizeof(err));
    if (rc == 0) return 0;
    fprintf(stderr, "prs status: %s\n", err);
    return rc == -ENOENT ? PRS_EXIT_USAGE : PRS_EXIT_INTERNAL;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs(usage_main, stderr);
        return PRS_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "run")) return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "status")) return cmd_status(argc - 1, argv + 1);
    if (!strcmp(cmd, "merge")) return prs_shard_cli_merge(argc - 1, argv + 1);
    if (!strcmp(cmd, "submit")) return prs_submit_cli(argc - 1, argv + 1);
    if (!strcmp(cmd, "report")) return cmd_report(argc - 1, argv + 1);
    if (!strcmp(cmd, "why")) return prs_cmd_why(argc - 1, argv + 1);
    if (!strcmp(cmd, "try")) return prs_cmd_try(argc - 1, argv + 1);
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        fputs(usage_main, stdout);
        return 0;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("prs %s\n", prs_version());
        return 0;
    }
    fprintf(stderr, "prs: unknown command '%s'\n\n%s", cmd, usage_main);
    return PRS_EXIT_USAGE;
}
