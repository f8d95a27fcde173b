/* config.c -- see config.h. */
#include "config.h"

#include "reader.h"
#include "records.h"
#include "sched.h"

#include <limits.h>
#include <stdarg.h>
#include <string.h>

static int bad(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(char *err, size_t err_size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* The options that take a number or an enum. */
static int validate_ranges(const prs_job_config *c, char *err, size_t n) {
    if (c->input_format > PRS_FORMAT_LINES)
        return bad(err, n, "--input-format: unknown format %u", c->input_format);
    if (c->io_mode > PRS_IO_SYNC) return bad(err, n, "--io: unknown mode %u", c->io_mode);
    if (c->input_format == PRS_FORMAT_FILES && c->mini_batch_size < 1)
        return bad(err, n, "--mini-batch-size must be at least 1 file");
    if (c->input_format != PRS_FORMAT_FILES && c->mini_batch_bytes < 1)
        return bad(err, n, "--mini-batch-size must be at least 1 byte");
    if (c->workers > PRS_MAX_WORKERS)
        return bad(err, n, "--workers %u: at most %u", c->workers, PRS_MAX_WORKERS);
    if (c->run_max_try < 1 || c->run_max_try > PRS_SCHED_MAX_TRY)
        return bad(err, n, "--run-max-try %u: must be 1..%u", c->run_max_try, PRS_SCHED_MAX_TRY);
    if (c->error_threshold < -1) return bad(err, n, "--error-threshold must be -1 or more");
    if (c->allowed_failed_count < -1)
        return bad(err, n, "--allowed-failed-count must be -1 or more");
    if (c->allowed_failed_percent > 100)
        return bad(err, n, "--allowed-failed-percent must be 0..100");
    if (c->mini_batch_error_limited && c->mini_batch_error_threshold > INT64_MAX / 4)
        return bad(err, n, "--mini-batch-error-threshold: too large");
    if (c->partition_keys && c->input_format != PRS_FORMAT_CSV &&
        c->input_format != PRS_FORMAT_TSV && c->input_format != PRS_FORMAT_JSONL)
        return bad(err, n, "--partition-keys %s needs --input-format csv, tsv or jsonl",
                   c->partition_keys);
    if (c->partition_keys && c->shard_count)
        return bad(err, n, "--partition-keys with shards: not supported (run it unsharded)");
    if (c->keep_order && c->output_action != PRS_OUTPUT_APPEND_ROW)
        return bad(err, n,
                   "--keep-order orders the rows of --output-action append_row: "
                   "summary_only writes none");
    if ((c->pick_item || c->pick_batch) && (c->input_format == PRS_FORMAT_FILES || c->shard_count))
        return bad(err, n, "pick_item, pick_batch: tabular formats only, not with shards");
    return 0;
}

int prs_config_validate(const prs_job_config *c, char *err, size_t n) {
    if (!c->input || !*c->input) return bad(err, n, "--input is required");
    if (!c->output_dir || !*c->output_dir) return bad(err, n, "--output is required");
    if (!c->entry_script && !c->entry.run) return bad(err, n, "--entry-script is required");
    int rc = validate_ranges(c, err, n);
    if (rc) return rc;
    const char *name = c->append_row_file_name;
    if (!name || !*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
        return bad(err, n, "--append-row-file-name '%s': a plain file name is needed",
                   name ? name : "");
    if (!strcmp(name, "logs") || !strcmp(name, ".prs"))
        return bad(err, n,
                   "--append-row-file-name '%s': OUT/%s is where prs keeps its %s; choose "
                   "another name",
                   name, name, name[0] == '.' ? "job state" : "logs");
    if (c->argc < 0 || (c->argc > 0 && !c->argv))
        return bad(err, n, "init arguments: argc without argv");
    if ((c->side_input_count && !c->side_inputs) || (c->side_table_count && !c->side_tables) ||
        (c->env_count && !c->env))
        return bad(err, n, "side inputs, side tables or env: a count without values");
    if (c->env_count > PRS_SIDE_MAX) return bad(err, n, "--env: at most %u", PRS_SIDE_MAX);
    for (uint32_t i = 0; i < c->env_count; i++) {
        if (prs_side_parse_env(c->env[i], err, n)) return -EINVAL;
    }
    return 0;
}

#define SCRIPT_ID_KEY "entry_script_identity="

int prs_config_text(const prs_job_config *c, const char *input_path, const char *script,
                    const char *script_id, const prs_side_config *side, char *buf, size_t size) {
    bool list = c->input[0] == '@';
    bool tabular = c->input_format != PRS_FORMAT_FILES;
    char mbs[64];
    if (c->partition_keys) /* the keys cut the batches: the size does not count */
        snprintf(mbs, sizeof(mbs), "(one batch per partition)");
    else
        snprintf(mbs, sizeof(mbs), "%llu%s",
                 tabular ? (unsigned long long)c->mini_batch_bytes
                         : (unsigned long long)c->mini_batch_size,
                 tabular ? " bytes" : "");
    int n = snprintf(buf, size,
                     "input=%s%s\nentry_script=%s\nmini_batch_size=%s\noutput_action=%s\n"
                     "append_row_file_name=%s\ninput_format=%s\n",
                     list ? "@" : "", input_path, script ? script : "(function table)", mbs,
                     c->output_action == PRS_OUTPUT_APPEND_ROW ? "append_row" : "summary_only",
                     c->append_row_file_name, prs_format_name((enum prs_format)c->input_format));
    /* Side inputs and tables are part of what the job computes: a resume must name the
     * same ones (a table's content is checked separately, by hash). */
    for (uint32_t i = 0; i < side->input_count && n >= 0 && (size_t)n < size; i++) {
        n += snprintf(buf + n, size - (size_t)n, "side_input.%s=%s\n", side->inputs[i].name,
                      side->inputs[i].path);
    }
    for (uint32_t i = 0; i < side->table_count && n >= 0 && (size_t)n < size; i++) {
        const prs_side_table *t = &side->tables[i];
        n += snprintf(buf + n, size - (size_t)n, "side_table.%s=%s,key=%s,format=%s\n", t->name,
                      t->path, t->key[0] ? t->key : "(first)", prs_side_format_name(t->format));
    }
    /* Only when set: the text of an unpartitioned job stays what earlier versions wrote. */
    if (c->partition_keys && n >= 0 && (size_t)n < size)
        n += snprintf(buf + n, size - (size_t)n, "partition_keys=%s\n", c->partition_keys);
    /* Switching it on resumes into an unordered output, off strands the held rows. */
    if (c->keep_order && n >= 0 && (size_t)n < size)
        n += snprintf(buf + n, size - (size_t)n, "keep_order=1\n");
    /* A shard: its place in the split, and the thresholds prs merge applies to the whole
     * job (every shard must agree on them). */
    if (c->shard_count && n >= 0 && (size_t)n < size) {
        n += snprintf(buf + n, size - (size_t)n,
                      "shard=%u/%u\nerror_threshold=%lld\nallowed_failed_count=%lld\n"
                      "allowed_failed_percent=%u\n",
                      c->shard_index, c->shard_count, (long long)c->error_threshold,
                      (long long)c->allowed_failed_count, c->allowed_failed_percent);
    }
    /* Last, so that prs_config_compare can tell a rebuilt script from other changes. */
    if (script_id && n >= 0 && (size_t)n < size)
        n += snprintf(buf + n, size - (size_t)n, SCRIPT_ID_KEY "%s\n", script_id);
    if (n < 0 || (size_t)n >= size) return -ENAMETOOLONG;
    return 0;
}

/* The line of text starting with key (klen bytes, '=' included), or NULL. */
static const char *find_key(const char *text, const char *key, size_t klen) {
    for (const char *s = text; s && *s;) {
        if (strncmp(s, key, klen) == 0) return s;
        s = strchr(s, '\n');
        if (s) s++;
    }
    return NULL;
}

/* Copies text without its script identity line into out (the text's size, or more);
 * the identity's value into id (id_size > 0). */
static void split_script_id(const char *text, char *out, size_t out_size, char *id,
                            size_t id_size) {
    const char *line = find_key(text, SCRIPT_ID_KEY, strlen(SCRIPT_ID_KEY));
    id[0] = 0;
    if (!line) {
        snprintf(out, out_size, "%s", text);
        return;
    }
    size_t vlen = strcspn(line + strlen(SCRIPT_ID_KEY), "\n");
    snprintf(id, id_size, "%.*s", (int)vlen, line + strlen(SCRIPT_ID_KEY));
    const char *rest = line + strlen(SCRIPT_ID_KEY) + vlen;
    if (*rest == '\n') rest++;
    snprintf(out, out_size, "%.*s%s", (int)(line - text), text, rest);
}

void prs_config_script_id(const char *text, char *id, size_t id_size) {
    const char *line = find_key(text, SCRIPT_ID_KEY, strlen(SCRIPT_ID_KEY));
    const char *v = line ? line + strlen(SCRIPT_ID_KEY) : "";
    snprintf(id, id_size, "%.*s", (int)strcspn(v, "\n"), v);
}

enum prs_config_match prs_config_compare(const char *stored, const char *now, char *was,
                                         size_t was_size) {
    char a[PRS_CONFIG_TEXT_BYTES], b[PRS_CONFIG_TEXT_BYTES]; /* 32 KiB: the coordinator's stack */
    char now_id[PRS_CONFIG_SCRIPT_ID_BYTES];
    split_script_id(stored, a, sizeof(a), was, was_size);
    split_script_id(now, b, sizeof(b), now_id, sizeof(now_id));
    if (strcmp(a, b) != 0) return PRS_CONFIG_DIFFERENT;
    if (!strcmp(was, now_id)) return PRS_CONFIG_SAME;
    return was[0] ? PRS_CONFIG_SCRIPT_CHANGED : PRS_CONFIG_SCRIPT_UNRECORDED;
}

/* If the line [line, end) of now differs in stored, names it in out and returns true. */
static bool diff_line(const char *stored, const char *line, const char *end, char *out,
                      size_t out_size) {
    const char *eq = memchr(line, '=', (size_t)(end - line));
    if (!eq) return false;
    size_t klen = (size_t)(eq - line) + 1;
    const char *found = find_key(stored, line, klen);
    size_t len = (size_t)(end - line);
    if (found && strncmp(found, line, len + 1) == 0) return false;
    const char *fend = found ? strchr(found, '\n') : NULL;
    snprintf(out, out_size, "--%.*s was '%.*s', now '%.*s'", (int)(klen - 1), line,
             found && fend ? (int)(fend - found - (int)klen) : 0, found ? found + klen : "",
             (int)(len - klen), eq + 1);
    for (char *p = out; *p && p < out + 2 + klen; p++) {
        if (*p == '_') *p = '-';
    }
    return true;
}

void prs_config_diff(const char *stored, const char *now, char *out, size_t out_size) {
    snprintf(out, out_size, "the options differ");
    static const char first[] = "input_format=";
    const char *fmt = find_key(now, first, sizeof(first) - 1);
    const char *fmt_end = fmt ? strchr(fmt, '\n') : NULL;
    if (fmt_end && diff_line(stored, fmt, fmt_end, out, out_size)) return;
    const char *end;
    for (const char *line = now; (end = strchr(line, '\n')) != NULL; line = end + 1) {
        bool id = strncmp(line, SCRIPT_ID_KEY, strlen(SCRIPT_ID_KEY)) == 0;
        if (!id && diff_line(stored, line, end, out, out_size)) return;
    }
}
