/* host.c -- see host.h. */
#include "host.h"
#include "clock.h"
#include "fs.h"

#include "hostmsg.h"
#include "hostproc.h"
#include "le.h"
#include "prs_host.h"
#include "records.h"
#include "worker_impl.h"

#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HOST_SHUTDOWN_MS 30000u /* shutdown() gets this long, then the host is killed */
#define HOST_EXIT_MS 2000u      /* after BYE (or a death seen on the pipes) */
#define HOST_CHECK_MS 600000u   /* the job-start import check: a hung import fails it */
#define HOST_ARGS_MAX 8u

/* The host prs_host_check started, kept for worker 0 of that job. */
static pthread_mutex_t spare_lock = PTHREAD_MUTEX_INITIALIZER;
static const void *spare_key;
static struct prs_host *spare_host;

/* A cancel that is on from the start: a wait with it is a plain deadline. */
static const atomic_bool host_deadline = true;

typedef struct prs_host {
    prs_hostproc proc;
    prs_joblog *log; /* error files (the job-start check streams no output) */
    char python[PATH_MAX];
    char adapter[PATH_MAX + 32];
    char script[PATH_MAX];
    char root[PATH_MAX]; /* files: item names are relative to it ("" when absolute) */
    prs_hostmsg req;     /* the request being built */
    int argc;
    char **argv;
    uint32_t lives; /* hosts started for this worker */
    int gpu;        /* its CUDA_VISIBLE_DEVICES, or -1 */
    char message[1024];
} prs_host;

static double host_seconds(void) {
    return (double)prs_mono_ns() / 1e9;
}

/* GPUs to share out: --gpus, else those the NVIDIA driver lists, else none. */
static uint32_t host_gpus(const prs_job_config *cfg) {
    if (cfg->gpus) return cfg->gpus;
    DIR *d = opendir("/proc/driver/nvidia/gpus");
    if (!d) return 0;
    uint32_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 1024)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* ---- where things are ----------------------------------------------------------------- */

/* prs's Python files: the config, $PRS_PYTHON_DIR, or beside the binary (a build tree's
 * build/prs -> core/python; an install's bin/prs -> share/prs/python). */
static int host_adapter(const prs_job_config *cfg, char *path, size_t size) {
    const char *dir = cfg->python_dir ? cfg->python_dir : getenv("PRS_PYTHON_DIR");
    if (dir && dir[0]) {
        snprintf(path, size, "%s/prs_host.py", dir);
        return access(path, R_OK) == 0 ? 0 : -ENOENT;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) return -ENOENT;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    char exe_dir_real[PATH_MAX];
    static const char *rel[] = {"../core/python", "../../core/python", "../share/prs/python"};
    for (size_t i = 0; i < PRS_ARRAY_LEN(rel); i++) {
        char cand[PATH_MAX + 32];
        snprintf(cand, sizeof(cand), "%s/%s", exe, rel[i]);
        if (!realpath(cand, exe_dir_real)) continue;
        snprintf(path, size, "%s/prs_host.py", exe_dir_real);
        if (access(path, R_OK) == 0) return 0;
    }
    return -ENOENT;
}

static int host_paths(prs_host *h, const prs_job_config *cfg, char *err, size_t err_size) {
    const char *py = cfg->python ? cfg->python : PRS_HOST_DEFAULT_PYTHON;
    snprintf(h->python, sizeof(h->python), "%s", py);
    if (access(py, X_OK) != 0) {
        snprintf(err, err_size, "--python %s: %s%s", py, strerror(errno),
                 errno == ENOENT ? " (install python3, or give an interpreter's path)" : "");
        return -ENOENT;
    }
    if (host_adapter(cfg, h->adapter, sizeof(h->adapter)) != 0) {
        snprintf(err, err_size,
                 "prs's Python adapter (prs_host.py) not found: set PRS_PYTHON_DIR to the "
                 "directory holding it (core/python in the source tree)");
        return -ENOENT;
    }
    if (!realpath(cfg->entry_script, h->script)) {
        snprintf(err, err_size, "--entry-script %s: %s", cfg->entry_script, strerror(errno));
        return -ENOENT;
    }
    h->root[0] = 0;
    if (cfg->input_format == PRS_FORMAT_FILES && cfg->input[0] != '@') {
        if (!realpath(cfg->input, h->root)) h->root[0] = 0;
    } else if (!getcwd(h->root, sizeof(h->root))) {
        h->root[0] = 0; /* a list's relative paths are relative to the working directory */
    }
    return 0;
}

