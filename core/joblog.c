/* joblog.c -- see joblog.h. */
#include "joblog.h"
#include "clock.h"
#include "fs.h"

#include "errlog.h"
#include "logfile.h"
#include "logring.h"
#include "prs.h"
#include "prs_entry.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The ring record's level field carries the level (low byte), the destination and two
 * flags, so one ring serves every file. */
#define JL_LEVEL_MASK 0xff
#define JL_DEST_SHIFT 8
#define JL_DEST_MASK (0xf << JL_DEST_SHIFT)
#define JL_FIRST (1 << 12)  /* first record of a line */
#define JL_MORE (1 << 13)   /* the line continues in this producer's next record */
#define JL_STDOUT (1 << 14) /* a host process's stdout line (also to user/stdout/...) */
#define JL_STDERR (1 << 15) /* ... its stderr (also to user/stderr/...) */
enum { JL_DEST_MASTER = 1, JL_DEST_USER = 2, JL_DEST_CAPTURE = 3 };

#define JL_LINE_MAX 4096u         /* a line is reassembled up to this; longer is cut */
#define JL_FLUSHER_BATCH 1024u    /* records per pass before the files are looked at again */
#define JL_IDLE_SLEEP_NS 1000000L /* the flusher's tick when the ring is empty */

typedef struct jl_assembly {
    uint64_t timestamp_ns;
    int level;
    uint32_t len;
    char text[JL_LINE_MAX];
} jl_assembly;

struct prs_joblog {
    prs_logring ring;
    char dir[4096];
    char node[64];
    char ip[64];
    int level;
    prs_logfile_writer *files; /* master and user: their flushes, via io_uring when asked */
    FILE *master;
    FILE *user;
    /* The host's copy of master.txt (prs_job_config.log_fn): set before the first master
     * line is pushed, read by the flusher only (the ring orders the two). */
    prs_log_line_fn sink;
    void *sink_arg;
    FILE *node_file; /* sys/node/<node>.txt: the coordinator's */
    FILE *report;    /* sys/job_report/processed_mini-batches.csv: the coordinator's */
    /* The flusher's own state. */
    pthread_t flusher;
    bool flusher_started;
    atomic_bool stop;
    _Atomic uint64_t flushed_pos; /* every record before this position is in the files */
    jl_assembly *assembly;        /* one per producer id, for lines longer than a record */
    time_t stamp_sec;
    char stamp_prefix[32];
    uint64_t stamp_ms;
    char stamp_text[48];
    /* The v2 layout's user/stdout|stderr/<node>/worker-N.txt (host processes) and
     * runtime.txt (the runtime's own, shared by its worker threads); the flusher's, opened
     * at their first line. [PRS_MAX_WORKERS]: the runtime's. */
    FILE *streams[PRS_MAX_WORKERS + 1][2];
    bool streams_failed;
    /* The stamp cache of prs_joblog_batch_done: the coordinator's. */
    time_t report_stamp_sec;
    char report_stamp_prefix[32];
    /* Errors: the coordinator's. */
    prs_errlog *errors; /* user/error.txt and user/error/<node>/: the coordinator's */
};

const char *prs_log_level_name(int level) {
    if (level >= PRS_LOG_CRITICAL) return "CRITICAL";
    if (level >= PRS_LOG_ERROR) return "ERROR";
    if (level >= PRS_LOG_WARNING) return "WARNING";
    if (level >= PRS_LOG_INFO) return "INFO";
    return "DEBUG";
}

int prs_log_level_parse(const char *text, int *level) {
    static const struct {
        const char *name;
        int level;
    } names[] = {{"DEBUG", PRS_LOG_DEBUG},     {"INFO", PRS_LOG_INFO},
                 {"WARNING", PRS_LOG_WARNING}, {"WARN", PRS_LOG_WARNING},
                 {"ERROR", PRS_LOG_ERROR},     {"CRITICAL", PRS_LOG_CRITICAL}};
    for (size_t i = 0; i < PRS_ARRAY_LEN(names); i++) {
        if (strcasecmp(text, names[i].name) == 0) {
            *level = names[i].level;
            return 0;
        }
    }
    return -EINVAL;
}

