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
