/* why.c -- see why.h. */
#include "why.h"

#include "clock.h"
#include "queue.h"
#include "scoreboard.h"

#include <glob.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WHY_TRIES_MAX 128u
#define WHY_NAME_BYTES 1024u
#define WHY_CONFIG_BYTES 8192u

typedef struct why_try {
    uint32_t attempt, worker, total, succeeded;
    uint64_t start_ms, duration_ms;
    char start[40];
    char status[32];
} why_try;

typedef struct why {
    const char *out;
    FILE *f;
    prs_queue *q;
    prs_queue_reader *r;
    uint64_t batch;
    prs_batch_rec rec;
    bool tabular;
    char item[WHY_NAME_BYTES]; /* "" when the question is a batch */
    why_try tries[WHY_TRIES_MAX];
    uint32_t ntries;
    char stack_file[PATH_MAX]; /* the first crash evidence of the batch, relative to OUT */
    char first_error_file[PATH_MAX];
} why;

/* Copies src into dst, cut to fit. */
static void copy_str(char *dst, size_t size, const char *src) {
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = 0;
}

/* The name of item record id (files: the path; tabular: "path:first line" of the range). */
static int item_name(why *w, uint64_t id, char *name, size_t size, prs_tab_ref *ref) {
    const void *view;
    size_t len;
    int rc = prs_queue_reader_begin(w->r);
    if (rc) return rc;
    rc = prs_queue_reader_items(w->r, id, 1, &view, &len);
    if (rc == 0 && ref && prs_queue_tab_decode(view, len, ref) == 0) {
        w->tabular = true;
        snprintf(name, size, "%s:%llu", ref->path, (unsigned long long)ref->first_line);
        ref->path = NULL; /* the view ends with the transaction */
    } else if (rc == 0) {
        snprintf(name, size, "%.*s", (int)strnlen(view, len), (const char *)view);
    }
    prs_queue_reader_end(w->r);
    return rc;
}

/* Tabular: "FILE:LINE" is in the batch of FILE whose range starts at the last line <= LINE. */
static bool tab_match(const char *want, const char *first, uint64_t *best_line) {
    const char *wc = strrchr(want, ':'), *fc = strrchr(first, ':');
    if (!wc || !fc || wc - want != fc - first || strncmp(want, first, (size_t)(wc - want)))
        return false;
    uint64_t wl = strtoull(wc + 1, NULL, 10), fl = strtoull(fc + 1, NULL, 10);
    if (fl > wl || (*best_line != UINT64_MAX && fl < *best_line)) return false;
    *best_line = fl;
    return true;
}

/* Finds the batch holding item w->item (every batch looked at once: bounded by the job). */
static int find_item(why *w, uint64_t total_batches) {
    uint64_t best_line = UINT64_MAX;
    bool found = false;
    for (uint64_t id = 0; id < total_batches; id++) {
        prs_batch_rec rec;
        int rc = prs_queue_reader_begin(w->r);
        if (rc) return rc;
        rc = prs_queue_reader_batch(w->r, id, &rec);
        prs_queue_reader_end(w->r);
        if (rc == -ENOENT) continue;
        if (rc) return rc;
        char name[WHY_NAME_BYTES];
        prs_tab_ref ref;
        if (item_name(w, rec.first_item, name, sizeof(name), &ref) != 0) continue;
        if (w->tabular) {
            if (!tab_match(w->item, name, &best_line)) continue;
            w->batch = id, w->rec = rec, found = true;
            continue;
        }
        for (uint32_t i = 0; i < rec.item_count; i++) {
            if (i && item_name(w, rec.first_item + i, name, sizeof(name), NULL) != 0) break;
            if (strcmp(name, w->item) == 0) {
                w->batch = id, w->rec = rec;
                return 0;
            }
        }
    }
    return found ? 0 : -ENOENT;
}