void prs_joblog_safe_name(char *name, size_t size, const char *fallback) {
    for (char *p = name; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == '_';
        if (!ok) *p = '_'; /* a '/' above all */
    }
    /* "", "." and ".." would name logs/user itself or its parent. */
    if (!name[0] || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        snprintf(name, size, "%s", fallback);
}

static void machine_identity(prs_joblog *jl) {
    if (gethostname(jl->node, sizeof(jl->node)) != 0 || !jl->node[0]) {
        snprintf(jl->node, sizeof(jl->node), "node");
    }
    jl->node[sizeof(jl->node) - 1] = 0;
    snprintf(jl->ip, sizeof(jl->ip), "127.0.0.1");
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) == 0) {
        for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
            if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
            if (i->ifa_flags & IFF_LOOPBACK) continue;
            const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)i->ifa_addr;
            inet_ntop(AF_INET, &sin->sin_addr, jl->ip, sizeof(jl->ip));
            break;
        }
        freeifaddrs(ifs);
    }
    prs_joblog_safe_name(jl->node, sizeof(jl->node), "node");
    prs_joblog_safe_name(jl->ip, sizeof(jl->ip), "127.0.0.1");
}

/* Opens logs/<sub> for appending (its directories made): the node file and the report
 * as plain stdio files; master.txt and the user log (flushed = true) through jl->files,
 * which the flusher's writes follow onto io_uring. Both fully buffered: their writers
 * flush at the points that keep the files readable while the job runs. */
static FILE *open_append(prs_joblog *jl, const char *sub, bool flushed, char *err,
                         size_t err_size) {
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", jl->dir, sub);
    char *slash = strrchr(path, '/');
    *slash = 0;
    int rc = prs_mkdir_p(path);
    *slash = '/';
    char out_dir[4200], link[4200];
    snprintf(out_dir, sizeof(out_dir), "%s", jl->dir);
    char *up = strrchr(out_dir, '/'); /* jl->dir is OUT/logs: OUT/logs itself is checked */
    if (up) *up = 0;
    if (rc == 0 && prs_symlink_below(out_dir, path, link, sizeof(link))) {
        snprintf(err, err_size, "%s is a symlink: prs writes OUT's logs only inside OUT", link);
        return NULL;
    }
    FILE *f = NULL;
    if (rc == 0)
        f = flushed ? prs_logfile_open(jl->files, path, 1u << 16) : prs_fopen_nofollow(path, "a");
    if (!f) {
        snprintf(err, err_size, "%s: cannot open log file: %s", path, strerror(rc ? -rc : errno));
        return NULL;
    }
    if (!flushed) setvbuf(f, NULL, _IOFBF, 1u << 16);
    return f;
}

/* "2026-11-29T03:29:33.123Z " for a CLOCK_REALTIME time; the date part is cached per
 * second, since the flusher stamps every line. The flusher's only. */
/* Without the flusher's cache: for the coordinator, which must not touch the flusher's
 * state. */
static void stamp_ns(prs_joblog *jl, uint64_t ns, char *buf, size_t size) {
    time_t sec = (time_t)(ns / 1000000000ull);
    if (sec != jl->stamp_sec || !jl->stamp_prefix[0]) {
        struct tm tm;
        gmtime_r(&sec, &tm);
        strftime(jl->stamp_prefix, sizeof(jl->stamp_prefix), "%Y-%m-%dT%H:%M:%S", &tm);
        jl->stamp_sec = sec;
    }
    snprintf(buf, size, "%s.%03uZ", jl->stamp_prefix, (unsigned)(ns % 1000000000ull / 1000000u));
}

static size_t put_str(char *buf, size_t at, const char *s) {
    size_t n = strlen(s);
    memcpy(buf + at, s, n);
    return at + n;
}

static size_t put_u64(char *buf, size_t at, uint64_t v) {
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        buf[at++] = tmp[--n];
    return at;
}

static size_t put_i32(char *buf, size_t at, int32_t v) {
    if (v < 0) buf[at++] = '-';
    return put_u64(buf, at, v < 0 ? (uint64_t)(-(int64_t)v) : (uint64_t)v);
}

static size_t put_u32(char *buf, size_t at, uint32_t v) {
    char tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        buf[at++] = tmp[--n];
    return at;
}

/* A raw line into user/<stream>/<node>/<who>.txt (v2's per-process output). The flusher's. */
static void stream_copy(prs_joblog *jl, uint32_t who, bool err, const char *text, size_t len) {
    FILE **f = &jl->streams[PRS_MIN(who, (uint32_t)PRS_MAX_WORKERS)][err];
    if (!*f && !jl->streams_failed) {
        char sub[256], msg[256];
        if (who < PRS_MAX_WORKERS) {
            snprintf(sub, sizeof(sub), "user/%s/%s/worker-%u.txt", err ? "stderr" : "stdout",
                     jl->node, who);
        } else {
            snprintf(sub, sizeof(sub), "user/%s/%s/runtime.txt", err ? "stderr" : "stdout",
                     jl->node);
        }
        *f = open_append(jl, sub, false, msg, sizeof(msg));
        jl->streams_failed = !*f; /* best effort: the user log has every line anyway */
    }
    if (!*f) return;
    fwrite_unlocked(text, 1, len, *f);
    fputc_unlocked('\n', *f);
}

