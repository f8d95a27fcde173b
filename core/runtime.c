/* runtime.c -- prs_job_run: creates or resumes a job and coordinates it (see prs.h).
 *
 * Owns: the job's lifetime: the OUT lock, the queue (the only LMDB writer is this thread,
 *   the coordinator), the output file, the scheduler, the workers and the channels.
 * May call: everything in core/, io/ and storage/.
 *
 * The coordinator loop: start what the scheduler picks (pending batches are read from
 * LMDB in windows, never all at once), drain completions, write the rows of every batch
 * the scheduler calls DONE, sync the output, then commit all batch changes and the new
 * output length in one LMDB transaction (group commit). A crash before that commit loses
 * only uncommitted work: resume truncates the output to the committed length and the
 * batches are still pending. */
#include "prs.h"

#include "capture.h"
#include "committer.h"
#include "crash.h"
#include "entry.h"
#include "joblog.h"
#include "outfile.h"
#include "perf.h"
#include "progress.h"
#include "queue.h"
#include "reader.h"
#include "records.h"
#include "scan.h"
#include "sched.h"
#include "scoreboard.h"
#include "side.h"
#include "sidedb.h"
#include "supervisor.h"
#include "worker.h"

#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The queue refuses stored attempts above its bound: it must admit every --run-max-try. */
_Static_assert(PRS_QUEUE_MAX_ATTEMPTS == PRS_SCHED_MAX_TRY, "queue and sched try bounds differ");

#define JOB_PENDING_WINDOW 256u
#define JOB_TICK_MS 100u
#define JOB_OVERVIEW_EVERY_NS 1000000000ull
#define JOB_CONFIG_BYTES 16384u
#define JOB_DONE_BATCH 512u
#define JOB_GROUP_CAP 8192u              /* batch updates in one commit at most */
#define JOB_COMMIT_EVERY_NS 50000000ull  /* a group is handed over at least this often */
#define JOB_ROWS_FLUSH_BYTES (1u << 20)  /* rows are written in chunks of about this size */
#define JOB_STOP_GRACE_NS 10000000000ull /* after a stop request, running batches get this */
#define JOB_MAP_GROW_TRIES 24u           /* doublings of the queue map while creating */
#define LOCK_WAIT_TRIES 30u              /* OUT busy: retry its lock this often, */
#define LOCK_WAIT_STEP_NS 100000000L     /* this far apart, before giving up */

/* Stop requests from signal handlers: a counter, so the second one is seen as such. */
static atomic_uint job_stop_requests;

void prs_job_request_stop(void) {
    atomic_fetch_add(&job_stop_requests, 1);
}

typedef struct job {
    const prs_job_config *cfg;
    prs_job_report *report;
    prs_entry_lib lib;
    prs_entry_table entry;
    char out_dir[PATH_MAX];
    char output_path[PATH_MAX + 256];
    char config_text[JOB_CONFIG_BYTES];
    int lock_fd;
    int root_fd;
    prs_joblog *log;
    prs_capture *capture; /* the entry script's stdout/stderr, when supervised */
    prs_perf *perf;       /* logs/sys/perf/overview.csv */
    prs_perf_worker *perf_workers;
    prs_progress progress; /* the bar (a terminal) or periodic lines on stderr */
    bool progress_ready;
    prs_queue *queue;
    prs_queue_reader *reader;
    prs_outfile out;
    prs_sched sched;
    prs_chan dispatch, done;
    bool chans_ready;
    prs_worker *workers;
    uint32_t workers_started;
    prs_workers_shared shared;
    uint64_t cursor;
    uint64_t pend_ids[JOB_PENDING_WINDOW];
    prs_batch_rec pend_recs[JOB_PENDING_WINDOW];
    uint32_t pend_len, pend_next;
    prs_committer *committer;
    prs_scoreboard_file *scoreboard;
    char state_dir[PATH_MAX + 16];
    unsigned stop_seen;                  /* stop requests acted on */
    uint64_t stop_ns;                    /* when the first was */
    uint64_t cancelled[PRS_MAX_WORKERS]; /* batch id + 1 whose cancel was sent, per worker */
    uint64_t last_flush_ns;
    char *rows; /* rows of done batches not yet written to the output */
    size_t rows_len, rows_cap;
    char first_error[768];
    bool first_error_new;
    bool workers_stopped;
    uint64_t started_ns, last_overview_ns, last_progress_ns;
    uint64_t output_bytes;
    prs_side_config side;
    prs_sidedb *sidedb;
    bool side_loaded;
    prs_global global;
    bool global_ready;
    char **init_argv; /* cfg->argv with side-input names substituted */
    char err[2048];
} job;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

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
    c->mini_batch_bytes = 1u << 20;
    c->mini_batch_error_threshold = -1;
    /* PRS_IO=auto|uring|sync sets the default, so a whole test suite can run on either
     * path without touching each command line. */
    const char *io = getenv("PRS_IO");
    if (io && !strcmp(io, "uring"))
        c->io_mode = PRS_IO_URING;
    else if (io && !strcmp(io, "sync"))
        c->io_mode = PRS_IO_SYNC;
}

/* ---- setup ---------------------------------------------------------------------------- */

/* CPUs this process may run on: the affinity mask, capped by a cgroup v2 CPU quota. */
static uint32_t job_cpus(int *cpu_ids, uint32_t cap) {
    cpu_set_t set;
    uint32_t n = 0;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        for (int c = 0; c < CPU_SETSIZE && n < cap; c++) {
            if (CPU_ISSET(c, &set)) cpu_ids[n++] = c;
        }
    }
    if (n == 0) {
        cpu_ids[0] = -1;
        n = 1;
    }
    FILE *f = fopen("/sys/fs/cgroup/cpu.max", "re");
    if (f) {
        char quota[32];
        unsigned long long period;
        if (fscanf(f, "%31s %llu", quota, &period) == 2 && strcmp(quota, "max") != 0 && period) {
            unsigned long long q = strtoull(quota, NULL, 10);
            uint32_t limit = (uint32_t)PRS_MAX(1ull, (q + period - 1) / period);
            n = PRS_MIN(n, limit);
        }
        fclose(f);
    }
    return n;
}

static int mkdir_p(const char *path) {
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) return -ENAMETOOLONG;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -errno;
    return 0;
}

static int job_fail(job *j, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int job_fail(job *j, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->report->message, sizeof(j->report->message), fmt, ap);
    va_end(ap);
    if (j->log) prs_joblog_master(j->log, "error: %s", j->report->message);
    return code;
}

