/* Batch reader: sizes around the chunk and the mmap threshold, per-item errors, 10k files,
 * two slots in flight, files changing size mid-read, the io_uring -> sync fallback.
 * Every behaviour is checked on both paths: suite reader_sync and suite reader_uring (the
 * latter skips, saying why, where io_uring cannot be set up). */
#include "reader.h"
#include "util.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KIB ((size_t)1 << 10)
#define MIB ((size_t)1 << 20)

/* Runs `name##_check(mode)` once per path. */
#define BOTH_PATHS(name)                                                                           \
    static void name##_check(enum prs_io_mode mode);                                               \
    Test(reader_sync, name) {                                                                      \
        name##_check(PRS_IO_SYNC);                                                                 \
    }                                                                                              \
    Test(reader_uring, name) {                                                                     \
        need_uring();                                                                              \
        name##_check(PRS_IO_URING);                                                                \
    }                                                                                              \
    static void name##_check(enum prs_io_mode mode)

static void need_uring(void) {
    prs_reader *r = NULL;
    char why[PRS_READER_WHY_BYTES];
    int rc = prs_reader_create(&r, AT_FDCWD, PRS_IO_URING, 0, why, sizeof(why));
    if (rc != 0) cr_skip_test("io_uring unavailable here (%d): %s", rc, why);
    prs_reader_destroy(r);
}

/* ---- fixtures ---------------------------------------------------------------------------- */

typedef struct fixture {
    char dir[256];
    int dirfd;
} fixture;

