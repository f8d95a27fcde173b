/* clock.h -- the clocks prs reads, as integers.
 *
 * Owns: nothing. Header only.
 * May call: clock_gettime (libc). Callers: any thread; every call is independent.
 *
 * Monotonic time measures durations and deadlines (it never jumps); wall time
 * (CLOCK_REALTIME) is only for stamps a person reads or compares across processes.
 * The _coarse clocks are the kernel's last tick (a few ms behind, clock_getres says how
 * much): always read from the vDSO without a system call, while the precise clocks are a
 * system call on a VM whose clock source has no vDSO path (kvm-clock on many clouds). The
 * hot path reads them where a stamp in ms is enough. */
#ifndef PRS_CLOCK_H
#define PRS_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Nanoseconds on clock; 0 when the clock cannot be read (an unknown clock id, such as a
 * thread's CPU clock after the thread ended): callers treat 0 as "no reading". */
static inline uint64_t prs_clock_ns(clockid_t clock) {
    struct timespec ts;
    if (clock_gettime(clock, &ts) != 0) return 0;
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t prs_mono_ns(void) {
    return prs_clock_ns(CLOCK_MONOTONIC);
}

static inline uint64_t prs_mono_ms(void) {
    return prs_mono_ns() / 1000000u;
}

static inline uint64_t prs_mono_coarse_ns(void) {
    return prs_clock_ns(CLOCK_MONOTONIC_COARSE);
}

/* Since the Unix epoch. */
static inline uint64_t prs_wall_ns(void) {
    return prs_clock_ns(CLOCK_REALTIME);
}

static inline uint64_t prs_wall_ms(void) {
    return prs_wall_ns() / 1000000u;
}

static inline uint64_t prs_wall_coarse_ns(void) {
    return prs_clock_ns(CLOCK_REALTIME_COARSE);
}

/* The CLOCK_MONOTONIC time timeout_ms from now, as pthread_cond_timedwait wants it (its
 * condition variable set to CLOCK_MONOTONIC). */
static inline struct timespec prs_mono_deadline(uint64_t timeout_ms) {
    uint64_t ns = prs_mono_ns() + timeout_ms * 1000000ull;
    return (struct timespec){.tv_sec = (time_t)(ns / 1000000000ull),
                             .tv_nsec = (long)(ns % 1000000000ull)};
}

/* The CLOCK_REALTIME time timeout_ms from now, as pthread_timedjoin_np (and a condition
 * variable on the default clock) wants it. */
static inline struct timespec prs_wall_deadline(uint64_t timeout_ms) {
    uint64_t ns = prs_wall_ns() + timeout_ms * 1000000ull;
    return (struct timespec){.tv_sec = (time_t)(ns / 1000000000ull),
                             .tv_nsec = (long)(ns % 1000000000ull)};
}

#endif
