/* coord_commit.h -- the coordinator's side of durability, inside core/coord: the row
 * buffer written to the output, the group of batch updates handed to the committer, the
 * job's first error, and the exit of a supervised runtime that must restart or stop at
 * once (prs_coord_abandon). coord.c (completions, the loop) and coord_stop.c (deadlines)
 * call it; the public part (prs_coord_flush, prs_coord_finish,
 * prs_coord_restore_first_error) is declared in coord.h.
 *
 * Owns: prs_coord's rows, output_bytes, last_flush_ns, first_error and first_error_new.
 * May call: core/committer, core/keeporder (--keep-order), core/jobreport, core/joblog,
 * core/supervisor (the exit), io/outfile (appends), storage/queue (meta reads), libc. Callers must:
 * hold nothing; call on the coordinator's thread only (the one running prs_job_run), after
 * prs_coord_init set up the rows and the committer. */
#ifndef PRS_COORD_COMMIT_H
#define PRS_COORD_COMMIT_H

#include "coord.h"

#define PRS_COORD_GROUP_CAP 8192u             /* batch updates in one commit at most */
#define PRS_COORD_ROWS_FLUSH_BYTES (1u << 20) /* rows are written in chunks of about this size */

/* Buffers rows for the output (written when the buffer fills or a group is handed over;
 * rows larger than the buffer are written at once). 0 or prs_outfile_append's error. */
int prs_coord_buffer_rows(prs_coord *c, const char *rows, size_t len);

/* Writes the buffered rows, then hands the current group to the committer (waiting for the
 * previous one if wait), with the first error when it is new, or the meta value given.
 * 0, the output's write error, -EBUSY (!wait: the previous group is still being
 * committed), or the committer's sticky error (PRS_QUEUE_EMAPFULL: the map is full). */
int prs_coord_commit(prs_coord *c, bool wait, const char *meta_key, const void *meta_val,
                     size_t meta_len);

/* Before a verdict changes the scheduler's counts: a group handed over between the verdict
 * and its update would commit the counts (and rows) of a batch the store still holds as
 * pending, which a crash then runs again. Hands the group over now if it has no room for
 * one more update (held_bytes: rows --keep-order may hold). 0 or prs_coord_commit's error
 * (sticky: nothing more commits). */
int prs_coord_make_room(prs_coord *c, size_t held_bytes);

/* A finished batch's update into the group (a full group is handed over first), and its rows in
 * order when
 * --keep-order holds them back (out: the try's buffer, NULL when it has no rows to write).
 * 0, prs_coord_commit's or prs_keeporder_finish's error. */
int prs_coord_add_finished(prs_coord *c, const prs_batch_update *up, const prs_out *out);

/* --keep-order's writer for prs_keeporder_init: rows into the row buffer (counted in
 * output_bytes), a flush is a waited-for group commit. */
prs_keeporder_io prs_coord_order_io(prs_coord *c);

/* A group commit when due (full, or the last one is COORD_COMMIT_EVERY_NS old). Returns 0 or
 * PRS_EXIT_STOPPED (the job stops; the message is in deps.rep). A supervised runtime
 * whose map is full restarts here instead (prs_coord_abandon). */
int prs_coord_commit_due(prs_coord *c);

/* The first line of errors becomes the job's first error, if it has none yet. */
void prs_coord_note_first_error(prs_coord *c, const char *errors, size_t len);

/* One error line to logs/error.txt (and master.txt if to_master), and the job's first
 * error if it has none yet (prs_jobreport_error_line). printf-like. */
#define PRS_COORD_ERROR_LINE(c, to_master, ...)                                                    \
    do {                                                                                           \
        if (prs_jobreport_error_line((c)->d.rep, to_master, (c)->first_error,                      \
                                     sizeof((c)->first_error), __VA_ARGS__))                       \
            (c)->first_error_new = true;                                                           \
    } while (0)

/* A worker's failed init(), as an error line. */
void prs_coord_note_init_failure(prs_coord *c, const prs_done_msg *m);

/* Ends a supervised runtime now: what is committed stays, running batches are not charged
 * (their scoreboard slots say RUNNING), the supervisor restarts (PRS_EXIT_RESTART) or
 * reports (PRS_EXIT_STOPPED). Commits what it can and flushes the logs first (bounded). */
__attribute__((noreturn)) void prs_coord_abandon(prs_coord *c, int code);

#endif
