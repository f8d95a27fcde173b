/* Side inputs, side tables, --env and the shared init, end to end: build/prs (or $PRS_BIN)
 * runs tests/side_probe.so, which writes what it sees into its rows (see side_probe.c). */
#include "e2e.h"
#include "prs.h"
#include "records.h"
#include "side.h"
#include "sidescan.h"

#include <stdatomic.h>
#include <string.h>

#define PROBE "build/tests/side_probe.so"

/* Writes text to DIR/name; the path goes to out. */
static void side_file(const e2e_run *r, const char *name, const char *text, char *out, size_t n) {
    snprintf(out, n, "%s/%s", r->dir, name);
    tu_write(out, text, strlen(text));
}

/* The output row of item (its line, without the newline; the caller frees it), or NULL. */
static char *row_of(const e2e_run *r, const char *item) {
    char *text = e2e_out_file(r, "parallel_run_step.txt");
    if (!text) return NULL;
    char want[64];
    snprintf(want, sizeof(want), "%s\t", item);
    char *row = NULL;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(line, want, strlen(want))) {
            row = strdup(line);
            break;
        }
    }
    free(text);
    return row;
}

static void assert_row_has(const e2e_run *r, const char *item, const char *field) {
    char *row = row_of(r, item);
    cr_assert(row, "no row for %s", item);
    cr_assert(strstr(row, field), "row of %s is '%s', wanted '%s' in it", item, row, field);
    free(row);
}

static void assert_file_has(const e2e_run *r, const char *path, const char *text) {
    char *t = tu_read(path, NULL);
    cr_assert(t && strstr(t, text), "wanted '%s' in %s: %s", text, path, t ? t : "(missing)");
    free(t);
    (void)r;
}

static char *master(const e2e_run *r) {
    return e2e_out_file(r, "logs/sys/master.txt");
}

Test(side, paths_argument_substitution_and_env, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "side", 5);
    char cfg[512], dir[512];
    side_file(&r, "labels/config.json", "{}", cfg, sizeof(cfg));
    snprintf(dir, sizeof(dir), "%s/labels", r.dir);
    char opts[2048];
    snprintf(opts, sizeof(opts),
             "--side-input label_config=%s --side-input model=%s --env PROBE_X=hello=world", dir,
             cfg);
    int code = e2e_prs(&r, PROBE, opts,
                       "path=label_config path=model path=nope args --labels_dir label_config "
                       "--x=model model env=PROBE_X");
    cr_assert_eq(code, 0, "exit %d", code);
    char want[2048];
    snprintf(want, sizeof(want), "\tp=%s\tp=%s\tp=(null)\t", dir, cfg);
    assert_row_has(&r, "f0003.txt", want);
    /* Whole arguments equal to a NAME become its path; others (--x=model) stay. */
    snprintf(want, sizeof(want), "--labels_dir %s --x=model %s env=PROBE_X", dir, cfg);
    assert_row_has(&r, "f0000.txt", want);
    assert_row_has(&r, "f0004.txt", "\te=hello=world");
    tu_rmrf(r.dir);
}

Test(side, csv_table_lookups_quotes_and_header, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "side", 4);
    char t[512];
    side_file(&r, "t.csv",
              "id,label,note\r\n"
              "f0000.txt,zero,\"a,b\"\r\n"
              "\"f0001.txt\",one,\"two\nlines\"\r\n"
              "f0002.txt,two,\"say \"\"hi\"\"\"\r\n",
              t, sizeof(t));
    char opts[1024];
    snprintf(opts, sizeof(opts), "--side-table lab=%s,key=id", t);
    cr_assert_eq(e2e_prs(&r, PROBE, opts, "table=lab hdr"), 0);
    assert_row_has(&r, "f0000.txt", "\tv=f0000.txt,zero,\"a,b\"\th=id,label,note");
    assert_row_has(&r, "f0001.txt", "\tv=\"f0001.txt\",one,\"two"); /* the record, as is */
    assert_row_has(&r, "f0002.txt", "\tv=f0002.txt,two,\"say \"\"hi\"\"\"\t");
    assert_row_has(&r, "f0003.txt", "\tv=MISSING(-2)");
    tu_rmrf(r.dir);
}

