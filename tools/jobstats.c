/* jobstats.c -- reads a job's logs/ files and aggregates them into time buckets.
 * See jobstats.h for the contract. */
#include "jobstats.h"

#include "records.h"

#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CSV_MAX_FIELDS 32u

typedef struct field {
    const char *p;
    size_t len;
} field;

/* Splits one CSV record into at most CSV_MAX_FIELDS fields (quotes stripped from quoted
 * fields; a doubled quote inside stays doubled, which the numbers and names read here
 * never contain). Returns the number of fields. */
static uint32_t csv_fields(const char *p, size_t len, field *f) {
    uint32_t n = 0;
    size_t i = 0;
    while (n < CSV_MAX_FIELDS) {
        if (i < len && p[i] == '"') {
            size_t s = ++i;
            while (i < len && !(p[i] == '"' && (i + 1 >= len || p[i + 1] != '"')))
                i += (p[i] == '"') ? 2 : 1;
            f[n++] = (field){p + s, (i < len ? i : len) - s};
            while (i < len && p[i] != ',')
                i++;
        } else {
            size_t s = i;
            while (i < len && p[i] != ',')
                i++;
            f[n++] = (field){p + s, i - s};
        }
        if (i >= len) break;
        i++; /* the comma */
    }
    return n;
}

static bool field_is(field f, const char *s) {
    size_t n = strlen(s);
    return f.len == n && memcmp(f.p, s, n) == 0;
}

static bool field_u64(field f, uint64_t *out) {
    if (f.len == 0 || f.len > 20) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < f.len; i++) {
        if (f.p[i] < '0' || f.p[i] > '9') return false;
        v = v * 10 + (uint64_t)(f.p[i] - '0');
    }
    *out = v;
    return true;
}

static bool field_double(field f, double *out) {
    char buf[64];
    if (f.len == 0 || f.len >= sizeof(buf)) return false;
    memcpy(buf, f.p, f.len);
    buf[f.len] = 0;
    char *end;
    double v = strtod(buf, &end);
    if (*end || !isfinite(v)) return false;
    *out = v;
    return true;
}

int prs_jobstats_parse_time(const char *text, size_t len, double *out_s) {
    /* YYYY-MM-DDTHH:MM:SS[.fff...]Z */
    if (len < 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
        text[16] != ':')
        return -EINVAL;
    int v[6];
    static const int at[6] = {0, 5, 8, 11, 14, 17}, width[6] = {4, 2, 2, 2, 2, 2};
    for (int k = 0; k < 6; k++) {
        v[k] = 0;
        for (int i = 0; i < width[k]; i++) {
            char c = text[at[k] + i];
            if (c < '0' || c > '9') return -EINVAL;
            v[k] = v[k] * 10 + (c - '0');
        }
    }
    double frac = 0, scale = 0.1;
    size_t i = 19;
    if (i < len && text[i] == '.') {
        for (i++; i < len && text[i] >= '0' && text[i] <= '9'; i++, scale /= 10)
            frac += (text[i] - '0') * scale;
    }
    if (i >= len || text[i] != 'Z') return -EINVAL;
    struct tm tm = {.tm_year = v[0] - 1900,
                    .tm_mon = v[1] - 1,
                    .tm_mday = v[2],
                    .tm_hour = v[3],
                    .tm_min = v[4],
                    .tm_sec = v[5]};
    time_t t = timegm(&tm);
    if (t == (time_t)-1) return -EINVAL;
    *out_s = (double)t + frac;
    return 0;
}

static bool field_time(field f, double *out) {
    return prs_jobstats_parse_time(f.p, f.len, out) == 0;
}

