/* supervisor.c -- prs_supervise: the parent process that never runs user code.
 *
 * Owns: the child runtime process, the restart policy, signal forwarding.
 * May call: fork/wait, the scoreboard (read-only: the progress counter), prs_job_run in
 *   the child only, prs_joblog_process_row.
 * A child that dies of a signal, or exits asking for a restart (a hung run()), is
 * restarted; the new child resumes from LMDB and charges tries from the scoreboard.
 * Three deaths in a row without progress (no commit between them) end the job with
 * PRS_EXIT_CRASH_LOOP: the state is intact, and a later `prs run` resumes.
 * It also writes the controller's files of the logs/ layout, once OUT/logs exists (the
 * runtime creates it after checking OUT): logs/70_driver_log.txt (the configuration and
 * every life of the runtime) and logs/sys/processes.csv (one row per runtime life; the runtime adds
 * one per worker thread). The runtime child is named "prs-runtime" (PR_SET_NAME). */
#include "joblog.h"
#include "prs.h"
#include "scoreboard.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SUPERVISOR_MAX_RESTARTS 10000u
#define SUPERVISOR_NO_PROGRESS_DEATHS 3u
/* The runtime child's process name (ps, /proc/PID/comm; at most 15 bytes). */
#define PRS_RUNTIME_PROCESS_NAME "prs-runtime"

static volatile sig_atomic_t supervisor_signals;
static volatile sig_atomic_t supervisor_last_signal;

static void supervisor_on_signal(int sig) {
    supervisor_signals++;
    supervisor_last_signal = sig;
}

static void child_on_signal(int sig) {
    (void)sig;
    prs_job_request_stop();
}

static uint64_t progress_of(const char *out_dir) {
    char state[PATH_MAX + 16];
    snprintf(state, sizeof(state), "%s/.prs", out_dir);
    prs_scoreboard_file *sb;
    if (prs_scoreboard_open(&sb, state, false) != 0) return 0;
    uint64_t p = atomic_load(&sb->progress);
    prs_scoreboard_close(sb);
    return p;
}

