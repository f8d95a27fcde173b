/* test_cli.c -- the command line: option matching (tools/opts.c), the Azure ML job YAML
 * reader (tools/jobspec.c, against the files in tests/jobs/ and one file per error), and through
 * $PRS_BIN: aliases that take effect, suggestions, --config runs, overrides, --dry-run. */
#include "e2e.h"
#include "../tools/jobspec.h" /* the CLI's modules: tools/ is not on the include path */
#include "../tools/opts.h"

#include <string.h>
#include <sys/stat.h>

typedef struct row {
    prs_opt o;
    int tag; /* a caller's extra field: the table's stride is not sizeof(prs_opt) */
} row;

static const row table[] = {
    {{"entry-script", NULL, 0, "PATH"}, 1},
    {{"input", NULL, 0, "DIR"}, 2},
    {{"input-format", NULL, 0, "F"}, 3},
    {{"workers", "process_count_per_node max_concurrency_per_instance", 'j', "N"}, 4},
    {{"mini-batch-size", NULL, 0, "N"}, 5},
    {{"quiet", NULL, 'q', NULL}, 6},
    {{"dry-run", NULL, 'n', NULL}, 7},
};

static int find(const char *name, char *err) {
    return prs_opts_find(PRS_OPTS_TABLE(table), name, strlen(name), err, 256);
}

Test(opts, names_aliases_underscores_and_prefixes, .timeout = 10) {
    char err[256];
    cr_assert_eq(find("entry-script", err), 0);
    cr_assert_eq(find("entry_script", err), 0, "ParallelRunConfig's underscores");
    cr_assert_eq(find("process_count_per_node", err), 3);
    cr_assert_eq(find("max-concurrency-per-instance", err), 3);
    cr_assert_eq(find("input", err), 1, "an exact name wins over a longer one");
    cr_assert_eq(find("entry", err), 0, "a unique prefix");
    cr_assert_eq(find("process", err), 3, "a unique prefix of an alias");
    cr_assert_eq(find("mini_batch", err), 4);
}

Test(opts, ambiguous_prefix_lists_candidates, .timeout = 10) {
    char err[256];
    cr_assert_eq(find("inp", err), -EINVAL);
    cr_assert_str_eq(err, "option --inp is ambiguous: it could be --input or --input-format");
}

Test(opts, unknown_suggests_the_nearest_or_nothing, .timeout = 10) {
    char err[256];
    cr_assert_eq(find("entry-scirpt", err), -ENOENT);
    cr_assert_str_eq(err, "unknown option --entry-scirpt; did you mean --entry-script?");
    cr_assert_eq(find("wrokers", err), -ENOENT);
    cr_assert_str_eq(err, "unknown option --wrokers; did you mean --workers?");
    cr_assert_eq(find("mini_batch_sise", err), -ENOENT);
    cr_assert(strstr(err, "did you mean --mini-batch-size?"), "%s", err);
    cr_assert_eq(find("colour", err), -ENOENT);
    cr_assert_str_eq(err, "unknown option --colour", "nothing is close: no suggestion");
    const char *words[] = {"mini_batch_size", "logging_level", NULL};
    cr_assert_str_eq(prs_opts_nearest("mini_batch_sizes", words), "mini_batch_size");
    cr_assert_null(prs_opts_nearest("partition", words));
}