/* "worker-3 pid 1 tid 2" or "worker-3" -> 3. */
static bool field_worker(field f, uint32_t *out) {
    if (f.len < 8 || memcmp(f.p, "worker-", 7) != 0) return false;
    uint64_t v = 0;
    size_t i = 7;
    for (; i < f.len && f.p[i] >= '0' && f.p[i] <= '9' && v < UINT32_MAX; i++)
        v = v * 10 + (uint64_t)(f.p[i] - '0');
    if (i == 7) return false;
    *out = (uint32_t)PRS_MIN(v, PRS_JOBSTATS_MAX_WORKERS - 1);
    return true;
}

const char *prs_jobstats_outcome_name(enum prs_try_outcome o) {
    static const char *const names[PRS_TRY_OUTCOMES] = {"done", "items failed", "failed",
                                                        "timed out", "crashed"};
    return (unsigned)o < PRS_TRY_OUTCOMES ? names[o] : "?";
}

uint32_t prs_jobstats_bucket(const prs_jobstats *s, double t_s) {
    double b = (t_s - s->t0_s) / s->bucket_s;
    if (!(b > 0)) return 0;
    if (b >= PRS_JOBSTATS_BUCKETS) return PRS_JOBSTATS_BUCKETS - 1;
    return (uint32_t)b;
}

uint32_t prs_jobstats_hist_bin(double seconds) {
    if (!(seconds > 0)) return 0;
    int e;
    frexp(seconds, &e); /* seconds in [2^(e-1), 2^e) */
    int bin = e - 1 + 20;
    if (bin < 0) return 0;
    if (bin >= (int)PRS_JOBSTATS_HIST_BINS) return PRS_JOBSTATS_HIST_BINS - 1;
    return (uint32_t)bin;
}

/* Calls fn for each complete data record of a CSV text (header first, with is_header). A
 * last record without its newline is still being written: skipped. */
typedef void (*csv_row_fn)(void *ctx, const field *f, uint32_t n, bool is_header);

static void csv_each(const char *text, size_t len, csv_row_fn fn, void *ctx) {
    if (!text || !len) return;
    prs_splitter sp;
    if (prs_splitter_init(&sp, PRS_FORMAT_CSV, text, len) != 0) return;
    field f[CSV_MAX_FIELDS];
    prs_record r;
    if (!prs_splitter_header(&sp, &r) || r.term_bytes == 0) return;
    fn(ctx, f, csv_fields(text + r.offset, r.size_bytes, f), true);
    while (prs_splitter_next(&sp, &r)) {
        if (r.term_bytes == 0) break;
        fn(ctx, f, csv_fields(text + r.offset, r.size_bytes, f), false);
    }
}

/* The column indexes of processed_mini-batches.csv, found by name in its header. */
typedef struct batch_cols {
    int id, process, start, ok, failed, elapsed, run, status;
} batch_cols;

typedef struct batch_pass {
    prs_jobstats *s;
    batch_cols c;
    int pass; /* 1: span and lanes; 2: aggregate */
    bool any;
} batch_pass;

static int col_of(const field *f, uint32_t n, const char *name) {
    for (uint32_t i = 0; i < n; i++)
        if (field_is(f[i], name)) return (int)i;
    return -1;
}

static bool read_try(const batch_cols *c, const field *f, uint32_t n, prs_jobstats_try *t) {
    int need[] = {c->id, c->process, c->start, c->ok, c->failed, c->elapsed, c->run, c->status};
    for (size_t i = 0; i < PRS_ARRAY_LEN(need); i++)
        if (need[i] < 0 || (uint32_t)need[i] >= n) return false;
    uint64_t ok, failed;
    if (!field_u64(f[c->id], &t->batch) || !field_worker(f[c->process], &t->worker) ||
        !field_time(f[c->start], &t->start_s) || !field_u64(f[c->ok], &ok) ||
        !field_u64(f[c->failed], &failed) || !field_double(f[c->elapsed], &t->elapsed_s) ||
        !field_double(f[c->run], &t->run_s))
        return false;
    t->items_ok = (uint32_t)PRS_MIN(ok, UINT32_MAX);
    t->items_failed = (uint32_t)PRS_MIN(failed, UINT32_MAX);
    field st = f[c->status];
    if (field_is(st, "RUN_TIMEOUT")) {
        t->outcome = PRS_TRY_TIMEOUT;
    } else if (field_is(st, "RUN_EXCEPTION")) {
        t->outcome = PRS_TRY_EXCEPTION;
    } else if (memmem(st.p, st.len, "CRASH", 5)) {
        t->outcome = PRS_TRY_CRASHED;
    } else {
        t->outcome = failed ? PRS_TRY_ITEMS : PRS_TRY_DONE;
    }
    return true;
}

