/* jobspec.c -- see jobspec.h. The document is loaded whole with libyaml's document API
 * (a job file is small), so inputs and outputs may come after the keys that name them. */
#include "jobspec.h"

#include "opts.h"

#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <yaml.h>

typedef struct ctx {
    prs_jobspec *js;
    yaml_document_t *doc;
    const char *file;    /* for messages: the YAML file (or an MLTable) as named */
    char dir[PATH_MAX];  /* relative paths start here */
    yaml_node_t *inputs; /* mapping nodes, or NULL */
    yaml_node_t *outputs;
    char *err;
    size_t err_size;
} ctx;

static uint32_t line_of(const yaml_node_t *n) {
    return n ? (uint32_t)n->start_mark.line + 1 : 0;
}

static int fail(ctx *c, const yaml_node_t *n, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(ctx *c, const yaml_node_t *n, const char *key, const char *fmt, ...) {
    int w = snprintf(c->err, c->err_size, "%s:%u: %s: ", c->file, line_of(n), key);
    if (w >= 0 && (size_t)w < c->err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err + w, c->err_size - (size_t)w, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static char *keep(prs_jobspec *js, const char *s, size_t len) {
    if (js->string_count >= PRS_JOBSPEC_MAX_STRINGS) return NULL;
    char *p = malloc(len + 1);
    if (!p) return NULL;
    memcpy(p, s, len);
    p[len] = 0;
    js->strings[js->string_count++] = p;
    return p;
}

static int no_memory(ctx *c) {
    snprintf(c->err, c->err_size, "%s: out of memory (or more than %u strings)", c->file,
             PRS_JOBSPEC_MAX_STRINGS);
    return -ENOMEM;
}

static int add(ctx *c, const char *option, const char *value, const char *key,
               const yaml_node_t *n) {
    prs_jobspec *js = c->js;
    if (js->count >= PRS_JOBSPEC_MAX_SETTINGS)
        return fail(c, n, key, "too many settings (at most %u)", PRS_JOBSPEC_MAX_SETTINGS);
    char *k = keep(js, key, strlen(key));
    if (!k) return no_memory(c);
    js->settings[js->count++] =
        (prs_jobspec_setting){.option = option, .value = value, .key = k, .line = line_of(n)};
    return 0;
}

static const char *kind_name(const yaml_node_t *n) {
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return "a single value";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "nothing";
    }
}

/* A scalar's text, or NULL after an error naming what was expected. */
static const char *scalar(ctx *c, const yaml_node_t *n, const char *key, const char *expected) {
    if (n->type == YAML_SCALAR_NODE && n->data.scalar.length > 0)
        return (const char *)n->data.scalar.value;
    fail(c, n, key, "expected %s, got %s", expected,
         n->type == YAML_SCALAR_NODE ? "an empty value" : kind_name(n));
    return NULL;
}

static int need_map(ctx *c, const yaml_node_t *n, const char *key, const char *example) {
    if (n->type == YAML_MAPPING_NODE) return 0;
    return fail(c, n, key, "expected a mapping (%s), got %s", example, kind_name(n));
}

/* Iteration over a mapping's pairs: key text and value node. Keys must be scalars. */
typedef int (*pair_fn)(ctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg);

static int each_pair(ctx *c, yaml_node_t *map, const char *where, pair_fn fn, void *arg) {
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        if (!k || !v) return fail(c, map, where, "a mapping entry without a key or a value");
        if (k->type != YAML_SCALAR_NODE) return fail(c, k, where, "a key must be a plain name");
        int rc = fn(c, (const char *)k->data.scalar.value, k, v, arg);
        if (rc) return rc;
    }
    return 0;
}

static yaml_node_t *map_get(ctx *c, yaml_node_t *map, const char *name) {
    if (!map || map->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        if (k && k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value, name))
            return yaml_document_get_node(c->doc, p->value);
    }
    return NULL;
}

static int unknown_key(ctx *c, const yaml_node_t *k, const char *where, const char *key,
                       const char *const *known) {
    const char *near = prs_opts_nearest(key, known);
    char full[256];
    snprintf(full, sizeof(full), "%s%s%s", where, *where ? "." : "", key);
    if (near) return fail(c, k, full, "unknown key; did you mean %s?", near);
    return fail(c, k, full, "unknown key (prs reads: see README \"Azure ML job files\")");
}

/* ---- paths and expressions --------------------------------------------------------------- */

