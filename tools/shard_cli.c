/* shard_cli.c -- see shard_cli.h. */
#include "shard_cli.h"

#include "htmlreport.h"
#include "shard.h"
#include "shards.h"

#include <dirent.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int mkdir_one(const char *path) {
    return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -errno;
}

/* The N of any OUT/shards/K-of-N other than n (0: none), its name in other. */
static uint32_t other_split(const char *out, uint32_t n, char *other, size_t size) {
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/shards", out);
    DIR *d = opendir(path);
    if (!d) return 0;
    struct dirent *e;
    uint32_t found = 0;
    while (!found && (e = readdir(d))) {
        prs_shard s;
        if (prs_shard_dir_parse(e->d_name, &s) == 0 && s.count != n) {
            found = s.count;
            snprintf(other, size, "%.64s", e->d_name);
        }
    }
    closedir(d);
    return found;
}

int prs_shard_cli_run_output(const char *text, prs_job_config *c, char *dir, size_t dir_size) {
    char path[PATH_MAX + 16], other[80];
    const char *out = c->output_dir;
    if (!out) return 0; /* the caller says --output is required */
    snprintf(path, sizeof(path), "%s/shards", out);
    struct stat st;
    if (!text) {
        if (stat(path, &st) != 0) return 0;
        fprintf(stderr,
                "prs run: --output %s holds a sharded job (%s): run its shards with --shard "
                "K/N, or use another --output\n",
                out, path);
        return PRS_EXIT_USAGE;
    }
    prs_shard s;
    char err[256];
    if (prs_shard_parse(text, getenv("SLURM_ARRAY_TASK_ID"), getenv("JOB_COMPLETION_INDEX"), &s,
                        err, sizeof(err))) {
        fprintf(stderr, "prs run: --shard %s (see prs run --help)\n", err);
        return PRS_EXIT_USAGE;
    }
    snprintf(path, sizeof(path), "%s/.prs", out);
    if (stat(path, &st) == 0) {
        fprintf(stderr,
                "prs run: --shard %s: --output %s holds a single-machine job (%s): a sharded "
                "job needs an output directory of its own\n",
                text, out, path);
        return PRS_EXIT_USAGE;
    }
    uint32_t m = other_split(out, s.count, other, sizeof(other));
    if (m) {
        fprintf(stderr,
                "prs run: --shard %u/%u: --output %s already holds shards of a split into %u "
                "(shards/%s): the shard count is part of the job; use another --output, or "
                "remove %s/shards to start over\n",
                s.index, s.count, out, m, other, out);
        return PRS_EXIT_USAGE;
    }
    int n = snprintf(dir, dir_size, "%s/shards/%u-of-%u", out, s.index, s.count);
    if (n < 0 || (size_t)n >= dir_size) {
        fprintf(stderr, "prs run: --output %s: path too long\n", out);
        return PRS_EXIT_USAGE;
    }
    snprintf(path, sizeof(path), "%s/shards", out);
    int rc = mkdir_one(out);
    if (rc == 0) rc = mkdir_one(path);
    if (rc) {
        fprintf(stderr, "prs run: --output %s: cannot create %s: %s\n", out, path, strerror(-rc));
        return PRS_EXIT_USAGE;
    }
    c->shard_index = s.index;
    c->shard_count = s.count;
    c->output_dir = dir;
    return 0;
}

static int open_shards(const char *cmd, const char *out, prs_shards **s) {
    char err[PATH_MAX + 512];
    int rc = prs_shards_open(s, out, err, sizeof(err));
    if (rc == 0) return 0;
    fprintf(stderr, "prs %s: %s\n", cmd, err);
    return rc == -ENOENT || rc == -EINVAL ? PRS_EXIT_USAGE : PRS_EXIT_INTERNAL;
}

int prs_shard_cli_status(const char *out_dir, bool detail) {
    char path[PATH_MAX + 16];
    struct stat st;
    snprintf(path, sizeof(path), "%s/shards", out_dir);
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return -1;
    if (detail) {
        fprintf(stderr,
                "prs status: %s is a sharded job: --json and --batches show one shard: prs "
                "status %s/shards/K-of-N --json\n",
                out_dir, out_dir);
        return PRS_EXIT_USAGE;
    }
    prs_shards *s;
    int code = open_shards("status", out_dir, &s);
    if (code) return code;
    prs_shards_print(s, stdout);
    prs_shards_close(s);
    return 0;
}

static const char usage_merge[] =
    "usage: prs merge OUT\n"
    "\n"
    "Assembles a job run as N shards (prs run --shard K/N --output OUT, or prs submit) once\n"
    "every shard has finished: OUT/parallel_run_step.txt (shard 0's rows, then shard 1's,\n"
    "...), OUT/logs/overview.txt (the counts of every item, once) and OUT/logs/user/error.txt\n"
    "(every shard's errors, grouped by message). The thresholds (--error-threshold,\n"
    "--allowed-failed-count, --allowed-failed-percent) apply to the whole job. Running it\n"
    "again gives the same bytes. It never changes OUT/shards/.\n"
    "exit code: the single-machine job's: 0 succeeded, 1 a threshold was exceeded; 5 a shard\n"
    "is missing, running, resumable or failed (the message names them: nothing is written);\n"
    "2 bad usage, or the shards hold different jobs; 70 a file cannot be read or written\n";

int prs_shard_cli_merge(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "--help")) {
        fputs(usage_merge, stdout);
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "prs merge: OUT is required (one argument)\n\n%s", usage_merge);
        return PRS_EXIT_USAGE;
    }
    prs_shards *s;
    int code = open_shards("merge", argv[1], &s);
    if (code) return code;
    char msg[8192];
    code = prs_shards_merge(s, msg, sizeof(msg));
    fprintf(stderr, "prs merge: %s\n", msg);
    if (code == PRS_EXIT_OK || code == PRS_EXIT_THRESHOLD) {
        fprintf(stderr, "prs merge: logs:    %s/logs/overview.txt\n", argv[1]);
        char err[PATH_MAX + 256];
        if (prs_htmlreport_write(argv[1], 0, err, sizeof(err)) != 0)
            fprintf(stderr, "prs merge: report not written: %s\n", err);
    }
    prs_shards_close(s);
    return code;
}
