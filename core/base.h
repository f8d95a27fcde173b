/* base.h -- the one floor every layer of prs stands on.
 *
 * Owns: error-code conventions, assertions, small helpers. Header only.
 * May call: libc only.  Callers: every module in core/, io/, storage/, tools/.
 *
 * Conventions used everywhere:
 *  - functions return 0 on success or a negative errno-style code (-ENOENT ...);
 *  - PRS_ASSERT is for "cannot happen" (a broken invariant aborts, in every build);
 *    bad input is never asserted, it is an error returned with context;
 *  - units go last in names: timeout_ms, size_bytes. */
#ifndef PRS_BASE_H
#define PRS_BASE_H

#include <errno.h>
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

#define PRS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define PRS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PRS_MAX(a, b) ((a) > (b) ? (a) : (b))
#define PRS_UNUSED(x) ((void)(x))

#define PRS_CACHE_LINE_BYTES 64

#endif
