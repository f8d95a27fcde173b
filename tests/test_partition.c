/* test_partition.c -- core/partition: every partition holds exactly one key combination,
 * complete, in input order; every record lands exactly once; a property test over random
 * keys with sort buffers small enough to force many merge runs; bad inputs. */
#include "partition.h"
#include "util.h"

#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#define MAX_BATCHES 4096

typedef struct got {
    prs_partition_batch b[MAX_BATCHES];
    char values[MAX_BATCHES][64];
    size_t n;
} got;

static int collect(void *arg, const prs_partition_batch *b) {
    got *g = arg;
    cr_assert_lt(g->n, MAX_BATCHES);
    g->b[g->n] = *b;
    cr_assert_lt(b->values_len, sizeof(g->values[0]));
    memcpy(g->values[g->n], b->values, b->values_len);
    g->b[g->n].values = g->values[g->n];
    g->n++;
    return 0;
}

/* Reads the spill's records of batch b: "id,state,city" rows; checks them against the
 * batch's values and returns their ids in *ids. */
static size_t batch_ids(const char *spill, const prs_partition_batch *b, bool tab, long *ids) {
    const char *r = spill + b->offset;
    size_t n = 0;
    const char *state = b->values, *city = b->values + strlen(b->values) + 1;
    for (const char *end = r + b->length; r < end; n++) {
        const char *nl = memchr(r, '\n', (size_t)(end - r));
        cr_assert_not_null(nl, "a record without its newline");
        char row[128];
        snprintf(row, sizeof(row), "%.*s", (int)(nl - r), r);
        char *f1 = strchr(row, tab ? '\t' : ','),
             *f2 = f1 ? strchr(f1 + 1, tab ? '\t' : ',') : NULL;
        cr_assert(f1 && f2, "row '%s'", row);
        *f1 = *f2 = 0;
        ids[n] = atol(row);
        cr_assert_str_eq(f1 + 1, state, "a record of another state in the batch");
        cr_assert_str_eq(f2 + 1, city, "a record of another city in the batch");
        r = nl + 1;
    }
    cr_assert_eq(n, b->records);
    return n;
}

