/* submit.c -- see submit.h. */
#include "submit.h"

#include "jobspec.h"
#include "prs.h"
#include "shards.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define SUBMIT_ARGS_MAX 64u            /* --sbatch-arg given at most this often */
#define SUBMIT_WAIT_TRIES 1200u        /* sbatch/scancel get this many steps */
#define SUBMIT_WAIT_STEP_NS 100000000L /* of 0.1 s (2 minutes), then they are killed */
#define SUBMIT_LIST_BYTES 65536u       /* an --array=1,5,... list */

static const char usage_submit[] =
    "usage: prs submit --slurm --shards N [--sbatch-arg ARG]... -- <prs run options>\n"
    "       prs submit --slurm --resume OUT [--sbatch-arg ARG]...\n"
    "\n"
    "Runs the job of <prs run options> as N shards on a Slurm cluster: writes\n"
    "OUT/slurm/shards.sbatch (a job array: task K runs prs run --shard K/N, its job in\n"
    "OUT/shards/K-of-N/) and OUT/slurm/merge.sbatch (prs merge OUT), submits the array, then\n"
    "the merge with --dependency=afterok on it, and prints their job ids. The scripts are\n"
    "plain, commented bash: edit and sbatch them by hand if you like. OUT, the input, the\n"
    "entry script and prs itself must be on a filesystem every node sees.\n"
    "  --slurm             the engine (the only one; a Kubernetes Indexed Job example is in\n"
    "                      tools/k8s/prs-indexed-job.yaml)\n"
    "  --shards N          shards, 1..10000 (Slurm's MaxArraySize limits it too); default:\n"
    "                      resources.instance_count of the run options' --config job.yml\n"
    "  --sbatch-arg ARG    one sbatch option for both jobs, e.g. --sbatch-arg=--partition=cpu\n"
    "                      (repeatable; written into the scripts as #SBATCH lines; with\n"
    "                      --resume, given to sbatch for the resubmitted jobs only)\n"
    "  --resume OUT        submit again only the shards that have not finished (each\n"
    "                      resumes from its own state) and a new merge job; the previous\n"
    "                      merge job, which can no longer start, is cancelled\n"
    "A shard that exceeds a threshold ends its task with exit 0: the verdict is the merge's\n"
    "(prs merge applies the thresholds to the whole job). Watch: squeue, prs status OUT.\n"
    "exit code: 0 submitted; 2 bad usage; 70 sbatch missing or failing (its message shown)\n";

static int usage(const char *what) {
    fprintf(stderr, "prs submit: %s (see prs submit --help)\n", what);
    return PRS_EXIT_USAGE;
}

/* The shell word for s: single-quoted, quotes inside as '\''. */
static void put_quoted(FILE *f, const char *s) {
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') {
            fputs("'\\''", f);
        } else {
            fputc(*s, f);
        }
    }
    fputc('\'', f);
}

/* Runs argv (found on PATH) with its stdout in out (NUL-terminated, trimmed); its stderr
 * goes to ours, so the user sees sbatch's own message. Returns its exit status, or -1 with
 * a message printed when it cannot be run or does not end within 2 minutes. */