static void streams_flush(prs_joblog *jl, bool close) {
    for (uint32_t i = 0; i <= PRS_MAX_WORKERS; i++) {
        for (int k = 0; k < 2; k++) {
            if (!jl->streams[i][k]) continue;
            if (close) {
                fclose(jl->streams[i][k]);
                jl->streams[i][k] = NULL;
            } else {
                fflush(jl->streams[i][k]);
            }
        }
    }
}

/* The flusher writes every line, so the header is built by hand (no printf) and the
 * stamp is reformatted only when its millisecond changes. */
static void emit_line(prs_joblog *jl, uint32_t producer, int tag, uint64_t ts_ns, const char *text,
                      size_t len) {
    uint64_t ms = ts_ns / 1000000u;
    if (ms != jl->stamp_ms || !jl->stamp_text[0]) {
        stamp_ns(jl, ts_ns, jl->stamp_text, sizeof(jl->stamp_text));
        jl->stamp_ms = ms;
    }
    int dest = (tag & JL_DEST_MASK) >> JL_DEST_SHIFT;
    int level = tag & JL_LEVEL_MASK;
    FILE *f = dest == JL_DEST_MASTER ? jl->master : jl->user;
    char head[128];
    size_t n = put_str(head, 0, jl->stamp_text);
    head[n++] = ' ';
    if (dest == JL_DEST_CAPTURE) {
        n = put_str(head, n, prs_log_level_name(level));
        n = put_str(head, n, producer == PRS_MAX_WORKERS + 1 ? " stdout: " : " stderr: ");
        stream_copy(jl, PRS_MAX_WORKERS, producer != PRS_MAX_WORKERS + 1, text, len);
    } else if (dest == JL_DEST_USER) {
        n = put_str(head, n, prs_log_level_name(level));
        n = put_str(head, n, " worker-");
        n = put_u32(head, n, producer);
        n = put_str(head, n, ": ");
        if (tag & (JL_STDOUT | JL_STDERR)) {
            n = put_str(head, n, tag & JL_STDERR ? "stderr: " : "stdout: ");
            stream_copy(jl, producer, tag & JL_STDERR, text, len);
        }
    }
    if (dest == JL_DEST_MASTER && jl->sink) jl->sink(jl->sink_arg, level, text, len);
    /* Only the flusher writes these FILEs while it runs: no stdio lock needed. */
    fwrite_unlocked(head, 1, n, f);
    fwrite_unlocked(text, 1, len, f);
    fputc_unlocked('\n', f);
}

static void assembly_emit(prs_joblog *jl, uint32_t producer, const char *suffix) {
    jl_assembly *a = &jl->assembly[producer];
    size_t n = strlen(suffix);
    if (a->len + n <= JL_LINE_MAX) {
        memcpy(a->text + a->len, suffix, n);
        a->len += (uint32_t)n;
    }
    emit_line(jl, producer, a->level, a->timestamp_ns, a->text, a->len);
    a->len = 0;
}

static void flusher_record(prs_joblog *jl, const prs_log_record *r) {
    uint32_t producer = r->producer_id < PRS_JOBLOG_PRODUCERS ? r->producer_id : PRS_MAX_WORKERS;
    jl_assembly *a = &jl->assembly[producer];
    int tag = r->level;
    if ((tag & JL_FIRST) && a->len > 0) {
        /* The rest of the previous line was dropped (--log-policy drop): say so. */
        assembly_emit(jl, producer, " [prs: rest of the line dropped]");
    }
    if (!(tag & JL_MORE) && a->len == 0) {
        emit_line(jl, producer, tag, r->timestamp_ns, r->text, r->len);
        return;
    }
    if (a->len == 0) {
        a->timestamp_ns = r->timestamp_ns;
        a->level = tag;
    }
    size_t n = PRS_MIN((size_t)r->len, (size_t)(JL_LINE_MAX - a->len));
    memcpy(a->text + a->len, r->text, n);
    a->len += (uint32_t)n;
    if (!(tag & JL_MORE)) assembly_emit(jl, producer, n < r->len ? "...[truncated]" : "");
}