Test(side, csv_table_with_a_byte_order_mark, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "side", 2);
    char t[512];
    side_file(&r, "bom.csv", "\xEF\xBB\xBFid,label\nf0000.txt,zero\n", t, sizeof(t));
    char opts[1024];
    snprintf(opts, sizeof(opts), "--side-table lab=%s,key=id", t);
    cr_assert_eq(e2e_prs(&r, PROBE, opts, "table=lab hdr"), 0);
    assert_row_has(&r, "f0000.txt", "\tv=f0000.txt,zero\th=id,label");
    assert_row_has(&r, "f0001.txt", "\tv=MISSING(-2)");
    tu_rmrf(r.dir);
}

/* "f0000.t"xt is one field, f0000.txt: a quote away from a field start is data, as the
 * splitter reads a tabular --input (tests/test_fields.c). The side table's own scanner
 * used to refuse the row ("text after a quoted field"). */
Test(side, quote_then_text_is_data_as_in_a_tabular_input, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "side", 2);
    char t[512];
    side_file(&r, "q.csv", "id,label\n\"f0000.t\"xt,dog\n", t, sizeof(t));
    char opts[1024];
    snprintf(opts, sizeof(opts), "--side-table lab=%s", t);
    cr_assert_eq(e2e_prs(&r, PROBE, opts, "table=lab"), 0);
    assert_row_has(&r, "f0000.txt", "\tv=\"f0000.t\"xt,dog");
    assert_row_has(&r, "f0001.txt", "\tv=MISSING(-2)");
    tu_rmrf(r.dir);
}

typedef struct scanned {
    char keys[4][32];
    char rows[4][32];
    int n;
} scanned;

static int scan_row(void *arg, const char *key, size_t key_len, const char *row, size_t row_len) {
    scanned *sc = arg;
    cr_assert_lt(sc->n, 4);
    snprintf(sc->keys[sc->n], sizeof(sc->keys[0]), "%.*s", (int)key_len, key);
    snprintf(sc->rows[sc->n], sizeof(sc->rows[0]), "%.*s", (int)row_len, row);
    sc->n++;
    return 0;
}

/* The same bytes through both readers, in this process: the splitter's record is the
 * side table's row, and its first field the key. */
Test(side, splitter_and_side_scan_read_one_way) {
    const char *buf = "id,v\n\"0\"x,dog\n";
    prs_splitter s;
    prs_record rec;
    cr_assert_eq(prs_splitter_init(&s, PRS_FORMAT_CSV, buf, strlen(buf)), 0);
    cr_assert_eq(prs_splitter_next(&s, &rec), 1);
    cr_assert_null(rec.error);
    prs_side_table t = {.name = "t", .path = "t.csv", .format = PRS_SIDE_CSV};
    scanned sc = {0};
    const char *header;
    size_t header_len;
    char err[256] = "";
    cr_assert_eq(
        prs_side_scan(&t, buf, strlen(buf), scan_row, &sc, &header, &header_len, err, sizeof(err)),
        0, "%s", err);
    cr_assert_eq(sc.n, 1);
    cr_assert_str_eq(sc.keys[0], "0x");
    cr_assert_str_eq(sc.rows[0], "\"0\"x,dog");
    cr_assert_eq(strlen(sc.rows[0]), rec.size_bytes);
    cr_assert_eq(header_len, 4);
    cr_assert(!memcmp(header, "id,v", 4));
}

/* A record the splitter flags is a bad table: exit 2, naming the file, the line and what
 * is wrong (the splitter's message, as a tabular --input reports it). */
Test(side, malformed_records_are_config_errors_naming_the_line, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "side", 2);
    char t[512], j[512], opts[1024];
    side_file(&r, "t.csv", "k,v\nf0000.txt,a\n\"f0001.txt,b\n", t, sizeof(t));
    snprintf(opts, sizeof(opts), "--side-table t=%s", t);
    cr_assert_eq(e2e_prs(&r, PROBE, opts, "table=t"), 2);
    char *err = tu_read(r.err, NULL);
    cr_assert(strstr(err, t) && strstr(err, "line 3") && strstr(err, "unterminated quoted field"),
              "%s", err);
    free(err);
    side_file(&r, "j.jsonl", "{\"id\":\"f0000.txt\"}\n{\"id\": tru}\n", j, sizeof(j));
    snprintf(opts, sizeof(opts), "--side-table j=%s", j);
    cr_assert_eq(e2e_prs(&r, PROBE, opts, "table=j"), 2);
    err = tu_read(r.err, NULL);
    cr_assert(strstr(err, j) && strstr(err, "line 2") && strstr(err, "invalid JSON"), "%s", err);
    free(err);
    tu_rmrf(r.dir);
}

