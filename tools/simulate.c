/* simulate -- runs the scheduler simulator (fuzz/sim.h) over seeds, or replays a trace.
 *
 *   simulate --seed N --steps M [--seeds K] [--bug NAME] [--keep-going]
 *   simulate --seed N --replay 'I0:0 D3:0 R0:0 ...' [--narrate] [--shrink]
 *
 * Prints events per second and a summary. On a failure prints the seed, the broken
 * invariant, the shortest trace found that still breaks it (narrated event by event) and
 * the command that replays it; exits 1. Exit 2: bad usage. */
#include "sim.h"

#include <string.h>
#include <time.h>

/* Traces longer than this are not kept whole: a failure past it cannot be shrunk. */
#define TRACE_CAP_EVENTS (16u * 1024u * 1024u)
#define SHRINK_REPLAYS_DEFAULT 4000u

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(void) {
    fprintf(stderr,
            "usage: simulate --seed N --steps M [--seeds K] [--bug NAME]\n"
            "                [--keep-going] [--shrink-replays N]\n"
            "       simulate --seed N --replay TRACE [--narrate] [--shrink]\n"
            "  --bug: none, crash-same-attempt, cursor-kept, verdict-flip, worker-leak (planted in "
            "the\n"
            "         harness, to see the checks catch them)\n");
    return 2;
}

static bool parse_u64(const char *s, uint64_t *out) {
    char *end;
    if (!s || !*s) return false;
    unsigned long long v = strtoull(s, &end, 0);
    if (*end) return false;
    *out = v;
    return true;
}

static void print_trace(FILE *f, const prs_sim_event *ev, size_t n, const char *end) {
    for (size_t i = 0; i < n; i++) {
        char tok[24];
        prs_sim_event_token(&ev[i], tok, sizeof(tok));
        fprintf(f, "%s%s", i ? " " : "", tok);
    }
    fputs(end, f);
}

static void print_stats(const prs_sim_stats *st) {
    printf("jobs: %llu succeeded, %llu failed (error_threshold %llu, failed_count %llu, "
           "failed_percent %llu, init %llu), %llu processes stopped and resumed\n",
           (unsigned long long)st->jobs_succeeded, (unsigned long long)st->jobs_failed,
           (unsigned long long)st->failed_by_reason[PRS_REASON_ERROR_THRESHOLD],
           (unsigned long long)st->failed_by_reason[PRS_REASON_FAILED_COUNT],
           (unsigned long long)st->failed_by_reason[PRS_REASON_FAILED_PERCENT],
           (unsigned long long)st->failed_by_reason[PRS_REASON_INIT_FAILED],
           (unsigned long long)st->jobs_stopped);
    printf("faults: %llu restarts, %llu crashes (%llu batches charged), %llu disk full, %llu "
           "hangs, %llu timeouts, %llu retries, %llu taken back\n",
           (unsigned long long)st->restarts, (unsigned long long)st->crashes,
           (unsigned long long)st->charged, (unsigned long long)st->disk_full,
           (unsigned long long)st->hangs, (unsigned long long)st->timeouts,
           (unsigned long long)st->retries, (unsigned long long)st->takebacks);
    printf("batches in ended jobs: %llu done, %llu failed\n", (unsigned long long)st->batches_done,
           (unsigned long long)st->batches_failed);
}

static void add_stats(prs_sim_stats *sum, const prs_sim_stats *st) {
    sum->events += st->events;
    sum->jobs_succeeded += st->jobs_succeeded;
    sum->jobs_failed += st->jobs_failed;
    sum->jobs_stopped += st->jobs_stopped;
    for (size_t i = 0; i < PRS_ARRAY_LEN(sum->failed_by_reason); i++)
        sum->failed_by_reason[i] += st->failed_by_reason[i];
    sum->restarts += st->restarts;
    sum->crashes += st->crashes;
    sum->charged += st->charged;
    sum->disk_full += st->disk_full;
    sum->hangs += st->hangs;
    sum->timeouts += st->timeouts;
    sum->retries += st->retries;
    sum->takebacks += st->takebacks;
    sum->batches_done += st->batches_done;
    sum->batches_failed += st->batches_failed;
}

static void print_failure(const prs_sim_result *r) {
    char job[512];
    prs_sim_job_text(&r->job, job, sizeof(job));
    printf("  %s\n  job: %s\n", r->what, job);
}

/* Shrinks, prints the shortest trace narrated and the command that replays it. */
static void report_failure(uint64_t seed, prs_sim_event *trace, size_t n,
                           const prs_sim_options *opt, size_t shrink_replays) {
    prs_sim_result *r = malloc(sizeof(*r));
    PRS_ASSERT(r != NULL);
    printf("shrinking the %zu-event trace (at most %zu replays)...\n", n, shrink_replays);
    fflush(stdout);
    size_t m = prs_sim_shrink(seed, trace, n, opt, shrink_replays, r);
    if (!r->failed) {
        printf("the trace no longer fails when replayed: the run is not deterministic (a bug "
               "in the simulator)\n");
        free(r);
        return;
    }
    printf("shortest trace found: %zu events (from %zu), same invariant:\n", m, n);
    print_failure(r);
    printf("narrated replay:\n");
    prs_sim_options loud = *opt;
    loud.narrate = stdout;
    prs_sim_replay(seed, trace, m, &loud, r);
    printf("replay: build/simulate --seed %llu%s%s --replay '", (unsigned long long)seed,
           opt->bug ? " --bug " : "", opt->bug ? prs_sim_bug_name(opt->bug) : "");
    print_trace(stdout, trace, m, "'\n");
    free(r);
}

