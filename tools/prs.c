/* prs.c -- the command line: a thin layer over prs_job_run (core/prs.h).
 * Parses options with getopt_long (libc's, well kept), validates values with units.h,
 * and maps everything to a prs_job_config. All behaviour lives in the library. */
#include "joblog.h"
#include "prs.h"
#include "records.h"
#include "side.h"
#include "status.h"
#include "units.h"

#include <getopt.h>
#include <limits.h>
#include <string.h>

#define PRS_VERSION "0.1.0"

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

static const char usage_run[] =
    "usage: prs run --entry-script S.so|S.py --input DIR|@LIST --output OUT [options] [-- ARGS]\n"
    "\n"
    "Splits the files under DIR (recursively, in sorted order), or listed in LIST (one path\n"
    "a line, or NUL-separated), into mini-batches and runs S.so's prs_run on each. ARGS\n"
    "after -- reach prs_init(ctx, argc, argv) with argv[0] = S.so.\n"
    "\n"
    "required:\n"
    "  --entry-script PATH        the entry script: a shared object exporting prs_run, or a\n"
    "                             Python script (*.py) defining run(mini_batch)\n"
    "  --input DIR|@LIST          the dataset\n"
    "  --output OUT               output directory: results, logs/ and the job state (.prs/)\n"
    "\n"
    "ParallelRunConfig options (same names, same defaults):\n"
    "  --mini-batch-size N        files per mini-batch (default 10); tabular formats: bytes\n"
    "                             per mini-batch with units: 1024, 64KB, 1MB (default), 1GB\n"
    "  --workers N                worker threads (default: CPUs in the affinity mask and the\n"
    "                             cgroup quota); more than CPUs is allowed: placed round-robin\n"
    "  --output-action A          append_row (default): every emitted row becomes a line of\n"
    "                             the output file; summary_only: rows are only counted\n"
    "  --append-row-file-name F   output file name in OUT (default parallel_run_step.txt)\n"
    "  --error-threshold N        failed items tolerated over the job; -1 ignores (default -1)\n"
    "  --allowed-failed-count N   failed mini-batches tolerated; -1 ignores (default -1)\n"
    "  --allowed-failed-percent P failed mini-batches tolerated, percent 0..100 (default 100)\n"
    "  --run-max-try N            tries of a failing mini-batch (default 3, at least 1)\n"
    "  --run-invocation-timeout S seconds one prs_run may take (default 60; 0: no limit).\n"
    "                             Past it prs_cancelled() turns true; a run() that still\n"
    "                             does not return within a grace period (a quarter of the\n"
    "                             timeout, 0.5..10 s) spends that try and the runtime is\n"
    "                             restarted; other batches lose nothing\n"
    "  --logging-level L          DEBUG, INFO (default), WARNING, ERROR, CRITICAL\n"
    "  --log-policy wait|drop     log ring full: wait (default) or drop and count\n"
    "  --perf-interval S          seconds between logs/sys/perf samples (default 10)\n"
    "\n"
    "prs options:\n"
    "  --durability full|none     full (default): output and queue synced at every commit;\n"
    "                             none: no syncs (a process crash loses nothing, a power cut\n"
    "                             may lose the last seconds of progress, never consistency)\n"
    "  --input-format F           files (default: one item per file), or csv, tsv, jsonl,\n"
    "                             lines: --input is one file, a directory or @LIST of such\n"
    "                             files; one item per record, named FILE:LINE; mini-batches\n"
    "                             are cut on record boundaries; a CSV/TSV header row is\n"
    "                             handed to every batch (batch->header); a malformed record\n"
    "                             (unterminated quote, a JSON line that is not an object) is\n"
    "                             a failed item\n"
    "  --io auto|uring|sync       how input files are read: io_uring, or pread/mmap; auto\n"
    "                             (default; PRS_IO in the environment changes it) probes\n"
    "                             io_uring; logs/sys/master.txt says which path runs, and why\n"
    "  --quiet                    no progress lines on stderr\n"
    "  --fresh                    discard the job state in OUT (and its output file) and\n"
    "                             start over; without it, OUT holding a different job is\n"
    "                             refused with what differs\n"
    "\n"
    "Python entry scripts (--entry-script S.py; ParallelRunStep's init/run/shutdown):\n"
    "  --python PATH              the interpreter (default /usr/bin/python3; a virtualenv's\n"
    "                             bin/python works). Each worker runs the script in its own\n"
    "                             process, pinned to the worker's CPU; run() gets a list of\n"
    "                             absolute paths (files) or a pandas DataFrame (tabular) and\n"
    "                             returns a list (one row per element) or a DataFrame\n"
    "  --row-format F             a DataFrame's rows: space (default: space-separated, as\n"
    "                             ParallelRunStep), csv, tsv or jsonl\n"
    "  --append-row-dataframe-header  write the DataFrame header once, as the first line\n"
    "\n"
    "side inputs, tables and environment (each may be repeated, up to 64 times):\n"
    "  --side-input NAME=PATH     a file or directory for the script: prs_side_path(ctx,\n"
    "                             \"NAME\") gives its absolute path, and an argument after --\n"
    "                             equal to NAME is replaced by that path\n"
    "  --side-table NAME=FILE[,key=COLUMN][,format=csv|tsv|jsonl]\n"
    "                             a lookup table loaded once into OUT/.prs/side (LMDB) and\n"
    "                             read zero-copy by every worker: prs_side_get(ctx, \"NAME\",\n"
    "                             key, len, &row, &row_len). key: a header column (jsonl: a\n"
    "                             field), default the first; format default by extension\n"
    "                             (.tsv/.tab, .jsonl/.ndjson, else csv). Duplicate keys: the\n"
    "                             first row wins (counted in logs/sys/master.txt); empty keys\n"
    "                             are skipped (counted); a missing key column is an error.\n"
    "                             A resumed job reuses the load; if FILE's content changed it\n"
    "                             is refused (exit 2): restore it, or --fresh\n"
    "  --env K=V                  set in the environment before the entry script is loaded\n"
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

