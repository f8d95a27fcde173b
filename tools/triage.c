/* triage.c -- see triage.h. */
#include "triage.h"

#include "prs.h"
#include "why.h"

#include "fs.h"
#include "joblog.h"
#include "records.h"
#include "scan.h"
#include "symbolize.h"
#include "units.h"

#include <errno.h>
#include <ftw.h>
#include <glob.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage_why[] =
    "usage: prs why OUT ITEM|BATCH-ID\n"
    "\n"
    "The story of one item or mini-batch of the job in OUT, on one screen: the mini-batch\n"
    "it is in, every try (worker, start, duration, outcome), the error of each try, the\n"
    "crash stack with function, file and line when it crashed, the user-log lines of those\n"
    "tries, and what to open or run next. Safe while the job runs (it only reads).\n"
    "  ITEM       an item's name as logs/user/error.txt shows it (a path relative to the\n"
    "             input, or FILE:LINE for tabular inputs)\n"
    "  BATCH-ID   a mini-batch id (digits)\n"
    "exit code: 0; 2 for bad usage, or no such job, item or mini-batch; 70 if the state is\n"
    "unreadable\n";

int prs_cmd_why(int argc, char **argv) {
    const char *args[2] = {NULL, NULL};
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) {
            fputs(usage_why, stdout);
            return 0;
        }
        if (n == 2) {
            fprintf(stderr, "prs why: %s: unexpected argument\n\n%s", argv[i], usage_why);
            return PRS_EXIT_USAGE;
        }
        args[n++] = argv[i];
    }
    if (n < 2) {
        fprintf(stderr, "prs why: %s is required\n\n%s", n ? "ITEM or BATCH-ID" : "OUT", usage_why);
        return PRS_EXIT_USAGE;
    }
    char err[PATH_MAX + 512];
    int rc = prs_why_print(args[0], args[1], stdout, err, sizeof(err));
    if (rc == 0) return 0;
    fprintf(stderr, "prs why: %s\n", err);
    return rc == -ENOENT ? PRS_EXIT_USAGE : PRS_EXIT_INTERNAL;
}

/* ---- prs try ------------------------------------------------------------------------------- */

static const char usage_try[] =
    "usage: prs try --entry-script S --input DIR|@LIST|FILE [--input-format F]\n"
    "               [--mini-batch-size N] [--batch N | --item NAME] [--gdb | --valgrind]\n"
    "               [options] [-- ARGS]\n"
    "\n"
    "Tests an entry script locally: runs its init() and one mini-batch of the job these\n"
    "options make (the first, --batch N, or the one holding --item NAME) in the foreground,\n"
    "in one worker, with the same item names, arguments, side inputs and logger as the real\n"
    "job. The rows it would write go to stdout, its log lines, errors and a crash's stack\n"
    "(function, file:line) to stderr. Nothing is committed: the job runs in a scratch\n"
    "directory that is removed afterwards; no OUT is read or written.\n"
    "  --batch N                  the mini-batch by id (0 is the first)\n"
    "  --item NAME                the mini-batch holding this item (as error.txt names it)\n"
    "  --gdb                      run it under gdb (stops where it faults)\n"
    "  --valgrind                 run it under valgrind (memcheck)\n"
    "  --input-format F           files (default), csv, tsv, jsonl or lines: as prs run; a\n"
    "                             tabular input is cut by the job's own code, its items are\n"
    "                             named FILE:LINE, every batch gets the header\n"
    "  --mini-batch-size N        as prs run: files (default 10), or bytes for a tabular\n"
    "                             input (1024, 64KB, 1MB; default 1MB)\n"
    "  --partition-keys COLS      as prs run (pick the mini-batch by --batch)\n"
    "  --side-input, --side-table, --env, --logging-level, --run-invocation-timeout: as prs run\n"
    "exit code: 0 the batch succeeded, every item with a row; 1 it failed, crashed or some\n"
    "items failed; 2 bad usage; 3 the input cannot be read; 4 init() failed\n";