Test(side, tsv_table_by_extension_default_first_column, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "side", 3);
    char t[512];
    side_file(&r, "t.tsv", "file\tclass\nf0000.txt\tcat\nf0002.txt\tdog \"x\"\n", t, sizeof(t));
    char opts[1024];
    snprintf(opts, sizeof(opts), "--side-table lab=%s", t);
    cr_assert_eq(e2e_prs(&r, PROBE, opts, "table=lab hdr"), 0);
    assert_row_has(&r, "f0000.txt", "\tv=f0000.txt\tcat\th=file\tclass");
    assert_row_has(&r, "f0001.txt", "\tv=MISSING(-2)");
    assert_row_has(&r, "f0002.txt", "\tv=f0002.txt\tdog \"x\"\t");
    char *m = master(&r);
    cr_assert(strstr(m, "side table lab: loaded") && strstr(m, "(tsv): 2 rows"), "%s", m);
    free(m);
    tu_rmrf(r.dir);
}

Test(side, jsonl_table_key_field_and_explicit_format, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "side", 4);
    char t[512];
    side_file(&r, "t.data",
              "{\"n\": 1, \"file\": \"f0000.txt\", \"tags\": [\"a\", {\"b\": \"}\"}]}\n"
              "\n"
              "{\"nested\": {\"file\": \"x\"}, \"file\": \"f\\u0030001\\u002etxt\", \"n\": 2}\n"
              "{\"file\":\"f0003.txt\",\"n\":3}\n",
              t, sizeof(t));
    char opts[1024];
    snprintf(opts, sizeof(opts), "--side-table j=%s,format=jsonl,key=file", t);
    cr_assert_eq(e2e_prs(&r, PROBE, opts, "table=j many hdr"), 0);
    assert_row_has(
        &r, "f0000.txt",
        "\tv={\"n\": 1, \"file\": \"f0000.txt\", \"tags\": [\"a\", {\"b\": \"}\"}]}\th=");
    assert_row_has(&r, "f0001.txt", "\"n\": 2}"); /* the key was unescaped */
    assert_row_has(&r, "f0002.txt", "\tv=MISSING(-2)");
    assert_row_has(&r, "f0003.txt", "\tv={\"file\":\"f0003.txt\",\"n\":3}");
    tu_rmrf(r.dir);
}

/* Key "fNNNN.txt" -> "fNNNN.txt,value-NNNN" for i in [0, n), every third one missing. */
static void big_table(const e2e_run *r, unsigned n, char *path, size_t size) {
    size_t cap = (size_t)n * 40 + 64, len = 0;
    char *t = malloc(cap);
    len += (size_t)snprintf(t, cap, "key,value\n");
    for (unsigned i = 0; i < n; i++) {
        if (i % 3 == 2) continue;
        len += (size_t)snprintf(t + len, cap - len, "f%04u.txt,value-%04u\n", i, i);
    }
    t[len] = 0;
    side_file(r, "big.csv", t, path, size);
    free(t);
}

static void assert_big_rows(const e2e_run *r, unsigned n) {
    char *text = e2e_out_file(r, "parallel_run_step.txt");
    cr_assert(text);
    cr_assert_eq(tu_count_lines(text), n);
    for (unsigned i = 0; i < n; i++) {
        char want[96];
        if (i % 3 == 2)
            snprintf(want, sizeof(want), "f%04u.txt\tv=MISSING(-2)\n", i);
        else
            snprintf(want, sizeof(want), "f%04u.txt\tv=f%04u.txt,value-%04u\n", i, i, i);
        cr_assert(strstr(text, want), "missing row %s", want);
    }
    free(text);
}

