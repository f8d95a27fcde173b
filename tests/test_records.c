/* Record splitting and byte batching: every csv/tsv/jsonl/lines edge case with its
 * expected records and line numbers, then a seeded property test against a byte-by-byte
 * reference splitter, with random batch limits and re-splitting of every batch. */
#include "records.h"

#include <criterion/criterion.h>
#include <string.h>

#define MAX_RECS 4096

typedef struct split {
    prs_record header;
    int has_header;
    prs_record r[MAX_RECS];
    size_t n;
} split;

static void split_all(split *out, enum prs_format f, const char *buf, size_t len) {
    prs_splitter s;
    memset(out, 0, sizeof(*out));
    cr_assert_eq(prs_splitter_init(&s, f, buf, len), 0);
    out->has_header = prs_splitter_header(&s, &out->header);
    while (prs_splitter_next(&s, &out->r[out->n]) == 1) {
        cr_assert_lt(out->n, MAX_RECS - 1);
        out->n++;
    }
    prs_record extra;
    cr_assert_eq(prs_splitter_next(&s, &extra), 0, "end is sticky");
}

static void split_str(split *out, enum prs_format f, const char *text) {
    split_all(out, f, text, strlen(text));
}

/* The record's bytes compare equal to want, at that line, with that terminator. */
static void expect_rec(const char *buf, const prs_record *r, const char *want, uint64_t line,
                       uint32_t term, const char *error) {
    cr_assert_eq(r->size_bytes, strlen(want), "size %llu, want %zu (\"%s\")",
                 (unsigned long long)r->size_bytes, strlen(want), want);
    cr_assert(memcmp(buf + r->offset, want, r->size_bytes) == 0, "record at %llu is \"%.*s\"",
              (unsigned long long)r->offset, (int)r->size_bytes, buf + r->offset);
    cr_assert_eq(r->line, line, "\"%s\": line %llu, want %llu", want, (unsigned long long)r->line,
                 (unsigned long long)line);
    cr_assert_eq(r->term_bytes, term, "\"%s\": term %u, want %u", want, r->term_bytes, term);
    if (error)
        cr_assert(r->error == error, "\"%s\": error %s, want %s", want,
                  r->error ? r->error : "(none)", error);
    else
        cr_assert_null(r->error, "\"%s\": unexpected error %s", want, r->error);
}

/* Field by field: prs_record has padding, which memcmp would compare too. */
static bool same_rec(const prs_record *a, const prs_record *b) {
    return a->offset == b->offset && a->size_bytes == b->size_bytes && a->line == b->line &&
           a->term_bytes == b->term_bytes && a->error == b->error;
}

/* ---- formats ------------------------------------------------------------------------------ */

Test(records, format_names_round_trip) {
    const char *names[] = {"files", "csv", "tsv", "jsonl", "lines"};
    for (size_t i = 0; i < PRS_ARRAY_LEN(names); i++) {
        enum prs_format f = PRS_FORMAT_FILES;
        cr_assert_eq(prs_format_parse(names[i], &f), 0);
        cr_assert_str_eq(prs_format_name(f), names[i]);
    }
    enum prs_format f;
    cr_assert_eq(prs_format_parse("CSV", &f), -EINVAL);
    cr_assert_eq(prs_format_parse("json", &f), -EINVAL);
    cr_assert_eq(prs_format_parse("", &f), -EINVAL);
    cr_assert_eq(prs_format_parse(NULL, &f), -EINVAL);
    cr_assert_str_eq(prs_format_name((enum prs_format)99), "?");
}

Test(records, files_format_and_bad_offsets_are_rejected) {
    prs_splitter s;
    cr_assert_eq(prs_splitter_init(&s, PRS_FORMAT_FILES, "a\n", 2), -EINVAL);
    cr_assert_eq(prs_splitter_init(&s, (enum prs_format)42, "a\n", 2), -EINVAL);
    cr_assert_eq(prs_splitter_init_at(&s, PRS_FORMAT_CSV, "a\n", 2, 3, 1), -EINVAL);
    cr_assert_eq(prs_splitter_init(&s, PRS_FORMAT_CSV, NULL, 1), -EINVAL);
}

/* ---- csv ---------------------------------------------------------------------------------- */

Test(records, csv_plain_header_and_rows) {
    const char *t = "id,name\n1,ann\n2,bob\n";
    split sp;
    split_str(&sp, PRS_FORMAT_CSV, t);
    cr_assert_eq(sp.has_header, 1);
    expect_rec(t, &sp.header, "id,name", 1, 1, NULL);
    cr_assert_eq(sp.header.offset, 0);
    cr_assert_eq(sp.n, 2);
    expect_rec(t, &sp.r[0], "1,ann", 2, 1, NULL);
    expect_rec(t, &sp.r[1], "2,bob", 3, 1, NULL);
    cr_assert_eq(sp.r[1].offset, 14);
}