static void flusher_report_drops(prs_joblog *jl) {
    uint64_t dropped = prs_logring_take_dropped(&jl->ring);
    if (dropped == 0) return;
    char ts[48];
    stamp_ns(jl, prs_wall_ns(), ts, sizeof(ts));
    char line[128];
    int n = snprintf(line, sizeof(line),
                     "prs: %llu log records dropped (--log-policy drop: the ring was full)",
                     (unsigned long long)dropped);
    fprintf(jl->master, "%s %s\n", ts, line);
    if (jl->sink) jl->sink(jl->sink_arg, PRS_LOG_WARNING, line, (size_t)PRS_MAX(n, 0));
    fprintf(jl->user,
            "%s WARNING prs: %llu log records dropped (--log-policy drop: the ring was full)\n", ts,
            (unsigned long long)dropped);
}

static void *flusher_main(void *arg) {
    prs_joblog *jl = arg;
    prs_log_record rec;
    for (;;) {
        uint32_t n = 0;
        while (n < JL_FLUSHER_BATCH && prs_logring_pop(&jl->ring, &rec)) {
            flusher_record(jl, &rec);
            n++;
        }
        if (n > 0) continue;
        /* Empty (or the next record is being written): the files catch up, then sleep. */
        bool stopping = atomic_load(&jl->stop);
        flusher_report_drops(jl);
        fflush(jl->master);
        fflush(jl->user);
        streams_flush(jl, false);
        atomic_store(&jl->flushed_pos, atomic_load(&jl->ring.dequeue_pos));
        if (stopping) break; /* the producers stopped before stop was set: nothing is left */
        struct timespec idle = {0, JL_IDLE_SLEEP_NS};
        nanosleep(&idle, NULL);
    }
    return NULL;
}

uint32_t prs_joblog_ring_records(uint32_t workers, int level) {
    if (workers == 0) { /* --workers' default: the CPUs this process may run on */
        cpu_set_t set;
        workers = sched_getaffinity(0, sizeof(set), &set) == 0 ? (uint32_t)CPU_COUNT(&set) : 1u;
    }
    uint64_t producers = (uint64_t)PRS_MAX(workers, 1u) + 1u;
    uint64_t want = producers * PRS_JOBLOG_RING_PER_PRODUCER * (level <= PRS_LOG_DEBUG ? 4u : 1u);
    uint32_t records = PRS_JOBLOG_RING_MIN;
    while (records < want && records < PRS_JOBLOG_RING_MAX) /* bounded: at most 5 doublings */
        records *= 2u;
    return records;
}

int prs_joblog_open(prs_joblog **out, const char *out_dir, int level, uint32_t workers, int policy,
                    char *err, size_t err_size) {
    prs_joblog *jl = calloc(1, sizeof(*jl));
    if (!jl) return -ENOMEM;
    jl->level = level;
    int rc = prs_logring_init(&jl->ring, prs_joblog_ring_records(workers, level),
                              policy == PRS_LOGRING_DROP ? PRS_LOGRING_DROP : PRS_LOGRING_WAIT);
    jl->assembly = calloc(PRS_JOBLOG_PRODUCERS, sizeof(*jl->assembly));
    if (rc || !jl->assembly) {
        snprintf(err, err_size, "log ring: %s", strerror(rc ? -rc : ENOMEM));
        prs_joblog_close(jl);
        return rc ? rc : -ENOMEM;
    }
    snprintf(jl->dir, sizeof(jl->dir), "%s/logs", out_dir);
    machine_identity(jl);
    char user[256];
    snprintf(user, sizeof(user), "user/%s/%s.log.txt", jl->ip, jl->node);
    rc = prs_logfile_writer_init(&jl->files);
    if (rc) {
        snprintf(err, err_size, "log files: %s", strerror(-rc));
        prs_joblog_close(jl);
        return rc;
    }
    jl->master = open_append(jl, "sys/master.txt", true, err, err_size);
    if (jl->master) jl->user = open_append(jl, user, true, err, err_size);
    char node_txt[256];
    snprintf(node_txt, sizeof(node_txt), "sys/node/%s.txt", jl->node);
    if (jl->user) jl->node_file = open_append(jl, node_txt, false, err, err_size);
    if (jl->node_file)
        jl->report =
            open_append(jl, "sys/job_report/processed_mini-batches.csv", false, err, err_size);
    if (!jl->report) {
        prs_joblog_close(jl);
        return -EIO;
    }
    if (ftell(jl->report) == 0) {
        fputs("Mini-batch Id,Picked Count,Process,Process Start Time,Total,Succeeded,Failed,"
              "Elapsed Seconds,Process Seconds,Run Method Seconds,Status,Error Category,"
              "Error Message,Mini-batch Detail\n",
              jl->report);
    }
    rc = prs_errlog_open(&jl->errors, jl->dir, jl->node, err, err_size);
    if (rc) {
        prs_joblog_close(jl);
        return rc;
    }
    rc = -pthread_create(&jl->flusher, NULL, flusher_main, jl);
    if (rc) {
        snprintf(err, err_size, "log flusher thread: %s", strerror(-rc));
        prs_joblog_close(jl);
        return rc;
    }
    jl->flusher_started = true;
    *out = jl;
    return 0;
}