#define TRY_MAX_VALUES 64u

typedef struct try_opts {
    prs_job_config c;
    const char *mbs; /* --mini-batch-size as given: its unit depends on --input-format */
    const char *side_inputs[TRY_MAX_VALUES], *side_tables[TRY_MAX_VALUES], *envs[TRY_MAX_VALUES];
    long long batch; /* -1: by item, or the first */
    const char *item;
    const char *wrap; /* "gdb", "valgrind" or NULL */
    int rest;         /* argv index of the first init argument (after --), or argc */
} try_opts;

static int try_bad(const char *what, const char *why) {
    fprintf(stderr, "prs try: %s: %s (see prs try --help)\n", what, why);
    return PRS_EXIT_USAGE;
}

static int try_value(const char *opt, const char *v, const char **list, uint32_t *n) {
    if (*n >= TRY_MAX_VALUES) return try_bad(opt, "given too many times");
    list[(*n)++] = v;
    return 0;
}

/* One option with its value; 0, or the exit code of a usage error. */
static int try_option(try_opts *o, const char *opt, const char *v) {
    char *end;
    if (!strcmp(opt, "--entry-script")) {
        o->c.entry_script = v;
    } else if (!strcmp(opt, "--input")) {
        o->c.input = v;
    } else if (!strcmp(opt, "--mini-batch-size")) {
        o->mbs = v;
    } else if (!strcmp(opt, "--batch")) {
        o->batch = strtoll(v, &end, 10);
        if (*end || !*v || o->batch < 0) return try_bad(opt, "a mini-batch id (0, 1, ...)");
    } else if (!strcmp(opt, "--item")) {
        o->item = v;
    } else if (!strcmp(opt, "--logging-level")) {
        if (prs_log_level_parse(v, &o->c.logging_level))
            return try_bad(opt, "DEBUG, INFO, WARNING, ERROR or CRITICAL");
    } else if (!strcmp(opt, "--run-invocation-timeout")) {
        unsigned long s = strtoul(v, &end, 10);
        if (*end || !*v) return try_bad(opt, "seconds");
        o->c.run_invocation_timeout_ms = (uint64_t)s * 1000u;
    } else if (!strcmp(opt, "--side-input")) {
        return try_value(opt, v, o->side_inputs, &o->c.side_input_count);
    } else if (!strcmp(opt, "--side-table")) {
        return try_value(opt, v, o->side_tables, &o->c.side_table_count);
    } else if (!strcmp(opt, "--env")) {
        return try_value(opt, v, o->envs, &o->c.env_count);
    } else if (!strcmp(opt, "--input-format")) {
        enum prs_format f;
        if (prs_format_parse(v, &f)) return try_bad(opt, "files, csv, tsv, jsonl or lines");
        o->c.input_format = (uint32_t)f;
    } else if (!strcmp(opt, "--partition-keys")) {
        o->c.partition_keys = v;
    } else {
        return try_bad(opt, "unknown option");
    }
    return 0;
}

/* --mini-batch-size in its format's unit (as prs run reads it); 0 or a usage exit code. */
static int try_mbs(try_opts *o) {
    if (!o->mbs) return 0;
    char *end;
    if (o->c.input_format == PRS_FORMAT_FILES) {
        unsigned long n = strtoul(o->mbs, &end, 10);
        if (*end || n < 1 || n > 1000000)
            return try_bad("--mini-batch-size", "a number of files, 1..1000000");
        o->c.mini_batch_size = (uint32_t)n;
        return 0;
    }
    uint64_t n = 0;
    if (prs_units_parse_size(o->mbs, &n) || n < 1)
        return try_bad("--mini-batch-size",
                       "a size in bytes for a tabular input (1024, 64KB, 1MB)");
    o->c.mini_batch_bytes = n;
    return 0;
}

