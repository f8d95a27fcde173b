/* The append-only output: truncation to the committed length, refusal when shorter. */
#include "outfile.h"
#include "util.h"

#include <criterion/criterion.h>
#include <string.h>

Test(outfile, append_then_reopen_truncates_to_committed) {
    char dir[256], path[512], err[512];
    tu_tmpdir(dir, sizeof(dir), "outfile");
    snprintf(path, sizeof(path), "%s/out.txt", dir);
    prs_outfile o;
    cr_assert_eq(prs_outfile_open(&o, path, 0, err, sizeof(err)), 0);
    cr_assert_eq(prs_outfile_append(&o, "a\nb\n", 4), 0);
    cr_assert_eq(prs_outfile_sync(&o), 0);
    cr_assert_eq(o.size_bytes, 4);
    cr_assert_eq(prs_outfile_append(&o, "uncommitted\n", 12), 0);
    prs_outfile_close(&o);
    /* Resume: only the first 4 bytes were committed. */
    cr_assert_eq(prs_outfile_open(&o, path, 4, err, sizeof(err)), 0);
    cr_assert_eq(prs_outfile_append(&o, "c\n", 2), 0);
    prs_outfile_close(&o);
    char *text = tu_read(path, NULL);
    cr_assert_str_eq(text, "a\nb\nc\n");
    free(text);
    tu_rmrf(dir);
}

Test(outfile, shorter_than_committed_is_refused_and_untouched) {
    char dir[256], path[512], err[512];
    tu_tmpdir(dir, sizeof(dir), "outfile");
    snprintf(path, sizeof(path), "%s/out.txt", dir);
    tu_write(path, "xy", 2);
    prs_outfile o;
    cr_assert_eq(prs_outfile_open(&o, path, 10, err, sizeof(err)), -EBADMSG);
    cr_assert(strstr(err, path) != NULL, "message names the file: %s", err);
    char *text = tu_read(path, NULL);
    cr_assert_str_eq(text, "xy");
    free(text);
    tu_rmrf(dir);
}

Test(outfile, unwritable_directory_names_the_path) {
    char err[512];
    prs_outfile o;
    int rc = prs_outfile_open(&o, "/nonexistent-dir/out.txt", 0, err, sizeof(err));
    cr_assert_lt(rc, 0);
    cr_assert(strstr(err, "/nonexistent-dir/out.txt") != NULL);
}