static void print_batch(why *w) {
    FILE *f = w->f;
    char first[WHY_NAME_BYTES] = "?", last[WHY_NAME_BYTES] = "?";
    prs_tab_ref ref;
    item_name(w, w->rec.first_item, first, sizeof(first), &ref);
    if (!w->tabular && w->rec.item_count > 1)
        item_name(w, w->rec.first_item + w->rec.item_count - 1, last, sizeof(last), NULL);
    if (w->item[0])
        fprintf(f, "item %s is in mini-batch %llu\n", w->item, (unsigned long long)w->batch);
    fprintf(f, "mini-batch %llu: %u item%s", (unsigned long long)w->batch, w->rec.item_count,
            w->rec.item_count == 1 ? "" : "s");
    if (w->tabular) {
        fprintf(f, " (records from %s on)\n", first);
    } else if (w->rec.item_count > 1) {
        fprintf(f, " (%s .. %s)\n", first, last);
    } else {
        fprintf(f, " (%s)\n", first);
    }
    const prs_batch_rec *r = &w->rec;
    if (r->state == PRS_BATCH_DONE) {
        fprintf(f, "state: done, %u of %u items succeeded (a row each)%s\n", r->succeeded,
                r->item_count, r->attempts ? " after failed tries" : "");
    } else if (r->state == PRS_BATCH_FAILED) {
        fprintf(f, "state: FAILED after %u tr%s: all its items count as failed\n", r->attempts,
                r->attempts == 1 ? "y" : "ies");
    } else {
        fprintf(f, "state: pending, %u tr%s spent so far\n", r->attempts,
                r->attempts == 1 ? "y" : "ies");
    }
}

/* A worker running the batch now, from the scoreboard. */
static void print_running(why *w) {
    char state[PATH_MAX + 8];
    snprintf(state, sizeof(state), "%s/.prs", w->out);
    prs_scoreboard_file *sb;
    if (prs_scoreboard_open(&sb, state, false) != 0) return;
    for (uint32_t i = 0; i < PRS_MAX_WORKERS; i++) {
        const prs_scoreboard_slot *s = &sb->slot[i];
        if (atomic_load(&s->state) != PRS_SLOT_RUNNING || atomic_load(&s->batch_id) != w->batch)
            continue;
        uint64_t now_ms = prs_wall_ms();
        uint64_t since = atomic_load(&s->started_unix_ms);
        fprintf(w->f, "running now: worker %u, try %u, for %.1f s\n", i, atomic_load(&s->attempt),
                now_ms > since ? (double)(now_ms - since) / 1e3 : 0.0);
    }
    prs_scoreboard_close(sb);
}

/* "2026-11-29T03:29:33.123Z" -> ms since the epoch; 0 if it is not one. */
static uint64_t stamp_ms(const char *s) {
    struct tm tm = {0};
    unsigned ms = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3uZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &ms) != 7)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (uint64_t)timegm(&tm) * 1000u + ms;
}

/* Every finished try of the batch, from logs/sys/node/<node>.txt. */
static void load_tries(why *w) {
    char pattern[PATH_MAX + 32], line[2048];
    snprintf(pattern, sizeof(pattern), "%s/logs/sys/node/*.txt", w->out);
    glob_t g;
    if (glob(pattern, 0, NULL, &g) != 0) return;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        FILE *in = fopen(g.gl_pathv[i], "re");
        while (in && fgets(line, sizeof(line), in) && w->ntries < WHY_TRIES_MAX) {
            why_try t = {0};
            unsigned long long b;
            double secs = 0;
            if (sscanf(line, "%39s batch %llu attempt %u: worker %u", t.start, &b, &t.attempt,
                       &t.worker) != 4 ||
                b != w->batch)
                continue;
            const char *items = strstr(line, "items total ");
            const char *dur = strstr(line, "duration ");
            const char *st = strrchr(line, ';');
            if (items) sscanf(items, "items total %u succeeded %u", &t.total, &t.succeeded);
            if (dur) sscanf(dur, "duration %lf", &secs);
            if (st) sscanf(st, "; %31s", t.status);
            t.start_ms = stamp_ms(t.start);
            t.duration_ms = (uint64_t)(secs * 1000.0) + 1;
            w->tries[w->ntries++] = t;
        }
        if (in) fclose(in);
    }
    globfree(&g);
}

static void print_tries(why *w) {
    fprintf(w->f, "tries that ran to the end (logs/sys/node/):%s\n", w->ntries ? "" : " none");
    for (uint32_t i = 0; i < w->ntries; i++) {
        const why_try *t = &w->tries[i];
        fprintf(w->f, "  try %u: worker %u, started %s, %.3f s, %s, %u of %u items succeeded\n",
                t->attempt, t->worker, t->start, (double)t->duration_ms / 1e3, t->status,
                t->succeeded, t->total);
    }
}