static void utc_ms(uint64_t unix_ms, char *buf, size_t size) {
    time_t sec = (time_t)(unix_ms / 1000u);
    struct tm tm;
    gmtime_r(&sec, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03uZ", (unsigned)(unix_ms % 1000u));
}

void prs_joblog_process_row(const char *logs_dir, int pid, int tid, const char *role, int cpu,
                            uint64_t start_unix_ms, uint64_t end_unix_ms, int exit_code,
                            int signal) {
    char path[4200];
    snprintf(path, sizeof(path), "%s/sys/processes.csv", logs_dir);
    FILE *f = prs_fopen_nofollow(path, "a");
    if (!f) return;
    if (ftell(f) == 0) fputs("pid,tid,role,cpu,start,end,exit_code,signal\n", f);
    char t0[40], t1[40];
    utc_ms(start_unix_ms, t0, sizeof(t0));
    utc_ms(end_unix_ms, t1, sizeof(t1));
    fprintf(f, "%d,%d,%s,%d,%s,%s,%d,%d\n", pid, tid, role, cpu, t0, t1, exit_code, signal);
    fclose(f);
}

int prs_joblog_use_uring(prs_joblog *jl) {
    return prs_logfile_writer_use_uring(jl->files);
}

uint64_t prs_joblog_uring_writes(prs_joblog *jl) {
    return prs_logfile_writer_uring_writes(jl->files);
}

void prs_joblog_close(prs_joblog *jl) {
    if (!jl) return;
    if (jl->flusher_started) {
        atomic_store(&jl->stop, true);
        pthread_join(jl->flusher, NULL);
    }
    prs_errlog_close(jl->errors);
    streams_flush(jl, true);
    if (jl->master) fclose(jl->master);
    if (jl->user) fclose(jl->user);
    if (jl->node_file) fclose(jl->node_file);
    if (jl->report) fclose(jl->report);
    prs_logfile_writer_destroy(jl->files);
    prs_logring_destroy(&jl->ring);
    free(jl->assembly);
    free(jl);
}

int prs_joblog_flush(prs_joblog *jl, uint32_t timeout_ms) {
    uint64_t target = atomic_load(&jl->ring.enqueue_pos);
    uint64_t deadline = prs_mono_ns() + (uint64_t)timeout_ms * 1000000ull;
    while (atomic_load(&jl->flushed_pos) < target) {
        if (prs_mono_ns() > deadline) return -ETIMEDOUT;
        struct timespec tick = {0, 200000};
        nanosleep(&tick, NULL);
    }
    return 0;
}

uint64_t prs_joblog_dropped(const prs_joblog *jl) {
    return prs_logring_dropped(&jl->ring);
}

const char *prs_joblog_node(const prs_joblog *jl) {
    return jl->node;
}
const char *prs_joblog_ip(const prs_joblog *jl) {
    return jl->ip;
}
const char *prs_joblog_first_error_file(const prs_joblog *jl) {
    return jl->errors ? prs_errlog_first_file(jl->errors) : "";
}
const char *prs_joblog_dir(const prs_joblog *jl) {
    return jl->dir;
}

/* One line as records of at most PRS_LOGRING_TEXT_MAX bytes: the first flagged FIRST,
 * all but the last MORE. A short line (the common case) is one record. */
static void push_line(prs_joblog *jl, uint32_t producer, int tag, const char *text, size_t len) {
    int flags = JL_FIRST;
    do {
        size_t n = PRS_MIN(len, (size_t)PRS_LOGRING_TEXT_MAX);
        int more = n < len ? JL_MORE : 0;
        if (prs_logring_push(&jl->ring, producer, tag | flags | more, text, n) != 0) return;
        text += n;
        len -= n;
        flags = 0;
    } while (len > 0);
}

void prs_joblog_set_sink(prs_joblog *jl, prs_log_line_fn fn, void *arg) {
    jl->sink = fn;
    jl->sink_arg = arg;
}

void prs_joblog_master(prs_joblog *jl, const char *fmt, ...) {
    char line[JL_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0) return;
    push_line(jl, PRS_MAX_WORKERS, PRS_LOG_INFO | (JL_DEST_MASTER << JL_DEST_SHIFT), line,
              PRS_MIN((size_t)n, sizeof(line) - 1));
}

bool prs_joblog_user_enabled(const prs_joblog *jl, int level) {
    return level >= jl->level;
}

/* A user line formatted straight into the ring (no 4 KiB stack buffer, no copy): the
 * prefix built by hand, fmt by one vsnprintf into the slot. A line longer than a record is
 * formatted once more (ap's copy) and its rest pushed as continuation records, as
 * push_line splits: up to JL_LINE_MAX bytes in all. */
static void user_line(prs_joblog *jl, int worker, int level, const char *prefix, size_t plen,
                      const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));
