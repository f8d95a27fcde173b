/* supervisor.c -- prs_supervise: the parent process that never runs user code.
 *
 * Owns: the child runtime process, the restart policy, signal forwarding.
 * May call: fork/wait, the scoreboard (read-only: the progress counter), prs_job_run in
 *   the child only, prs_joblog_process_row, core/progress (its SIGWINCH handler, in the child).
 * The runtime reports its exit code through a pipe before it exits (supervisor.h); an
 * exit code without that report is the entry script's exit(N), a death like any other.
 * A child that dies, or reports a restart (a hung run()), is restarted; the new child
 * resumes from LMDB and charges tries from the scoreboard. Deaths the runtime could not
 * mark (an exit without the report, a runtime stopped for SUPERVISOR_STOPPED_MS, SIGKILL
 * deaths that repeat without progress with the same batch in hand) are marked in the
 * scoreboard here, charged to the batches in hand. Three other deaths in a row without
 * progress (no commit between them) end the job with PRS_EXIT_CRASH_LOOP: the state is
 * intact, and a later `prs run` resumes.
 * Signals: the first SIGINT/SIGTERM is forwarded (the runtime stops within its grace); a
 * second one, or a runtime still alive SUPERVISOR_STOP_BOUND_MS after the first, is
 * ended with SIGKILL within SUPERVISOR_SECOND_STOP_MS: exit 5, resumable. SIGWINCH (a resized
 * terminal, which signals only its foreground group: the supervisor's) is forwarded to the
 * runtime, whose progress bar then redraws at the new width (core/progress.h).
 * It also writes the controller's files of the logs/ layout, once OUT/logs exists (the
 * runtime creates it after checking OUT): logs/70_driver_log.txt (the configuration and
 * every life of the runtime) and logs/sys/processes.csv (one row per runtime life; the runtime adds
 * one per worker thread). The runtime child is named "prs-runtime" (PR_SET_NAME). */
#include "supervisor.h"
#include "fs.h"

#include "crash.h"
#include "clock.h"
#include "joblog.h"
#include "progress.h"
#include "scoreboard.h"
#include "symbolize.h"

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
#define SUPERVISOR_STOPPED_MS 3000u     /* a runtime stopped this long is hung */
#define SUPERVISOR_SECOND_STOP_MS 800u  /* after a second signal: SIGKILL */
#define SUPERVISOR_STOP_BOUND_MS 15000u /* after the first: the runtime's grace, and more */
#define SUPERVISOR_POLL_NS 20000000L    /* how often a living runtime is looked at */
#define SUPERVISOR_REPORT_MAGIC 0x7072737265706f72ull /* "prsrepor" */
/* The runtime child's process name (ps, /proc/PID/comm; at most 15 bytes). */
#define PRS_RUNTIME_PROCESS_NAME "prs-runtime"

static volatile sig_atomic_t supervisor_signals;
static volatile sig_atomic_t supervisor_last_signal;

static void supervisor_on_signal(int sig) {
    supervisor_signals++;
    supervisor_last_signal = sig;
}

static volatile sig_atomic_t supervisor_winches; /* SIGWINCHs received, to forward */

static void supervisor_on_winch(int sig) {
    (void)sig;
    supervisor_winches++;
}

/* The child's end of the report pipe (-1: not supervised). */
static int child_report_fd = -1;

typedef struct supervisor_msg {
    uint64_t magic;
    int32_t code;
    prs_job_report report;
} supervisor_msg;

_Noreturn void prs_supervisor_exit(int code, const prs_job_report *report) {
    if (child_report_fd >= 0) {
        supervisor_msg m;
        memset(&m, 0, sizeof(m));
        m.magic = SUPERVISOR_REPORT_MAGIC;
        m.code = code;
        if (report) m.report = *report;
        ssize_t ignored = write(child_report_fd, &m, sizeof(m)); /* < PIPE_BUF: atomic */
        (void)ignored;
    }
    _exit(code);
}

/* A stop request from outside; the same signal sent by the process to itself (the entry
 * script's raise or kill) is a death charged to the batch in hand. */
