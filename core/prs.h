/* prs.h -- embedding prs: configure and run a job from a program.
 *
 * A job: items from --input are split into mini-batches kept in an LMDB queue under
 * OUT/.prs/; worker threads run the entry script on them; rows go to one output file;
 * logs go to OUT/logs/. prs_job_run blocks until the job ends and returns an exit code
 * (PRS_EXIT_*), the same the CLI exits with. Running it again on the same OUT resumes an
 * unfinished job; a finished one is reported, not re-run.
 * Threads: prs_job_run may be called from any thread, one job per OUT at a time. The
 * entry functions are called from worker threads (see prs_entry.h). */
#ifndef PRS_H
#define PRS_H

#include "prs_entry.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header; the library's own is prs_version(). The ABI rule (README
 * "ABI"): within SONAME libprs.so.0 no exported function is removed or changes meaning,
 * and prs_job_config / prs_job_report keep their size (new fields take reserved space); a
 * MINOR release may add functions and fields, a PATCH release changes no interface. */
#define PRS_VERSION_MAJOR 0
#define PRS_VERSION_MINOR 1
#define PRS_VERSION_PATCH 0
/* The sizes of prs_job_config and prs_job_report (LP64), fixed within libprs.so.0. */
#define PRS_JOB_CONFIG_BYTES 384u
#define PRS_JOB_REPORT_BYTES 1152u

/* "MAJOR.MINOR.PATCH" of the library in use (a host may run against a newer libprs.so.0
 * than the header it was built with). Any thread; static storage. */
PRS_API const char *prs_version(void);

enum prs_exit {
    PRS_EXIT_OK = 0,          /* the job succeeded (failed items within thresholds) */
    PRS_EXIT_THRESHOLD = 1,   /* a failure threshold was exceeded: the job failed */
    PRS_EXIT_USAGE = 2,       /* bad usage or configuration (names the option) */
    PRS_EXIT_INPUT = 3,       /* the input cannot be read (names the path) */
    PRS_EXIT_INIT_FAILED = 4, /* the entry script's init failed on every worker */
    PRS_EXIT_STOPPED = 5,     /* stopped before the end (signal, full disk): resumable */
    PRS_EXIT_CRASH_LOOP = 6,  /* the runtime kept dying without progress: resumable */
    PRS_EXIT_INTERNAL = 70,   /* a bug or an environment failure (names what failed) */
    PRS_EXIT_RESTART = 75,    /* internal: a supervised runtime asks to be restarted */
};

enum prs_output_action { PRS_OUTPUT_APPEND_ROW = 0, PRS_OUTPUT_SUMMARY_ONLY };
/* A full log ring (prs_job_config.log_policy): wait (bounded back-off) or drop and count. */
enum prs_log_policy { PRS_LOG_POLICY_WAIT = 0, PRS_LOG_POLICY_DROP = 1 };

typedef struct prs_entry_table {
    prs_init_fn init;                       /* optional */
    prs_run_fn run;                         /* required */
    prs_shutdown_fn shutdown;               /* optional */
    prs_global_init_fn global_init;         /* optional, once per process */
    prs_global_shutdown_fn global_shutdown; /* optional */
} prs_entry_table;

#define PRS_MAX_WORKERS 256u

/* A log line for the host (prs_job_config.log_fn): level is PRS_LOG_*, line is not
 * NUL-terminated and has no newline. Called from prs's log flusher thread, one line at a
 * time, while prs_job_run (or, in the child, prs_supervise) runs; it must return quickly
 * and must not call into prs. */
typedef void (*prs_log_line_fn)(void *arg, int level, const char *line, size_t len);

/* prs_job_config.handlers. PRS_HANDLE_CRASHES: handlers for SIGSEGV, SIGBUS, SIGFPE,
 * SIGILL and SIGABRT that write a crash file for the batch that crashed, then let the
 * process die (what prs_supervise's runtime child uses to charge that batch one try). At
 * most one job of a process holds them at a time: a second is refused (PRS_EXIT_USAGE). */
#define PRS_HANDLE_CRASHES 1u

