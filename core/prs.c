/* prs.c -- implements prs.h: the job's lifecycle (prs_job_run), the configuration's
 * defaults and stop requests. prs_supervise, the other half of prs.h, is in supervisor.c.
 *
 * Named after the header it implements, as every core/ file is; tools/prs.c is the CLI's
 * main() and has no header (its object is build/obj/tools/prs.o, this one's
 * build/obj/core/prs.o).
 *
 * Also prs_version and the compile-time check of the ABI's struct sizes (README "ABI").
 * Owns: one job from its options to its exit code: the entry script, the side options and
 *   tables, the input root, the output file, the process-wide prs_global, the set-up of
 *   the workers; and the order of the steps, each done by its module:
 *     config (validate, identity)  ->  jobstate (lock, --fresh, logs, queue, scoreboard)
 *     ->  jobcreate (a new job) or jobstate (resume: same job?)  ->  jobstate (repair)
 *     ->  coord (init, workers, the loop, the result's commit)  ->  jobreport (result).
 * May call: everything in core/, io/ and storage/.
 * Threads: prs_job_run's caller is the coordinator thread; workers and the committer are
 *   started and joined inside it. */
#include "prs.h"

#include "config.h"
#include "failed.h"
#include "coord.h"
#include "crash.h"
#include "script.h"
#include "jobcreate.h"
#include "jobreport.h"
#include "jobstate.h"
#include "outfile.h"
#include "reader.h"
#include "records.h"
#include "scan.h"
#include "side.h"
#include "sidedb.h"
#include "supervisor.h"
#include "worker.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct job {
    const prs_job_config *cfg; /* &own */
    prs_job_config own;        /* the caller's, copied: prs try's pick sets batch_id_base */
    prs_jobreport rep;
    prs_jobstate st;
    prs_coord coord;
    prs_script_lib lib;
    prs_entry_table entry;
    char config_text[PRS_CONFIG_TEXT_BYTES];
    int root_fd;
    prs_outfile out;
    prs_side_config side;
    prs_sidedb *sidedb;
    prs_global global;
    bool global_ready;
    char **init_argv; /* cfg->argv with side-input names substituted */
    prs_workers_shared shared;
    bool finished;       /* the job had finished before: reported, not run */
    bool crash_reserved; /* this job holds the process's crash handlers */
} job;

void prs_job_config_defaults(prs_job_config *c) {
    memset(c, 0, sizeof(*c));
    c->mini_batch_size = 10;
    c->output_action = PRS_OUTPUT_APPEND_ROW;
    c->append_row_file_name = "parallel_run_step.txt";
    c->error_threshold = -1;
    c->allowed_failed_count = -1;
    c->allowed_failed_percent = 100;
    c->run_max_try = 3;
    c->run_invocation_timeout_ms = 60000;
    c->logging_level = PRS_LOG_INFO;
    c->perf_interval_s = 10;
    c->durable = true;
    c->quiet = true; /* an embedder's stderr is its own; the CLI turns progress on */
    c->mini_batch_bytes = 1u << 20;
    /* PRS_IO=auto|uring|sync sets the default, so a whole test suite can run on either
     * path without touching each command line. */
    const char *io = getenv("PRS_IO");
    if (io && !strcmp(io, "uring"))
        c->io_mode = PRS_IO_URING;
    else if (io && !strcmp(io, "sync"))
        c->io_mode = PRS_IO_SYNC;
}

#define VERSION_STR_(x) #x
#define VERSION_STR(x) VERSION_STR_(x)

const char *prs_version(void) {
    return VERSION_STR(PRS_VERSION_MAJOR) "." VERSION_STR(PRS_VERSION_MINOR) "." VERSION_STR(
        PRS_VERSION_PATCH);
}

/* A host built against an older prs.h passes structs of the size it knew: they must not
 * change within libprs.so.0 (LP64; 32-bit targets are not built). */
#if UINTPTR_MAX == UINT64_MAX
/* The enum fields keep the int size the --log-policy setter writes (tools/prs.c). */
_Static_assert(sizeof(enum prs_log_policy) == sizeof(uint32_t),
               "enum prs_log_policy is not int-sized");
_Static_assert(sizeof(prs_job_config) == PRS_JOB_CONFIG_BYTES,
               "prs_job_config changed size: a new field takes the place of reserved words");