static void user_line(prs_joblog *jl, int worker, int level, const char *prefix, size_t plen,
                      const char *fmt, va_list ap) {
    int lvl = PRS_MAX(PRS_MIN(level, JL_LEVEL_MASK), 0);
    uint32_t producer = worker >= 0 && (uint32_t)worker < PRS_MAX_WORKERS ? (uint32_t)worker : 0;
    int tag = lvl | (JL_DEST_USER << JL_DEST_SHIFT);
    va_list again;
    va_copy(again, ap);
    int n = prs_logring_vpushf_split(&jl->ring, producer, tag | JL_FIRST, JL_MORE, prefix, plen,
                                     fmt, ap);
    if (n > (int)PRS_LOGRING_TEXT_MAX) {
        char line[JL_LINE_MAX];
        memcpy(line, prefix, plen);
        int m = vsnprintf(line + plen, sizeof(line) - plen, fmt, again);
        size_t len = m < 0 ? 0 : PRS_MIN(plen + (size_t)m, sizeof(line) - 1);
        const char *rest = line + PRS_LOGRING_TEXT_MAX;
        for (size_t left = len > PRS_LOGRING_TEXT_MAX ? len - PRS_LOGRING_TEXT_MAX : 0; left;) {
            size_t k = PRS_MIN(left, (size_t)PRS_LOGRING_TEXT_MAX);
            int more = k < left ? JL_MORE : 0;
            if (prs_logring_push(&jl->ring, producer, tag | more, rest, k) != 0) break;
            rest += k;
            left -= k;
        }
    }
    va_end(again);
}

void prs_joblog_user_batch(prs_joblog *jl, int worker, int level, uint64_t batch, uint32_t attempt,
                           const char *fmt, va_list ap) {
    if (level < jl->level) return;
    char prefix[48];
    size_t p = put_str(prefix, 0, "[batch ");
    p = put_u64(prefix, p, batch);
    p = put_str(prefix, p, " try ");
    p = put_u64(prefix, p, attempt);
    p = put_str(prefix, p, "] ");
    user_line(jl, worker, level, prefix, p, fmt, ap);
}

void prs_joblog_user(prs_joblog *jl, int worker, int level, const char *fmt, va_list ap) {
    if (level < jl->level) return;
    user_line(jl, worker, level, "", 0, fmt, ap);
}

void prs_joblog_user_stream(prs_joblog *jl, int worker, const char *stream, const char *line,
                            size_t len) {
    bool err = strcmp(stream, "stderr") == 0;
    int lvl = err ? PRS_LOG_WARNING : PRS_LOG_INFO;
    uint32_t producer = worker >= 0 && (uint32_t)worker < PRS_MAX_WORKERS ? (uint32_t)worker : 0;
    /* The flusher writes "stdout: " before it in the user log, and the line as it is to
     * user/stdout/<node>/worker-N.txt. */
    push_line(jl, producer, lvl | (JL_DEST_USER << JL_DEST_SHIFT) | (err ? JL_STDERR : JL_STDOUT),
              line, PRS_MIN(len, (size_t)JL_LINE_MAX - 1));
}

void prs_joblog_capture(prs_joblog *jl, const char *stream, const char *line, size_t len) {
    bool err = strcmp(stream, "stderr") == 0;
    uint32_t producer = PRS_MAX_WORKERS + (err ? 2u : 1u);
    int lvl = err ? PRS_LOG_WARNING : PRS_LOG_INFO;
    push_line(jl, producer, lvl | (JL_DEST_CAPTURE << JL_DEST_SHIFT), line, len);
}

/* ---- errors: errlog.h ---------------------------------------------------------------- */