static void child_on_signal(int sig, siginfo_t *info, void *uctx) {
    (void)uctx;
    bool self =
        info && info->si_pid == getpid() && (info->si_code == SI_USER || info->si_code == SI_TKILL);
    if (!self) {
        prs_job_request_stop();
        return;
    }
    /* raise() names this thread; kill(getpid()) any thread: charge all in hand then. */
    if (info->si_code == SI_TKILL) {
        prs_crash_charge(PRS_DEATH_SELF, sig);
    } else {
        prs_crash_charge_all(PRS_DEATH_SELF, sig);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* The runtime never calls exit() (it ends with prs_supervisor_exit): whoever does is the
 * entry script (or a library it uses). Charge the batch in hand, and end now, before
 * exit's cleanup runs under the workers' feet. */
static void child_on_exit(int status, void *arg) {
    (void)arg;
    prs_crash_charge(PRS_DEATH_EXIT, status);
    _exit(status);
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

/* "2026-11-29T03:29:33.123Z": the stamp every log of the job uses (milliseconds, UTC). */
static void utc_stamp(uint64_t unix_ms, char *buf, size_t size) {
    time_t t = (time_t)(unix_ms / 1000u);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03uZ", (unsigned)(unix_ms % 1000u));
}

/* Appends to OUT/logs/<name> if OUT/logs exists; never creates the directory. */
static FILE *logs_append(const prs_job_config *c, const char *name, bool *created) {
    if (!c->output_dir) return NULL;
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/logs/%s", c->output_dir, name);
    FILE *f = prs_fopen_nofollow(path, "a");
    if (f && created) *created = ftell(f) == 0;
    return f;
}

/* One life of the runtime in 70_driver_log.txt and sys/processes.csv. The configuration
 * goes first, the first time the driver log is written. */
static void driver_life(const prs_job_config *c, pid_t child, uint64_t start_ms, int status) {
    bool created = false;
    FILE *f = logs_append(c, "70_driver_log.txt", &created);
    if (!f) return;
    char t0[32], t1[32];
    uint64_t end_ms = prs_wall_ms();
    utc_stamp(start_ms, t0, sizeof(t0));
    utc_stamp(end_ms, t1, sizeof(t1));
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
                "  logging level: %s; log policy: %s; perf interval: %u s; durable: %s\n"
                "  output action: %s; output file: %s\n",
                prs_log_level_name(c->logging_level),
                c->log_policy == PRS_LOG_POLICY_DROP ? "drop" : "wait", c->perf_interval_s,
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
    prs_joblog_process_row(logs, (int)child, (int)child, "runtime", -1, start_ms, end_ms,
                           WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                           WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static void driver_end(const prs_job_config *c, int code, const char *message) {
    FILE *f = logs_append(c, "70_driver_log.txt", NULL);
    if (!f) return;
    char t[32];
    utc_stamp(prs_wall_ms(), t, sizeof(t));
    fprintf(f, "%s job ended with exit code %d: %s\n", t, code, message);
    fclose(f);
    /* A refused job (exit 2: OUT holds another one) leaves that job's files alone. */
    if (code == PRS_EXIT_USAGE) return;
    char logs[PATH_MAX + 16];
    snprintf(logs, sizeof(logs), "%s/logs", c->output_dir);
    prs_joblog_job_result(logs, code, message);
}

static void master_line(const char *out_dir, const char *text) {
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/logs/sys/master.txt", out_dir);
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return;
    char line[1024];
    utc_stamp(prs_wall_ms(), line, sizeof(line));
    size_t n = strlen(line);
    n += (size_t)snprintf(line + n, sizeof(line) - n, " supervisor: ");
    int m = snprintf(line + n, sizeof(line) - n, "%s\n", text);
    ssize_t ignored = write(fd, line, n + (size_t)PRS_MAX(m, 0));
    (void)ignored;
    close(fd);
}

static _Noreturn void child_main(const prs_job_config *config, int report_fd, pid_t parent) {
    /* The child dies with its supervisor (kill -9 of the parent): never an orphan runtime
     * holding OUT's lock. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(PRS_EXIT_STOPPED);
    /* A name that tells the runtime apart from the supervisor's other children (e.g.
     * LeakSanitizer's tracer under ASan): tests/test_kill.sh kills only this one. Its
     * threads inherit it. */
    prctl(PR_SET_NAME, PRS_RUNTIME_PROCESS_NAME);
    child_report_fd = report_fd;
    prs_crash_own_thread();
    on_exit(child_on_exit, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = child_on_signal;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* The forwarded SIGWINCH: the progress bar redraws at the new width. SA_RESTART: a
     * resize must not fail a read of the runtime's with EINTR. */
    struct sigaction winch = {.sa_handler = prs_progress_on_sigwinch, .sa_flags = SA_RESTART};
    sigemptyset(&winch.sa_mask);
    sigaction(SIGWINCH, &winch, NULL);
    prs_job_config c = *config;
    c.supervised = true;
    /* This process is the runtime's own: its crash handlers charge the batch that crashed. */
    c.handlers |= PRS_HANDLE_CRASHES;
    prs_job_report report;
    int code = prs_job_run(&c, &report);
    prs_supervisor_exit(code, &report);
}

/* How one life of the runtime ended. */
typedef struct life_end {
    int status;
    bool stopped_killed; /* it stayed stopped and was killed for it */
    bool stop_killed;    /* it outlived a stop request's bound and was killed */
    int stop_sig;
} life_end;

/* Marks the batches in hand (RUNNING slots) of OUT's scoreboard CRASHED; returns how many
 * slots are CRASHED then (those the runtime marked itself included). */
static unsigned charge_in_hand(const prs_job_config *c, enum prs_death_cause cause, int value,
                               const uint64_t *only, size_t only_len) {
    if (!c->output_dir) return 0;
    char state[PATH_MAX + 16];
    snprintf(state, sizeof(state), "%s/.prs", c->output_dir);
    prs_scoreboard_file *sb;
    if (prs_scoreboard_open_existing(&sb, state) != 0) return 0;
    if (!only) {
        prs_scoreboard_charge_running(sb, cause, value);
    } else {
        /* Only those batches: the others go back to pending untouched. */
        for (uint32_t i = 0; i < PRS_MAX_WORKERS; i++) {
            prs_scoreboard_slot *s = &sb->slot[i];
            bool keep = false;
            for (size_t k = 0; k < only_len; k++)
                keep = keep || atomic_load(&s->batch_id) == only[k];
            if (atomic_load(&s->state) != PRS_SLOT_RUNNING || keep) continue;
            atomic_store(&s->state, PRS_SLOT_IDLE);
        }
        prs_scoreboard_charge_running(sb, cause, value);
    }
    unsigned n = 0;
    for (uint32_t i = 0; i < PRS_MAX_WORKERS; i++)
        n += atomic_load(&sb->slot[i].state) == PRS_SLOT_CRASHED;
    prs_scoreboard_close(sb);
    return n;
}

/* Waits for the child to end, forwarding stop signals; bounded: a stopped runtime, one
 * that outlives a stop request's bound, is killed. */
static void wait_life(const prs_job_config *c, pid_t child, life_end *end) {
    memset(end, 0, sizeof(*end));
    int forwarded = 0;
    sig_atomic_t winches = supervisor_winches;
    uint64_t kill_at = 0, stopped_at = 0;
    uint64_t tick_at = prs_mono_ms() + c->supervisor_tick_ms;
    bool killed = false;
    for (;;) {
        int st = 0;
        pid_t got = waitpid(child, &st, WNOHANG | WUNTRACED | WCONTINUED);
        if (got < 0 && errno != EINTR) {
            end->status = 0; /* cannot happen for our own child; treat as a plain exit */
            return;
        }
        uint64_t now = prs_mono_ms();
        if (got == child && (WIFEXITED(st) || WIFSIGNALED(st))) {
            end->status = st;
            return;
        }
        if (got == child && WIFSTOPPED(st) && !stopped_at) {
            stopped_at = now;
            end->stop_sig = WSTOPSIG(st);
        }
        if (got == child && WIFCONTINUED(st)) stopped_at = 0;
        while (forwarded < supervisor_signals) {
            kill(child, SIGTERM);
            kill(child, SIGCONT); /* a stopped runtime must see it */
            forwarded++;
            kill_at = now + (forwarded == 1 ? SUPERVISOR_STOP_BOUND_MS : SUPERVISOR_SECOND_STOP_MS);
        }
        if (winches != supervisor_winches) { /* one forward for any number since the last look */
            winches = supervisor_winches;
            kill(child, SIGWINCH);
        }
        if (!killed && stopped_at && now - stopped_at >= SUPERVISOR_STOPPED_MS && !forwarded) {
            charge_in_hand(c, PRS_DEATH_STOPPED, end->stop_sig, NULL, 0);
            end->stopped_killed = true;
            killed = kill(child, SIGKILL) == 0;
        }
        if (!killed && kill_at && now >= kill_at) {
            end->stop_killed = true;
            killed = kill(child, SIGKILL) == 0;
        }
        /* the caller's tick, not while stopping: a stop must stay within its bounds */
        if (c->supervisor_tick && c->supervisor_tick_ms && !forwarded && now >= tick_at) {
            c->supervisor_tick(c->supervisor_tick_arg);
            tick_at = prs_mono_ms() + c->supervisor_tick_ms;
        }
        nanosleep(&(struct timespec){.tv_nsec = SUPERVISOR_POLL_NS}, NULL);
    }
}

/* The runtime's report of its own exit, if it made one. */
static bool read_report(int fd, const life_end *end, prs_job_report *report, int *code) {
    supervisor_msg m;
    /* Non-blocking: a process the script forked may hold the write end open. */
    fcntl(fd, F_SETFL, O_NONBLOCK);
    if (read(fd, &m, sizeof(m)) != (ssize_t)sizeof(m) || m.magic != SUPERVISOR_REPORT_MAGIC)
        return false;
    if (!WIFEXITED(end->status) || WEXITSTATUS(end->status) != m.code) return false;
    *report = m.report;
    *code = m.code;
    return true;
}

/* Deaths without progress: what they had in hand, and whether all were SIGKILLs. */
typedef struct streak {
    uint32_t deaths;
    bool all_sigkill;
    uint64_t common[PRS_MAX_WORKERS]; /* batches in hand at every death of the streak */
    size_t common_len;
} streak;

/* Narrows the streak's common batches to those RUNNING now. */
static void streak_note(const prs_job_config *c, streak *k) {
    uint64_t now[PRS_MAX_WORKERS];
    size_t n = 0;
    char state[PATH_MAX + 16];
    snprintf(state, sizeof(state), "%s/.prs", c->output_dir ? c->output_dir : ".");
    prs_scoreboard_file *sb;
    if (c->output_dir && prs_scoreboard_open(&sb, state, false) == 0) {
        for (uint32_t i = 0; i < PRS_MAX_WORKERS; i++)
            if (atomic_load(&sb->slot[i].state) == PRS_SLOT_RUNNING)
                now[n++] = atomic_load(&sb->slot[i].batch_id);
        prs_scoreboard_close(sb);
    }
    if (k->deaths == 0) {
        memcpy(k->common, now, n * sizeof(now[0]));
        k->common_len = n;
        return;
    }
    size_t kept = 0;
    for (size_t i = 0; i < k->common_len; i++) {
        for (size_t m = 0; m < n; m++) {
            if (now[m] != k->common[i]) continue;
            k->common[kept++] = k->common[i];
            break;
        }
    }
    k->common_len = kept;
}

/* What the death was, in words; charged: batches in hand charged for it. */
static void death_text(pid_t child, const life_end *end, unsigned charged, char *buf, size_t size) {
    int st = end->status;
    if (end->stopped_killed) {
        snprintf(buf, size,
                 "the runtime (pid %d) stayed stopped (signal %d, %s) for %u s: treated as hung "
                 "and killed; %u batch(es) in hand charged a try",
                 (int)child, end->stop_sig, strsignal(end->stop_sig), SUPERVISOR_STOPPED_MS / 1000,
                 charged);
    } else if (WIFSIGNALED(st)) {
        snprintf(buf, size, "the runtime (pid %d) died of signal %d (%s)", (int)child, WTERMSIG(st),
                 strsignal(WTERMSIG(st)));
    } else if (WIFEXITED(st)) {
        snprintf(buf, size,
                 "the runtime (pid %d) ended with exit status %d without its own report: the "
                 "entry script called exit(%d) or _exit(%d) (or closed prs's descriptors); %s",
                 (int)child, WEXITSTATUS(st), WEXITSTATUS(st), WEXITSTATUS(st),
                 charged ? "the batch(es) in hand were charged a try"
                         : "no batch was in hand (in prs_init, prs_shutdown or a constructor?)");
    } else {
        snprintf(buf, size, "the runtime (pid %d) ended (status %d)", (int)child, st);
    }
}

/* OUT/logs/overview.txt after an end the runtime could not describe (a crash loop, a
 * kill): its state line replaced, the reason appended; written if there was none. */
static void overview_end(const prs_job_config *c, const char *state, const char *message) {
    if (!c->output_dir) return;
    char dir[PATH_MAX + 16], path[PATH_MAX + 32], tmp[PATH_MAX + 48];
    snprintf(dir, sizeof(dir), "%s/logs", c->output_dir);
    snprintf(path, sizeof(path), "%s/overview.txt", dir);
    snprintf(tmp, sizeof(tmp), "%s/.overview.txt.sup", dir);
    char old[8192] = "", text[12288];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
        ssize_t got = read(fd, old, sizeof(old) - 1);
        old[got > 0 ? got : 0] = 0;
        close(fd);
    }
    size_t n = 0;
    if (!old[0]) {
        n = (size_t)snprintf(text, sizeof(text),
                             "prs job overview\nstate: %s\ncounts: `prs status %s`\n", state,
                             c->output_dir);
    }
    /* The old text line by line: its state line replaced, an older "ended:" dropped. */
    for (char *save = NULL, *line = strtok_r(old, "\n", &save); line && n < sizeof(text);
         line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "ended: ", 7) == 0) continue;
        bool st = strncmp(line, "state: ", 7) == 0;
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%s\n", st ? "state: " : "",
                              st ? state : line);
    }
    if (n < sizeof(text)) snprintf(text + n, sizeof(text) - n, "ended: %s\n", message);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) return; /* no OUT/logs: nothing was ever written there */
    size_t len = strlen(text);
    bool ok = write(fd, text, len) == (ssize_t)len;
    close(fd);
    if (!ok || rename(tmp, path) != 0) unlink(tmp);
}

/* Whether OUT/logs exists: the runtime got as far as opening OUT. */
static bool have_logs(const prs_job_config *c) {
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof(dir), "%s/logs", c->output_dir ? c->output_dir : "");
    return c->output_dir && access(dir, F_OK) == 0;
}