static int job_validate(job *j) {
    const prs_job_config *c = j->cfg;
    if (!c->input || !*c->input) return job_fail(j, PRS_EXIT_USAGE, "--input is required");
    if (!c->output_dir || !*c->output_dir)
        return job_fail(j, PRS_EXIT_USAGE, "--output is required");
    if (!c->entry_script && !c->entry.run)
        return job_fail(j, PRS_EXIT_USAGE, "--entry-script is required");
    if (c->input_format > PRS_FORMAT_LINES)
        return job_fail(j, PRS_EXIT_USAGE, "--input-format: unknown format %u", c->input_format);
    if (c->io_mode > PRS_IO_SYNC)
        return job_fail(j, PRS_EXIT_USAGE, "--io: unknown mode %u", c->io_mode);
    if (c->input_format == PRS_FORMAT_FILES && c->mini_batch_size < 1)
        return job_fail(j, PRS_EXIT_USAGE, "--mini-batch-size must be at least 1 file");
    if (c->input_format != PRS_FORMAT_FILES && c->mini_batch_bytes < 1)
        return job_fail(j, PRS_EXIT_USAGE, "--mini-batch-size must be at least 1 byte");
    if (c->workers > PRS_MAX_WORKERS)
        return job_fail(j, PRS_EXIT_USAGE, "--workers %u: at most %u", c->workers, PRS_MAX_WORKERS);
    if (c->run_max_try < 1 || c->run_max_try > PRS_SCHED_MAX_TRY)
        return job_fail(j, PRS_EXIT_USAGE, "--run-max-try %u: must be 1..%u", c->run_max_try,
                        PRS_SCHED_MAX_TRY);
    if (c->error_threshold < -1)
        return job_fail(j, PRS_EXIT_USAGE, "--error-threshold must be -1 or more");
    if (c->allowed_failed_count < -1)
        return job_fail(j, PRS_EXIT_USAGE, "--allowed-failed-count must be -1 or more");
    if (c->allowed_failed_percent > 100)
        return job_fail(j, PRS_EXIT_USAGE, "--allowed-failed-percent must be 0..100");
    const char *name = c->append_row_file_name;
    if (!name || !*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
        return job_fail(j, PRS_EXIT_USAGE,
                        "--append-row-file-name '%s': a plain file name is needed",
                        name ? name : "");
    if (c->argc < 0 || (c->argc > 0 && !c->argv))
        return job_fail(j, PRS_EXIT_USAGE, "init arguments: argc without argv");
    if ((c->side_input_count && !c->side_inputs) || (c->side_table_count && !c->side_tables) ||
        (c->env_count && !c->env))
        return job_fail(j, PRS_EXIT_USAGE,
                        "side inputs, side tables or env: a count without values");
    if (c->env_count > PRS_SIDE_MAX)
        return job_fail(j, PRS_EXIT_USAGE, "--env: at most %u", PRS_SIDE_MAX);
    for (uint32_t i = 0; i < c->env_count; i++) {
        char err[512];
        if (prs_side_parse_env(c->env[i], err, sizeof(err)))
            return job_fail(j, PRS_EXIT_USAGE, "%s", err);
    }
    return 0;
}

/* --env, side inputs and side tables resolved; init()'s arguments substituted. Before the
 * script is loaded, so its constructors see the environment too. */
static int job_side_config(job *j) {
    const prs_job_config *c = j->cfg;
    for (uint32_t i = 0; i < c->env_count; i++) {
        const char *eq = strchr(c->env[i], '=');
        char name[256];
        if ((size_t)(eq - c->env[i]) >= sizeof(name))
            return job_fail(j, PRS_EXIT_USAGE, "--env %s: the name is too long", c->env[i]);
        snprintf(name, sizeof(name), "%.*s", (int)(eq - c->env[i]), c->env[i]);
        if (setenv(name, eq + 1, 1) != 0)
            return job_fail(j, PRS_EXIT_USAGE, "--env %s: %s", c->env[i], strerror(errno));
    }
    char err[PATH_MAX + 512];
    int rc = prs_side_config_build(&j->side, c->side_inputs, c->side_input_count, c->side_tables,
                                   c->side_table_count, err, sizeof(err));
    if (rc) return job_fail(j, rc == -EINVAL ? PRS_EXIT_USAGE : PRS_EXIT_INPUT, "%s", err);
    char *none[1] = {NULL};
    j->init_argv = prs_side_substitute(&j->side, c->argc, c->argc ? c->argv : none);
    if (!j->init_argv) return job_fail(j, PRS_EXIT_INTERNAL, "out of memory");
    return 0;
}

/* Loads each side table into OUT/.prs/side (or checks that an earlier load still matches
 * its file) and says so in master.txt. A changed file is refused: the rows committed so
 * far were computed with the old table. */
static int job_side_load(job *j) {
    if (j->side_loaded || j->side.table_count == 0) return 0;
    char dir[PATH_MAX + 32], err[PATH_MAX + 1024];
    snprintf(dir, sizeof(dir), "%s/side", j->state_dir);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return job_fail(j, PRS_EXIT_USAGE, "%s: %s", dir, strerror(errno));
    int rc = prs_sidedb_open(&j->sidedb, dir, j->side.table_count, err, sizeof(err));
    if (rc) return job_fail(j, PRS_EXIT_INTERNAL, "side tables: %s", err);
    for (uint32_t i = 0; i < j->side.table_count; i++) {
        const prs_side_table *t = &j->side.tables[i];
        prs_sidedb_spec spec = {.name = t->name,
                                .path = t->path,
                                .key = t->key[0] ? t->key : NULL,
                                .format = t->format};
        prs_sidedb_load_info info;
        rc = prs_sidedb_ensure(j->sidedb, &spec, &info, err, sizeof(err));
        if (rc) {
            int code = rc == -ESTALE || rc == -EINVAL || rc == -EFBIG ? PRS_EXIT_USAGE
                       : rc == -ENOMEM || rc == -ENOSPC || rc == -EIO ? PRS_EXIT_INTERNAL
                                                                      : PRS_EXIT_INPUT;
            return job_fail(j, code, "%s", err);
        }
        prs_joblog_master(j->log,
                          "side table %s: %s %s (%s): %llu rows, %llu bytes stored in %.3f s",
                          t->name, info.reused ? "reusing the load of" : "loaded", t->path,
                          prs_side_format_name(t->format), (unsigned long long)info.rows,
                          (unsigned long long)info.stored_bytes, (double)info.load_ns / 1e9);
        if (info.duplicates) {
            prs_joblog_master(j->log,
                              "warning: side table %s: %llu duplicate key(s) ignored: the first "
                              "row of a key wins",
                              t->name, (unsigned long long)info.duplicates);
        }
        if (info.empty_keys) {
            prs_joblog_master(j->log,
                              "warning: side table %s: %llu row(s) with an empty key skipped",
                              t->name, (unsigned long long)info.empty_keys);
        }
    }
    j->side_loaded = true;
    return 0;
}

/* The options that define what the job computes: a resume must match them. */
static int job_config_text(job *j) {
    const prs_job_config *c = j->cfg;
    char input[PATH_MAX], script[PATH_MAX];
    bool list = c->input[0] == '@';
    const char *in = list ? c->input + 1 : c->input;
    if (!realpath(in, input)) {
        return job_fail(j, PRS_EXIT_INPUT, "--input %s: %s", c->input, strerror(errno));
    }
    if (c->entry_script) {
        if (!realpath(c->entry_script, script))
            snprintf(script, sizeof(script), "%s", c->entry_script);
    } else {
        snprintf(script, sizeof(script), "(function table)");
    }
    bool tabular = c->input_format != PRS_FORMAT_FILES;
    int n = snprintf(j->config_text, sizeof(j->config_text),
                     "input=%s%s\nentry_script=%s\nmini_batch_size=%llu%s\noutput_action=%s\n"
                     "append_row_file_name=%s\ninput_format=%s\n",
                     list ? "@" : "", input, script,
                     tabular ? (unsigned long long)c->mini_batch_bytes
                             : (unsigned long long)c->mini_batch_size,
                     tabular ? " bytes" : "",
                     c->output_action == PRS_OUTPUT_APPEND_ROW ? "append_row" : "summary_only",
                     c->append_row_file_name, prs_format_name((enum prs_format)c->input_format));
    /* Side inputs and tables are part of what the job computes: a resume must name the
     * same ones (a table's content is checked separately, by hash). */
    for (uint32_t i = 0; i < j->side.input_count && n >= 0 && (size_t)n < sizeof(j->config_text);
         i++) {
        n += snprintf(j->config_text + n, sizeof(j->config_text) - (size_t)n, "side_input.%s=%s\n",
                      j->side.inputs[i].name, j->side.inputs[i].path);
    }
    for (uint32_t i = 0; i < j->side.table_count && n >= 0 && (size_t)n < sizeof(j->config_text);
         i++) {
        const prs_side_table *t = &j->side.tables[i];
        n += snprintf(j->config_text + n, sizeof(j->config_text) - (size_t)n,
                      "side_table.%s=%s,key=%s,format=%s\n", t->name, t->path,
                      t->key[0] ? t->key : "(first)", prs_side_format_name(t->format));
    }
    if (n < 0 || (size_t)n >= sizeof(j->config_text))
        return job_fail(j, PRS_EXIT_USAGE, "the job's options are too long");
    return 0;
}

/* Names the first option whose value differs between the stored and the current job. */
static void config_diff(const char *stored, const char *now, char *out, size_t out_size) {
    snprintf(out, out_size, "the options differ");
    for (const char *line = now; *line;) {
        const char *end = strchr(line, '\n');
        if (!end) break;
        const char *eq = memchr(line, '=', (size_t)(end - line));
        if (eq) {
            size_t klen = (size_t)(eq - line) + 1;
            const char *s = stored;
            const char *found = NULL;
            while (s && *s) {
                if (strncmp(s, line, klen) == 0) {
                    found = s;
                    break;
                }
                s = strchr(s, '\n');
                if (s) s++;
            }
            size_t len = (size_t)(end - line);
            if (!found || strncmp(found, line, len + 1) != 0) {
                const char *fend = found ? strchr(found, '\n') : NULL;
                snprintf(out, out_size, "--%.*s was '%.*s', now '%.*s'", (int)(klen - 1), line,
                         found && fend ? (int)(fend - found - (int)klen) : 0,
                         found ? found + klen : "", (int)(len - klen), eq + 1);
                for (char *p = out; *p && p < out + 2 + klen; p++) {
                    if (*p == '_') *p = '-';
                }
                return;
            }
        }
        line = end + 1;
    }
}

typedef struct job_builder {
    job *j;
    prs_queue_builder b;
    uint64_t batch_first;
    uint32_t batch_len;
} job_builder;

static int build_item(void *arg, const char *path, size_t len) {
    job_builder *jb = arg;
    int rc = prs_queue_build_item(&jb->b, path, len + 1);
    if (rc) {
        snprintf(jb->j->err, sizeof(jb->j->err), "%s: cannot add to the queue: %s", path,
                 strerror(-rc));
        return rc;
    }
    if (++jb->batch_len == jb->j->cfg->mini_batch_size) {
        rc = prs_queue_build_batch(&jb->b, jb->batch_first, jb->batch_len);
        jb->batch_first += jb->batch_len;
        jb->batch_len = 0;
        if (rc) snprintf(jb->j->err, sizeof(jb->j->err), "queue: %s", strerror(-rc));
    }
    return rc;
}

/* Tabular: one input file cut into batches of records. The file is mapped, read once
 * front to back (MADV_SEQUENTIAL, and pages behind the cursor dropped every 64 MiB), so a
 * file larger than memory is cut without holding it. */
typedef struct tab_builder {
    job_builder *jb;
    prs_batcher bat;
    prs_tab_ref ref;
    uint64_t files;
} tab_builder;

static int tab_close_batch(tab_builder *tb) {
    if (tb->ref.records == 0) return 0;
    unsigned char rec[PRS_QUEUE_MAX_ITEM_BYTES];
    size_t len;
    job *j = tb->jb->j;
    int rc = prs_queue_tab_encode(&tb->ref, rec, sizeof(rec), &len);
    if (rc) {
        snprintf(j->err, sizeof(j->err), "%s: path too long for the queue", tb->ref.path);
        return rc;
    }
    uint64_t item = tb->jb->b.next_item;
    rc = prs_queue_build_item(&tb->jb->b, rec, len);
    if (rc == 0) rc = prs_queue_build_batch_ref(&tb->jb->b, item, tb->ref.records);
    if (rc) snprintf(j->err, sizeof(j->err), "queue: %s", strerror(-rc));
    tb->ref.records = 0;
    return rc;
}

#define TAB_DROP_BEHIND_BYTES ((uint64_t)64 << 20)
#define TAB_MAX_RECORDS_PER_BATCH ((uint32_t)1 << 30)

static int tab_file(void *arg, const char *path, size_t path_len) {
    (void)path_len;
    tab_builder *tb = arg;
    job *j = tb->jb->j;
    enum prs_format f = (enum prs_format)j->cfg->input_format;
    int fd = openat(j->root_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        snprintf(j->err, sizeof(j->err), "%s: %s", path, strerror(e));
        return -e;
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        snprintf(j->err, sizeof(j->err), "%s: %s", path, strerror(-rc));
        goto close_fd;
    }
    size_t len = (size_t)st.st_size;
    if (len == 0) goto close_fd; /* no records */
    char *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        rc = -errno;
        snprintf(j->err, sizeof(j->err), "%s: cannot map it: %s", path, strerror(-rc));
        goto close_fd;
    }
    madvise(map, len, MADV_SEQUENTIAL);
    prs_splitter sp;
    rc = prs_splitter_init(&sp, f, map, len);
    if (rc) goto unmap;
    prs_record hdr = {0}, rec;
    bool has_header = prs_splitter_header(&sp, &hdr) == 1;
    if (has_header && hdr.error) {
        snprintf(j->err, sizeof(j->err), "%s:%llu: the header row is malformed: %s", path,
                 (unsigned long long)hdr.line, hdr.error);
        rc = -EILSEQ; /* an input error: the file is rejected, exit 3 */
        goto unmap;
    }
    tb->ref = (prs_tab_ref){.path = path,
                            .header_offset = has_header ? hdr.offset : 0,
                            .header_size =
                                has_header ? (uint32_t)PRS_MIN(hdr.size_bytes, UINT32_MAX) : 0};
    prs_batcher_init(&tb->bat, j->cfg->mini_batch_bytes);
    uint64_t dropped = 0;
    while (prs_splitter_next(&sp, &rec) == 1) {
        if (prs_batcher_add(&tb->bat, &rec) || tb->ref.records == TAB_MAX_RECORDS_PER_BATCH) {
            rc = tab_close_batch(tb);
            if (rc) goto unmap;
            tb->ref.offset = rec.offset;
            tb->ref.first_line = rec.line;
        }
        tb->ref.records++;
        tb->ref.length = rec.offset + rec.size_bytes + rec.term_bytes - tb->ref.offset;
        if (rec.offset - dropped >= TAB_DROP_BEHIND_BYTES) {
            /* Clean file pages: dropping them only means they are read again if needed. */
            uint64_t upto = rec.offset & ~(uint64_t)0xfffff;
            madvise(map + dropped, (size_t)(upto - dropped), MADV_DONTNEED);
            dropped = upto;
        }
    }
    rc = tab_close_batch(tb);
    tb->files++;
unmap:
    munmap(map, len);
close_fd:
    close(fd);
    return rc;
}

