/* Option value parsing: sizes with units, bounded integers, bad input. */
#include "units.h"

#include <criterion/criterion.h>

Test(units, sizes_with_units) {
    uint64_t b;
    cr_assert_eq(prs_units_parse_size("1024", &b), 0);
    cr_assert_eq(b, 1024);
    cr_assert_eq(prs_units_parse_size("1024KB", &b), 0);
    cr_assert_eq(b, 1024u * 1024u);
    cr_assert_eq(prs_units_parse_size("10MB", &b), 0);
    cr_assert_eq(b, 10u << 20);
    cr_assert_eq(prs_units_parse_size("1GB", &b), 0);
    cr_assert_eq(b, 1u << 30);
    cr_assert_eq(prs_units_parse_size("64kb", &b), 0);
    cr_assert_eq(b, 64u << 10);
}

Test(units, bad_sizes) {
    uint64_t b;
    cr_assert_eq(prs_units_parse_size("10XB", &b), -EINVAL);
    cr_assert_eq(prs_units_parse_size("", &b), -EINVAL);
    cr_assert_eq(prs_units_parse_size("-1", &b), -EINVAL);
    cr_assert_eq(prs_units_parse_size("MB", &b), -EINVAL);
    cr_assert_eq(prs_units_parse_size("1 MB", &b), -EINVAL);
    cr_assert_eq(prs_units_parse_size("99999999999999999999", &b), -ERANGE);
    cr_assert_eq(prs_units_parse_size("8589934592GB", &b), -ERANGE);
}

Test(units, integers) {
    int64_t v;
    cr_assert_eq(prs_units_parse_int("-1", -1, 10, &v), 0);
    cr_assert_eq(v, -1);
    cr_assert_eq(prs_units_parse_int("10", -1, 10, &v), 0);
    cr_assert_eq(v, 10);
    cr_assert_eq(prs_units_parse_int("11", -1, 10, &v), -ERANGE);
    cr_assert_eq(prs_units_parse_int("-2", -1, 10, &v), -ERANGE);
    cr_assert_eq(prs_units_parse_int("3x", -1, 10, &v), -EINVAL);
    cr_assert_eq(prs_units_parse_int("", -1, 10, &v), -EINVAL);
    cr_assert_eq(prs_units_parse_int("-", -1, 10, &v), -EINVAL);
}

/* Regression (found by fuzz/fuzz_units): the digit loop checked the bound after v * 10, so a
 * 20-digit number just past 2^64 / 10 wrapped to a tiny value and was accepted -- with or
 * without a unit suffix, as a size or as an integer. */
Test(units, digits_that_wrap_past_2_64_are_refused) {
    uint64_t b = 0;
    cr_assert_eq(prs_units_parse_size("18446744073709551620", &b), -ERANGE); /* 2^64 + 4 */
    cr_assert_eq(prs_units_parse_size("18446744073709551620KB", &b), -ERANGE);
    cr_assert_eq(prs_units_parse_size("36893488147419103232GB", &b), -ERANGE); /* 2^65 */
    int64_t v = 0;
    cr_assert_eq(prs_units_parse_int("18446744073709551617", 0, INT64_MAX, &v), -ERANGE);
    cr_assert_eq(prs_units_parse_int("-18446744073709551617", INT64_MIN, 0, &v), -ERANGE);
}

Test(units, the_limit_itself) {
    uint64_t b = 0;
    cr_assert_eq(prs_units_parse_size("4611686018427387904", &b), 0); /* 2^62 */
    cr_assert_eq(b, UINT64_C(1) << 62);
    cr_assert_eq(prs_units_parse_size("4611686018427387905", &b), -ERANGE);
    cr_assert_eq(prs_units_parse_size("4294967296GiB", &b), 0); /* 2^32 GiB = 2^62 */
    cr_assert_eq(b, UINT64_C(1) << 62);
    cr_assert_eq(prs_units_parse_size("4294967297GiB", &b), -ERANGE);
    cr_assert_eq(prs_units_parse_size("000000000000000000000000000001k", &b), 0);
    cr_assert_eq(b, 1024);
}
