/* units.c -- see units.h. */
#include "units.h"

#include <ctype.h>
#include <strings.h>

#define UNITS_LIMIT (UINT64_C(1) << 62)

/* Decimal digits at *p -> *v, at most UNITS_LIMIT. The bound is checked BEFORE the multiply:
 * checking v afterwards let v * 10 wrap past 2^64 ("18446744073709551620" read as 4, found by
 * fuzz/fuzz_units). Leaves *p on the first non-digit. */
static int parse_digits(const char **p, uint64_t *v) {
    uint64_t acc = 0;
    for (; isdigit((unsigned char)**p); (*p)++) {
        uint64_t d = (uint64_t)(**p - '0');
        if (acc > (UNITS_LIMIT - d) / 10) return -ERANGE;
        acc = acc * 10 + d;
    }
    *v = acc;
    return 0;
}

int prs_units_parse_int(const char *text, int64_t min, int64_t max, int64_t *value) {
    if (!text || !*text) return -EINVAL;
    const char *p = text;
    bool negative = false;
    if (*p == '-' || *p == '+') negative = *p++ == '-';
    if (!isdigit((unsigned char)*p)) return -EINVAL;
    uint64_t v = 0;
    int rc = parse_digits(&p, &v);
    if (rc) return rc;
    if (*p) return -EINVAL;
    int64_t s = negative ? -(int64_t)v : (int64_t)v;
    if (s < min || s > max) return -ERANGE;
    *value = s;
    return 0;
}

int prs_units_parse_size(const char *text, uint64_t *bytes) {
    if (!text || !isdigit((unsigned char)*text)) return -EINVAL;
    const char *p = text;
    uint64_t v = 0;
    int rc = parse_digits(&p, &v);
    if (rc) return rc;
    static const struct {
        const char *suffix;
        unsigned shift;
    } units[] = {{"", 0},    {"B", 0},    {"K", 10}, {"KB", 10}, {"KIB", 10}, {"M", 20},
                 {"MB", 20}, {"MIB", 20}, {"G", 30}, {"GB", 30}, {"GIB", 30}};
    for (size_t i = 0; i < PRS_ARRAY_LEN(units); i++) {
        if (strcasecmp(p, units[i].suffix) == 0) {
            if (v > (UNITS_LIMIT >> units[i].shift)) return -ERANGE;
            *bytes = v << units[i].shift;
            return 0;
        }
    }
    return -EINVAL;
}