Test(side, lookups_from_several_workers_at_once, .timeout = 120) {
    e2e_run r;
    e2e_setup(&r, "side", 600);
    char t[512], opts[1024];
    big_table(&r, 600, t, sizeof(t));
    snprintf(opts, sizeof(opts), "--workers 6 --mini-batch-size 7 --side-table big=%s", t);
    cr_assert_eq(e2e_prs(&r, PROBE, opts, "table=big"), 0);
    assert_big_rows(&r, 600);
    snprintf(opts, sizeof(opts), "--fresh --workers 6 --mini-batch-size 7 --side-table big=%s", t);
    cr_assert_eq(e2e_prs(&r, PROBE, opts, "table=big many"), 0);
    assert_big_rows(&r, 600);
    tu_rmrf(r.dir);
}

Test(side, missing_key_and_unknown_table, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "side", 2);
    char t[512], opts[1024];
    side_file(&r, "t.csv", "k,v\nf0000.txt,a\n", t, sizeof(t));
    snprintf(opts, sizeof(opts), "--side-table t=%s", t);
    cr_assert_eq(e2e_prs(&r, PROBE, opts, "table=t"), 0);
    assert_row_has(&r, "f0000.txt", "\tv=f0000.txt,a");
    assert_row_has(&r, "f0001.txt", "\tv=MISSING(-2)"); /* -ENOENT */
    snprintf(opts, sizeof(opts), "--fresh --side-table t=%s", t);
    cr_assert_eq(e2e_prs(&r, PROBE, opts, "table=other"), 0);
    assert_row_has(&r, "f0000.txt", "\tv=MISSING(-22)"); /* -EINVAL */
    tu_rmrf(r.dir);
}

/* A job left resumable: prs_global_init fails (exit 4) after the tables were loaded. */
static void resumable_job(e2e_run *r, char *table, size_t size) {
    e2e_setup(r, "side", 6);
    side_file(r, "t.csv", "k,v\nf0000.txt,old\n", table, size);
    char opts[1024];
    snprintf(opts, sizeof(opts), "--side-table t=%s", table);
    cr_assert_eq(e2e_prs(r, PROBE, opts, "table=t fail_global"), 4);
    char *m = master(r);
    cr_assert(strstr(m, "side table t: loaded"), "%s", m);
    free(m);
}

Test(side, resume_with_unchanged_table_reuses_the_load, .timeout = 60) {
    e2e_run r;
    char t[512], opts[1024];
    resumable_job(&r, t, sizeof(t));
    cr_assert_eq(tu_sh("touch -d '2001-01-01' '%s'", t), 0); /* mtime alone is no change */
    snprintf(opts, sizeof(opts), "--side-table t=%s", t);
    cr_assert_eq(e2e_prs(&r, PROBE, opts, "table=t"), 0);
    assert_row_has(&r, "f0000.txt", "\tv=f0000.txt,old");
    char *m = master(&r);
    cr_assert(strstr(m, "resuming the job"), "%s", m);
    cr_assert(strstr(m, "side table t: reusing the load of"), "%s", m);
    cr_assert_eq(e2e_count(m, "side table t: loaded"), 1, "%s", m);
    free(m);
    tu_rmrf(r.dir);
}

Test(side, resume_with_changed_table_is_refused_until_fresh, .timeout = 60) {
    e2e_run r;
    char t[512], opts[1024];
    resumable_job(&r, t, sizeof(t));
    side_file(&r, "t.csv", "k,v\nf0000.txt,new\n", t, sizeof(t)); /* same size, new content */
    snprintf(opts, sizeof(opts), "--side-table t=%s", t);
    cr_assert_eq(e2e_prs(&r, PROBE, opts, "table=t"), 2);
    char *err = tu_read(r.err, NULL);
    cr_assert(strstr(err, "changed since the job loaded it") && strstr(err, t) &&
                  strstr(err, "--fresh"),
              "%s", err);
    free(err);
    char *rows = e2e_out_file(&r, "parallel_run_step.txt");
    cr_assert(!rows || !*rows, "rows written by a refused job: %s", rows);
    free(rows);
    snprintf(opts, sizeof(opts), "--fresh --side-table t=%s", t);
    cr_assert_eq(e2e_prs(&r, PROBE, opts, "table=t"), 0);
    assert_row_has(&r, "f0000.txt", "\tv=f0000.txt,new");
    tu_rmrf(r.dir);
}

