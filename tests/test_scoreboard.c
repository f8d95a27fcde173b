/* core/scoreboard: the file that outlives the process -- creation, reopening, what a
 * death charges (only RUNNING slots), the death texts, and refusals of a missing or
 * foreign file. */
#include "clock.h"
#include "scoreboard.h"
#include "util.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static prs_scoreboard_file *create_in(const char *dir) {
    prs_scoreboard_file *sb = NULL;
    cr_assert_eq(prs_scoreboard_open(&sb, dir, true), 0);
    cr_assert(sb);
    return sb;
}

Test(scoreboard, created_zeroed_and_reopened_as_left, .timeout = 30) {
    char dir[256];
    tu_tmpdir(dir, sizeof(dir), "scoreboard");
    prs_scoreboard_file *sb = create_in(dir);
    cr_assert_str_eq(sb->magic, "prsscb1");
    cr_assert_eq(sb->slots, PRS_MAX_WORKERS);
    cr_assert(!prs_scoreboard_any_running(sb));
    prs_scoreboard_begin(&sb->slot[3], 42, 2, 100, 7, prs_wall_ms(), prs_mono_ns());
    cr_assert(prs_scoreboard_any_running(sb));
    cr_assert_eq(atomic_load(&sb->slot[3].state), PRS_SLOT_RUNNING);
    cr_assert_eq(atomic_load(&sb->slot[3].batch_id), 42);
    cr_assert_eq(atomic_load(&sb->slot[3].attempt), 2);
    cr_assert_eq(atomic_load(&sb->slot[3].first_item), 100);
    cr_assert_eq(atomic_load(&sb->slot[3].item_count), 7);
    cr_assert_eq(atomic_load(&sb->slot[3].tid), (int32_t)gettid());
    cr_assert_gt(atomic_load(&sb->slot[3].started_unix_ms), 0);
    prs_scoreboard_close(sb); /* as a kill -9 leaves it */

    prs_scoreboard_file *again = NULL;
    cr_assert_eq(prs_scoreboard_open(&again, dir, false), 0, "read-only reopen");
    cr_assert_eq(atomic_load(&again->slot[3].state), PRS_SLOT_RUNNING, "outlives the process");
    cr_assert_eq(atomic_load(&again->slot[3].batch_id), 42);
    prs_scoreboard_close(again);
    cr_assert_eq(prs_scoreboard_open_existing(&again, dir), 0);
    prs_scoreboard_end(&again->slot[3]);
    cr_assert(!prs_scoreboard_any_running(again));
    prs_scoreboard_close(again);
    tu_rmrf(dir);
}

Test(scoreboard, a_death_charges_only_running_slots, .timeout = 30) {
    char dir[256];
    tu_tmpdir(dir, sizeof(dir), "scoreboard");
    prs_scoreboard_file *sb = create_in(dir);
    prs_scoreboard_begin(&sb->slot[0], 1, 1, 0, 1, prs_wall_ms(), prs_mono_ns());
    prs_scoreboard_begin(&sb->slot[1], 2, 1, 1, 1, prs_wall_ms(), prs_mono_ns());
    prs_scoreboard_end(&sb->slot[1]); /* finished before the death: not charged */
    prs_scoreboard_begin(&sb->slot[5], 3, 1, 2, 1, prs_wall_ms(), prs_mono_ns());
    cr_assert_eq(prs_scoreboard_charge_running(sb, PRS_DEATH_EXIT, 3), 2);
    cr_assert_eq(atomic_load(&sb->slot[0].state), PRS_SLOT_CRASHED);
    cr_assert_eq(atomic_load(&sb->slot[1].state), PRS_SLOT_IDLE);
    cr_assert_eq(atomic_load(&sb->slot[5].state), PRS_SLOT_CRASHED);
    cr_assert_eq(atomic_load(&sb->slot[5].cause), PRS_DEATH_EXIT);
    cr_assert_eq(atomic_load(&sb->slot[5].signal), 3);
    cr_assert_eq(prs_scoreboard_charge_running(sb, PRS_DEATH_SIGNAL, SIGSEGV), 0,
                 "a CRASHED slot keeps its first cause");
    cr_assert_eq(atomic_load(&sb->slot[0].cause), PRS_DEATH_EXIT);
    cr_assert(!prs_scoreboard_any_running(sb));
    cr_assert_eq(prs_scoreboard_charge_running(NULL, PRS_DEATH_SIGNAL, SIGSEGV), 0);
    cr_assert(!prs_scoreboard_any_running(NULL));
    /* The next batch on the slot starts clean. */
    prs_scoreboard_begin(&sb->slot[0], 9, 1, 0, 1, prs_wall_ms(), prs_mono_ns());
    cr_assert_eq(atomic_load(&sb->slot[0].cause), PRS_DEATH_SIGNAL);
    cr_assert_eq(atomic_load(&sb->slot[0].signal), 0);
    prs_scoreboard_close(sb);
    tu_rmrf(dir);
}