static int try_parse(try_opts *o, int argc, char **argv) {
    prs_job_config_defaults(&o->c);
    o->c.side_inputs = o->side_inputs;
    o->c.side_tables = o->side_tables;
    o->c.env = o->envs;
    o->batch = -1;
    o->rest = argc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            o->rest = i + 1;
            break;
        }
        if (!strcmp(a, "--help")) {
            fputs(usage_try, stdout);
            return -1;
        }
        if (!strcmp(a, "--gdb") || !strcmp(a, "--valgrind")) {
            o->wrap = a + 2;
            continue;
        }
        if (i + 1 >= argc) return try_bad(a, "needs a value");
        int rc = try_option(o, a, argv[++i]);
        if (rc) return rc;
    }
    if (!o->c.entry_script) return try_bad("--entry-script", "is required");
    if (!o->c.input) return try_bad("--input", "is required");
    if (o->item && o->batch >= 0) return try_bad("--item", "give --batch or --item, not both");
    if (o->c.partition_keys && o->c.input_format == PRS_FORMAT_FILES)
        return try_bad("--partition-keys", "needs --input-format csv, tsv or jsonl");
    return try_mbs(o);
}

/* Runs this same command under gdb or valgrind (without the wrapping option): the debugger
 * sees the script's fault before prs's crash handler does. Returns only on failure. */
static int try_wrap(const char *wrap, int argc, char **argv) {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) return try_bad("--gdb/--valgrind", "cannot find the prs binary");
    self[n] = 0;
    char **args = calloc((size_t)argc + 12, sizeof(char *));
    if (!args) return PRS_EXIT_INTERNAL;
    int k = 0;
    if (!strcmp(wrap, "gdb")) {
        const char *pre[] = {"gdb", "-q", "-ex", "run", "-ex", "bt", "--args"};
        for (size_t i = 0; i < PRS_ARRAY_LEN(pre); i++)
            args[k++] = (char *)(uintptr_t)pre[i];
    } else {
        args[k++] = (char *)(uintptr_t) "valgrind";
        args[k++] = (char *)(uintptr_t) "--error-exitcode=1";
    }
    args[k++] = self;
    args[k++] = (char *)(uintptr_t) "try";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--gdb") && strcmp(argv[i], "--valgrind")) args[k++] = argv[i];
    }
    setenv("PRS_TRY_NO_FORK", "1", 1); /* the debugger follows one process */
    execvp(args[0], args);
    fprintf(stderr, "prs try: %s: %s (install it: apt-get install %s)\n", args[0], strerror(errno),
            args[0]);
    free(args);
    return PRS_EXIT_USAGE;
}

/* The job's items in its order (what prs run would make of the same --input). */
typedef struct try_items {
    char **names;
    size_t len, cap;
} try_items;

static int try_collect(void *arg, const char *path, size_t len) {
    try_items *t = arg;
    if (t->len == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        char **n = realloc(t->names, cap * sizeof(*n));
        if (!n) return -ENOMEM;
        t->names = n;
        t->cap = cap;
    }
    t->names[t->len] = strndup(path, len);
    return t->names[t->len++] ? 0 : -ENOMEM;
}

static void try_items_free(try_items *t) {
    for (size_t i = 0; i < t->len; i++)
        free(t->names[i]);
    free(t->names);
}

/* The chosen batch's first item and count; 0 or an exit code. */
static int try_select(const try_opts *o, const try_items *t, size_t *first, size_t *count) {
    size_t mbs = o->c.mini_batch_size, batches = (t->len + mbs - 1) / mbs;
    size_t b = o->batch >= 0 ? (size_t)o->batch : 0;
    if (o->item) {
        size_t i = 0;
        while (i < t->len && strcmp(t->names[i], o->item) != 0)
            i++;
        if (i == t->len) return try_bad(o->item, "no such item in --input");
        b = i / mbs;
    }
    if (b >= batches) {
        char why[96];
        snprintf(why, sizeof(why), "no such mini-batch: this input makes 0..%zu",
                 batches ? batches - 1 : 0);
        return try_bad("--batch", why);
    }
    *first = b * mbs;
    *count = PRS_MIN(mbs, t->len - *first);
    return 0;
}