static int job_create_tabular(job *j, job_builder *jb) {
    tab_builder tb = {.jb = jb};
    const char *in = j->cfg->input;
    struct stat st;
    if (in[0] == '@') return prs_scan_list(in + 1, tab_file, &tb, j->err, sizeof(j->err));
    if (stat(in, &st) == 0 && S_ISREG(st.st_mode)) {
        char real[PATH_MAX];
        if (!realpath(in, real)) return -errno;
        return tab_file(&tb, real, strlen(real));
    }
    return prs_scan_dir(in, tab_file, &tb, j->err, sizeof(j->err));
}

/* One try at creating the job; PRS_QUEUE_EMAPFULL (nothing reported yet) when the queue's
 * map filled up, and the caller grows it and tries again. */
static int job_create_once(job *j) {
    job_builder jb = {.j = j};
    int rc = prs_queue_build_begin(j->queue, &jb.b);
    if (rc)
        return job_fail(j, PRS_EXIT_INTERNAL, "queue: cannot start job creation: %s",
                        strerror(-rc));
    uint64_t t0 = now_ns();
    j->err[0] = 0;
    if (j->cfg->input_format != PRS_FORMAT_FILES) {
        rc = job_create_tabular(j, &jb);
    } else if (j->cfg->input[0] == '@') {
        rc = prs_scan_list(j->cfg->input + 1, build_item, &jb, j->err, sizeof(j->err));
    } else {
        rc = prs_scan_dir(j->cfg->input, build_item, &jb, j->err, sizeof(j->err));
    }
    if (rc == 0 && jb.batch_len) rc = prs_queue_build_batch(&jb.b, jb.batch_first, jb.batch_len);
    if (rc == 0 && jb.b.next_item == 0) {
        snprintf(j->err, sizeof(j->err), "--input %s: no input %s found", j->cfg->input,
                 j->cfg->input_format == PRS_FORMAT_FILES ? "files" : "records");
        rc = -ENOENT;
    }
    if (rc == 0) rc = prs_queue_build_meta(&jb.b, "config", j->config_text, strlen(j->config_text));
    if (rc == PRS_QUEUE_EMAPFULL) {
        prs_queue_build_abort(&jb.b);
        return rc;
    }
    if (rc) {
        prs_queue_build_abort(&jb.b);
        bool input = rc == -ENOENT || rc == -ENOTDIR || rc == -EACCES || rc == -ELOOP ||
                     rc == -ENAMETOOLONG || rc == -EILSEQ;
        return job_fail(j, input ? PRS_EXIT_INPUT : PRS_EXIT_INTERNAL, "%s",
                        j->err[0] ? j->err : strerror(-rc));
    }
    uint64_t items = jb.b.next_item, batches = jb.b.next_batch;
    rc = prs_queue_build_end(&jb.b);
    if (rc == PRS_QUEUE_EMAPFULL) return rc;
    if (rc)
        return job_fail(j, PRS_EXIT_INTERNAL, "queue: cannot commit the new job: %s",
                        strerror(-rc));
    if (j->cfg->input_format != PRS_FORMAT_FILES) {
        prs_joblog_master(
            j->log, "created %llu mini-batches of up to %llu bytes from %llu %s records in %.3f s",
            (unsigned long long)batches, (unsigned long long)j->cfg->mini_batch_bytes,
            (unsigned long long)jb.b.ref_items,
            prs_format_name((enum prs_format)j->cfg->input_format), (double)(now_ns() - t0) / 1e9);
        return 0;
    }
    prs_joblog_master(j->log,
                      "created %llu mini-batches of up to %u files from %llu files in %.3f s",
                      (unsigned long long)batches, j->cfg->mini_batch_size,
                      (unsigned long long)items, (double)(now_ns() - t0) / 1e9);
    return 0;
}

static int job_create(job *j) {
    for (unsigned try = 0; try < JOB_MAP_GROW_TRIES; try++) {
        int rc = job_create_once(j);
        if (rc != PRS_QUEUE_EMAPFULL) return rc;
        size_t map_bytes = 0;
        rc = prs_queue_grow(j->queue, &map_bytes);
        if (rc) break;
        prs_joblog_master(j->log, "job state map full while creating the job: grew it to %zu bytes",
                          map_bytes);
    }
    return job_fail(j, PRS_EXIT_STOPPED, "%s/data.mdb: job state map full and cannot grow",
                    j->state_dir);
}

/* --fresh, under the lock: the queue, the scoreboard and the output file go; the logs
 * stay (a new job appends to them, saying it started fresh). */
static int job_discard_state(job *j) {
    static const char *const state_files[] = {"data.mdb", "lock.mdb", "scoreboard", "side/data.mdb",
                                              "side/lock.mdb"};
    char path[PATH_MAX + 256];
    for (size_t i = 0; i < PRS_ARRAY_LEN(state_files); i++) {
        snprintf(path, sizeof(path), "%s/%s", j->state_dir, state_files[i]);
        if (unlink(path) != 0 && errno != ENOENT) {
            return job_fail(j, PRS_EXIT_USAGE, "--fresh: cannot remove %s: %s", path,
                            strerror(errno));
        }
    }
    snprintf(path, sizeof(path), "%s/%s", j->out_dir, j->cfg->append_row_file_name);
    if (unlink(path) != 0 && errno != ENOENT) {
        return job_fail(j, PRS_EXIT_USAGE, "--fresh: cannot remove %s: %s", path, strerror(errno));
    }
    return 0;
}

/* Opens or creates OUT's state, under an exclusive lock on OUT. */
static int job_open_state(job *j) {
    int rc = mkdir_p(j->cfg->output_dir);
    if (rc == 0 && !realpath(j->cfg->output_dir, j->out_dir)) rc = -errno;
    char *state = j->state_dir;
    if (rc == 0) {
        snprintf(state, sizeof(j->state_dir), "%s/.prs", j->out_dir);
        rc = mkdir_p(state);
    }
    if (rc == 0 && access(j->out_dir, W_OK) != 0) rc = -errno;
    if (rc)
        return job_fail(j, PRS_EXIT_USAGE, "--output %s: cannot use it as the output directory: %s",
                        j->cfg->output_dir, strerror(-rc));
    char lock[PATH_MAX + 32];
    snprintf(lock, sizeof(lock), "%s/lock", state);
    j->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (j->lock_fd < 0) return job_fail(j, PRS_EXIT_USAGE, "%s: %s", lock, strerror(errno));
    /* A runtime whose supervisor was just killed dies of PR_SET_PDEATHSIG a moment later;
     * give it that moment before calling OUT busy. */
    int locked = -1;
    for (unsigned try = 0; try < LOCK_WAIT_TRIES; try++) {
        locked = flock(j->lock_fd, LOCK_EX | LOCK_NB);
        if (locked == 0 || errno != EWOULDBLOCK) break;
        nanosleep(&(struct timespec){.tv_nsec = LOCK_WAIT_STEP_NS}, NULL);
    }
    if (locked != 0) {
        return job_fail(j, PRS_EXIT_USAGE, "--output %s: another prs is running on it",
                        j->cfg->output_dir);
    }
    if (j->cfg->fresh) {
        rc = job_discard_state(j);
        if (rc) return rc;
    }
    char err[512];
    rc = prs_joblog_open(&j->log, j->out_dir, j->cfg->logging_level, j->cfg->log_policy, err,
                         sizeof(err));
    if (rc) return job_fail(j, PRS_EXIT_USAGE, "%s", err);
    if (j->cfg->fresh)
        prs_joblog_master(j->log, "--fresh: the previous job state and output were discarded");
    if (j->cfg->supervised) {
        rc = prs_capture_start(&j->capture, j->log);
        if (rc) prs_joblog_master(j->log, "stdout/stderr not captured: %s", strerror(-rc));
    }
    rc = prs_queue_open(&j->queue, state,
                        j->cfg->durable ? PRS_DURABILITY_FULL : PRS_DURABILITY_NONE, err,
                        sizeof(err));
    if (rc)
        return job_fail(j, rc == -EBADMSG ? PRS_EXIT_USAGE : PRS_EXIT_INTERNAL,
                        "job state %s (remove OUT/.prs to start over; the output stays)", err);
    rc = prs_scoreboard_open(&j->scoreboard, state, true);
    if (rc) return job_fail(j, PRS_EXIT_INTERNAL, "%s/scoreboard: %s", state, strerror(-rc));
    j->scoreboard->pid = (int32_t)getpid();
    char crash_dir[PATH_MAX + 128];
    snprintf(crash_dir, sizeof(crash_dir), "%s/user/error/%s", prs_joblog_dir(j->log),
             prs_joblog_node(j->log));
    rc = prs_crash_install(crash_dir, j->scoreboard);
    if (rc) return job_fail(j, PRS_EXIT_USAGE, "%s: %s", crash_dir, strerror(-rc));
    return 0;
}

