/* units.c -- see units.h. */
#include "units.h"

#include <ctype.h>
#include <strings.h>

int prs_units_parse_int(const char *text, int64_t min, int64_t max, int64_t *value) {
    if (!text || !*text) return -EINVAL;
    const char *p = text;
    bool negative = false;
    if (*p == '-' || *p == '+') negative = *p++ == '-';
    if (!isdigit((unsigned char)*p)) return -EINVAL;
    uint64_t v = 0;
    for (; isdigit((unsigned char)*p); p++) {
        if (v > (UINT64_C(1) << 62)) return -ERANGE;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (*p) return -EINVAL;
    if (v > (UINT64_C(1) << 62)) return -ERANGE;
    int64_t s = negative ? -(int64_t)v : (int64_t)v;
    if (s < min || s > max) return -ERANGE;
    *value = s;
    return 0;
}

int prs_units_parse_size(const char *text, uint64_t *bytes) {
    if (!text || !isdigit((unsigned char)*text)) return -EINVAL;
    const char *p = text;
    uint64_t v = 0;
    for (; isdigit((unsigned char)*p); p++) {
        if (v > (UINT64_C(1) << 62)) return -ERANGE;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    static const struct {
        const char *suffix;
        unsigned shift;
    } units[] = {{"", 0},    {"B", 0},    {"K", 10},  {"KB", 10}, {"KIB", 10},
                 {"M", 20},  {"MB", 20},  {"MIB", 20}, {"G", 30}, {"GB", 30},
                 {"GIB", 30}};
    for (size_t i = 0; i < PRS_ARRAY_LEN(units); i++) {
        if (strcasecmp(p, units[i].suffix) == 0) {
            if (v > ((UINT64_C(1) << 62) >> units[i].shift)) return -ERANGE;
            *bytes = v << units[i].shift;
            return 0;
        }
    }
    return -EINVAL;
}