Test(records, csv_quoted_fields_hide_separators) {
    const char *t = "a,b\n\"x,y\",z\n\"\",\"\"\n";
    split sp;
    split_str(&sp, PRS_FORMAT_CSV, t);
    cr_assert_eq(sp.n, 2);
    expect_rec(t, &sp.r[0], "\"x,y\",z", 2, 1, NULL);
    expect_rec(t, &sp.r[1], "\"\",\"\"", 3, 1, NULL);
}

Test(records, csv_doubled_quotes) {
    const char *t = "q,n\n\"say \"\"hi\"\"\",1\n\"\"\"\",2\n\"a\"\"\n\"\"b\",3\n";
    split sp;
    split_str(&sp, PRS_FORMAT_CSV, t);
    cr_assert_eq(sp.n, 3);
    expect_rec(t, &sp.r[0], "\"say \"\"hi\"\"\",1", 2, 1, NULL);
    expect_rec(t, &sp.r[1], "\"\"\"\",2", 3, 1, NULL);
    /* "" right before a quoted newline must not close the field */
    expect_rec(t, &sp.r[2], "\"a\"\"\n\"\"b\",3", 4, 1, NULL);
}

Test(records, csv_newlines_inside_quotes_advance_line_numbers) {
    const char *t = "id,text\n1,\"line one\nline two\n\nline four\"\n2,x\n3,\"a\nb\",\"c\nd\"\n4,y";
    split sp;
    split_str(&sp, PRS_FORMAT_CSV, t);
    cr_assert_eq(sp.n, 4);
    expect_rec(t, &sp.r[0], "1,\"line one\nline two\n\nline four\"", 2, 1, NULL);
    expect_rec(t, &sp.r[1], "2,x", 6, 1, NULL);
    expect_rec(t, &sp.r[2], "3,\"a\nb\",\"c\nd\"", 7, 1, NULL);
    expect_rec(t, &sp.r[3], "4,y", 10, 0, NULL);
}

Test(records, csv_crlf_line_ends) {
    const char *t = "a,b\r\n1,2\r\n\"x\r\ny\",3\r\n4,\"5\"\r\n";
    split sp;
    split_str(&sp, PRS_FORMAT_CSV, t);
    expect_rec(t, &sp.header, "a,b", 1, 2, NULL);
    cr_assert_eq(sp.n, 3);
    expect_rec(t, &sp.r[0], "1,2", 2, 2, NULL);
    expect_rec(t, &sp.r[1], "\"x\r\ny\",3", 3, 2, NULL); /* the quoted CRLF is data */
    expect_rec(t, &sp.r[2], "4,\"5\"", 5, 2, NULL);
}

Test(records, csv_bom_is_skipped_only_at_the_start) {
    const char *t = "\xEF\xBB\xBF"
                    "a,b\n1,2\n\xEF\xBB\xBFx,3\n";
    split sp;
    split_str(&sp, PRS_FORMAT_CSV, t);
    expect_rec(t, &sp.header, "a,b", 1, 1, NULL);
    cr_assert_eq(sp.header.offset, 3);
    cr_assert_eq(sp.n, 2);
    expect_rec(t, &sp.r[0], "1,2", 2, 1, NULL);
    expect_rec(t, &sp.r[1], "\xEF\xBB\xBFx,3", 3, 1, NULL);

    split_str(&sp, PRS_FORMAT_CSV, "\xEF\xBB\xBF");
    cr_assert_eq(sp.has_header, 0);
    cr_assert_eq(sp.n, 0);
    split_str(&sp, PRS_FORMAT_CSV, "\xEF\xBB"); /* a cut BOM is data */
    cr_assert_eq(sp.has_header, 1);
    cr_assert_eq(sp.header.size_bytes, 2);
}

Test(records, csv_header_only_file) {
    split sp;
    split_str(&sp, PRS_FORMAT_CSV, "a,b,c\n");
    cr_assert_eq(sp.has_header, 1);
    expect_rec("a,b,c\n", &sp.header, "a,b,c", 1, 1, NULL);
    cr_assert_eq(sp.n, 0);
    split_str(&sp, PRS_FORMAT_CSV, "a,b,c");
    cr_assert_eq(sp.has_header, 1);
    expect_rec("a,b,c", &sp.header, "a,b,c", 1, 0, NULL);
    cr_assert_eq(sp.n, 0);
    split_str(&sp, PRS_FORMAT_CSV, "a,b,c\n\n\r\n");
    cr_assert_eq(sp.has_header, 1);
    cr_assert_eq(sp.n, 0);
}