/* After a death: the scoreboard says which batches were running. A batch whose worker
 * crashed spends that try (failing the batch if it was its last); the others, and every
 * batch of a death from outside (kill -9, OOM, power), go back to pending untouched.
 * Idempotent: a try already recorded is not charged twice if this repair is cut short. */
static int job_repair(job *j) {
    prs_queue_counts c;
    int rc = prs_queue_counts_get(j->queue, &c);
    if (rc)
        return job_fail(j, PRS_EXIT_INTERNAL, "job state: counters unreadable: %s", strerror(-rc));
    prs_batch_update ups[PRS_MAX_WORKERS];
    size_t n = 0;
    char first[768] = "";
    prs_queue_reader *r;
    rc = prs_queue_reader_open(j->queue, &r);
    if (rc) return job_fail(j, PRS_EXIT_INTERNAL, "queue reader: %s", strerror(-rc));
    for (uint32_t i = 0; i < PRS_MAX_WORKERS; i++) {
        prs_scoreboard_slot *slot = &j->scoreboard->slot[i];
        uint32_t state = atomic_load(&slot->state);
        if (state == PRS_SLOT_IDLE) continue;
        uint64_t id = atomic_load(&slot->batch_id);
        uint32_t attempt = atomic_load(&slot->attempt);
        prs_batch_rec rec;
        rc = prs_queue_reader_begin(r);
        if (rc == 0) {
            rc = prs_queue_reader_batch(r, id, &rec);
            prs_queue_reader_end(r);
        }
        if (rc) continue; /* a slot from another job's life: nothing to charge */
        if (rec.state != PRS_BATCH_PENDING || rec.attempts >= attempt) continue; /* recorded */
        if (state == PRS_SLOT_RUNNING) {
            prs_joblog_master(j->log,
                              "batch %llu (try %u) was running when the runtime died; "
                              "not charged: it goes back to pending",
                              (unsigned long long)id, attempt);
            continue;
        }
        char why[256];
        prs_scoreboard_death_text(slot, why, sizeof(why));
        rec.attempts = attempt;
        bool last = attempt >= j->cfg->run_max_try;
        if (last) {
            rec.state = PRS_BATCH_FAILED;
            c.failed_batches++;
            c.failed_items += rec.item_count;
        }
        char line[768], edir[4200], item[512] = "-";
        snprintf(edir, sizeof(edir), "%s/user/error/%s", prs_joblog_dir(j->log),
                 prs_joblog_node(j->log));
        prs_crash_item_of(edir, i, id, attempt, item, sizeof(item)); /* else "-": unknown */
        int len = snprintf(line, sizeof(line),
                           "batch %llu attempt %u item %s: %s; %s; evidence in "
                           "logs/user/error/%s/\n",
                           (unsigned long long)id, attempt, item, why,
                           last ? "no tries left: the batch failed" : "it will be retried",
                           prs_joblog_node(j->log));
        len = PRS_MIN(len, (int)sizeof(line) - 1);
        prs_joblog_errors(j->log, line, (size_t)len);
        prs_joblog_master(j->log, "%.*s", len - 1, line);
        if (!first[0]) snprintf(first, sizeof(first), "%.*s", len - 1, line);
        ups[n++] = (prs_batch_update){.batch_id = id, .rec = rec};
    }
    prs_queue_reader_close(r);
    if (n > 0) {
        char stored[8];
        size_t slen;
        bool have_first =
            prs_queue_meta_get(j->queue, "first_error", stored, sizeof(stored), &slen) != -ENOENT;
        rc = prs_queue_commit(j->queue, ups, n, &c, have_first ? NULL : "first_error", first,
                              strlen(first));
        if (rc) return job_fail(j, PRS_EXIT_STOPPED, "cannot record the crash: %s", strerror(-rc));
        atomic_fetch_add(&j->scoreboard->progress, 1);
    }
    for (uint32_t i = 0; i < PRS_MAX_WORKERS; i++) {
        atomic_store(&j->scoreboard->slot[i].state, PRS_SLOT_IDLE);
        atomic_store(&j->scoreboard->slot[i].tid, 0); /* the previous life's threads */
    }
    return 0;
}

static int job_prepare(job *j) {
    int code = job_config_text(j);
    if (code) return code;
    if (!prs_queue_created(j->queue)) {
        /* Rows with no job state describing them: a state lost or deleted, or a file that
         * is not ours. A new job would truncate it: refuse, and let --fresh say so. */
        struct stat st;
        char path[PATH_MAX + 256];
        snprintf(path, sizeof(path), "%s/%s", j->out_dir, j->cfg->append_row_file_name);
        if (j->cfg->output_action == PRS_OUTPUT_APPEND_ROW && stat(path, &st) == 0 &&
            st.st_size > 0) {
            return job_fail(j, PRS_EXIT_USAGE,
                            "%s holds %lld bytes of rows but OUT has no job state that describes "
                            "them: refusing to overwrite it (move it away, or use --fresh to "
                            "start over)",
                            path, (long long)st.st_size);
        }
        prs_joblog_master(j->log, "new job in %s", j->out_dir);
        /* Tables first: a bad table leaves no job behind, so fixing the option is not
         * refused as "a different job". */
        code = job_side_load(j);
        if (code) return code;
        return job_create(j);
    }
    char stored[JOB_CONFIG_BYTES];
    size_t len = 0;
    int rc = prs_queue_meta_get(j->queue, "config", stored, sizeof(stored) - 1, &len);
    if (rc)
        return job_fail(j, PRS_EXIT_INTERNAL, "job state: config unreadable: %s", strerror(-rc));
    stored[len] = 0;
    if (strcmp(stored, j->config_text) != 0) {
        char diff[1024];
        config_diff(stored, j->config_text, diff, sizeof(diff));
        return job_fail(j, PRS_EXIT_USAGE,
                        "--output %s holds a different job (%s); use another output directory, "
                        "or --fresh to discard it and start over",
                        j->cfg->output_dir, diff);
    }
    prs_joblog_master(j->log, "resuming the job in %s", j->out_dir);
    return 0;
}

/* ---- the coordinator ---------------------------------------------------------------- */

static void job_counts(const job *j, prs_queue_counts *c) {
    const prs_sched_counts *s = &j->sched.counts;
    *c = (prs_queue_counts){.total_batches = s->total_batches,
                            .total_items = s->total_items,
                            .done_batches = s->done_batches,
                            .failed_batches = s->failed_batches,
                            .succeeded_items = s->succeeded_items,
                            .failed_items = s->failed_items,
                            .output_bytes = j->output_bytes};
}

/* The first failing batch, its item and the file to open, from the first error. */
static int job_overview_first_failure(job *j, char *buf, size_t size) {
    unsigned long long batch;
    unsigned attempt;
    int off = 0;
    const char *file = prs_joblog_first_error_file(j->log);
    int n = 0;
    if (sscanf(j->first_error, "batch %llu attempt %u item %n", &batch, &attempt, &off) == 2 &&
        off) {
        const char *item = j->first_error + off;
        const char *colon = strstr(item, ": ");
        n = snprintf(buf, size,
                     "first failing batch: %llu (try %u), item %.*s; its rows in "
                     "logs/sys/job_report/processed_mini-batches.csv\n",
                     batch, attempt, colon ? (int)(colon - item) : (int)strlen(item), item);
    }
    if (file[0] && n >= 0 && (size_t)n < size) {
        n += snprintf(buf + n, size - (size_t)n, "open first: logs/user/error/%s/%s\n",
                      prs_joblog_node(j->log), file);
    }
    return n < 0 ? 0 : (int)PRS_MIN((size_t)n, size ? size - 1 : 0);
}

static void job_overview(job *j, const char *state) {
    const prs_sched_counts *c = &j->sched.counts;
    char text[4096];
    uint64_t processed = c->done_batches + c->failed_batches;
    int n = snprintf(text, sizeof(text),
                     "prs job overview\n"
                     "state: %s\n"
                     "mini-batches (tasks): created %llu, processed %llu (succeeded %llu, "
                     "failed %llu), remaining %llu\n"
                     "items: total %llu, succeeded %llu, failed %llu\n"
                     "elapsed: %.1f s\n",
                     state, (unsigned long long)c->total_batches, (unsigned long long)processed,
                     (unsigned long long)c->done_batches, (unsigned long long)c->failed_batches,
                     (unsigned long long)(c->total_batches - processed),
                     (unsigned long long)c->total_items, (unsigned long long)c->succeeded_items,
                     (unsigned long long)c->failed_items, (double)(now_ns() - j->started_ns) / 1e9);
    if (j->cfg->output_action == PRS_OUTPUT_APPEND_ROW) {
        n += snprintf(text + n, sizeof(text) - (size_t)n, "output: %s (%llu bytes)\n",
                      j->output_path, (unsigned long long)j->output_bytes);
    }
    if (j->sched.state == PRS_JOB_DRAINING) {
        n += snprintf(text + n, sizeof(text) - (size_t)n, "stopping because: %s\n",
                      prs_sched_reason_text(j->sched.reason));
    }
    if (j->first_error[0]) {
        n += snprintf(text + n, sizeof(text) - (size_t)n,
                      "first error: %s\nwhere to look: logs/user/error.txt (every error), "
                      "logs/sys/master.txt (the coordinator)\n",
                      j->first_error);
        n += job_overview_first_failure(j, text + n, sizeof(text) - (size_t)n);
    }
    if (processed > 0 && c->succeeded_items == 0 && c->total_batches == processed) {
        snprintf(text + n, sizeof(text) - (size_t)n,
                 "why it failed: no item succeeded (run() emitted no row for any item); "
                 "ParallelRunStep fails such a job whatever the thresholds\n");
    }
    prs_joblog_sync(j->log);
    prs_joblog_overview(j->log, text);
}