enum {
    OPT_ENTRY = 1000,
    OPT_INPUT,
    OPT_OUTPUT,
    OPT_MBS,
    OPT_WORKERS,
    OPT_ACTION,
    OPT_FILE,
    OPT_ERRTH,
    OPT_FCOUNT,
    OPT_FPCT,
    OPT_MAXTRY,
    OPT_LEVEL,
    OPT_DURABILITY,
    OPT_QUIET,
    OPT_HELP,
    OPT_TIMEOUT,
    OPT_FRESH,
    OPT_LOG_POLICY,
    OPT_PERF,
    OPT_SIDE_INPUT,
    OPT_SIDE_TABLE,
    OPT_ENV,
    OPT_FORMAT,
    OPT_IO,
    OPT_PYTHON,
    OPT_ROW_FORMAT,
    OPT_DF_HEADER,
};

static int bad(const char *opt, const char *value, const char *why) {
    fprintf(stderr, "prs run: %s %s: %s (see prs run --help)\n", opt, value ? value : "", why);
    return PRS_EXIT_USAGE;
}

/* Appends a repeatable option's value; bounded like the library's limits. */
static int add_value(const char *opt, const char *value, const char **list, uint32_t *count) {
    if (*count >= PRS_SIDE_MAX) return bad(opt, value, "given too many times (at most 64)");
    list[(*count)++] = value;
    return 0;
}

/* A message that already names the option and its value. */
static int bad_msg(const char *msg) {
    fprintf(stderr, "prs run: %s (see prs run --help)\n", msg);
    return PRS_EXIT_USAGE;
}

static int parse_int(const char *opt, const char *text, int64_t min, int64_t max, int64_t *v) {
    int rc = prs_units_parse_int(text, min, max, v);
    if (rc == -EINVAL) return bad(opt, text, "not a whole number");
    if (rc) {
        char why[96];
        snprintf(why, sizeof(why), "out of range %lld..%lld", (long long)min, (long long)max);
        return bad(opt, text, why);
    }
    return 0;
}