static const char *cloud_scheme(const char *p) {
    static const char *const schemes[] = {"azureml:", "http://", "https://", "wasbs://", "wasb://",
                                          "abfss://", "abfs://", "adl://",   "s3://",    "gs://"};
    for (size_t i = 0; i < PRS_ARRAY_LEN(schemes); i++) {
        if (!strncmp(p, schemes[i], strlen(schemes[i]))) return schemes[i];
    }
    return NULL;
}

/* A local path from the file's text: absolute, or relative to the file's directory. */
static const char *local_path(ctx *c, const yaml_node_t *n, const char *key, const char *text) {
    const char *scheme = cloud_scheme(text);
    if (scheme && !strcmp(scheme, "azureml:")) {
        fail(c, n, key,
             "'%s' is a registered Azure ML asset or datastore, which exists only in a "
             "workspace: download it and write its local path (path: ./data)",
             text);
        return NULL;
    }
    if (scheme) {
        fail(c, n, key, "'%s' is a cloud URI: copy the data here and write its local path", text);
        return NULL;
    }
    if (!strncmp(text, "file://", 7)) text += 7;
    while (text[0] == '.' && text[1] == '/')
        text += 2 + strspn(text + 2, "/");
    if (!strcmp(text, ".")) text = "";
    char buf[PATH_MAX * 2];
    int w = text[0] == '/' || !c->dir[0] ? snprintf(buf, sizeof(buf), "%s", *text ? text : ".")
            : *text                      ? snprintf(buf, sizeof(buf), "%s/%s", c->dir, text)
                                         : snprintf(buf, sizeof(buf), "%s", c->dir);
    if (w < 0 || (size_t)w >= PATH_MAX) {
        fail(c, n, key, "path too long");
        return NULL;
    }
    const char *p = keep(c->js, buf, (size_t)w);
    if (!p) no_memory(c);
    return p;
}

/* inputs.NAME / outputs.NAME: its value node (a mapping with path, or a literal). */
static int lookup_ref(ctx *c, const yaml_node_t *n, const char *key, const char *ref, size_t len,
                      yaml_node_t **entry, bool *is_output) {
    const char *name;
    yaml_node_t *table;
    if (len > 7 && !strncmp(ref, "inputs.", 7)) {
        name = ref + 7;
        table = c->inputs;
        *is_output = false;
    } else if (len > 8 && !strncmp(ref, "outputs.", 8)) {
        name = ref + 8;
        table = c->outputs;
        *is_output = true;
    } else {
        return fail(c, n, key,
                    "${{%.*s}} is an Azure ML expression prs cannot evaluate: write a local "
                    "path, or ${{inputs.NAME}} / ${{outputs.NAME}} naming an entry of this file",
                    (int)len, ref);
    }
    char nm[256];
    snprintf(nm, sizeof(nm), "%.*s", (int)(len - (size_t)(name - ref)), name);
    *entry = map_get(c, table, nm);
    if (!*entry)
        return fail(c, n, key, "${{%.*s}}: no %s named '%s' in this file", (int)len, ref,
                    *is_output ? "output" : "input", nm);
    return 0;
}

/* An input or output entry's text: its local path, or (inputs only) its literal value. */
static const char *entry_text(ctx *c, yaml_node_t *entry, const yaml_node_t *ref, const char *key,
                              bool is_output) {
    if (entry->type == YAML_SCALAR_NODE && !is_output)
        return (const char *)entry->data.scalar.value;
    yaml_node_t *path = map_get(c, entry, "path");
    if (!path) {
        yaml_node_t *def = map_get(c, entry, "default");
        if (def && !is_output) return scalar(c, def, key, "a value");
        fail(c, ref, key,
             "this %s has no path: on Azure ML the service picks one; here write a local "
             "directory (path: ./%s)",
             is_output ? "output" : "input", is_output ? "out" : "data");
        return NULL;
    }
    const char *p = scalar(c, path, key, "a path");
    return p ? local_path(c, path, key, p) : NULL;
}

