/* scoreboard.h -- which worker runs which batch, in a file that outlives the process.
 *
 * Owns: OUT/.prs/scoreboard, a small MAP_SHARED file: a header and one cache line per
 *   worker (state, batch, attempt, start time). A crash, a kill -9 or a hang leaves it
 *   as it was, so the next start knows exactly which batches were running.
 * May call: libc (open, mmap), core/base (clock.h). Lock-free: each slot is written by
 *   its worker (and that worker's fatal-signal handler), read by the coordinator, the next
 *   run and `prs status`.
 * Callers must: write a slot only from its worker; publish with prs_scoreboard_begin /
 *   _end (release stores), so a reader that sees RUNNING sees the fields it describes.
 *
 * What a death charges (decided on the next start, see jobstate.c, prs_jobstate_repair):
 *   CRASHED slots spend that batch's try. A slot becomes CRASHED by what its cause says:
 *   a fatal signal in that worker's run() (the crash handler marks that slot only); a
 *   fatal signal, exit() or a self-sent SIGTERM/SIGINT in a thread that is no worker (the
 *   handler marks every RUNNING slot: the scoreboard's best knowledge of the batches in
 *   hand); an exit the runtime did not make, a stopped runtime, or SIGKILL deaths that
 *   repeat without progress (the supervisor marks every RUNNING slot).
 *   RUNNING slots left so (the process died from outside: one kill -9, power) spend
 *   nothing: those batches go back to pending untouched. */
#ifndef PRS_SCOREBOARD_H
#define PRS_SCOREBOARD_H

#include "base.h"
#include "prs.h"

#include <stdatomic.h>

enum prs_slot_state { PRS_SLOT_IDLE = 0, PRS_SLOT_RUNNING = 1, PRS_SLOT_CRASHED = 2 };

/* Why a CRASHED slot crashed; its `signal` field holds the signal or the exit status. */
enum prs_death_cause {
    PRS_DEATH_SIGNAL = 0, /* a fatal signal in run() (the crash handler) */
    PRS_DEATH_EXIT = 1,   /* the entry script called exit(N) or _exit(N) */
    PRS_DEATH_THREAD = 2, /* a fatal signal in a thread that is no worker */
    PRS_DEATH_SELF = 3,   /* the script sent itself SIGTERM/SIGINT */
    PRS_DEATH_KILLED = 4, /* SIGKILL deaths in a row without progress (OOM, or self) */
    PRS_DEATH_STOPPED = 5 /* the runtime stayed stopped (SIGSTOP): treated as hung */
};

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
    _Atomic int32_t cause; /* CRASHED: enum prs_death_cause */
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

/* Maps an existing scoreboard read-write for the supervisor (-ENOENT if there is none). */
int prs_scoreboard_open_existing(prs_scoreboard_file **out, const char *state_dir);

/* Marks every RUNNING slot CRASHED with cause and value (signal or exit status); returns
 * how many. Async-signal-safe (atomics only): the crash handler and exit hook call it. */
unsigned prs_scoreboard_charge_running(prs_scoreboard_file *sb, enum prs_death_cause cause,
                                       int value);
/* True if a slot is RUNNING. */
bool prs_scoreboard_any_running(const prs_scoreboard_file *sb);

/* What a CRASHED slot's death was, for the error files: "the process crashed in run()
 * with signal 11 (SIGSEGV)", "the entry script called exit(0)", ... */
void prs_scoreboard_death_text(const prs_scoreboard_slot *s, char *buf, size_t size);

/* wall_ms (CLOCK_REALTIME, a coarse reading is enough: status shows it) and mono_ns
 * (CLOCK_MONOTONIC, precise: run() deadlines count from it) are when run() starts; the
 * worker passes its own readings so the hot path reads each clock once. */
void prs_scoreboard_begin(prs_scoreboard_slot *s, uint64_t batch_id, uint32_t attempt,
                          uint64_t first_item, uint32_t item_count, uint64_t wall_ms,
                          uint64_t mono_ns);
void prs_scoreboard_end(prs_scoreboard_slot *s);

#endif