static int host_send(prs_host *h, uint32_t type, const atomic_bool *cancel, uint32_t kill_ms) {
    struct iovec v = {.iov_base = h->req.p, .iov_len = h->req.len};
    prs_hostproc_request_begin(&h->proc);
    return prs_hostproc_send(&h->proc, type, &v, h->req.len ? 1 : 0, cancel, kill_ms);
}

/* ---- answers -------------------------------------------------------------------------- */

/* The error directory of the job's logs, or "" without a log. */
static void error_dir(prs_joblog *log, char *dir, size_t size) {
    if (!log) {
        dir[0] = 0;
        return;
    }
    snprintf(dir, size, "%s/user/error/%s", prs_joblog_dir(log), prs_joblog_node(log));
}

/* Writes text to logs/user/error/<node>/name; its logs/-relative path into rel. */
static void write_traceback(prs_joblog *log, const char *name, const char *head, const char *text,
                            size_t len, char *rel, size_t rel_size) {
    char dir[PATH_MAX], path[PATH_MAX + 128];
    rel[0] = 0;
    error_dir(log, dir, sizeof(dir));
    if (!dir[0]) return;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = prs_fopen_nofollow(path, "w");
    if (!f) return;
    fprintf(f, "%s\n\n%.*s", head, (int)len, text);
    if (len && text[len - 1] != '\n') fputc('\n', f);
    if (fclose(f) == 0)
        snprintf(rel, rel_size, "logs/user/error/%s/%s", prs_joblog_node(log), name);
}