/* text with every ${{inputs.X}} / ${{outputs.X}} replaced; NULL after an error. */
static const char *expand(ctx *c, const yaml_node_t *n, const char *key, const char *text) {
    char buf[8192];
    size_t w = 0;
    for (const char *p = text; *p;) {
        const char *open = strstr(p, "${{");
        size_t lit = open ? (size_t)(open - p) : strlen(p);
        if (w + lit >= sizeof(buf)) goto too_long;
        memcpy(buf + w, p, lit);
        w += lit;
        if (!open) break;
        const char *close = strstr(open, "}}");
        if (!close) {
            fail(c, n, key, "'${{' without its '}}'");
            return NULL;
        }
        const char *r = open + 3, *e = close;
        while (r < e && *r == ' ')
            r++;
        while (e > r && e[-1] == ' ')
            e--;
        yaml_node_t *entry;
        bool is_output;
        if (lookup_ref(c, n, key, r, (size_t)(e - r), &entry, &is_output)) return NULL;
        const char *v = entry_text(c, entry, n, key, is_output);
        if (!v) return NULL;
        size_t vl = strlen(v);
        if (w + vl >= sizeof(buf)) goto too_long;
        memcpy(buf + w, v, vl);
        w += vl;
        p = close + 2;
    }
    const char *out = keep(c->js, buf, w);
    if (!out) no_memory(c);
    return out;
too_long:
    fail(c, n, key, "value too long after expanding ${{...}}");
    return NULL;
}

/* A scalar with its expressions expanded. */
static const char *value_of(ctx *c, const yaml_node_t *n, const char *key, const char *expected) {
    const char *s = scalar(c, n, key, expected);
    return s ? expand(c, n, key, s) : NULL;
}

/* ---- MLTable: the folder's one path and its read transformation -------------------------- */

static int mltable_paths(ctx *m, yaml_node_t *paths, const char **input) {
    if (paths->type != YAML_SEQUENCE_NODE)
        return fail(m, paths, "paths", "expected a list (- file: ./data.csv), got %s",
                    kind_name(paths));
    if (paths->data.sequence.items.top - paths->data.sequence.items.start != 1)
        return fail(m, paths, "paths",
                    "prs reads one path (a file, or a folder of files of one format): list "
                    "one, or give prs run --input @LIST");
    yaml_node_t *e = yaml_document_get_node(m->doc, *paths->data.sequence.items.start);
    if (!e || need_map(m, e, "paths", "file: ./data.csv")) return -EINVAL;
    yaml_node_t *f = map_get(m, e, "file");
    if (!f) f = map_get(m, e, "folder");
    if (!f)
        return fail(m, e, "paths",
                    "prs reads file: or folder: (a pattern: glob is not supported: name the "
                    "folder)");
    const char *t = scalar(m, f, "paths", "a path");
    if (!t || !(*input = local_path(m, f, "paths", t))) return -EINVAL;
    return 0;
}

static int mltable_read(ctx *m, yaml_node_t *tr, const char **format) {
    if (tr->type != YAML_SEQUENCE_NODE)
        return fail(m, tr, "transformations", "expected a list (- read_delimited: ...), got %s",
                    kind_name(tr));
    for (yaml_node_item_t *i = tr->data.sequence.items.start; i < tr->data.sequence.items.top;
         i++) {
        yaml_node_t *e = yaml_document_get_node(m->doc, *i);
        yaml_node_t *d = map_get(m, e, "read_delimited");
        if (d) {
            yaml_node_t *delim = map_get(m, d, "delimiter");
            const char *s =
                delim ? scalar(m, delim, "read_delimited.delimiter", "',' or '\\t'") : ",";
            if (!s) return -EINVAL;
            if (strcmp(s, ",") && strcmp(s, "\t"))
                return fail(m, delim, "read_delimited.delimiter",
                            "prs reads ',' (csv) or '\\t' (tsv), not '%s'", s);
            yaml_node_t *h = map_get(m, d, "header");
            if (h && h->type == YAML_SCALAR_NODE &&
                !strcmp((const char *)h->data.scalar.value, "no_header"))
                return fail(m, h, "read_delimited.header",
                            "prs reads the first row of a csv/tsv file as its header: add one");
            *format = s[0] == ',' ? "csv" : "tsv";
        } else if (map_get(m, e, "read_json_lines")) {
            *format = "jsonl";
        } else {
            return fail(m, e, "transformations",
                        "prs understands read_delimited and read_json_lines only; it hands "
                        "records to the script as they are (remove the others)");
        }
    }
    if (!*format) return fail(m, tr, "transformations", "no read_delimited or read_json_lines");
    return 0;
}

