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

typedef struct prs_entry_table {
    prs_init_fn init;                       /* optional */
    prs_run_fn run;                         /* required */
    prs_shutdown_fn shutdown;               /* optional */
    prs_global_init_fn global_init;         /* optional, once per process */
    prs_global_shutdown_fn global_shutdown; /* optional */
} prs_entry_table;

#define PRS_MAX_WORKERS 256u

typedef struct prs_job_config {
    const char *entry_script; /* shared object path; or NULL and set entry */
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
    int log_policy; /* ring full: 0 = wait (default, bounded back-off), 1 = drop and count */
    uint32_t perf_interval_s; /* logs/sys/perf sample period, >= 1 (default 10) */
    bool durable;             /* sync output and queue on commit (default true) */
    bool quiet;               /* no progress lines on stderr */
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
} prs_job_config;

typedef struct prs_job_report {
    uint64_t total_batches, done_batches, failed_batches;
    uint64_t total_items, succeeded_items, failed_items;
    uint64_t output_bytes;
    char message[1024]; /* the result in one line; on failure what failed and where */
} prs_job_report;

void prs_job_config_defaults(prs_job_config *config);

/* Runs or resumes the job in this process. report may be NULL. Returns a PRS_EXIT_* code.
 * A run() past its timeout is asked to stop (prs_cancelled) and, if it does not, waited
 * for: a thread cannot be killed. prs_supervise adds the restart that ends such a hang. */
int prs_job_run(const prs_job_config *config, prs_job_report *report);

/* Runs the job in a child process and restarts it after a crash or a hung run(), until
 * it ends (or keeps dying without progress: PRS_EXIT_CRASH_LOOP). Forwards SIGINT and
 * SIGTERM to the child: the first stops the job gracefully, the second at once; either
 * way it is resumable. Returns a PRS_EXIT_* code. */
int prs_supervise(const prs_job_config *config, prs_job_report *report);

/* Asks running jobs of this process to stop: async-signal-safe. The first request stops
 * handing out batches and lets running ones finish (up to a grace period); the second
 * stops at once. */
void prs_job_request_stop(void);

#ifdef __cplusplus
}
#endif
#endif
