/* coord_commit.c -- see coord_commit.h. */
#include "coord_commit.h"

#include "clock.h"
#include "supervisor.h"

#include <stdatomic.h>
#include <string.h>

#define COORD_COMMIT_EVERY_NS 50000000ull /* a group is handed over at least this often */

/* The stored result, "CODE MESSAGE", fits the committer's meta value whole. */
_Static_assert(sizeof(((prs_job_report *)0)->message) + sizeof("-2147483648 ") <=
                   PRS_COMMITTER_META_BYTES,
               "the result message does not fit a meta value");

void prs_coord_restore_first_error(prs_coord *c, prs_queue *q) {
    size_t len = 0;
    if (prs_queue_meta_get(q, "first_error", c->first_error, sizeof(c->first_error) - 1, &len) == 0)
        c->first_error[len] = 0; /* from an earlier life of the job */
}

/* ---- rows and group commits ------------------------------------------------------------ */

/* Writes buffered rows: the output must hold every byte a handed-over group covers. */
static int write_rows(prs_coord *c) {
    if (c->rows_len == 0) return 0;
    int rc = prs_outfile_append(c->d.out, c->rows, c->rows_len);
    c->rows_len = 0;
    return rc;
}

int prs_coord_buffer_rows(prs_coord *c, const char *rows, size_t len) {
    if (c->rows_len + len > c->rows_cap) {
        int rc = write_rows(c);
        if (rc) return rc;
        if (len > c->rows_cap) return prs_outfile_append(c->d.out, rows, len);
    }
    memcpy(c->rows + c->rows_len, rows, len);
    c->rows_len += len;
    return 0;
}

/* Hands the current group to the committer (waiting for the previous one if asked), with
 * the first error when it is new, or the meta value given. */
int prs_coord_commit(prs_coord *c, bool wait, const char *meta_key, const void *meta_val,
                     size_t meta_len) {
    int rc = write_rows(c);
    if (rc) return rc;
    prs_joblog_flush_reports(c->d.log); /* a crash keeps the lines of committed tries */
    prs_queue_counts counts;
    prs_coord_counts(c, &counts);
    bool first_error = !meta_key && c->first_error_new;
    if (first_error) {
        meta_key = "first_error";
        meta_val = c->first_error;
        meta_len = strlen(c->first_error);
    }
    rc = prs_committer_flush(c->committer, &counts, meta_key, meta_val, meta_len, wait);
    if (rc == 0) {
        atomic_fetch_add(&c->d.scoreboard->progress, 1);
        c->last_flush_ns = prs_mono_coarse_ns();
        if (first_error) c->first_error_new = false;
    }
    return rc;
}

static int maybe_commit(prs_coord *c) {
    uint32_t pending = prs_committer_pending(c->committer);
    if (pending == 0) return 0;
    bool full = pending == PRS_COORD_GROUP_CAP;
    /* Coarse (a tick of a few ms) is enough against 50 ms, and costs no system call. */
    if (!full && prs_mono_coarse_ns() - c->last_flush_ns < COORD_COMMIT_EVERY_NS) return 0;
    int rc = prs_coord_commit(c, full, NULL, NULL, 0);
    return rc == -EBUSY ? 0 : rc; /* busy: keep filling this group */
}

/* Adds one batch update to the group; a full group is handed over first, after which the
 * new, empty group always takes it. Returns commit's error. */
static int add_update(prs_coord *c, const prs_batch_update *up) {
    /* The record this coordinator built: a state, items, rows within them. */
    PRS_ASSERT(up->rec.state <= PRS_BATCH_FAILED && up->rec.item_count > 0);
    PRS_ASSERT(up->rec.succeeded <= up->rec.item_count);
    PRS_ASSERT(up->rec.attempts <= c->d.cfg->run_max_try);
    if (prs_committer_add(c->committer, up)) return 0;
    int rc = prs_coord_commit(c, true, NULL, NULL, 0);
    if (rc) return rc;
    bool added = prs_committer_add(c->committer, up);
    PRS_ASSERT(added); /* a group was just handed over: this one is empty */
    return 0;
}

/* --keep-order's writer (core/keeporder.h): rows into the buffer, counted. */
static int order_write(void *arg, const void *rows, size_t len) {
    prs_coord *c = arg;
    c->output_bytes += len;
    return prs_coord_buffer_rows(c, rows, len);
}

static int order_flush(void *arg) {
    return prs_coord_commit(arg, true, NULL, NULL, 0);
}

prs_keeporder_io prs_coord_order_io(prs_coord *c) {
    return (prs_keeporder_io){.write = order_write, .flush = order_flush, .arg = c};
}

int prs_coord_make_room(prs_coord *c, size_t held_bytes) {
    if (prs_committer_has_room(c->committer, c->keep_order ? held_bytes : 0)) return 0;
    return prs_coord_commit(c, true, NULL, NULL, 0);
}