static void fx_open(fixture *fx, const char *tag) {
    tu_tmpdir(fx->dir, sizeof(fx->dir), tag);
    fx->dirfd = open(fx->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cr_assert_geq(fx->dirfd, 0);
}

static void fx_close(fixture *fx) {
    close(fx->dirfd);
    tu_rmrf(fx->dir);
}

/* Content is a function of (seed, offset) so any prefix can be checked without keeping it. */
static uint8_t content_byte(uint32_t seed, size_t off) {
    uint64_t x = ((uint64_t)seed << 32) ^ (off / 8) ^ 0x9e3779b97f4a7c15ull;
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    return (uint8_t)(x >> (8 * (off % 8)));
}

static void fill_content(uint8_t *buf, uint32_t seed, size_t size) {
    for (size_t k = 0; k < size; k++)
        buf[k] = content_byte(seed, k);
}

static void make_file(const fixture *fx, const char *rel, uint32_t seed, size_t size) {
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", fx->dir, rel);
    uint8_t *buf = malloc(size ? size : 1);
    cr_assert_not_null(buf);
    fill_content(buf, seed, size);
    tu_write(path, buf, size);
    free(buf);
}

static void check_item(const prs_read_item *it, const char *rel, uint32_t seed, size_t size) {
    cr_assert_eq(it->error, 0, "%s: error %d (%s)", rel, it->error, strerror(-it->error));
    cr_assert_eq(it->size_bytes, size, "%s: %zu bytes, want %zu", rel, it->size_bytes, size);
    cr_assert_not_null(it->data, "%s: NULL data", rel);
    const uint8_t *d = it->data;
    for (size_t k = 0; k < size; k++)
        if (d[k] != content_byte(seed, k))
            cr_assert_fail("%s: byte %zu differs (0x%02x, want 0x%02x)", rel, k, d[k],
                           content_byte(seed, k));
}

static void check_error(const prs_read_item *it, const char *rel, int want) {
    cr_assert_eq(it->error, want, "%s: error %d (%s), want %d (%s)", rel, it->error,
                 strerror(-it->error), want, strerror(-want));
    cr_assert_null(it->data, "%s", rel);
    cr_assert_eq(it->size_bytes, 0, "%s", rel);
}

static prs_reader *make_reader(const fixture *fx, enum prs_io_mode mode, size_t threshold) {
    prs_reader *r = NULL;
    char why[PRS_READER_WHY_BYTES];
    int rc = prs_reader_create(&r, fx->dirfd, mode, threshold, why, sizeof(why));
    cr_assert_eq(rc, 0, "create: %d %s", rc, why);
    cr_assert_eq(prs_reader_uses_uring(r), mode == PRS_IO_URING, "%s", why);
    return r;
}

/* submit + wait on one slot; returns the items. */
static const prs_read_item *read_batch(prs_reader *r, unsigned slot, const char *const *paths,
                                       uint32_t n) {
    int rc = prs_reader_submit(r, slot, paths, n);
    cr_assert_eq(rc, 0, "submit: %d", rc);
    const prs_read_item *items = NULL;
    rc = prs_reader_wait(r, slot, &items);
    cr_assert_eq(rc, (int)n, "wait: %d", rc);
    return items;
}

/* ---- sizes ------------------------------------------------------------------------------- */

typedef struct sized {
    const char *name;
    size_t size;
} sized;

static void check_sizes(enum prs_io_mode mode, size_t threshold, const sized *files, uint32_t n,
                        uint64_t want_mapped) {
    fixture fx;
    fx_open(&fx, "reader");
    const char *paths[32];
    cr_assert_leq(n, 32);
    for (uint32_t i = 0; i < n; i++) {
        make_file(&fx, files[i].name, i + 1, files[i].size);
        paths[i] = files[i].name;
    }
    prs_reader *r = make_reader(&fx, mode, threshold);
    /* Twice: the second round runs on a warm pool (recycled buffers) and must match. */
    for (int round = 0; round < 2; round++) {
        const prs_read_item *items = read_batch(r, (unsigned)round % 2, paths, n);
        for (uint32_t i = 0; i < n; i++)
            check_item(&items[i], paths[i], i + 1, files[i].size);
        prs_reader_release(r, (unsigned)round % 2);
    }
    prs_reader_stats st;
    prs_reader_get_stats(r, &st);
    cr_assert_eq(st.items, 2u * n);
    cr_assert_eq(st.items_failed, 0);
    cr_assert_eq(st.items_mapped, 2 * want_mapped, "mapped %llu, want %llu",
                 (unsigned long long)st.items_mapped, 2 * (unsigned long long)want_mapped);
    prs_reader_destroy(r);
    fx_close(&fx);
}

/* Threshold 16 KiB: the first-read chunk equals the threshold, so its edge is the chunk's. */
BOTH_PATHS(sizes_around_small_threshold) {
    const size_t t = 16 * KIB;
    const sized files[] = {{"empty", 0},      {"one", 1},
                           {"t-1", t - 1},    {"t", t},
                           {"t+1", t + 1},    {"sub/3t+5", 3 * t + 5},
                           {"page", 4 * KIB}, {"page+1", 4 * KIB + 1}};
    check_sizes(mode, t, files, PRS_ARRAY_LEN(files), 3);
}

/* Default threshold (1 MiB) with a 64 KiB chunk: files between go through fstat + read. */
BOTH_PATHS(sizes_around_default_threshold) {
    const size_t t = PRS_READER_DEFAULT_MMAP_THRESHOLD_BYTES;
    const sized files[] = {
        {"empty", 0},          {"one", 1},         {"c-1", 64 * KIB - 1}, {"c", 64 * KIB},
        {"c+1", 64 * KIB + 1}, {"mid", 300001},    {"t-1", t - 1},        {"t", t},
        {"t+1", t + 1},        {"big", 3 * t + 7},
    };
    check_sizes(mode, 0, files, PRS_ARRAY_LEN(files), 3);
}

/* Most files above the chunk: the chunk doubles, and the next batch reads them in one go. */
BOTH_PATHS(chunk_grows_when_files_overflow_it) {
    fixture fx;
    fx_open(&fx, "reader");
    enum { N = 16 };
    static char names[N][16];
    const char *paths[N];
    for (uint32_t i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "f%02u", i);
        paths[i] = names[i];
        make_file(&fx, names[i], 50 + i, 100 * KIB + i);
    }
    prs_reader *r = make_reader(&fx, mode, 0);
    prs_reader_stats st;
    prs_reader_get_stats(r, &st);
    cr_assert_eq(st.chunk_bytes, 64 * KIB);
    for (int round = 0; round < 2; round++) {
        const prs_read_item *items = read_batch(r, 0, paths, N);
        for (uint32_t i = 0; i < N; i++)
            check_item(&items[i], paths[i], 50 + i, 100 * KIB + i);
        prs_reader_release(r, 0);
        prs_reader_get_stats(r, &st);
        cr_assert_eq(st.chunk_bytes, 128 * KIB, "round %d", round);
        cr_assert_eq(st.items_restated, N, "round %d: only the first batch needs fstat", round);
    }
    prs_reader_destroy(r);
    fx_close(&fx);
}