static void run_property(unsigned seed, unsigned rows, unsigned states, unsigned cities,
                         size_t run_bytes, bool tab) {
    char dir[256], in[300], spill[300], err[512];
    tu_tmpdir(dir, sizeof(dir), "partition");
    snprintf(in, sizeof(in), "%s/in.csv", dir);
    snprintf(spill, sizeof(spill), "%s/spill.csv", dir);
    char sep = tab ? '\t' : ',';
    size_t cap = (size_t)rows * 32 + 64, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text, cap, "id%cstate%ccity\n", sep, sep);
    srand(seed);
    char *combos = calloc((size_t)states * cities, 1);
    size_t distinct = 0;
    for (unsigned i = 0; i < rows; i++) {
        unsigned st = (unsigned)rand() % states, ci = (unsigned)rand() % cities;
        distinct += !combos[st * cities + ci];
        combos[st * cities + ci] = 1;
        len += (size_t)snprintf(text + len, cap - len, "%u%cs%u%cc%u\n", i, sep, st, sep, ci);
    }
    free(combos);
    tu_write(in, text, len);
    free(text);
    prs_partition *p;
    cr_assert_eq(prs_partition_open(&p, tab ? PRS_FORMAT_TSV : PRS_FORMAT_CSV, "state,city", spill,
                                    dir, run_bytes, err, sizeof(err)),
                 0, "%s", err);
    cr_assert_eq(prs_partition_add(p, in, "in.csv", err, sizeof(err)), 0, "%s", err);
    static got g;
    g.n = 0;
    uint32_t header;
    cr_assert_eq(prs_partition_finish(p, collect, &g, &header, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(prs_partition_records(p), rows);
    cr_assert_eq(prs_partition_count(p), g.n);
    cr_assert_eq(g.n, distinct, "one partition per key combination present");
    prs_partition_close(p);
    char *out = tu_read(spill, NULL);
    cr_assert_eq(header, 13);
    cr_assert(!strncmp(out, tab ? "id\tstate\tcity\n" : "id,state,city\n", 14));
    char *seen = calloc(rows, 1);
    long *ids = malloc(rows * sizeof(long));
    size_t total = 0;
    for (size_t i = 0; i < g.n; i++) {
        size_t n = batch_ids(out, &g.b[i], tab, ids);
        for (size_t k = 0; k < n; k++) {
            cr_assert(ids[k] >= 0 && ids[k] < (long)rows);
            cr_assert(!seen[ids[k]], "record %ld twice", ids[k]);
            seen[ids[k]] = 1;
            if (k) cr_assert_lt(ids[k - 1], ids[k], "input order within a partition");
        }
        total += n;
        for (size_t j = 0; j < i; j++)
            cr_assert(memcmp(g.values[i], g.values[j], g.b[i].values_len) ||
                          g.b[i].values_len != g.b[j].values_len,
                      "one key combination in two partitions");
        uint64_t line = 1; /* the spill's physical line of the batch's first record */
        for (uint64_t k = 0; k < g.b[i].offset; k++)
            line += out[k] == '\n';
        cr_assert_eq(g.b[i].first_line, line);
    }
    cr_assert_eq(total, rows, "every record exactly once");
    free(seen);
    free(ids);
    free(out);
    tu_rmrf(dir);
}

Test(partition, property_random_keys_one_run, .timeout = 60) {
    for (unsigned seed = 1; seed <= 5; seed++)
        run_property(seed, 2000, 1 + seed * 3, 1 + seed, 0, seed & 1);
}

Test(partition, property_random_keys_many_merge_runs, .timeout = 60) {
    /* 32-byte tuples, 64 per run: 3000 records are 47 runs to merge. */
    for (unsigned seed = 10; seed < 14; seed++)
        run_property(seed, 3000, 7, 5, 64 * 32, false);
}

Test(partition, jsonl_members_null_and_missing_keys, .timeout = 30) {
    char dir[256], in[300], spill[300], err[512];
    tu_tmpdir(dir, sizeof(dir), "partition-jsonl");
    snprintf(in, sizeof(in), "%s/in.jsonl", dir);
    snprintf(spill, sizeof(spill), "%s/spill.jsonl", dir);
    const char *text = "{\"id\": 1, \"k\": \"a\", \"n\": {\"k\": \"x\"}}\n"
                       "{\"k\": 7, \"id\": 2}\n"
                       "{\"id\": 3}\n"
                       "{\"id\": 4, \"k\": null}\n"
                       "{\"id\": 5, \"k\": \"a\"}\n";
    tu_write(in, text, strlen(text));
    prs_partition *p;
    cr_assert_eq(prs_partition_open(&p, PRS_FORMAT_JSONL, "k", spill, dir, 0, err, sizeof(err)), 0);
    cr_assert_eq(prs_partition_add(p, in, "in.jsonl", err, sizeof(err)), 0, "%s", err);
    static got g;
    g.n = 0;
    uint32_t header;
    cr_assert_eq(prs_partition_finish(p, collect, &g, &header, err, sizeof(err)), 0, "%s", err);
    prs_partition_close(p);
    cr_assert_eq(header, 0);
    cr_assert_eq(g.n, 3, "a, 7, and the records without k (missing and null)");
    char *out = tu_read(spill, NULL);
    int found = 0;
    for (size_t i = 0; i < g.n; i++) {
        const prs_partition_batch *b = &g.b[i];
        char body[256];
        snprintf(body, sizeof(body), "%.*s", (int)b->length, out + b->offset);
        if (b->missing) {
            cr_assert_str_eq(body, "{\"id\": 3}\n{\"id\": 4, \"k\": null}\n");
            found |= 1;
        } else if (!strcmp(b->values, "a")) {
            cr_assert_eq(b->records, 2, "the nested k is not the record's k");
            found |= 2;
        } else {
            cr_assert_str_eq(b->values, "7");
            found |= 4;
        }
    }
    cr_assert_eq(found, 7);
    free(out);
    tu_rmrf(dir);
}

Test(partition, bad_inputs_are_named, .timeout = 30) {
    char dir[256], a[300], b[300], spill[300], err[512];
    tu_tmpdir(dir, sizeof(dir), "partition-bad");
    snprintf(a, sizeof(a), "%s/a.csv", dir);
    snprintf(b, sizeof(b), "%s/b.csv", dir);
    snprintf(spill, sizeof(spill), "%s/spill", dir);
    tu_write(a, "x,y\n1,2\n", 8);
    tu_write(b, "x,z\n1,2\n", 8);
    prs_partition *p;
    cr_assert_eq(prs_partition_open(&p, PRS_FORMAT_LINES, "x", spill, dir, 0, err, sizeof(err)),
                 -EINVAL);
    cr_assert(strstr(err, "needs --input-format csv, tsv or jsonl"), "%s", err);
    cr_assert_eq(prs_partition_open(&p, PRS_FORMAT_CSV, "x,,y", spill, dir, 0, err, sizeof(err)),
                 -EINVAL);
    cr_assert_eq(prs_partition_open(&p, PRS_FORMAT_CSV, "w", spill, dir, 0, err, sizeof(err)), 0);
    cr_assert_eq(prs_partition_add(p, a, "a.csv", err, sizeof(err)), -EINVAL);
    cr_assert_str_eq(err, "--partition-keys: a.csv has no column 'w' (its header: x,y)");
    prs_partition_close(p);
    cr_assert_eq(prs_partition_open(&p, PRS_FORMAT_CSV, "x", spill, dir, 0, err, sizeof(err)), 0);
    cr_assert_eq(prs_partition_add(p, a, "a.csv", err, sizeof(err)), 0);
    cr_assert_eq(prs_partition_add(p, b, "b.csv", err, sizeof(err)), -EINVAL);
    cr_assert(strstr(err, "b.csv: its header differs from"), "%s", err);
    prs_partition_close(p);
    tu_rmrf(dir);
}

/* ---- through $PRS_BIN: prs run --partition-keys ------------------------------------------- */

/* A csv of n rows "id,state,city" with random keys (some rows without a city). */
static void write_csv(const char *path, unsigned n, unsigned seed) {
    size_t cap = (size_t)n * 32 + 32, len = 0;
    char *t = malloc(cap);
    len += (size_t)snprintf(t, cap, "id,state,city\n");
    srand(seed);
    for (unsigned i = 0; i < n; i++) {
        unsigned st = (unsigned)rand() % 5, ci = (unsigned)rand() % 4;
        if (ci == 3)
            len += (size_t)snprintf(t + len, cap - len, "%u,s%u\n", i, st);
        else
            len += (size_t)snprintf(t + len, cap - len, "%u,s%u,c%u\n", i, st, ci);
    }
    tu_write(path, t, len);
    free(t);
}

/* Every row of partition_probe's output: its record's keys equal the batch's values, each
 * id exactly once, ids increasing within a batch, one key combination per batch. */
static void check_rows(const char *out_file, unsigned n) {
    char *text = tu_read(out_file, NULL);
    cr_assert_not_null(text, "no output");
    char *seen = calloc(n, 1);
    static char batch_keys[4096][128];
    static long last_id[4096];
    static bool used[4096];
    memset(used, 0, sizeof(used));
    unsigned rows = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save), rows++) {
        char keys[128], st[32] = "", ci[32] = "NULL";
        unsigned long batch;
        long id;
        cr_assert_eq(sscanf(line, "%lu\t%127s\t%ld,%31[^,],%31s", &batch, keys, &id, st, ci) >= 4,
                     1, "row '%s'", line);
        cr_assert_lt(batch, 4096u);
        cr_assert(id >= 0 && id < (long)n && !seen[id], "id %ld missing or twice", id);
        seen[id] = 1;
        char want[128];
        snprintf(want, sizeof(want), "state=%s,city=%s", st, ci);
        cr_assert_str_eq(keys, want, "the batch's values are its records' values");
        if (used[batch]) {
            cr_assert_str_eq(batch_keys[batch], keys, "one key combination per batch");
            cr_assert_lt(last_id[batch], id, "input order within a partition");
        }
        used[batch] = true;
        snprintf(batch_keys[batch], sizeof(batch_keys[batch]), "%s", keys);
        last_id[batch] = id;
    }
    cr_assert_eq(rows, n, "%u rows for %u records", rows, n);
    for (unsigned i = 0; i < 4096; i++) {
        for (unsigned k = 0; used[i] && k < i; k++)
            cr_assert(!used[k] || strcmp(batch_keys[k], batch_keys[i]),
                      "batches %u and %u hold the same key combination", k, i);
    }
    free(seen);
    free(text);
}