/* The scratch job's input: the chosen items under the same names (a directory of symlinks
 * to them, or a list of the same absolute paths). 0 or a negative errno. */
static int try_scratch_input(const try_opts *o, const try_items *t, size_t first, size_t count,
                             const char *scratch, char *input, size_t input_size) {
    if (o->c.input[0] == '@') {
        snprintf(input, input_size, "@%s/list", scratch);
        FILE *f = fopen(input + 1, "we");
        if (!f) return -errno;
        for (size_t i = first; i < first + count; i++)
            fprintf(f, "%s\n", t->names[i]);
        return fclose(f) == 0 ? 0 : -EIO;
    }
    char root[PATH_MAX];
    if (!realpath(o->c.input, root)) return -errno;
    snprintf(input, input_size, "%s/in", scratch);
    for (size_t i = first; i < first + count; i++) {
        char link[PATH_MAX * 2], target[PATH_MAX * 2];
        snprintf(link, sizeof(link), "%s/%s", input, t->names[i]);
        snprintf(target, sizeof(target), "%s/%s", root, t->names[i]);
        char *slash = strrchr(link, '/');
        *slash = 0;
        int rc = prs_mkdir_p(link);
        *slash = '/';
        if (rc) return rc;
        if (symlink(target, link) != 0) return -errno;
    }
    return 0;
}

/* Runs the scratch job: in a child (a crash ends the child, not the report), or here under
 * a debugger. Returns the job's exit code, or 128 + the signal it died of. */
static int try_job_here(const prs_job_config *c) {
    prs_job_report rep;
    int code = prs_job_run(c, &rep);
    /* A refused job (a pick that names no batch, an unreadable input, init failing) says
     * why; a batch's own failure is told by try_report. */
    if (code != 0 && code != PRS_EXIT_THRESHOLD) fprintf(stderr, "prs try: %s\n", rep.message);
    return code;
}

static int try_job(prs_job_config *c) {
    if (getenv("PRS_TRY_NO_FORK")) return try_job_here(c);
    fflush(NULL);
    pid_t child = fork();
    if (child < 0) return PRS_EXIT_INTERNAL;
    if (child == 0) _exit(try_job_here(c));
    int status = 0;
    while (waitpid(child, &status, 0) < 0) {
        if (errno != EINTR) return PRS_EXIT_INTERNAL;
    }
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

/* Copies the files matching pattern to f, each line prefixed, up to a line starting with
 * stop (bounded: 10000 lines in all). */
static void try_cat(const char *pattern, const char *prefix, const char *stop, FILE *f) {
    glob_t g;
    if (glob(pattern, 0, NULL, &g) != 0) return;
    char line[4200];
    unsigned n = 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        FILE *in = fopen(g.gl_pathv[i], "re");
        while (in && fgets(line, sizeof(line), in) && n < 10000) {
            if (stop && !strncmp(line, stop, strlen(stop))) break;
            fprintf(f, "%s%s", prefix, line);
            n++;
        }
        if (in) fclose(in);
    }
    globfree(&g);
}

/* Each error file as one line: "error: item I: message". */
static void try_errors(const char *pattern) {
    glob_t g;
    if (glob(pattern, 0, NULL, &g) != 0) return;
    char line[4200], item[1100] = "";
    for (size_t i = 0; i < g.gl_pathc && i < 10000; i++) {
        FILE *in = fopen(g.gl_pathv[i], "re");
        while (in && fgets(line, sizeof(line), in)) {
            line[strcspn(line, "\n")] = 0;
            if (!strncmp(line, "item: ", 6)) snprintf(item, sizeof(item), "%.1000s", line + 6);
            if (!strncmp(line, "message: ", 9))
                fprintf(stderr, "error: item %s: %s\n", item[0] ? item : "-", line + 9);
        }
        if (in) fclose(in);
    }
    globfree(&g);
}