void prs_joblog_errors(prs_joblog *jl, const char *text, size_t len) {
    prs_errlog_add(jl->errors, text, len);
}

void prs_joblog_errors_sync(prs_joblog *jl) {
    prs_errlog_sync(jl->errors);
}

/* A CSV field per RFC 4180: quoted, quotes doubled, newlines kept out. */
static void csv_field(FILE *f, const char *text, size_t len) {
    fputc_unlocked('"', f);
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '"') fputc_unlocked('"', f);
        fputc_unlocked(c == '\n' || c == '\r' ? ' ' : c, f);
    }
    fputc_unlocked('"', f);
}

/* Nanoseconds as seconds with 6 decimals, rounded to the microsecond (what "%.6f" of
 * ns / 1e9 printed, without the floating-point formatting that was a tenth of the
 * coordinator's CPU at one file per batch). */
static size_t put_secs6(char *buf, size_t at, uint64_t ns) {
    uint64_t us = ns / 1000u + (ns % 1000u >= 500u);
    at = put_u64(buf, at, us / 1000000u);
    buf[at++] = '.';
    uint32_t frac = (uint32_t)(us % 1000000u);
    for (uint32_t d = 100000u; d; d /= 10) {
        buf[at++] = (char)('0' + frac / d % 10);
    }
    return at;
}

/* The coordinator's own stamp cache (the flusher has its own): strftime once a second. */
static size_t put_stamp(prs_joblog *jl, char *buf, size_t at, uint64_t ns) {
    time_t sec = (time_t)(ns / 1000000000ull);
    if (sec != jl->report_stamp_sec || !jl->report_stamp_prefix[0]) {
        struct tm tm;
        gmtime_r(&sec, &tm);
        strftime(jl->report_stamp_prefix, sizeof(jl->report_stamp_prefix), "%Y-%m-%dT%H:%M:%S",
                 &tm);
        jl->report_stamp_sec = sec;
    }
    at = put_str(buf, at, jl->report_stamp_prefix);
    buf[at++] = '.';
    uint32_t ms = (uint32_t)(ns % 1000000000ull / 1000000u);
    buf[at++] = (char)('0' + ms / 100);
    buf[at++] = (char)('0' + ms / 10 % 10);
    buf[at++] = (char)('0' + ms % 10);
    buf[at++] = 'Z';
    return at;
}

/* sys/job_report/processed_mini-batches.csv's row of one try. */
static void batch_csv_row(prs_joblog *jl, const prs_joblog_batch *b, const char *start,
                          size_t start_len) {
    char row[384];
    size_t n = put_u64(row, 0, b->batch_id);
    row[n++] = ',';
    n = put_u64(row, n, b->attempt);
    n = put_str(row, n, ",worker-");
    n = put_u64(row, n, b->worker);
    n = put_str(row, n, " pid ");
    n = put_i32(row, n, b->pid);
    n = put_str(row, n, " tid ");
    n = put_i32(row, n, b->tid);
    row[n++] = ',';
    memcpy(row + n, start, start_len);
    n += start_len;
    row[n++] = ',';
    n = put_u64(row, n, b->total);
    row[n++] = ',';
    n = put_u64(row, n, b->succeeded);
    row[n++] = ',';
    n = put_u64(row, n, b->failed);
    row[n++] = ',';
    n = put_secs6(row, n, b->elapsed_ns);
    row[n++] = ',';
    n = put_secs6(row, n, b->cpu_ns);
    row[n++] = ',';
    n = put_secs6(row, n, b->run_ns);
    row[n++] = ',';
    n = put_str(row, n, b->status);
    row[n++] = ',';
    n = put_str(row, n, b->error_category);
    row[n++] = ',';
    PRS_ASSERT(n <= sizeof(row));
    fwrite_unlocked(row, 1, n, jl->report);
    size_t elen = 0;
    if (b->error) {
        const char *nl = memchr(b->error, '\n', b->error_len);
        elen = nl ? (size_t)(nl - b->error) : b->error_len;
    }
    csv_field(jl->report, b->error ? b->error : "", elen);
    n = put_str(row, 0, ",\"items ");
    n = put_u64(row, n, b->first_item);
    n = put_str(row, n, "..");
    n = put_u64(row, n, b->first_item + b->total - (b->total ? 1 : 0));
    n = put_str(row, n, "\"\n");
    fwrite_unlocked(row, 1, n, jl->report);
}

/* Both lines are built by hand into one buffer each and written with one fwrite: the
 * coordinator writes one of each per finished try. Bounded: every string field is bounded
 * (ip 64 bytes, status and category constants), the error goes through csv_field. */