_Static_assert(sizeof(prs_job_report) == PRS_JOB_REPORT_BYTES,
               "prs_job_report changed size: a new field takes the place of reserved words");
#endif

void prs_job_request_stop(void) {
    prs_coord_request_stop();
}

/* ---- before OUT is touched: options, side inputs, the entry script ---------------------- */

/* --env, side inputs and side tables resolved; init()'s arguments substituted. Before the
 * script is loaded, so its constructors see the environment too. */
static int job_side_config(job *j) {
    const prs_job_config *c = j->cfg;
    char err[PATH_MAX + 512];
    if (prs_side_apply_env(c->env, c->env_count, err, sizeof(err)))
        return prs_jobreport_fail(&j->rep, PRS_EXIT_USAGE, "%s", err);
    int rc = prs_side_config_build(&j->side, c->side_inputs, c->side_input_count, c->side_tables,
                                   c->side_table_count, err, sizeof(err));
    if (rc)
        return prs_jobreport_fail(&j->rep, rc == -EINVAL ? PRS_EXIT_USAGE : PRS_EXIT_INPUT, "%s",
                                  err);
    char *none[1] = {NULL};
    j->init_argv = prs_side_substitute(&j->side, c->argc, c->argc ? c->argv : none);
    if (!j->init_argv) return prs_jobreport_fail(&j->rep, PRS_EXIT_INTERNAL, "out of memory");
    return 0;
}

static int job_load_entry(job *j) {
    if (!j->cfg->entry_script) {
        j->entry = j->cfg->entry;
        return 0;
    }
    char err[2 * PATH_MAX + 1024]; /* a path can be 4 KiB: the report elides it */
    int rc = prs_script_load(&j->lib, j->cfg->entry_script, err, sizeof(err));
    if (rc) return prs_jobreport_fail(&j->rep, PRS_EXIT_USAGE, "%s", err);
    j->entry = j->lib.table;
    return 0;
}

/* The job's identity text, with the input and the script resolved to absolute paths. */
static int job_identity(job *j) {
    const prs_job_config *c = j->cfg;
    char input[PATH_MAX], script[PATH_MAX], script_id[PRS_CONFIG_SCRIPT_ID_BYTES];
    const char *in = c->input[0] == '@' ? c->input + 1 : c->input;
    if (!realpath(in, input))
        return prs_jobreport_fail(&j->rep, PRS_EXIT_INPUT, "--input %s: %s", c->input,
                                  strerror(errno));
    if (c->entry_script && !realpath(c->entry_script, script))
        snprintf(script, sizeof(script), "%s", c->entry_script);
    int rc =
        c->entry_script ? prs_jobstate_script_identity(script, script_id, sizeof(script_id)) : 0;
    if (rc)
        return prs_jobreport_fail(&j->rep, PRS_EXIT_USAGE, "--entry-script %s: %s", c->entry_script,
                                  strerror(-rc));
    if (prs_config_text(c, input, c->entry_script ? script : NULL,
                        c->entry_script ? script_id : NULL, &j->side, j->config_text,
                        sizeof(j->config_text)))
        return prs_jobreport_fail(&j->rep, PRS_EXIT_USAGE, "the job's options are too long");
    return 0;
}

/* ---- OUT: create or resume ---------------------------------------------------------------- */

static int job_load_side(job *j) {
    char err[PATH_MAX + 1024];
    int code = prs_side_load(&j->side, j->st.state_dir, j->st.log, &j->sidedb, err, sizeof(err));
    return code ? prs_jobreport_fail(&j->rep, code, "%s", err) : 0;
}