/* Reads DIR/MLTable (or the file itself) into an input and a format. */
static int read_mltable(ctx *c, const yaml_node_t *n, const char *key, const char *path) {
    char file[PATH_MAX + 16];
    snprintf(file, sizeof(file), "%s/MLTable", path);
    FILE *f = fopen(file, "re");
    if (!f)
        return fail(c, n, key, "%s: %s (an mltable input is a folder with an MLTable file)", file,
                    strerror(errno));
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    int rc = 0;
    if (!yaml_parser_load(&parser, &doc)) {
        rc = fail(c, n, key, "%s:%zu: not YAML: %s", file, parser.problem_mark.line + 1,
                  parser.problem ? parser.problem : "parse error");
        goto close_parser;
    }
    ctx m = *c;
    m.doc = &doc;
    char *mfile = keep(c->js, file, strlen(file));
    if (!mfile) {
        rc = no_memory(c);
        goto free_doc;
    }
    m.file = mfile;
    snprintf(m.dir, sizeof(m.dir), "%s", path);
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    yaml_node_t *paths = map_get(&m, root, "paths");
    yaml_node_t *tr = map_get(&m, root, "transformations");
    const char *input = NULL, *format = NULL;
    if (!paths || !tr) {
        rc = fail(&m, root, "MLTable", "needs paths: and transformations:");
        goto free_doc;
    }
    if ((rc = mltable_paths(&m, paths, &input)) || (rc = mltable_read(&m, tr, &format)))
        goto free_doc;
    if ((rc = add(c, "input", input, key, n)) == 0) rc = add(c, "input-format", format, key, n);
free_doc:
    yaml_document_delete(&doc);
close_parser:
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

/* ---- the keys ---------------------------------------------------------------------------- */

static int check_entry(ctx *c, const char *name, yaml_node_t *k, yaml_node_t *v, void *arg) {
    const char *where = arg;
    char key[256];
    snprintf(key, sizeof(key), "%s.%s", where, name);
    if (v->type == YAML_SCALAR_NODE) return 0; /* a literal input value */
    if (need_map(c, v, key, "type: uri_folder, path: ./data")) return -EINVAL;
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *kk = yaml_document_get_node(c->doc, p->key);
        const char *kn = kk && kk->type == YAML_SCALAR_NODE ? (char *)kk->data.scalar.value : "";
        static const char *const known[] = {"type",    "path", "mode",    "description", "optional",
                                            "default", "name", "version", NULL};
        bool ok = false;
        for (size_t i = 0; known[i]; i++)
            ok |= !strcmp(kn, known[i]);
        if (!ok) return unknown_key(c, kk, key, kn, known);
    }
    (void)k;
    yaml_node_t *path = map_get(c, v, "path");
    if (!path) return 0;
    const char *s = scalar(c, path, key, "a path");
    return s && local_path(c, path, key, s) ? 0 : -EINVAL;
}

static int on_input_data(ctx *c, const yaml_node_t *v) {
    const char *key = "input_data";
    const char *s = scalar(c, v, key, "a path or ${{inputs.NAME}}");
    if (!s) return -EINVAL;
    const char *open = strstr(s, "${{");
    if (!open) {
        const char *p = local_path(c, v, key, s);
        return p ? add(c, "input", p, key, v) : -EINVAL;
    }
    const char *close = strstr(open, "}}");
    const char *r = open + 3;
    while (*r == ' ')
        r++;
    const char *e = close ? close : r + strlen(r);
    while (e > r && e[-1] == ' ')
        e--;
    yaml_node_t *entry;
    bool is_output;
    if (open != s || !close || close[2])
        return fail(c, v, key, "write one ${{inputs.NAME}}, or a local path");
    if (lookup_ref(c, v, key, r, (size_t)(e - r), &entry, &is_output)) return -EINVAL;
    if (is_output) return fail(c, v, key, "names an output: the data is an input");
    const char *path = entry_text(c, entry, v, key, false);
    if (!path) return -EINVAL;
    yaml_node_t *type = map_get(c, entry, "type");
    const char *t =
        type && type->type == YAML_SCALAR_NODE ? (char *)type->data.scalar.value : "uri_folder";
    if (!strcmp(t, "mltable")) return read_mltable(c, v, key, path);
    if (!strcmp(t, "uri_folder")) return add(c, "input", path, key, v);
    return fail(c, v, key,
                "the input is of type %s: a parallel job reads a uri_folder (one item per file) "
                "or an mltable (records of csv/tsv/jsonl files)",
                t);
}