static int run_tool(char *const argv[], char *out, size_t out_size) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc) {
        close(fds[0]);
        fprintf(stderr, "prs submit: cannot run %s: %s%s\n", argv[0], strerror(rc),
                rc == ENOENT ? " (not on PATH: is Slurm installed, is this a login node?)" : "");
        return -1;
    }
    size_t len = 0;
    ssize_t n;
    while ((n = read(fds[0], out + len, out_size - 1 - len)) > 0 && len + (size_t)n < out_size - 1)
        len += (size_t)n;
    if (n > 0) len += (size_t)n;
    close(fds[0]); /* a child still writing gets EPIPE; the wait below bounds it */
    out[len] = 0;
    while (len && (out[len - 1] == '\n' || out[len - 1] == ' '))
        out[--len] = 0;
    int status = 0;
    for (unsigned i = 0; i < SUBMIT_WAIT_TRIES; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid) goto ended;
        nanosleep(&(struct timespec){.tv_nsec = SUBMIT_WAIT_STEP_NS}, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    fprintf(stderr, "prs submit: %s did not end within 2 minutes: killed\n", argv[0]);
    return -1;
ended:
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

typedef struct submit {
    const char *out_arg;          /* --output as given (or --resume OUT) */
    bool resume;                  /* --resume: --sbatch-arg goes on sbatch's command line */
    char out[PATH_MAX];           /* absolute */
    char slurm_dir[PATH_MAX + 8]; /* OUT/slurm */
    uint32_t shards;              /* N */
    const char *sbatch_args[SUBMIT_ARGS_MAX];
    uint32_t sbatch_arg_count;
    char **run_args; /* the prs run options */
    int run_argc;
    char config_out[PATH_MAX]; /* the output the run options' --config names */
} submit;

static int write_header(FILE *f, const submit *s, const char *what) {
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof(cwd))) return -errno;
    fprintf(f,
            "#!/bin/bash\n"
            "# Generated by `prs submit --slurm` (prs submit --help): %s\n"
            "# Submit it by hand with sbatch (see OUT/slurm/submit.txt for what prs ran), or\n"
            "# edit the #SBATCH lines: sbatch options, as on its command line.\n",
            what);
    fprintf(f, "#SBATCH --chdir=%s\n", cwd); /* relative run options keep their meaning */
    for (uint32_t i = 0; i < s->sbatch_arg_count; i++)
        fprintf(f, "#SBATCH %s\n", s->sbatch_args[i]);
    return 0;
}

static int write_scripts(const submit *s) {
    char exe[PATH_MAX], path[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) return -errno;
    exe[n] = 0;
    snprintf(path, sizeof(path), "%s/shards.sbatch", s->slurm_dir);
    FILE *f = fopen(path, "we");
    if (!f) return -errno;
    write_header(f, s, "one array task per shard");
    fprintf(f,
            "#SBATCH --job-name=prs-shards\n"
            "#SBATCH --output=%s/shard-%%A_%%a.out\n"
            "#\n"
            "# Array task K runs shard K of %u: a complete prs job over the K-th contiguous\n"
            "# range of the job's mini-batches, in OUT/shards/K-of-%u/. Slurm runs one instance\n"
            "# of a task at a time, so one host opens a shard's state at a time; a task run\n"
            "# again (requeue, prs submit --slurm --resume OUT) resumes where its shard stopped.\n"
            "# Submit with --array=0-%u (or a list of the shards to run again).\n"
            "set -u\n"
            "N=%u\n"
            "PRS=",
            s->slurm_dir, s->shards, s->shards, s->shards - 1, s->shards);
    put_quoted(f, exe);
    fputs("\n\"$PRS\" run --shard \"${SLURM_ARRAY_TASK_ID}/$N\"", f);
    for (int i = 0; i < s->run_argc; i++) {
        fputs(i % 4 == 0 ? " \\\n    " : " ", f);
        put_quoted(f, s->run_args[i]);
    }
    fputs("\nrc=$?\n"
          "# 1: this shard alone exceeded a threshold. That is the job's verdict, which\n"
          "# prs merge gives: end the task well, so the merge job (afterok) runs and says it.\n"
          "# Any other non-zero code (5 stopped, 6 crash loop, ...) fails the task: resumable.\n"
          "if [ \"$rc\" -eq 1 ]; then exit 0; fi\n"
          "exit \"$rc\"\n",
          f);
    if (fclose(f) != 0) return -errno;
    snprintf(path, sizeof(path), "%s/merge.sbatch", s->slurm_dir);
    f = fopen(path, "we");
    if (!f) return -errno;
    write_header(f, s, "the merge, after every shard");
    fprintf(f,
            "#SBATCH --job-name=prs-merge\n"
            "#SBATCH --output=%s/merge-%%j.out\n"
            "#SBATCH --ntasks=1\n"
            "#\n"
            "# Submitted with --dependency=afterok:<array job>: runs once every shard's task\n"
            "# ended well. Writes OUT/parallel_run_step.txt, OUT/logs/overview.txt and\n"
            "# OUT/logs/user/error.txt; exits with the whole job's code (prs merge --help).\n"
            "PRS=",
            s->slurm_dir);
    put_quoted(f, exe);
    fputs("\nexec \"$PRS\" merge ", f);
    put_quoted(f, s->out);
    fputc('\n', f);
    return fclose(f) != 0 ? -errno : 0;
}

