/* The job's configuration (core/config): validation messages, the identity text a resume
 * must match, and the diff naming the first option that changed. Pure functions: no
 * files, no job. */
#include "config.h"

#include "records.h"

#include <criterion/criterion.h>
#include <string.h>

static prs_job_config valid(void) {
    prs_job_config c;
    prs_job_config_defaults(&c);
    c.input = "/in";
    c.output_dir = "/out";
    c.entry_script = "/s.so";
    return c;
}

/* validate must fail with -EINVAL and a message containing want. */
static void refused(const prs_job_config *c, const char *want) {
    char err[512] = "";
    cr_assert_eq(prs_config_validate(c, err, sizeof(err)), -EINVAL, "accepted; wanted '%s'", want);
    cr_assert(strstr(err, want), "message '%s' lacks '%s'", err, want);
}

Test(config, defaults_are_valid) {
    prs_job_config c = valid();
    char err[512] = "";
    cr_assert_eq(prs_config_validate(&c, err, sizeof(err)), 0, "%s", err);
    c.entry_script = NULL;
    c.entry.run = (prs_run_fn)1; /* a function table instead of a script */
    cr_assert_eq(prs_config_validate(&c, err, sizeof(err)), 0, "%s", err);
}

Test(config, required_options) {
    prs_job_config c = valid();
    c.input = "";
    refused(&c, "--input is required");
    c = valid();
    c.output_dir = NULL;
    refused(&c, "--output is required");
    c = valid();
    c.entry_script = NULL;
    refused(&c, "--entry-script is required");
}

Test(config, ranges) {
    prs_job_config c = valid();
    c.workers = PRS_MAX_WORKERS + 1;
    refused(&c, "--workers 257: at most 256");
    c = valid();
    c.run_max_try = 0;
    refused(&c, "--run-max-try 0");
    c = valid();
    c.error_threshold = -2;
    refused(&c, "--error-threshold");
    c = valid();
    c.allowed_failed_count = -5;
    refused(&c, "--allowed-failed-count");
    c = valid();
    c.allowed_failed_percent = 101;
    refused(&c, "--allowed-failed-percent");
    c = valid();
    c.mini_batch_size = 0;
    refused(&c, "at least 1 file");
    c = valid();
    c.input_format = PRS_FORMAT_CSV;
    c.mini_batch_bytes = 0;
    refused(&c, "at least 1 byte");
    c = valid();
    c.input_format = 99;
    refused(&c, "--input-format: unknown format 99");
    c = valid();
    c.io_mode = 7;
    refused(&c, "--io: unknown mode 7");
}

Test(config, shapes) {
    prs_job_config c = valid();
    c.append_row_file_name = "a/b";
    refused(&c, "--append-row-file-name 'a/b'");
    c.append_row_file_name = "..";
    refused(&c, "a plain file name");
    c = valid();
    c.argc = 2;
    c.argv = NULL;
    refused(&c, "argc without argv");
    c = valid();
    c.side_table_count = 1;
    refused(&c, "a count without values");
    const char *env[] = {"=x"};
    c = valid();
    c.env = env;
    c.env_count = 1;
    refused(&c, "--env");
}

static const char *text_of(const prs_job_config *c, const prs_side_config *side, char *buf,
                           size_t size) {
    cr_assert_eq(prs_config_text(c, "/abs/in", "/abs/s.so", NULL, side, buf, size), 0);
    return buf;
}

Test(config, identity_text) {
    prs_job_config c = valid();
    prs_side_config side = {0};
    char buf[PRS_CONFIG_TEXT_BYTES];
    cr_assert_str_eq(text_of(&c, &side, buf, sizeof(buf)),
                     "input=/abs/in\nentry_script=/abs/s.so\nmini_batch_size=10\n"
                     "output_action=append_row\nappend_row_file_name=parallel_run_step.txt\n"
                     "input_format=files\n");
    /* A list keeps its '@'; a tabular job counts bytes; a function table has no path. */
    c.input = "@/list";
    c.input_format = PRS_FORMAT_CSV;
    c.output_action = PRS_OUTPUT_SUMMARY_ONLY;
    cr_assert_eq(prs_config_text(&c, "/abs/list", NULL, NULL, &side, buf, sizeof(buf)), 0);
    cr_assert(strstr(buf, "input=@/abs/list\n"), "%s", buf);
    cr_assert(strstr(buf, "entry_script=(function table)\n"), "%s", buf);
    cr_assert(strstr(buf, "mini_batch_size=1048576 bytes\n"), "%s", buf);
    cr_assert(strstr(buf, "output_action=summary_only\n"), "%s", buf);
    cr_assert(strstr(buf, "input_format=csv\n"), "%s", buf);
}

Test(config, identity_names_side_options) {
    prs_job_config c = valid();
    prs_side_config side = {0};
    char err[256];
    cr_assert_eq(prs_side_parse_input("model=/m", &side.inputs[0], err, sizeof(err)), 0);
    side.input_count = 1;
    cr_assert_eq(prs_side_parse_table("t=/t.tsv,key=id", &side.tables[0], err, sizeof(err)), 0);
    side.table_count = 1;
    char buf[PRS_CONFIG_TEXT_BYTES];
    text_of(&c, &side, buf, sizeof(buf));
    cr_assert(strstr(buf, "side_input.model=/m\n"), "%s", buf);
    cr_assert(strstr(buf, "side_table.t=/t.tsv,key=id,format=tsv\n"), "%s", buf);
}