static int on_output(ctx *c, const yaml_node_t *v) {
    const char *key = "task.append_row_to";
    const char *s = scalar(c, v, key, "${{outputs.NAME}} or a local directory");
    if (!s) return -EINVAL;
    const char *open = strstr(s, "${{");
    yaml_node_t *type = NULL;
    const char *path;
    if (open) {
        const char *close = strstr(open, "}}");
        if (open != s || !close || close[2])
            return fail(c, v, key, "write one ${{outputs.NAME}}, or a local directory");
        const char *r = open + 3, *e = close;
        while (*r == ' ')
            r++;
        while (e > r && e[-1] == ' ')
            e--;
        yaml_node_t *entry;
        bool is_output;
        if (lookup_ref(c, v, key, r, (size_t)(e - r), &entry, &is_output)) return -EINVAL;
        if (!is_output) return fail(c, v, key, "names an input: rows go to an output");
        if (!(path = entry_text(c, entry, v, key, true))) return -EINVAL;
        type = map_get(c, entry, "type");
    } else if (!(path = local_path(c, v, key, s))) {
        return -EINVAL;
    }
    int rc = add(c, "output-action", "append_row", key, v);
    if (rc) return rc;
    if (type && type->type == YAML_SCALAR_NODE &&
        !strcmp((const char *)type->data.scalar.value, "uri_file")) {
        const char *slash = strrchr(path, '/');
        const char *dir = slash ? keep(c->js, path, (size_t)(slash - path)) : ".";
        if (!dir) return no_memory(c);
        if ((rc = add(c, "output", dir, key, v))) return rc;
        return add(c, "append-row-file-name", slash ? slash + 1 : path, key, v);
    }
    return add(c, "output", path, key, v);
}

/* task.program_arguments: every word goes to init; prs reads its three settings too. */
static int on_program_arguments(ctx *c, const yaml_node_t *v) {
    const char *key = "task.program_arguments";
    const char *s = value_of(c, v, key, "the arguments as one string");
    if (!s) return -EINVAL;
    prs_jobspec *js = c->js;
    char why[128];
    int rc = prs_jobspec_split_words(js, s, js->args, (int)PRS_JOBSPEC_MAX_ARGS, &js->argc, why,
                                     sizeof(why));
    if (rc) return rc == -ENOMEM ? no_memory(c) : fail(c, v, key, "%s", why);
    static const char *const names[][2] = {{"--error_threshold", "error-threshold"},
                                           {"--allowed_failed_percent", "allowed-failed-percent"},
                                           {"--allowed_failed_count", "allowed-failed-count"}};
    for (int i = 0; i < js->argc; i++) {
        for (size_t k = 0; k < PRS_ARRAY_LEN(names); k++) {
            size_t nl = strlen(names[k][0]);
            const char *a = js->args[i];
            if (strncmp(a, names[k][0], nl) || (a[nl] && a[nl] != '=')) continue;
            const char *val = a[nl] == '=' ? a + nl + 1 : i + 1 < js->argc ? js->args[i + 1] : NULL;
            if (!val) return fail(c, v, key, "%s needs a value", names[k][0]);
            char full[96];
            snprintf(full, sizeof(full), "%s %s", key, names[k][0]);
            if ((rc = add(c, names[k][1], val, full, v))) return rc;
        }
    }
    return 0;
}

typedef struct task_nodes {
    yaml_node_t *code, *entry_script, *program_arguments, *append_row_to;
} task_nodes;

static int task_pair(ctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg) {
    task_nodes *t = arg;
    static const char *const known[] = {
        "type", "code", "entry_script", "program_arguments", "append_row_to", "environment", NULL};
    if (!strcmp(key, "type")) {
        const char *s = scalar(c, v, "task.type", "run_function");
        if (!s) return -EINVAL;
        if (strcmp(s, "run_function"))
            return fail(c, v, "task.type", "'%s': prs runs run_function tasks", s);
    } else if (!strcmp(key, "code")) {
        t->code = v;
    } else if (!strcmp(key, "entry_script")) {
        t->entry_script = v;
    } else if (!strcmp(key, "program_arguments")) {
        t->program_arguments = v;
    } else if (!strcmp(key, "append_row_to")) {
        t->append_row_to = v;
    } else if (!strcmp(key, "environment")) {
        return fail(c, k, "task.environment",
                    "an Azure ML environment (image, conda file): prs runs the entry script in "
                    "this machine's environment (Python: /usr/bin/python3); remove it");
    } else {
        return unknown_key(c, k, "task", key, known);
    }
    return 0;
}