/* sbatch --parsable ...: the job id it prints ("id" or "id;cluster"), 0 on failure. */
static unsigned long long sbatch(const submit *s, const char *array, const char *dependency,
                                 const char *script) {
    char *argv[SUBMIT_ARGS_MAX + 8], path[PATH_MAX + 32], out[256];
    int n = 0;
    argv[n++] = "sbatch";
    argv[n++] = "--parsable";
    if (array) argv[n++] = (char *)(uintptr_t)array;
    if (dependency) argv[n++] = (char *)(uintptr_t)dependency;
    for (uint32_t i = 0; s->resume && i < s->sbatch_arg_count; i++)
        argv[n++] = (char *)(uintptr_t)s->sbatch_args[i]; /* new jobs: in the scripts */
    snprintf(path, sizeof(path), "%s/%s", s->slurm_dir, script);
    argv[n++] = path;
    argv[n] = NULL;
    int rc = run_tool(argv, out, sizeof(out));
    if (rc < 0) return 0;
    char *end = NULL;
    unsigned long long id = strtoull(out, &end, 10);
    if (rc != 0 || !end || end == out || (*end && *end != ';')) {
        fprintf(stderr, "prs submit: sbatch %s failed (exit %d)%s%s; its message is above\n", path,
                rc, out[0] ? ", it printed: " : "", out);
        return 0;
    }
    return id;
}

static int record(const submit *s, const char *line) {
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/submit.txt", s->slurm_dir);
    FILE *f = fopen(path, "ae");
    if (!f) return -errno;
    fputs(line, f);
    return fclose(f) != 0 ? -errno : 0;
}

/* Submits the array (tasks: "0-3" or "1,3") and the merge after it. */
static int submit_jobs(const submit *s, const char *tasks) {
    char *array = malloc(SUBMIT_LIST_BYTES + 16), dep[64], line[256];
    if (!array) return PRS_EXIT_INTERNAL;
    unsigned long long merge = 0, job = 0;
    if (tasks[0]) {
        snprintf(array, SUBMIT_LIST_BYTES + 16, "--array=%s", tasks);
        job = sbatch(s, array, NULL, "shards.sbatch");
        if (!job) goto fail;
        snprintf(dep, sizeof(dep), "--dependency=afterok:%llu", job);
    }
    merge = sbatch(s, NULL, tasks[0] ? dep : NULL, "merge.sbatch");
    if (!merge) goto fail;
    snprintf(line, sizeof(line), "array %llu tasks %.64s%s\nmerge %llu\n", job, tasks,
             strlen(tasks) > 64 ? "..." : "", merge);
    record(s, tasks[0] ? line : strchr(line, '\n') + 1);
    if (tasks[0])
        printf("prs submit: shards: Slurm job array %llu (tasks %s of 0-%u)\n", job, tasks,
               s->shards - 1);
    printf("prs submit: merge:  job %llu (%s)\n", merge,
           tasks[0] ? "starts once every shard's task ended well" : "every shard had finished");
    if (tasks[0]) {
        printf("watch:   squeue -j %llu,%llu   prs status %s\n", job, merge, s->out);
    } else {
        printf("watch:   squeue -j %llu   prs status %s\n", merge, s->out);
    }
    printf("result:  %s/logs/overview.txt once job %llu ran (log: %s/merge-%llu.out)\n", s->out,
           merge, s->slurm_dir, merge);
    printf("resume:  prs submit --slurm --resume %s   (only the unfinished shards)\n", s->out);
    free(array);
    return 0;
fail:
    if (job) {
        snprintf(line, sizeof(line), "array %llu tasks %.64s (its merge job failed to submit)\n",
                 job, tasks);
        record(s, line);
        fprintf(stderr,
                "prs submit: the array job %llu was submitted; submit the merge later "
                "with prs submit --slurm --resume %s\n",
                job, s->out);
    }
    free(array);
    return PRS_EXIT_INTERNAL;
}

