/* hostmsg.c -- see hostmsg.h. */
#include "hostmsg.h"

#include "le.h"
#include "prs_host.h"
#include "records.h"
#include "worker.h"

#include <limits.h>
#include <stdarg.h>
#include <string.h>

static const char *row_format_name(uint32_t f) {
    static const char *names[] = {"space", "csv", "tsv", "jsonl"};
    return f < PRS_ARRAY_LEN(names) ? names[f] : "space";
}

static int add(prs_hostmsg *m, const void *p, size_t n) {
    if (m->cap - m->len < n) {
        size_t cap = m->cap ? m->cap : 65536;
        while (cap - m->len < n)
            cap *= 2;
        char *q = realloc(m->p, cap);
        if (!q) return -ENOMEM;
        m->p = q;
        m->cap = cap;
    }
    memcpy(m->p + m->len, p, n);
    m->len += n;
    return 0;
}

static int add_str(prs_hostmsg *m, const char *s) {
    return add(m, s, strlen(s) + 1);
}

static int add_kv(prs_hostmsg *m, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int add_kv(prs_hostmsg *m, const char *key, const char *fmt, ...) {
    char v[PATH_MAX + 64];
    int n = snprintf(v, sizeof(v), "%s=", key);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v + n, sizeof(v) - (size_t)n, fmt, ap);
    va_end(ap);
    return add_str(m, v);
}

static int add_u32(prs_hostmsg *m, uint32_t v) {
    unsigned char b[4];
    prs_le32_put(b, v);
    return add(m, b, 4);
}

int prs_hostmsg_init(prs_hostmsg *m, const char *script, const prs_job_config *cfg, int worker,
                     bool check, int argc, char **argv) {
    m->len = 0;
    int rc = add_kv(m, "script", "%s", script);
    rc = rc ?: add_kv(m, "worker", "%d", worker);
    rc = rc ?: add_kv(m, "output_dir", "%s", cfg->output_dir);
    rc = rc ?: add_kv(m, "input_format", "%s", prs_format_name((enum prs_format)cfg->input_format));
    rc = rc ?: add_kv(m, "row_format", "%s", row_format_name(cfg->row_format));
    rc = rc ?: add_kv(m, "dataframe_header", "%d", cfg->append_row_dataframe_header ? 1 : 0);
    rc = rc ?: add_kv(m, "logging_level", "%d", cfg->logging_level);
    rc =
        rc ?: add_kv(m, "memory_limit", "%llu", (unsigned long long)cfg->worker_memory_limit_bytes);
    rc = rc ?: add_kv(m, "check", "%d", check ? 1 : 0);
    if (cfg->partition_keys) /* only then: BATCH frames carry the key values */
        rc = rc ?: add_kv(m, "partition_keys", "%s", cfg->partition_keys);
    rc = rc ?: add_str(m, "--");
    for (int i = 0; i < argc && rc == 0; i++)
        rc = add_str(m, argv[i]);
    return rc;
}

int prs_hostmsg_batch(prs_hostmsg *m, const prs_batch *b, bool files, const char *root) {
    m->len = 0;
    unsigned char head[16];
    prs_le64_put(head, b->id);
    prs_le32_put(head + 8, b->attempt);
    prs_le32_put(head + 12, b->count);
    int rc = add(m, head, sizeof(head));
    if (b->partition_key_count) { /* the missing mask, then each key's value */
        uint32_t missing = 0;
        for (uint32_t i = 0; i < b->partition_key_count; i++)
            missing |= b->partition_values[i] ? 0 : 1u << i;
        rc = rc ?: add_u32(m, missing);
        for (uint32_t i = 0; i < b->partition_key_count && rc == 0; i++)
            rc = add_str(m, b->partition_values[i] ? b->partition_values[i] : "");
    }
    if (files) {
        for (uint32_t i = 0; i < b->count && rc == 0; i++) {
            const char *name = b->items[i].name;
            if (name[0] != '/' && root[0]) {
                rc = add(m, root, strlen(root));
                rc = rc ?: add(m, "/", 1);
            }
            rc = rc ?: add_str(m, name);
        }
        return rc;
    }
    rc = rc ?: add_u32(m, (uint32_t)b->header_size);
    rc = rc ?: add(m, b->header, b->header_size);
    for (uint32_t i = 0; i < b->count && rc == 0; i++) {
        rc = add(m, b->items[i].data, b->items[i].size);
        rc = rc ?: add(m, "\n", 1);
    }
    return rc;
}

/* An ERROR frame: kind, then "message\ntraceback". */
uint32_t prs_hostmsg_error(const char *p, uint32_t len, const char **msg, size_t *msg_len,
                           const char **tb, size_t *tb_len) {
    if (len < 4) {
        *msg = "the host sent an empty error";
        *msg_len = strlen(*msg);
        *tb = "";
        *tb_len = 0;
        return PRS_HOST_ERR_PROTOCOL;
    }
    const char *text = p + 4, *end = p + len;
    const char *nl = memchr(text, '\n', (size_t)(end - text));
    *msg = text;
    *msg_len = nl ? (size_t)(nl - text) : (size_t)(end - text);
    *tb = nl ? nl + 1 : end;
    *tb_len = (size_t)(end - *tb);
    return prs_le32_get(p);
}

int prs_hostmsg_rows(prs_out *out, const char *p, uint32_t len) {
    if (len < 4) return -EPROTO;
    uint32_t n = prs_le32_get(p);
    size_t off = 4;
    for (uint32_t i = 0; i < n; i++) {
        if (len - off < 4) return -EPROTO;
        uint32_t row = prs_le32_get(p + off);
        off += 4;
        if (len - off < row) return -EPROTO;
        int rc = prs_emit(out, p + off, row); /* -EINVAL: refused (a newline), said in out */
        if (rc && rc != -EINVAL) return -ENOMEM;
        off += row;
    }
    return off == len ? 0 : -EPROTO;
}

/* ROWS_TEXT: count, then count rows each ending in '\n' (kept: prs_emit adds none). */
int prs_hostmsg_rows_text(prs_out *out, const char *p, uint32_t len) {
    if (len < 4) return -EPROTO;
    uint32_t n = prs_le32_get(p);
    const char *q = p + 4, *end = p + len;
    for (uint32_t i = 0; i < n; i++) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        if (!nl) return -EPROTO;
        if (prs_emit(out, q, (size_t)(nl - q) + 1)) return -ENOMEM;
        q = nl + 1;
    }
    return q == end ? 0 : -EPROTO;
}

int prs_hostmsg_header(prs_out *out, const char *p, uint32_t len) {
    if (out->header_cap < len) {
        char *q = realloc(out->header, len);
        if (!q) return -ENOMEM;
        out->header = q;
        out->header_cap = len;
    }
    memcpy(out->header, p, len);
    out->header_len = len;
    return 0;
}

void prs_hostmsg_free(prs_hostmsg *m) {
    free(m->p);
    m->p = NULL;
    m->len = m->cap = 0;
}
