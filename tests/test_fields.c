/* io/fields: csv/tsv fields and jsonl members of one record, and their values -- the
 * reading side tables use for their keys, by the splitter's own rules. */
#include "fields.h"
#include "records.h"

#include <criterion/criterion.h>
#include <string.h>

#define MAX_FIELDS 16

/* The values of every field of rec, as prs_fields and prs_field_csv_value give them. */
static size_t csv_values(enum prs_format f, const char *rec, char vals[][64]) {
    prs_fields it;
    prs_field fl;
    cr_assert_eq(prs_fields_init(&it, f, rec, strlen(rec)), 0);
    size_t n = 0;
    while (prs_fields_next(&it, &fl) == 1) {
        cr_assert_lt(n, MAX_FIELDS);
        cr_assert_leq(fl.offset + fl.size_bytes, strlen(rec), "field inside the record");
        size_t len = prs_field_csv_value(rec, &fl, vals[n]);
        cr_assert_leq(len, fl.size_bytes, "a value is never longer than its field");
        vals[n++][len] = 0;
    }
    cr_assert_eq(prs_fields_next(&it, &fl), 0, "the end is sticky");
    return n;
}

static void expect_csv(enum prs_format f, const char *rec, size_t n, const char *const *want) {
    char vals[MAX_FIELDS][64];
    size_t got = csv_values(f, rec, vals);
    cr_assert_eq(got, n, "'%s': %zu fields, want %zu", rec, got, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(vals[i], want[i], "'%s' field %zu", rec, i);
}

Test(fields, csv_plain_quoted_and_empty_fields) {
    expect_csv(PRS_FORMAT_CSV, "a,b,c", 3, (const char *[]){"a", "b", "c"});
    expect_csv(PRS_FORMAT_CSV, "\"a,b\",c", 2, (const char *[]){"a,b", "c"});
    expect_csv(PRS_FORMAT_CSV, "\"say \"\"hi\"\"\",x", 2, (const char *[]){"say \"hi\"", "x"});
    expect_csv(PRS_FORMAT_CSV, "\"two\nlines\"", 1, (const char *[]){"two\nlines"});
    expect_csv(PRS_FORMAT_CSV, "", 1, (const char *[]){""});
    expect_csv(PRS_FORMAT_CSV, "a,", 2, (const char *[]){"a", ""});
    expect_csv(PRS_FORMAT_CSV, ",,", 3, (const char *[]){"", "", ""});
    expect_csv(PRS_FORMAT_CSV, "\"\",x", 2, (const char *[]){"", "x"});
    expect_csv(PRS_FORMAT_CSV, "a\tb,c", 2, (const char *[]){"a\tb", "c"});
}

/* RFC 4180 forbids both; Python's csv module, pandas and the splitter read them as data. */
Test(fields, csv_quotes_away_from_a_field_start_are_data) {
    expect_csv(PRS_FORMAT_CSV, "\"0\"x,dog", 2, (const char *[]){"0x", "dog"});
    expect_csv(PRS_FORMAT_CSV, "a\"b,c", 2, (const char *[]){"a\"b", "c"});
    expect_csv(PRS_FORMAT_CSV, "\"a\"b\"c\",d", 2, (const char *[]){"ab\"c\"", "d"});
}

Test(fields, csv_unterminated_quote_runs_to_the_end) {
    expect_csv(PRS_FORMAT_CSV, "x,\"abc,def", 2, (const char *[]){"x", "abc,def"});
}

Test(fields, tsv_uses_tabs) {
    expect_csv(PRS_FORMAT_TSV, "a\tb,c\t\"q\tq\"", 3, (const char *[]){"a", "b,c", "q\tq"});
}

Test(fields, only_csv_and_tsv_have_fields) {
    prs_fields it;
    cr_assert_eq(prs_fields_init(&it, PRS_FORMAT_JSONL, "{}", 2), -EINVAL);
    cr_assert_eq(prs_fields_init(&it, PRS_FORMAT_LINES, "a", 1), -EINVAL);
    cr_assert_eq(prs_fields_init(&it, PRS_FORMAT_CSV, NULL, 1), -EINVAL);
    cr_assert_eq(prs_fields_init(&it, PRS_FORMAT_CSV, NULL, 0), 0);
}

/* The member's value text (raw) and, for strings, its unescaped value. */
static int member(const char *rec, const char *name, char *raw, char *value) {
    prs_field f;
    int found = prs_field_json_member(rec, strlen(rec), name, name ? strlen(name) : 0, &f);
    if (found != 1) return found;
    cr_assert_leq(f.offset + f.size_bytes, strlen(rec));
    memcpy(raw, rec + f.offset, f.size_bytes);
    raw[f.size_bytes] = 0;
    size_t n = prs_field_json_value(rec, &f, value);
    cr_assert_leq(n, f.size_bytes);
    value[n] = 0;
    return f.quoted ? 2 : 1; /* 2: a string */
}

Test(fields, json_members_by_name_and_the_first) {
    char raw[256], v[256];
    const char *rec = " {\"n\": 1, \"file\": \"f0000.txt\", \"tags\": [\"a\", {\"b\": \"}\"}]} ";
    cr_assert_eq(member(rec, "n", raw, v), 1);
    cr_assert_str_eq(v, "1");
    cr_assert_eq(member(rec, "file", raw, v), 2);
    cr_assert_str_eq(raw, "\"f0000.txt\"");
    cr_assert_str_eq(v, "f0000.txt");
    cr_assert_eq(member(rec, "tags", raw, v), 1);
    cr_assert_str_eq(v, "[\"a\", {\"b\": \"}\"}]", "a nested value's text");
    cr_assert_eq(member(rec, NULL, raw, v), 1);
    cr_assert_str_eq(v, "1", "NULL: the first member");
    cr_assert_eq(member(rec, "b", raw, v), 0, "only top-level members");
    cr_assert_eq(member(rec, "fil", raw, v), 0);
    cr_assert_eq(member("{}", NULL, raw, v), 0);
    cr_assert_eq(member("{ }", "x", raw, v), 0);
    cr_assert_eq(member("{\"a\":1,\"a\":2}", "a", raw, v), 1);
    cr_assert_str_eq(v, "1", "the first of a repeated name wins");
}

Test(fields, json_names_and_values_are_unescaped) {
    char raw[256], v[256];
    cr_assert_eq(member("{\"nested\": {\"file\": \"x\"}, \"file\": \"f\\u0030001\\u002etxt\"}",
                        "file", raw, v),
                 2);
    cr_assert_str_eq(v, "f0001.txt");
    cr_assert_eq(member("{\"f\\u006fo\":\"bar\"}", "foo", raw, v), 2);
    cr_assert_str_eq(v, "bar");
    cr_assert_eq(member("{\"k\":\"a\\\"b\\\\c\\/d\\n\\t\"}", "k", raw, v), 2);
    cr_assert_str_eq(v, "a\"b\\c/d\n\t");
    cr_assert_eq(member("{\"k\":\"\\ud83d\\ude00 \\u00e9\"}", "k", raw, v), 2);
    cr_assert_str_eq(v, "\xF0\x9F\x98\x80 \xC3\xA9", "a surrogate pair is one code point");
    cr_assert_eq(member("{\"k\":null}", "k", raw, v), 1);
    cr_assert_str_eq(v, "null");
}

/* Bytes the splitter would flag: the lookup stays inside them (ASan watches) and answers
 * something or nothing, never more. */
Test(fields, json_lookup_on_malformed_bytes_stays_in_bounds) {
    const char *bad[] = {"{",
                         "{\"",
                         "{\"a",
                         "{\"a\"",
                         "{\"a\":",
                         "{\"a\":\"",
                         "{\"a\":[",
                         "{\"a\":\"\\u",
                         "{\"a\\\":1}",
                         "[1]",
                         "{\"a\" 1}",
                         "",
                         "{\"a\":1 \"b\":2}"};
    for (size_t i = 0; i < PRS_ARRAY_LEN(bad); i++) {
        size_t n = strlen(bad[i]);
        char *copy = malloc(n ? n : 1); /* exactly n bytes: a read past them is caught */
        memcpy(copy, bad[i], n);
        prs_field f;
        char out[64];
        if (prs_field_json_member(copy, n, "a", 1, &f) == 1) {
            cr_assert_leq(f.offset + f.size_bytes, n, "%s", bad[i]);
            cr_assert_leq(prs_field_json_value(copy, &f, out), f.size_bytes);
        }
        prs_field_json_member(copy, n, NULL, 0, &f);
        free(copy);
    }
}

/* The case the two parsers used to disagree on: the splitter reads "0"x,dog as a
 * well-formed record, and its first field is 0x. (test_side checks a side table reads the
 * same.) */
Test(fields, quote_then_text_is_one_reading_for_splitter_and_fields) {
    const char *buf = "id,v\n\"0\"x,dog\n";
    prs_splitter s;
    prs_record r;
    cr_assert_eq(prs_splitter_init(&s, PRS_FORMAT_CSV, buf, strlen(buf)), 0);
    cr_assert_eq(prs_splitter_next(&s, &r), 1);
    cr_assert_null(r.error, "data, not a malformed record: %s", r.error);
    char vals[MAX_FIELDS][64];
    char rec[32];
    memcpy(rec, buf + r.offset, r.size_bytes);
    rec[r.size_bytes] = 0;
    cr_assert_eq(csv_values(PRS_FORMAT_CSV, rec, vals), 2);
    cr_assert_str_eq(vals[0], "0x");
    cr_assert_str_eq(vals[1], "dog");
}