/* The --output of the run options (before their "--"). */
static const char *run_output(char **args, int argc) {
    const char *out = NULL;
    for (int i = 0; i < argc && strcmp(args[i], "--") != 0; i++) {
        if (!strcmp(args[i], "--output") && i + 1 < argc) out = args[i + 1];
        if (!strncmp(args[i], "--output=", 9)) out = args[i] + 9;
        if (!strcmp(args[i], "--shard") || !strncmp(args[i], "--shard=", 8)) return "";
    }
    return out;
}

/* The --config FILE of the run options (before their "--"), or NULL. */
static const char *run_config(char **args, int argc) {
    const char *path = NULL;
    for (int i = 0; i < argc && strcmp(args[i], "--") != 0; i++) {
        if (!strcmp(args[i], "--config") && i + 1 < argc) path = args[i + 1];
        if (!strncmp(args[i], "--config=", 9)) path = args[i] + 9;
    }
    return path;
}

/* What the run options' --config job.yml says for submit: resources.instance_count is the
 * shard count when --shards is not given, and its output the OUT when --output is not.
 * PRS_EXIT_USAGE (the file's error said) for a file that does not load. */
static int submit_from_config(submit *s) {
    const char *path = run_config(s->run_args, s->run_argc);
    if (!path) return 0;
    prs_jobspec *js = calloc(1, sizeof(*js));
    if (!js) return PRS_EXIT_INTERNAL;
    char err[PATH_MAX + 512];
    int code = 0;
    if (prs_jobspec_load(js, path, err, sizeof(err)) != 0) {
        fprintf(stderr, "prs submit: --config %s\n", err);
        code = PRS_EXIT_USAGE;
        goto free_spec;
    }
    if (!s->shards && js->instance_count > PRS_SHARD_MAX) {
        fprintf(stderr, "prs submit: %s:%u: resources.instance_count %lld: at most %u shards\n",
                path, js->instance_count_line, (long long)js->instance_count, PRS_SHARD_MAX);
        code = PRS_EXIT_USAGE;
        goto free_spec;
    }
    if (!s->shards && js->instance_count) {
        s->shards = (uint32_t)js->instance_count;
        printf("prs submit: %u shards, from resources.instance_count (%s:%u)\n", s->shards, path,
               js->instance_count_line);
    }
    for (size_t i = 0; i < js->count; i++) {
        if (!strcmp(js->settings[i].option, "output"))
            snprintf(s->config_out, sizeof(s->config_out), "%s", js->settings[i].value);
    }
free_spec:
    prs_jobspec_free(js);
    free(js);
    return code;
}

static int submit_dirs(submit *s) {
    struct stat st;
    if (mkdir(s->out_arg, 0755) != 0 && errno != EEXIST) goto fail;
    if (!realpath(s->out_arg, s->out)) goto fail;
    snprintf(s->slurm_dir, sizeof(s->slurm_dir), "%s/slurm", s->out);
    if (mkdir(s->slurm_dir, 0755) != 0 && (errno != EEXIST || stat(s->slurm_dir, &st) != 0))
        goto fail;
    return 0;
fail:
    fprintf(stderr, "prs submit: %s: %s\n", s->out_arg, strerror(errno));
    return PRS_EXIT_USAGE;
}