Test(config, identity_too_long) {
    prs_job_config c = valid();
    prs_side_config side = {0};
    char buf[64];
    cr_assert_eq(prs_config_text(&c, "/abs/in", "/abs/s.so", NULL, &side, buf, sizeof(buf)),
                 -ENAMETOOLONG);
}

Test(config, diff_names_first_changed_option) {
    char out[256];
    prs_config_diff("input=/a\nmini_batch_size=10\n", "input=/a\nmini_batch_size=20\n", out,
                    sizeof(out));
    cr_assert_str_eq(out, "--mini-batch-size was '10', now '20'");
    prs_config_diff("input=/a\nmini_batch_size=10\n", "input=/b\nmini_batch_size=20\n", out,
                    sizeof(out));
    cr_assert_str_eq(out, "--input was '/a', now '/b'");
}

Test(config, diff_new_and_missing_keys) {
    char out[256];
    /* An option the stored job did not have: it "was" empty. */
    prs_config_diff("input=/a\n", "input=/a\nside_input.m=/m\n", out, sizeof(out));
    cr_assert_str_eq(out, "--side-input.m was '', now '/m'");
    /* Only a line gone from now: no line of now differs. */
    prs_config_diff("input=/a\nside_input.m=/m\n", "input=/a\n", out, sizeof(out));
    cr_assert_str_eq(out, "the options differ");
    /* A key that is a prefix of another is not mistaken for it. */
    prs_config_diff("input_format=csv\ninput=/a\n", "input=/b\n", out, sizeof(out));
    cr_assert_str_eq(out, "--input was '/a', now '/b'");
}

Test(config, diff_truncates_safely) {
    char out[8];
    prs_config_diff("input=/aaaaaaaa\n", "input=/bbbbbbbb\n", out, sizeof(out));
    cr_assert_eq(strlen(out), sizeof(out) - 1);
}

/* Issue 13 case 8: a resume with --input-format lines over a files job named
 * --mini-batch-size (whose text depends on the format) instead of the format. */
Test(config, diff_names_a_changed_format_before_the_batch_size) {
    prs_job_config c = valid();
    prs_side_config side = {0};
    char a[PRS_CONFIG_TEXT_BYTES], b[PRS_CONFIG_TEXT_BYTES], out[256];
    text_of(&c, &side, a, sizeof(a));
    c.input_format = PRS_FORMAT_LINES;
    text_of(&c, &side, b, sizeof(b));
    prs_config_diff(a, b, out, sizeof(out));
    cr_assert_str_eq(out, "--input-format was 'files', now 'lines'");
    c = valid();
    c.mini_batch_size = 20; /* the format equal: the size is named */
    text_of(&c, &side, b, sizeof(b));
    prs_config_diff(a, b, out, sizeof(out));
    cr_assert_str_eq(out, "--mini-batch-size was '10', now '20'");
}

/* Issue 13 case 9: the script's identity is the text's last line; a changed one is told
 * apart from a changed option, and a text without one (an older job) from both. */
Test(config, script_identity_is_compared_apart) {
    prs_job_config c = valid();
    prs_side_config side = {0};
    char old[PRS_CONFIG_TEXT_BYTES], now[PRS_CONFIG_TEXT_BYTES], none[PRS_CONFIG_TEXT_BYTES];
    char was[PRS_CONFIG_SCRIPT_ID_BYTES], id[PRS_CONFIG_SCRIPT_ID_BYTES];
    cr_assert_eq(prs_config_text(&c, "/abs/in", "/abs/s.so", "size=1,xxh3=00000000000000aa", &side,
                                 old, sizeof(old)),
                 0);
    cr_assert_eq(prs_config_text(&c, "/abs/in", "/abs/s.so", "size=2,xxh3=00000000000000bb", &side,
                                 now, sizeof(now)),
                 0);
    text_of(&c, &side, none, sizeof(none));
    cr_assert(
        strstr(old, "input_format=files\nentry_script_identity=size=1,xxh3=00000000000000aa\n"),
        "%s", old);
    prs_config_script_id(now, id, sizeof(id));
    cr_assert_str_eq(id, "size=2,xxh3=00000000000000bb");
    cr_assert_eq(prs_config_compare(old, old, was, sizeof(was)), PRS_CONFIG_SAME);
    cr_assert_eq(prs_config_compare(old, now, was, sizeof(was)), PRS_CONFIG_SCRIPT_CHANGED);
    cr_assert_str_eq(was, "size=1,xxh3=00000000000000aa");
    cr_assert_eq(prs_config_compare(none, now, was, sizeof(was)), PRS_CONFIG_SCRIPT_UNRECORDED);
    cr_assert_str_eq(was, "");
    c.mini_batch_size = 20; /* another option too: a different job, named by the diff */
    cr_assert_eq(prs_config_text(&c, "/abs/in", "/abs/s.so", "size=2,xxh3=00000000000000bb", &side,
                                 now, sizeof(now)),
                 0);
    cr_assert_eq(prs_config_compare(old, now, was, sizeof(was)), PRS_CONFIG_DIFFERENT);
    char out[256];
    prs_config_diff(old, now, out, sizeof(out));
    cr_assert_str_eq(out, "--mini-batch-size was '10', now '20'");
}