int main(int argc, char **argv) {
    uint64_t seed = 1, steps = 2000, seeds = 1, shrink_replays = SHRINK_REPLAYS_DEFAULT;
    const char *replay = NULL;
    bool narrate = false, shrink = false, keep_going = false;
    prs_sim_options opt = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (!strcmp(a, "--seed")) {
            ok = parse_u64(v, &seed), i++;
        } else if (!strcmp(a, "--steps")) {
            ok = parse_u64(v, &steps), i++;
        } else if (!strcmp(a, "--seeds")) {
            ok = parse_u64(v, &seeds), i++;
        } else if (!strcmp(a, "--shrink-replays")) {
            ok = parse_u64(v, &shrink_replays), i++;
        } else if (!strcmp(a, "--replay")) {
            replay = v, ok = v != NULL, i++;
        } else if (!strcmp(a, "--bug")) {
            ok = false;
            for (int b = 0; b < PRS_SIM_BUG_COUNT && v; b++) {
                if (!strcmp(v, prs_sim_bug_name((enum prs_sim_bug)b))) {
                    opt.bug = (enum prs_sim_bug)b;
                    ok = true;
                }
            }
            i++;
        } else if (!strcmp(a, "--narrate")) {
            narrate = true;
        } else if (!strcmp(a, "--shrink")) {
            shrink = true;
        } else if (!strcmp(a, "--keep-going")) {
            keep_going = true;
        } else {
            ok = false;
        }
        if (!ok) {
            fprintf(stderr, "simulate: bad option %s %s\n", a, v ? v : "");
            return usage();
        }
    }
    if (seeds == 0 || seeds > UINT32_MAX) return usage();

    if (replay) {
        size_t cap = strlen(replay) / 4 + 1;
        prs_sim_event *ev = malloc(cap * sizeof(*ev));
        prs_sim_result *r = malloc(sizeof(*r));
        PRS_ASSERT(ev != NULL && r != NULL);
        long n = prs_sim_parse_trace(replay, ev, cap);
        if (n < 0) {
            fprintf(stderr, "simulate: cannot parse the trace\n");
            return 2;
        }
        if (narrate) opt.narrate = stdout;
        int rc = prs_sim_replay(seed, ev, (size_t)n, &opt, r);
        printf("replay of %ld events, seed %llu: %s\n", n, (unsigned long long)seed,
               rc ? "FAILED" : "all invariants held");
        if (rc) {
            print_failure(r);
            if (shrink) {
                opt.narrate = NULL;
                report_failure(seed, ev, (size_t)n, &opt, (size_t)shrink_replays);
            }
        }
        free(ev);
        free(r);
        return rc ? 1 : 0;
    }

    size_t cap = (size_t)PRS_MIN(steps, (uint64_t)TRACE_CAP_EVENTS);
    prs_sim_event *trace = malloc(PRS_MAX(cap, (size_t)1) * sizeof(*trace));
    prs_sim_result *r = malloc(sizeof(*r));
    PRS_ASSERT(trace != NULL && r != NULL);
    prs_sim_stats sum = {0};
    uint64_t failures = 0, ran = 0;
    double t0 = now_s();
    for (uint64_t k = 0; k < seeds; k++) {
        uint64_t s = seed + k;
        size_t n = 0;
        int rc = prs_sim_run(s, steps, &opt, trace, cap, &n, r);
        add_stats(&sum, &r->stats);
        ran++;
        if (rc == 0) continue;
        failures++;
        printf("FAIL seed %llu after %zu events:\n", (unsigned long long)s, r->fail_index + 1);
        print_failure(r);
        if (r->fail_index >= cap && r->fail_index < steps) {
            printf("the trace was not kept whole (over %zu events): replay with fewer steps\n",
                   cap);
        } else {
            report_failure(s, trace, n, &opt, (size_t)shrink_replays);
        }
        if (!keep_going) break;
    }
    double dt = now_s() - t0;
    printf("%llu seeds x %llu steps (seeds %llu..%llu%s%s): %llu events in %.2f s, %.0f "
           "events/s; %llu failed\n",
           (unsigned long long)ran, (unsigned long long)steps, (unsigned long long)seed,
           (unsigned long long)(seed + ran - 1), opt.bug ? ", planted bug " : "",
           opt.bug ? prs_sim_bug_name(opt.bug) : "", (unsigned long long)sum.events, dt,
           dt > 0 ? (double)sum.events / dt : 0.0, (unsigned long long)failures);
    print_stats(&sum);
    free(trace);
    free(r);
    return failures ? 1 : 0;
}