static int submit_new(submit *s) {
    s->out_arg = run_output(s->run_args, s->run_argc);
    if (!s->out_arg && s->config_out[0]) s->out_arg = s->config_out;
    if (!s->out_arg) return usage("the prs run options after -- need --output OUT");
    if (!s->out_arg[0]) return usage("--shard is not a run option here: --shards N sets it");
    int code = submit_dirs(s);
    if (code) return code;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/submit.txt", s->slurm_dir);
    if (access(path, F_OK) == 0) {
        fprintf(stderr,
                "prs submit: %s was submitted before (%s): prs submit --slurm --resume %s "
                "runs what is left; or use another --output\n",
                s->out, path, s->out);
        return PRS_EXIT_USAGE;
    }
    int rc = write_scripts(s);
    if (rc) {
        fprintf(stderr, "prs submit: cannot write the scripts in %s: %s\n", s->slurm_dir,
                strerror(-rc));
        return PRS_EXIT_INTERNAL;
    }
    char line[64], tasks[32];
    snprintf(line, sizeof(line), "shards %u\n", s->shards);
    record(s, line);
    snprintf(tasks, sizeof(tasks), "0-%u", s->shards - 1);
    return submit_jobs(s, tasks);
}

/* Reads OUT/slurm/submit.txt: N, the array job ids (comma-separated) and the last merge. */
static int read_record(submit *s, char *arrays, size_t size, unsigned long long *merge) {
    char path[PATH_MAX + 32], line[512];
    snprintf(path, sizeof(path), "%s/submit.txt", s->slurm_dir);
    FILE *f = fopen(path, "re");
    if (!f) {
        fprintf(stderr, "prs submit: --resume %s: %s: %s (was it submitted with prs submit?)\n",
                s->out_arg, path, strerror(errno));
        return PRS_EXIT_USAGE;
    }
    size_t len = 0;
    unsigned long long id;
    arrays[0] = 0;
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "shards %u", &s->shards) == 1) continue;
        if (sscanf(line, "merge %llu", &id) == 1) *merge = id;
        if (sscanf(line, "array %llu", &id) == 1 && id && len + 24 < size)
            len += (size_t)snprintf(arrays + len, size - len, "%s%llu", len ? "," : "", id);
    }
    fclose(f);
    if (s->shards < 1 || s->shards > PRS_SHARD_MAX) {
        fprintf(stderr, "prs submit: %s: no valid 'shards N' line\n", path);
        return PRS_EXIT_USAGE;
    }
    return 0;
}

/* Refuses while a task of an earlier array is still queued or running: resubmitting its
 * shard would make two openers of one state (the second would be refused). */
static int arrays_idle(const char *arrays) {
    char *out = malloc(SUBMIT_LIST_BYTES);
    if (!out) return PRS_EXIT_INTERNAL;
    char *argv[] = {"squeue", "-h", "--me", "-o", "%F", NULL};
    int rc = run_tool(argv, out, SUBMIT_LIST_BYTES);
    int code = 0;
    if (rc != 0) {
        fprintf(stderr,
                "prs submit: squeue failed (exit %d): cannot tell whether tasks of the "
                "earlier arrays still run\n",
                rc);
        code = PRS_EXIT_INTERNAL;
    }
    for (char *save = NULL, *l = code ? NULL : strtok_r(out, "\n", &save); l && !code;
         l = strtok_r(NULL, "\n", &save)) {
        for (const char *a = arrays; *a; a += strcspn(a, ",") + (a[strcspn(a, ",")] == ',')) {
            if (strlen(l) == strcspn(a, ",") && !strncmp(l, a, strlen(l))) {
                fprintf(stderr,
                        "prs submit: --resume: job array %s still has tasks queued or running "
                        "(squeue -j %s): resume once they ended, or scancel them first\n",
                        l, l);
                code = PRS_EXIT_USAGE;
                break;
            }
        }
    }
    free(out);
    return code;
}

