/* core/base/: the shared floor's helpers -- mkdir -p, the little-endian codec, LMDB's
 * error mapping, the corruption error, the clocks and the counts helpers. */
#include "base.h"
#include "clock.h"
#include "counts.h"
#include "fs.h"
#include "le.h"
#include "mdb_err.h"
#include "util.h"

#include <criterion/criterion.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

Test(base, mkdir_p_makes_every_parent_and_accepts_existing, .timeout = 30) {
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof(dir), "base");
    snprintf(path, sizeof(path), "%s/a/b/c", dir);
    cr_assert_eq(prs_mkdir_p(path), 0);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    cr_assert_eq(prs_mkdir_p(path), 0, "an existing directory is fine");
    snprintf(path, sizeof(path), "%s/a/b/c/", dir);
    cr_assert_eq(prs_mkdir_p(path), 0, "a trailing slash is fine");
    tu_rmrf(dir);
}

Test(base, mkdir_p_reports_the_first_failure, .timeout = 30) {
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof(dir), "base");
    snprintf(path, sizeof(path), "%s/file", dir);
    tu_write(path, "x", 1);
    snprintf(path, sizeof(path), "%s/file/sub", dir);
    cr_assert_eq(prs_mkdir_p(path), -ENOTDIR);
    snprintf(path, sizeof(path), "%s/file", dir);
    cr_assert_eq(prs_mkdir_p(path), 0, "EEXIST of a file is not checked: open says more");
    char *big = malloc(PATH_MAX + 2);
    memset(big, 'a', PATH_MAX + 1);
    big[PATH_MAX + 1] = 0;
    cr_assert_eq(prs_mkdir_p(big), -ENAMETOOLONG);
    free(big);
    tu_rmrf(dir);
}

Test(base, little_endian_layout_and_round_trip) {
    uint8_t b[8];
    prs_le32_put(b, 0x11223344u);
    cr_assert(b[0] == 0x44 && b[1] == 0x33 && b[2] == 0x22 && b[3] == 0x11);
    cr_assert_eq(prs_le32_get(b), 0x11223344u);
    prs_le64_put(b, 0x0102030405060708ull);
    cr_assert(b[0] == 0x08 && b[7] == 0x01);
    cr_assert_eq(prs_le64_get(b), 0x0102030405060708ull);
    prs_le16_put(b + 1, 0xfffe); /* unaligned */
    cr_assert(b[1] == 0xfe && b[2] == 0xff);
    cr_assert_eq(prs_le16_get(b + 1), 0xfffe);
    prs_le64_put(b, UINT64_MAX);
    cr_assert_eq(prs_le64_get(b), UINT64_MAX);
}

Test(base, lmdb_codes_map_to_one_errno_each) {
    cr_assert_eq(prs_mdb_err(0), 0);
    cr_assert_eq(prs_mdb_err(ENOSPC), -ENOSPC, "the disk, not the map");
    cr_assert_eq(prs_mdb_err(MDB_NOTFOUND), -ENOENT);
    cr_assert_eq(prs_mdb_err(MDB_MAP_FULL), -EFBIG);
    cr_assert_eq(prs_mdb_err(MDB_CORRUPTED), -EBADMSG);
    cr_assert_eq(prs_mdb_err(MDB_INVALID), -EBADMSG);
    cr_assert_eq(prs_mdb_err(MDB_VERSION_MISMATCH), -EBADMSG);
    cr_assert_eq(prs_mdb_err(MDB_TXN_FULL), -EIO);
    cr_assert_eq(prs_mdb_err(MDB_BAD_VALSIZE), -EIO);
}

Test(base, corrupt_returns_ebadmsg_naming_file_and_check, .timeout = 30) {
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof(dir), "base");
    snprintf(path, sizeof(path), "%s/stderr.txt", dir);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    FILE *f = freopen(path, "w", stderr);
    cr_assert(f);
    int rc = PRS_CORRUPT("OUT/.prs/side/data.mdb", "chunk %u is %zu bytes", 3u, (size_t)7);
    int line = __LINE__ - 1;
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    cr_assert_eq(rc, -EBADMSG);
    char *text = tu_read(path, NULL);
    char want[128];
    snprintf(want, sizeof(want), "test_base.c:%d", line);
    cr_assert(text && strstr(text, "OUT/.prs/side/data.mdb: corrupt data: chunk 3 is 7 bytes") &&
                  strstr(text, want),
              "%s", text ? text : "(none)");
    free(text);
    tu_rmrf(dir);
}

Test(base, clocks_and_deadlines) {
    uint64_t a = prs_mono_ns(), b = prs_mono_ns();
    cr_assert(a > 0 && b >= a, "monotonic");
    cr_assert(prs_wall_ms() > 1600000000000ull, "wall clock after 2020");
    cr_assert_eq(prs_clock_ns((clockid_t)-12345), 0, "a clock that cannot be read gives 0");
    struct timespec d = prs_mono_deadline(1500);
    uint64_t at = (uint64_t)d.tv_sec * 1000000000ull + (uint64_t)d.tv_nsec;
    cr_assert(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
    cr_assert(at >= b + 1500000000ull, "the deadline lies timeout_ms ahead");
}

Test(base, counts_finished) {
    prs_counts c = {.total_batches = 10,
                    .total_items = 100,
                    .done_batches = 3,
                    .failed_batches = 2,
                    .succeeded_items = 30,
                    .failed_items = 15};
    cr_assert_eq(prs_counts_finished_batches(&c), 5);
    cr_assert_eq(prs_counts_finished_items(&c), 45);
}
