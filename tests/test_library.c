/* Embedding behaves like a library: quiet by default, the host's log callback, crash
 * handlers only when asked (and the host's put back), no state left between jobs of one
 * process, two jobs at once on different OUTs, two holders of the crash handlers refused. */
#include "prs.h"
#include "util.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MAX_MS 20000 /* every wait below gives up (and fails) after this */

static void sleep_ms(unsigned ms) {
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* Waits until *v >= want; false after WAIT_MAX_MS. */
static bool wait_at_least(atomic_int *v, int want) {
    for (int ms = 0; ms < WAIT_MAX_MS; ms += 5) {
        if (atomic_load(v) >= want) return true;
        sleep_ms(5);
    }
    return false;
}

static int upper_rows(const prs_batch *batch, prs_out *out) {
    for (uint32_t i = 0; i < batch->count; i++) {
        char row[300];
        int n = snprintf(row, sizeof(row), "%.*s", (int)batch->items[i].size,
                         (const char *)batch->items[i].data);
        prs_emit(out, row, (size_t)n);
    }
    return 0;
}

/* dir/name into out; a path that does not fit fails the test. */
static void path_of(char *out, size_t size, const char *dir, const char *name) {
    int n = snprintf(out, size, "%s/%s", dir, name);
    cr_assert(n > 0 && (size_t)n < size, "path too long: %s/%s", dir, name);
}

typedef struct fixture {
    char dir[256], in[300], out[300];
} fixture;

static void fixture_make(fixture *f, const char *tag, unsigned files) {
    tu_tmpdir(f->dir, sizeof(f->dir), tag);
    path_of(f->in, sizeof(f->in), f->dir, "in");
    path_of(f->out, sizeof(f->out), f->dir, "out");
    tu_dataset(f->in, files);
}

/* A job over f with run, defaults otherwise (quiet is the default's). */
static void config_for(prs_job_config *c, const fixture *f, prs_run_fn run) {
    prs_job_config_defaults(c);
    c->entry = (prs_entry_table){.run = run};
    c->input = f->in;
    c->output_dir = f->out;
    c->workers = 2;
    c->mini_batch_size = 3;
    c->durable = false;
}

static size_t rows_of(const fixture *f) {
    char path[512];
    path_of(path, sizeof(path), f->out, "parallel_run_step.txt");
    char *rows = tu_read(path, NULL);
    size_t n = rows ? tu_count_lines(rows) : 0;
    free(rows);
    return n;
}

/* ---- quiet by default; the log callback --------------------------------------------------- */

static int plain_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    (void)ctx;
    return upper_rows(batch, out);
}

typedef struct sink {
    pthread_mutex_t lock;
    char text[65536];
    size_t len;
    int lines, bad_levels;
} sink;

static void sink_line(void *arg, int level, const char *line, size_t len) {
    sink *s = arg;
    pthread_mutex_lock(&s->lock);
    if (level < PRS_LOG_DEBUG || level > PRS_LOG_CRITICAL) s->bad_levels++;
    if (memchr(line, '\n', len)) s->bad_levels++; /* one line, without its newline */
    if (s->len + len + 1 < sizeof(s->text)) {
        memcpy(s->text + s->len, line, len);
        s->len += len;
        s->text[s->len++] = '\n';
        s->text[s->len] = 0;
    }
    s->lines++;
    pthread_mutex_unlock(&s->lock);
}

Test(library, quiet_by_default_and_master_lines_reach_the_log_callback, .timeout = 60) {
    fixture f;
    fixture_make(&f, "lib-quiet", 10);
    static sink s = {.lock = PTHREAD_MUTEX_INITIALIZER};
    prs_job_config c;
    config_for(&c, &f, plain_run);
    cr_assert(c.quiet, "prs_job_config_defaults must leave an embedded job quiet");
    c.log_fn = sink_line;
    c.log_arg = &s;
    /* The job's stderr goes to a file: nothing may arrive there. */
    char err_path[512];
    path_of(err_path, sizeof(err_path), f.dir, "stderr.txt");
    int saved = dup(2), fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    prs_job_report rep;
    int code = prs_job_run(&c, &rep);
    dup2(saved, 2);
    close(saved);
    close(fd);
    cr_assert_eq(code, PRS_EXIT_OK, "%s", rep.message);
    size_t err_len = 0;
    char *err = tu_read(err_path, &err_len);
    cr_assert_eq(err_len, 0, "an embedded job wrote to stderr: %s", err);
    free(err);
    /* What the callback got is master.txt's lines, in order, without the stamps. */
    char path[512];
    path_of(path, sizeof(path), f.out, "logs/sys/master.txt");
    char *master = tu_read(path, NULL);
    cr_assert_eq(s.bad_levels, 0);
    cr_assert_eq((size_t)s.lines, tu_count_lines(master), "callback %d lines, master.txt:\n%s",
                 s.lines, master);
    cr_assert(strstr(s.text, "running: "), "%s", s.text);
    char *first_nl = strchr(s.text, '\n');
    cr_assert(first_nl);
    *first_nl = 0;
    cr_assert(strstr(master, s.text), "the first callback line '%s' is not in master.txt", s.text);
    free(master);
    tu_rmrf(f.dir);
}