/* Writes buffered rows: the output must hold every byte a handed-over group covers. */
static int job_write_rows(job *j) {
    if (j->rows_len == 0) return 0;
    int rc = prs_outfile_append(&j->out, j->rows, j->rows_len);
    j->rows_len = 0;
    return rc;
}

/* Hands the current group to the committer (waiting for the previous one if asked). */
static int job_commit(job *j, bool wait, const char *meta_key, const void *meta_val,
                      size_t meta_len) {
    int rc = job_write_rows(j);
    if (rc) return rc;
    prs_queue_counts c;
    job_counts(j, &c);
    bool first_error = !meta_key && j->first_error_new;
    if (first_error) {
        meta_key = "first_error";
        meta_val = j->first_error;
        meta_len = strlen(j->first_error);
    }
    rc = prs_committer_flush(j->committer, &c, meta_key, meta_val, meta_len, wait);
    if (rc == 0) {
        atomic_fetch_add(&j->scoreboard->progress, 1);
        j->last_flush_ns = now_ns();
        if (first_error) j->first_error_new = false;
    }
    return rc;
}

static int job_maybe_commit(job *j) {
    uint32_t pending = prs_committer_pending(j->committer);
    if (pending == 0) return 0;
    bool full = pending == JOB_GROUP_CAP;
    if (!full && now_ns() - j->last_flush_ns < JOB_COMMIT_EVERY_NS) return 0;
    int rc = job_commit(j, full, NULL, NULL, 0);
    return rc == -EBUSY ? 0 : rc; /* busy: keep filling this group */
}

static int job_buffer_rows(job *j, const char *rows, size_t len) {
    if (j->rows_len + len > j->rows_cap) {
        int rc = job_write_rows(j);
        if (rc) return rc;
        if (len > j->rows_cap) return prs_outfile_append(&j->out, rows, len);
    }
    memcpy(j->rows + j->rows_len, rows, len);
    j->rows_len += len;
    return 0;
}

static void note_first_error(job *j, const char *errors, size_t len) {
    if (j->first_error[0] || len == 0) return;
    const char *nl = memchr(errors, '\n', len);
    size_t n = nl ? (size_t)(nl - errors) : len;
    snprintf(j->first_error, sizeof(j->first_error), "%.*s", (int)n, errors);
    j->first_error_new = true;
}

static void job_note_init_failure(job *j, const prs_done_msg *m) {
    char line[256];
    int n = snprintf(line, sizeof(line),
                     "worker %u: init() returned %d: this worker takes no batches\n", m->worker,
                     m->run_rc);
    prs_joblog_errors(j->log, line, (size_t)n);
    prs_joblog_master(j->log, "%.*s", n - 1, line);
    note_first_error(j, line, (size_t)n);
}

/* One finished try into logs/sys/node/<node>.txt and processed_mini-batches.csv. */
static void job_log_batch(job *j, const prs_done_msg *m, const prs_out *out,
                          enum prs_outcome outcome, uint32_t succeeded) {
    static const char *status[] = {[PRS_OUTCOME_OK] = "RUN_DONE",
                                   [PRS_OUTCOME_ERROR] = "RUN_EXCEPTION",
                                   [PRS_OUTCOME_TIMEOUT] = "RUN_TIMEOUT",
                                   [PRS_OUTCOME_CRASH] = "RUN_CRASH"};
    prs_joblog_batch b = {.batch_id = m->batch.batch_id,
                          .first_item = m->batch.first_item,
                          .attempt = m->batch.attempt,
                          .worker = m->worker,
                          .pid = (int32_t)getpid(),
                          .tid = m->tid,
                          .cpu = m->cpu,
                          .total = m->batch.item_count,
                          .succeeded = succeeded,
                          .failed = m->batch.item_count - succeeded,
                          .start_realtime_ns = m->start_realtime_ns,
                          .elapsed_ns = m->elapsed_ns,
                          .cpu_ns = m->cpu_ns,
                          .run_ns = m->run_ns,
                          .status = status[outcome],
                          .error_category = outcome == PRS_OUTCOME_OK ? "" : "UserError",
                          .error = out->errors_len ? out->errors : NULL,
                          .error_len = out->errors_len};
    prs_joblog_batch_done(j->log, &b);
    if (j->perf_workers) {
        j->perf_workers[m->worker].tid = m->tid;
        j->perf_workers[m->worker].batches_done++;
    }
}

/* One completion. Returns 0 or a negative error from writing the output. */
static int job_complete(job *j, const prs_done_msg *m) {
    if (m->kind == PRS_DONE_INIT) {
        prs_sched_worker_init(&j->sched, m->init_ok);
        if (!m->init_ok) job_note_init_failure(j, m);
        return 0;
    }
    PRS_ASSERT(m->kind == PRS_DONE_BATCH);
    /* That try is over: a retry of the same batch on the same worker needs its own cancel
     * (the worker clears its flag when a batch starts). */
    if (j->cancelled[m->worker] == m->batch.batch_id + 1) j->cancelled[m->worker] = 0;
    prs_worker *w = &j->workers[m->worker];
    const prs_out *out = &w->out[m->out_index];
    enum prs_outcome outcome = m->timed_out    ? PRS_OUTCOME_TIMEOUT
                               : m->run_rc < 0 ? PRS_OUTCOME_ERROR
                                               : PRS_OUTCOME_OK;
    if (m->timed_out) {
        char line[256];
        int n = snprintf(line, sizeof(line),
                         "batch %llu attempt %u item -: run() passed --run-invocation-timeout "
                         "(%llu ms) and was cancelled\n",
                         (unsigned long long)m->batch.batch_id, m->batch.attempt,
                         (unsigned long long)j->cfg->run_invocation_timeout_ms);
        prs_joblog_errors(j->log, line, (size_t)n);
        note_first_error(j, line, (size_t)n);
    }
    prs_ticket fin;
    enum prs_verdict v =
        prs_sched_complete(&j->sched, m->batch.batch_id, outcome, out->row_count, &fin);
    int rc = 0;
    if (out->errors_len) {
        prs_joblog_errors(j->log, out->errors, out->errors_len);
        note_first_error(j, out->errors, out->errors_len);
    }
    if (outcome == PRS_OUTCOME_OK && out->row_count > fin.item_count) {
        prs_joblog_master(j->log, "warning: batch %llu emitted %llu rows for %u items",
                          (unsigned long long)fin.batch_id, (unsigned long long)out->row_count,
                          fin.item_count);
    }
    prs_batch_rec rec = {.state = PRS_BATCH_PENDING,
                         .attempts = fin.attempt,
                         .first_item = m->batch.first_item,
                         .item_count = fin.item_count};
    if (v == PRS_VERDICT_DONE) {
        rec.state = PRS_BATCH_DONE;
        rec.attempts = fin.attempt - 1; /* tries spent failing before this one */
        rec.succeeded = (uint32_t)PRS_MIN(out->row_count, (uint64_t)fin.item_count);
        if (j->cfg->output_action == PRS_OUTPUT_APPEND_ROW && out->rows_len) {
            rc = job_buffer_rows(j, out->rows, out->rows_len);
            if (rc == 0) j->output_bytes += out->rows_len;
        }
    } else {
        /* Why: the try's first error line (the batch's own failure comes first). */
        int why_len = 0;
        const char *why =
            out->errors_len ? memmem(out->errors, out->errors_len, " item -: ", 9) : NULL;
        if (why) {
            why += 9;
            const char *nl = memchr(why, '\n', (size_t)(out->errors + out->errors_len - why));
            why_len = nl ? (int)(nl - why) : 0;
        }
        if (v == PRS_VERDICT_FAILED) rec.state = PRS_BATCH_FAILED;
        prs_joblog_master(
            j->log, "batch %llu try %u failed%s%.*s%s; %s", (unsigned long long)fin.batch_id,
            fin.attempt, why_len ? " (" : "", why_len, why_len ? why : "", why_len ? ")" : "",
            v == PRS_VERDICT_FAILED ? "no tries left: the batch failed" : "it will be retried");
    }
    job_log_batch(j, m, out, outcome, rec.state == PRS_BATCH_DONE ? rec.succeeded : 0);
    prs_worker_release_out(w, m->out_index);
    prs_batch_update up = {.batch_id = fin.batch_id, .rec = rec};
    if (!prs_committer_add(j->committer, &up)) {
        int crc = job_commit(j, true, NULL, NULL, 0);
        if (crc) return crc;
        bool added = prs_committer_add(j->committer, &up);
        PRS_ASSERT(added); /* a group was just handed over: this one is empty */
    }
    return rc;
}