/* After a death without progress: end the job (true) or go on (false). */
static bool end_of_streak(const prs_job_config *c, streak *k, const char *text,
                          prs_job_report *report) {
    if (k->deaths < SUPERVISOR_NO_PROGRESS_DEATHS) return false;
    if (k->all_sigkill && k->common_len > 0) {
        /* SIGKILL cannot be told from a kill -9 from outside, which costs nothing; the same
         * batch in hand at every one of these deaths is what an OOM kill looks like. */
        unsigned n = charge_in_hand(c, PRS_DEATH_KILLED, SIGKILL, k->common, k->common_len);
        char line[800];
        snprintf(line, sizeof(line),
                 "%s, %u times in a row without progress with batch %llu in hand: %u batch(es) "
                 "charged a try (out of memory, or the script killed itself)",
                 text, k->deaths, (unsigned long long)k->common[0], n);
        master_line(c->output_dir, line);
        if (!c->quiet) fprintf(stderr, "prs: %s\n", line);
        *k = (streak){0};
        return false;
    }
    if (have_logs(c)) {
        snprintf(report->message, sizeof(report->message),
                 "crash loop: %s, %u times in a row without progress; see "
                 "logs/user/error/ and logs/sys/master.txt; the job is resumable",
                 text, k->deaths);
    } else {
        snprintf(report->message, sizeof(report->message),
                 "crash loop: %s, %u times in a row, before OUT/logs was created (while "
                 "loading the entry script: its constructors?); nothing was run",
                 text, k->deaths);
    }
    master_line(c->output_dir, report->message);
    return true;
}