/* ---- errors -------------------------------------------------------------------------------- */

BOTH_PATHS(errors_are_per_item) {
    fixture fx;
    fx_open(&fx, "reader");
    make_file(&fx, "a", 1, 10);
    make_file(&fx, "gone", 2, 10);
    make_file(&fx, "b", 3, 100 * KIB);
    make_file(&fx, "plain", 4, 5);
    tu_sh("mkdir -p '%s/dir/inner'", fx.dir);
    /* "gone" was there when the batch was made (the scan), and is removed before the read. */
    const char *paths[] = {"a", "missing", "dir", "gone", "b", "plain/x", "a"};
    char p[512];
    snprintf(p, sizeof(p), "%s/gone", fx.dir);
    cr_assert_eq(unlink(p), 0);
    prs_reader *r = make_reader(&fx, mode, 0);
    const prs_read_item *items = read_batch(r, 0, paths, PRS_ARRAY_LEN(paths));
    check_item(&items[0], "a", 1, 10);
    check_error(&items[1], "missing", -ENOENT);
    check_error(&items[2], "dir", -EISDIR);
    check_error(&items[3], "gone", -ENOENT);
    check_item(&items[4], "b", 3, 100 * KIB);
    check_error(&items[5], "plain/x", -ENOTDIR);
    check_item(&items[6], "a (again)", 1, 10);
    prs_reader_stats st;
    prs_reader_get_stats(r, &st);
    cr_assert_eq(st.items_failed, 4);
    prs_reader_destroy(r);
    fx_close(&fx);
}

/* As root (CAP_DAC_OVERRIDE) a mode-000 file opens fine, so the test drops to nobody for
 * real (keeping root as saved uid to clean up); if that is impossible it skips, saying so. */
static bool become_nobody(char *why, size_t why_size) {
    if (geteuid() != 0) return true;
    if (setgroups(0, NULL) != 0 || setresgid(65534, 65534, 0) != 0 ||
        setresuid(65534, 65534, 0) != 0) {
        snprintf(why, why_size, "running as root and cannot drop to uid 65534: %s",
                 strerror(errno));
        return false;
    }
    return true;
}

BOTH_PATHS(unreadable_file_is_eacces) {
    fixture fx;
    fx_open(&fx, "reader");
    chmod(fx.dir, 0755); /* nobody must reach the readable files */
    make_file(&fx, "ok", 1, 1000);
    make_file(&fx, "secret", 2, 1000);
    make_file(&fx, "secret_big", 3, 2 * MIB);
    char p[512];
    snprintf(p, sizeof(p), "%s/secret", fx.dir);
    cr_assert_eq(chmod(p, 0), 0);
    snprintf(p, sizeof(p), "%s/secret_big", fx.dir);
    cr_assert_eq(chmod(p, 0), 0);
    bool was_root = geteuid() == 0;
    char why[256] = "";
    if (!become_nobody(why, sizeof(why))) {
        fx_close(&fx);
        cr_skip_test("EACCES sub-check skipped: %s", why);
    }
    snprintf(p, sizeof(p), "%s/ok", fx.dir);
    if (access(p, R_OK) != 0) {
        if (was_root) (void)(seteuid(0) == 0 && setresuid(0, 0, 0) == 0);
        fx_close(&fx);
        cr_skip_test("EACCES sub-check skipped: unprivileged user cannot reach %s (%s)", fx.dir,
                     strerror(errno));
    }
    if (was_root) cr_log_info("running as root: dropped to uid 65534 to provoke EACCES");
    const char *paths[] = {"ok", "secret", "secret_big", "ok"};
    prs_reader *r = make_reader(&fx, mode, 0);
    const prs_read_item *items = read_batch(r, 1, paths, 4);
    check_item(&items[0], "ok", 1, 1000);
    check_error(&items[1], "secret", -EACCES);
    check_error(&items[2], "secret_big", -EACCES);
    check_item(&items[3], "ok (again)", 1, 1000);
    prs_reader_destroy(r);
    /* Fully root again, or the shell that removes the directory would drop privileges. */
    if (was_root) cr_assert(seteuid(0) == 0 && setresuid(0, 0, 0) == 0 && setresgid(0, 0, 0) == 0);
    fx_close(&fx);
}