static void add_busy(prs_jobstats *s, uint32_t lane, double from, double to) {
    uint32_t b0 = prs_jobstats_bucket(s, from), b1 = prs_jobstats_bucket(s, to);
    for (uint32_t b = b0; b <= b1; b++) {
        double lo = PRS_MAX(from, s->t0_s + b * s->bucket_s);
        double hi = PRS_MIN(to, s->t0_s + (b + 1) * s->bucket_s);
        if (b == PRS_JOBSTATS_BUCKETS - 1) hi = to;
        if (hi > lo) s->lane_busy_s[lane * PRS_JOBSTATS_BUCKETS + b] += hi - lo;
    }
}

static void aggregate_try(prs_jobstats *s, const prs_jobstats_try *t) {
    double end = t->start_s + t->elapsed_s;
    uint32_t b = prs_jobstats_bucket(s, end), lane = t->worker;
    PRS_ASSERT(lane < s->workers);
    s->tries++;
    s->items_ok += t->items_ok;
    s->items_failed += t->items_failed;
    s->tries_by_outcome[t->outcome]++;
    s->done_items_ok[b] += t->items_ok;
    s->done_items_failed[b] += t->items_failed;
    s->done_tries[b][t->outcome]++;
    s->lane_items[lane * PRS_JOBSTATS_BUCKETS + b] += t->items_ok;
    s->lane_outcome[(lane * PRS_JOBSTATS_BUCKETS + b) * PRS_TRY_OUTCOMES + t->outcome]++;
    add_busy(s, lane, t->start_s, end);
    double rest = t->elapsed_s > t->run_s ? t->elapsed_s - t->run_s : 0;
    s->hist_elapsed[prs_jobstats_hist_bin(t->elapsed_s)]++;
    s->hist_run[prs_jobstats_hist_bin(t->run_s)]++;
    s->hist_rest[prs_jobstats_hist_bin(rest)]++;
    s->elapsed_sum_s += t->elapsed_s;
    s->run_sum_s += t->run_s;
    s->elapsed_max_s = PRS_MAX(s->elapsed_max_s, t->elapsed_s);
    if (s->bars && s->bars_len < PRS_JOBSTATS_MAX_BARS) s->bars[s->bars_len++] = *t;
}

static void on_batch_row(void *ctx, const field *f, uint32_t n, bool is_header) {
    batch_pass *bp = ctx;
    prs_jobstats *s = bp->s;
    if (is_header) {
        bp->c = (batch_cols){col_of(f, n, "Mini-batch Id"),
                             col_of(f, n, "Process"),
                             col_of(f, n, "Process Start Time"),
                             col_of(f, n, "Succeeded"),
                             col_of(f, n, "Failed"),
                             col_of(f, n, "Elapsed Seconds"),
                             col_of(f, n, "Run Method Seconds"),
                             col_of(f, n, "Status")};
        return;
    }
    prs_jobstats_try t;
    if (!read_try(&bp->c, f, n, &t)) {
        if (bp->pass == 2) s->malformed_rows++;
        return;
    }
    if (bp->pass == 1) {
        double end = t.start_s + t.elapsed_s;
        if (!bp->any || t.start_s < s->t0_s) s->t0_s = t.start_s;
        if (!bp->any || end > s->t1_s) s->t1_s = end;
        s->workers = PRS_MAX(s->workers, t.worker + 1);
        s->tries++;
        bp->any = true;
    } else {
        aggregate_try(s, &t);
    }
}