Test(partition_run, every_partition_once_with_its_values_and_resume_after_a_crash, .timeout = 120) {
    char dir[256], csv[300], out[300], err[300], file[400];
    tu_tmpdir(dir, sizeof(dir), "partition-run");
    snprintf(csv, sizeof(csv), "%s/in.csv", dir);
    snprintf(out, sizeof(out), "%s/out", dir);
    snprintf(err, sizeof(err), "%s/err.txt", dir);
    snprintf(file, sizeof(file), "%s/parallel_run_step.txt", out);
    write_csv(csv, 3000, 7);
    /* --dry-run: the same partitions, nothing created. */
    char dry[400];
    snprintf(dry, sizeof(dry), "%s/dry.txt", dir);
    cr_assert_eq(tu_sh("%s run -n --entry-script build/tests/partition_probe.so --input '%s' "
                       "--input-format csv --output '%s' --partition-keys state,city >'%s' 2>&1",
                       tu_prs(), csv, out, dry),
                 0);
    char *d = tu_read(dry, NULL);
    cr_assert(strstr(d, "3000 records in 20 partitions: 20 mini-batches"), "%s", d);
    cr_assert(strstr(d, " city=(none)\n"), "%s", d);
    free(d);
    cr_assert_neq(tu_sh("test -e '%s'", out), 0, "--dry-run created OUT");
    /* Batch 3's first try crashes: the runtime restarts and resumes mid-job. */
    cr_assert_eq(tu_sh("%s run -q --entry-script build/tests/partition_probe.so --input '%s' "
                       "--input-format csv --output '%s' --partition_keys state,city -j 3 "
                       "--mini-batch-size 100 -- --crash-batch 3 2>'%s'",
                       tu_prs(), csv, out, err),
                 0);
    check_rows(file, 3000);
    snprintf(file, sizeof(file), "%s/logs/70_driver_log.txt", out);
    char *drv = tu_read(file, NULL);
    cr_assert(strstr(drv, "died of signal 11"), "batch 3 crashed: a resume\n%s", drv);
    free(drv);
    char *ov = NULL;
    snprintf(file, sizeof(file), "%s/logs/overview.txt", out);
    ov = tu_read(file, NULL);
    cr_assert(strstr(ov, "created 20, processed 20"), "5 states x 4 cities (one: none)\n%s", ov);
    free(ov);
    /* The keys are part of the job: another set on the same OUT is refused. */
    cr_assert_eq(tu_sh("%s run -q --entry-script build/tests/partition_probe.so --input '%s' "
                       "--input-format csv --output '%s' --partition-keys state 2>'%s'",
                       tu_prs(), csv, out, err),
                 2);
    char *e = tu_read(err, NULL);
    cr_assert(strstr(e, "--partition-keys was 'state,city', now 'state'"), "%s", e);
    free(e);
    /* A key column the input lacks: exit 2 naming it and the header. */
    cr_assert_eq(tu_sh("%s run -q --entry-script build/tests/partition_probe.so --input '%s' "
                       "--input-format csv --output '%s/o2' --partition-keys zip 2>'%s'",
                       tu_prs(), csv, dir, err),
                 2);
    e = tu_read(err, NULL);
    cr_assert(strstr(e, "in.csv has no column 'zip' (its header: id,state,city)"), "%s", e);
    free(e);
    cr_assert_eq(tu_sh("%s run -q --entry-script build/tests/partition_probe.so --input '%s' "
                       "--output '%s/o3' --partition-keys zip 2>'%s'",
                       tu_prs(), dir, dir, err),
                 2);
    e = tu_read(err, NULL);
    cr_assert(strstr(e, "--partition-keys zip needs --input-format csv, tsv or jsonl"), "%s", e);
    free(e);
    tu_rmrf(dir);
}