/* ---- scale and pipelining ------------------------------------------------------------------ */

BOTH_PATHS(ten_thousand_files_in_one_batch) {
    enum { N = 10000 };
    fixture fx;
    fx_open(&fx, "reader");
    static char names[N][24];
    static const char *paths[N];
    static size_t sizes[N];
    for (uint32_t i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "d%02u/f%05u", i / 500, i);
        paths[i] = names[i];
        /* Mostly small; every 997th is above the chunk a 10k batch gets (budget-limited),
         * every 2500th is mapped. */
        sizes[i] = i % 2500 == 7 ? 1 * MIB + i : i % 997 == 3 ? 40 * KIB + i : (i * 37u) % 5000u;
        make_file(&fx, names[i], i + 100, sizes[i]);
    }
    prs_reader *r = make_reader(&fx, mode, 0);
    for (int round = 0; round < 2; round++) {
        const prs_read_item *items = read_batch(r, 0, paths, N);
        for (uint32_t i = 0; i < N; i++)
            check_item(&items[i], paths[i], i + 100, sizes[i]);
        prs_reader_release(r, 0);
    }
    prs_reader_stats st;
    prs_reader_get_stats(r, &st);
    cr_assert_eq(st.items, 2u * N);
    cr_assert_eq(st.items_mapped, 2u * 4u);
    cr_assert_lt(st.chunk_bytes, 64 * KIB + 1);
    prs_reader_destroy(r);
    fx_close(&fx);
}

BOTH_PATHS(two_slots_in_flight_are_independent) {
    fixture fx;
    fx_open(&fx, "reader");
    enum { NA = 40, NB = 25, NC = 10 };
    static char na[NA][16], nb[NB][16], nc[NC][16];
    const char *pa[NA], *pb[NB], *pc[NC];
    size_t sa[NA], sb[NB], sc[NC];
    for (uint32_t i = 0; i < NA; i++) {
        snprintf(na[i], sizeof(na[i]), "a%02u", i);
        pa[i] = na[i];
        sa[i] = i == 5 ? 2 * MIB + 3 : i == 6 ? 200 * KIB : i * 311u;
        if (i != 9) make_file(&fx, na[i], 1000 + i, sa[i]);
    }
    for (uint32_t i = 0; i < NB; i++) {
        snprintf(nb[i], sizeof(nb[i]), "b%02u", i);
        pb[i] = nb[i];
        sb[i] = i == 3 ? 1 * MIB + 1 : i * 97u + 1;
        make_file(&fx, nb[i], 2000 + i, sb[i]);
    }
    for (uint32_t i = 0; i < NC; i++) {
        snprintf(nc[i], sizeof(nc[i]), "c%02u", i);
        pc[i] = nc[i];
        sc[i] = 70 * KIB + i;
        make_file(&fx, nc[i], 3000 + i, sc[i]);
    }
    prs_reader *r = make_reader(&fx, mode, 0);
    cr_assert_eq(prs_reader_submit(r, 0, pa, NA), 0);
    cr_assert_eq(prs_reader_submit(r, 1, pb, NB), 0);
    /* Harvest in the opposite order of submission. */
    const prs_read_item *ib = NULL, *ia = NULL, *ic = NULL;
    cr_assert_eq(prs_reader_wait(r, 1, &ib), NB);
    for (uint32_t i = 0; i < NB; i++)
        check_item(&ib[i], pb[i], 2000 + i, sb[i]);
    cr_assert_eq(prs_reader_wait(r, 0, &ia), NA);
    /* Recycle slot 1 for a third batch while slot 0's items are still held. */
    prs_reader_release(r, 1);
    cr_assert_eq(prs_reader_submit(r, 1, pc, NC), 0);
    cr_assert_eq(prs_reader_wait(r, 1, &ic), NC);
    for (uint32_t i = 0; i < NC; i++)
        check_item(&ic[i], pc[i], 3000 + i, sc[i]);
    for (uint32_t i = 0; i < NA; i++) {
        if (i == 9)
            check_error(&ia[i], pa[i], -ENOENT);
        else
            check_item(&ia[i], pa[i], 1000 + i, sa[i]);
    }
    /* Waiting again on a ready slot gives the same items. */
    const prs_read_item *again = NULL;
    cr_assert_eq(prs_reader_wait(r, 0, &again), NA);
    cr_assert_eq(again, ia);
    prs_reader_release(r, 0);
    prs_reader_release(r, 1);
    prs_reader_destroy(r);
    fx_close(&fx);
}