/* What the scratch job left: log lines, errors and a crash's stack on stderr, rows on
 * stdout. */
static void try_report(const char *scratch, int code) {
    char p[PATH_MAX + 64];
    snprintf(p, sizeof(p), "%s/out/logs/user/*/*.log.txt", scratch);
    try_cat(p, "log: ", NULL, stderr);
    snprintf(p, sizeof(p), "%s/out/logs/user/error/*/error-*.txt", scratch);
    try_errors(p);
    snprintf(p, sizeof(p), "%s/out", scratch);
    prs_symbolize_job(p);
    snprintf(p, sizeof(p), "%s/out/logs/user/error/*/crash-*.txt", scratch);
    try_cat(p, "crash: ", "stack:", stderr);
    fflush(stderr);
    snprintf(p, sizeof(p), "%s/out/parallel_run_step.txt", scratch);
    try_cat(p, "", NULL, stdout);
    fflush(stdout);
    if (code > 128)
        fprintf(stderr, "prs try: the run died of signal %d (%s)\n", code - 128,
                strsignal(code - 128));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

/* Removes the scratch directory (bounded by what try made in it; no symlink followed). */
static void prs_rm_rf(const char *dir) {
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Failed items of the scratch job, from its overview (-1: unknown). */
static long long try_failed_items(const char *scratch) {
    char p[PATH_MAX + 64], line[512];
    snprintf(p, sizeof(p), "%s/out/logs/overview.txt", scratch);
    FILE *f = fopen(p, "re");
    long long failed = -1;
    unsigned long long total, ok;
    while (f && fgets(line, sizeof(line), f)) {
        if (sscanf(line, "items: total %llu, succeeded %llu, failed %lld", &total, &ok, &failed) ==
            3)
            break;
    }
    if (f) fclose(f);
    return failed;
}

/* A files job: the input scanned as prs run scans it, the chosen batch's items given to the
 * scratch job under the same names (o->c.input becomes that scratch input). 0 or an exit
 * code. */
static int try_files(try_opts *o, const char *scratch, char *input, size_t input_size) {
    try_items t = {0};
    char err[PATH_MAX + 256];
    int rc = o->c.input[0] == '@' ? prs_scan_list(o->c.input + 1, try_collect, &t, err, sizeof(err))
                                  : prs_scan_dir(o->c.input, try_collect, &t, err, sizeof(err));
    int code = 0;
    if (rc) {
        fprintf(stderr, "prs try: --input %s: %s\n", o->c.input, err[0] ? err : strerror(-rc));
        code = PRS_EXIT_INPUT;
        goto free_items;
    }
    size_t first = 0, count = 0;
    if ((code = try_select(o, &t, &first, &count))) goto free_items;
    rc = try_scratch_input(o, &t, first, count, scratch, input, input_size);
    if (rc) {
        fprintf(stderr, "prs try: %s: %s\n", scratch, strerror(-rc));
        code = PRS_EXIT_INTERNAL;
        goto free_items;
    }
    fprintf(stderr,
            "prs try: mini-batch %zu (%zu item%s: %s%s%s), one worker, init() then run(); "
            "nothing is committed\n",
            first / o->c.mini_batch_size, count, count == 1 ? "" : "s", t.names[first],
            count > 1 ? " .. " : "", count > 1 ? t.names[first + count - 1] : "");
    o->c.input = input;
    o->c.batch_id_base = first / o->c.mini_batch_size; /* the script sees the real id */
    o->c.mini_batch_size = (uint32_t)count;
free_items:
    try_items_free(&t);
    return code;
}

/* master.txt's "prs try: ..." lines (which batch creation kept) on the terminal. */
static void try_master_line(void *arg, int level, const char *line, size_t len) {
    (void)arg, (void)level;
    if (len > 9 && !strncmp(line, "prs try: ", 9)) fprintf(stderr, "%.*s\n", (int)len, line);
}

/* A tabular job: its input is cut by the job's own creation (the same batches, names and
 * header as prs run makes), which keeps only the chosen batch and numbers it as the job
 * does. */
static void try_tabular(try_opts *o) {
    o->c.pick_item = o->item;
    o->c.pick_batch = o->item ? 0 : (uint64_t)(o->batch >= 0 ? o->batch : 0) + 1;
    o->c.log_fn = try_master_line;
    fprintf(stderr,
            "prs try: %s input cut as prs run cuts it; one worker, init() then run() of "
            "one mini-batch; nothing is committed\n",
            prs_format_name((enum prs_format)o->c.input_format));
}

/* The scratch job: one worker, one try, nothing durable, this process's crash handlers. */
static int try_exec(try_opts *o, const char *scratch, int argc, char **argv) {
    char out[PATH_MAX + 8];
    snprintf(out, sizeof(out), "%s/out", scratch);
    o->c.output_dir = out;
    o->c.workers = 1;
    o->c.run_max_try = 1;
    o->c.quiet = true;
    o->c.durable = false;
    o->c.handlers = PRS_HANDLE_CRASHES; /* the crash file and its stack are the report */
    char **init_argv = calloc((size_t)(argc - o->rest) + 2, sizeof(char *));
    if (!init_argv) return PRS_EXIT_INTERNAL;
    init_argv[0] = (char *)(uintptr_t)o->c.entry_script; /* argv[0] for init: the script */
    for (int i = o->rest; i < argc; i++)
        init_argv[i - o->rest + 1] = argv[i];
    o->c.argc = argc - o->rest + 1;
    o->c.argv = init_argv;
    int code = try_job(&o->c);
    free(init_argv);
    if (code == PRS_EXIT_USAGE || code == PRS_EXIT_INPUT) return code; /* refused: said why */
    try_report(scratch, code);
    if (code == 0 && try_failed_items(scratch) != 0) code = PRS_EXIT_THRESHOLD;
    fprintf(stderr, "prs try: %s\n",
            code == 0    ? "the mini-batch succeeded: a row for every item"
            : code > 128 ? "the mini-batch crashed"
                         : "the mini-batch (or some of its items) failed; see the errors above");
    return code > 128 || code == PRS_EXIT_THRESHOLD ? PRS_EXIT_THRESHOLD : code;
}

/* Builds the scratch job of the chosen batch, runs it, reports; the exit code. */
static int try_run(try_opts *o, int argc, char **argv) {
    char scratch[PATH_MAX], input[PATH_MAX + 8];
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch, sizeof(scratch), "%s/prs-try-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(scratch)) {
        fprintf(stderr, "prs try: %s: %s\n", scratch, strerror(errno));
        return PRS_EXIT_INTERNAL;
    }
    int code = 0;
    if (o->c.input_format == PRS_FORMAT_FILES)
        code = try_files(o, scratch, input, sizeof(input));
    else
        try_tabular(o);
    if (code == 0) code = try_exec(o, scratch, argc, argv);
    prs_rm_rf(scratch);
    return code;
}

int prs_cmd_try(int argc, char **argv) {
    try_opts *o = calloc(1, sizeof(*o));
    if (!o) return PRS_EXIT_INTERNAL;
    int code = try_parse(o, argc, argv);
    if (code == -1) {
        code = 0; /* --help */
    } else if (code == 0 && o->wrap) {
        code = try_wrap(o->wrap, argc, argv);
    } else if (code == 0) {
        code = try_run(o, argc, argv);
    }
    free(o);
    return code;
}