/* The directory item paths are relative to (AT_FDCWD for a list or one tabular file). */
static int job_open_root(job *j) {
    struct stat st;
    if (j->cfg->input[0] == '@') {
        j->root_fd = AT_FDCWD;
    } else if (j->cfg->input_format != PRS_FORMAT_FILES && stat(j->cfg->input, &st) == 0 &&
               S_ISREG(st.st_mode)) {
        j->root_fd = AT_FDCWD; /* one input file: its path is stored absolute */
    } else {
        j->root_fd = open(j->cfg->input, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (j->root_fd < 0)
            return prs_jobreport_fail(&j->rep, PRS_EXIT_INPUT, "--input %s: %s", j->cfg->input,
                                      strerror(errno));
    }
    return 0;
}

/* A new job is created (its tables loaded first: a bad table leaves no job behind, so
 * fixing the option is not refused as "a different job"); a stored one must match. */
static int job_prepare(job *j) {
    int code = job_identity(j);
    if (code) return code;
    if (prs_queue_created(j->st.queue))
        return prs_jobstate_check_resume(&j->st, j->cfg, j->config_text, &j->rep);
    if (j->cfg->retry_failed)
        return prs_jobreport_fail(&j->rep, PRS_EXIT_USAGE,
                                  "--retry-failed: %s holds no job to retry (run it without "
                                  "--retry-failed first)",
                                  j->cfg->output_dir);
    if ((code = prs_jobstate_check_new(&j->st, j->cfg, &j->rep))) return code;
    if ((code = job_load_side(j))) return code;
    return prs_jobcreate_run(j->st.queue, j->cfg, j->root_fd, j->config_text, j->st.state_dir,
                             &j->rep, &j->own.batch_id_base);
}

/* The output file, truncated to the committed length (append_row only). */
static int job_open_output(job *j) {
    snprintf(j->rep.output_path, sizeof(j->rep.output_path), "%s/%s", j->st.out_dir,
             j->cfg->append_row_file_name);
    if (j->cfg->output_action != PRS_OUTPUT_APPEND_ROW) return 0;
    prs_queue_counts qc;
    int rc = prs_queue_counts_get(j->st.queue, &qc);
    if (rc)
        return prs_jobreport_fail(&j->rep, PRS_EXIT_INTERNAL, "job state: counters unreadable: %s",
                                  strerror(-rc));
    char err[2 * PATH_MAX + 1024];
    rc = prs_outfile_open(&j->out, j->rep.output_path, qc.output_bytes, err, sizeof(err));
    if (rc)
        return prs_jobreport_fail(&j->rep, rc == -EBADMSG ? PRS_EXIT_USAGE : PRS_EXIT_INTERNAL,
                                  "%s", err);
    return 0;
}

/* ---- the workers ---------------------------------------------------------------------- */

/* Probes the I/O path once, here, so the log says which one runs and why, and an
 * explicit --io uring that cannot work fails before any batch starts. */
static int job_probe_io(job *j, enum prs_io_mode *io) {
    char why[PRS_READER_WHY_BYTES];
    prs_reader *probe;
    int rc = prs_reader_create(&probe, j->root_fd, (enum prs_io_mode)j->cfg->io_mode, 0, why,
                               sizeof(why));
    if (rc)
        return prs_jobreport_fail(&j->rep, PRS_EXIT_USAGE,
                                  "--io uring: io_uring cannot be used here: %s", why);
    *io = prs_reader_uses_uring(probe) ? PRS_IO_URING : PRS_IO_SYNC;
    prs_reader_destroy(probe);
    prs_joblog_master(j->st.log, "input I/O (--io %s): %s",
                      j->cfg->io_mode == PRS_IO_URING  ? "uring"
                      : j->cfg->io_mode == PRS_IO_SYNC ? "sync"
                                                       : "auto",
                      why);
    if (*io == PRS_IO_URING) {
        int lrc = prs_joblog_use_uring(j->st.log);
        prs_joblog_master(j->st.log, "log files: written through %s%s",
                          lrc ? "write(2): io_uring: " : "io_uring", lrc ? strerror(-lrc) : "");
    } else {
        prs_joblog_master(j->st.log,
                          "log files: written through write(2), as the input side reads");
    }
    return 0;
}

/* Once per process, before any worker: what prs_global_init builds every worker reads. */
static int job_global_init(job *j) {
    j->global.side = &j->side;
    if (!j->entry.global_init) return 0;
    int rc = j->entry.global_init(&j->global, j->cfg->argc, j->init_argv);
    if (rc)
        return prs_jobreport_fail(&j->rep, PRS_EXIT_INIT_FAILED,
                                  "prs_global_init returned %d: no worker started", rc);
    j->global_ready = true;
    prs_joblog_master(j->st.log, "prs_global_init done");
    return 0;
}

static int job_start(job *j) {
    int cpus[CPU_SETSIZE];
    uint32_t ncpu = prs_workers_cpus(cpus, CPU_SETSIZE);
    uint32_t n = j->cfg->workers ? j->cfg->workers : ncpu;
    prs_coord_deps deps = {
        .cfg = j->cfg,
        .rep = &j->rep,
        .log = j->st.log,
        .queue = j->st.queue,
        .scoreboard = j->st.scoreboard,
        .out = j->cfg->output_action == PRS_OUTPUT_APPEND_ROW ? &j->out : NULL,
        .out_dir = j->st.out_dir,
        .state_dir = j->st.state_dir,
    };
    int code = prs_coord_init(&j->coord, &deps, n);
    if (code) return code;
    if (prs_coord_nothing_pending(&j->coord)) {
        prs_joblog_master(j->st.log, "nothing pending: the job finishes without starting workers");
        n = 0;
    }
    enum prs_io_mode io = PRS_IO_SYNC;
    if ((code = job_probe_io(j, &io))) return code;
    j->shared = (prs_workers_shared){.config = j->cfg,
                                     .entry = &j->entry,
                                     .queue = j->st.queue,
                                     .log = j->st.log,
                                     .input_root_fd = j->root_fd,
                                     .output_dir = j->st.out_dir,
                                     .dispatch = &j->coord.dispatch,
                                     .done = &j->coord.done,
                                     .scoreboard = j->st.scoreboard,
                                     .io_mode = io,
                                     .format = (enum prs_format)j->cfg->input_format,
                                     .argc = j->cfg->argc,
                                     .argv = j->init_argv,
                                     .side = &j->side,
                                     .sidedb = j->sidedb,
                                     .global = &j->global,
                                     .entry_ready = j->lib.ready};
    if (n == 0) return 0;
    if ((code = job_global_init(j))) return code;
    /* More workers than CPUs is allowed: they are placed round-robin over the CPUs. */
    prs_joblog_master(j->st.log, "starting %u workers on %u CPUs%s", n, ncpu,
                      n > ncpu ? " (more workers than CPUs: placed round-robin)" : "");
    /* Worker threads (the entry script's) never take a SIGWINCH (a resize of the terminal,
     * forwarded for the progress bar): a sleep or poll of the script must not end early.
     * They inherit this mask; the other threads are prs's own. */
    sigset_t winch, old;
    sigemptyset(&winch);
    sigaddset(&winch, SIGWINCH);
    pthread_sigmask(SIG_BLOCK, &winch, &old);
    int rc = prs_workers_start(&j->coord.workers, n, cpus, ncpu, &j->shared);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc)
        return prs_jobreport_fail(&j->rep, PRS_EXIT_INTERNAL, "cannot start worker %u: %s",
                                  prs_workers_started(j->coord.workers), strerror(-rc));
    pthread_t threads[PRS_MAX_WORKERS];
    for (uint32_t i = 0; i < n; i++)
        threads[i] = prs_worker_thread(prs_workers_get(j->coord.workers, i));
    prs_jobreport_perf_start(&j->rep, threads, n);
    return 0;
}

