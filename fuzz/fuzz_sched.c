/* fuzz_sched -- libFuzzer target: input bytes become a job and an event sequence that drive
 * the real scheduler through fuzz/sim.c, with every invariant the simulator checks.
 *
 * Input: bytes 0..7 shape job 0 (batches, run_max_try, thresholds, timeout, slots, workers,
 * items: see prs_sim_job_from_bytes); then 3 bytes per event: kind, a, b (TICK: b x 32 ms).
 * Jobs after the first come from a seed hashed from bytes 0..7. After the events a fault-free
 * settle phase must end the job. A broken invariant prints it and the replayable trace, then
 * aborts, so libFuzzer keeps the input.
 *
 * Build: clang -std=c17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined
 *          -iquote core -Ifuzz fuzz/fuzz_sched.c fuzz/sim.c core/sched.c -o build/fuzz/fuzz_sched
 * Run:   mkdir -p build/fuzz/corpus/sched
 *        build/fuzz/fuzz_sched -max_total_time=60 build/fuzz/corpus/sched fuzz/corpus/sched
 *        (libFuzzer writes new inputs into the FIRST directory: keep that one out of git). */
#include "sim.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_EVENTS 4096u

static uint64_t seed_of(const uint8_t *data, size_t size) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < PRS_MIN(size, (size_t)8); i++)
        h = (h ^ data[i]) * 1099511628211ull;
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static prs_sim_event events[FUZZ_MAX_EVENTS];
    static prs_sim_job job;
    static prs_sim_result r;
    size_t used = prs_sim_job_from_bytes(data, size, &job);
    size_t n = 0;
    for (size_t i = used; i + 3 <= size && n < FUZZ_MAX_EVENTS; i += 3) {
        uint8_t kind = (uint8_t)(data[i] % PRS_SIM_KINDS);
        uint16_t b = kind == PRS_SIM_TICK ? (uint16_t)(data[i + 2] * 32u) : data[i + 2];
        events[n++] = (prs_sim_event){.kind = kind, .a = data[i + 1], .b = b};
    }
    prs_sim_options opt = {.first_job = &job};
    uint64_t seed = seed_of(data, size);
    if (prs_sim_replay(seed, events, n, &opt, &r) == 0) return 0;
    char text[512];
    prs_sim_job_text(&r.job, text, sizeof(text));
    fprintf(stderr, "fuzz_sched: %s\n  job: %s\n  trace (%zu events, seed %llu):", r.what, text, n,
            (unsigned long long)seed);
    for (size_t i = 0; i < n; i++) {
        char tok[24];
        prs_sim_event_token(&events[i], tok, sizeof(tok));
        fprintf(stderr, " %s", tok);
    }
    fputc('\n', stderr);
    abort();
}