/* The next pending batch from the store, reading a window at a time. */
static int job_next_pending(job *j, uint64_t *id, prs_batch_rec *rec) {
    for (int tries = 0; j->pend_next == j->pend_len; tries++) {
        if (tries > 1000000) return -EIO; /* cannot happen: each try advances the cursor */
        int rc = prs_queue_reader_begin(j->reader);
        if (rc) return rc;
        rc = prs_queue_reader_pending(j->reader, &j->cursor, j->pend_ids, j->pend_recs,
                                      JOB_PENDING_WINDOW);
        prs_queue_reader_end(j->reader);
        if (rc == -EAGAIN) continue;
        if (rc < 0) return rc;
        if (rc == 0) return -ENOENT;
        j->pend_len = (uint32_t)rc;
        j->pend_next = 0;
    }
    *id = j->pend_ids[j->pend_next];
    *rec = j->pend_recs[j->pend_next];
    j->pend_next++;
    return 0;
}

static int job_dispatch(job *j) {
    for (;;) {
        prs_ticket t;
        prs_dispatch_msg m = {0};
        enum prs_pick pick = prs_sched_next(&j->sched, &t);
        if (pick == PRS_PICK_WAIT || pick == PRS_PICK_END) return 0;
        if (pick == PRS_PICK_NEW) {
            uint64_t id;
            prs_batch_rec rec;
            int rc = job_next_pending(j, &id, &rec);
            if (rc == -ENOENT) {
                prs_sched_store_exhausted(&j->sched);
                continue;
            }
            if (rc) return rc;
            if (rec.attempts >= j->cfg->run_max_try) {
                /* Tries spent in an earlier run with a larger --run-max-try: give it one. */
                rec.attempts = j->cfg->run_max_try - 1;
            }
            t = (prs_ticket){
                .batch_id = id, .attempt = rec.attempts + 1, .item_count = rec.item_count};
            m.first_item = rec.first_item;
        } else {
            prs_batch_rec rec;
            int rc = prs_queue_reader_begin(j->reader);
            if (rc) return rc;
            rc = prs_queue_reader_batch(j->reader, t.batch_id, &rec);
            prs_queue_reader_end(j->reader);
            if (rc) return rc;
            m.first_item = rec.first_item;
        }
        prs_sched_start(&j->sched, &t, now_ns() / 1000000u);
        m.batch_id = t.batch_id;
        m.attempt = t.attempt;
        m.item_count = t.item_count;
        prs_chan_push(&j->dispatch, &m);
    }
}

static void job_progress_draw(job *j, bool force) {
    if (j->cfg->quiet) return;
    if (!j->progress_ready) {
        prs_progress_init(&j->progress, prs_capture_stderr_fd(j->capture));
        j->progress_ready = true;
    }
    const prs_sched_counts *c = &j->sched.counts;
    prs_progress_counts pc = {.total_batches = c->total_batches,
                              .finished_batches = c->done_batches + c->failed_batches,
                              .failed_batches = c->failed_batches,
                              .total_items = c->total_items,
                              .finished_items = c->succeeded_items + c->failed_items,
                              .failed_items = c->failed_items};
    uint64_t t = now_ns();
    prs_progress_tick(&j->progress, &pc, t, t - j->started_ns, force);
}

static void job_progress(job *j, bool force) {
    job_progress_draw(j, force); /* a terminal's bar moves more often than overview.txt */
    uint64_t t = now_ns();
    if (!force && t - j->last_overview_ns < JOB_OVERVIEW_EVERY_NS) return;
    j->last_overview_ns = t;
    job_overview(j, prs_sched_state_text(j->sched.state));
    if (j->perf && !j->workers_stopped)
        prs_perf_tick(j->perf, j->perf_workers, j->workers_started, false);
}

/* Batches waiting in the dispatch queue go back to pending without a try spent. */
static void job_take_back_queued(job *j) {
    prs_dispatch_msg m;
    while (prs_chan_pop_many(&j->dispatch, &m, 1, 0) == 1) {
        if (!m.stop) prs_sched_unstart(&j->sched, m.batch_id);
    }
}

/* Ends a supervised runtime now: what is committed stays, running batches are not charged
 * (their scoreboard slots say RUNNING), the supervisor restarts or reports. */
static void job_abandon(job *j, int code) {
    prs_dispatch_msg unused;
    while (prs_chan_pop_many(&j->dispatch, &unused, 1, 0) == 1) {
    }
    int rc = job_commit(j, true, NULL, NULL, 0);
    if (rc == 0) rc = prs_committer_drain(j->committer);
    if (rc) prs_joblog_master(j->log, "could not commit before restarting: %s", strerror(-rc));
    job_overview(j, code == PRS_EXIT_RESTART ? "RESTARTING" : "STOPPED");
    prs_joblog_master(j->log, "runtime exits with code %d%s", code,
                      code == PRS_EXIT_RESTART ? ": the supervisor restarts it" : "");
    /* _exit skips every cleanup: the log ring and the coordinator's files reach disk
     * first (bounded: a stuck flusher does not hold the restart). */
    prs_joblog_sync(j->log);
    prs_joblog_flush(j->log, 2000);
    /* threads stuck in user code cannot be joined: end the process */
    prs_supervisor_exit(code, j->report);
}

/* The worker running batch id, or -1. */
static int job_worker_of(const job *j, uint64_t id) {
    for (uint32_t w = 0; w < j->workers_started; w++) {
        const prs_scoreboard_slot *slot = &j->scoreboard->slot[w];
        if (atomic_load(&slot->state) == PRS_SLOT_RUNNING && atomic_load(&slot->batch_id) == id)
            return (int)w;
    }
    return -1;
}

/* Stop requests and run() deadlines, once per tick. */
static void job_watch(job *j) {
    uint64_t t = now_ns();
    unsigned req = atomic_load(&job_stop_requests);
    if (req > j->stop_seen) {
        if (j->stop_seen == 0) {
            prs_sched_stop(&j->sched);
            job_take_back_queued(j);
            j->stop_ns = t;
            prs_joblog_master(j->log,
                              "stop requested: no more batches start; running ones may "
                              "finish for %llu s (a second request stops at once)",
                              JOB_STOP_GRACE_NS / 1000000000ull);
        }
        j->stop_seen = req;
    }
    bool stop_now = j->stop_seen >= 2 || (j->stop_seen && t - j->stop_ns > JOB_STOP_GRACE_NS);
    if (stop_now && j->sched.in_flight > 0 && j->cfg->supervised) job_abandon(j, PRS_EXIT_STOPPED);

    uint64_t timeout_ms = j->cfg->run_invocation_timeout_ms;
    if (timeout_ms == 0) return;
    for (uint32_t w = 0; w < j->workers_started; w++) {
        const prs_scoreboard_slot *slot = &j->scoreboard->slot[w];
        if (atomic_load_explicit(&slot->state, memory_order_acquire) != PRS_SLOT_RUNNING) continue;
        uint64_t id = atomic_load(&slot->batch_id);
        if (prs_sched_has(&j->sched, id)) {
            prs_sched_running(&j->sched, id, atomic_load(&slot->started_mono_ns) / 1000000u);
        }
    }
    uint64_t ids[16];
    size_t n = prs_sched_expired(&j->sched, t / 1000000u, ids, PRS_ARRAY_LEN(ids));
    for (size_t i = 0; i < n; i++) {
        int w = job_worker_of(j, ids[i]);
        if (w < 0 || j->cancelled[w] == ids[i] + 1) continue;
        j->cancelled[w] = ids[i] + 1;
        atomic_store(&j->workers[w].cancel, true);
        prs_joblog_master(j->log,
                          "batch %llu passed --run-invocation-timeout (%llu ms) on worker %d: "
                          "asked to stop",
                          (unsigned long long)ids[i], (unsigned long long)timeout_ms, w);
    }
    /* Past a grace period a run() that ignores prs_cancelled is hung: charge its try and
     * restart the runtime, the only way to take a thread back. */
    uint64_t grace_ms = PRS_MIN(PRS_MAX(timeout_ms / 4, 500u), 10000u);
    if (!j->cfg->supervised || t / 1000000u < grace_ms) return;
    n = prs_sched_expired(&j->sched, t / 1000000u - grace_ms, ids, 1);
    if (n == 0) return;
    prs_ticket fin;
    prs_batch_rec rec;
    int rc = prs_queue_reader_begin(j->reader);
    if (rc == 0) {
        rc = prs_queue_reader_batch(j->reader, ids[0], &rec);
        prs_queue_reader_end(j->reader);
    }
    if (rc) {
        job_fail(j, PRS_EXIT_INTERNAL, "queue read failed: %s", strerror(-rc));
        job_abandon(j, PRS_EXIT_RESTART);
    }
    enum prs_verdict v = prs_sched_complete(&j->sched, ids[0], PRS_OUTCOME_TIMEOUT, 0, &fin);
    rec.attempts = fin.attempt;
    if (v == PRS_VERDICT_FAILED) rec.state = PRS_BATCH_FAILED;
    char line[320];
    int len = snprintf(line, sizeof(line),
                       "batch %llu attempt %u item -: run() ignored the cancel %llu ms after "
                       "--run-invocation-timeout; %s; the runtime restarts\n",
                       (unsigned long long)ids[0], fin.attempt, (unsigned long long)grace_ms,
                       v == PRS_VERDICT_FAILED ? "no tries left: the batch failed"
                                               : "it will be retried");
    prs_joblog_errors(j->log, line, (size_t)len);
    prs_joblog_master(j->log, "%.*s", len - 1, line);
    note_first_error(j, line, (size_t)len);
    prs_batch_update up = {.batch_id = ids[0], .rec = rec};
    if (!prs_committer_add(j->committer, &up)) {
        job_commit(j, true, NULL, NULL, 0);
        prs_committer_add(j->committer, &up);
    }
    job_abandon(j, PRS_EXIT_RESTART);
}