/* ---- the run -------------------------------------------------------------------------- */

static int job_result_code(const job *j, enum prs_job_state st) {
    if (st == PRS_JOB_SUCCEEDED) return PRS_EXIT_OK;
    if (st == PRS_JOB_STOPPED) return PRS_EXIT_STOPPED;
    return j->coord.sched.reason == PRS_REASON_INIT_FAILED ? PRS_EXIT_INIT_FAILED
                                                           : PRS_EXIT_THRESHOLD;
}

/* Everything up to a job ready to run: options, OUT's state, creation or resume, repair,
 * the output file. */
static int job_open(job *j) {
    char err[1024];
    const prs_job_config *c = j->cfg;
    if (prs_config_validate(c, err, sizeof(err)))
        return prs_jobreport_fail(&j->rep, PRS_EXIT_USAGE, "%s", err);
    /* Before OUT is made: a job walking its own state, logs and rows as input. */
    if (c->input[0] != '@' && prs_scan_within(c->input, c->output_dir))
        return prs_jobreport_fail(&j->rep, PRS_EXIT_USAGE,
                                  "--output %s is inside --input %s: the job would read its own "
                                  "output, state and logs as input; choose an output directory "
                                  "outside the input",
                                  c->output_dir, c->input);
    int code;
    if ((code = job_side_config(j))) return code;
    if ((code = job_load_entry(j))) return code;
    if ((code = prs_jobstate_open(&j->st, j->cfg, &j->rep))) return code;
    /* A tabular job is cut from the files at creation: their root is needed first. */
    if (j->cfg->input_format != PRS_FORMAT_FILES && (code = job_open_root(j))) return code;
    if ((code = job_prepare(j))) return code;
    if (j->cfg->retry_failed && (code = prs_jobstate_retry_failed(&j->st, &j->rep))) return code;
    prs_jobreport_retry(&j->rep, j->st.queue);
    if ((j->finished = prs_jobstate_finished(&j->st, &j->rep, &code))) return code;
    if ((code = job_load_side(j))) return code; /* a resume: reuse, or refuse a changed file */
    if ((code = prs_jobstate_repair(&j->st, j->cfg, &j->rep))) return code;
    if (j->root_fd < 0 && (code = job_open_root(j))) return code;
    prs_coord_restore_first_error(&j->coord, j->st.queue);
    if ((code = job_open_output(j))) return code;
    char err2[2048]; /* a Python script is imported once, with the log open */
    if ((code = prs_script_check(&j->lib, j->cfg, j->cfg->argc, j->init_argv, j->st.log, err2,
                                 sizeof(err2))))
        return prs_jobreport_fail(&j->rep, code, "%s", err2);
    return 0;
}