static int on_task(ctx *c, yaml_node_t *v) {
    if (need_map(c, v, "task", "entry_script: score.py")) return -EINVAL;
    task_nodes t = {0};
    int rc = each_pair(c, v, "task", task_pair, &t);
    if (rc) return rc;
    if (t.entry_script) {
        const char *s = value_of(c, t.entry_script, "task.entry_script", "a file name");
        if (!s) return -EINVAL;
        if (t.code && s[0] != '/') {
            const char *code = value_of(c, t.code, "task.code", "a directory");
            if (!code || !(code = local_path(c, t.code, "task.code", code))) return -EINVAL;
            char buf[PATH_MAX * 2];
            snprintf(buf, sizeof(buf), "%s/%s", code, s);
            s = keep(c->js, buf, strlen(buf));
        } else {
            s = local_path(c, t.entry_script, "task.entry_script", s);
        }
        if (!s) return -EINVAL;
        if ((rc = add(c, "entry-script", s, "task.entry_script", t.entry_script))) return rc;
    } else if (t.code) {
        return fail(c, t.code, "task.code", "task.entry_script is missing");
    }
    if (t.program_arguments && (rc = on_program_arguments(c, t.program_arguments))) return rc;
    if (t.append_row_to) return on_output(c, t.append_row_to);
    /* v2: without append_row_to the rows are only counted. */
    return add(c, "output-action", "summary_only", "task (no append_row_to)", v);
}

typedef struct sub_map {
    const char *where;
    const char *const *keys;    /* NULL-terminated */
    const char *const *options; /* the option of keys[i]; NULL: handled by the caller */
} sub_map;

static int sub_pair(ctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg) {
    const sub_map *m = arg;
    char full[128];
    snprintf(full, sizeof(full), "%s.%s", m->where, key);
    for (size_t i = 0; m->keys[i]; i++) {
        if (strcmp(key, m->keys[i])) continue;
        if (!m->options[i])
            return fail(c, k, full,
                        "an Azure ML compute setting with no meaning on this machine: remove it");
        const char *s = value_of(c, v, full, "a single value");
        return s ? add(c, m->options[i], s, full, v) : -EINVAL;
    }
    return unknown_key(c, k, m->where, key, m->keys);
}

static int on_resources(ctx *c, yaml_node_t *v) {
    if (need_map(c, v, "resources", "instance_count: 2")) return -EINVAL;
    static const char *const keys[] = {"instance_count", "instance_type", "shm_size",
                                       "properties",     "locations",     NULL};
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *val = yaml_document_get_node(c->doc, p->value);
        const char *kn = k && k->type == YAML_SCALAR_NODE ? (char *)k->data.scalar.value : "";
        if (strcmp(kn, "instance_count")) {
            static const char *const none[] = {NULL, NULL, NULL, NULL, NULL};
            sub_map m = {"resources", keys, none};
            int rc = sub_pair(c, kn, k, val, &m);
            if (rc) return rc;
            continue;
        }
        const char *s = scalar(c, val, "resources.instance_count", "a whole number");
        char *end;
        long long n = s ? strtoll(s, &end, 10) : 0;
        if (!s || *end || n < 1 || n > 100000)
            return s ? fail(c, val, "resources.instance_count", "'%s': a whole number, 1 or more",
                            s)
                     : -EINVAL;
        c->js->instance_count = n;
        c->js->instance_count_line = line_of(val);
    }
    return 0;
}

static int on_partition_keys(ctx *c, yaml_node_t *v) {
    const char *key = "partition_keys";
    if (v->type != YAML_SEQUENCE_NODE)
        return fail(c, v, key, "expected a list of column names ([state, city]), got %s",
                    kind_name(v));
    char buf[4096];
    size_t w = 0;
    for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++) {
        yaml_node_t *e = yaml_document_get_node(c->doc, *i);
        const char *s = e ? scalar(c, e, key, "a column name") : NULL;
        if (!s) return -EINVAL;
        if (strchr(s, ','))
            return fail(c, e, key, "'%s': a column name with ',' cannot be a key", s);
        int n = snprintf(buf + w, sizeof(buf) - w, "%s%s", w ? "," : "", s);
        if (n < 0 || (size_t)n >= sizeof(buf) - w) return fail(c, v, key, "too long");
        w += (size_t)n;
    }
    if (!w) return fail(c, v, key, "an empty list: name at least one column, or remove it");
    const char *s = keep(c->js, buf, w);
    return s ? add(c, "partition-keys", s, key, v) : no_memory(c);
}