int prs_coord_add_finished(prs_coord *c, const prs_batch_update *up, const prs_out *out) {
    if (!c->keep_order || up->rec.state == PRS_BATCH_PENDING) return add_update(c, up);
    bool rows = out && up->rec.state == PRS_BATCH_DONE;
    return prs_keeporder_finish(&c->order, up, rows ? out->rows : NULL, rows ? out->rows_len : 0);
}

/* ---- errors ---------------------------------------------------------------------------- */

/* The first line of errors becomes the job's first error, if it has none yet. */
void prs_coord_note_first_error(prs_coord *c, const char *errors, size_t len) {
    if (c->first_error[0] || len == 0) return;
    const char *nl = memchr(errors, '\n', len);
    size_t n = nl ? (size_t)(nl - errors) : len;
    snprintf(c->first_error, sizeof(c->first_error), "%.*s", (int)n, errors);
    c->first_error_new = true;
}

void prs_coord_note_init_failure(prs_coord *c, const prs_done_msg *m) {
    PRS_COORD_ERROR_LINE(c, true, "worker %u: init() returned %d: this worker takes no batches",
                         m->worker, m->run_rc);
}

/* See coord_commit.h. */
void prs_coord_abandon(prs_coord *c, int code) {
    prs_dispatch_msg unused;
    while (prs_chan_pop_many(&c->dispatch, &unused, 1, 0) == 1) {
    }
    int rc = prs_coord_commit(c, true, NULL, NULL, 0);
    if (rc == 0) rc = prs_committer_drain(c->committer);
    if (rc) prs_joblog_master(c->d.log, "could not commit before restarting: %s", strerror(-rc));
    prs_jobreport_overview(c->d.rep, &c->sched, c->output_bytes, c->first_error,
                           code == PRS_EXIT_RESTART ? "RESTARTING" : "STOPPED");
    prs_joblog_master(c->d.log, "runtime exits with code %d%s", code,
                      code == PRS_EXIT_RESTART ? ": the supervisor restarts it" : "");
    /* _exit skips every cleanup: the log ring and the coordinator's files reach disk
     * first (bounded: a stuck flusher does not hold the restart). */
    prs_joblog_sync(c->d.log);
    prs_joblog_flush(c->d.log, 2000);
    /* threads stuck in user code cannot be joined: end the process */
    prs_supervisor_exit(code, c->d.rep->report);
}

/* A group commit when due. Returns 0 or PRS_EXIT_STOPPED (the job stops). */
int prs_coord_commit_due(prs_coord *c) {
    int crc = maybe_commit(c);
    if (crc == PRS_QUEUE_EMAPFULL && c->d.cfg->supervised) {
        /* Workers read the map: it cannot move under them. A restart reopens it twice as
         * large; what was not committed is redone, uncharged. */
        prs_joblog_master(c->d.log, "%s/data.mdb: job state map full: restarting to grow it",
                          c->d.state_dir);
        prs_coord_abandon(c, PRS_EXIT_RESTART);
    }
    if (crc == 0) return 0;
    prs_jobreport_fail(c->d.rep, PRS_EXIT_STOPPED,
                       "cannot commit progress (%s): the job stops; rerun to resume",
                       crc == PRS_QUEUE_EMAPFULL ? "job state map full; it reopens twice as large"
                                                 : strerror(-crc));
    prs_sched_stop(&c->sched);
    return PRS_EXIT_STOPPED;
}

void prs_coord_flush(prs_coord *c) {
    if (prs_coord_commit(c, true, NULL, NULL, 0) == 0) prs_committer_drain(c->committer);
}

int prs_coord_finish(prs_coord *c, int code, enum prs_job_state st) {
    char result[PRS_COMMITTER_META_BYTES];
    int len = snprintf(result, sizeof(result), "%d %s", code, c->d.rep->report->message);
    PRS_ASSERT(len > 0 && (size_t)len < sizeof(result)); /* see the static assertion above */
    if (c->first_error_new) prs_coord_commit(c, true, NULL, NULL, 0); /* its own group: kept */
    int rc = st == PRS_JOB_STOPPED ? prs_coord_commit(c, true, NULL, NULL, 0)
                                   : prs_coord_commit(c, true, "result", result, (size_t)len);
    if (rc == 0) rc = prs_committer_drain(c->committer);
    if (rc == PRS_QUEUE_EMAPFULL && c->d.cfg->supervised) {
        prs_joblog_master(c->d.log, "%s/data.mdb: job state map full: restarting to grow it",
                          c->d.state_dir);
        prs_coord_abandon(c, PRS_EXIT_RESTART);
    }
    if (rc)
        return prs_jobreport_fail(c->d.rep, PRS_EXIT_STOPPED, "cannot commit the result: %s",
                                  rc == PRS_QUEUE_EMAPFULL
                                      ? "job state map full; rerun: it reopens twice as large"
                                      : strerror(-rc));
    return 0;
}