Test(records, csv_empty_file) {
    split sp;
    split_all(&sp, PRS_FORMAT_CSV, NULL, 0);
    cr_assert_eq(sp.has_header, 0);
    cr_assert_eq(sp.n, 0);
    split_str(&sp, PRS_FORMAT_CSV, "\n\r\n\n");
    cr_assert_eq(sp.has_header, 0);
    cr_assert_eq(sp.n, 0);
}

Test(records, csv_blank_lines_before_header_and_between_rows_are_skipped) {
    const char *t = "\n\nh\n\n1\r\n\r\n2\n\n";
    split sp;
    split_str(&sp, PRS_FORMAT_CSV, t);
    expect_rec(t, &sp.header, "h", 3, 1, NULL);
    cr_assert_eq(sp.n, 2);
    expect_rec(t, &sp.r[0], "1", 5, 2, NULL);
    expect_rec(t, &sp.r[1], "2", 7, 1, NULL);
}

Test(records, csv_no_trailing_newline) {
    const char *t = "h\n1\n\"2\n2\"";
    split sp;
    split_str(&sp, PRS_FORMAT_CSV, t);
    cr_assert_eq(sp.n, 2);
    expect_rec(t, &sp.r[0], "1", 2, 1, NULL);
    expect_rec(t, &sp.r[1], "\"2\n2\"", 3, 0, NULL);
    /* a lone '\r' at the very end is not a terminator */
    split_str(&sp, PRS_FORMAT_CSV, "h\nx\r");
    expect_rec("h\nx\r", &sp.r[0], "x\r", 2, 0, NULL);
}

Test(records, csv_unterminated_quote_is_malformed_to_eof) {
    const char *t = "h,t\n1,ok\n2,\"open\n3,x\n4,y\n";
    split sp;
    split_str(&sp, PRS_FORMAT_CSV, t);
    cr_assert_eq(sp.n, 2);
    expect_rec(t, &sp.r[0], "1,ok", 2, 1, NULL);
    /* runs to the end of the buffer: the last '\n' is inside the open field */
    expect_rec(t, &sp.r[1], "2,\"open\n3,x\n4,y\n", 3, 0, PRS_RECORD_ERR_UNTERMINATED_QUOTE);
    cr_assert_str_eq(sp.r[1].error, "unterminated quoted field");

    split_str(&sp, PRS_FORMAT_CSV, "\"h\n1\n");
    cr_assert_eq(sp.has_header, 1);
    cr_assert_eq(sp.header.error, PRS_RECORD_ERR_UNTERMINATED_QUOTE);
    cr_assert_eq(sp.n, 0);
}

Test(records, csv_quotes_not_at_a_field_start_are_data) {
    /* RFC 4180 forbids these; Python's csv and pandas read them as data. They must not
     * open a quoted field, or the rest of the file would become one record. */
    const char *t = "h\n5\" screen,x\n\"a\"b,\"c\nd\"\na, \"b\nc\" d\n";
    split sp;
    split_str(&sp, PRS_FORMAT_CSV, t);
    cr_assert_eq(sp.n, 4);
    expect_rec(t, &sp.r[0], "5\" screen,x", 2, 1, NULL);
    expect_rec(t, &sp.r[1], "\"a\"b,\"c\nd\"", 3, 1, NULL);
    expect_rec(t, &sp.r[2], "a, \"b", 5, 1, NULL); /* a space before the quote */
    expect_rec(t, &sp.r[3], "c\" d", 6, 1, NULL);
}

Test(records, csv_quote_after_closing_quote_does_not_reopen) {
    /* "a"b"c: after the closing quote the field is unquoted, so the next quote is data and
     * the newline ends the record (Python reads the field as a"b"c -> ab"c). */
    const char *t = "h\n\"a\"b\"c\nnext\n";
    split sp;
    split_str(&sp, PRS_FORMAT_CSV, t);
    cr_assert_eq(sp.n, 2);
    expect_rec(t, &sp.r[0], "\"a\"b\"c", 2, 1, NULL);
    expect_rec(t, &sp.r[1], "next", 3, 1, NULL);
}

Test(records, csv_many_quoted_lines_then_a_plain_one) {
    /* exercises the cached next-quote offset across records of both kinds */
    const char *t = "h\n\"1\"\n2\n\"3\",\"3\"\n4\n5\n\"6\n6\"\n7";
    split sp;
    split_str(&sp, PRS_FORMAT_CSV, t);
    cr_assert_eq(sp.n, 7);
    const char *want[] = {"\"1\"", "2", "\"3\",\"3\"", "4", "5", "\"6\n6\"", "7"};
    uint64_t lines[] = {2, 3, 4, 5, 6, 7, 9};
    for (int i = 0; i < 7; i++)
        expect_rec(t, &sp.r[i], want[i], lines[i], i == 6 ? 0 : 1, NULL);
}

/* ---- tsv ---------------------------------------------------------------------------------- */

