/* Embedding: link libprs, run a job from a function table, no shared object involved. */
#include "prs.h"
#include "util.h"

#include <criterion/criterion.h>
#include <stdatomic.h>
#include <string.h>

static atomic_int inits, shutdowns;

static int emb_init(prs_ctx *ctx, int argc, char **argv) {
    cr_assert_eq(argc, 2);
    cr_assert_str_eq(argv[1], "--flag");
    prs_set_user(ctx, (void *)(uintptr_t)(prs_worker_id(ctx) + 100));
    atomic_fetch_add(&inits, 1);
    return 0;
}

static int emb_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    uintptr_t tag = (uintptr_t)prs_user(ctx);
    if ((int)tag != prs_worker_id(ctx) + 100) return -1;
    for (uint32_t i = 0; i < batch->count; i++) {
        char row[300];
        /* Upper-cases the content: each file holds its own name. */
        int n = snprintf(row, sizeof(row), "%.*s", (int)batch->items[i].size,
                         (const char *)batch->items[i].data);
        for (int k = 0; k < n; k++)
            row[k] = (char)(row[k] >= 'a' && row[k] <= 'z' ? row[k] - 32 : row[k]);
        prs_emit(out, row, (size_t)n);
    }
    return 0;
}

static void emb_shutdown(prs_ctx *ctx) {
    (void)ctx;
    atomic_fetch_add(&shutdowns, 1);
}

Test(embed, job_from_a_function_table) {
    char dir[256], in[300], out[300];
    tu_tmpdir(dir, sizeof(dir), "embed");
    snprintf(in, sizeof(in), "%s/in", dir);
    snprintf(out, sizeof(out), "%s/out", dir);
    tu_dataset(in, 23);
    char *argv[] = {"embedded", "--flag", NULL};
    prs_job_config c;
    prs_job_config_defaults(&c);
    c.entry = (prs_entry_table){.init = emb_init, .run = emb_run, .shutdown = emb_shutdown};
    c.input = in;
    c.output_dir = out;
    c.workers = 3;
    c.mini_batch_size = 4;
    c.quiet = true;
    c.durable = false;
    c.argc = 2;
    c.argv = argv;
    prs_job_report rep;
    cr_assert_eq(prs_job_run(&c, &rep), PRS_EXIT_OK, "%s", rep.message);
    cr_assert_eq(rep.total_items, 23);
    cr_assert_eq(rep.succeeded_items, 23);
    cr_assert_eq(rep.total_batches, 6);
    cr_assert_eq(atomic_load(&inits), 3);
    cr_assert_eq(atomic_load(&shutdowns), 3);
    char path[512];
    snprintf(path, sizeof(path), "%s/parallel_run_step.txt", out);
    char *rows = tu_read(path, NULL);
    cr_assert_eq(tu_count_lines(rows), 23);
    cr_assert(strstr(rows, "F0022.TXT\n"), "%s", rows);
    cr_assert_eq(rep.output_bytes, strlen(rows));
    free(rows);
    tu_rmrf(dir);
}

Test(embed, bad_config_is_a_usage_error_with_a_message) {
    prs_job_config c;
    prs_job_config_defaults(&c);
    c.entry.run = emb_run;
    c.input = "/tmp";
    c.output_dir = "/tmp/x";
    c.mini_batch_size = 0;
    prs_job_report rep;
    cr_assert_eq(prs_job_run(&c, &rep), PRS_EXIT_USAGE);
    cr_assert(strstr(rep.message, "--mini-batch-size"), "%s", rep.message);
}
