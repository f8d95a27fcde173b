/* status.c -- see status.h. */
#include "status.h"
#include "clock.h"

#include "queue.h"
#include "scoreboard.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define STATUS_TEXT_BYTES 1100u

typedef struct status {
    const prs_status_options *opt;
    FILE *f;
    bool running;
    prs_queue_counts counts;
    char result[STATUS_TEXT_BYTES]; /* "code message", empty while unfinished */
    char first_error[STATUS_TEXT_BYTES];
    uint32_t listed;
    prs_queue_reader *reader; /* item names of listed batches; NULL: names not shown */
} status;

/* JSON string body. Hand-written: four escapes and \u00XX are all JSON asks of a writer,
 * less code than binding a library for one function. */
static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            fprintf(f, "\\%c", *p);
        } else if (*p == '\n') {
            fputs("\\n", f);
        } else if (*p < 0x20) {
            fprintf(f, "\\u%04x", *p);
        } else {
            fputc(*p, f);
        }
    }
    fputc('"', f);
}

/* A runtime holds OUT/.prs/lock exclusively while it runs; probing with a shared lock
 * tells without creating anything (a missing lock file: never ran). */
bool prs_status_running(const char *state_dir) {
    char path[PATH_MAX + 8];
    snprintf(path, sizeof(path), "%s/lock", state_dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    bool held = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    return held;
}

static const char *batch_state_text(uint32_t state) {
    switch (state) {
    case PRS_BATCH_PENDING:
        return "pending";
    case PRS_BATCH_DONE:
        return "done";
    case PRS_BATCH_FAILED:
        return "failed";
    default:
        return "unknown";
    }
}

/* The name of item record id (files: its path; tabular: "path:line" of the range's first
 * record), or "" when it cannot be read. */
static void item_name(status *st, uint64_t id, char *name, size_t size) {
    name[0] = 0;
    const void *view;
    size_t len;
    if (!st->reader || prs_queue_reader_begin(st->reader) != 0) return;
    if (prs_queue_reader_items(st->reader, id, 1, &view, &len) == 0) {
        prs_tab_ref ref;
        if (prs_queue_tab_decode(view, len, &ref) == 0) {
            snprintf(name, size, "%s:%llu", ref.path, (unsigned long long)ref.first_line);
        } else {
            snprintf(name, size, "%.*s", (int)strnlen(view, len), (const char *)view);
        }
    }
    prs_queue_reader_end(st->reader);
}

static void print_batch(void *arg, uint64_t id, const prs_batch_rec *rec) {
    status *st = arg;
    char name[1024];
    item_name(st, rec->first_item, name, sizeof(name));
    if (st->opt->json) {
        fprintf(st->f,
                "%s\n    {\"batch\": %llu, \"state\": \"%s\", \"failed_tries\": %u, \"items\": %u, "
                "\"succeeded\": %u, \"first_item\": %llu, \"first_item_name\": ",
                st->listed ? "," : "", (unsigned long long)id, batch_state_text(rec->state),
                rec->attempts, rec->item_count, rec->succeeded,
                (unsigned long long)rec->first_item);
        json_str(st->f, name);
        fputc('}', st->f);
    } else {
        fprintf(
            st->f,
            "  batch %llu: %s, %u failed tr%s, %u items (%u succeeded), first item %llu%s%s%s\n",
            (unsigned long long)id, batch_state_text(rec->state), rec->attempts,
            rec->attempts == 1 ? "y" : "ies", rec->item_count, rec->succeeded,
            (unsigned long long)rec->first_item, name[0] ? " (" : "", name, name[0] ? ")" : "");
    }
    st->listed++;
}

static void print_workers(status *st, const prs_scoreboard_file *sb) {
    uint64_t now = prs_wall_ms();
    bool first = true;
    for (uint32_t i = 0; sb && i < PRS_MAX_WORKERS; i++) {
        const prs_scoreboard_slot *s = &sb->slot[i];
        uint32_t state = atomic_load(&s->state);
        if (state == PRS_SLOT_IDLE) continue;
        /* A slot left RUNNING by a runtime that is gone describes the moment it died. */
        const char *what = state == PRS_SLOT_CRASHED ? "crashed"
                           : st->running             ? "running"
                                                     : "running when the runtime stopped";
        uint64_t started = atomic_load(&s->started_unix_ms);
        uint64_t for_ms = now > started ? now - started : 0;
        if (st->opt->json) {
            fprintf(st->f, "%s\n    {\"worker\": %u, \"state\": ", first ? "" : ",", i);
            json_str(st->f, what);
            fprintf(st->f, ", \"batch\": %llu, \"attempt\": %u, \"items\": %u, \"for_ms\": %llu}",
                    (unsigned long long)atomic_load(&s->batch_id), atomic_load(&s->attempt),
                    atomic_load(&s->item_count), (unsigned long long)for_ms);
        } else {
            fprintf(st->f, "  worker %u: batch %llu attempt %u (%u items), %s for %.1f s\n", i,
                    (unsigned long long)atomic_load(&s->batch_id), atomic_load(&s->attempt),
                    atomic_load(&s->item_count), what, (double)for_ms / 1000.0);
        }
        first = false;
    }
    if (first && !st->opt->json) fputs("  (no batch in a worker's hands)\n", st->f);
}

static void print_text(status *st, const char *out_dir, prs_queue *q,
                       const prs_scoreboard_file *sb) {
    const prs_queue_counts *c = &st->counts;
    FILE *f = st->f;
    uint64_t pending = c->total_batches - c->done_batches - c->failed_batches;
    fprintf(f, "job in %s: %s\n", out_dir,
            st->result[0] ? "finished"
            : st->running ? "running"
                          : "not running (resumable)");
    if (st->result[0]) {
        const char *msg = strchr(st->result, ' ');
        fprintf(f, "result: %s (exit code %d)\n", msg ? msg + 1 : st->result, atoi(st->result));
    }
    fprintf(f, "mini-batches: total %llu, done %llu, failed %llu, pending %llu\n",
            (unsigned long long)c->total_batches, (unsigned long long)c->done_batches,
            (unsigned long long)c->failed_batches, (unsigned long long)pending);
    fprintf(f, "items: total %llu, succeeded %llu, failed %llu\n",
            (unsigned long long)c->total_items, (unsigned long long)c->succeeded_items,
            (unsigned long long)c->failed_items);
    fprintf(f, "output: %llu bytes committed\n", (unsigned long long)c->output_bytes);
    if (st->first_error[0]) fprintf(f, "first error: %s\n", st->first_error);
    fputs("workers:\n", f);
    print_workers(st, sb);
    if (st->opt->all_batches) {
        fputs("mini-batches:\n", f);
        prs_queue_scan_batches(q, PRS_QUEUE_ANY_STATE, SIZE_MAX, print_batch, st);
    } else if (c->failed_batches) {
        fprintf(f, "failed mini-batches (%llu%s):\n", (unsigned long long)c->failed_batches,
                c->failed_batches > st->opt->failed_limit ? ", the first ones" : "");
        prs_queue_scan_batches(q, PRS_BATCH_FAILED, st->opt->failed_limit, print_batch, st);
    }
}

static void print_json(status *st, const char *out_dir, prs_queue *q,
                       const prs_scoreboard_file *sb) {
    const prs_queue_counts *c = &st->counts;
    FILE *f = st->f;
    fputs("{\n  \"output_dir\": ", f);
    json_str(f, out_dir);
    fprintf(f, ",\n  \"state\": \"%s\",\n",
            st->result[0] ? "finished"
            : st->running ? "running"
                          : "stopped");
    if (st->result[0]) {
        const char *msg = strchr(st->result, ' ');
        fprintf(f, "  \"exit_code\": %d,\n  \"result\": ", atoi(st->result));
        json_str(f, msg ? msg + 1 : st->result);
        fputs(",\n", f);
    }
    fprintf(f,
            "  \"total_batches\": %llu,\n  \"done_batches\": %llu,\n  \"failed_batches\": %llu,\n"
            "  \"total_items\": %llu,\n  \"succeeded_items\": %llu,\n  \"failed_items\": %llu,\n"
            "  \"output_bytes\": %llu,\n  \"first_error\": ",
            (unsigned long long)c->total_batches, (unsigned long long)c->done_batches,
            (unsigned long long)c->failed_batches, (unsigned long long)c->total_items,
            (unsigned long long)c->succeeded_items, (unsigned long long)c->failed_items,
            (unsigned long long)c->output_bytes);
    if (st->first_error[0]) {
        json_str(f, st->first_error);
    } else {
        fputs("null", f);
    }
    fputs(",\n  \"workers\": [", f);
    print_workers(st, sb);
    fputs("\n  ],\n  \"batches\": [", f);
    st->listed = 0;
    if (st->opt->all_batches) {
        prs_queue_scan_batches(q, PRS_QUEUE_ANY_STATE, SIZE_MAX, print_batch, st);
    } else {
        prs_queue_scan_batches(q, PRS_BATCH_FAILED, st->opt->failed_limit, print_batch, st);
    }
    fputs("\n  ]\n}\n", f);
}

static void meta_text(prs_queue *q, const char *key, char *buf, size_t cap) {
    size_t len = 0;
    if (prs_queue_meta_get(q, key, buf, cap - 1, &len) != 0) len = 0;
    buf[len] = 0;
}

int prs_status_print(const char *out_dir, const prs_status_options *opt, FILE *f, char *err,
                     size_t err_size) {
    char state_dir[PATH_MAX];
    snprintf(state_dir, sizeof(state_dir), "%s/.prs", out_dir);
    if (access(state_dir, F_OK) != 0) {
        snprintf(err, err_size, "%s: no prs job here (no .prs/ directory)", out_dir);
        return -ENOENT;
    }
    status st = {.opt = opt, .f = f, .running = prs_status_running(state_dir)};
    prs_queue *q;
    int rc = prs_queue_open_readonly(&q, state_dir, err, err_size);
    if (rc == -ENOENT)
        snprintf(err, err_size, "%s: no prs job here (its state was never created)", out_dir);
    if (rc) return rc;
    if (!prs_queue_created(q)) {
        snprintf(err, err_size,
                 "%s: the job is still being created (or its creation was cut "
                 "short: the next prs run redoes it)",
                 out_dir);
        rc = -ENOENT;
        goto close_queue;
    }
    rc = prs_queue_counts_get(q, &st.counts);
    if (rc) {
        snprintf(err, err_size, "%s/data.mdb: job counters unreadable: %s", state_dir,
                 strerror(-rc));
        goto close_queue;
    }
    meta_text(q, "result", st.result, sizeof(st.result));
    meta_text(q, "first_error", st.first_error, sizeof(st.first_error));
    prs_scoreboard_file *sb = NULL;
    if (prs_scoreboard_open(&sb, state_dir, false) != 0) sb = NULL;  /* never ran: no slots */
    if (prs_queue_reader_open(q, &st.reader) != 0) st.reader = NULL; /* names not shown */
    if (opt->json) {
        print_json(&st, out_dir, q, sb);
    } else {
        print_text(&st, out_dir, q, sb);
    }
    if (sb) prs_scoreboard_close(sb);
    prs_queue_reader_close(st.reader);
close_queue:
    prs_queue_close(q);
    return rc;
}
