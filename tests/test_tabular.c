/* Tabular inputs and file inputs end to end, on both I/O paths (--io uring and --io sync):
 * build/prs runs tests/records_probe.so, which emits one row per item with its name, size,
 * the batch's header size and its bytes; every check reads the rows a user would read. */
#include "e2e.h"

#include <criterion/criterion.h>
#include <string.h>

static const char *const io_modes[] = {"uring", "sync"};

typedef struct rows {
    char *text;
    char **line;
    size_t n;
} rows;

static void rows_load(const e2e_run *r, rows *out) {
    out->text = e2e_out_file(r, "parallel_run_step.txt");
    out->n = 0;
    out->line = NULL;
    if (!out->text) return;
    size_t cap = tu_count_lines(out->text) + 1;
    out->line = calloc(cap, sizeof(char *));
    for (char *save = NULL, *l = strtok_r(out->text, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save))
        out->line[out->n++] = l;
}

static void rows_free(rows *x) {
    free(x->text);
    free(x->line);
}

/* The row whose name is exactly name, or NULL. */
static const char *rows_find(const rows *x, const char *name) {
    size_t len = strlen(name);
    const char *found = NULL;
    for (size_t i = 0; i < x->n; i++) {
        if (strncmp(x->line[i], name, len) == 0 && x->line[i][len] == '\t') {
            cr_assert(found == NULL, "two rows for %s", name);
            found = x->line[i];
        }
    }
    return found;
}

static int probe(const e2e_run *r, const char *io, const char *opts, const char *args) {
    char all[512];
    snprintf(all, sizeof(all), "--io %s --fresh %s", io, opts);
    return e2e_prs(r, "build/tests/records_probe.so", all, args);
}

static void setup_file(e2e_run *r, const char *tag, const char *name, const char *data,
                       size_t len) {
    tu_tmpdir(r->dir, sizeof(r->dir), tag);
    snprintf(r->in, sizeof(r->in), "%s/in/%s", r->dir, name);
    snprintf(r->out, sizeof(r->out), "%s/out", r->dir);
    snprintf(r->err, sizeof(r->err), "%s/stderr.txt", r->dir);
    tu_write(r->in, data, len);
}

typedef struct csv_case {
    const char *format, *data;
    size_t records;
    size_t header_size;
} csv_case;

Test(tabular, edge_cases_have_the_expected_record_counts) {
    static const csv_case cases[] = {
        {"csv", "a,b\n1,2\n3,4\n", 2, 3},
        {"csv",
         "\xEF\xBB\xBF"
         "a,b\r\n1,2\r\n3,4\r\n",
         2, 3},                                                       /* BOM, CRLF */
        {"csv", "a,b\n\"x\ny\",2\n\"he said \"\"hi\"\"\",3\n", 2, 3}, /* newline, "" */
        {"csv", "a,b\n1,2\n3,4", 2, 3},                               /* no final \n */
        {"csv", "a,b\n\n1,2\n\n\n3,4\n\n", 2, 3},                     /* blank lines */
        {"csv", "a,b\n\"1,5\",\"2\r\n3\"\r\n4,5\r\n", 2, 3},          /* quoted CRLF */
        {"tsv", "a\tb\n1\t2\n\"q\tx\"\t3\n", 2, 3},
        {"jsonl", "{\"a\":1}\n{\"b\":[1,2]}\n  \n{}\n", 3, 0},
        {"lines", "x\ny\r\nz", 3, 0},
        {"lines", "1", 1, 0}, /* one byte */
    };
    for (size_t m = 0; m < PRS_ARRAY_LEN(io_modes); m++) {
        for (size_t i = 0; i < PRS_ARRAY_LEN(cases); i++) {
            const csv_case *c = &cases[i];
            e2e_run r;
            setup_file(&r, "tab-edge", "in.txt", c->data, strlen(c->data));
            char opts[128];
            snprintf(opts, sizeof(opts), "--input-format %s --mini-batch-size 3", c->format);
            int code = probe(&r, io_modes[m], opts, "");
            cr_assert_eq(code, 0, "case %zu (%s) --io %s: exit %d", i, c->format, io_modes[m],
                         code);
            rows x;
            rows_load(&r, &x);
            cr_assert_eq(x.n, c->records, "case %zu (%s): %zu rows, wanted %zu", i, c->format, x.n,
                         c->records);
            for (size_t k = 0; k < x.n; k++) {
                const char *t1 = strchr(x.line[k], '\t');
                const char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
                cr_assert(t2 != NULL, "row '%s'", x.line[k]);
                cr_assert_eq((size_t)atoll(t2 + 1), c->header_size, "case %zu: header size in '%s'",
                             i, x.line[k]);
            }
            rows_free(&x);
            tu_rmrf(r.dir);
        }
    }
}