typedef struct prs_job_config {
    const char *entry_script; /* shared object path, or a Python script (*.py, run by a
                               * host process per worker); or NULL and set entry */
    prs_entry_table entry;    /* used when entry_script is NULL */
    const char *input;        /* a directory, @FILE listing one path a line, or (tabular
                               * formats only) one input file */
    const char *output_dir;   /* OUT */
    uint32_t mini_batch_size; /* files per batch, >= 1 (default 10) */
    uint32_t workers;         /* 0: CPUs in the affinity mask */
    enum prs_output_action output_action;
    const char *append_row_file_name;   /* default parallel_run_step.txt */
    int64_t error_threshold;            /* failed items tolerated, -1 ignore (default -1) */
    int64_t allowed_failed_count;       /* failed batches tolerated, -1 ignore (default -1) */
    uint32_t allowed_failed_percent;    /* 0..100, 100 ignore (default 100) */
    uint32_t run_max_try;               /* >= 1 (default 3) */
    uint64_t run_invocation_timeout_ms; /* one run() at most; 0 = none (default 60 s) */
    int logging_level;                  /* PRS_LOG_* (default INFO) */
    enum prs_log_policy log_policy;     /* ring full: wait (default) or drop */
    uint32_t perf_interval_s;           /* logs/sys/perf sample period, >= 1 (default 10) */
    bool durable;                       /* sync output and queue on commit (default true) */
    bool quiet;      /* no progress lines on stderr (default true: only the CLI draws them) */
    bool fresh;      /* discard OUT's job state and output file first, instead of resuming */
    bool supervised; /* set by prs_supervise: a hung run() ends the process for a restart */
    int argc;        /* arguments for init(): argv[0] is the script */
    char **argv;
    /* Side inputs "NAME=PATH", side tables "NAME=FILE[,key=COLUMN][,format=csv|tsv|jsonl]"
     * (see prs run --help), and "K=V" environment variables set (setenv) before the entry
     * script is loaded: the process must not run other threads that read the environment
     * meanwhile. Arguments in argv[1..] equal to a side input's NAME become its path. */
    const char *const *side_inputs;
    uint32_t side_input_count;
    const char *const *side_tables;
    uint32_t side_table_count;
    const char *const *env;
    uint32_t env_count;
    /* Appended fields (the struct only grows at its end). */
    uint32_t io_mode;          /* 0 auto (default), 1 io_uring, 2 sync; default from PRS_IO */
    uint32_t input_format;     /* 0 files (default), 1 csv, 2 tsv, 3 jsonl, 4 lines */
    uint64_t mini_batch_bytes; /* tabular formats: bytes per mini-batch (default 1 MiB) */
    /* One shard of a job split into shard_count (0: not sharded; core/shard.h): this run
     * creates and runs only the shard_index-th contiguous range of the job's mini-batches.
     * Both, and the thresholds, are then part of the job's identity in output_dir. */
    uint32_t shard_index;
    uint32_t shard_count;
    /* prs_supervise calls supervisor_tick(supervisor_tick_arg) in the supervising process,
     * never in the runtime, about every supervisor_tick_ms while a runtime life runs and
     * no stop was asked (0 or NULL: never). It delays the supervisor's watch while it
     * runs, so it must return quickly; the CLI rewrites logs/report.html from it. */
    void (*supervisor_tick)(void *arg);
    void *supervisor_tick_arg;
    uint64_t supervisor_tick_ms;
    /* Python entry scripts (entry_script ending in .py; the protocol: prs_host.h). */
    const char *python;     /* the interpreter (default /usr/bin/python3; a venv's works) */
    const char *python_dir; /* prs's prs_host.py; NULL: $PRS_PYTHON_DIR, else beside the
                             * binary (../core/python, ../share/prs/python) */
    uint32_t row_format;    /* a DataFrame result's rows: 0 space-separated (default, as
                             * ParallelRunStep), 1 csv, 2 tsv, 3 jsonl */
    bool append_row_dataframe_header;   /* write a DataFrame's header once, as line one */
    uint32_t gpus;                      /* host processes get CUDA_VISIBLE_DEVICES = worker
                                         * mod gpus (0: as detected, none without) */
    uint64_t worker_memory_limit_bytes; /* a host's address space at most (RLIMIT_AS); 0:
                                         * none. Past it the host is ended, the try fails */
    /* When this run of the job began (Unix ms; prs_supervise sets it for every runtime
     * life): overview.txt's elapsed counts from it, across restarts. 0: this process's
     * start. */
    uint64_t run_started_unix_ms;
    /* prs try: what the scratch job's batches are numbered from, so that the script (and
     * its log and error lines) sees the real job's mini-batch id. 0 otherwise. */
    uint64_t batch_id_base;
    /* Tabular formats: "COL[,COL...]": each mini-batch is exactly the records of one
     * combination of these columns' values, in input order (mini_batch_bytes does not
     * apply). NULL: not partitioned. */
    const char *partition_keys;
    /* v2's mini_batch_error_threshold, when mini_batch_error_limited: mini-batches that
     * failed or returned fewer rows than items, tolerated (false: not counted, -1 in the
     * CLI and the job YAML). */
    uint64_t mini_batch_error_threshold;
    bool mini_batch_error_limited;
    /* A finished job in OUT: its failed mini-batches run again with fresh tries, their
     * rows appended to the same output (exactly once); the overview counts the retried
     * and the recovered. Without a finished job: refused. */
    bool retry_failed;
    /* Each line prs writes to OUT/logs/sys/master.txt (the coordinator's log: the job's
     * configuration, creation, restarts, retries, the result) is also handed to
     * log_fn(log_arg, ...), without its time stamp (NULL: not). */
    prs_log_line_fn log_fn;
    void *log_arg;
    /* Process-wide handlers the job installs while it runs and restores on return:
     * PRS_HANDLE_* bits (0, the default: none; the host's own stay in place). */
    uint64_t handlers;
    /* prs try, tabular formats: job creation cuts the input exactly as these options make
     * it but keeps one mini-batch of it: the one holding the record pick_item names
     * ("FILE:LINE" as items are named; not with partition_keys), else the mini-batch whose
     * id is pick_batch - 1; the script sees that id (batch_id_base). No such batch: the job
     * is refused (PRS_EXIT_USAGE). Both 0/NULL: every batch, as before. */
    const char *pick_item;
    uint64_t pick_batch;
    /* A resume whose entry script's content changed since the job was created (its size
     * and hash are part of the job's identity) proceeds, rows of both versions in one
     * output, and master.txt says so (false: refused, PRS_EXIT_USAGE). */
    bool allow_changed_script;
    /* Rows reach the output file in input order (batch id order: items within a batch as
     * the script emitted them, batches as created, partitions in order of first
     * appearance), still exactly once after any crash. Batches finishing early wait in
     * the job state (LMDB), a bounded window of them (README "--keep-order"). Part of
     * the job's identity. Needs output_action append_row. false: any order (default). */
    bool keep_order; /* beside the bool above: in its padding */
    /* New fields go above this line and take their size out of reserved, so that the size
     * stays PRS_JOB_CONFIG_BYTES (the ABI: core/prs.c asserts it), and their zero value
     * (what prs_job_config_defaults leaves) must mean "as before". */
    uint64_t reserved[1];
} prs_job_config;

