/* Tests of the scheduler simulator (fuzz/sim.c): seeds run clean against the real
 * scheduler; bugs planted in the harness are caught, by the invariant meant to catch them;
 * traces replay exactly and shrink; a resume over a threshold fails the job. */
#include "sim.h"

#include <criterion/criterion.h>
#include <string.h>

#define CLEAN_SEEDS 200u
#define CLEAN_STEPS 2000u
#define BUG_SEEDS 50u

static prs_sim_result r;
static prs_sim_event trace[CLEAN_STEPS];

static const prs_sim_options clean_opt = {0};

Test(sim, seeds_run_clean, .timeout = 300) {
    uint64_t events = 0, jobs = 0, restarts = 0;
    for (uint64_t seed = 1; seed <= CLEAN_SEEDS; seed++) {
        int rc = prs_sim_run(seed, CLEAN_STEPS, &clean_opt, NULL, 0, NULL, &r);
        cr_assert_eq(rc, 0, "seed %llu: %s", (unsigned long long)seed, r.what);
        events += r.stats.events;
        jobs += r.stats.jobs_succeeded + r.stats.jobs_failed;
        restarts += r.stats.restarts;
    }
    /* Not vacuous: the seeds ended jobs both ways and went through restarts. */
    cr_assert_gt(jobs, CLEAN_SEEDS);
    cr_assert_gt(restarts, CLEAN_SEEDS);
    fprintf(stderr, "sim: %u seeds x %u steps clean: %llu events, %llu jobs ended, %llu restarts\n",
            CLEAN_SEEDS, CLEAN_STEPS, (unsigned long long)events, (unsigned long long)jobs,
            (unsigned long long)restarts);
}

/* Each planted bug must be caught within BUG_SEEDS seeds, by the invariant that names it. */
static void expect_caught(enum prs_sim_bug bug, const char *tag) {
    prs_sim_options opt = clean_opt;
    opt.bug = bug;
    uint64_t first = 0, caught = 0;
    for (uint64_t seed = 1; seed <= BUG_SEEDS; seed++) {
        if (prs_sim_run(seed, CLEAN_STEPS, &opt, NULL, 0, NULL, &r) == 0) continue;
        cr_assert_str_eq(r.tag, tag, "bug %s, seed %llu: %s", prs_sim_bug_name(bug),
                         (unsigned long long)seed, r.what);
        if (!first) first = seed;
        caught++;
    }
    cr_assert_neq(first, 0, "planted bug %s not caught in %u seeds", prs_sim_bug_name(bug),
                  BUG_SEEDS);
    fprintf(stderr, "sim: planted bug %s: first caught at seed %llu, by %llu of %u seeds [%s]\n",
            prs_sim_bug_name(bug), (unsigned long long)first, (unsigned long long)caught, BUG_SEEDS,
            tag);
}

Test(sim, catches_crash_forgetting_the_try) {
    expect_caught(PRS_SIM_BUG_CRASH_SAME_ATTEMPT, "store");
}

Test(sim, catches_restart_that_skips_pending_batches) {
    expect_caught(PRS_SIM_BUG_CURSOR_KEPT, "lost");
}

Test(sim, catches_last_failure_passed_on_as_retry) {
    expect_caught(PRS_SIM_BUG_VERDICT_FLIP, "verdict");
}

Test(sim, catches_leaked_worker_by_liveness) {
    expect_caught(PRS_SIM_BUG_WORKER_LEAK, "liveness");
}