Test(records, tsv_tab_separator_with_csv_quoting) {
    const char *t = "a\tb\n\"x\ty\"\t1\n\"multi\nline\"\t2\nc,\"d\t3\n";
    split sp;
    split_str(&sp, PRS_FORMAT_TSV, t);
    expect_rec(t, &sp.header, "a\tb", 1, 1, NULL);
    cr_assert_eq(sp.n, 3);
    expect_rec(t, &sp.r[0], "\"x\ty\"\t1", 2, 1, NULL);
    expect_rec(t, &sp.r[1], "\"multi\nline\"\t2", 3, 1, NULL);
    /* ',' is not a separator in tsv, so that quote is inside a field: data */
    expect_rec(t, &sp.r[2], "c,\"d\t3", 5, 1, NULL);

    split_str(&sp, PRS_FORMAT_CSV, t); /* the same bytes as csv: that quote opens a field */
    cr_assert_eq(sp.r[sp.n - 1].error, PRS_RECORD_ERR_UNTERMINATED_QUOTE);
}

Test(records, tsv_unterminated_quote) {
    const char *t = "a\tb\n1\t\"x\n2\t3\n";
    split sp;
    split_str(&sp, PRS_FORMAT_TSV, t);
    cr_assert_eq(sp.n, 1);
    expect_rec(t, &sp.r[0], "1\t\"x\n2\t3\n", 2, 0, PRS_RECORD_ERR_UNTERMINATED_QUOTE);
}

/* ---- jsonl -------------------------------------------------------------------------------- */

Test(records, jsonl_good_lines_and_blank_lines) {
    const char *t =
        "{\"a\":1}\n"
        "  {\"b\": [1, -2.5e+3, {\"c\": null}, true, false, []], \"d\": {}}  \r\n"
        "\n"
        "   \t \r\n"
        "{\"s\":\"q\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\", \"\":0, \"n\": -0.0E-0}\n"
        "{}";
    split sp;
    split_str(&sp, PRS_FORMAT_JSONL, t);
    cr_assert_eq(sp.has_header, 0);
    cr_assert_eq(sp.n, 4);
    expect_rec(t, &sp.r[0], "{\"a\":1}", 1, 1, NULL);
    expect_rec(t, &sp.r[1], "  {\"b\": [1, -2.5e+3, {\"c\": null}, true, false, []], \"d\": {}}  ",
               2, 2, NULL);
    cr_assert_eq(sp.r[2].line, 5);
    cr_assert_null(sp.r[2].error, "%s", sp.r[2].error);
    expect_rec(t, &sp.r[3], "{}", 6, 0, NULL);
}

static const char *jsonl_error(const char *line) {
    split sp;
    split_str(&sp, PRS_FORMAT_JSONL, line);
    cr_assert_eq(sp.n, 1, "\"%s\" gave %zu records", line, sp.n);
    return sp.r[0].error;
}

Test(records, jsonl_bad_lines) {
    struct {
        const char *line;
        const char *error;
    } cases[] = {
        {"[1,2]", PRS_RECORD_ERR_JSON_NOT_OBJECT},
        {"\"str\"", PRS_RECORD_ERR_JSON_NOT_OBJECT},
        {"42", PRS_RECORD_ERR_JSON_NOT_OBJECT},
        {"null", PRS_RECORD_ERR_JSON_NOT_OBJECT},
        {"id,name", PRS_RECORD_ERR_JSON_NOT_OBJECT},
        {"{\"a\":1", PRS_RECORD_ERR_JSON_TRUNCATED},
        {"{\"a\":", PRS_RECORD_ERR_JSON_TRUNCATED},
        {"{\"a", PRS_RECORD_ERR_JSON_TRUNCATED},
        {"{\"a\":\"x\\", PRS_RECORD_ERR_JSON_TRUNCATED},
        {"{\"a\":[1,{\"b\":2}", PRS_RECORD_ERR_JSON_TRUNCATED},
        {"{\"a\":tr", PRS_RECORD_ERR_JSON_TRUNCATED},
        {"{\"a\":\"\\u12", PRS_RECORD_ERR_JSON_TRUNCATED},
        {"{\"a\":1} x", PRS_RECORD_ERR_JSON_TRAILING},
        {"{}{}", PRS_RECORD_ERR_JSON_TRAILING},
        {"{\"a\":1}}", PRS_RECORD_ERR_JSON_TRAILING},
        {"{a:1}", PRS_RECORD_ERR_JSON_SYNTAX},
        {"{\"a\" 1}", PRS_RECORD_ERR_JSON_SYNTAX},
        {"{\"a\":1,}", PRS_RECORD_ERR_JSON_SYNTAX},
        {"{\"a\":[1,]}", PRS_RECORD_ERR_JSON_SYNTAX},
        {"{\"a\":[1}", PRS_RECORD_ERR_JSON_SYNTAX},
        {"{\"a\":01}", PRS_RECORD_ERR_JSON_SYNTAX},
        {"{\"a\":True}", PRS_RECORD_ERR_JSON_SYNTAX},
        {"{\"a\":nul!}", PRS_RECORD_ERR_JSON_SYNTAX},
        {"{\"a\":'x'}", PRS_RECORD_ERR_JSON_SYNTAX},
        {"{\"a\":\"\\q\"}", PRS_RECORD_ERR_JSON_STRING},
        {"{\"a\":\"\\u12g4\"}", PRS_RECORD_ERR_JSON_STRING},
        {"{\"a\":\"tab\there\"}", PRS_RECORD_ERR_JSON_STRING},
        {"{\"a\":-}", PRS_RECORD_ERR_JSON_NUMBER},
        {"{\"a\":1.}", PRS_RECORD_ERR_JSON_NUMBER},
        {"{\"a\":1e}", PRS_RECORD_ERR_JSON_NUMBER},
        {"{\"a\":.5}", PRS_RECORD_ERR_JSON_SYNTAX},
        {"{\"a\":+1}", PRS_RECORD_ERR_JSON_SYNTAX},
    };
    for (size_t i = 0; i < PRS_ARRAY_LEN(cases); i++) {
        const char *e = jsonl_error(cases[i].line);
        cr_assert(e == cases[i].error, "\"%s\": got %s, want %s", cases[i].line,
                  e ? e : "(well-formed)", cases[i].error);
    }
    cr_assert_null(jsonl_error("{\"a\":\"x\\u12AbZ\",\"b\":1e5,\"c\":0.25E-3}"));
}