Test(tabular, names_say_file_and_line_and_data_is_the_record) {
    const char *data = "id,v\n1,a\n\"2\nx\",b\n3,c\n";
    for (size_t m = 0; m < PRS_ARRAY_LEN(io_modes); m++) {
        e2e_run r;
        setup_file(&r, "tab-names", "in.csv", data, strlen(data));
        cr_assert_eq(probe(&r, io_modes[m], "--input-format csv", ""), 0);
        rows x;
        rows_load(&r, &x);
        char name[400];
        snprintf(name, sizeof(name), "%s:2", r.in);
        const char *row = rows_find(&x, name);
        cr_assert(row && strstr(row, "\t3\t4\t1,a"), "row for line 2: %s", row ? row : "(none)");
        snprintf(name, sizeof(name), "%s:3", r.in);
        row = rows_find(&x, name);
        cr_assert(row && strstr(row, "\"2\\nx\",b"), "row for line 3: %s", row ? row : "(none)");
        snprintf(name, sizeof(name), "%s:5", r.in);
        cr_assert(rows_find(&x, name) != NULL, "row for line 5");
        rows_free(&x);
        tu_rmrf(r.dir);
    }
}

Test(tabular, malformed_records_fail_alone_and_count_toward_the_threshold) {
    const char *jsonl = "{\"a\":1}\n[1]\n{\"b\":2}\n{\"c\":\n{}\n";
    const char *csv = "a,b\n1,2\n\"x,3\n4,5\n";
    for (size_t m = 0; m < PRS_ARRAY_LEN(io_modes); m++) {
        e2e_run r;
        setup_file(&r, "tab-bad", "in.jsonl", jsonl, strlen(jsonl));
        cr_assert_eq(probe(&r, io_modes[m], "--input-format jsonl", ""), 0);
        rows x;
        rows_load(&r, &x);
        cr_assert_eq(x.n, 3, "good records still run: %zu rows", x.n);
        rows_free(&x);
        char *errors = e2e_out_file(&r, "logs/user/error.txt");
        cr_assert(errors && strstr(errors, "in.jsonl:2: malformed record"), "%s",
                  errors ? errors : "");
        cr_assert(strstr(errors, "in.jsonl:4: malformed record"), "%s", errors);
        free(errors);
        char *ov = e2e_out_file(&r, "logs/overview.txt");
        cr_assert_eq(tu_field(ov, "failed "), 0, "no batch failed");
        cr_assert(strstr(ov, "succeeded 3, failed 2"), "%s", ov);
        free(ov);
        /* Two failed items exceed a threshold of 1. */
        cr_assert_eq(probe(&r, io_modes[m], "--input-format jsonl --error-threshold 1", ""), 1);
        tu_rmrf(r.dir);

        setup_file(&r, "tab-badcsv", "in.csv", csv, strlen(csv));
        cr_assert_eq(probe(&r, io_modes[m], "--input-format csv", ""), 0);
        rows_load(&r, &x);
        cr_assert_eq(x.n, 1, "the record before the open quote runs: %zu rows", x.n);
        rows_free(&x);
        errors = e2e_out_file(&r, "logs/user/error.txt");
        cr_assert(errors && strstr(errors, "in.csv:3: malformed record"), "%s",
                  errors ? errors : "");
        free(errors);
        tu_rmrf(r.dir);
    }
}

