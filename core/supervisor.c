/* supervisor.c -- prs_supervise: the parent process that never runs user code.
 *
 * Owns: the child runtime process, the restart policy, signal forwarding.
 * May call: fork/wait, the scoreboard (read-only: the progress counter), prs_job_run in
 *   the child only.
 * A child that dies of a signal, or exits asking for a restart (a hung run()), is
 * restarted; the new child resumes from LMDB and charges tries from the scoreboard.
 * Three deaths in a row without progress (no commit between them) end the job with
 * PRS_EXIT_CRASH_LOOP: the state is intact, and a later `prs run` resumes. */
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
        while (waitpid(child, &status, 0) < 0) {
            if (errno != EINTR) break;
            while (forwarded < supervisor_signals) {
                kill(child, SIGTERM);
                forwarded++;
            }
        }
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
        no_progress = config->output_dir && progress_of(config->output_dir) == progress
                          ? no_progress + 1
                          : 0;
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
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return code;
}