Test(records, jsonl_a_nul_byte_is_not_an_escape) {
    const char t[] = "{\"a\":\"\\\0\"}\n";
    split sp;
    split_all(&sp, PRS_FORMAT_JSONL, t, sizeof(t) - 1);
    cr_assert_eq(sp.n, 1);
    cr_assert_eq(sp.r[0].error, PRS_RECORD_ERR_JSON_STRING);
}

/* depth levels, alternating object / array: {"k":[{"k":[...]}]} */
static void nested(char *out, int depth) {
    int n = 0;
    for (int i = 1; i <= depth; i++) {
        if (i > 1 && (i - 1) % 2 == 1) n += sprintf(out + n, "\"k\":");
        out[n++] = i % 2 ? '{' : '[';
    }
    for (int i = depth; i >= 1; i--)
        out[n++] = i % 2 ? '}' : ']';
    out[n] = 0;
}

Test(records, jsonl_nesting_is_bounded) {
    char buf[2048];
    nested(buf, PRS_JSON_MAX_DEPTH);
    cr_assert_null(jsonl_error(buf), "depth 64 is allowed: %s", buf);
    nested(buf, PRS_JSON_MAX_DEPTH + 1);
    cr_assert_eq(jsonl_error(buf), PRS_RECORD_ERR_JSON_TOO_DEEP);
    /* 100000 '[' must neither recurse nor overflow anything */
    static char deep[100003];
    deep[0] = '{';
    deep[1] = '"';
    deep[2] = '"';
    deep[3] = ':';
    memset(deep + 4, '[', sizeof(deep) - 5);
    cr_assert_eq(jsonl_error(deep), PRS_RECORD_ERR_JSON_TOO_DEEP);
}

Test(records, jsonl_bom_and_line_numbers_of_bad_lines) {
    const char *t = "\xEF\xBB\xBF{\"a\":1}\n\n[1]\n{\"b\":2}\n{\n";
    split sp;
    split_str(&sp, PRS_FORMAT_JSONL, t);
    cr_assert_eq(sp.n, 4);
    expect_rec(t, &sp.r[0], "{\"a\":1}", 1, 1, NULL);
    expect_rec(t, &sp.r[1], "[1]", 3, 1, PRS_RECORD_ERR_JSON_NOT_OBJECT);
    expect_rec(t, &sp.r[2], "{\"b\":2}", 4, 1, NULL);
    expect_rec(t, &sp.r[3], "{", 5, 1, PRS_RECORD_ERR_JSON_TRUNCATED);
}

/* ---- lines -------------------------------------------------------------------------------- */