Test(tabular, a_malformed_header_or_no_records_is_an_input_error) {
    e2e_run r;
    setup_file(&r, "tab-hdr", "in.csv", "\"a,b\n1,2\n", 9);
    cr_assert_eq(probe(&r, "sync", "--input-format csv", ""), 3);
    char *err = tu_read(r.err, NULL);
    cr_assert(err && strstr(err, "in.csv:1: the header row is malformed"), "%s", err ? err : "");
    free(err);
    tu_rmrf(r.dir);
    setup_file(&r, "tab-empty", "in.csv", "a,b\n\n", 5);
    cr_assert_eq(probe(&r, "sync", "--input-format csv", ""), 3);
    err = tu_read(r.err, NULL);
    cr_assert(err && strstr(err, "no input records found"), "%s", err ? err : "");
    free(err);
    tu_rmrf(r.dir);
}

Test(tabular, a_record_larger_than_the_batch_size_is_a_batch_of_its_own) {
    /* 50 records of 11 bytes (550), one of 5001, 50 more: with 1KB batches, greedy cutting
     * gives 3 batches: the small ones before, the big one alone, the small ones after. */
    size_t len = 0;
    char *data = malloc(20000);
    for (int i = 0; i < 50; i++)
        len += (size_t)sprintf(data + len, "small%04d\n", i);
    memset(data + len, 'B', 5000);
    len += 5000;
    data[len++] = '\n';
    for (int i = 50; i < 100; i++)
        len += (size_t)sprintf(data + len, "small%04d\n", i);
    for (size_t m = 0; m < PRS_ARRAY_LEN(io_modes); m++) {
        e2e_run r;
        setup_file(&r, "tab-big", "in.txt", data, len);
        cr_assert_eq(probe(&r, io_modes[m], "--input-format lines --mini-batch-size 1KB", ""), 0);
        rows x;
        rows_load(&r, &x);
        cr_assert_eq(x.n, 101);
        char name[400];
        snprintf(name, sizeof(name), "%s:51", r.in);
        const char *row = rows_find(&x, name);
        cr_assert(row && strncmp(strchr(row, '\t'), "\t5000\t", 6) == 0, "big record row");
        rows_free(&x);
        char *ov = e2e_out_file(&r, "logs/overview.txt");
        cr_assert(strstr(ov, "created 3,"), "%s", ov);
        free(ov);
        tu_rmrf(r.dir);
    }
    free(data);
}

/* Property: random records in random formats and batch sizes over 1-3 files; every record
 * is seen exactly once, whole, named by its file and first line. */