static void utc_stamp(time_t t, char *buf, size_t size) {
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Appends to OUT/logs/<name> if OUT/logs exists; never creates the directory. */
static FILE *logs_append(const prs_job_config *c, const char *name, bool *created) {
    if (!c->output_dir) return NULL;
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/logs/%s", c->output_dir, name);
    FILE *f = fopen(path, "ae");
    if (f && created) *created = ftell(f) == 0;
    return f;
}

/* One life of the runtime in 70_driver_log.txt and sys/processes.csv. The configuration
 * goes first, the first time the driver log is written. */
static void driver_life(const prs_job_config *c, pid_t child, time_t start, int status) {
    bool created = false;
    FILE *f = logs_append(c, "70_driver_log.txt", &created);
    if (!f) return;
    char t0[32], t1[32];
    utc_stamp(start, t0, sizeof(t0));
    utc_stamp(time(NULL), t1, sizeof(t1));
    if (created) {
        fprintf(f, "%s prs driver (supervisor pid %d)\n", t0, (int)getpid());
        fprintf(f, "  entry script: %s\n  input: %s\n  output: %s\n",
                c->entry_script ? c->entry_script : "(embedded)", c->input ? c->input : "-",
                c->output_dir);
        fprintf(f,
                "  mini-batch size: %u; workers: %u (0 = CPUs); run_max_try: %u; "
                "run_invocation_timeout: %llu ms\n",
                c->mini_batch_size, c->workers, c->run_max_try,
                (unsigned long long)c->run_invocation_timeout_ms);
        fprintf(f,
                "  error_threshold: %lld; allowed_failed_count: %lld; allowed_failed_percent: %u\n",
                (long long)c->error_threshold, (long long)c->allowed_failed_count,
                c->allowed_failed_percent);
        fprintf(f,
                "  logging level: %d; log policy: %s; perf interval: %u s; durable: %s\n"
                "  output action: %s; output file: %s\n",
                c->logging_level, c->log_policy ? "drop" : "wait", c->perf_interval_s,
                c->durable ? "yes" : "no",
                c->output_action == PRS_OUTPUT_SUMMARY_ONLY ? "summary_only" : "append_row",
                c->append_row_file_name);
    }
    char how[96];
    if (WIFSIGNALED(status)) {
        snprintf(how, sizeof(how), "died of signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    } else {
        snprintf(how, sizeof(how), "exited with code %d",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    fprintf(f, "%s runtime pid %d started\n%s runtime pid %d %s\n", t0, (int)child, t1, (int)child,
            how);
    fclose(f);
    char logs[PATH_MAX + 16];
    snprintf(logs, sizeof(logs), "%s/logs", c->output_dir);
    prs_joblog_process_row(logs, (int)child, (int)child, "runtime", -1, (uint64_t)start * 1000u,
                           (uint64_t)time(NULL) * 1000u,
                           WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                           WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static void driver_end(const prs_job_config *c, int code, const char *message) {
    FILE *f = logs_append(c, "70_driver_log.txt", NULL);
    if (!f) return;
    char t[32];
    utc_stamp(time(NULL), t, sizeof(t));
    fprintf(f, "%s job ended with exit code %d: %s\n", t, code, message);
    fclose(f);
}

static void master_line(const char *out_dir, const char *text) {
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/logs/sys/master.txt", out_dir);
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) return;
    char line[1024];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    size_t n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ supervisor: ", &tm);
    int m = snprintf(line + n, sizeof(line) - n, "%s\n", text);
    ssize_t ignored = write(fd, line, n + (size_t)PRS_MAX(m, 0));
    (void)ignored;
    close(fd);
}

static int child_main(const prs_job_config *config, int report_fd, pid_t parent) {
    /* The child dies with its supervisor (kill -9 of the parent): never an orphan runtime
     * holding OUT's lock. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(PRS_EXIT_STOPPED);
    /* A name that tells the runtime apart from the supervisor's other children (e.g.
     * LeakSanitizer's tracer under ASan): tests/test_kill.sh kills only this one. Its
     * threads inherit it. */
    prctl(PR_SET_NAME, PRS_RUNTIME_PROCESS_NAME);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = child_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    prs_job_config c = *config;
    c.supervised = true;
    prs_job_report report;
    int code = prs_job_run(&c, &report);
    ssize_t ignored = write(report_fd, &report, sizeof(report));
    (void)ignored;
    _exit(code);
}

int prs_supervise(const prs_job_config *config, prs_job_report *report) {
    prs_job_report local;
    if (!report) report = &local;
    memset(report, 0, sizeof(*report));
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = supervisor_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    supervisor_signals = 0;
    int code = PRS_EXIT_INTERNAL;
    uint32_t no_progress = 0;
    for (uint32_t life = 0; life < SUPERVISOR_MAX_RESTARTS; life++) {
        uint64_t progress = config->output_dir ? progress_of(config->output_dir) : 0;
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) != 0) {
            snprintf(report->message, sizeof(report->message), "pipe: %s", strerror(errno));
            break;
        }
        pid_t parent = getpid();
        pid_t child = fork();
        if (child < 0) {
            snprintf(report->message, sizeof(report->message), "fork: %s", strerror(errno));
            close(fds[0]);
            close(fds[1]);
            break;
        }
        if (child == 0) {
            close(fds[0]);
            /* Its own process group: a terminal's ^C reaches the supervisor only, which
             * forwards it once. */
            setpgid(0, 0);
            /* --fresh means the first life only: a restart resumes what it began. */
            prs_job_config c = *config;
            if (life > 0) c.fresh = false;
            child_main(&c, fds[1], parent);
        }
        close(fds[1]);
        int status = 0;
        int forwarded = 0;
        time_t started = time(NULL);
        while (waitpid(child, &status, 0) < 0) {
            if (errno != EINTR) break;
            while (forwarded < supervisor_signals) {
                kill(child, SIGTERM);
                forwarded++;
            }
        }
        driver_life(config, child, started, status);
        prs_job_report got;
        bool have = read(fds[0], &got, sizeof(got)) == (ssize_t)sizeof(got);
        close(fds[0]);
        if (have) *report = got;
        if (WIFEXITED(status) && WEXITSTATUS(status) != PRS_EXIT_RESTART) {
            code = WEXITSTATUS(status);
            break;
        }
        char text[256];
        if (WIFSIGNALED(status)) {
            snprintf(text, sizeof(text), "the runtime (pid %d) died of signal %d (%s)", (int)child,
                     WTERMSIG(status), strsignal(WTERMSIG(status)));
        } else {
            snprintf(text, sizeof(text), "the runtime (pid %d) asked for a restart", (int)child);
        }
        if (supervisor_signals > 0) {
            code = PRS_EXIT_STOPPED;
            snprintf(report->message, sizeof(report->message), "stopped (%s); run again to resume",
                     text);
            break;
        }
        no_progress =
            config->output_dir && progress_of(config->output_dir) == progress ? no_progress + 1 : 0;
        if (no_progress >= SUPERVISOR_NO_PROGRESS_DEATHS) {
            code = PRS_EXIT_CRASH_LOOP;
            snprintf(report->message, sizeof(report->message),
                     "crash loop: %s, %u times in a row without progress; see "
                     "logs/user/error/ and logs/sys/master.txt; the job is resumable",
                     text, no_progress);
            master_line(config->output_dir, report->message);
            break;
        }
        char line[400];
        snprintf(line, sizeof(line), "%s; restarting (restart %u)", text, life + 1);
        master_line(config->output_dir, line);
        if (!config->quiet) fprintf(stderr, "prs: %s\n", line);
    }
    driver_end(config, code, report->message);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return code;
}