void prs_joblog_batch_done(prs_joblog *jl, const prs_joblog_batch *b) {
    char line[512], start[40];
    PRS_ASSERT(strlen(b->status) < 32 && strlen(b->error_category) < 32);
    size_t slen = put_stamp(jl, start, 0, b->start_realtime_ns);
    memcpy(line, start, slen);
    size_t n = put_str(line, slen, " batch ");
    n = put_u64(line, n, b->batch_id);
    n = put_str(line, n, " attempt ");
    n = put_u64(line, n, b->attempt);
    n = put_str(line, n, ": worker ");
    n = put_u64(line, n, b->worker);
    n = put_str(line, n, " ip ");
    n = put_str(line, n, jl->ip);
    n = put_str(line, n, " pid ");
    n = put_i32(line, n, b->pid);
    n = put_str(line, n, " tid ");
    n = put_i32(line, n, b->tid);
    n = put_str(line, n, " cpu ");
    n = put_i32(line, n, b->cpu);
    n = put_str(line, n, "; items total ");
    n = put_u64(line, n, b->total);
    n = put_str(line, n, " succeeded ");
    n = put_u64(line, n, b->succeeded);
    n = put_str(line, n, " failed ");
    n = put_u64(line, n, b->failed);
    n = put_str(line, n, "; duration ");
    n = put_secs6(line, n, b->elapsed_ns);
    n = put_str(line, n, " s, process time ");
    n = put_secs6(line, n, b->cpu_ns);
    n = put_str(line, n, " s, run() time ");
    n = put_secs6(line, n, b->run_ns);
    n = put_str(line, n, " s; ");
    n = put_str(line, n, b->status);
    line[n++] = '\n';
    PRS_ASSERT(n <= sizeof(line));
    fwrite_unlocked(line, 1, n, jl->node_file);
    batch_csv_row(jl, b, start, slen);
}

void prs_joblog_flush_reports(prs_joblog *jl) {
    fflush(jl->node_file);
    fflush(jl->report);
}

void prs_joblog_sync(prs_joblog *jl) {
    fflush(jl->node_file);
    fflush(jl->report);
    prs_errlog_sync(jl->errors);
}

int prs_joblog_overview(prs_joblog *jl, const char *text) {
    char tmp[4200], path[4200];
    snprintf(tmp, sizeof(tmp), "%s/.overview.txt.tmp", jl->dir);
    snprintf(path, sizeof(path), "%s/overview.txt", jl->dir);
    FILE *f = prs_fopen_nofollow(tmp, "w");
    if (!f) return -errno;
    fputs(text, f);
    if (fclose(f) != 0) return -errno;
    return rename(tmp, path) == 0 ? 0 : -errno;
}

/* Writes text to logs_dir/name through a temporary file and a rename. */
static void write_whole(const char *logs_dir, const char *name, const char *text) {
    char tmp[4200], path[4200];
    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", logs_dir, name);
    snprintf(path, sizeof(path), "%s/%s", logs_dir, name);
    FILE *f = prs_fopen_nofollow(tmp, "w");
    if (!f) return;
    fputs(text, f);
    if (fclose(f) != 0 || rename(tmp, path) != 0) unlink(tmp);
}

void prs_joblog_job_result(const char *logs_dir, int code, const char *message) {
    char text[8192];
    int n = snprintf(text, sizeof(text), "exit code: %d\nresult: %s\ndetails: logs/overview.txt\n",
                     code, message);
    write_whole(logs_dir, "job_result.txt", text);
    char path[4200];
    snprintf(path, sizeof(path), "%s/job_error.txt", logs_dir);
    if (code == 0) {
        unlink(path);
        return;
    }
    n = snprintf(text, sizeof(text), "%s\n", message);
    snprintf(path, sizeof(path), "%s/overview.txt", logs_dir);
    FILE *ov = fopen(path, "re");
    static const char *keep[] = {"first error:",   "first failing batch:", "open first:",
                                 "why it failed:", "stopping because:",    "where to look:"};
    char line[2048];
    for (int lines = 0; ov && lines < 64 && fgets(line, sizeof(line), ov); lines++) {
        for (size_t i = 0; i < PRS_ARRAY_LEN(keep); i++) {
            if (strncmp(line, keep[i], strlen(keep[i])) == 0 && n >= 0 && (size_t)n < sizeof(text))
                n += snprintf(text + n, sizeof(text) - (size_t)n, "%s", line);
        }
    }
    if (ov) fclose(ov);
    write_whole(logs_dir, "job_error.txt", text);
}
