/* io/logfile: stdio streams whose flushes are write(2) or io_uring writes. Both paths
 * must put every byte in the file, in order per stream, with two streams flushed from
 * two threads at once. The io_uring path is skipped, visibly, where io_uring is not
 * allowed. */
#include "logfile.h"
#include "util.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#define LINES 20000

typedef struct writer_arg {
    FILE *f;
    char tag;
} writer_arg;

static void *write_lines(void *arg) {
    writer_arg *a = arg;
    for (int i = 0; i < LINES; i++)
        fprintf(a->f, "%c %06d some text to fill the buffer\n", a->tag, i);
    return NULL;
}

/* Asserts path holds exactly LINES lines "<tag> 000000".."<tag> LINES-1", in order. */
static void assert_lines(const char *path, char tag) {
    char *text = tu_read(path, NULL);
    cr_assert(text, "%s missing", path);
    int next = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char want[32];
        snprintf(want, sizeof(want), "%c %06d ", tag, next);
        cr_assert(strncmp(line, want, strlen(want)) == 0, "line %d of %s is '%s'", next, path,
                  line);
        next++;
    }
    cr_assert_eq(next, LINES, "%s: %d lines", path, next);
    free(text);
}

static void two_streams(bool uring) {
    char dir[256], a_path[300], b_path[300];
    tu_tmpdir(dir, sizeof(dir), "logfile");
    snprintf(a_path, sizeof(a_path), "%s/a.txt", dir);
    snprintf(b_path, sizeof(b_path), "%s/b.txt", dir);
    prs_logfile_writer *w;
    cr_assert_eq(prs_logfile_writer_init(&w), 0);
    if (uring) {
        int rc = prs_logfile_writer_use_uring(w);
        if (rc) {
            prs_logfile_writer_destroy(w);
            tu_rmrf(dir);
            cr_skip_test("io_uring not usable here (%s): uring path skipped", strerror(-rc));
        }
    }
    FILE *a = prs_logfile_open(w, a_path, 4096), *b = prs_logfile_open(w, b_path, 4096);
    cr_assert(a && b);
    fputs("", a); /* appending to what is there: nothing yet */
    writer_arg aa = {a, 'a'}, bb = {b, 'b'};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, write_lines, &aa);
    pthread_create(&tb, NULL, write_lines, &bb);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    cr_assert_eq(fclose(a), 0);
    cr_assert_eq(fclose(b), 0);
    cr_assert_eq(prs_logfile_writer_uses_uring(w), uring);
    uint64_t ring_writes = prs_logfile_writer_uring_writes(w);
    if (uring) {
        cr_assert_gt(ring_writes, 100, "%llu flushes through the ring",
                     (unsigned long long)ring_writes);
    } else {
        cr_assert_eq(ring_writes, 0);
    }
    prs_logfile_writer_destroy(w);
    assert_lines(a_path, 'a');
    assert_lines(b_path, 'b');
    tu_rmrf(dir);
}

Test(logfile, write2_path_keeps_every_line_in_order) {
    two_streams(false);
}

Test(logfile, uring_path_keeps_every_line_in_order) {
    two_streams(true);
}

Test(logfile, appends_to_an_existing_file_and_reports_open_errors) {
    char dir[256], path[300];
    tu_tmpdir(dir, sizeof(dir), "logfile");
    snprintf(path, sizeof(path), "%s/x.txt", dir);
    prs_logfile_writer *w;
    cr_assert_eq(prs_logfile_writer_init(&w), 0);
    for (int round = 0; round < 2; round++) {
        FILE *f = prs_logfile_open(w, path, 64);
        cr_assert(f);
        fprintf(f, "round %d\n", round);
        cr_assert_eq(fclose(f), 0);
    }
    char *text = tu_read(path, NULL);
    cr_assert_str_eq(text, "round 0\nround 1\n");
    free(text);
    snprintf(path, sizeof(path), "%s/no/such/dir/x.txt", dir);
    errno = 0;
    cr_assert_null(prs_logfile_open(w, path, 64));
    cr_assert_eq(errno, ENOENT);
    prs_logfile_writer_destroy(w);
    tu_rmrf(dir);
}