Test(tabular, every_record_exactly_once_over_random_inputs_and_sizes) {
    static const char *const formats[] = {"csv", "lines", "jsonl", "tsv"};
    static const char *const sizes[] = {"1", "7", "64", "300", "4KB", "1MB"};
    unsigned seed = 12345;
    for (int iter = 0; iter < 16; iter++) {
        const char *io = io_modes[iter % 2];
        const char *fmt = formats[(unsigned)rand_r(&seed) % 4];
        const char *mbs = sizes[(unsigned)rand_r(&seed) % 6];
        bool tab = fmt[0] == 'c' || fmt[0] == 't';
        char sep = fmt[0] == 't' ? '\t' : ',';
        e2e_run r;
        tu_tmpdir(r.dir, sizeof(r.dir), "tab-prop");
        snprintf(r.in, sizeof(r.in), "%s/in", r.dir);
        snprintf(r.out, sizeof(r.out), "%s/out", r.dir);
        snprintf(r.err, sizeof(r.err), "%s/stderr.txt", r.dir);
        unsigned files = 1 + (unsigned)rand_r(&seed) % 3;
        /* expected: "relpath:line" -> escaped bytes, kept as rows to compare */
        char **want = calloc(4096, sizeof(char *));
        size_t nwant = 0;
        for (unsigned f = 0; f < files; f++) {
            char *buf = malloc(1 << 20);
            size_t len = 0;
            unsigned line = 1;
            if (tab) len += (size_t)sprintf(buf + len, "id%cv\n", sep), line++;
            unsigned n = (unsigned)rand_r(&seed) % 300;
            for (unsigned i = 0; i < n; i++) {
                size_t start = len;
                unsigned first = line;
                unsigned kind = (unsigned)rand_r(&seed) % 4;
                if (fmt[0] == 'j') {
                    len += (size_t)sprintf(buf + len, "{\"id\":%u,\"s\":\"%*s\"}", i,
                                           (int)(rand_r(&seed) % 40), "");
                } else if (tab && kind == 0) {
                    len += (size_t)sprintf(buf + len, "%u%c\"q%c\n\"\"x\"\"\r\n\"", i, sep, sep);
                    line += 2;
                } else {
                    len += (size_t)sprintf(buf + len, "%u%c%*s", i, sep, (int)(rand_r(&seed) % 60),
                                           "v");
                }
                size_t rec_len = len - start;
                char esc[512];
                size_t e = 0;
                for (size_t k = start; k < len; k++) {
                    char c = buf[k];
                    if (c == '\n' || c == '\r' || c == '\t') {
                        esc[e++] = '\\';
                        esc[e++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
                    } else {
                        esc[e++] = c;
                    }
                }
                esc[e] = 0;
                char head[96];
                int hl = snprintf(head, sizeof(head), "f%u.txt:%u\t%zu\t", f, first, rec_len);
                char *w = malloc((size_t)hl + e + 1);
                memcpy(w, head, (size_t)hl);
                memcpy(w + hl, esc, e + 1);
                want[nwant++] = w;
                if (kind == 1) {
                    buf[len++] = '\r';
                }
                buf[len++] = '\n';
                line++;
                if (kind == 2) buf[len++] = '\n', line++; /* a blank line: skipped */
            }
            char path[400];
            snprintf(path, sizeof(path), "%s/f%u.txt", r.in, f);
            tu_write(path, buf, len);
            free(buf);
        }
        char opts[128];
        snprintf(opts, sizeof(opts), "--input-format %s --mini-batch-size %s --workers 2", fmt,
                 mbs);
        int code = probe(&r, io, opts, "");
        if (nwant == 0) {
            cr_assert_eq(code, 3, "no records: input error (iter %d)", iter);
        } else {
            cr_assert_eq(code, 0, "iter %d %s %s: exit %d", iter, fmt, mbs, code);
            rows x;
            rows_load(&r, &x);
            cr_assert_eq(x.n, nwant, "iter %d %s mbs %s: %zu rows, %zu records", iter, fmt, mbs,
                         x.n, nwant);
            for (size_t i = 0; i < x.n; i++) {
                /* drop the header-size column to compare with want */
                char *t1 = strchr(x.line[i], '\t');
                char *t2 = strchr(t1 + 1, '\t');
                char *t3 = strchr(t2 + 1, '\t');
                memmove(t2, t3, strlen(t3) + 1);
            }
            qsort(x.line, x.n, sizeof(char *), e2e_cmp_str);
            qsort(want, nwant, sizeof(char *), e2e_cmp_str);
            for (size_t i = 0; i < nwant; i++) {
                cr_assert_str_eq(x.line[i], want[i], "iter %d %s mbs %s: row %zu", iter, fmt, mbs,
                                 i);
            }
            rows_free(&x);
        }
        for (size_t i = 0; i < nwant; i++)
            free(want[i]);
        free(want);
        tu_rmrf(r.dir);
    }
}

Test(tabular, a_removed_input_file_fails_its_records_not_the_job) {
    for (size_t m = 0; m < PRS_ARRAY_LEN(io_modes); m++) {
        e2e_run r;
        tu_tmpdir(r.dir, sizeof(r.dir), "tab-rm");
        snprintf(r.in, sizeof(r.in), "%s/in", r.dir);
        snprintf(r.out, sizeof(r.out), "%s/out", r.dir);
        snprintf(r.err, sizeof(r.err), "%s/stderr.txt", r.dir);
        char p[400];
        snprintf(p, sizeof(p), "%s/a.csv", r.in);
        tu_write(p, "h\n1\n2\n", 6);
        snprintf(p, sizeof(p), "%s/b.csv", r.in);
        tu_write(p, "h\n3\n4\n5\n", 8);
        char args[500];
        snprintf(args, sizeof(args), "--rm '%s'", p);
        cr_assert_eq(probe(&r, io_modes[m], "--input-format csv", args), 0);
        rows x;
        rows_load(&r, &x);
        cr_assert_eq(x.n, 2);
        rows_free(&x);
        char *ov = e2e_out_file(&r, "logs/overview.txt");
        cr_assert(strstr(ov, "succeeded 2, failed 3"), "%s", ov);
        free(ov);
        char *errors = e2e_out_file(&r, "logs/user/error.txt");
        cr_assert(errors && strstr(errors, "b.csv: cannot read input file"), "%s",
                  errors ? errors : "");
        free(errors);
        tu_rmrf(r.dir);
    }
}

/* ---- file inputs through the reader ---------------------------------------------------- */

Test(files, sizes_around_the_mmap_threshold_on_both_paths) {
    static const size_t sizes[] = {0, 1, 4096, (1u << 20) - 1, 1u << 20, (1u << 20) + 1, 3u << 20};
    for (size_t m = 0; m < PRS_ARRAY_LEN(io_modes); m++) {
        e2e_run r;
        tu_tmpdir(r.dir, sizeof(r.dir), "files-sizes");
        snprintf(r.in, sizeof(r.in), "%s/in", r.dir);
        snprintf(r.out, sizeof(r.out), "%s/out", r.dir);
        snprintf(r.err, sizeof(r.err), "%s/stderr.txt", r.dir);
        char *data = malloc(3u << 20);
        memset(data, 'x', 3u << 20);
        for (size_t i = 0; i < PRS_ARRAY_LEN(sizes); i++) {
            char p[400];
            snprintf(p, sizeof(p), "%s/s%zu", r.in, i);
            tu_write(p, data, sizes[i]);
        }
        free(data);
        cr_assert_eq(probe(&r, io_modes[m], "--mini-batch-size 3", ""), 0);
        rows x;
        rows_load(&r, &x);
        cr_assert_eq(x.n, PRS_ARRAY_LEN(sizes));
        for (size_t i = 0; i < PRS_ARRAY_LEN(sizes); i++) {
            char name[32], want[64];
            snprintf(name, sizeof(name), "s%zu", i);
            snprintf(want, sizeof(want), "s%zu\t%zu\t0\t", i, sizes[i]);
            const char *row = rows_find(&x, name);
            cr_assert(row && strncmp(row, want, strlen(want)) == 0, "%s: wanted size %zu", name,
                      sizes[i]);
            const char *d = row + strlen(want);
            cr_assert_eq(strspn(d, "x"), sizes[i], "%s: bytes", name);
        }
        rows_free(&x);
        char *master = e2e_out_file(&r, "logs/sys/master.txt");
        cr_assert(master && strstr(master, m == 0 ? "input I/O (--io uring): io_uring"
                                                  : "input I/O (--io sync): sync"),
                  "master.txt names the I/O path");
        free(master);
        tu_rmrf(r.dir);
    }
}

Test(files, a_file_removed_after_the_scan_is_a_failed_item) {
    for (size_t m = 0; m < PRS_ARRAY_LEN(io_modes); m++) {
        e2e_run r;
        e2e_setup(&r, "files-rm", 20);
        char args[500];
        snprintf(args, sizeof(args), "--rm '%s/f0005.txt'", r.in);
        cr_assert_eq(probe(&r, io_modes[m], "--mini-batch-size 4", args), 0);
        rows x;
        rows_load(&r, &x);
        cr_assert_eq(x.n, 19);
        cr_assert(rows_find(&x, "f0005.txt") == NULL);
        rows_free(&x);
        char *errors = e2e_out_file(&r, "logs/user/error.txt");
        cr_assert(errors && strstr(errors, "f0005.txt: cannot read input file"), "%s",
                  errors ? errors : "");
        free(errors);
        tu_rmrf(r.dir);
    }
}

Test(files, ten_thousand_files_in_one_batch, .timeout = 300) {
    for (size_t m = 0; m < PRS_ARRAY_LEN(io_modes); m++) {
        e2e_run r;
        e2e_setup(&r, "files-10k", 10000);
        cr_assert_eq(probe(&r, io_modes[m], "--mini-batch-size 10000", ""), 0);
        rows x;
        rows_load(&r, &x);
        cr_assert_eq(x.n, 10000);
        rows_free(&x);
        char *ov = e2e_out_file(&r, "logs/overview.txt");
        cr_assert(strstr(ov, "created 1,") && strstr(ov, "items: total 10000, succeeded 10000"),
                  "%s", ov);
        free(ov);
        tu_rmrf(r.dir);
    }
}

Test(files, io_option_and_fallback_when_io_uring_is_forbidden) {
    e2e_run r;
    e2e_setup(&r, "files-io", 5);
    cr_assert_eq(e2e_prs(&r, "wordcount", "--io bogus", ""), 2);
    cr_assert_eq(e2e_prs(&r, "wordcount", "--mini-batch-size 1MB", ""), 2); /* files: a count */
    cr_assert_eq(e2e_prs(&r, "wordcount", "--input-format csv --mini-batch-size 1XB", ""), 2);
    cr_assert_eq(e2e_prs(&r, "wordcount", "--input-format xml", ""), 2);
    /* As if kernel.io_uring_disabled or seccomp said no: auto falls back and says why,
     * uring refuses to start. */
    cr_assert_eq(
        tu_sh("PRS_IO_FORCE_NO_URING=1 %s run --quiet --entry-script "
              "build/examples/wordcount.so --input '%s' --output '%s' --io auto 2>/dev/null",
              tu_prs(), r.in, r.out),
        0);
    char *master = e2e_out_file(&r, "logs/sys/master.txt");
    cr_assert(master &&
                  strstr(master, "input I/O (--io auto): sync pread/mmap: io_uring unavailable"),
              "%s", master ? master : "");
    free(master);
    e2e_assert_rows_once(&r, 5, NULL);
    cr_assert_eq(tu_sh("PRS_IO_FORCE_NO_URING=1 %s run --quiet --fresh --entry-script "
                       "build/examples/wordcount.so --input '%s' --output '%s' --io uring 2>'%s'",
                       tu_prs(), r.in, r.out, r.err),
                 2);
    char *err = tu_read(r.err, NULL);
    cr_assert(err && strstr(err, "--io uring: io_uring cannot be used here"), "%s", err ? err : "");
    free(err);
    tu_rmrf(r.dir);
}

/* Crash recovery with lookahead on tabular batches: every batch's first try crashes the
 * process; the batch the worker had taken ahead (not running) must come back untouched, and
 * in the end every record has exactly one row. One worker: two workers crashing at the
 * same instant can both be left "running" (the first signal ends the process), which the
 * supervisor rightly calls a crash loop -- not what this test is about. */
Test(tabular, crashes_then_resume_give_every_record_once, .timeout = 120) {
    char data[4096];
    size_t len = 0;
    for (int i = 0; i < 60; i++)
        len += (size_t)snprintf(data + len, sizeof(data) - len, "{\"r\":%d}\n", i);
    for (size_t m = 0; m < PRS_ARRAY_LEN(io_modes); m++) {
        e2e_run r;
        setup_file(&r, "tab-crash", "in.jsonl", data, len);
        char opts[128];
        snprintf(opts, sizeof(opts),
                 "--io %s --input-format jsonl --mini-batch-size 100 --workers 1 --run-max-try 2",
                 io_modes[m]);
        cr_assert_eq(e2e_prs(&r, "faulty", opts, "--crash-attempts 1"), 0, "--io %s", io_modes[m]);
        rows x;
        rows_load(&r, &x);
        cr_assert_eq(x.n, 60);
        for (int i = 0; i < 60; i++) {
            char name[400];
            snprintf(name, sizeof(name), "%s:%d", r.in, i + 1);
            cr_assert(rows_find(&x, name) != NULL, "row for %s", name);
        }
        rows_free(&x);
        tu_rmrf(r.dir);
    }
}