static int cmd_run(int argc, char **argv) {
    static const struct option opts[] = {
        {"entry-script", required_argument, NULL, OPT_ENTRY},
        {"input", required_argument, NULL, OPT_INPUT},
        {"output", required_argument, NULL, OPT_OUTPUT},
        {"mini-batch-size", required_argument, NULL, OPT_MBS},
        {"workers", required_argument, NULL, OPT_WORKERS},
        {"output-action", required_argument, NULL, OPT_ACTION},
        {"append-row-file-name", required_argument, NULL, OPT_FILE},
        {"error-threshold", required_argument, NULL, OPT_ERRTH},
        {"allowed-failed-count", required_argument, NULL, OPT_FCOUNT},
        {"allowed-failed-percent", required_argument, NULL, OPT_FPCT},
        {"run-max-try", required_argument, NULL, OPT_MAXTRY},
        {"run-invocation-timeout", required_argument, NULL, OPT_TIMEOUT},
        {"logging-level", required_argument, NULL, OPT_LEVEL},
        {"log-policy", required_argument, NULL, OPT_LOG_POLICY},
        {"perf-interval", required_argument, NULL, OPT_PERF},
        {"durability", required_argument, NULL, OPT_DURABILITY},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"fresh", no_argument, NULL, OPT_FRESH},
        {"side-input", required_argument, NULL, OPT_SIDE_INPUT},
        {"side-table", required_argument, NULL, OPT_SIDE_TABLE},
        {"env", required_argument, NULL, OPT_ENV},
        {"input-format", required_argument, NULL, OPT_FORMAT},
        {"io", required_argument, NULL, OPT_IO},
        {"python", required_argument, NULL, OPT_PYTHON},
        {"row-format", required_argument, NULL, OPT_ROW_FORMAT},
        {"append-row-dataframe-header", no_argument, NULL, OPT_DF_HEADER},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    prs_job_config c;
    prs_job_config_defaults(&c);
    static const char *side_inputs[PRS_SIDE_MAX], *side_tables[PRS_SIDE_MAX], *envs[PRS_SIDE_MAX];
    c.side_inputs = side_inputs;
    c.side_tables = side_tables;
    c.env = envs;
    char why[PATH_MAX + 256];
    int64_t v;
    int rc, opt;
    const char *mbs = NULL;
    enum prs_format format = PRS_FORMAT_FILES;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
        const char *name = argv[optind - 1];
        switch (opt) {
        case OPT_ENTRY:
            c.entry_script = optarg;
            break;
        case OPT_INPUT:
            c.input = optarg;
            break;
        case OPT_OUTPUT:
            c.output_dir = optarg;
            break;
        case OPT_MBS:
            mbs = optarg;
            break; /* its unit depends on --input-format */
        case OPT_WORKERS:
            if ((rc = parse_int("--workers", optarg, 1, PRS_MAX_WORKERS, &v))) return rc;
            c.workers = (uint32_t)v;
            break;
        case OPT_ACTION:
            if (!strcmp(optarg, "append_row"))
                c.output_action = PRS_OUTPUT_APPEND_ROW;
            else if (!strcmp(optarg, "summary_only"))
                c.output_action = PRS_OUTPUT_SUMMARY_ONLY;
            else
                return bad("--output-action", optarg, "must be append_row or summary_only");
            break;
        case OPT_FILE:
            c.append_row_file_name = optarg;
            break;
        case OPT_ERRTH:
            if ((rc = parse_int("--error-threshold", optarg, -1, INT64_MAX / 4, &v))) return rc;
            c.error_threshold = v;
            break;
        case OPT_FCOUNT:
            if ((rc = parse_int("--allowed-failed-count", optarg, -1, INT64_MAX / 4, &v)))
                return rc;
            c.allowed_failed_count = v;
            break;
        case OPT_FPCT:
            if ((rc = parse_int("--allowed-failed-percent", optarg, 0, 100, &v))) return rc;
            c.allowed_failed_percent = (uint32_t)v;
            break;
        case OPT_MAXTRY:
            if ((rc = parse_int("--run-max-try", optarg, 1, 100, &v))) return rc;
            c.run_max_try = (uint32_t)v;
            break;
        case OPT_TIMEOUT:
            if ((rc = parse_int("--run-invocation-timeout", optarg, 0, 30 * 86400, &v))) return rc;
            c.run_invocation_timeout_ms = (uint64_t)v * 1000u;
            break;
        case OPT_LEVEL:
            if (prs_log_level_parse(optarg, &c.logging_level))
                return bad("--logging-level", optarg,
                           "must be DEBUG, INFO, WARNING, ERROR or CRITICAL");
            break;
        case OPT_DURABILITY:
            if (!strcmp(optarg, "full"))
                c.durable = true;
            else if (!strcmp(optarg, "none"))
                c.durable = false;
            else
                return bad("--durability", optarg, "must be full or none");
            break;
        case OPT_QUIET:
            c.quiet = true;
            break;
        case OPT_FRESH:
            c.fresh = true;
            break;
        case OPT_FORMAT:
            if (prs_format_parse(optarg, &format))
                return bad("--input-format", optarg, "must be files, csv, tsv, jsonl or lines");
            c.input_format = (uint32_t)format;
            break;
        case OPT_IO:
            if (!strcmp(optarg, "auto"))
                c.io_mode = 0;
            else if (!strcmp(optarg, "uring"))
                c.io_mode = 1;
            else if (!strcmp(optarg, "sync"))
                c.io_mode = 2;
            else
                return bad("--io", optarg, "must be auto, uring or sync");
            break;
        case OPT_PYTHON:
            c.python = optarg;
            break;
        case OPT_ROW_FORMAT: {
            static const char *formats[] = {"space", "csv", "tsv", "jsonl"};
            uint32_t f = 0;
            while (f < 4 && strcmp(optarg, formats[f]) != 0)
                f++;
            if (f == 4) return bad("--row-format", optarg, "must be space, csv, tsv or jsonl");
            c.row_format = f;
            break;
        }
        case OPT_DF_HEADER:
            c.append_row_dataframe_header = true;
            break;
        case OPT_PERF:
            if ((rc = parse_int("--perf-interval", optarg, 1, 86400, &v))) return rc;
            c.perf_interval_s = (uint32_t)v;
            break;
        case OPT_LOG_POLICY:
            if (strcmp(optarg, "wait") == 0)
                c.log_policy = 0;
            else if (strcmp(optarg, "drop") == 0)
                c.log_policy = 1;
            else
                return bad("--log-policy", optarg, "must be wait or drop");
            break;
        case OPT_SIDE_INPUT: {
            prs_side_input in;
            if (prs_side_parse_input(optarg, &in, why, sizeof(why))) return bad_msg(why);
            if ((rc = add_value("--side-input", optarg, side_inputs, &c.side_input_count)))
                return rc;
            break;
        }
        case OPT_SIDE_TABLE: {
            prs_side_table t;
            if (prs_side_parse_table(optarg, &t, why, sizeof(why))) return bad_msg(why);
            if ((rc = add_value("--side-table", optarg, side_tables, &c.side_table_count)))
                return rc;
            break;
        }
        case OPT_ENV:
            if (prs_side_parse_env(optarg, why, sizeof(why))) return bad_msg(why);
            if ((rc = add_value("--env", optarg, envs, &c.env_count))) return rc;
            break;
        case OPT_HELP:
            fputs(usage_run, stdout);
            return 0;
        case ':':
            return bad(name, NULL, "needs a value");
        default:
            return bad(name, NULL, "unknown option");
        }
    }
    if (optind < argc && strcmp(argv[optind - 1], "--") != 0) {
        return bad(argv[optind], NULL, "unexpected argument (arguments for init go after --)");
    }
    if (mbs && format == PRS_FORMAT_FILES) {
        uint64_t n;
        rc = prs_units_parse_size(mbs, &n);
        if (rc == 0 && n != (uint64_t)atoll(mbs))
            return bad("--mini-batch-size", mbs, "a file dataset counts files: give a number");
        if (rc) return bad("--mini-batch-size", mbs, "not a number of files");
        if (n < 1) return bad("--mini-batch-size", mbs, "must be at least 1");
        if (n > 1000000) return bad("--mini-batch-size", mbs, "at most 1000000 files");
        c.mini_batch_size = (uint32_t)n;
    } else if (mbs) {
        uint64_t n;
        if (prs_units_parse_size(mbs, &n))
            return bad("--mini-batch-size", mbs, "not a size in bytes (1024, 64KB, 1MB, 1GB)");
        if (n < 1) return bad("--mini-batch-size", mbs, "must be at least 1 byte");
        c.mini_batch_bytes = n;
    }
    if (!c.entry_script) return bad("--entry-script", NULL, "is required");
    if (!c.input) return bad("--input", NULL, "is required");
    if (!c.output_dir) return bad("--output", NULL, "is required");
    /* argv for init: the script, then everything after "--". */
    int n = argc - optind;
    char **init_argv = calloc((size_t)n + 2, sizeof(char *));
    if (!init_argv) return PRS_EXIT_INTERNAL;
    init_argv[0] = (char *)(uintptr_t)c.entry_script;
    for (int i = 0; i < n; i++)
        init_argv[i + 1] = argv[optind + i];
    c.argc = n + 1;
    c.argv = init_argv;
    prs_job_report report;
    int code = prs_supervise(&c, &report);
    fprintf(stderr, "prs: %s\n", report.message);
    if (c.output_action == PRS_OUTPUT_APPEND_ROW && report.total_batches) {
        fprintf(stderr, "prs: results: %s/%s\n", c.output_dir, c.append_row_file_name);
    }
    if (report.total_batches) fprintf(stderr, "prs: logs:    %s/logs/overview.txt\n", c.output_dir);
    free(init_argv);
    return code;
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
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        fputs(usage_main, stdout);
        return 0;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        puts("prs " PRS_VERSION);
        return 0;
    }
    fprintf(stderr, "prs: unknown command '%s'\n\n%s", cmd, usage_main);
    return PRS_EXIT_USAGE;
}