typedef struct prs_job_report {
    uint64_t total_batches, done_batches, failed_batches;
    uint64_t total_items, succeeded_items, failed_items;
    uint64_t output_bytes;
    char message[1024]; /* the result in one line; on failure what failed and where */
    /* New fields go above this line, out of reserved: the size stays PRS_JOB_REPORT_BYTES. */
    uint64_t reserved[9];
} prs_job_report;

PRS_API void prs_job_config_defaults(prs_job_config *config);

/* Runs or resumes the job in this process. report may be NULL. Returns a PRS_EXIT_* code.
 * A run() past its timeout is asked to stop (prs_cancelled) and, if it does not, waited
 * for: a thread cannot be killed. prs_supervise adds the restart that ends such a hang. */
PRS_API int prs_job_run(const prs_job_config *config, prs_job_report *report);

/* Runs the job in a child process and restarts it after a crash or a hung run(), until
 * it ends (or keeps dying without progress: PRS_EXIT_CRASH_LOOP). Forwards SIGINT and
 * SIGTERM to the child: the first stops the job gracefully, the second at once; either
 * way it is resumable. Returns a PRS_EXIT_* code. */
PRS_API int prs_supervise(const prs_job_config *config, prs_job_report *report);

/* Asks running jobs of this process to stop: async-signal-safe. The first request stops
 * handing out batches and lets running ones finish (up to a grace period); the second
 * stops at once. */
PRS_API void prs_job_request_stop(void);

#ifdef __cplusplus
}
#endif
#endif
