/* Dataset walking: deterministic sorted order, recursion, lists, bad roots. */
#include "scan.h"
#include "util.h"

#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

typedef struct seen {
    char names[64][256];
    int n;
} seen;

static int collect(void *arg, const char *path, size_t len) {
    seen *s = arg;
    cr_assert_lt(s->n, 64);
    cr_assert_eq(strlen(path), len);
    snprintf(s->names[s->n++], 256, "%s", path);
    return 0;
}

Test(scan, sorted_recursive_order) {
    char dir[256], p[512], err[512];
    tu_tmpdir(dir, sizeof(dir), "scan");
    const char *files[] = {"b.txt", "a/z.txt", "a/b/c.txt", "A.txt", "c", "a/a.txt"};
    for (size_t i = 0; i < PRS_ARRAY_LEN(files); i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
        tu_write(p, "x", 1);
    }
    snprintf(p, sizeof(p), "%s/emptydir", dir);
    tu_sh("mkdir -p '%s'", p);
    seen s = {0};
    cr_assert_eq(prs_scan_dir(dir, collect, &s, err, sizeof(err)), 0);
    const char *want[] = {"A.txt", "a/a.txt", "a/b/c.txt", "a/z.txt", "b.txt", "c"};
    cr_assert_eq(s.n, 6);
    for (int i = 0; i < 6; i++)
        cr_assert_str_eq(s.names[i], want[i]);
    tu_rmrf(dir);
}

Test(scan, symlinked_dirs_not_followed_links_to_files_are_items) {
    char dir[256], p[512], err[512];
    tu_tmpdir(dir, sizeof(dir), "scan");
    snprintf(p, sizeof(p), "%s/d/f.txt", dir);
    tu_write(p, "x", 1);
    tu_sh("ln -s d '%s/loop' && ln -s d/f.txt '%s/link.txt'", dir, dir);
    seen s = {0};
    cr_assert_eq(prs_scan_dir(dir, collect, &s, err, sizeof(err)), 0);
    cr_assert_eq(s.n, 2);
    cr_assert_str_eq(s.names[0], "d/f.txt");
    cr_assert_str_eq(s.names[1], "link.txt");
    tu_rmrf(dir);
}

Test(scan, missing_root_is_an_error_naming_it) {
    char err[512] = "";
    seen s = {0};
    cr_assert_eq(prs_scan_dir("/no/such/dir", collect, &s, err, sizeof(err)), -ENOENT);
    cr_assert(strstr(err, "/no/such/dir") != NULL, "%s", err);
}

Test(scan, list_file_lines_and_nul_separated) {
    char dir[256], p[512], err[512], cwd[512];
    tu_tmpdir(dir, sizeof(dir), "scan");
    snprintf(p, sizeof(p), "%s/list.txt", dir);
    tu_write(p, "/abs/one\nrel/two\r\n\n", 19);
    seen s = {0};
    cr_assert_eq(prs_scan_list(p, collect, &s, err, sizeof(err)), 0);
    cr_assert_eq(s.n, 2);
    cr_assert_str_eq(s.names[0], "/abs/one");
    cr_assert(getcwd(cwd, sizeof(cwd)) != NULL);
    char want[1024];
    snprintf(want, sizeof(want), "%s/rel/two", cwd);
    cr_assert_str_eq(s.names[1], want);
    tu_write(p, "/a\0/b\0", 6);
    seen t = {0};
    cr_assert_eq(prs_scan_list(p, collect, &t, err, sizeof(err)), 0);
    cr_assert_eq(t.n, 2);
    cr_assert_str_eq(t.names[1], "/b");
    tu_rmrf(dir);
}

static int stop_at_two(void *arg, const char *path, size_t len) {
    (void)path, (void)len;
    return ++*(int *)arg == 2 ? -ECANCELED : 0;
}

Test(scan, callback_error_stops_the_walk) {
    char dir[256], err[512];
    tu_tmpdir(dir, sizeof(dir), "scan");
    tu_dataset(dir, 5);
    int calls = 0;
    cr_assert_eq(prs_scan_dir(dir, stop_at_two, &calls, err, sizeof(err)), -ECANCELED);
    cr_assert_eq(calls, 2);
    tu_rmrf(dir);
}