Test(sim, replay_reproduces_a_run) {
    size_t n = 0;
    prs_sim_result *first = malloc(sizeof(*first));
    cr_assert_not_null(first);
    cr_assert_eq(prs_sim_run(7, CLEAN_STEPS, &clean_opt, trace, CLEAN_STEPS, &n, first), 0);
    cr_assert_eq(n, CLEAN_STEPS);
    /* Through the text form too: what the CLI prints is what it replays. */
    static char text[CLEAN_STEPS * 16];
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        int k = prs_sim_event_token(&trace[i], text + len, sizeof(text) - len - 1);
        cr_assert(k > 0 && len + (size_t)k + 1 < sizeof(text));
        len += (size_t)k;
        text[len++] = ' ';
    }
    text[len] = '\0';
    static prs_sim_event parsed[CLEAN_STEPS];
    cr_assert_eq(prs_sim_parse_trace(text, parsed, CLEAN_STEPS), (long)n);
    cr_assert_eq(memcmp(parsed, trace, n * sizeof(*trace)), 0);
    cr_assert_eq(prs_sim_replay(7, parsed, n, &clean_opt, &r), 0);
    cr_assert_eq(memcmp(&r.stats, &first->stats, sizeof(r.stats)), 0);
    free(first);
    cr_assert_eq(prs_sim_parse_trace("O1:7 Q2:0", parsed, CLEAN_STEPS), -1);
    cr_assert_eq(prs_sim_parse_trace("D300:0", parsed, CLEAN_STEPS), -1);
}

Test(sim, shrinks_a_failure_to_a_short_trace_that_still_fails) {
    prs_sim_options opt = clean_opt;
    opt.bug = PRS_SIM_BUG_CRASH_SAME_ATTEMPT;
    size_t n = 0;
    uint64_t seed = 1;
    for (; seed <= BUG_SEEDS; seed++) {
        if (prs_sim_run(seed, CLEAN_STEPS, &opt, trace, CLEAN_STEPS, &n, &r) != 0) break;
    }
    cr_assert_leq(seed, BUG_SEEDS);
    const char *tag = r.tag;
    size_t m = prs_sim_shrink(seed, trace, n, &opt, 4000, &r);
    cr_assert(r.failed);
    cr_assert_str_eq(r.tag, tag);
    cr_assert_leq(m, n);
    /* The crash charging a running batch needs at least: init, dispatch, run, crash. */
    cr_assert_geq(m, 4);
    cr_assert_eq(prs_sim_replay(seed, trace, m, &opt, &r), -1);
    cr_assert_str_eq(r.tag, tag);
    fprintf(stderr, "sim: crash-same-attempt at seed %llu: %zu events shrunk to %zu\n",
            (unsigned long long)seed, n, m);
}

/* A process started from stored counts already over a threshold, with no batch left to
 * complete, must end FAILED. Reached when a crash charges the last batch its last try, or a
 * death falls between the commit of a job's final verdicts and the commit of its result.
 * (Found by this simulator: prs_sched_init once ignored the thresholds.) */
Test(sim, resume_over_threshold_ends_failed) {
    prs_sched s;
    prs_sched_limits l = {.run_max_try = 1,
                          .error_threshold = -1,
                          .allowed_failed_count = 0,
                          .allowed_failed_percent = 100,
                          .slots = 1,
                          .workers = 1};
    prs_sched_counts c = {
        .total_batches = 1, .total_items = 1, .failed_batches = 1, .failed_items = 1};
    cr_assert_eq(prs_sched_init(&s, &l, &c), 0);
    prs_sched_worker_init(&s, true);
    prs_sched_store_exhausted(&s);
    cr_assert(prs_sched_finished(&s));
    cr_assert_eq(prs_sched_result(&s), PRS_JOB_FAILED);
    cr_assert_eq(s.reason, PRS_REASON_FAILED_COUNT);

    /* The same through the simulator: init ok, start batch 0, run it, the process crashes
     * in run(): its only try is spent, and the restarted process must fail the job. */
    prs_sim_job job = {.batches = 1, .items = {3}};
    job.limits = l;
    job.limits.slots = 2;
    prs_sim_event ev[4];
    cr_assert_eq(prs_sim_parse_trace("I0:0 D1:0 R0:0 X1:0", ev, 4), 4);
    prs_sim_options opt = {.first_job = &job};
    cr_assert_eq(prs_sim_replay(3, ev, 4, &opt, &r), 0, "%s", r.what);
}
