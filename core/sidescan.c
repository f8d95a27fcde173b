/* sidescan.c -- see sidescan.h. */
#include "sidescan.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum prs_format prs_side_format_records(enum prs_side_format f) {
    switch (f) {
    case PRS_SIDE_CSV:
        return PRS_FORMAT_CSV;
    case PRS_SIDE_TSV:
        return PRS_FORMAT_TSV;
    case PRS_SIDE_JSONL:
        return PRS_FORMAT_JSONL;
    }
    PRS_ASSERT(!"a side table format out of range"); /* parse_table sets only these */
    return PRS_FORMAT_CSV;
}

/* ---- reading a table's file --------------------------------------------------------- */

typedef struct side_scan {
    const prs_side_table *t;
    enum prs_format format;
    const char *buf;
    char *scratch; /* unescaped key values */
    size_t scratch_cap;
    char *err;
    size_t err_size;
} side_scan;

static int scan_error(const side_scan *sc, uint64_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int scan_error(const side_scan *sc, uint64_t line, const char *fmt, ...) {
    int n = snprintf(sc->err, sc->err_size, "--side-table %s=%s: line %llu: ", sc->t->name,
                     sc->t->path, (unsigned long long)line);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < sc->err_size)
        vsnprintf(sc->err + n, sc->err_size - (size_t)n, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static int scratch_for(side_scan *sc, uint64_t bytes) {
    if (bytes <= sc->scratch_cap) return 0;
    char *b = realloc(sc->scratch, (size_t)bytes);
    if (!b) return -ENOMEM;
    sc->scratch = b;
    sc->scratch_cap = (size_t)bytes;
    return 0;
}

/* A csv field's or a json value's value: a view of the record, or unescaped into the
 * scratch buffer. */
static int field_value(side_scan *sc, const char *rec, const prs_field *f, const char **value,
                       size_t *len) {
    if (!f->quoted) {
        *value = rec + f->offset;
        *len = (size_t)f->size_bytes;
        return 0;
    }
    int rc = scratch_for(sc, f->size_bytes);
    if (rc) return rc;
    *len = sc->format == PRS_FORMAT_JSONL ? prs_field_json_value(rec, f, sc->scratch)
                                          : prs_field_csv_value(rec, f, sc->scratch);
    *value = sc->scratch;
    return 0;
}

/* The key column's position in the header row (0 with no key= given). */
static int scan_header(side_scan *sc, const prs_record *h, uint64_t *key_index) {
    *key_index = 0;
    if (h->error) return scan_error(sc, h->line, "the header row: %s", h->error);
    if (!sc->t->key[0]) return 0;
    const char *rec = sc->buf + h->offset;
    prs_fields it;
    prs_field f;
    int rc = prs_fields_init(&it, sc->format, rec, (size_t)h->size_bytes);
    PRS_ASSERT(rc == 0); /* csv or tsv: the caller's switch */
    size_t want = strlen(sc->t->key);
    for (uint64_t col = 0; prs_fields_next(&it, &f) == 1; col++) {
        const char *v;
        size_t n;
        if ((rc = field_value(sc, rec, &f, &v, &n))) return rc;
        if (n == want && memcmp(v, sc->t->key, n) == 0) {
            *key_index = col;
            return 0;
        }
    }
    snprintf(sc->err, sc->err_size,
             "--side-table %s=%s: the key column '%s' is not in the header (line %llu)",
             sc->t->name, sc->t->path, sc->t->key, (unsigned long long)h->line);
    return -EINVAL;
}

static int csv_key(side_scan *sc, const prs_record *r, uint64_t key_index, const char **key,
                   size_t *key_len) {
    const char *rec = sc->buf + r->offset;
    prs_fields it;
    prs_field f;
    int rc = prs_fields_init(&it, sc->format, rec, (size_t)r->size_bytes);
    PRS_ASSERT(rc == 0); /* csv or tsv: the caller's switch */
    uint64_t col = 0;
    for (; prs_fields_next(&it, &f) == 1; col++) {
        if (col == key_index) return field_value(sc, rec, &f, key, key_len);
    }
    return scan_error(sc, r->line, "the row has %llu field(s); the key column '%s' is field %llu",
                      (unsigned long long)col, sc->t->key[0] ? sc->t->key : "(first)",
                      (unsigned long long)key_index + 1);
}

static int jsonl_key(side_scan *sc, const prs_record *r, const char **key, size_t *key_len) {
    const char *rec = sc->buf + r->offset, *want = sc->t->key[0] ? sc->t->key : NULL;
    prs_field f;
    if (prs_field_json_member(rec, (size_t)r->size_bytes, want, want ? strlen(want) : 0, &f))
        return field_value(sc, rec, &f, key, key_len);
    if (want) return scan_error(sc, r->line, "the key field '%s' is missing", want);
    *key = ""; /* {}: no first member, an empty key */
    *key_len = 0;
    return 0;
}

static int scan_rows(side_scan *sc, prs_splitter *s, uint64_t key_index, prs_side_row_fn fn,
                     void *arg) {
    prs_record r;
    while (prs_splitter_next(s, &r) == 1) {
        if (r.error) return scan_error(sc, r.line, "%s", r.error);
        if (r.size_bytes > PRS_SIDEDB_MAX_RECORD_BYTES)
            return scan_error(sc, r.line, "a record over 4 GiB");
        const char *key;
        size_t key_len;
        int rc = sc->format == PRS_FORMAT_JSONL ? jsonl_key(sc, &r, &key, &key_len)
                                                : csv_key(sc, &r, key_index, &key, &key_len);
        if (rc == 0) rc = fn(arg, key, key_len, sc->buf + r.offset, (size_t)r.size_bytes);
        if (rc) return rc;
    }
    return 0;
}

int prs_side_scan(const prs_side_table *t, const char *buf, size_t len, prs_side_row_fn fn,
                  void *arg, const char **header, size_t *header_len, char *err, size_t err_size) {
    side_scan sc = {.t = t,
                    .format = prs_side_format_records(t->format),
                    .buf = buf,
                    .err = err,
                    .err_size = err_size};
    prs_splitter s;
    int rc = prs_splitter_init(&s, sc.format, buf, len);
    PRS_ASSERT(rc == 0); /* one of our formats, and buf is not NULL */
    *header = buf;
    *header_len = 0;
    uint64_t key_index = 0;
    prs_record h;
    if (prs_splitter_header(&s, &h)) {
        rc = scan_header(&sc, &h, &key_index);
        *header = buf + h.offset;
        *header_len = (size_t)h.size_bytes;
    } else if (sc.format != PRS_FORMAT_JSONL && t->key[0]) {
        snprintf(err, err_size,
                 "--side-table %s=%s: the key column '%s' is not in the header (the file is empty)",
                 t->name, t->path, t->key);
        rc = -EINVAL;
    }
    if (rc == 0) rc = scan_rows(&sc, &s, key_index, fn, arg);
    free(sc.scratch);
    return rc;
}