Test(side, global_init_once_and_seen_by_every_worker, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "side", 80);
    char log[512], opts[1024];
    snprintf(log, sizeof(log), "%s/global.log", r.dir);
    snprintf(opts, sizeof(opts), "--workers 4 --mini-batch-size 2 --env PROBE_GLOBAL_LOG=%s", log);
    /* prs_init fails on a worker that does not see the model: exit 0 means all did. */
    cr_assert_eq(e2e_prs(&r, PROBE, opts, "shared"), 0);
    char *text = tu_read(log, NULL);
    cr_assert(text);
    cr_assert_eq(e2e_count(text, "init "), 1, "%s", text);
    cr_assert_eq(e2e_count(text, "shutdown "), 1, "%s", text);
    char pid[32];
    cr_assert_eq(sscanf(text, "init %31s", pid), 1);
    char want[64];
    snprintf(want, sizeof(want), "\ts=model-of-%s\n", pid);
    char *rows = e2e_out_file(&r, "parallel_run_step.txt");
    cr_assert_eq(e2e_count(rows, want), 80, "%s", rows);
    free(rows);
    free(text);
    tu_rmrf(r.dir);
}

Test(side, global_init_failure_fails_the_job, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "side", 3);
    cr_assert_eq(e2e_prs(&r, PROBE, "", "fail_global"), 4);
    char *err = tu_read(r.err, NULL);
    cr_assert(strstr(err, "prs_global_init returned -1"), "%s", err);
    free(err);
    tu_rmrf(r.dir);
}

Test(side, duplicate_keys_first_wins_with_a_warning, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "side", 2);
    char t[512], opts[1024];
    side_file(&r, "t.csv", "k,v\nf0000.txt,first\nf0001.txt,x\nf0000.txt,second\nf0000.txt,third\n",
              t, sizeof(t));
    snprintf(opts, sizeof(opts), "--side-table t=%s", t);
    cr_assert_eq(e2e_prs(&r, PROBE, opts, "table=t"), 0);
    assert_row_has(&r, "f0000.txt", "\tv=f0000.txt,first");
    char *m = master(&r);
    cr_assert(
        strstr(m, "warning: side table t: 2 duplicate key(s) ignored: the first row of a key wins"),
        "%s", m);
    cr_assert(strstr(m, "(csv): 2 rows"), "%s", m);
    free(m);
    tu_rmrf(r.dir);
}

Test(side, empty_keys_are_skipped_and_counted, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "side", 2);
    char t[512], opts[1024];
    side_file(&r, "t.csv", "k,v\n,orphan\n\"\",quoted\nf0001.txt,y\n\n", t, sizeof(t));
    snprintf(opts, sizeof(opts), "--side-table t=%s", t);
    cr_assert_eq(e2e_prs(&r, PROBE, opts, "table=t"), 0);
    assert_row_has(&r, "f0001.txt", "\tv=f0001.txt,y");
    char *m = master(&r);
    cr_assert(strstr(m, "warning: side table t: 2 row(s) with an empty key skipped"), "%s", m);
    free(m);
    tu_rmrf(r.dir);
}

Test(side, missing_key_column_is_a_config_error, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "side", 2);
    char t[512], j[512], opts[1024];
    side_file(&r, "t.csv", "k,v\nf0000.txt,a\n", t, sizeof(t));
    snprintf(opts, sizeof(opts), "--side-table t=%s,key=label", t);
    cr_assert_eq(e2e_prs(&r, PROBE, opts, "table=t"), 2);
    char *err = tu_read(r.err, NULL);
    cr_assert(strstr(err, t) && strstr(err, "'label'") && strstr(err, "not in the header"), "%s",
              err);
    free(err);
    /* No job was left behind: the fixed option runs without --fresh. */
    snprintf(opts, sizeof(opts), "--side-table t=%s,key=k", t);
    cr_assert_eq(e2e_prs(&r, PROBE, opts, "table=t"), 0);
    side_file(&r, "j.jsonl", "{\"id\":\"f0000.txt\"}\n{\"other\":1}\n", j, sizeof(j));
    snprintf(opts, sizeof(opts), "--fresh --side-table j=%s,key=id", j);
    cr_assert_eq(e2e_prs(&r, PROBE, opts, "table=j"), 2);
    err = tu_read(r.err, NULL);
    cr_assert(strstr(err, j) && strstr(err, "line 2") && strstr(err, "'id'"), "%s", err);
    free(err);
    tu_rmrf(r.dir);
}