static int env_pair(ctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg) {
    (void)arg;
    char full[300], kv[8192];
    snprintf(full, sizeof(full), "environment_variables.%s", key);
    if (!*key || strchr(key, '=')) return fail(c, k, full, "not a variable name");
    const char *s = v->type == YAML_SCALAR_NODE ? expand(c, v, full, (char *)v->data.scalar.value)
                                                : (fail(c, v, full,
                                                        "expected a single value, "
                                                        "got %s",
                                                        kind_name(v)),
                                                   NULL);
    if (!s) return -EINVAL;
    int n = snprintf(kv, sizeof(kv), "%s=%s", key, s);
    if (n < 0 || (size_t)n >= sizeof(kv)) return fail(c, v, full, "too long");
    const char *p = keep(c->js, kv, (size_t)n);
    return p ? add(c, "env", p, full, v) : no_memory(c);
}

static const char *const top_keys[] = {"$schema",
                                       "type",
                                       "name",
                                       "display_name",
                                       "description",
                                       "experiment_name",
                                       "tags",
                                       "inputs",
                                       "outputs",
                                       "input_data",
                                       "mini_batch_size",
                                       "mini_batch_error_threshold",
                                       "error_threshold",
                                       "max_concurrency_per_instance",
                                       "logging_level",
                                       "resources",
                                       "retry_settings",
                                       "partition_keys",
                                       "environment_variables",
                                       "task",
                                       "compute",
                                       "identity",
                                       "services",
                                       "queue_settings",
                                       "properties",
                                       "settings",
                                       "jobs",
                                       NULL};

/* A top-level scalar key that is one option. */
static const char *simple_option(const char *key) {
    static const char *const map[][2] = {
        {"mini_batch_size", "mini-batch-size"},
        {"mini_batch_error_threshold", "mini-batch-error-threshold"},
        {"error_threshold", "error-threshold"},
        {"max_concurrency_per_instance", "workers"},
        {"logging_level", "logging-level"}};
    for (size_t i = 0; i < PRS_ARRAY_LEN(map); i++) {
        if (!strcmp(key, map[i][0])) return map[i][1];
    }
    return NULL;
}

static int top_pair(ctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg) {
    (void)arg;
    const char *opt = simple_option(key);
    if (opt) {
        const char *s = value_of(c, v, key, "a single value");
        return s ? add(c, opt, s, key, v) : -EINVAL;
    }
    if (!strcmp(key, "$schema") || !strcmp(key, "name") || !strcmp(key, "display_name") ||
        !strcmp(key, "description") || !strcmp(key, "experiment_name") || !strcmp(key, "tags"))
        return 0; /* metadata */
    if (!strcmp(key, "type")) {
        const char *s = scalar(c, v, key, "parallel");
        if (!s) return -EINVAL;
        if (strcmp(s, "parallel"))
            return fail(c, v, key, "'%s': prs reads parallel jobs (type: parallel)", s);
        return 0;
    }
    if (!strcmp(key, "inputs") || !strcmp(key, "outputs")) return 0; /* checked first */
    if (!strcmp(key, "input_data")) return on_input_data(c, v);
    if (!strcmp(key, "task")) return on_task(c, v);
    if (!strcmp(key, "resources")) return on_resources(c, v);
    if (!strcmp(key, "partition_keys")) return on_partition_keys(c, v);
    if (!strcmp(key, "retry_settings")) {
        if (need_map(c, v, key, "max_retries: 2, timeout: 60")) return -EINVAL;
        static const char *const keys[] = {"max_retries", "timeout", NULL};
        static const char *const opts[] = {"run-max-try", "run-invocation-timeout"};
        sub_map m = {key, keys, opts};
        return each_pair(c, v, key, sub_pair, &m);
    }
    if (!strcmp(key, "environment_variables")) {
        if (need_map(c, v, key, "NAME: value")) return -EINVAL;
        return each_pair(c, v, key, env_pair, NULL);
    }
    if (!strcmp(key, "compute"))
        return fail(c, k, key,
                    "prs runs on this machine: remove it (to spread a job over machines, "
                    "resources.instance_count with prs submit)");
    if (!strcmp(key, "jobs"))
        return fail(c, k, key,
                    "a pipeline job: prs reads one parallel job; give the parallel step's own "
                    "file");
    for (size_t i = 0; top_keys[i]; i++) {
        if (!strcmp(key, top_keys[i]))
            return fail(c, k, key, "an Azure ML service setting with no meaning here: remove it");
    }
    return unknown_key(c, k, "", key, top_keys);
}