typedef struct perf_pass {
    prs_jobstats *s;
    int time, who, cpu, rss;
} perf_pass;

static void on_perf_row(void *ctx, const field *f, uint32_t n, bool is_header) {
    perf_pass *pp = ctx;
    prs_jobstats *s = pp->s;
    if (is_header) {
        pp->time = col_of(f, n, "time");
        pp->who = col_of(f, n, "who");
        pp->cpu = col_of(f, n, "cpu_percent");
        pp->rss = col_of(f, n, "rss_bytes");
        return;
    }
    if (pp->time < 0 || pp->who < 0 || pp->cpu < 0 || pp->rss < 0) return;
    if ((uint32_t)PRS_MAX(PRS_MAX(pp->time, pp->who), PRS_MAX(pp->cpu, pp->rss)) >= n) return;
    double t, cpu;
    if (!field_time(f[pp->time], &t)) return;
    uint32_t b = prs_jobstats_bucket(s, t), lane;
    s->perf_samples++;
    if (field_worker(f[pp->who], &lane)) {
        if (lane < s->workers && field_double(f[pp->cpu], &cpu)) {
            s->lane_cpu_sum[lane * PRS_JOBSTATS_BUCKETS + b] += cpu;
            s->lane_cpu_n[lane * PRS_JOBSTATS_BUCKETS + b]++;
        }
    } else if (field_is(f[pp->who], "process")) {
        uint64_t rss;
        if (field_u64(f[pp->rss], &rss)) s->rss_max_bytes[b] = PRS_MAX(s->rss_max_bytes[b], rss);
    }
}

static void on_process_row(void *ctx, const field *f, uint32_t n, bool is_header) {
    prs_jobstats *s = ctx;
    /* pid,tid,role,cpu,start,end,exit_code,signal */
    if (is_header || n < 8) return;
    if (f[2].len > 5 && memcmp(f[2].p, "host-", 5) == 0) {
        uint64_t w = 0;
        for (size_t i = 5; i < f[2].len && f[2].p[i] >= '0' && f[2].p[i] <= '9' && w < 1u << 20;
             i++)
            w = w * 10 + (uint64_t)(f[2].p[i] - '0');
        s->host_lives_total++;
        s->host_lives[PRS_MIN(w, PRS_JOBSTATS_MAX_WORKERS - 1)]++;
        return;
    }
    if (!field_is(f[2], "runtime")) return;
    prs_jobstats_life l = {0};
    uint64_t pid;
    double code, sig;
    if (!field_u64(f[0], &pid) || !field_time(f[4], &l.start_s) || !field_time(f[5], &l.end_s) ||
        !field_double(f[6], &code) || !field_double(f[7], &sig))
        return;
    l.pid = (int64_t)pid;
    l.exit_code = (int)code;
    l.signal = (int)sig;
    s->lives_total++;
    if (s->lives_len < PRS_JOBSTATS_MAX_LIVES) s->lives[s->lives_len++] = l;
}

/* Calls fn for each complete line (newline excluded). */
static void lines_each(const char *text, size_t len, void (*fn)(prs_jobstats *, field),
                       prs_jobstats *s) {
    size_t i = 0;
    while (text && i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        if (!nl) break;
        fn(s, (field){text + i, (size_t)(nl - (text + i))});
        i = (size_t)(nl - text) + 1;
    }
}

/* "STAMP batch N attempt A item X: message": crashes and timeouts, which leave no row in
 * processed_mini-batches.csv (the process died, or restarted to end a hung run()). */