Test(side, huge_values_are_stored_whole, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "side", 2);
    size_t big = 8u << 20;
    char *t = malloc(big + 64);
    int n = snprintf(t, 64, "k,v\nf0001.txt,");
    memset(t + n, 'x', big);
    t[n + big] = '\n';
    char path[512], opts[1024];
    snprintf(path, sizeof(path), "%s/huge.csv", r.dir);
    tu_write(path, t, (size_t)n + big + 1);
    free(t);
    snprintf(opts, sizeof(opts), "--side-table h=%s", path);
    cr_assert_eq(e2e_prs(&r, PROBE, opts, "table=h len"), 0);
    char want[64];
    snprintf(want, sizeof(want), "\tl=%zu", strlen("f0001.txt,") + big);
    assert_row_has(&r, "f0001.txt", want);
    assert_row_has(&r, "f0000.txt", "\tv=MISSING(-2)");
    tu_rmrf(r.dir);
}

/* Each bad value exits 2 naming the option; a missing file exits 3 naming it. */
Test(side, bad_option_values, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "side", 1);
    char t[512];
    side_file(&r, "t.csv", "k\na\n", t, sizeof(t));
    static const char *const bad[][2] = {
        {"--side-input noequals", "expected NAME=PATH"},
        {"--side-input =x", "NAME must be"},
        {"--side-input 'a b=x'", "NAME must be"},
        {"--side-input a=", "PATH is empty"},
        {"--side-table t", "expected NAME=FILE"},
        {"--side-table t=", "FILE is empty"},
        {"--side-table t=x.csv,format=xml", "format must be csv, tsv or jsonl"},
        {"--side-table t=x.csv,key=", "key= needs a column name"},
        {"--side-table t=x.csv,colour=red", "unknown sub-option"},
        {"--env =x", "the name K is empty"},
        {"--env NOEQ", "expected K=V"},
    };
    for (size_t i = 0; i < PRS_ARRAY_LEN(bad); i++) {
        cr_assert_eq(e2e_prs(&r, PROBE, bad[i][0], ""), 2, "%s", bad[i][0]);
        char *err = tu_read(r.err, NULL);
        cr_assert(strstr(err, bad[i][1]), "%s: %s", bad[i][0], err);
        free(err);
    }
    char opts[1200];
    snprintf(opts, sizeof(opts), "--side-input a=%s --side-table a=%s", t, t);
    cr_assert_eq(e2e_prs(&r, PROBE, opts, ""), 2);
    assert_file_has(&r, r.err, "NAME given twice");
    snprintf(opts, sizeof(opts), "--side-table t=%s/nope.csv", r.dir);
    cr_assert_eq(e2e_prs(&r, PROBE, opts, ""), 3);
    assert_file_has(&r, r.err, "nope.csv");
    snprintf(opts, sizeof(opts), "--side-input m=%s/nope.bin", r.dir);
    cr_assert_eq(e2e_prs(&r, PROBE, opts, ""), 3);
    assert_file_has(&r, r.err, "nope.bin");
    snprintf(opts, sizeof(opts), "--side-table t=%s", r.dir);
    cr_assert_eq(e2e_prs(&r, PROBE, opts, ""), 3);
    assert_file_has(&r, r.err, "not a regular file");
    tu_rmrf(r.dir);
}

/* The README's walk-through: every file gets one of labels.csv's labels, the same on a
 * second run (the classifier is deterministic). */