/* One error file of the batch: printed if it is about the item asked for (or the batch). */
static void print_error_file(why *w, const char *path, uint32_t *shown) {
    FILE *in = fopen(path, "re");
    if (!in) return;
    char line[4200], item[WHY_NAME_BYTES] = "", message[4096] = "", stack[PATH_MAX] = "";
    unsigned attempt = 0;
    bool repeated = false;
    while (fgets(line, sizeof(line), in)) {
        line[strcspn(line, "\n")] = 0;
        sscanf(line, "attempt: %u", &attempt);
        if (!strncmp(line, "item: ", 6)) copy_str(item, sizeof(item), line + 6);
        if (!strncmp(line, "message: ", 9)) copy_str(message, sizeof(message), line + 9);
        if (!strncmp(line, "stack trace: logs/", 18)) copy_str(stack, sizeof(stack), line + 13);
        if (!strncmp(line, "repeated: ", 10)) repeated = true;
    }
    fclose(in);
    if (w->item[0] && strcmp(item, w->item) != 0 && strcmp(item, "-") != 0) return;
    const char *rel = strstr(path, "/logs/");
    if (!w->first_error_file[0] && rel) copy_str(w->first_error_file, PATH_MAX, rel + 1);
    if (!w->stack_file[0] && stack[0]) copy_str(w->stack_file, PATH_MAX, stack);
    if ((*shown)++ >= PRS_WHY_LINES_MAX) return;
    fprintf(w->f, "  try %u, item %s: %s%s\n    (%s)\n", attempt, item, message,
            repeated ? " [repeated]" : "", rel ? rel + 1 : path);
}

static void print_errors(why *w) {
    char pattern[PATH_MAX + 64];
    snprintf(pattern, sizeof(pattern), "%s/logs/user/error/*/error-*-batch%llu-attempt*.txt",
             w->out, (unsigned long long)w->batch);
    glob_t g;
    uint32_t shown = 0;
    fputs("errors (logs/user/error/):\n", w->f);
    if (glob(pattern, 0, NULL, &g) == 0) { /* sorted: the files are numbered in order */
        for (size_t i = 0; i < g.gl_pathc; i++)
            print_error_file(w, g.gl_pathv[i], &shown);
        globfree(&g);
    }
    if (shown == 0) fputs("  none\n", w->f);
    if (shown > PRS_WHY_LINES_MAX) fprintf(w->f, "  ... %u more\n", shown - PRS_WHY_LINES_MAX);
}

/* The symbolized stack of the first crash (crash files name the faulting item). */
static void print_stack(why *w) {
    if (!w->stack_file[0]) return;
    char path[PATH_MAX * 2], line[4200];
    snprintf(path, sizeof(path), "%s/%s", w->out, w->stack_file);
    FILE *in = fopen(path, "re");
    if (!in) return;
    fprintf(w->f, "crash (%s):\n", w->stack_file);
    bool in_stack = false;
    uint32_t n = 0;
    while (fgets(line, sizeof(line), in) && n < PRS_WHY_LINES_MAX) {
        if (!strncmp(line, "prs: fatal", 10) || !strncmp(line, "item: ", 6)) {
            fprintf(w->f, "  %s", line);
        } else if (!strncmp(line, "stack (function, file:line):", 28)) {
            in_stack = true;
        } else if (in_stack && !strncmp(line, "  #", 3)) {
            fprintf(w->f, "  %s", line);
            n++;
        } else if (in_stack) {
            break;
        }
    }
    fclose(in);
}

/* Whether a user-log line belongs to one of the batch's tries: prs_log lines carry the
 * batch and try; the script's captured stdout/stderr is matched by time. */
static bool log_line_wanted(const why *w, const char *line) {
    char tag[48];
    snprintf(tag, sizeof(tag), ": [batch %llu try ", (unsigned long long)w->batch);
    if (strstr(line, tag)) return true; /* prs_log inside one of its tries */
    if (!strstr(line, " stdout: ") && !strstr(line, " stderr: ")) return false;
    uint64_t ms = stamp_ms(line); /* captured output has no batch: its time tells */
    for (uint32_t i = 0; ms && i < w->ntries; i++) {
        const why_try *t = &w->tries[i];
        if (ms + 1 >= t->start_ms && ms <= t->start_ms + t->duration_ms + 1) return true;
    }
    return false;
}