static int job_coordinate(job *j) {
    prs_done_msg msgs[JOB_DONE_BATCH];
    int rc = 0;
    /* Bounded by the job: every pass either starts, completes or waits one tick. */
    while (!prs_sched_finished(&j->sched)) {
        rc = job_dispatch(j);
        if (rc) {
            job_fail(j, PRS_EXIT_INTERNAL, "queue read failed: %s", strerror(-rc));
            prs_sched_stop(&j->sched);
        }
        /* Completions gather before the coordinator wakes (fewer context switches): at
         * most half of those in flight, so the other half keeps the workers busy, and at
         * most one worker's result buffers, so a worker waiting for one always wakes it. */
        uint32_t wake = PRS_MIN(j->sched.in_flight / 2, PRS_WORKER_OUTS / 2 * j->workers_started);
        prs_chan_set_wake(&j->done, PRS_MAX(PRS_MIN(wake, PRS_WORKER_OUTS), 1u));
        uint32_t n = prs_chan_pop_many(&j->done, msgs, JOB_DONE_BATCH, JOB_TICK_MS);
        for (uint32_t i = 0; i < n; i++) {
            int wrc = job_complete(j, &msgs[i]);
            if (wrc && !rc) {
                rc = wrc;
                job_fail(j, PRS_EXIT_STOPPED,
                         "%s: cannot append rows: %s; the job stops and can be resumed",
                         j->output_path, strerror(-wrc));
                prs_sched_stop(&j->sched);
            }
        }
        {
            int crc = job_maybe_commit(j);
            if (crc == PRS_QUEUE_EMAPFULL && j->cfg->supervised) {
                /* Workers read the map: it cannot move under them. A restart reopens it
                 * twice as large; what was not committed is redone, uncharged. */
                prs_joblog_master(j->log, "%s/data.mdb: job state map full: restarting to grow it",
                                  j->state_dir);
                job_abandon(j, PRS_EXIT_RESTART);
            }
            if (crc) {
                job_fail(j, PRS_EXIT_STOPPED,
                         "cannot commit progress (%s): the job stops; rerun to resume",
                         crc == PRS_QUEUE_EMAPFULL ? "job state map full; it reopens twice as large"
                                                   : strerror(-crc));
                prs_sched_stop(&j->sched);
                return PRS_EXIT_STOPPED;
            }
        }
        job_watch(j);
        job_progress(j, false);
    }
    return rc ? (rc == -ENOSPC || rc == -EDQUOT || rc == -EIO ? PRS_EXIT_STOPPED
                                                              : PRS_EXIT_INTERNAL)
              : 0;
}

static int job_start_workers(job *j) {
    int cpus[CPU_SETSIZE];
    uint32_t ncpu = job_cpus(cpus, CPU_SETSIZE);
    uint32_t n = j->cfg->workers ? j->cfg->workers : ncpu;
    /* Deep enough that workers never wait for the coordinator; deadlines start when run()
     * does, so a queued batch loses nothing by waiting. */
    uint32_t slots = PRS_MIN(PRS_MAX(n * 8, 4u), PRS_SCHED_MAX_SLOTS);
    prs_sched_limits lim = {.run_max_try = j->cfg->run_max_try,
                            .error_threshold = j->cfg->error_threshold,
                            .allowed_failed_count = j->cfg->allowed_failed_count,
                            .allowed_failed_percent = j->cfg->allowed_failed_percent,
                            .run_timeout_ms = j->cfg->run_invocation_timeout_ms,
                            .slots = slots,
                            .workers = n};
    prs_queue_counts qc;
    int rc = prs_queue_counts_get(j->queue, &qc);
    if (rc)
        return job_fail(j, PRS_EXIT_INTERNAL, "job state: counters unreadable: %s", strerror(-rc));
    j->output_bytes = qc.output_bytes;
    prs_sched_counts sc = {.total_batches = qc.total_batches,
                           .total_items = qc.total_items,
                           .done_batches = qc.done_batches,
                           .failed_batches = qc.failed_batches,
                           .succeeded_items = qc.succeeded_items,
                           .failed_items = qc.failed_items};
    rc = prs_sched_init(&j->sched, &lim, &sc);
    if (rc) return job_fail(j, PRS_EXIT_INTERNAL, "job state: inconsistent counters");
    /* Nothing pending (all committed, the result not yet: a crash in prs_shutdown or in a
     * late prs_init after the last commit): finish without starting a worker, whose init
     * or shutdown could only crash again. */
    bool idle = sc.done_batches + sc.failed_batches == sc.total_batches;
    if (idle) {
        prs_joblog_master(j->log, "nothing pending: the job finishes without starting workers");
        prs_sched_store_exhausted(&j->sched);
        n = 0;
    }
    j->workers = calloc(PRS_MAX(n, 1u), sizeof(*j->workers));
    j->rows_cap = JOB_ROWS_FLUSH_BYTES;
    j->rows = malloc(j->rows_cap);
    if (!j->rows || !j->workers) return job_fail(j, PRS_EXIT_INTERNAL, "out of memory");
    rc = prs_committer_start(&j->committer, j->queue,
                             j->cfg->output_action == PRS_OUTPUT_APPEND_ROW ? &j->out : NULL,
                             j->cfg->durable, JOB_GROUP_CAP);
    if (rc) return job_fail(j, PRS_EXIT_INTERNAL, "cannot start the committer: %s", strerror(-rc));
    if (prs_chan_init(&j->dispatch, slots + n, sizeof(prs_dispatch_msg)) ||
        prs_chan_init(&j->done, slots + n, sizeof(prs_done_msg))) {
        return job_fail(j, PRS_EXIT_INTERNAL, "out of memory");
    }
    j->chans_ready = true;
    rc = prs_queue_reader_open(j->queue, &j->reader);
    if (rc) return job_fail(j, PRS_EXIT_INTERNAL, "queue reader: %s", strerror(-rc));
    /* Probe the I/O path once, here, so the log says which one runs and why, and an
     * explicit --io uring that cannot work fails before any batch starts. */
    char why[PRS_READER_WHY_BYTES];
    prs_reader *probe;
    rc = prs_reader_create(&probe, j->root_fd, (enum prs_io_mode)j->cfg->io_mode, 0, why,
                           sizeof(why));
    if (rc) return job_fail(j, PRS_EXIT_USAGE, "--io uring: io_uring cannot be used here: %s", why);
    enum prs_io_mode io = prs_reader_uses_uring(probe) ? PRS_IO_URING : PRS_IO_SYNC;
    prs_reader_destroy(probe);
    prs_joblog_master(j->log, "input I/O (--io %s): %s",
                      j->cfg->io_mode == PRS_IO_URING  ? "uring"
                      : j->cfg->io_mode == PRS_IO_SYNC ? "sync"
                                                       : "auto",
                      why);
    if (io == PRS_IO_URING) {
        int lrc = prs_joblog_use_uring(j->log);
        prs_joblog_master(j->log, "log files: written through %s%s",
                          lrc ? "write(2): io_uring: " : "io_uring", lrc ? strerror(-lrc) : "");
    } else {
        prs_joblog_master(j->log, "log files: written through write(2), as the input side reads");
    }
    j->shared = (prs_workers_shared){.config = j->cfg,
                                     .entry = &j->entry,
                                     .queue = j->queue,
                                     .log = j->log,
                                     .input_root_fd = j->root_fd,
                                     .output_dir = j->out_dir,
                                     .dispatch = &j->dispatch,
                                     .done = &j->done,
                                     .scoreboard = j->scoreboard,
                                     .io_mode = io,
                                     .format = (enum prs_format)j->cfg->input_format,
                                     .argc = j->cfg->argc,
                                     .argv = j->init_argv,
                                     .side = &j->side,
                                     .sidedb = j->sidedb,
                                     .global = &j->global};
    /* Once per process, before any worker: what it builds every worker reads. */
    j->global.side = &j->side;
    if (j->entry.global_init && n > 0) {
        rc = j->entry.global_init(&j->global, j->cfg->argc, j->init_argv);
        if (rc) {
            return job_fail(j, PRS_EXIT_INIT_FAILED,
                            "prs_global_init returned %d: no worker started", rc);
        }
        j->global_ready = true;
        prs_joblog_master(j->log, "prs_global_init done");
    }
    /* More workers than CPUs is allowed: they are placed round-robin over the CPUs. */
    if (n == 0) return 0;
    prs_joblog_master(j->log, "starting %u workers on %u CPUs%s", n, ncpu,
                      n > ncpu ? " (more workers than CPUs: placed round-robin)" : "");
    for (uint32_t i = 0; i < n; i++) {
        rc = prs_worker_start(&j->workers[i], i, cpus[i % ncpu], &j->shared);
        if (rc)
            return job_fail(j, PRS_EXIT_INTERNAL, "cannot start worker %u: %s", i, strerror(-rc));
        j->workers_started++;
    }
    j->perf_workers = calloc(n, sizeof(*j->perf_workers));
    if (j->perf_workers) {
        for (uint32_t i = 0; i < n; i++)
            j->perf_workers[i].thread = j->workers[i].thread;
        rc = prs_perf_open(&j->perf, prs_joblog_dir(j->log), j->cfg->perf_interval_s, n);
        if (rc) prs_joblog_master(j->log, "no logs/sys/perf: %s", strerror(-rc));
    }
    return 0;
}

/* A completion that arrives after the job stopped: rows are not committed, but a failed
 * init is still reported. */
static void job_drop_completion(job *j, const prs_done_msg *m) {
    if (m->kind == PRS_DONE_BATCH)
        prs_worker_release_out(&j->workers[m->worker], m->out_index);
    else if (!m->init_ok)
        job_note_init_failure(j, m);
}