Test(side, classify_example_labels_every_file, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "side", 40);
    const char *opts = "--workers 2 --side-table labels=tools/examples/labels.csv,key=class_id";
    cr_assert_eq(e2e_prs(&r, "classify", opts, "--classes 4"), 0);
    char *first = e2e_out_file(&r, "parallel_run_step.txt");
    cr_assert(first);
    size_t labelled = e2e_count(first, "\tcat\n") + e2e_count(first, "\tdog\n") +
                      e2e_count(first, "\tbird\n") + e2e_count(first, "\tfish\n");
    cr_assert_eq(labelled, 40, "%s", first);
    e2e_assert_rows_once(&r, 40, NULL);
    char opts2[256];
    snprintf(opts2, sizeof(opts2), "--fresh %s", opts);
    cr_assert_eq(e2e_prs(&r, "classify", opts2, "--classes 4"), 0);
    for (unsigned i = 0; i < 40; i++) {
        char name[32];
        snprintf(name, sizeof(name), "f%04u.txt", i);
        char *row = row_of(&r, name);
        cr_assert(row && strstr(first, row), "%s changed class: %s", name, row);
        free(row);
    }
    free(first);
    tu_rmrf(r.dir);
}

/* Embedding: the function table's global init/shutdown and the side options of
 * prs_job_config, in this process (no shared object, no CLI). */
static atomic_int emb_global_inits, emb_global_shutdowns;
static int emb_model = 42;

static int emb_global_init(prs_global *g, int argc, char **argv) {
    cr_assert_eq(argc, 3);
    cr_assert(strstr(argv[2], "/labels.csv"), "argument not substituted: %s", argv[2]);
    cr_assert_str_eq(prs_global_side_path(g, "lab"), argv[2]);
    atomic_fetch_add(&emb_global_inits, 1);
    prs_global_set(g, &emb_model);
    return 0;
}

static void emb_global_shutdown(prs_global *g) {
    cr_assert_eq(prs_global_get(g), &emb_model);
    atomic_fetch_add(&emb_global_shutdowns, 1);
}

static int emb_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    if (prs_shared(ctx) != &emb_model) return -1;
    if (!getenv("EMB_SIDE")) return -1;
    for (uint32_t i = 0; i < batch->count; i++) {
        const void *v;
        size_t n;
        const char *name = batch->items[i].name;
        if (prs_side_get(ctx, "t", name, strlen(name), &v, &n) != 0) continue;
        char row[300];
        int len = snprintf(row, sizeof(row), "%s\t%.*s", name, (int)n, (const char *)v);
        prs_emit(out, row, (size_t)len);
    }
    return 0;
}

Test(side, embedded_function_table_global_init_and_tables, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "side", 12);
    char t[512], table_opt[600], input_opt[600];
    side_file(&r, "labels.csv", "k,v\nf0000.txt,zero\nf0011.txt,eleven\n", t, sizeof(t));
    snprintf(table_opt, sizeof(table_opt), "t=%s", t);
    snprintf(input_opt, sizeof(input_opt), "lab=%s", t);
    const char *tables[] = {table_opt}, *inputs[] = {input_opt}, *env[] = {"EMB_SIDE=1"};
    char *argv[] = {"embedded", "--labels", "lab", NULL};
    prs_job_config c;
    prs_job_config_defaults(&c);
    c.entry = (prs_entry_table){
        .run = emb_run, .global_init = emb_global_init, .global_shutdown = emb_global_shutdown};
    c.input = r.in;
    c.output_dir = r.out;
    c.workers = 3;
    c.mini_batch_size = 2;
    c.quiet = true;
    c.durable = false;
    c.argc = 3;
    c.argv = argv;
    c.side_tables = tables;
    c.side_table_count = 1;
    c.side_inputs = inputs;
    c.side_input_count = 1;
    c.env = env;
    c.env_count = 1;
    prs_job_report rep;
    cr_assert_eq(prs_job_run(&c, &rep), PRS_EXIT_OK, "%s", rep.message);
    cr_assert_eq(atomic_load(&emb_global_inits), 1);
    cr_assert_eq(atomic_load(&emb_global_shutdowns), 1);
    cr_assert_eq(rep.succeeded_items, 2); /* the other 10 keys are missing: no row */
    assert_row_has(&r, "f0000.txt", "\tf0000.txt,zero");
    assert_row_has(&r, "f0011.txt", "\tf0011.txt,eleven");
    cr_assert_str_eq(argv[2], "lab"); /* the caller's argv is not modified */
    tu_rmrf(r.dir);
}