BOTH_PATHS(api_misuse_is_an_error) {
    fixture fx;
    fx_open(&fx, "reader");
    make_file(&fx, "a", 1, 3);
    const char *paths[] = {"a"};
    const char *bad[] = {"a", NULL};
    prs_reader *r = make_reader(&fx, mode, 0);
    const prs_read_item *items = NULL;
    cr_assert_eq(prs_reader_submit(r, PRS_READER_SLOTS, paths, 1), -EINVAL);
    cr_assert_eq(prs_reader_submit(r, 0, NULL, 1), -EINVAL);
    cr_assert_eq(prs_reader_submit(r, 0, bad, 2), -EINVAL);
    cr_assert_eq(prs_reader_wait(r, 0, &items), -EINVAL, "wait on an idle slot");
    prs_reader_release(r, 0); /* idle: nothing to do */
    prs_reader_release(r, 99);
    cr_assert_eq(prs_reader_submit(r, 0, paths, 1), 0);
    cr_assert_eq(prs_reader_submit(r, 0, paths, 1), -EBUSY);
    cr_assert_eq(prs_reader_wait(r, 0, &items), 1);
    cr_assert_eq(prs_reader_submit(r, 0, paths, 1), -EBUSY, "ready, not yet released");
    check_item(&items[0], "a", 1, 3);
    prs_reader_release(r, 0);
    /* An empty batch, and a release that has to wait for the slot itself. */
    cr_assert_eq(prs_reader_submit(r, 1, paths, 0), 0);
    cr_assert_eq(prs_reader_wait(r, 1, &items), 0);
    prs_reader_release(r, 1);
    cr_assert_eq(prs_reader_submit(r, 1, paths, 1), 0);
    prs_reader_release(r, 1);
    cr_assert_eq(prs_reader_submit(r, 1, paths, 1), 0);
    prs_reader_destroy(r); /* with a batch in flight */
    fx_close(&fx);
}

typedef struct thread_arg {
    prs_reader *r;
    const char *const *paths;
    int submit_rc, wait_rc;
} thread_arg;

static void *other_thread(void *arg) {
    thread_arg *a = arg;
    const prs_read_item *items;
    a->submit_rc = prs_reader_submit(a->r, 0, a->paths, 1);
    a->wait_rc = prs_reader_wait(a->r, 0, &items);
    return NULL;
}