static void job_stop_workers(job *j) {
    if (j->workers_stopped || !j->workers_started) return;
    if (j->perf) prs_perf_tick(j->perf, j->perf_workers, j->workers_started, true); /* last one */
    j->workers_stopped = true;
    /* Batches not yet taken stay pending (uncommitted): pull them back so each worker ends
     * after at most the batch in its hands. */
    prs_dispatch_msg stop = {.stop = true}, unused;
    while (prs_chan_pop_many(&j->dispatch, &unused, 1, 0) == 1) {
    }
    /* Workers whose failed init the coordinator saw are gone already; one that fails init
     * after this leaves its stop message unread, which the channel has room for. */
    uint32_t live = j->workers_started - j->sched.workers_init_failed;
    for (uint32_t i = 0; i < live; i++)
        prs_chan_push(&j->dispatch, &stop);
    /* A worker may still be busy with a batch queued before the stop: drain completions
     * so it can hand its buffer over, then join. Their results are not committed: those
     * batches stay pending, which is what a stop means. */
    prs_done_msg m;
    for (uint32_t i = 0; i < j->workers_started; i++) {
        while (prs_chan_pop_many(&j->done, &m, 1, 0) == 1)
            job_drop_completion(j, &m);
        prs_worker_join(&j->workers[i]);
        const prs_worker *w = &j->workers[i];
        char logs[PATH_MAX + 16], role[32];
        snprintf(logs, sizeof(logs), "%s/logs", j->out_dir);
        snprintf(role, sizeof(role), "worker-%u", w->id);
        /* exit_code 0: ran until stopped; 1: its init failed. */
        prs_joblog_process_row(logs, (int)getpid(), w->tid, role, w->cpu, w->started_unix_ms,
                               w->ended_unix_ms, w->init_ok ? 0 : 1, 0);
    }
    /* A worker that finished init after the job drained still said so: keep its error. */
    while (prs_chan_pop_many(&j->done, &m, 1, 0) == 1)
        job_drop_completion(j, &m);
}

static int job_result_code(const job *j, enum prs_job_state st) {
    if (st == PRS_JOB_SUCCEEDED) return PRS_EXIT_OK;
    if (st == PRS_JOB_STOPPED) return PRS_EXIT_STOPPED;
    return j->sched.reason == PRS_REASON_INIT_FAILED ? PRS_EXIT_INIT_FAILED : PRS_EXIT_THRESHOLD;
}

static void job_report_counts(job *j) {
    prs_queue_counts c;
    if (j->sched.limits.slots) {
        job_counts(j, &c);
    } else if (prs_queue_counts_get(j->queue, &c) != 0) {
        return;
    }
    prs_job_report *r = j->report;
    r->total_batches = c.total_batches;
    r->done_batches = c.done_batches;
    r->failed_batches = c.failed_batches;
    r->total_items = c.total_items;
    r->succeeded_items = c.succeeded_items;
    r->failed_items = c.failed_items;
    r->output_bytes = c.output_bytes;
}

/* A finished job is reported from its stored result, not run again. */
static int job_finished_before(job *j, int *code) {
    char text[1100];
    size_t len = 0;
    if (prs_queue_meta_get(j->queue, "result", text, sizeof(text) - 1, &len) != 0) return 0;
    text[len] = 0;
    *code = atoi(text);
    const char *msg = strchr(text, ' ');
    job_report_counts(j);
    snprintf(j->report->message, sizeof(j->report->message), "already finished: %.900s",
             msg ? msg + 1 : text);
    return 1;
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
            return job_fail(j, PRS_EXIT_INPUT, "--input %s: %s", j->cfg->input, strerror(errno));
    }
    return 0;
}

static int job_run(job *j) {
    int code = job_validate(j);
    if (code) return code;
    if ((code = job_side_config(j))) return code;
    if (j->cfg->entry_script) {
        char err[1024];
        int rc = prs_entry_load(&j->lib, j->cfg->entry_script, err, sizeof(err));
        if (rc) return job_fail(j, PRS_EXIT_USAGE, "%s", err);
        j->entry = j->lib.table;
    } else {
        j->entry = j->cfg->entry;
    }
    if ((code = job_open_state(j))) return code;
    /* A tabular job is cut from the files at creation: their root is needed first. */
    if (j->cfg->input_format != PRS_FORMAT_FILES && (code = job_open_root(j))) return code;
    if ((code = job_prepare(j))) return code;
    if (job_finished_before(j, &code)) return code;
    if ((code = job_side_load(j))) return code; /* a resume: reuse, or refuse a changed file */
    if ((code = job_repair(j))) return code;
    if (j->root_fd < 0 && (code = job_open_root(j))) return code;
    size_t first_len = 0;
    if (prs_queue_meta_get(j->queue, "first_error", j->first_error, sizeof(j->first_error) - 1,
                           &first_len) == 0) {
        j->first_error[first_len] = 0; /* from an earlier life of the job */
    }
    snprintf(j->output_path, sizeof(j->output_path), "%s/%s", j->out_dir,
             j->cfg->append_row_file_name);
    if (j->cfg->output_action == PRS_OUTPUT_APPEND_ROW) {
        prs_queue_counts qc;
        int rc = prs_queue_counts_get(j->queue, &qc);
        if (rc)
            return job_fail(j, PRS_EXIT_INTERNAL, "job state: counters unreadable: %s",
                            strerror(-rc));
        char err[1024];
        rc = prs_outfile_open(&j->out, j->output_path, qc.output_bytes, err, sizeof(err));
        if (rc) return job_fail(j, rc == -EBADMSG ? PRS_EXIT_USAGE : PRS_EXIT_INTERNAL, "%s", err);
    }
    if ((code = job_start_workers(j))) return code;
    prs_joblog_master(j->log, "running: %llu of %llu mini-batches left",
                      (unsigned long long)(j->sched.counts.total_batches -
                                           j->sched.counts.done_batches -
                                           j->sched.counts.failed_batches),
                      (unsigned long long)j->sched.counts.total_batches);
    code = job_coordinate(j);
    if (code) return code;
    /* Every batch's state reaches LMDB before any prs_shutdown runs: a crash there (or in a
     * late prs_init) leaves a job with nothing pending, which the next life finishes. */
    if (job_commit(j, true, NULL, NULL, 0) == 0) prs_committer_drain(j->committer);
    job_stop_workers(j); /* their last words (a late init failure) belong in the result */
    enum prs_job_state st = prs_sched_result(&j->sched);
    const prs_sched_counts *c = &j->sched.counts;
    /* ParallelRunStep fails a job in which no mini-batch item succeeded, whatever the
     * thresholds allow. */
    bool none_ok = st == PRS_JOB_SUCCEEDED && c->total_items > 0 && c->succeeded_items == 0;
    if (none_ok) st = PRS_JOB_FAILED;
    code = none_ok ? PRS_EXIT_THRESHOLD : job_result_code(j, st);
    int n =
        snprintf(j->report->message, sizeof(j->report->message),
                 "%s: %llu of %llu mini-batches succeeded, %llu failed; %llu of %llu items failed",
                 prs_sched_state_text(st), (unsigned long long)c->done_batches,
                 (unsigned long long)c->total_batches, (unsigned long long)c->failed_batches,
                 (unsigned long long)c->failed_items, (unsigned long long)c->total_items);
    if (st != PRS_JOB_SUCCEEDED) {
        snprintf(j->report->message + n, sizeof(j->report->message) - (size_t)n, " (%s)%s",
                 none_ok ? "no mini-batch item succeeded: the job fails whatever the thresholds"
                         : prs_sched_reason_text(j->sched.reason),
                 st == PRS_JOB_STOPPED ? "; run the same command again to resume" : "");
    }
    prs_joblog_master(j->log, "result: %s", j->report->message);
    char result[1100];
    int len = snprintf(result, sizeof(result), "%d %s", code, j->report->message);
    if (j->first_error_new) job_commit(j, true, NULL, NULL, 0); /* its own group: kept */
    int rc = st == PRS_JOB_STOPPED ? job_commit(j, true, NULL, NULL, 0)
                                   : job_commit(j, true, "result", result, (size_t)len);
    if (rc == 0) rc = prs_committer_drain(j->committer);
    if (rc == PRS_QUEUE_EMAPFULL && j->cfg->supervised) {
        prs_joblog_master(j->log, "%s/data.mdb: job state map full: restarting to grow it",
                          j->state_dir);
        job_abandon(j, PRS_EXIT_RESTART);
    }
    if (rc)
        return job_fail(j, PRS_EXIT_STOPPED, "cannot commit the result: %s",
                        rc == PRS_QUEUE_EMAPFULL
                            ? "job state map full; rerun: it reopens twice as large"
                            : strerror(-rc));
    job_overview(j, prs_sched_state_text(st));
    return code;
}

int prs_job_run(const prs_job_config *config, prs_job_report *report) {
    prs_job_report local;
    job *j = calloc(1, sizeof(*j));
    if (!j) return PRS_EXIT_INTERNAL;
    j->cfg = config;
    j->report = report ? report : &local;
    memset(j->report, 0, sizeof(*j->report));
    j->lock_fd = -1;
    j->root_fd = -1;
    j->out.fd = -1;
    j->started_ns = now_ns();
    int code = job_run(j);
    job_stop_workers(j);
    if (j->global_ready && j->entry.global_shutdown) j->entry.global_shutdown(&j->global);
    if (j->committer) {
        prs_committer_drain(j->committer); /* what was handed over lands before the exit */
        prs_committer_stop(j->committer);
    }
    if (j->queue) job_report_counts(j);
    if (code && j->log && j->queue && prs_queue_created(j->queue))
        job_overview(j, code == PRS_EXIT_STOPPED ? "STOPPED" : "FAILED");
    prs_outfile_close(&j->out);
    prs_queue_reader_close(j->reader);
    if (j->chans_ready) {
        prs_chan_destroy(&j->dispatch);
        prs_chan_destroy(&j->done);
    }
    prs_queue_close(j->queue);
    if (j->progress_ready && j->progress.tty) job_progress_draw(j, true); /* the final state */
    if (j->progress_ready) prs_progress_end(&j->progress);
    prs_capture_stop(j->capture);
    prs_perf_close(j->perf);
    free(j->perf_workers);
    prs_sidedb_close(j->sidedb);
    free(j->init_argv);
    prs_joblog_close(j->log);
    if (j->root_fd >= 0) close(j->root_fd);
    if (j->lock_fd >= 0) close(j->lock_fd);
    free(j->workers);
    free(j->rows);
    prs_entry_unload(&j->lib);
    free(j);
    return code;
}