/* Python: run(mini_batch, mini_batch_context) gets partition_key_value, a dict equal to
 * every row's keys (a missing key: None); a one-parameter run gets the mini-batch only. */
Test(partition_run, python_context_carries_the_key_values, .timeout = 180) {
    if (access("/usr/bin/python3", X_OK) != 0) cr_skip_test("no /usr/bin/python3");
    char dir[256], csv[300], out[300], err[300], file[400];
    tu_tmpdir(dir, sizeof(dir), "partition-py");
    snprintf(csv, sizeof(csv), "%s/in.csv", dir);
    snprintf(out, sizeof(out), "%s/out", dir);
    snprintf(err, sizeof(err), "%s/err.txt", dir);
    write_csv(csv, 1000, 11);
    cr_assert_eq(tu_sh("%s run -q --entry-script tests/python/partition_probe.py --input '%s' "
                       "--input-format csv --output '%s' --partition-keys state,city -j 2 "
                       "2>'%s'",
                       tu_prs(), csv, out, err),
                 0, "see %s", err);
    snprintf(file, sizeof(file), "%s/parallel_run_step.txt", out);
    check_rows(file, 1000);
    snprintf(out, sizeof(out), "%s/out1", dir);
    cr_assert_eq(tu_sh("%s run -q --entry-script tests/python/one_arg.py --input '%s' "
                       "--input-format csv --output '%s' --partition-keys state 2>'%s'",
                       tu_prs(), csv, out, err),
                 0, "see %s", err);
    snprintf(file, sizeof(file), "%s/parallel_run_step.txt", out);
    cr_assert_eq(tu_sh("test $(wc -l <'%s') -eq 1000", file), 0, "one row per record");
    tu_rmrf(dir);
}
