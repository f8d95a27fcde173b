/* fuzz_units -- libFuzzer target: option value parsing (core/units.c) against a simple
 * reference that reads digits into a 128-bit accumulator (saturating, so it cannot wrap),
 * plus a formatter round-trip.
 *
 * Input: the bytes are the option text (NULs cut it short, as argv would). For each input:
 *   - prs_units_parse_size and the reference must agree on the result (0/-EINVAL/-ERANGE)
 *     and on the bytes;
 *   - prs_units_parse_int with the full int64 range, and with [-1000, 1000], likewise;
 *   - every accepted size, printed back as decimal and as the largest unit that divides it
 *     ("%lluK", "%lluMiB", ...), parses to the same bytes.
 * Any difference aborts, so libFuzzer keeps the input.
 *
 * Build: clang -std=c17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined
 *          -iquote core fuzz/fuzz_units.c core/units.c -o build/fuzz/fuzz_units
 * Run:   tools/fuzz fuzz_units 60   (seeds: fuzz/corpus/units) */
#include "units.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TEXT 256u
#define LIMIT ((unsigned __int128)1 << 62)

static void fail(const char *what, const char *text, long long got, long long want) {
    fprintf(stderr, "fuzz_units: %s for \"%s\": got %lld, want %lld\n", what, text, got, want);
    abort();
}

/* Digits -> saturating 128-bit value; *end on the first non-digit. */
static unsigned __int128 ref_digits(const char *p, const char **end) {
    unsigned __int128 v = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (unsigned)(*p - '0');
        if (v > ((unsigned __int128)1 << 100)) v = (unsigned __int128)1 << 100; /* saturate */
    }
    *end = p;
    return v;
}

static int ref_size(const char *text, uint64_t *bytes) {
    if (!(*text >= '0' && *text <= '9')) return -EINVAL;
    const char *p;
    unsigned __int128 v = ref_digits(text, &p);
    if (v > LIMIT) return -ERANGE; /* the digits alone are too large, whatever follows */
    unsigned shift;
    char up[8] = {0};
    size_t n = strlen(p);
    if (n > 3) return -EINVAL;
    for (size_t i = 0; i < n; i++)
        up[i] = (char)toupper((unsigned char)p[i]);
    if (!strcmp(up, "") || !strcmp(up, "B"))
        shift = 0;
    else if (!strcmp(up, "K") || !strcmp(up, "KB") || !strcmp(up, "KIB"))
        shift = 10;
    else if (!strcmp(up, "M") || !strcmp(up, "MB") || !strcmp(up, "MIB"))
        shift = 20;
    else if (!strcmp(up, "G") || !strcmp(up, "GB") || !strcmp(up, "GIB"))
        shift = 30;
    else
        return -EINVAL;
    v <<= shift;
    if (v > LIMIT) return -ERANGE;
    *bytes = (uint64_t)v;
    return 0;
}

static int ref_int(const char *text, int64_t min, int64_t max, int64_t *value) {
    const char *p = text;
    bool neg = false;
    if (*p == '-' || *p == '+') neg = *p++ == '-';
    if (!(*p >= '0' && *p <= '9')) return -EINVAL;
    const char *end;
    unsigned __int128 v = ref_digits(p, &end);
    if (v > LIMIT) return -ERANGE;
    if (*end) return -EINVAL;
    __int128 s = neg ? -(__int128)v : (__int128)v;
    if (s < min || s > max) return -ERANGE;
    *value = (int64_t)s;
    return 0;
}

static void check_int(const char *text, int64_t min, int64_t max) {
    int64_t got = 7, want = 7;
    int rc = prs_units_parse_int(text, min, max, &got);
    int ref = ref_int(text, min, max, &want);
    if (rc != ref) fail("parse_int result", text, rc, ref);
    if (rc == 0 && got != want) fail("parse_int value", text, got, want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char text[MAX_TEXT + 1];
    size_t n = PRS_MIN(size, (size_t)MAX_TEXT);
    memcpy(text, data, n);
    text[n] = 0; /* an embedded NUL ends the text early, as in argv */

    uint64_t got = 7, want = 7;
    int rc = prs_units_parse_size(text, &got);
    int ref = ref_size(text, &want);
    if (rc != ref) fail("parse_size result", text, rc, ref);
    if (rc == 0 && got != want) fail("parse_size value", text, (long long)got, (long long)want);

    check_int(text, INT64_MIN, INT64_MAX);
    check_int(text, -1000, 1000);

    if (rc == 0) { /* formatter round-trip: decimal, then the largest unit that divides it */
        static const char *const suffix[] = {"", "K", "MiB", "GB"};
        for (unsigned u = 0; u < 4; u++) {
            unsigned shift = 10 * u;
            if (got & ((UINT64_C(1) << shift) - 1)) break;
            char back[48];
            snprintf(back, sizeof(back), "%llu%s", (unsigned long long)(got >> shift), suffix[u]);
            uint64_t again = 0;
            int rc2 = prs_units_parse_size(back, &again);
            if (rc2 != 0 || again != got)
                fail("round-trip", back, (long long)again, (long long)got);
        }
    }
    return 0;
}
