/* version.c -- prs_version (prs.h): the library's version, from the PRS_VERSION_* macros it
 * was built with; and the compile-time check of the ABI's struct sizes.
 * Owns: nothing. May call: nothing. Any thread. */
#include "prs.h"

#include <stdint.h>

/* A host built against an older prs.h passes structs of the size it knew: they must not
 * change within libprs.so.0 (LP64; 32-bit targets are not built). */
#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(prs_job_config) == PRS_JOB_CONFIG_BYTES,
               "prs_job_config changed size: a new field takes the place of reserved words");
_Static_assert(sizeof(prs_job_report) == PRS_JOB_REPORT_BYTES,
               "prs_job_report changed size: a new field takes the place of reserved words");
#endif

#define VERSION_STR_(x) #x
#define VERSION_STR(x) VERSION_STR_(x)

const char *prs_version(void) {
    return VERSION_STR(PRS_VERSION_MAJOR) "." VERSION_STR(PRS_VERSION_MINOR) "." VERSION_STR(
        PRS_VERSION_PATCH);
}