static int load_doc(ctx *c, yaml_document_t *doc) {
    yaml_node_t *root = yaml_document_get_root_node(doc);
    if (!root) {
        snprintf(c->err, c->err_size, "%s: empty: a parallel job (type: parallel) is expected",
                 c->file);
        return -EINVAL;
    }
    if (need_map(c, root, "the file", "type: parallel, ...")) return -EINVAL;
    c->inputs = map_get(c, root, "inputs");
    c->outputs = map_get(c, root, "outputs");
    if (c->inputs && (need_map(c, c->inputs, "inputs", "data: {type: uri_folder, path: ./in}") ||
                      each_pair(c, c->inputs, "inputs", check_entry, "inputs")))
        return -EINVAL;
    if (c->outputs && (need_map(c, c->outputs, "outputs", "out: {type: uri_folder, path: ./o}") ||
                       each_pair(c, c->outputs, "outputs", check_entry, "outputs")))
        return -EINVAL;
    return each_pair(c, root, "", top_pair, NULL);
}

int prs_jobspec_load(prs_jobspec *js, const char *path, char *err, size_t err_size) {
    memset(js, 0, sizeof(*js));
    js->path = path;
    ctx c = {.js = js, .file = path, .err = err, .err_size = err_size};
    const char *slash = strrchr(path, '/');
    if (slash) snprintf(c.dir, sizeof(c.dir), "%.*s", (int)(slash - path), path);
    if (slash == path) snprintf(c.dir, sizeof(c.dir), "/");
    FILE *f = fopen(path, "re");
    if (!f) {
        int e = errno;
        snprintf(err, err_size, "--config %s: %s", path, strerror(e));
        return -e;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    int rc = 0;
    if (!yaml_parser_initialize(&parser)) {
        rc = -ENOMEM;
        snprintf(err, err_size, "%s: out of memory", path);
        goto close_file;
    }
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, err_size, "%s:%zu: not valid YAML: %s%s%s", path,
                 parser.problem_mark.line + 1, parser.problem ? parser.problem : "parse error",
                 parser.context ? " " : "", parser.context ? parser.context : "");
        rc = -EINVAL;
        goto free_parser;
    }
    c.doc = &doc;
    rc = load_doc(&c, &doc);
    yaml_document_delete(&doc);
free_parser:
    yaml_parser_delete(&parser);
close_file:
    fclose(f);
    return rc;
}

void prs_jobspec_free(prs_jobspec *js) {
    for (size_t i = 0; i < js->string_count; i++)
        free(js->strings[i]);
    js->string_count = 0;
    js->count = 0;
    js->argc = 0;
}

int prs_jobspec_split_words(prs_jobspec *js, const char *text, char **words, int cap, int *count,
                            char *err, size_t err_size) {
    char buf[8192];
    *count = 0;
    const char *p = text;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if (!*p) return 0;
        size_t w = 0;
        char quote = 0;
        for (; *p && (quote || (*p != ' ' && *p != '\t' && *p != '\n')); p++) {
            char ch = *p;
            if (quote == '\'' && ch == '\'') {
                quote = 0;
                continue;
            }
            if (!quote && (ch == '\'' || ch == '"')) {
                quote = ch;
                continue;
            }
            if (quote == '"' && ch == '"') {
                quote = 0;
                continue;
            }
            if (ch == '\\' && quote != '\'' && p[1]) ch = *++p;
            if (w + 1 >= sizeof(buf)) {
                snprintf(err, err_size, "a word longer than %zu bytes", sizeof(buf) - 1);
                return -EINVAL;
            }
            buf[w++] = ch;
        }
        if (quote) {
            snprintf(err, err_size, "an unclosed %c quote", quote);
            return -EINVAL;
        }
        if (*count >= cap) {
            snprintf(err, err_size, "more than %d words", cap);
            return -EINVAL;
        }
        if (!(words[*count] = keep(js, buf, w))) {
            snprintf(err, err_size, "out of memory");
            return -ENOMEM;
        }
        (*count)++;
    }
}