/* ---- two jobs in a row: the first stopped by the host ------------------------------------- */

static int stopping_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    (void)ctx;
    prs_job_request_stop(); /* the host asks the running job to stop */
    return upper_rows(batch, out);
}

Test(library, jobs_in_a_row_share_nothing_even_after_a_stop, .timeout = 120) {
    fixture a, b;
    fixture_make(&a, "lib-row-a", 30);
    fixture_make(&b, "lib-row-b", 17);
    prs_job_config c;
    prs_job_report rep;
    config_for(&c, &a, stopping_run);
    c.workers = 1;
    cr_assert_eq(prs_job_run(&c, &rep), PRS_EXIT_STOPPED, "%s", rep.message);
    cr_assert_lt(rep.succeeded_items, 30);
    /* The stop was the first job's: the next jobs of this process run to their end. */
    config_for(&c, &b, plain_run);
    cr_assert_eq(prs_job_run(&c, &rep), PRS_EXIT_OK, "%s", rep.message);
    cr_assert_eq(rep.succeeded_items, 17);
    cr_assert_eq(rows_of(&b), 17);
    config_for(&c, &a, plain_run); /* and the stopped one resumes */
    cr_assert_eq(prs_job_run(&c, &rep), PRS_EXIT_OK, "%s", rep.message);
    cr_assert_eq(rep.succeeded_items, 30);
    cr_assert_eq(rows_of(&a), 30);
    tu_rmrf(a.dir);
    tu_rmrf(b.dir);
}

/* ---- crash handlers: only when asked, the host's restored -------------------------------- */

static void host_handler(int sig) {
    (void)sig;
}

static bool is_host_handler(int sig) {
    struct sigaction now;
    sigaction(sig, NULL, &now);
    return now.sa_handler == host_handler;
}

static atomic_int seen_host_handler, seen_other_handler;

static int probing_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    (void)ctx;
    if (is_host_handler(SIGSEGV) && is_host_handler(SIGABRT))
        atomic_fetch_add(&seen_host_handler, 1);
    else
        atomic_fetch_add(&seen_other_handler, 1);
    return upper_rows(batch, out);
}

Test(library, crash_handlers_only_when_asked_and_the_hosts_put_back, .timeout = 120) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = host_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGABRT, &sa, NULL);
    fixture f, g;
    fixture_make(&f, "lib-sig-a", 9);
    fixture_make(&g, "lib-sig-b", 9);
    prs_job_config c;
    prs_job_report rep;
    config_for(&c, &f, probing_run); /* handlers = 0: the default */
    cr_assert_eq(prs_job_run(&c, &rep), PRS_EXIT_OK, "%s", rep.message);
    cr_assert_eq(atomic_load(&seen_other_handler), 0, "the job replaced the host's handlers");
    cr_assert_gt(atomic_load(&seen_host_handler), 0);
    cr_assert(is_host_handler(SIGSEGV) && is_host_handler(SIGABRT));
    atomic_store(&seen_host_handler, 0);
    config_for(&c, &g, probing_run);
    c.handlers = PRS_HANDLE_CRASHES;
    cr_assert_eq(prs_job_run(&c, &rep), PRS_EXIT_OK, "%s", rep.message);
    cr_assert_eq(atomic_load(&seen_host_handler), 0, "PRS_HANDLE_CRASHES: no handler installed");
    cr_assert_gt(atomic_load(&seen_other_handler), 0);
    cr_assert(is_host_handler(SIGSEGV) && is_host_handler(SIGABRT),
              "the host's handlers were not put back");
    tu_rmrf(f.dir);
    tu_rmrf(g.dir);
}

/* ---- two jobs at once ---------------------------------------------------------------------- */

static atomic_int jobs_in_run, overlapped;

