/* jobspec.h -- reads an Azure ML parallel job (CLI v2 YAML, `type: parallel`) into prs run
 * settings: the subset that means something on one machine.
 *
 * Owns: the parsed settings and every string they point to, until prs_jobspec_free.
 * May call: libyaml (Debian libyaml-dev; linked into the CLI only, never into libprs) and
 *   libc. Knows nothing of prs_job_config: it names prs run options ("workers") and gives
 *   their values as text, and tools/prs.c applies them through its option table, so a
 *   value is checked by the same code wherever it comes from.
 *
 * What is read (every other key is an error naming it, its line and what to write):
 *   mini_batch_size, mini_batch_error_threshold, max_concurrency_per_instance, logging_level,
 *   error_threshold, resources.instance_count, retry_settings.max_retries,
 *   retry_settings.timeout, partition_keys, environment_variables, input_data, inputs,
 *   outputs, task.type (run_function), task.code, task.entry_script,
 *   task.program_arguments (--error_threshold, --allowed_failed_percent and
 *   --allowed_failed_count are read from it, and every word is also passed to the entry
 *   script's init, as Azure passes them), task.append_row_to; metadata ($schema, type:
 *   parallel, name, display_name, description, experiment_name, tags) is accepted.
 *   inputs of type mltable point at a folder holding an MLTable file: its one path (file
 *   or folder) is the input, its read_delimited (',' csv, '\t' tsv) or read_json_lines
 *   transformation the --input-format.
 * Expressions: ${{inputs.NAME}} and ${{outputs.NAME}} naming an entry of the same file are
 *   replaced by its local path (or an input's literal value); any other ${{...}} is an
 *   error. Relative paths are taken from the YAML file's directory, as `az ml` does.
 * Azure-only constructs are errors with advice: compute, identity, resources.instance_type,
 *   task.environment, azureml: assets and cloud URIs (azureml://, https://, wasbs://, ...).
 * Absent task.append_row_to means output_action summary_only (v2's rule); it names the
 * output directory (a uri_file output: its directory, and its name as the file). */
#ifndef PRS_JOBSPEC_H
#define PRS_JOBSPEC_H

#include "base.h"

#define PRS_JOBSPEC_MAX_SETTINGS 192u
#define PRS_JOBSPEC_MAX_ARGS 256u
#define PRS_JOBSPEC_MAX_STRINGS 1024u

typedef struct prs_jobspec_setting {
    const char *option; /* a prs run option, dashed: "workers" */
    const char *value;  /* its value as text */
    const char *key;    /* the YAML key it came from: "max_concurrency_per_instance" */
    uint32_t line;      /* 1-based line of that key */
} prs_jobspec_setting;

typedef struct prs_jobspec {
    const char *path; /* the YAML file, as given */
    prs_jobspec_setting settings[PRS_JOBSPEC_MAX_SETTINGS];
    size_t count;
    char *args[PRS_JOBSPEC_MAX_ARGS]; /* task.program_arguments split into words */
    int argc;
    int64_t instance_count; /* resources.instance_count; 0 when absent */
    uint32_t instance_count_line;
    char *strings[PRS_JOBSPEC_MAX_STRINGS]; /* everything above points into these */
    size_t string_count;
} prs_jobspec;

/* Reads path. Returns 0; -EINVAL with err "FILE:LINE: KEY: what is wrong; what to write"
 * for a bad document; -errno with err naming the file when it cannot be read; -ENOMEM.
 * Call prs_jobspec_free whatever it returns. */
int prs_jobspec_load(prs_jobspec *js, const char *path, char *err, size_t err_size);
void prs_jobspec_free(prs_jobspec *js);

/* Splits a command line into words the way a POSIX shell would without expansions:
 * blanks separate, '...' and "..." group, backslash escapes (not inside '...'). Words are
 * allocated into js. -EINVAL (err says why) for an unclosed quote or too many words. */
int prs_jobspec_split_words(prs_jobspec *js, const char *text, char **words, int cap, int *count,
                            char *err, size_t err_size);

#endif