/* One death: note it, decide. Returns -1 to restart, else the job's exit code. */
static int after_death(const prs_job_config *c, pid_t child, const life_end *end, bool restart,
                       uint64_t progress, streak *k, uint32_t life, prs_job_report *report) {
    char text[512];
    if (restart) {
        snprintf(text, sizeof(text), "the runtime (pid %d) asked for a restart", (int)child);
    } else {
        unsigned charged = 0;
        if (WIFEXITED(end->status)) /* no report: the script's exit; its hook may have charged */
            charged = charge_in_hand(c, PRS_DEATH_EXIT, WEXITSTATUS(end->status), NULL, 0);
        death_text(child, end, charged, text, sizeof(text));
    }
    if (supervisor_signals > 0) {
        snprintf(report->message, sizeof(report->message),
                 "stopped (%s%s); run the same command again to resume", text,
                 end->stop_killed ? ", killed: it did not end in time" : "");
        return PRS_EXIT_STOPPED;
    }
    if (c->output_dir && progress_of(c->output_dir) != progress) {
        *k = (streak){0};
    } else {
        bool sigkill = WIFSIGNALED(end->status) && WTERMSIG(end->status) == SIGKILL &&
                       !end->stopped_killed && !restart;
        k->all_sigkill = (k->deaths == 0 || k->all_sigkill) && sigkill;
        streak_note(c, k);
        k->deaths++;
    }
    if (end_of_streak(c, k, text, report)) return PRS_EXIT_CRASH_LOOP;
    char line[700];
    snprintf(line, sizeof(line), "%s; restarting (restart %u)", text, life + 1);
    master_line(c->output_dir, line);
    if (!c->quiet) fprintf(stderr, "prs: %s\n", line);
    return -1;
}