static void print_log_lines(why *w) {
    char pattern[PATH_MAX + 32], line[4200];
    snprintf(pattern, sizeof(pattern), "%s/logs/user/*/*.log.txt", w->out);
    glob_t g;
    uint32_t n = 0;
    fputs("user log lines of those tries (logs/user/<ip>/<node>.log.txt):\n", w->f);
    if (glob(pattern, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            FILE *in = fopen(g.gl_pathv[i], "re");
            while (in && fgets(line, sizeof(line), in)) {
                if (!log_line_wanted(w, line)) continue;
                if (n++ < PRS_WHY_LINES_MAX) fprintf(w->f, "  %s", line);
            }
            if (in) fclose(in);
        }
        globfree(&g);
    }
    if (n == 0) fputs("  none\n", w->f);
    if (n > PRS_WHY_LINES_MAX) fprintf(w->f, "  ... %u more\n", n - PRS_WHY_LINES_MAX);
}

static void config_value(const char *config, const char *key, char *out, size_t size) {
    const char *p = strstr(config, key);
    out[0] = 0;
    if (p) snprintf(out, size, "%.*s", (int)strcspn(p + strlen(key), "\n"), p + strlen(key));
}

static void print_next(why *w) {
    char config[WHY_CONFIG_BYTES] = "", script[PATH_MAX] = "S", input[PATH_MAX] = "IN";
    size_t len = 0;
    if (prs_queue_meta_get(w->q, "config", config, sizeof(config) - 1, &len) == 0) {
        config[len] = 0;
        config_value(config, "entry_script=", script, sizeof(script));
        config_value(config, "input=", input, sizeof(input));
    }
    fputs("next:\n", w->f);
    if (w->stack_file[0]) fprintf(w->f, "  open %s (the crash: stack with lines)\n", w->stack_file);
    if (w->first_error_file[0]) fprintf(w->f, "  open %s\n", w->first_error_file);
    fprintf(w->f, "  rerun it alone, in the foreground: prs try --entry-script %s --input %s ",
            script, input);
    if (w->item[0]) {
        fprintf(w->f, "--item '%s'", w->item);
    } else {
        fprintf(w->f, "--batch %llu", (unsigned long long)w->batch);
    }
    fputs(" [-- ARGS]\n", w->f);
}

static int why_resolve(why *w, const char *what, const prs_queue_counts *c, char *err,
                       size_t err_size) {
    char *end;
    unsigned long long id = strtoull(what, &end, 10);
    if (what[0] >= '0' && what[0] <= '9' && !*end && id < c->total_batches) {
        w->batch = id;
        int rc = prs_queue_reader_begin(w->r);
        if (rc == 0) {
            rc = prs_queue_reader_batch(w->r, id, &w->rec);
            prs_queue_reader_end(w->r);
        }
        if (rc) snprintf(err, err_size, "mini-batch %llu: unreadable: %s", id, strerror(-rc));
        return rc;
    }
    copy_str(w->item, sizeof(w->item), what);
    int rc = find_item(w, c->total_batches);
    if (rc == -ENOENT)
        snprintf(err, err_size,
                 "%s: no such item or mini-batch in the job in %s (items are named as in "
                 "logs/user/error.txt; mini-batches are 0..%llu)",
                 what, w->out, (unsigned long long)(c->total_batches ? c->total_batches - 1 : 0));
    else if (rc)
        snprintf(err, err_size, "%s/.prs/data.mdb: unreadable: %s", w->out, strerror(-rc));
    return rc;
}

int prs_why_print(const char *out_dir, const char *what, FILE *f, char *err, size_t err_size) {
    char state_dir[PATH_MAX];
    snprintf(state_dir, sizeof(state_dir), "%s/.prs", out_dir);
    why *w = calloc(1, sizeof(*w));
    if (!w) return -ENOMEM;
    w->out = out_dir;
    w->f = f;
    int rc = prs_queue_open_readonly(&w->q, state_dir, err, err_size);
    if (rc == -ENOENT) snprintf(err, err_size, "%s: no prs job here", out_dir);
    if (rc) goto free_why;
    prs_queue_counts c;
    rc = prs_queue_counts_get(w->q, &c);
    if (rc) {
        snprintf(err, err_size, "%s/data.mdb: job counters unreadable: %s", state_dir,
                 strerror(-rc));
        goto close_queue;
    }
    rc = prs_queue_reader_open(w->q, &w->r);
    if (rc) goto close_queue;
    rc = why_resolve(w, what, &c, err, err_size);
    if (rc == 0) {
        print_batch(w);
        print_running(w);
        load_tries(w);
        print_tries(w);
        print_errors(w);
        print_stack(w);
        print_log_lines(w);
        print_next(w);
    }
    prs_queue_reader_close(w->r);
close_queue:
    prs_queue_close(w->q);
free_why:
    free(w);
    return rc;
}