static void expect_text(enum prs_death_cause cause, int value, const char *want) {
    prs_scoreboard_slot s;
    memset(&s, 0, sizeof(s));
    atomic_store(&s.cause, (int32_t)cause);
    atomic_store(&s.signal, value);
    char buf[256];
    prs_scoreboard_death_text(&s, buf, sizeof(buf));
    cr_assert(strstr(buf, want), "cause %d: '%s', wanted '%s' in it", (int)cause, buf, want);
}

Test(scoreboard, death_texts_name_the_cause) {
    expect_text(PRS_DEATH_SIGNAL, SIGSEGV, "crashed in run() with signal 11");
    expect_text(PRS_DEATH_EXIT, 4, "called exit(4)");
    expect_text(PRS_DEATH_THREAD, SIGBUS, "in a thread that is no worker");
    expect_text(PRS_DEATH_SELF, SIGTERM, "sent its own process signal 15");
    expect_text(PRS_DEATH_KILLED, SIGKILL, "without progress");
    expect_text(PRS_DEATH_STOPPED, SIGSTOP, "treated as hung");
    prs_scoreboard_slot s;
    memset(&s, 0, sizeof(s));
    char small[8];
    prs_scoreboard_death_text(&s, small, sizeof(small)); /* truncated, still a string */
    cr_assert_eq(strlen(small), sizeof(small) - 1);
}

Test(scoreboard, missing_or_foreign_files_are_refused_unless_created, .timeout = 30) {
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof(dir), "scoreboard");
    prs_scoreboard_file *sb = NULL;
    cr_assert_eq(prs_scoreboard_open(&sb, dir, false), -ENOENT, "no file, no create");
    cr_assert_eq(prs_scoreboard_open_existing(&sb, dir), -ENOENT);
    snprintf(path, sizeof(path), "%s/scoreboard", dir);
    tu_write(path, "not a scoreboard", 16); /* wrong size */
    cr_assert_eq(prs_scoreboard_open(&sb, dir, false), -ENOENT);
    cr_assert_eq(prs_scoreboard_open_existing(&sb, dir), -ENOENT);
    char *junk = calloc(1, sizeof(prs_scoreboard_file)); /* right size, no magic */
    memcpy(junk, "garbage", 8);
    tu_write(path, junk, sizeof(prs_scoreboard_file));
    free(junk);
    cr_assert_eq(prs_scoreboard_open(&sb, dir, false), -ENOENT);
    sb = create_in(dir); /* create replaces either with a zeroed board */
    cr_assert_str_eq(sb->magic, "prsscb1");
    cr_assert(!prs_scoreboard_any_running(sb));
    prs_scoreboard_close(sb);
    prs_scoreboard_close(NULL);
    char missing[300];
    snprintf(missing, sizeof(missing), "%s/no/such/dir", dir);
    cr_assert_eq(prs_scoreboard_open(&sb, missing, true), -ENOENT);
    tu_rmrf(dir);
}
