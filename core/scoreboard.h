/* scoreboard.h -- which worker runs which batch, in a file that outlives the process.
 *
 * Owns: OUT/.prs/scoreboard, a small MAP_SHARED file: a header and one cache line per
 *   worker (state, batch, attempt, start time). A crash, a kill -9 or a hang leaves it
 *   as it was, so the next start knows exactly which batches were running.
 * May call: libc (open, mmap), core/base (clock.h). Lock-free: each slot is written by its worker
 * (and that worker's fatal-signal handler), read by the coordinator, the next run and `prs status`.
 * Callers must: write a slot only from its worker; publish with prs_scoreboard_begin /
 *   _end (release stores), so a reader that sees RUNNING sees the fields it describes.
 *
 * What a death charges (decided on the next start, see runtime.c):
 *   CRASHED slots (a fatal signal in that worker's run()) spend that batch's try;
 *   RUNNING slots (the process died from outside: kill -9, OOM, power) spend nothing:
 *   those batches go back to pending untouched. */
#ifndef PRS_SCOREBOARD_H
#define PRS_SCOREBOARD_H

#include "base.h"
#include "prs.h"

#include <stdatomic.h>

enum prs_slot_state { PRS_SLOT_IDLE = 0, PRS_SLOT_RUNNING = 1, PRS_SLOT_CRASHED = 2 };

typedef struct __attribute__((aligned(PRS_CACHE_LINE_BYTES))) prs_scoreboard_slot {
    /* Atomics (relaxed but for state) because readers in other threads and processes look
     * at a slot while its worker may be starting the next batch: a reader checks batch_id
     * against what it expects rather than trusting a snapshot. */
    _Atomic uint32_t state;
    _Atomic uint32_t attempt;
    _Atomic uint64_t batch_id;
    _Atomic uint64_t first_item;
    _Atomic uint32_t item_count;
    _Atomic int32_t signal;           /* CRASHED: the fatal signal */
    _Atomic uint64_t started_unix_ms; /* when run() began, wall clock (shown by prs status) */
    _Atomic uint64_t started_mono_ns; /* the same on CLOCK_MONOTONIC (timeouts, this boot) */
    _Atomic int32_t tid;
} prs_scoreboard_slot;

typedef struct prs_scoreboard_file {
    char magic[8]; /* "prsscb1" */
    uint32_t slots;
    int32_t pid;               /* the runtime process that last used it */
    _Atomic uint64_t progress; /* commits made: the supervisor's crash-loop measure */
    char pad[PRS_CACHE_LINE_BYTES - 8 - 4 - 4 - 8];
    prs_scoreboard_slot slot[PRS_MAX_WORKERS];
} prs_scoreboard_file;

/* Maps OUT/.prs/scoreboard (created zeroed if missing or of the wrong size/magic). */
int prs_scoreboard_open(prs_scoreboard_file **out, const char *state_dir, bool create);
void prs_scoreboard_close(prs_scoreboard_file *sb);

void prs_scoreboard_begin(prs_scoreboard_slot *s, uint64_t batch_id, uint32_t attempt,
                          uint64_t first_item, uint32_t item_count);
void prs_scoreboard_end(prs_scoreboard_slot *s);

#endif