static int parse(const char *line, prs_opt_hit *hits, size_t *n, int *rest, char *err) {
    static char buf[512];
    static char *argv[32];
    snprintf(buf, sizeof(buf), "%s", line);
    int argc = 0;
    argv[argc++] = "run";
    for (char *save = NULL, *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    return prs_opts_parse(PRS_OPTS_TABLE(table), argc, argv, hits, 16, n, rest, err, 256);
}

Test(opts, parse_every_form, .timeout = 10) {
    prs_opt_hit h[16];
    size_t n;
    int rest;
    char err[256];
    cr_assert_eq(parse("--workers=3 --input d -j4 -qn -j 5 --process_count_per_node 6 -- a b", h,
                       &n, &rest, err),
                 0, "%s", err);
    cr_assert_eq(n, 7);
    cr_assert_eq(h[0].index, 3);
    cr_assert_str_eq(h[0].value, "3");
    cr_assert_str_eq(h[1].value, "d");
    cr_assert_str_eq(h[2].value, "4");
    cr_assert_str_eq(h[2].spelled, "-j");
    cr_assert_eq(h[3].index, 5);
    cr_assert_eq(h[4].index, 6);
    cr_assert_null(h[4].value);
    cr_assert_str_eq(h[5].value, "5");
    cr_assert_str_eq(h[6].spelled, "--process_count_per_node");
    cr_assert_eq(rest, 11, "the words after --");
    cr_assert_eq(parse("--quiet", h, &n, &rest, err), 0);
    cr_assert_eq(rest, -1, "no --");
}

Test(opts, parse_errors_name_the_word, .timeout = 10) {
    prs_opt_hit h[16];
    size_t n;
    int rest;
    char err[256];
    cr_assert_eq(parse("--workers", h, &n, &rest, err), -EINVAL);
    cr_assert_str_eq(err, "--workers needs a value (N)");
    cr_assert_eq(parse("--quiet=yes", h, &n, &rest, err), -EINVAL);
    cr_assert_str_eq(err, "--quiet takes no value");
    cr_assert_eq(parse("-x", h, &n, &rest, err), -EINVAL);
    cr_assert_str_eq(err, "unknown option -x");
    cr_assert_eq(parse("-workers", h, &n, &rest, err), -EINVAL);
    cr_assert_str_eq(err, "unknown option -w (long options take two dashes)");
    cr_assert_eq(parse("stray", h, &n, &rest, err), -EINVAL);
    cr_assert(strstr(err, "stray: unexpected argument"), "%s", err);
    cr_assert_eq(parse("-j", h, &n, &rest, err), -EINVAL);
    cr_assert_str_eq(err, "-j needs a value (N)");
    cr_assert_eq(parse("-q -q -q -q -q -q -q -q -q -q -q -q -q -q -q -q -q", h, &n, &rest, err),
                 -E2BIG);
}

/* ---- the job YAML reader ------------------------------------------------------------------ */

/* A scratch copy of tests/jobs/NAME next to a dataset (data/), a model folder and the
 * example scripts (src/ -> build/examples): relative paths in the file resolve there. */
static void job_dir(e2e_run *r, const char *tag, const char *name, char *yml, size_t size) {
    e2e_setup(r, tag, 12);
    snprintf(yml, size, "%s/job.yml", r->dir);
    cr_assert_eq(tu_sh("cp tests/jobs/%s '%s' && mv '%s' '%s/data' && mkdir -p '%s/model' && "
                       "ln -s \"$PWD/build/examples\" '%s/src'",
                       name, yml, r->in, r->dir, r->dir, r->dir),
                 0);
    snprintf(r->in, sizeof(r->in), "%s/data", r->dir);
}

static const prs_jobspec_setting *setting(const prs_jobspec *js, const char *option) {
    const prs_jobspec_setting *last = NULL;
    for (size_t i = 0; i < js->count; i++) {
        if (!strcmp(js->settings[i].option, option)) last = &js->settings[i];
    }
    return last;
}

static void expect(const prs_jobspec *js, const char *option, const char *value, const char *key,
                   uint32_t line) {
    const prs_jobspec_setting *s = setting(js, option);
    cr_assert_not_null(s, "no setting for --%s", option);
    cr_assert_str_eq(s->value, value, "--%s", option);
    cr_assert_str_eq(s->key, key, "--%s", option);
    cr_assert_eq(s->line, line, "--%s from line %u, not %u", option, s->line, line);
}

Test(jobspec, file_job_in_the_docs_shape, .timeout = 30) {
    e2e_run r;
    char yml[400], p[600], err[1024];
    job_dir(&r, "jobspec-file", "file_job.yml", yml, sizeof(yml));
    prs_jobspec js;
    cr_assert_eq(prs_jobspec_load(&js, yml, err, sizeof(err)), 0, "%s", err);
    snprintf(p, sizeof(p), "%s/data", r.dir);
    expect(&js, "input", p, "input_data", 29);
    expect(&js, "mini-batch-size", "5", "mini_batch_size", 30);
    expect(&js, "workers", "2", "max_concurrency_per_instance", 31);
    expect(&js, "run-max-try", "3", "retry_settings.max_retries", 35);
    expect(&js, "run-invocation-timeout", "30", "retry_settings.timeout", 36);
    expect(&js, "logging-level", "DEBUG", "logging_level", 37);
    expect(&js, "env", "AZUREML_PARALLEL_EXAMPLE=1a",
           "environment_variables.AZUREML_PARALLEL_EXAMPLE", 39);
    snprintf(p, sizeof(p), "%s/src/wordcount.so", r.dir);
    expect(&js, "entry-script", p, "task.entry_script", 44);
    expect(&js, "error-threshold", "5", "task.program_arguments --error_threshold", 45);
    expect(&js, "allowed-failed-percent", "30", "task.program_arguments --allowed_failed_percent",
           45);
    expect(&js, "output-action", "append_row", "task.append_row_to", 50);
    snprintf(p, sizeof(p), "%s/out", r.dir);
    expect(&js, "output", p, "task.append_row_to", 50);
    cr_assert_eq(js.instance_count, 2);
    cr_assert_eq(js.instance_count_line, 33);
    /* Every word of program_arguments reaches init, expressions replaced, as on Azure. */
    cr_assert_eq(js.argc, 8);
    cr_assert_str_eq(js.args[0], "--model");
    snprintf(p, sizeof(p), "%s/model", r.dir);
    cr_assert_str_eq(js.args[1], p);
    cr_assert_str_eq(js.args[7], "1200");
    prs_jobspec_free(&js);
    tu_rmrf(r.dir);
}

Test(jobspec, tabular_job_reads_its_mltable, .timeout = 30) {
    e2e_run r;
    char yml[400], p[600], err[1024];
    job_dir(&r, "jobspec-tab", "tabular_job.yml", yml, sizeof(yml));
    cr_assert_eq(tu_sh("cp -r tests/jobs/iris-mltable '%s/'", r.dir), 0);
    prs_jobspec js;
    cr_assert_eq(prs_jobspec_load(&js, yml, err, sizeof(err)), 0, "%s", err);
    snprintf(p, sizeof(p), "%s/iris-mltable/iris.csv", r.dir);
    expect(&js, "input", p, "input_data", 20);
    expect(&js, "input-format", "csv", "input_data", 20);
    expect(&js, "mini-batch-size", "1kb", "mini_batch_size", 21);
    snprintf(p, sizeof(p), "%s/out", r.dir);
    expect(&js, "output", p, "task.append_row_to", 29);
    expect(&js, "append-row-file-name", "predictions.csv", "task.append_row_to", 29);
    expect(&js, "allowed-failed-count", "3", "task.program_arguments --allowed_failed_count", 28);
    cr_assert_null(setting(&js, "run-max-try"), "no retry_settings: the CLI applies v2's 2");
    cr_assert_eq(js.argc, 4);
    cr_assert_str_eq(js.args[3], "two words", "quotes group words");
    prs_jobspec_free(&js);
    tu_rmrf(r.dir);
}

/* One bad document and the message it must get (FILE:LINE: KEY: ...). */
typedef struct bad_doc {
    const char *yaml;
    const char *message; /* after "FILE:" */
} bad_doc;

static const bad_doc bad_docs[] = {
    {"type: parallel\nmini_batch_sise: 5\n",
     "2: mini_batch_sise: unknown key; did you mean mini_batch_size?"},
    {"type: parallel\nflavour: 5\n", "2: flavour: unknown key (prs reads: see README"},
    {"type: command\n", "1: type: 'command': prs reads parallel jobs (type: parallel)"},
    {"type: parallel\ncompute: azureml:cpu-cluster\n",
     "2: compute: prs runs on this machine: remove it (to spread a job over machines, "
     "resources.instance_count with prs submit)"},
    {"type: parallel\nidentity:\n  type: managed\n",
     "2: identity: an Azure ML service setting with no meaning here: remove it"},
    {"type: parallel\njobs:\n  a: {}\n", "2: jobs: a pipeline job"},
    {"inputs:\n  d:\n    type: uri_folder\n    path: azureml:my-data:1\n",
     "4: inputs.d: 'azureml:my-data:1' is a registered Azure ML asset or datastore, which exists "
     "only in a workspace: download it and write its local path (path: ./data)"},
    {"inputs:\n  d:\n    path: https://example.org/data\n",
     "3: inputs.d: 'https://example.org/data' is a cloud URI: copy the data here and write its "
     "local path"},
    {"inputs:\n  d:\n    type: uri_folder\n    pth: ./data\n",
     "4: inputs.d.pth: unknown key; did you mean path?"},
    {"input_data: ${{parent.inputs.data}}\n",
     "1: input_data: ${{parent.inputs.data}} is an Azure ML expression prs cannot evaluate: "
     "write a local path, or ${{inputs.NAME}} / ${{outputs.NAME}} naming an entry of this file"},
    {"input_data: ${{inputs.missing}}\n",
     "1: input_data: ${{inputs.missing}}: no input named 'missing' in this file"},
    {"inputs:\n  d:\n    type: uri_file\n    path: ./a.csv\ninput_data: ${{inputs.d}}\n",
     "5: input_data: the input is of type uri_file: a parallel job reads a uri_folder"},
    {"inputs:\n  d:\n    type: uri_folder\ninput_data: ${{inputs.d}}\n",
     "4: input_data: this input has no path: on Azure ML the service picks one; here write a "
     "local directory (path: ./data)"},
    {"resources: 2\n", "1: resources: expected a mapping (instance_count: 2), got a single value"},
    {"resources:\n  instance_count: two\n",
     "2: resources.instance_count: 'two': a whole number, 1 or more"},
    {"resources:\n  instance_type: Standard_D2\n",
     "2: resources.instance_type: an Azure ML compute setting with no meaning on this machine: "
     "remove it"},
    {"retry_settings:\n  max_retry: 3\n",
     "2: retry_settings.max_retry: unknown key; did you mean max_retries?"},
    {"retry_settings:\n  max_retries: [3]\n",
     "2: retry_settings.max_retries: expected a single value, got a list"},
    {"partition_keys: state\n",
     "1: partition_keys: expected a list of column names ([state, city]), got a single value"},
    {"partition_keys: []\n",
     "1: partition_keys: an empty list: name at least one column, or remove it"},
    {"environment_variables: [A]\n",
     "1: environment_variables: expected a mapping (NAME: value), got a list"},
    {"mini_batch_size:\n", "1: mini_batch_size: expected a single value, got an empty value"},
    {"task:\n  type: run_function\n  environment: azureml:sklearn:1\n",
     "3: task.environment: an Azure ML environment (image, conda file): prs runs the entry "
     "script in this machine's environment (Python: /usr/bin/python3); remove it"},
    {"task:\n  type: command\n", "2: task.type: 'command': prs runs run_function tasks"},
    {"task:\n  entry_script: s.py\n  program_arguments: \"--x 'open\"\n",
     "3: task.program_arguments: an unclosed ' quote"},
    {"task:\n  entry_script: s.py\n  program_arguments: --error_threshold\n",
     "3: task.program_arguments: --error_threshold needs a value"},
    {"task:\n  code: ./src\n", "2: task.code: task.entry_script is missing"},
    {"task:\n  entry_script: s.py\n  append_row_to: ${{inputs.d}}\ninputs:\n  d: {path: .}\n",
     "3: task.append_row_to: names an input: rows go to an output"},
    {"outputs:\n  o:\n    type: uri_folder\ntask:\n  entry_script: s.py\n  append_row_to: "
     "${{outputs.o}}\n",
     "6: task.append_row_to: this output has no path: on Azure ML the service picks one; here "
     "write a local directory (path: ./out)"},
    {"- a\n- b\n", "1: the file: expected a mapping (type: parallel, ...), got a list"},
    {"type: parallel\n  bad: [\n", "2: not valid YAML: "},
};

Test(jobspec, every_error_names_file_line_key_and_what_to_write, .timeout = 30) {
    char dir[256], path[300], err[2048], want[1200];
    tu_tmpdir(dir, sizeof(dir), "jobspec-bad");
    snprintf(path, sizeof(path), "%s/job.yml", dir);
    for (size_t i = 0; i < PRS_ARRAY_LEN(bad_docs); i++) {
        tu_write(path, bad_docs[i].yaml, strlen(bad_docs[i].yaml));
        prs_jobspec js;
        int rc = prs_jobspec_load(&js, path, err, sizeof(err));
        prs_jobspec_free(&js);
        cr_assert_eq(rc, -EINVAL, "case %zu accepted: %s", i, bad_docs[i].yaml);
        snprintf(want, sizeof(want), "%s:%s", path, bad_docs[i].message);
        cr_assert(!strncmp(err, want, strlen(want)), "case %zu:\n got  %s\n want %s", i, err, want);
    }
    tu_write(path, "", 0);
    prs_jobspec js;
    cr_assert_eq(prs_jobspec_load(&js, path, err, sizeof(err)), -EINVAL);
    cr_assert(strstr(err, "empty"), "%s", err);
    prs_jobspec_free(&js);
    cr_assert_eq(prs_jobspec_load(&js, "/nonexistent/job.yml", err, sizeof(err)), -ENOENT);
    cr_assert(strstr(err, "--config /nonexistent/job.yml: No such file"), "%s", err);
    prs_jobspec_free(&js);
    tu_rmrf(dir);
}

Test(jobspec, mltable_errors, .timeout = 30) {
    static const struct {
        const char *mltable, *message;
    } cases[] = {
        {"paths:\n  - file: a.csv\n  - file: b.csv\ntransformations:\n  - read_delimited: {}\n",
         "MLTable:2: paths: prs reads one path"},
        {"paths:\n  - pattern: ./*.csv\ntransformations:\n  - read_delimited: {}\n",
         "MLTable:2: paths: prs reads file: or folder:"},
        {"paths:\n  - file: a.csv\ntransformations:\n  - read_parquet: {}\n",
         "MLTable:4: transformations: prs understands read_delimited and read_json_lines only"},
        {"paths:\n  - file: a.csv\ntransformations:\n  - read_delimited:\n      delimiter: ';'\n",
         "MLTable:5: read_delimited.delimiter: prs reads ',' (csv) or '\\t' (tsv), not ';'"},
        {"paths:\n  - file: a.csv\ntransformations:\n  - read_delimited:\n      header: "
         "no_header\n",
         "MLTable:5: read_delimited.header: prs reads the first row of a csv/tsv file as its "
         "header"},
        {"paths:\n  - file: a.csv\n", "MLTable:1: MLTable: needs paths: and transformations:"},
    };
    char dir[256], path[300], mt[320], err[2048];
    tu_tmpdir(dir, sizeof(dir), "jobspec-mltable");
    snprintf(path, sizeof(path), "%s/job.yml", dir);
    snprintf(mt, sizeof(mt), "%s/t/MLTable", dir);
    const char *job =
        "inputs:\n  t:\n    type: mltable\n    path: ./t\ninput_data: ${{inputs.t}}\n";
    tu_write(path, job, strlen(job));
    for (size_t i = 0; i < PRS_ARRAY_LEN(cases); i++) {
        tu_write(mt, cases[i].mltable, strlen(cases[i].mltable));
        prs_jobspec js;
        cr_assert_eq(prs_jobspec_load(&js, path, err, sizeof(err)), -EINVAL, "case %zu", i);
        prs_jobspec_free(&js);
        cr_assert(strstr(err, cases[i].message), "case %zu: %s", i, err);
    }
    tu_sh("rm '%s'", mt);
    prs_jobspec js;
    cr_assert_eq(prs_jobspec_load(&js, path, err, sizeof(err)), -EINVAL);
    cr_assert(strstr(err, "an mltable input is a folder with an MLTable file"), "%s", err);
    prs_jobspec_free(&js);
    tu_rmrf(dir);
}

/* ---- through the CLI ----------------------------------------------------------------------- */

Test(cli, suggestions_and_candidates_on_stderr_exit_2, .timeout = 30) {
    e2e_run r;
    e2e_setup(&r, "cli-suggest", 3);
    cr_assert_eq(e2e_prs(&r, "wordcount", "--entry-scrpit x", ""), 2);
    char *e = tu_read(r.err, NULL);
    cr_assert(strstr(e, "unknown option --entry-scrpit; did you mean --entry-script?"), "%s", e);
    free(e);
    cr_assert_eq(e2e_prs(&r, "wordcount", "--in x", ""), 2);
    e = tu_read(r.err, NULL);
    cr_assert(strstr(e, "option --in is ambiguous: it could be --input or --input-format"), "%s",
              e);
    free(e);
    cr_assert_eq(e2e_prs(&r, "wordcount", "--node_count 2", ""), 2);
    e = tu_read(r.err, NULL);
    cr_assert(strstr(e, "--node_count: prs run uses this machine"), "%s", e);
    free(e);
    struct stat st;
    cr_assert_neq(stat(r.out, &st), 0, "a refused command creates nothing");
    tu_rmrf(r.dir);
}

Test(cli, parallelrunconfig_spellings_take_effect, .timeout = 60) {
    e2e_run r;
    e2e_setup(&r, "cli-alias", 20);
    cr_assert_eq(e2e_prs(&r, "wordcount",
                         "--mini_batch_size 3 --process_count_per_node 2 --run_max_try 1 "
                         "--append_row_file_name rows.txt --logging_level WARNING",
                         ""),
                 0);
    char *ov = e2e_out_file(&r, "logs/overview.txt");
    cr_assert(strstr(ov, "created 7, processed 7"), "20 files by 3: 7 batches\n%s", ov);
    free(ov);
    char *rows = e2e_out_file(&r, "rows.txt");
    cr_assert_not_null(rows, "--append_row_file_name");
    cr_assert_eq(tu_count_lines(rows), 20);
    free(rows);
    char *drv = e2e_out_file(&r, "logs/70_driver_log.txt");
    cr_assert(strstr(drv, "workers: 2"), "%s", drv);
    cr_assert(strstr(drv, "run_max_try: 1"), "%s", drv);
    free(drv);
    tu_rmrf(r.dir);
}

Test(cli, config_runs_and_command_line_overrides_it, .timeout = 60) {
    e2e_run r;
    char yml[400], out[600];
    job_dir(&r, "cli-config", "file_job.yml", yml, sizeof(yml));
    /* The file's output is ./out; -j 1 and --mini-batch-size 4 override it. */
    cr_assert_eq(
        tu_sh("%s run -q --config '%s' -j 1 --mini-batch-size 4 2>'%s'", tu_prs(), yml, r.err), 0);
    snprintf(r.out, sizeof(r.out), "%s/out", r.dir);
    e2e_assert_rows_once(&r, 12, NULL);
    char *drv = e2e_out_file(&r, "logs/70_driver_log.txt");
    cr_assert(strstr(drv, "mini-batch size: 4; workers: 1"), "%s", drv);
    cr_assert(strstr(drv, "run_max_try: 3; run_invocation_timeout: 30000 ms"), "%s", drv);
    free(drv);
    snprintf(out, sizeof(out), "%s/dry.txt", r.dir);
    cr_assert_eq(tu_sh("%s run --config '%s' --workers=1 --dry-run >'%s' 2>&1", tu_prs(), yml, out),
                 0);
    char *d = tu_read(out, NULL);
    cr_assert(strstr(d, "holds a job state: prs run would resume it"), "%s", d);
    cr_assert(strstr(d, "command line (--workers)"), "%s", d);
    cr_assert(strstr(d, "job.yml:35: retry_settings.max_retries"), "%s", d);
    cr_assert(strstr(d, "resources.instance_count 2"), "%s", d);
    free(d);
    tu_rmrf(r.dir);
}

Test(cli, config_errors_exit_2_naming_file_and_line, .timeout = 30) {
    e2e_run r;
    char yml[400];
    e2e_setup(&r, "cli-config-bad", 2);
    snprintf(yml, sizeof(yml), "%s/job.yml", r.dir);
    const char *doc = "type: parallel\nmax_concurrency_per_instance: lots\n";
    tu_write(yml, doc, strlen(doc));
    cr_assert_eq(tu_sh("%s run --config '%s' 2>'%s'", tu_prs(), yml, r.err), 2);
    char *e = tu_read(r.err, NULL);
    cr_assert(strstr(e, "job.yml:2: max_concurrency_per_instance lots: not a whole number"), "%s",
              e);
    free(e);
    doc = "type: parallel\nmini_batch_size: 5\n";
    tu_write(yml, doc, strlen(doc));
    cr_assert_eq(tu_sh("%s run --config '%s' 2>'%s'", tu_prs(), yml, r.err), 2);
    e = tu_read(r.err, NULL);
    cr_assert(strstr(e, "--entry-script: is required (on the command line, or in the job YAML)"),
              "%s", e);
    free(e);
    tu_rmrf(r.dir);
}

Test(cli, dry_run_creates_nothing_and_shows_the_cut, .timeout = 30) {
    e2e_run r;
    char out[400];
    e2e_setup(&r, "cli-dry", 23);
    snprintf(out, sizeof(out), "%s/dry.txt", r.dir);
    cr_assert_eq(tu_sh("%s run -n --entry-script build/examples/wordcount.so --input '%s' "
                       "--output '%s' --mini_batch_size 5 -j 3 -- a 'b c' >'%s' 2>&1",
                       tu_prs(), r.in, r.out, out),
                 0);
    struct stat st;
    cr_assert_neq(stat(r.out, &st), 0, "--dry-run created OUT");
    char *d = tu_read(out, NULL);
    cr_assert(strstr(d, "23 files -> 5 mini-batches of up to 5 files"), "%s", d);
    cr_assert(strstr(d, "mini-batch 0: 5 files\n    f0000.txt\n"), "%s", d);
    cr_assert(strstr(d, "mini-batch 4: 3 files\n    f0020.txt\n    f0021.txt\n    f0022.txt\n"),
              "%s", d);
    cr_assert_null(strstr(d, "  ...\n"), "5 batches: the first and last three show them all");
    cr_assert(strstr(d, "does not exist: prs run would create it"), "%s", d);
    cr_assert(
        strstr(d, "--workers                  3                            command line (-j)"),
        "%s", d);
    cr_assert(strstr(d, "--mini-batch-size          5                            command line "
                        "(--mini_batch_size)"),
              "%s", d);
    cr_assert(strstr(d, "--run-max-try              3                            default"), "%s",
              d);
    cr_assert(strstr(d, "init arguments (argv[1..]): 'a' 'b c'"), "%s", d);
    free(d);
    cr_assert_eq(tu_sh("%s run -n --entry-script x.so --input '%s' --output '%s' "
                       "--mini-batch-size 2 >'%s' 2>&1",
                       tu_prs(), r.in, r.out, out),
                 0);
    d = tu_read(out, NULL);
    cr_assert(strstr(d, "mini-batch 2: 2 files\n    f0004.txt\n    f0005.txt\n  ...\n  "
                        "mini-batch 9: 2 files\n"),
              "batches between the first and the last three are elided:\n%s", d);
    cr_assert(strstr(d, "mini-batch 11: 1 file\n    f0022.txt\n"), "%s", d);
    free(d);
    /* Tabular: records by bytes, FILE:LINE items; a bad input exits 3 like a run. */
    char csv[400];
    snprintf(csv, sizeof(csv), "%s/t.csv", r.dir);
    tu_write(csv, "k,v\n1,a\n2,b\n\"3,c\n", 18);
    cr_assert_eq(tu_sh("%s run -n --entry-script x.so --input '%s' --output '%s' --input-format "
                       "csv --mini-batch-size 8 >'%s' 2>&1",
                       tu_prs(), csv, r.out, out),
                 0);
    d = tu_read(out, NULL);
    cr_assert(strstr(d, "3 records (14 bytes) in 1 files -> 2 mini-batches of up to 8 bytes"), "%s",
              d);
    cr_assert(strstr(d, "1 malformed records: each would be a failed item"), "%s", d);
    cr_assert(strstr(d, "t.csv:2\n"), "%s", d);
    cr_assert(strstr(d, "warning: entry script x.so: No such file"), "%s", d);
    free(d);
    cr_assert_eq(tu_sh("%s run -n --entry-script x.so --input '%s/none' --output '%s' >'%s' 2>&1",
                       tu_prs(), r.dir, r.out, out),
                 3);
    cr_assert_neq(stat(r.out, &st), 0, "--dry-run created OUT");
    tu_rmrf(r.dir);
}