static void on_master_line(prs_jobstats *s, field line) {
    const char *sp = memchr(line.p, ' ', line.len);
    if (!sp) return;
    double t;
    if (prs_jobstats_parse_time(line.p, (size_t)(sp - line.p), &t) != 0) return;
    size_t rest = line.len - (size_t)(sp + 1 - line.p);
    if (rest < 7 || memcmp(sp + 1, "batch ", 6) != 0) return;
    /* only a try's error line ("batch N attempt A item X: ..."), once per try; not the
     * coordinator's notes about the same batch */
    char *after;
    uint64_t batch = strtoull(sp + 7, &after, 10);
    if (after >= line.p + line.len || strncmp(after, " attempt ", 9) != 0) return;
    enum prs_try_outcome o;
    if (memmem(sp, rest, "crashed", 7) || memmem(sp, rest, "died", 4)) {
        o = PRS_TRY_CRASHED;
        s->crashes++;
    } else if (memmem(sp, rest, "timeout", 7) || memmem(sp, rest, "timed out", 9)) {
        o = PRS_TRY_TIMEOUT;
        s->timeouts++;
    } else {
        return;
    }
    if (s->events_len >= PRS_JOBSTATS_MAX_EVENTS) return;
    s->events[s->events_len++] = (prs_jobstats_event){.time_s = t, .batch = batch, .outcome = o};
}

static void copy_text(char *dst, size_t size, const char *src, size_t len) {
    len = PRS_MIN(len, size - 1);
    memcpy(dst, src, len);
    dst[len] = 0;
}

/* error.txt: "errors: N ...", then groups "[N x] message", "  file: PATH". */
static void on_error_line(prs_jobstats *s, field line) {
    if (line.len > 8 && memcmp(line.p, "errors: ", 8) == 0) {
        s->errors_total = strtoull(line.p + 8, NULL, 10);
    } else if (line.len > 1 && line.p[0] == '[') {
        const char *x = memmem(line.p, line.len, " x] ", 4);
        if (!x || s->groups_len >= PRS_JOBSTATS_MAX_GROUPS) return;
        prs_jobstats_group *g = &s->groups[s->groups_len++];
        g->count = strtoull(line.p + 1, NULL, 10);
        copy_text(g->message, sizeof(g->message), x + 4, line.len - (size_t)(x + 4 - line.p));
        g->file[0] = 0;
    } else if (line.len > 8 && memcmp(line.p, "  file: ", 8) == 0 && s->groups_len) {
        prs_jobstats_group *g = &s->groups[s->groups_len - 1];
        copy_text(g->file, sizeof(g->file), line.p + 8, line.len - 8);
    }
}

