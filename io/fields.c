/* fields.c -- see fields.h.
 *
 * Speed is not the point here (a side table reads one field of each record, once); being
 * the same reading as the splitter's is: the csv states are the ones fuzz_records'
 * reference splitter writes out, and fuzz_records checks every field against them. */
#include "fields.h"

#include <string.h>

int prs_fields_init(prs_fields *it, enum prs_format f, const char *rec, size_t len) {
    if (f != PRS_FORMAT_CSV && f != PRS_FORMAT_TSV) return -EINVAL;
    if (!rec && len > 0) return -EINVAL;
    *it = (prs_fields){.rec = rec, .len = len, .sep = f == PRS_FORMAT_TSV ? '\t' : ','};
    return 0;
}

int prs_fields_next(prs_fields *it, prs_field *field) {
    if (it->pos > it->len) return 0;
    const char *r = it->rec;
    size_t i = it->pos;
    bool quoted = i < it->len && r[i] == '"';
    if (quoted) {
        /* Inside quotes until a lone '"'; "" is data. Each step consumes a byte. */
        for (i++; i < it->len; i++) {
            if (r[i] != '"') continue;
            if (i + 1 < it->len && r[i + 1] == '"') {
                i++;
                continue;
            }
            i++; /* past the closing quote: the rest of the field is unquoted */
            break;
        }
    }
    const char *s = i < it->len ? memchr(r + i, it->sep, it->len - i) : NULL;
    size_t end = s ? (size_t)(s - r) : it->len;
    *field = (prs_field){.offset = it->pos, .size_bytes = end - it->pos, .quoted = quoted};
    it->pos = s ? end + 1 : it->len + 1;
    return 1;
}

size_t prs_field_csv_value(const char *rec, const prs_field *field, char *out) {
    const char *p = rec + field->offset, *e = p + field->size_bytes;
    if (!field->quoted) {
        memcpy(out, p, field->size_bytes);
        return field->size_bytes;
    }
    size_t n = 0;
    for (p++; p < e; p++) { /* past the opening quote */
        if (*p != '"') {
            out[n++] = *p;
        } else if (p + 1 < e && p[1] == '"') {
            out[n++] = '"';
            p++;
        } else {
            p++; /* the closing quote: what follows is plain */
            memcpy(out + n, p, (size_t)(e - p));
            return n + (size_t)(e - p);
        }
    }
    return n; /* no closing quote: a flagged record, read to its end */
}

/* ---- jsonl ------------------------------------------------------------------------------ */

static const char *json_ws(const char *p, const char *e) {
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return p;
}

/* Past the string whose opening quote is at p (or e if it does not end). */
static const char *json_string_end(const char *p, const char *e) {
    for (p++; p < e; p++) {
        if (*p == '\\') {
            p++;
        } else if (*p == '"') {
            return p + 1;
        }
    }
    return e;
}

/* Past the value at p: a string, a container (brackets balanced, strings inside skipped)
 * or a scalar (up to the next ',', '}', ']' or whitespace). */
static const char *json_value_end(const char *p, const char *e) {
    if (p < e && *p == '"') return json_string_end(p, e);
    if (p < e && (*p == '{' || *p == '[')) {
        size_t depth = 0;
        while (p < e) {
            char c = *p;
            if (c == '"') {
                p = json_string_end(p, e);
                continue;
            }
            p++;
            if (c == '{' || c == '[') depth++;
            if ((c == '}' || c == ']') && --depth == 0) return p;
        }
        return e;
    }
    while (p < e && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' && *p != '\r' &&
           *p != '\n')
        p++;
    return p;
}

static int hex_digit(char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static bool hex4(const char *p, const char *e, uint32_t *v) {
    if (e - p < 4) return false;
    *v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_digit(p[i]);
        if (d < 0) return false;
        *v = *v << 4 | (uint32_t)d;
    }
    return true;
}

static size_t utf8_put(char *out, uint32_t cp) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decodes the next unit of a string's content at *pp (before e, the closing quote) into
 * out (4 bytes at most, never more than it consumed); returns its length. A malformed
 * escape (only in bytes the splitter did not accept) is taken as its bytes. */
static size_t json_unit(const char **pp, const char *e, char out[4]) {
    const char *p = *pp;
    if (*p != '\\' || p + 1 >= e) {
        out[0] = *p;
        *pp = p + 1;
        return 1;
    }
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *k = memchr(from, p[1], sizeof(from) - 1);
    if (k) {
        out[0] = to[k - from];
        *pp = p + 2;
        return 1;
    }
    uint32_t cp, lo;
    if (p[1] != 'u' || !hex4(p + 2, e, &cp)) {
        out[0] = *p;
        *pp = p + 1;
        return 1;
    }
    p += 6;
    if (cp >= 0xd800 && cp < 0xdc00 && e - p >= 6 && p[0] == '\\' && p[1] == 'u' &&
        hex4(p + 2, e, &lo) && lo >= 0xdc00 && lo < 0xe000) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        p += 6;
    }
    *pp = p;
    return utf8_put(out, cp);
}

/* The content of the string [s, e) (quotes included, if it ends) equals name? */
static bool json_name_is(const char *s, const char *e, const char *name, size_t name_len) {
    const char *p = s + 1, *end = e > p && e[-1] == '"' ? e - 1 : e;
    size_t at = 0;
    while (p < end) {
        char unit[4];
        size_t n = json_unit(&p, end, unit);
        if (n > name_len - at || memcmp(unit, name + at, n) != 0) return false;
        at += n;
    }
    return at == name_len;
}

int prs_field_json_member(const char *rec, size_t len, const char *name, size_t name_len,
                          prs_field *value) {
    const char *p = json_ws(rec, rec + len), *e = rec + len;
    if (p >= e || *p != '{') return 0;
    p = json_ws(p + 1, e);
    /* Each member consumes at least its name's quote: bounded by len. */
    while (p < e && *p == '"') {
        const char *name_end = json_string_end(p, e);
        bool hit = !name || json_name_is(p, name_end, name, name_len);
        p = json_ws(name_end, e);
        if (p >= e || *p != ':') return 0;
        p = json_ws(p + 1, e);
        const char *v_end = json_value_end(p, e);
        if (hit) {
            *value = (prs_field){.offset = (uint64_t)(p - rec),
                                 .size_bytes = (uint64_t)(v_end - p),
                                 .quoted = p < e && *p == '"'};
            return 1;
        }
        p = json_ws(v_end, e);
        if (p >= e || *p != ',') return 0;
        p = json_ws(p + 1, e);
    }
    return 0;
}

size_t prs_field_json_value(const char *rec, const prs_field *value, char *out) {
    const char *s = rec + value->offset, *e = s + value->size_bytes;
    if (!value->quoted) {
        memcpy(out, s, value->size_bytes);
        return value->size_bytes;
    }
    const char *p = s + 1, *end = e > p && e[-1] == '"' ? e - 1 : e;
    size_t n = 0;
    while (p < end)
        n += json_unit(&p, end, out + n);
    return n;
}