static int submit_resume(submit *s) {
    int code = submit_dirs(s);
    if (code) return code;
    char arrays[4096];
    unsigned long long merge = 0;
    if ((code = read_record(s, arrays, sizeof(arrays), &merge))) return code;
    if (arrays[0] && (code = arrays_idle(arrays))) return code;
    uint32_t *list = calloc(s->shards, sizeof(uint32_t)), running = 0, n = 0;
    char *tasks = malloc(SUBMIT_LIST_BYTES);
    prs_shards *sh = NULL;
    char err[PATH_MAX + 512];
    code = PRS_EXIT_INTERNAL;
    if (!list || !tasks) goto free_lists;
    int rc = prs_shards_open(&sh, s->out, err, sizeof(err));
    if (rc == 0 && prs_shards_count(sh) != s->shards) {
        snprintf(err, sizeof(err), "%s/shards holds %u shards, the submission %u", s->out,
                 prs_shards_count(sh), s->shards);
        rc = -EINVAL;
    }
    if (rc && rc != -ENOENT) {
        fprintf(stderr, "prs submit: %s\n", err);
        code = rc == -EINVAL ? PRS_EXIT_USAGE : PRS_EXIT_INTERNAL;
        goto free_lists;
    }
    if (rc == 0) {
        n = prs_shards_unfinished(sh, list, s->shards, &running);
    } else {
        for (n = 0; n < s->shards; n++) /* no shard ever started */
            list[n] = n;
    }
    if (running) {
        fprintf(stderr,
                "prs submit: --resume: %u shard(s) are running now (prs status %s): "
                "resume once they ended\n",
                running, s->out);
        code = PRS_EXIT_USAGE;
        goto free_lists;
    }
    size_t len = 0;
    tasks[0] = 0;
    for (uint32_t i = 0; i < n && len + 16 < SUBMIT_LIST_BYTES; i++)
        len +=
            (size_t)snprintf(tasks + len, SUBMIT_LIST_BYTES - len, "%s%u", i ? "," : "", list[i]);
    if (merge) { /* its dependency can no longer be met: it would wait forever */
        char id[32], out[256];
        snprintf(id, sizeof(id), "%llu", merge);
        char *argv[] = {"scancel", id, NULL};
        if (run_tool(argv, out, sizeof(out)) == 0)
            printf("prs submit: cancelled the previous merge job %llu\n", merge);
    }
    printf("prs submit: %u of %u shards to run again%s%s\n", n, s->shards, n ? ": " : "", tasks);
    code = submit_jobs(s, tasks);
free_lists:
    prs_shards_close(sh);
    free(list);
    free(tasks);
    return code;
}

int prs_submit_cli(int argc, char **argv) {
    submit s = {0};
    bool slurm = false;
    int i = 1;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) {
            fputs(usage_submit, stdout);
            return 0;
        } else if (!strcmp(a, "--slurm")) {
            slurm = true;
        } else if (!strcmp(a, "--shards") && v) {
            char *end;
            unsigned long n = strtoul(v, &end, 10);
            if (*end || v[0] < '0' || v[0] > '9' || n < 1 || n > PRS_SHARD_MAX)
                return usage("--shards N: N must be a whole number from 1 to 10000");
            s.shards = (uint32_t)n;
            i++;
        } else if ((!strcmp(a, "--sbatch-arg") && v) || !strncmp(a, "--sbatch-arg=", 13)) {
            const char *arg = a[12] == '=' ? a + 13 : v;
            if (s.sbatch_arg_count == SUBMIT_ARGS_MAX) return usage("--sbatch-arg: at most 64");
            if (strchr(arg, '\n') || arg[0] != '-')
                return usage("--sbatch-arg ARG: one sbatch option, starting with '-'");
            s.sbatch_args[s.sbatch_arg_count++] = arg;
            i += a[12] != '=';
        } else if (!strcmp(a, "--resume") && v) {
            s.out_arg = v;
            i++;
        } else {
            fprintf(stderr, "prs submit: %s: %s\n", a,
                    v || a[0] != '-' ? "unexpected argument" : "needs a value");
            return usage("the options come before --, the prs run options after it");
        }
    }
    if (!slurm) return usage("--slurm is required (Slurm is the engine prs submits to)");
    s.run_args = argv + i + (i < argc);
    s.run_argc = argc - i - (i < argc);
    if (s.out_arg) {
        if (s.shards || s.run_argc)
            return usage("--resume OUT takes no --shards and no run options");
        s.resume = true;
        return submit_resume(&s);
    }
    if (s.run_argc == 0) return usage("the prs run options go after --");
    int code = submit_from_config(&s);
    if (code) return code;
    if (!s.shards)
        return usage("--shards N is required (or resources.instance_count in the run options' "
                     "--config job.yml)");
    return submit_new(&s);
}