static int cmp_group(const void *a, const void *b) {
    const prs_jobstats_group *x = a, *y = b;
    return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

static void read_overview(prs_jobstats *s, const char *text, size_t len) {
    if (!text) return;
    copy_text(s->overview, sizeof(s->overview), text, len);
    const char *st = strstr(s->overview, "state: ");
    if (!st) return;
    st += 7;
    size_t n = strcspn(st, " \n");
    copy_text(s->state, sizeof(s->state), st, n);
}

static int alloc_lanes(prs_jobstats *s, uint64_t tries) {
    size_t cells = (size_t)s->workers * PRS_JOBSTATS_BUCKETS;
    s->lane_items = calloc(cells, sizeof(*s->lane_items));
    s->lane_busy_s = calloc(cells, sizeof(*s->lane_busy_s));
    s->lane_outcome = calloc(cells * PRS_TRY_OUTCOMES, sizeof(*s->lane_outcome));
    s->lane_cpu_sum = calloc(cells, sizeof(*s->lane_cpu_sum));
    s->lane_cpu_n = calloc(cells, sizeof(*s->lane_cpu_n));
    if (tries <= PRS_JOBSTATS_MAX_BARS) s->bars = calloc(tries + 1, sizeof(*s->bars));
    if (!s->lane_items || !s->lane_busy_s || !s->lane_outcome || !s->lane_cpu_sum ||
        !s->lane_cpu_n || (tries <= PRS_JOBSTATS_MAX_BARS && !s->bars))
        return -ENOMEM;
    return 0;
}

int prs_jobstats_from_text(const char *batches_csv, size_t batches_len, const char *perf_csv,
                           size_t perf_len, const char *processes_csv, size_t processes_len,
                           const char *master_txt, size_t master_len, const char *error_txt,
                           size_t error_len, const char *overview_txt, size_t overview_len,
                           prs_jobstats **out) {
    prs_jobstats *s = calloc(1, sizeof(*s));
    if (!s) return -ENOMEM;
    batch_pass bp = {.s = s, .pass = 1};
    csv_each(batches_csv, batches_len, on_batch_row, &bp);
    csv_each(processes_csv, processes_len, on_process_row, s);
    if (!bp.any) { /* no try finished yet: span the runtime's lives, or one second */
        s->t0_s = s->lives_len ? s->lives[0].start_s : 0;
        s->t1_s = s->lives_len ? s->lives[s->lives_len - 1].end_s : 0;
    }
    if (!(s->t1_s > s->t0_s)) s->t1_s = s->t0_s + 1;
    s->bucket_s = (s->t1_s - s->t0_s) / PRS_JOBSTATS_BUCKETS;
    s->workers = PRS_MAX(s->workers, 1u);
    uint64_t counted = s->tries;
    s->tries = 0;
    if (alloc_lanes(s, counted) != 0) {
        prs_jobstats_free(s);
        return -ENOMEM;
    }
    bp.pass = 2;
    csv_each(batches_csv, batches_len, on_batch_row, &bp);
    PRS_ASSERT(s->tries == counted); /* the same bytes read twice */
    perf_pass pp = {.s = s};
    csv_each(perf_csv, perf_len, on_perf_row, &pp);
    lines_each(master_txt, master_len, on_master_line, s);
    lines_each(error_txt, error_len, on_error_line, s);
    qsort(s->groups, s->groups_len, sizeof(s->groups[0]), cmp_group);
    read_overview(s, overview_txt, overview_len);
    *out = s;
    return 0;
}

void prs_jobstats_free(prs_jobstats *s) {
    if (!s) return;
    free(s->lane_items);
    free(s->lane_busy_s);
    free(s->lane_outcome);
    free(s->lane_cpu_sum);
    free(s->lane_cpu_n);
    free(s->bars);
    free(s);
}

typedef struct mapped {
    const char *p;
    size_t len;
} mapped;

/* Maps OUT/logs/<name> read-only; an absent or empty file maps to nothing. */
static void map_log(const char *out_dir, const char *name, mapped *m) {
    char path[PATH_MAX];
    *m = (mapped){0};
    if ((size_t)snprintf(path, sizeof(path), "%s/logs/%s", out_dir, name) >= sizeof(path)) return;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p != MAP_FAILED) *m = (mapped){p, (size_t)st.st_size};
    }
    close(fd);
}

int prs_jobstats_load(const char *out_dir, prs_jobstats **out, char *err, size_t err_size) {
    char logs[PATH_MAX];
    struct stat st;
    snprintf(logs, sizeof(logs), "%s/logs", out_dir);
    if (stat(logs, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, err_size, "%s: no job logs there (is OUT the --output of a prs run?)", logs);
        return -ENOENT;
    }
    static const char *const names[6] = {"sys/job_report/processed_mini-batches.csv",
                                         "sys/perf/overview.csv",
                                         "sys/processes.csv",
                                         "sys/master.txt",
                                         "user/error.txt",
                                         "overview.txt"};
    mapped m[6];
    for (int i = 0; i < 6; i++)
        map_log(out_dir, names[i], &m[i]);
    int rc = prs_jobstats_from_text(m[0].p, m[0].len, m[1].p, m[1].len, m[2].p, m[2].len, m[3].p,
                                    m[3].len, m[4].p, m[4].len, m[5].p, m[5].len, out);
    for (int i = 0; i < 6; i++)
        if (m[i].p) munmap((void *)(uintptr_t)m[i].p, m[i].len);
    if (rc == -ENOMEM) snprintf(err, err_size, "%s: out of memory aggregating the logs", logs);
    return rc;
}