static void host_log(prs_host *h, int worker, prs_joblog *log, int level, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void host_log(prs_host *h, int worker, prs_joblog *log, int level, const char *fmt, ...) {
    PRS_UNUSED(h);
    if (!log || !prs_joblog_user_enabled(log, level)) return;
    va_list ap;
    va_start(ap, fmt);
    prs_joblog_user(log, worker, level, fmt, ap);
    va_end(ap);
}

static void log_batch(prs_joblog *log, int worker, int level, const prs_batch *b, const char *fmt,
                      ...) __attribute__((format(printf, 5, 6)));
static void log_batch(prs_joblog *log, int worker, int level, const prs_batch *b, const char *fmt,
                      ...) {
    va_list ap;
    va_start(ap, fmt);
    prs_joblog_user_batch(log, worker, level, b->id, b->attempt, fmt, ap);
    va_end(ap);
}

/* A LOG frame: level, then the line. */
/* Inside run() (b set) the line carries "[batch B try A]", as prs_log's do. */
static void on_log(prs_hostproc *hp, const prs_batch *b, const char *p, uint32_t len) {
    if (len < 4 || !hp->log) return;
    int level = (int)prs_le32_get(p);
    if (!prs_joblog_user_enabled(hp->log, level)) return;
    char text[PRS_HOSTPROC_LINE_MAX];
    snprintf(text, sizeof(text), "%.*s", (int)(len - 4), p + 4);
    if (b) {
        log_batch(hp->log, hp->worker, level, b, "%s", text);
    } else {
        host_log(NULL, hp->worker, hp->log, level, "%s", text);
    }
}

/* Waits for READY after INIT. 0, or the error kind with h->message (and the traceback
 * in tb_name when it has one). */
static int host_await_ready(prs_host *h, const atomic_bool *cancel, uint32_t kill_ms,
                            const char *tb_name, char *tb_rel, size_t tb_rel_size) {
    tb_rel[0] = 0;
    for (;;) {
        uint32_t type, len;
        const char *p;
        int rc = prs_hostproc_recv(&h->proc, cancel, kill_ms, &type, &p, &len);
        if (rc) {
            char tail[PRS_HOSTPROC_TAIL_BYTES];
            size_t n = prs_hostproc_tail(&h->proc, tail, sizeof(tail));
            snprintf(h->message, sizeof(h->message), "the Python host %s before it was ready",
                     rc == -ETIMEDOUT ? "took too long and was killed" : h->proc.why);
            if (n) write_traceback(h->log, tb_name, h->message, tail, n, tb_rel, tb_rel_size);
            return PRS_HOST_ERR_INIT;
        }
        if (type == PRS_HOST_READY) return 0;
        if (type == PRS_HOST_LOG) {
            on_log(&h->proc, NULL, p, len);
            continue;
        }
        if (type != PRS_HOST_ERROR) continue; /* nothing else belongs here: ignored */
        const char *msg, *tb;
        size_t ml, tl;
        uint32_t kind = prs_hostmsg_error(p, len, &msg, &ml, &tb, &tl);
        snprintf(h->message, sizeof(h->message), "%.*s", (int)ml, msg);
        if (tl) write_traceback(h->log, tb_name, h->message, tb, tl, tb_rel, tb_rel_size);
        return (int)kind;
    }
}

/* ---- starting a host ------------------------------------------------------------------ */

static int host_spawn(prs_host *h, const prs_job_config *cfg, prs_joblog *log, int worker, int cpu,
                      char *err, size_t err_size) {
    char w[32], parent[32], gpu[48];
    snprintf(w, sizeof(w), "PRS_HOST_WORKER=%d", worker);
    snprintf(parent, sizeof(parent), "PRS_HOST_PARENT=%d", (int)getpid());
    uint32_t gpus = host_gpus(cfg);
    h->gpu = gpus ? (int)((uint32_t)worker % gpus) : -1;
    snprintf(gpu, sizeof(gpu), "CUDA_VISIBLE_DEVICES=%d", h->gpu);
    const char *env[] = {w, parent, gpu};
    const char *argv[HOST_ARGS_MAX] = {h->python, h->adapter, NULL};
    prs_hostproc_spec spec = {.argv = argv,
                              .env = env,
                              .env_count = gpus ? 3u : 2u,
                              .cpu = cpu,
                              .memory_limit_bytes = cfg->worker_memory_limit_bytes,
                              .worker = worker,
                              .log = log};
    int rc = prs_hostproc_spawn(&h->proc, &spec, err, err_size);
    if (rc == 0) h->lives++;
    return rc;
}

static void host_process_row(prs_host *h, prs_joblog *log, int worker, int cpu) {
    if (!log) return;
    char role[48];
    if (h->gpu >= 0)
        snprintf(role, sizeof(role), "host-%d/gpu%d", worker, h->gpu);
    else
        snprintf(role, sizeof(role), "host-%d", worker);
    prs_joblog_process_row(prs_joblog_dir(log), (int)h->proc.last_pid, (int)h->proc.last_pid, role,
                           cpu, h->proc.started_unix_ms, h->proc.ended_unix_ms, h->proc.exit_code,
                           h->proc.signal);
}

/* Starts a host for worker w and waits until its init() returned. 0, or -1 with
 * h->message (and, when it says more, the traceback file in tb_rel). */
static int host_start(prs_host *h, prs_worker *w, char *tb_rel, size_t tb_rel_size) {
    const prs_workers_shared *sh = w->shared;
    tb_rel[0] = 0;
    double t0 = host_seconds();
    int rc = 0;
    bool adopted = h->proc.pid != 0;
    if (adopted) {
        prs_hostproc_adopt(&h->proc, sh->log, (int)w->id, w->cpu); /* the checked host */
    } else {
        rc = host_spawn(h, sh->config, sh->log, (int)w->id, w->cpu, h->message, sizeof(h->message));
    }
    if (rc) return -1;
    rc = prs_hostmsg_init(&h->req, h->script, sh->config, (int)w->id, false, h->argc, h->argv);
    if (rc == 0) rc = host_send(h, PRS_HOST_INIT, NULL, 0);
    char name[64];
    snprintf(name, sizeof(name), "traceback-init-w%u-%u.txt", w->id, h->lives);
    if (rc == 0) {
        rc = host_await_ready(h, NULL, 0, name, tb_rel, tb_rel_size);
    } else {
        snprintf(h->message, sizeof(h->message), "the Python host %s before it was ready",
                 h->proc.why);
    }
    if (rc) {
        prs_hostproc_end(&h->proc, HOST_EXIT_MS);
        host_process_row(h, sh->log, (int)w->id, w->cpu);
        return -1;
    }
    host_log(h, (int)w->id, sh->log, PRS_LOG_INFO,
             "Python host pid %d (%s) ready on CPU %d: %s took %.2f s", (int)h->proc.pid, h->python,
             w->cpu, adopted ? "init() (imported by the job-start check)" : "import and init()",
             host_seconds() - t0);
    return 0;
}

/* ---- the entry table ------------------------------------------------------------------ */

int prs_host_entry_init(prs_ctx *ctx, int argc, char **argv) {
    prs_worker *w = ctx->worker;
    prs_joblog *log = w->shared->log;
    prs_host *h = NULL;
    if (w->id == 0) {
        pthread_mutex_lock(&spare_lock);
        if (spare_key == w->shared->config) {
            h = spare_host;
            spare_host = NULL;
            spare_key = NULL;
        }
        pthread_mutex_unlock(&spare_lock);
    }
    if (!h) h = calloc(1, sizeof(*h));
    if (!h) return -1;
    h->argc = argc;
    h->argv = argv;
    h->log = log;
    char err[1024], tb[PATH_MAX];
    if (!h->proc.pid && host_paths(h, w->shared->config, err, sizeof(err)) != 0) {
        snprintf(h->message, sizeof(h->message), "%s", err);
        tb[0] = 0;
    } else if (host_start(h, w, tb, sizeof(tb)) == 0) {
        prs_set_user(ctx, h);
        return 0;
    }
    /* Said where the user looks first: the user log, stderr (the traceback's last line). */
    host_log(h, (int)w->id, log, PRS_LOG_ERROR, "worker %u: %s%s%s%s", w->id, h->message,
             tb[0] ? " (traceback: " : "", tb, tb[0] ? ")" : "");
    /* On stderr only in prs's own runtime process: an embedder's stderr is its own. */
    if (w->shared->config->supervised) fprintf(stderr, "prs: worker %u: %s\n", w->id, h->message);
    prs_hostproc_free(&h->proc);
    prs_hostmsg_free(&h->req);
    free(h);
    return -1;
}

int prs_host_entry_ready(prs_ctx *ctx, prs_out *out) {
    prs_host *h = prs_user(ctx);
    if (h->proc.pid) return 0;
    prs_worker *w = ctx->worker;
    char tb[PATH_MAX];
    if (host_start(h, w, tb, sizeof(tb)) == 0) return 0;
    prs_out_error(out, "-", "the Python host could not be started again: %s%s%s%s", h->message,
                  tb[0] ? " (traceback: " : "", tb, tb[0] ? ")" : "");
    out->failure_said = true;
    return -1;
}

/* The kill delay after a cancel: half the coordinator's grace (runtime.c: a quarter of
 * the timeout, 0.5..10 s), so that the host ends, never the runtime. */
static uint32_t host_kill_ms(const prs_job_config *cfg) {
    uint64_t grace = PRS_MIN(PRS_MAX(cfg->run_invocation_timeout_ms / 4, 500u), 10000u);
    return (uint32_t)(grace / 2);
}

/* The try failed without an answer: the host died, was killed past the timeout, or
 * broke the protocol. Says how, keeps its last stderr as the traceback. */
static int host_lost(prs_host *h, prs_worker *w, const prs_batch *b, prs_out *out, int rc) {
    const prs_job_config *cfg = w->shared->config;
    char msg[1024];
    if (rc == -ETIMEDOUT) {
        snprintf(msg, sizeof(msg),
                 "run() passed --run-invocation-timeout (%llu s): prs killed the Python host %u ms "
                 "after the cancel (Python cannot be interrupted); a new host starts",
                 (unsigned long long)(cfg->run_invocation_timeout_ms / 1000u), host_kill_ms(cfg));
    } else if (rc == -EPIPE || rc == -EPROTO) {
        snprintf(msg, sizeof(msg), "the Python host died during run(): %s; a new host starts",
                 h->proc.why);
    } else {
        prs_hostproc_end(&h->proc, 0);
        snprintf(msg, sizeof(msg), "prs lost the Python host: %s; a new host starts",
                 strerror(-rc));
    }
    char tail[PRS_HOSTPROC_TAIL_BYTES], name[96], rel[PATH_MAX];
    size_t n = prs_hostproc_tail(&h->proc, tail, sizeof(tail));
    snprintf(name, sizeof(name), "traceback-b%llu-a%u.txt", (unsigned long long)b->id, b->attempt);
    rel[0] = 0;
    if (n) write_traceback(h->log, name, msg, tail, n, rel, sizeof(rel));
    /* A timeout has its error line from the coordinator already (one per try). */
    if (rc != -ETIMEDOUT) prs_out_error(out, "-", "%s", msg);
    out->failure_said = true;
    host_log(h, (int)w->id, h->log, PRS_LOG_WARNING, "Python host pid %d: %s%s%s", h->proc.last_pid,
             msg, rel[0] ? "; its last stderr: " : "", rel);
    host_process_row(h, h->log, (int)w->id, w->cpu);
    return rc;
}

/* An ERROR answer: the try fails with the script's message; the traceback gets a file. */
static int host_run_error(prs_host *h, prs_worker *w, const prs_batch *b, prs_out *out,
                          const char *p, uint32_t len) {
    const char *msg, *tb;
    size_t ml, tl;
    if (prs_hostmsg_error(p, len, &msg, &ml, &tb, &tl) == PRS_HOST_ERR_MEMORY) {
        prs_hostproc_end(&h->proc, HOST_EXIT_MS); /* it exits: a new one starts */
        host_process_row(h, h->log, (int)w->id, w->cpu);
    }
    char name[96], rel[PATH_MAX], head[1024];
    snprintf(name, sizeof(name), "traceback-b%llu-a%u.txt", (unsigned long long)b->id, b->attempt);
    snprintf(head, sizeof(head), "%.*s", (int)ml, msg);
    if (tl) write_traceback(h->log, name, head, tb, tl, rel, sizeof(rel));
    prs_out_error(out, "-", "%s", head);
    out->failure_said = true;
    return -1;
}

int prs_host_entry_run(prs_ctx *ctx, const prs_batch *b, prs_out *out) {
    prs_host *h = prs_user(ctx);
    prs_worker *w = ctx->worker;
    if (!h->proc.pid && prs_host_entry_ready(ctx, out) < 0) return -1;
    const atomic_bool *cancel = &w->cancel;
    uint32_t kill_ms = host_kill_ms(w->shared->config);
    int rc = prs_hostmsg_batch(&h->req, b, w->shared->format == PRS_FORMAT_FILES, h->root);
    if (rc) {
        prs_out_error(out, "-", "prs could not build the request: %s", strerror(-rc));
        out->failure_said = true;
        return -1;
    }
    rc = host_send(h, PRS_HOST_BATCH, cancel, kill_ms);
    while (rc == 0) {
        uint32_t type, len;
        const char *p;
        rc = prs_hostproc_recv(&h->proc, cancel, kill_ms, &type, &p, &len);
        if (rc) break;
        if (type == PRS_HOST_LOG) {
            on_log(&h->proc, b, p, len);
        } else if (type == PRS_HOST_FAIL_ITEM && len >= 4) {
            prs_fail_item(out, prs_le32_get(p), "%.*s", (int)(len - 4), p + 4);
        } else if (type == PRS_HOST_HEADER) {
            rc = prs_hostmsg_header(out, p, len);
        } else if (type == PRS_HOST_ROWS || type == PRS_HOST_ROWS_TEXT) {
            rc = type == PRS_HOST_ROWS ? prs_hostmsg_rows(out, p, len)
                                       : prs_hostmsg_rows_text(out, p, len);
            if (rc == 0) return 0;
            prs_hostproc_end(&h->proc, 0);
            snprintf(h->proc.why, sizeof(h->proc.why), "its ROWS frame is malformed: killed");
            rc = -EPROTO;
        } else if (type == PRS_HOST_ERROR) {
            return host_run_error(h, w, b, out, p, len);
        }
    }
    return host_lost(h, w, b, out, rc);
}

void prs_host_entry_shutdown(prs_ctx *ctx) {
    prs_host *h = prs_user(ctx);
    prs_worker *w = ctx->worker;
    if (h->proc.pid) {
        h->req.len = 0;
        int rc = host_send(h, PRS_HOST_SHUTDOWN, &host_deadline, HOST_SHUTDOWN_MS);
        while (rc == 0) {
            uint32_t type, len;
            const char *p;
            rc = prs_hostproc_recv(&h->proc, &host_deadline, HOST_SHUTDOWN_MS, &type, &p, &len);
            if (rc || type == PRS_HOST_BYE) break;
            if (type == PRS_HOST_LOG) on_log(&h->proc, NULL, p, len);
            if (type != PRS_HOST_ERROR) continue;
            const char *msg, *tb;
            size_t ml, tl;
            prs_hostmsg_error(p, len, &msg, &ml, &tb, &tl);
            char name[64], rel[PATH_MAX];
            snprintf(name, sizeof(name), "traceback-shutdown-w%u.txt", w->id);
            snprintf(h->message, sizeof(h->message), "%.*s", (int)ml, msg);
            rel[0] = 0;
            if (tl) write_traceback(h->log, name, h->message, tb, tl, rel, sizeof(rel));
            host_log(h, (int)w->id, h->log, PRS_LOG_ERROR, "%s%s%s%s", h->message,
                     rel[0] ? " (traceback: " : "", rel, rel[0] ? ")" : "");
            break;
        }
        prs_hostproc_end(&h->proc, HOST_EXIT_MS);
        host_process_row(h, h->log, (int)w->id, w->cpu);
    }
    prs_hostproc_free(&h->proc);
    prs_hostmsg_free(&h->req);
    free(h);
    prs_set_user(ctx, NULL);
}

static void host_free(prs_host *h) {
    prs_hostproc_end(&h->proc, HOST_EXIT_MS);
    prs_hostproc_free(&h->proc);
    prs_hostmsg_free(&h->req);
    free(h);
}

void prs_host_spare_drop(const void *cfg) {
    prs_host *h = NULL;
    pthread_mutex_lock(&spare_lock);
    if (spare_key == cfg) {
        h = spare_host;
        spare_host = NULL;
        spare_key = NULL;
    }
    pthread_mutex_unlock(&spare_lock);
    if (h) host_free(h);
}

/* Keeps a checked host for worker 0 (one job at a time: another's is ended). */
static void spare_keep(const prs_job_config *cfg, prs_host *h) {
    prs_host *old;
    pthread_mutex_lock(&spare_lock);
    old = spare_host;
    spare_host = h;
    spare_key = cfg;
    pthread_mutex_unlock(&spare_lock);
    if (old) host_free(old);
}

/* What every host of the job gets, in master.txt (coordinator thread). */
static void host_master_line(const prs_host *h, const prs_job_config *cfg, prs_joblog *log) {
    if (!log) return;
    uint32_t gpus = host_gpus(cfg);
    char mem[96] = "none", gpu[96] = "none";
    if (cfg->worker_memory_limit_bytes)
        snprintf(mem, sizeof(mem), "%llu MB of address space each (RLIMIT_AS; no cgroup)",
                 (unsigned long long)(cfg->worker_memory_limit_bytes >> 20));
    if (gpus)
        snprintf(gpu, sizeof(gpu), "%u (%s): worker W's host gets CUDA_VISIBLE_DEVICES=W mod %u",
                 gpus, cfg->gpus ? "--gpus" : "detected", gpus);
    prs_joblog_master(log,
                      "Python entry script: one host process per worker, %s %s; memory limit: "
                      "%s; GPUs: %s",
                      h->python, h->adapter, mem, gpu);
}

int prs_host_check(const prs_job_config *cfg, int argc, char **argv, prs_joblog *log, char *err,
                   size_t err_size) {
    prs_host *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, err_size, "out of memory");
        return PRS_EXIT_INTERNAL;
    }
    int code = 0;
    h->log = log;
    h->argc = argc;
    h->argv = argv;
    if (host_paths(h, cfg, err, err_size) != 0) {
        code = PRS_EXIT_USAGE;
        goto free_host;
    }
    /* As worker 0's host, which it becomes: its output is worker 0's (which has not
     * started: the ring producer is this thread until then). */
    int rc = host_spawn(h, cfg, log, 0, -1, h->message, sizeof(h->message));
    rc = rc ?: prs_hostmsg_init(&h->req, h->script, cfg, 0, true, h->argc, h->argv);
    rc = rc ?: host_send(h, PRS_HOST_INIT, &host_deadline, HOST_CHECK_MS);
    char rel[PATH_MAX] = "";
    if (rc == 0) {
        rc = host_await_ready(h, &host_deadline, HOST_CHECK_MS, "traceback-import.txt", rel,
                              sizeof(rel));
    } else if (h->proc.why[0]) {
        snprintf(h->message, sizeof(h->message), "the Python host %s", h->proc.why);
    }
    if (rc == 0) {
        host_master_line(h, cfg, log);
        spare_keep(cfg, h);
        return 0;
    }
    prs_hostproc_end(&h->proc, HOST_EXIT_MS);
    snprintf(err, err_size, "--entry-script %s: %s%s%s%s", cfg->entry_script, h->message,
             rel[0] ? " (traceback: " : "", rel, rel[0] ? ")" : "");
    code = PRS_EXIT_USAGE;
free_host:
    prs_hostproc_free(&h->proc);
    prs_hostmsg_free(&h->req);
    free(h);
    return code;
}