/* OUT/logs/failed_items.txt, at the end of a job (empty when nothing failed). A failure to
 * write it is logged, not the job's result. */
static void job_list_failed(job *j) {
    char path[PATH_MAX + 64], err[PATH_MAX + 256];
    uint64_t items = 0;
    snprintf(path, sizeof(path), "%s/failed_items.txt", prs_joblog_dir(j->st.log));
    int rc = prs_failed_write(j->st.queue, j->cfg->input, (enum prs_format)j->cfg->input_format,
                              path, &items, err, sizeof(err));
    if (rc)
        prs_joblog_master(j->st.log, "warning: logs/failed_items.txt not written: %s", err);
    else
        prs_joblog_master(j->st.log,
                          "logs/failed_items.txt: %llu items of failed mini-batches (rerun them "
                          "with --retry-failed, or --input @%s)",
                          (unsigned long long)items, path);
}

/* A commit that failed (a full disk, mostly) stops the job (PRS_EXIT_STOPPED): unless its
 * message already names the file (a row append does), say which files a commit writes. */
static int job_commit_failed(job *j, int code) {
    if (code != PRS_EXIT_STOPPED || strstr(j->rep.report->message, j->st.out_dir)) return code;
    char why[sizeof(j->rep.report->message)];
    snprintf(why, sizeof(why), "%s", j->rep.report->message);
    return prs_jobreport_fail(&j->rep, code,
                              "%s (a commit writes %s/data.mdb, after syncing %s); free space if "
                              "the disk is full and run the same command again: the job resumes",
                              why, j->st.state_dir, j->rep.output_path);
}

static int job_run(job *j) {
    int code = job_open(j);
    if (code || j->finished) return code;
    if ((code = job_start(j))) return code;
    const prs_sched_counts *c = &j->coord.sched.counts;
    prs_joblog_master(j->st.log, "running: %llu of %llu mini-batches left",
                      (unsigned long long)(c->total_batches - prs_counts_finished_batches(c)),
                      (unsigned long long)c->total_batches);
    if ((code = prs_coord_run(&j->coord))) return job_commit_failed(j, code);
    prs_coord_flush(&j->coord);
    prs_coord_stop_workers(&j->coord); /* their last words (a late init failure) count */
    enum prs_job_state st = prs_sched_result(&j->coord.sched);
    /* ParallelRunStep fails a job in which no mini-batch item succeeded, whatever the
     * thresholds allow. */
    bool none_ok = st == PRS_JOB_SUCCEEDED && c->total_items > 0 && c->succeeded_items == 0;
    if (none_ok) st = PRS_JOB_FAILED;
    code = none_ok ? PRS_EXIT_THRESHOLD : job_result_code(j, st);
    prs_jobreport_result(&j->rep, &j->coord.sched, st, none_ok);
    int failed = prs_coord_finish(&j->coord, code, st);
    if (failed) return job_commit_failed(j, failed);
    prs_jobreport_result_log(&j->rep); /* committed: only now is it the job's result */
    job_list_failed(j);
    prs_jobreport_overview(&j->rep, &j->coord.sched, j->coord.output_bytes, j->coord.first_error,
                           prs_sched_state_text(st));
    return code;
}