/* Holds each job's first batches until both jobs are inside run(). */
static int meeting_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    (void)ctx;
    static _Thread_local bool counted;
    if (!counted) {
        counted = true;
        atomic_fetch_add(&jobs_in_run, 1);
    }
    if (wait_at_least(&jobs_in_run, 2)) atomic_store(&overlapped, 1);
    return upper_rows(batch, out);
}

typedef struct job_thread {
    prs_job_config c;
    prs_job_report rep;
    int code;
} job_thread;

static void *job_thread_main(void *arg) {
    job_thread *t = arg;
    t->code = prs_job_run(&t->c, &t->rep);
    return NULL;
}

Test(library, two_jobs_at_once_on_different_outs, .timeout = 120) {
    fixture f[2];
    static job_thread t[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        fixture_make(&f[i], i ? "lib-conc-b" : "lib-conc-a", 20 + (unsigned)i);
        config_for(&t[i].c, &f[i], meeting_run);
        t[i].c.workers = 1;
        cr_assert_eq(pthread_create(&th[i], NULL, job_thread_main, &t[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    cr_assert(atomic_load(&overlapped), "the two jobs never ran at the same time");
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(t[i].code, PRS_EXIT_OK, "job %d: %s", i, t[i].rep.message);
        cr_assert_eq(t[i].rep.succeeded_items, 20u + (unsigned)i);
        cr_assert_eq(rows_of(&f[i]), 20u + (unsigned)i);
        tu_rmrf(f[i].dir);
    }
}

static atomic_int holder_running, second_done;

/* The first job keeps its crash handlers until the second job has returned. */
static int holding_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    (void)ctx;
    atomic_store(&holder_running, 1);
    wait_at_least(&second_done, 1);
    return upper_rows(batch, out);
}

Test(library, a_second_holder_of_the_crash_handlers_is_refused, .timeout = 120) {
    fixture f, g;
    fixture_make(&f, "lib-hold-a", 6);
    fixture_make(&g, "lib-hold-b", 6);
    static job_thread t;
    config_for(&t.c, &f, holding_run);
    t.c.workers = 1;
    t.c.handlers = PRS_HANDLE_CRASHES;
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, job_thread_main, &t), 0);
    bool started = wait_at_least(&holder_running, 1);
    prs_job_config c;
    prs_job_report rep;
    config_for(&c, &g, plain_run);
    c.handlers = PRS_HANDLE_CRASHES;
    int code = prs_job_run(&c, &rep);
    atomic_store(&second_done, 1);
    pthread_join(th, NULL);
    cr_assert(started, "the first job never ran");
    cr_assert_eq(code, PRS_EXIT_USAGE, "a second holder: %d: %s", code, rep.message);
    cr_assert(strstr(rep.message, "crash handlers"), "%s", rep.message);
    cr_assert_eq(t.code, PRS_EXIT_OK, "%s", t.rep.message);
    cr_assert_eq(t.rep.succeeded_items, 6);
    /* The first job gave them back when it returned: now the second may hold them. */
    config_for(&c, &g, plain_run);
    c.handlers = PRS_HANDLE_CRASHES;
    cr_assert_eq(prs_job_run(&c, &rep), PRS_EXIT_OK, "%s", rep.message);
    cr_assert_eq(rep.succeeded_items, 6);
    tu_rmrf(f.dir);
    tu_rmrf(g.dir);
}

/* libprs.a leaves the Python host out (the edge footprint; prs and libprs.so have it): a
 * program linked with libprs.a alone, as this test is, refuses a *.py script naming why,
 * and runs no batch. */
Test(library, a_python_script_without_the_host_is_refused_naming_why, .timeout = 60) {
    fixture f;
    fixture_make(&f, "lib-nopy", 3);
    char script[512];
    path_of(script, sizeof(script), f.dir, "score.py");
    FILE *py = fopen(script, "w");
    cr_assert(py);
    fputs("def run(batch):\n    return batch\n", py);
    fclose(py);
    prs_job_config c;
    config_for(&c, &f, NULL);
    c.entry = (prs_entry_table){0};
    c.entry_script = script;
    prs_job_report rep;
    int code = prs_job_run(&c, &rep);
    cr_assert_neq(code, PRS_EXIT_OK, "a .py script ran without the Python host");
    cr_assert(strstr(rep.message, "linked without prs's Python host"), "%s", rep.message);
    cr_assert_eq(rep.succeeded_items, 0);
    tu_rmrf(f.dir);
}