BOTH_PATHS(other_threads_are_refused) {
    fixture fx;
    fx_open(&fx, "reader");
    make_file(&fx, "a", 1, 3);
    const char *paths[] = {"a"};
    prs_reader *r = make_reader(&fx, mode, 0);
    thread_arg a = {r, paths, 0, 0};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, other_thread, &a), 0);
    pthread_join(t, NULL);
    cr_assert_eq(a.submit_rc, -EPERM);
    cr_assert_eq(a.wait_rc, -EPERM);
    const prs_read_item *items = read_batch(r, 0, paths, 1);
    check_item(&items[0], "a", 1, 3);
    prs_reader_destroy(r);
    fx_close(&fx);
}

/* ---- files that change size between fstat and read ------------------------------------ */

typedef struct resize_plan {
    char dir[256];
    int calls;
    int max_calls; /* act on the first max_calls hook calls only (-1: every call) */
    long delta;    /* bytes added (>0) or removed (<0) relative to the size seen */
    long set_size; /* >= 0: truncate to this instead */
    uint32_t seed;
} resize_plan;

static void resize_hook(void *arg, const char *rel, uint64_t size_bytes) {
    resize_plan *p = arg;
    if (p->max_calls >= 0 && p->calls >= p->max_calls) return;
    p->calls++;
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", p->dir, rel);
    long target = p->set_size >= 0 ? p->set_size : (long)size_bytes + p->delta;
    if (target > (long)size_bytes) {
        /* Growth keeps the content function, so the expected bytes stay computable. */
        size_t add = (size_t)target - size_bytes;
        uint8_t *buf = malloc(add);
        cr_assert_not_null(buf);
        for (size_t k = 0; k < add; k++)
            buf[k] = content_byte(p->seed, size_bytes + k);
        int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        cr_assert_geq(fd, 0);
        cr_assert_eq(write(fd, buf, add), (ssize_t)add);
        close(fd);
        free(buf);
    } else {
        cr_assert_eq(truncate(path, target), 0);
    }
}

/* One file, one hook plan: the item must be the file as it is after the change. */
static void check_resize(enum prs_io_mode mode, size_t threshold, size_t size, resize_plan plan,
                         long want_size, int want_error, uint64_t want_changes, int want_mapped) {
    fixture fx;
    fx_open(&fx, "reader");
    make_file(&fx, "f", 7, size);
    snprintf(plan.dir, sizeof(plan.dir), "%s", fx.dir);
    plan.seed = 7;
    prs_reader *r = make_reader(&fx, mode, threshold);
    prs_reader_set_sized_hook(r, resize_hook, &plan);
    const char *paths[] = {"f"};
    const prs_read_item *items = read_batch(r, 0, paths, 1);
    if (want_error)
        check_error(&items[0], "f", want_error);
    else
        check_item(&items[0], "f", 7, (size_t)want_size);
    prs_reader_stats st;
    prs_reader_get_stats(r, &st);
    cr_assert_eq(st.size_changes, want_changes, "size changes %llu, want %llu",
                 (unsigned long long)st.size_changes, (unsigned long long)want_changes);
    if (want_mapped >= 0) cr_assert_eq(st.items_mapped, (uint64_t)want_mapped);
    cr_assert_eq(plan.calls, plan.max_calls >= 0 ? plan.max_calls : plan.calls);
    prs_reader_destroy(r);
    fx_close(&fx);
}

BOTH_PATHS(buffered_file_grows_after_fstat) {
    resize_plan p = {.max_calls = 1, .delta = 5000, .set_size = -1};
    check_resize(mode, 0, 100000, p, 105000, 0, 1, 0);
}

BOTH_PATHS(buffered_file_shrinks_after_fstat) {
    resize_plan p = {.max_calls = 1, .set_size = 70000};
    check_resize(mode, 0, 100000, p, 70000, 0, 1, 0);
}

BOTH_PATHS(mapped_file_shrinks_whole_pages) {
    resize_plan p = {.max_calls = 1, .set_size = 20000};
    check_resize(mode, 16 * KIB, 64 * KIB, p, 20000, 0, 1, 1);
}