/* When prs_supervise began: overview.txt's elapsed spans every life of the runtime. */
static uint64_t supervisor_started_ms;

static pid_t start_life(const prs_job_config *config, uint32_t life, int fds[2]) {
    pid_t parent = getpid();
    pid_t child = fork();
    if (child != 0) return child;
    close(fds[0]);
    /* Its own process group: a terminal's ^C reaches the supervisor only, which forwards
     * it once. */
    setpgid(0, 0);
    /* --fresh means the first life only: a restart resumes what it began. */
    prs_job_config c = *config;
    if (life > 0) c.fresh = false;
    if (!c.run_started_unix_ms) c.run_started_unix_ms = supervisor_started_ms;
    child_main(&c, fds[1], parent);
}

int prs_supervise(const prs_job_config *config, prs_job_report *report) {
    supervisor_started_ms = prs_wall_ms();
    prs_job_report local;
    if (!report) report = &local;
    memset(report, 0, sizeof(*report));
    struct sigaction sa, old_int, old_term, old_winch;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = supervisor_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    struct sigaction winch = {.sa_handler = supervisor_on_winch, .sa_flags = SA_RESTART};
    sigemptyset(&winch.sa_mask);
    sigaction(SIGWINCH, &winch, &old_winch);
    supervisor_signals = 0;
    int code = PRS_EXIT_INTERNAL;
    bool own_end = false; /* the runtime reported the job's end itself */
    streak k = {0};
    for (uint32_t life = 0; life < SUPERVISOR_MAX_RESTARTS; life++) {
        uint64_t progress = config->output_dir ? progress_of(config->output_dir) : 0;
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) != 0) {
            snprintf(report->message, sizeof(report->message), "pipe: %s", strerror(errno));
            break;
        }
        pid_t child = start_life(config, life, fds);
        if (child < 0) {
            snprintf(report->message, sizeof(report->message), "fork: %s", strerror(errno));
            close(fds[0]);
            close(fds[1]);
            break;
        }
        close(fds[1]);
        uint64_t started = prs_wall_ms();
        life_end end;
        wait_life(config, child, &end);
        driver_life(config, child, started, end.status);
        if (WIFSIGNALED(end.status) && config->output_dir) prs_symbolize_job(config->output_dir);
        int own = -1;
        bool reported = read_report(fds[0], &end, report, &own);
        close(fds[0]);
        if (reported && own != PRS_EXIT_RESTART) {
            code = own;
            own_end = true;
            if (!report->message[0] && code == PRS_EXIT_STOPPED) /* stopped at once */
                snprintf(report->message, sizeof(report->message),
                         "STOPPED (stopped at once; running mini-batches were not charged); run "
                         "the same command again to resume");
            break;
        }
        code = after_death(config, child, &end, reported, progress, &k, life, report);
        if (code >= 0) break;
        code = PRS_EXIT_INTERNAL;
    }
    if (!report->message[0]) /* never an empty "prs: " */
        snprintf(report->message, sizeof(report->message),
                 "the runtime ended with exit code %d and no report", code);
    if (!own_end)
        overview_end(config,
                     code == PRS_EXIT_CRASH_LOOP ? "CRASH_LOOP"
                     : code == PRS_EXIT_STOPPED  ? "STOPPED"
                                                 : "FAILED",
                     report->message);
    driver_end(config, code, report->message);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGWINCH, &old_winch, NULL);
    return code;
}
