/* units.h -- parsing of option values: sizes with units and bounded integers.
 * Owns nothing; may call libc. Pure functions, safe from any thread. */
#ifndef PRS_UNITS_H
#define PRS_UNITS_H

#include "base.h"

/* "1024", "64KB", "10MB", "1GB" (also K/M/G, KiB/MiB/GiB; powers of 1024, case-insensitive)
 * -> bytes. -EINVAL for anything else, -ERANGE past 2^62. */
int prs_units_parse_size(const char *text, uint64_t *bytes);

/* A decimal integer in [min, max], nothing else around it. -EINVAL / -ERANGE. */
int prs_units_parse_int(const char *text, int64_t min, int64_t max, int64_t *value);

#endif