/* Inside the last page POPULATE_READ sees nothing wrong: only the second fstat catches it. */
BOTH_PATHS(mapped_file_shrinks_inside_last_page) {
    resize_plan p = {.max_calls = 1, .delta = -100, .set_size = -1};
    check_resize(mode, 16 * KIB, 64 * KIB, p, 64 * KIB - 100, 0, 1, 1);
}

BOTH_PATHS(mapped_file_shrinks_below_threshold) {
    resize_plan p = {.max_calls = 1, .set_size = 5000};
    check_resize(mode, 16 * KIB, 64 * KIB, p, 5000, 0, 1, 0);
}

BOTH_PATHS(mapped_file_grows) {
    resize_plan p = {.max_calls = 1, .delta = 3000, .set_size = -1};
    check_resize(mode, 16 * KIB, 64 * KIB, p, 64 * KIB + 3000, 0, 1, 1);
}

BOTH_PATHS(file_that_never_settles_is_eagain) {
    resize_plan p = {.max_calls = -1, .delta = -4096, .set_size = -1};
    check_resize(mode, 16 * KIB, 256 * KIB, p, 0, -EAGAIN, PRS_READER_MAX_SIZE_CHANGES + 1, 0);
}

/* ---- path selection ------------------------------------------------------------------------ */

Test(reader_select, forced_unavailable_auto_falls_back_to_sync) {
    fixture fx;
    fx_open(&fx, "reader");
    make_file(&fx, "a", 1, 123);
    cr_assert_eq(setenv("PRS_IO_FORCE_NO_URING", "1", 1), 0);
    prs_reader *r = NULL;
    char why[PRS_READER_WHY_BYTES];
    cr_assert_eq(prs_reader_create(&r, fx.dirfd, PRS_IO_AUTO, 0, why, sizeof(why)), 0);
    cr_assert_not(prs_reader_uses_uring(r));
    cr_assert(strstr(why, "sync") && strstr(why, "PRS_IO_FORCE_NO_URING") &&
                  strstr(why, strerror(EPERM)),
              "why: %s", why);
    cr_assert_str_eq(prs_reader_why(r), why);
    const char *paths[] = {"a"};
    const prs_read_item *items = read_batch(r, 0, paths, 1);
    check_item(&items[0], "a", 1, 123);
    prs_reader_destroy(r);

    /* URING insists: a clear error instead of a silent fallback. */
    r = NULL;
    cr_assert_eq(prs_reader_create(&r, fx.dirfd, PRS_IO_URING, 0, why, sizeof(why)), -EPERM);
    cr_assert_null(r);
    cr_assert(strstr(why, "io_uring") && strstr(why, "PRS_IO_FORCE_NO_URING"), "why: %s", why);
    unsetenv("PRS_IO_FORCE_NO_URING");
    fx_close(&fx);
}

Test(reader_select, auto_prefers_uring_and_says_so) {
    need_uring();
    prs_reader *r = NULL;
    char why[PRS_READER_WHY_BYTES];
    cr_assert_eq(prs_reader_create(&r, AT_FDCWD, PRS_IO_AUTO, 0, why, sizeof(why)), 0);
    cr_assert(prs_reader_uses_uring(r));
    cr_assert(strncmp(why, "io_uring (", 10) == 0, "why: %s", why);
    cr_log_info("reader: %s", why);
    prs_reader_destroy(r);
}

Test(reader_select, sync_mode_says_so_and_bad_mode_is_einval) {
    prs_reader *r = NULL;
    char why[PRS_READER_WHY_BYTES];
    cr_assert_eq(prs_reader_create(&r, AT_FDCWD, PRS_IO_SYNC, 0, why, sizeof(why)), 0);
    cr_assert_not(prs_reader_uses_uring(r));
    cr_assert(strstr(why, "sync"), "why: %s", why);
    prs_reader_destroy(r);
    r = NULL;
    cr_assert_eq(prs_reader_create(&r, AT_FDCWD, (enum prs_io_mode)7, 0, why, sizeof(why)),
                 -EINVAL);
    cr_assert_null(r);
}