Test(records, lines_with_and_without_final_newline) {
    const char *t = "one\ntwo\r\n\nthree \"quoted\n";
    split sp;
    split_str(&sp, PRS_FORMAT_LINES, t);
    cr_assert_eq(sp.has_header, 0);
    cr_assert_eq(sp.n, 3);
    expect_rec(t, &sp.r[0], "one", 1, 1, NULL);
    expect_rec(t, &sp.r[1], "two", 2, 2, NULL);
    expect_rec(t, &sp.r[2], "three \"quoted", 4, 1, NULL); /* quotes mean nothing here */
    t = "one\n\ntwo";
    split_str(&sp, PRS_FORMAT_LINES, t);
    cr_assert_eq(sp.n, 2);
    expect_rec(t, &sp.r[1], "two", 3, 0, NULL);
    t = "\xEF\xBB\xBFx\n";
    split_str(&sp, PRS_FORMAT_LINES, t);
    cr_assert_eq(sp.n, 1);
    expect_rec(t, &sp.r[0], "x", 1, 1, NULL);
    split_str(&sp, PRS_FORMAT_LINES, "\n\n\r\n");
    cr_assert_eq(sp.n, 0);
    split_all(&sp, PRS_FORMAT_LINES, NULL, 0);
    cr_assert_eq(sp.n, 0);
    t = "a\rb\r\r\n"; /* only the '\r' before '\n' is part of the terminator */
    split_str(&sp, PRS_FORMAT_LINES, t);
    expect_rec(t, &sp.r[0], "a\rb\r", 1, 2, NULL);
}

/* ---- resuming at a record boundary -------------------------------------------------------- */

Test(records, init_at_resumes_without_header_or_bom) {
    const char *t = "h\n1\n\xEF\xBB\xBFz,\"a\nb\"\n3\n";
    split sp;
    split_str(&sp, PRS_FORMAT_CSV, t);
    cr_assert_eq(sp.n, 3);
    prs_splitter s;
    prs_record r, h;
    cr_assert_eq(
        prs_splitter_init_at(&s, PRS_FORMAT_CSV, t, strlen(t), sp.r[1].offset, sp.r[1].line), 0);
    cr_assert_eq(prs_splitter_header(&s, &h), 0);
    cr_assert_eq(prs_splitter_next(&s, &r), 1);
    cr_assert(same_rec(&r, &sp.r[1]), "same record, BOM bytes kept");
    cr_assert_eq(prs_splitter_next(&s, &r), 1);
    expect_rec(t, &r, "3", 5, 1, NULL);
    cr_assert_eq(prs_splitter_next(&s, &r), 0);
}

/* ---- batching ----------------------------------------------------------------------------- */

Test(records, batcher_cuts_on_bytes_and_isolates_big_records) {
    /* record bytes include the terminator: "aaaa\n" is 5 */
    const char *t = "aaaa\nbbbb\ncc\n0123456789abcdef\nd\ne\r\nf";
    split sp;
    split_str(&sp, PRS_FORMAT_LINES, t);
    cr_assert_eq(sp.n, 7);
    prs_batcher b;
    cr_assert_eq(prs_batcher_init(&b, 0), -EINVAL);
    cr_assert_eq(prs_batcher_init(&b, 10), 0);
    bool want[] = {true, false, true, true, true, false, false};
    /* [aaaa bbbb]=10 [cc]=3 (+17 would not fit) [0123..f]=17 alone [d e f]=2+3+1 */
    for (size_t i = 0; i < sp.n; i++)
        cr_assert_eq(prs_batcher_add(&b, &sp.r[i]), want[i], "record %zu", i);
    cr_assert_eq(b.cur_count, 3);
    cr_assert_eq(b.cur_bytes, 6);
}

Test(records, batcher_huge_limit_does_not_wrap) {
    prs_batcher b;
    cr_assert_eq(prs_batcher_init(&b, UINT64_MAX), 0);
    prs_record r = {.size_bytes = UINT64_MAX - 10, .term_bytes = 1};
    cr_assert(prs_batcher_add(&b, &r));
    r.size_bytes = 100;
    cr_assert(prs_batcher_add(&b, &r), "UINT64_MAX - 9 + 101 does not fit");
    cr_assert_not(prs_batcher_add(&b, &r));
}

Test(records, a_record_larger_than_the_batch_is_its_own_batch) {
    char big[5000];
    memset(big, 'x', sizeof(big));
    memcpy(big, "h\n1\n2\n", 6);
    big[4000] = '\n';
    memcpy(big + 4001, "3\n4\n", 4);
    split sp;
    split_all(&sp, PRS_FORMAT_CSV, big, 4005);
    cr_assert_eq(sp.n, 5); /* 1, 2, x..x (3994 bytes), 3, 4 */
    cr_assert_eq(sp.r[2].size_bytes, 3994);
    prs_batcher b;
    prs_batcher_init(&b, 1024);
    bool want[] = {true, false, true, true, false};
    for (size_t i = 0; i < sp.n; i++)
        cr_assert_eq(prs_batcher_add(&b, &sp.r[i]), want[i]);
}

/* ---- property test against a byte-by-byte reference --------------------------------------- */

typedef struct ref_rec {
    size_t off, size, line;
    unsigned term;
    bool bad;
} ref_rec;

