/* base.h -- the one floor every layer of prs stands on.
 *
 * Owns: error-code conventions, assertions, the corruption error, small helpers. Header
 *   only, like everything in core/base/: the only directory io/ and storage/ can include
 *   from core/ (build.ninja gives them no other include path). Its siblings: clock.h
 *   (clocks), counts.h (the job's counters), fs.h (mkdir -p), le.h (little-endian
 *   codec), mdb_err.h (LMDB's error codes as errnos).
 * May call: libc only.  Callers: every module in core/, io/, storage/, tools/.
 *
 * Conventions used everywhere:
 *  - functions return 0 on success or a negative errno-style code (-ENOENT ...);
 *  - PRS_ASSERT is for "cannot happen" (a broken invariant aborts, in every build);
 *    bad input is never asserted, it is an error returned with context;
 *  - bytes read from disk are never asserted on: a check that fails returns
 *    PRS_CORRUPT(file, ...) = -EBADMSG, after saying which file and which check;
 *  - units go last in names: timeout_ms, size_bytes. */
#ifndef PRS_BASE_H
#define PRS_BASE_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define PRS_ASSERT(cond)                                                                           \
    do {                                                                                           \
        if (__builtin_expect(!(cond), 0)) prs_assert_fail(#cond, __FILE__, __LINE__, __func__);    \
    } while (0)

/* Asserts stay on in release builds: a scheduler that silently breaks an invariant loses
 * work, which is the one thing prs promises not to do. */
__attribute__((noreturn, cold)) static inline void
prs_assert_fail(const char *cond, const char *file, int line, const char *func) {
    fprintf(stderr, "prs: assertion failed: %s (%s:%d, %s)\n", cond, file, line, func);
    abort();
}

/* Bad bytes on disk (a damaged or foreign file): says on stderr which file holds them, what
 * is wrong and which check of prs found it (source file and line: the place to read when
 * the message alone does not explain it), and evaluates to -EBADMSG for the caller to
 * pass up. A worker's stderr goes to its log, so the line reaches the user's logs. */
#define PRS_CORRUPT(file, ...) prs_corrupt_report((file), __FILE__, __LINE__, __VA_ARGS__)

__attribute__((cold, format(printf, 4, 5))) static inline int
prs_corrupt_report(const char *file, const char *src, int line, const char *fmt, ...) {
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    fprintf(stderr, "prs: %s: corrupt data: %s (found by %s:%d)\n", file, what, src, line);
    return -EBADMSG;
}

#define PRS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define PRS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PRS_MAX(a, b) ((a) > (b) ? (a) : (b))
#define PRS_UNUSED(x) ((void)(x))

#define PRS_CACHE_LINE_BYTES 64

#endif