static void *job_global_shutdown_main(void *arg) {
    job *j = arg;
    j->entry.global_shutdown(&j->global);
    return NULL;
}

/* prs_global_shutdown, bounded like the workers' prs_shutdown; false if it did not return
 * (its thread runs on) or a worker hung (which may still use what the global holds: it is
 * not called then). */
static bool job_global_shutdown(job *j) {
    if (j->coord.workers_hung) return false;
    if (!j->global_ready || !j->entry.global_shutdown) return true;
    pthread_t t;
    if (pthread_create(&t, NULL, job_global_shutdown_main, j) != 0) {
        j->entry.global_shutdown(&j->global); /* no thread to bound it with */
        return true;
    }
    struct timespec by = prs_coord_shutdown_deadline(&j->coord);
    if (pthread_timedjoin_np(t, NULL, &by) == 0) return true;
    prs_joblog_master(j->st.log,
                      "prs_global_shutdown did not return within %llu ms: the runtime ends "
                      "without it; what is committed is final",
                      (unsigned long long)prs_coord_shutdown_bound_ms(&j->coord));
    return false;
}

/* Undoes job_run in reverse, whatever step it reached: workers stop before the process
 * state they use goes, the committer lands what it was handed, the report gets its
 * counts and, on failure, the overview its state. */
static void job_close(job *j, int code) {
    prs_coord_stop_workers(&j->coord);
    bool ended = job_global_shutdown(j);
    prs_coord_close(&j->coord);
    if (j->st.queue) {
        prs_queue_counts c;
        if (j->coord.sched.limits.slots) {
            prs_coord_counts(&j->coord, &c);
            prs_jobreport_counts(&j->rep, &c);
        } else if (prs_queue_counts_get(j->st.queue, &c) == 0) {
            prs_jobreport_counts(&j->rep, &c);
        }
    }
    if (!ended && j->cfg->supervised) {
        /* Threads stuck in the script hold what the rest would free: end here, with the
         * result committed before. */
        prs_joblog_sync(j->st.log);
        prs_joblog_flush(j->st.log, 2000);
        prs_supervisor_exit(code, j->rep.report);
    }
    if (j->crash_reserved) prs_crash_release(); /* the host's handlers back */
    if (code && j->st.log && j->st.queue && prs_queue_created(j->st.queue))
        prs_jobreport_overview(&j->rep, &j->coord.sched, j->coord.output_bytes,
                               j->coord.first_error,
                               code == PRS_EXIT_STOPPED ? "STOPPED" : "FAILED");
    prs_outfile_close(&j->out);
    prs_jobreport_close(&j->rep, &j->coord.sched); /* before the capture of stderr ends */
    prs_sidedb_close(j->sidedb);
    free(j->init_argv);
    prs_jobstate_close(&j->st);
    if (j->root_fd >= 0) close(j->root_fd);
    prs_script_unload(&j->lib);
}

/* The process-wide handlers the host asked for (prs_job_config.handlers), claimed before
 * OUT is touched: one job of a process holds them at a time. */
static int job_reserve_handlers(job *j) {
    if (!(j->cfg->handlers & PRS_HANDLE_CRASHES)) return 0;
    if (prs_crash_reserve() != 0)
        return prs_jobreport_fail(&j->rep, PRS_EXIT_USAGE,
                                  "PRS_HANDLE_CRASHES: another job of this process holds the "
                                  "crash handlers (one job at a time may; run this one without "
                                  "them)");
    j->crash_reserved = true;
    return 0;
}

int prs_job_run(const prs_job_config *config, prs_job_report *report) {
    prs_job_report local;
    job *j = calloc(1, sizeof(*j));
    if (!j) return PRS_EXIT_INTERNAL;
    j->own = *config;
    j->cfg = &j->own;
    prs_jobreport_init(&j->rep, j->cfg, report ? report : &local);
    j->st.lock_fd = -1;
    j->root_fd = -1;
    j->out.fd = -1;
    /* A supervised runtime is a new process: a stop that came before the job began is its. */
    j->coord.stop_base = config->supervised ? 0 : prs_coord_stop_mark();
    int code = job_reserve_handlers(j);
    if (code == 0) code = job_run(j);
    job_close(j, code);
    free(j);
    return code;
}