/* The simplest splitter that can be right: one byte at a time, the RFC 4180 states written
 * out. Boundaries and the unterminated-quote flag; jsonl lines are not validated here
 * (fuzz/fuzz_records.c has a reference JSON checker). */
static size_t ref_split(enum prs_format f, const char *b, size_t n, ref_rec *out, size_t max) {
    enum { FSTART, UNQ, QUOTED, QUOTE_SEEN } st = FSTART;
    bool csv = f == PRS_FORMAT_CSV || f == PRS_FORMAT_TSV;
    char sep = f == PRS_FORMAT_TSV ? '\t' : ',';
    size_t i = n >= 3 && memcmp(b, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    size_t start = i, line = 1, start_line = 1, count = 0;
    for (;; i++) {
        bool end = i == n;
        bool eol = !end && b[i] == '\n' && (!csv || st != QUOTED);
        if (end || eol) {
            if (end && start == n) break;
            ref_rec r = {start, i - start, start_line, eol, csv && st == QUOTED};
            if (eol && r.size > 0 && b[i - 1] == '\r') r.size--, r.term = 2;
            bool blank = r.size == 0;
            if (f == PRS_FORMAT_JSONL) {
                blank = true;
                for (size_t k = 0; k < r.size; k++)
                    if (!strchr(" \t\r", b[r.off + k])) blank = false;
            }
            if (!blank) {
                cr_assert_lt(count, max);
                out[count++] = r;
            }
            if (end) break;
            start = i + 1;
            start_line = line + 1;
            st = FSTART;
        } else if (csv) {
            char c = b[i];
            switch (st) {
            case FSTART:
                st = c == '"' ? QUOTED : c == sep ? FSTART : UNQ;
                break;
            case UNQ:
                st = c == sep ? FSTART : UNQ;
                break;
            case QUOTED:
                st = c == '"' ? QUOTE_SEEN : QUOTED;
                break;
            case QUOTE_SEEN:
                st = c == '"' ? QUOTED : c == sep ? FSTART : UNQ;
                break;
            }
        }
        if (!end && b[i] == '\n') line++;
    }
    return count;
}

static uint64_t rng_state;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static size_t random_input(char *buf, size_t cap) {
    static const char alphabet[] = "ab,,\t\"\"\"\n\n\n\r {}[]:1\"";
    size_t n = rnd() % cap, i = 0;
    if (n >= 3 && rnd() % 8 == 0) {
        memcpy(buf, "\xEF\xBB\xBF", 3);
        i = 3;
    }
    /* mostly short runs of one byte class, so quotes pair up and lines repeat */
    while (i < n) {
        char c = alphabet[rnd() % (sizeof(alphabet) - 1)];
        size_t run = rnd() % 4 == 0 ? 1 + rnd() % 6 : 1;
        for (size_t k = 0; k < run && i < n; k++)
            buf[i++] = c;
    }
    return n;
}

/* A gap between records holds only skipped lines: blank (jsonl: whitespace only), each
 * ending in '\n' except possibly at the end of the buffer -- and only a BOM before. */
static void check_gap(enum prs_format f, const char *b, size_t from, size_t to, size_t len) {
    if (from == 0 && to >= 3 && memcmp(b, "\xEF\xBB\xBF", 3) == 0) from = 3;
    size_t line_start = from;
    for (size_t i = from; i < to; i++) {
        char c = b[i];
        if (c == '\n') {
            line_start = i + 1;
            continue;
        }
        if (f == PRS_FORMAT_JSONL)
            cr_assert(c == ' ' || c == '\t' || c == '\r', "byte %zu (0x%02x) skipped", i,
                      (unsigned char)c);
        else
            cr_assert(c == '\r' && i + 1 < to && b[i + 1] == '\n' && i == line_start,
                      "byte %zu (0x%02x) skipped", i, (unsigned char)c);
    }
    cr_assert(to == len || line_start == to, "a skipped gap ends a line");
}

static void check_one(enum prs_format f, const char *b, size_t n, uint32_t limit) {
    static split sp;
    static ref_rec ref[MAX_RECS];
    split_all(&sp, f, b, n);
    size_t rn = ref_split(f, b, n, ref, MAX_RECS);
    bool csv = f == PRS_FORMAT_CSV || f == PRS_FORMAT_TSV;
    /* the reference returns the header as its first record */
    const prs_record *all[MAX_RECS + 1];
    size_t an = 0;
    if (csv && sp.has_header) all[an++] = &sp.header;
    for (size_t i = 0; i < sp.n; i++)
        all[an++] = &sp.r[i];
    cr_assert_eq(an, rn, "%s: %zu records, reference %zu", prs_format_name(f), an, rn);
    if (csv) cr_assert_eq(sp.has_header, rn > 0);

    size_t prev_end = 0;
    uint64_t newlines = 0; /* '\n' in b[0, prev_end) */
    for (size_t i = 0; i < an; i++) {
        const prs_record *r = all[i];
        cr_assert_eq(r->offset, ref[i].off, "record %zu offset", i);
        cr_assert_eq(r->size_bytes, ref[i].size, "record %zu size", i);
        cr_assert_eq(r->line, ref[i].line, "record %zu line", i);
        cr_assert_eq(r->term_bytes, ref[i].term, "record %zu term", i);
        if (csv) cr_assert_eq(r->error != NULL, ref[i].bad, "record %zu malformed flag", i);
        if (f == PRS_FORMAT_LINES) cr_assert_null(r->error);
        /* independent of the reference: order, gaps, line numbers, terminators */
        cr_assert_geq(r->offset, prev_end);
        check_gap(f, b, prev_end, r->offset, n);
        for (size_t k = prev_end; k < r->offset; k++)
            newlines += b[k] == '\n';
        cr_assert_eq(r->line, newlines + 1);
        cr_assert_gt(r->size_bytes, 0);
        size_t end = r->offset + r->size_bytes;
        if (r->term_bytes == 0) cr_assert_eq(end, n);
        if (r->term_bytes == 1)
            cr_assert(b[end] == '\n' && (r->size_bytes == 0 || b[end - 1] != '\r'));
        if (r->term_bytes == 2) cr_assert(b[end] == '\r' && b[end + 1] == '\n');
        if (csv && r->error) cr_assert_eq(end, n, "only a record running to the end is malformed");
        prev_end = end + r->term_bytes;
        for (size_t k = r->offset; k < prev_end; k++)
            newlines += b[k] == '\n';
    }
    check_gap(f, b, prev_end, n, n);

    /* batches: greedy, never over the limit unless alone, and each one re-splits alone */
    prs_batcher bt;
    cr_assert_eq(prs_batcher_init(&bt, limit), 0);
    size_t first = 0;
    uint64_t bytes = 0, seen = 0;
    for (size_t i = 0; i <= sp.n; i++) {
        bool starts = i == sp.n || prs_batcher_add(&bt, &sp.r[i]);
        uint64_t rb = i < sp.n ? sp.r[i].size_bytes + sp.r[i].term_bytes : 0;
        if (starts && i > first) {
            cr_assert(bytes <= limit || i - first == 1, "batch of %llu bytes",
                      (unsigned long long)bytes);
            if (i < sp.n) cr_assert_gt(bytes + rb, limit, "greedy: record %zu fitted", i);
            const prs_record *last = &sp.r[i - 1];
            prs_splitter s;
            cr_assert_eq(prs_splitter_init_at(&s, f, b,
                                              last->offset + last->size_bytes + last->term_bytes,
                                              sp.r[first].offset, sp.r[first].line),
                         0);
            prs_record r;
            for (size_t k = first; k < i; k++) {
                cr_assert_eq(prs_splitter_next(&s, &r), 1);
                cr_assert(same_rec(&r, &sp.r[k]), "re-split record %zu differs", k);
                seen++;
            }
            cr_assert_eq(prs_splitter_next(&s, &r), 0, "batch ends on its last record");
            first = i;
            bytes = 0;
        }
        bytes += rb;
    }
    cr_assert_eq(seen, sp.n, "every record in exactly one batch");
}

Test(records, property_random_inputs_match_reference_and_batch_cleanly) {
    static char buf[600];
    enum prs_format fs[] = {PRS_FORMAT_CSV, PRS_FORMAT_TSV, PRS_FORMAT_JSONL, PRS_FORMAT_LINES};
    rng_state = 0x9E3779B97F4A7C15ull;
    for (int iter = 0; iter < 40000; iter++) {
        size_t n = random_input(buf, sizeof(buf));
        uint32_t limit = 1 + rnd() % (rnd() % 2 ? 16 : 400);
        check_one(fs[iter % 4], buf, n, limit);
    }
}

Test(records, property_long_lines_and_rare_quotes) {
    /* long lines with few quotes: the cached next-quote offset is reused across many
     * records, and quoted fields spanning several lines are common */
    static char buf[20000];
    rng_state = 12345;
    for (int iter = 0; iter < 600; iter++) {
        size_t n = 1 + rnd() % sizeof(buf);
        for (size_t i = 0; i < n; i++) {
            uint32_t r = rnd() % 1000;
            buf[i] = r < 3 ? '"' : r < 60 ? '\n' : r < 150 ? ',' : r < 152 ? '\r' : 'x';
        }
        check_one(iter % 2 ? PRS_FORMAT_CSV : PRS_FORMAT_TSV, buf, n, 1 + rnd() % 4000);
    }
}
