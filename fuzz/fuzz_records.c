/* fuzz_records -- libFuzzer target: the record splitter, the field reader and the side
 * table scan against a deliberately simple, slow reference (one byte at a time, RFC 4180
 * states written out; a recursive JSON checker) on arbitrary bytes.
 *
 * Input: byte 0 picks the batch limit (1 .. 256 bytes); the rest is the file, split as
 * csv, tsv, jsonl and lines in turn. For each format the splitter and the reference must
 * give the same header and the same records -- offset, size, line, terminator -- and the
 * same malformed flag (the messages are not compared: the reference only says yes or no).
 * Then the records are cut into batches and every batch, re-split on its own bytes with
 * prs_splitter_init_at, must give back exactly its records. Every well-formed csv/tsv
 * record's fields (io/fields) must be the reference's, value by value; every well-formed
 * jsonl record's members must be found by name where the reference finds them (the first
 * of a repeated name). Last, the whole input is read as a side table (core/side, first
 * column or member as the key): it must fail exactly when the header or a record is
 * malformed, and otherwise hand on every record, in order, with its first field's value
 * as the key. Any difference aborts.
 *
 * Build: ninja build/fuzz/fuzz_records (tools/configure's list names its sources).
 * Run:   mkdir -p build/fuzz/corpus/records
 *        build/fuzz/fuzz_records -max_total_time=60 build/fuzz/corpus/records fuzz/corpus/records
 *        (libFuzzer writes new inputs into the FIRST directory: keep that one out of git). */
#include "fields.h"
#include "records.h"
#include "side.h"
#include "sidescan.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT_BYTES 100000u
#define MAX_RECS (MAX_INPUT_BYTES / 2 + 2) /* a record and its '\n' take 2 bytes or more */

typedef struct ref_rec {
    size_t off, size, line;
    unsigned term;
    bool bad;
} ref_rec;

static void fail(const char *what, enum prs_format f, size_t i) {
    fprintf(stderr, "fuzz_records: %s: %s, record %zu\n", prs_format_name(f), what, i);
    abort();
}

/* ---- reference JSON checker: recursive descent, straight from RFC 8259 ------------------ */

typedef struct jp {
    const uint8_t *p, *e;
    int depth;
} jp;

static bool j_more(const jp *j) {
    return j->p < j->e;
}

static void j_ws(jp *j) {
    while (j_more(j) && (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n'))
        j->p++;
}

static bool j_eat(jp *j, uint8_t c) {
    if (!j_more(j) || *j->p != c) return false;
    j->p++;
    return true;
}

static bool j_digit(const jp *j) {
    return j_more(j) && *j->p >= '0' && *j->p <= '9';
}

static bool j_value(jp *j);

static bool j_string(jp *j) {
    if (!j_eat(j, '"')) return false;
    for (;;) {
        if (!j_more(j)) return false;
        uint8_t c = *j->p++;
        if (c == '"') return true;
        if (c < 0x20) return false;
        if (c != '\\') continue;
        if (!j_more(j)) return false;
        c = *j->p++;
        if (c == 'u') {
            for (int i = 0; i < 4; i++) {
                if (!j_more(j)) return false;
                c = *j->p++;
                bool hex =
                    (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
                if (!hex) return false;
            }
        } else if (c != '"' && c != '\\' && c != '/' && c != 'b' && c != 'f' && c != 'n' &&
                   c != 'r' && c != 't') {
            return false;
        }
    }
}

static bool j_number(jp *j) {
    j_eat(j, '-');
    if (!j_eat(j, '0')) {
        if (!j_digit(j)) return false;
        while (j_digit(j))
            j->p++;
    }
    if (j_eat(j, '.')) {
        if (!j_digit(j)) return false;
        while (j_digit(j))
            j->p++;
    }
    if (j_eat(j, 'e') || j_eat(j, 'E')) {
        if (!j_eat(j, '+')) j_eat(j, '-');
        if (!j_digit(j)) return false;
        while (j_digit(j))
            j->p++;
    }
    return true;
}

static bool j_word(jp *j, const char *w) {
    size_t n = strlen(w);
    if ((size_t)(j->e - j->p) < n || memcmp(j->p, w, n) != 0) return false;
    j->p += n;
    return true;
}

static bool j_container(jp *j, bool object) {
    if (++j->depth > PRS_JSON_MAX_DEPTH) return false;
    j->p++; /* '{' or '[' */
    j_ws(j);
    if (j_eat(j, object ? '}' : ']')) {
        j->depth--;
        return true;
    }
    for (;;) {
        if (object) {
            j_ws(j);
            if (!j_string(j)) return false;
            j_ws(j);
            if (!j_eat(j, ':')) return false;
        }
        if (!j_value(j)) return false;
        j_ws(j);
        if (j_eat(j, ',')) continue;
        if (!j_eat(j, object ? '}' : ']')) return false;
        j->depth--;
        return true;
    }
}

static bool j_value(jp *j) {
    j_ws(j);
    if (!j_more(j)) return false;
    switch (*j->p) {
    case '{':
        return j_container(j, true);
    case '[':
        return j_container(j, false);
    case '"':
        return j_string(j);
    case 't':
        return j_word(j, "true");
    case 'f':
        return j_word(j, "false");
    case 'n':
        return j_word(j, "null");
    default:
        return j_number(j);
    }
}

static bool ref_json_object(const uint8_t *p, size_t n) {
    jp j = {p, p + n, 0};
    j_ws(&j);
    if (!j_more(&j) || *j.p != '{') return false;
    if (!j_value(&j)) return false;
    j_ws(&j);
    return !j_more(&j);
}

/* ---- reference splitter --------------------------------------------------------------- */

static size_t ref_split(enum prs_format f, const uint8_t *b, size_t n, ref_rec *out) {
    enum { FIELD_START, UNQUOTED, QUOTED, QUOTE_IN_QUOTED } st = FIELD_START;
    const bool csv = f == PRS_FORMAT_CSV || f == PRS_FORMAT_TSV;
    const uint8_t sep = f == PRS_FORMAT_TSV ? '\t' : ',';
    size_t i = 0, count = 0, line = 1;
    if (n >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF) i = 3;
    size_t start = i, start_line = 1;
    for (; i <= n; i++) {
        bool at_end = i == n;
        bool ends = at_end || (b[i] == '\n' && !(csv && st == QUOTED));
        if (ends) {
            ref_rec r = {start, i - start, start_line, at_end ? 0u : 1u, csv && st == QUOTED};
            if (!at_end && i > start && b[i - 1] == '\r') {
                r.size--;
                r.term = 2;
            }
            bool blank = r.size == 0;
            if (f == PRS_FORMAT_JSONL) {
                blank = true;
                for (size_t k = r.off; k < r.off + r.size; k++)
                    if (b[k] != ' ' && b[k] != '\t' && b[k] != '\r') blank = false;
                if (!blank) r.bad = !ref_json_object(b + r.off, r.size);
            }
            if (!blank) {
                if (count == MAX_RECS) fail("reference overflow", f, count);
                out[count++] = r;
            }
            start = i + 1;
            start_line = line + 1;
            st = FIELD_START;
        } else if (csv) {
            uint8_t c = b[i];
            if (st == FIELD_START) {
                st = c == '"' ? QUOTED : c == sep ? FIELD_START : UNQUOTED;
            } else if (st == UNQUOTED) {
                st = c == sep ? FIELD_START : UNQUOTED;
            } else if (st == QUOTED) {
                st = c == '"' ? QUOTE_IN_QUOTED : QUOTED;
            } else {
                st = c == '"' ? QUOTED : c == sep ? FIELD_START : UNQUOTED;
            }
        }
        if (!at_end && b[i] == '\n') line++;
    }
    return count;
}

static bool same(const prs_record *r, const ref_rec *want) {
    return r->offset == want->off && r->size_bytes == want->size && r->line == want->line &&
           r->term_bytes == want->term && (r->error != NULL) == want->bad;
}

static bool same_rec(const prs_record *a, const prs_record *b) {
    return a->offset == b->offset && a->size_bytes == b->size_bytes && a->line == b->line &&
           a->term_bytes == b->term_bytes && a->error == b->error;
}

/* ---- reference fields: the csv states again, one byte at a time, building values ------ */

/* Field values of rec, back to back in vals; ends[i] is where value i ends in vals. */
static size_t ref_fields(const char *rec, size_t n, char sep, char *vals, size_t *ends) {
    enum { FIELD_START, UNQUOTED, QUOTED, QUOTE_IN_QUOTED } st = FIELD_START;
    size_t count = 0, at = 0;
    for (size_t i = 0; i < n; i++) {
        char c = rec[i];
        bool ends_field = c == sep && st != QUOTED;
        if (ends_field) {
            ends[count++] = at;
            st = FIELD_START;
        } else if (st == FIELD_START) {
            st = c == '"' ? QUOTED : UNQUOTED;
            if (c != '"') vals[at++] = c;
        } else if (st == UNQUOTED) {
            vals[at++] = c;
        } else if (st == QUOTED) {
            if (c == '"')
                st = QUOTE_IN_QUOTED;
            else
                vals[at++] = c;
        } else { /* just after a quote inside quotes: "" is one quote, else it closed */
            vals[at++] = c;
            st = c == '"' ? QUOTED : UNQUOTED;
        }
    }
    ends[count++] = at;
    return count;
}

static char fvals[MAX_INPUT_BYTES], gvals[MAX_INPUT_BYTES];
static size_t fends[MAX_INPUT_BYTES + 1];

static void check_fields(enum prs_format f, const char *buf, const prs_record *r, size_t i) {
    const char *rec = buf + r->offset;
    size_t n = (size_t)r->size_bytes;
    size_t rn = ref_fields(rec, n, f == PRS_FORMAT_TSV ? '\t' : ',', fvals, fends);
    prs_fields it;
    prs_field fl;
    if (prs_fields_init(&it, f, rec, n) != 0) fail("fields init", f, i);
    size_t k = 0;
    for (; prs_fields_next(&it, &fl) == 1; k++) {
        if (k >= rn) fail("more fields than the reference", f, i);
        if (fl.offset + fl.size_bytes > n) fail("field outside its record", f, i);
        size_t len = prs_field_csv_value(rec, &fl, gvals);
        size_t start = k ? fends[k - 1] : 0;
        if (len != fends[k] - start || memcmp(gvals, fvals + start, len) != 0)
            fail("field value differs", f, i);
    }
    if (k != rn) fail("fewer fields than the reference", f, i);
}

/* ---- reference json members: the checker's walk, keeping the top level's spans -------- */

typedef struct ref_member {
    size_t name_off, name_len; /* the name's string, quotes included */
    size_t val_off, val_len;
} ref_member;

static ref_member members[MAX_INPUT_BYTES / 4 + 1];

/* Decodes a JSON string's content (quotes included in [p, p + n)) the RFC's way. */
static size_t ref_unescape(const char *p, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 1; i + 1 < n; i++) {
        if (p[i] != '\\') {
            out[o++] = p[i];
            continue;
        }
        char c = p[++i];
        const char *simple = strchr("\"\\/bfnrt", c);
        if (c != 'u' && simple) {
            out[o++] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
            continue;
        }
        unsigned cp =
            (unsigned)strtoul((char[5]){p[i + 1], p[i + 2], p[i + 3], p[i + 4], 0}, NULL, 16);
        i += 4;
        if (cp >= 0xd800 && cp < 0xdc00 && i + 6 < n && p[i + 1] == '\\' && p[i + 2] == 'u') {
            unsigned lo =
                (unsigned)strtoul((char[5]){p[i + 3], p[i + 4], p[i + 5], p[i + 6], 0}, NULL, 16);
            if (lo >= 0xdc00 && lo < 0xe000) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                i += 6;
            }
        }
        if (cp < 0x80) {
            out[o++] = (char)cp;
        } else if (cp < 0x800) {
            out[o++] = (char)(0xc0 | cp >> 6);
            out[o++] = (char)(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            out[o++] = (char)(0xe0 | cp >> 12);
            out[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            out[o++] = (char)(0x80 | (cp & 0x3f));
        } else {
            out[o++] = (char)(0xf0 | cp >> 18);
            out[o++] = (char)(0x80 | ((cp >> 12) & 0x3f));
            out[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            out[o++] = (char)(0x80 | (cp & 0x3f));
        }
    }
    return o;
}

/* The top-level members of a record the checker accepted. */
static size_t ref_members(const char *rec, size_t n) {
    jp j = {(const uint8_t *)rec, (const uint8_t *)rec + n, 0};
    size_t count = 0;
    j_ws(&j);
    j.p++; /* '{' */
    j_ws(&j);
    if (j_eat(&j, '}')) return 0;
    for (;;) {
        j_ws(&j);
        const uint8_t *name = j.p;
        j_string(&j);
        ref_member m = {(size_t)(name - (const uint8_t *)rec), (size_t)(j.p - name), 0, 0};
        j_ws(&j);
        j_eat(&j, ':');
        j_ws(&j);
        const uint8_t *v = j.p;
        j_value(&j);
        m.val_off = (size_t)(v - (const uint8_t *)rec);
        m.val_len = (size_t)(j.p - v);
        members[count++] = m;
        j_ws(&j);
        if (!j_eat(&j, ',')) return count;
    }
}

static char nbuf[MAX_INPUT_BYTES], nbuf2[MAX_INPUT_BYTES];

static void check_members(const char *buf, const prs_record *r, size_t i) {
    const char *rec = buf + r->offset;
    size_t n = (size_t)r->size_bytes, mn = ref_members(rec, n);
    prs_field v;
    int got = prs_field_json_member(rec, n, NULL, 0, &v);
    if (got != (mn > 0) ||
        (mn && (v.offset != members[0].val_off || v.size_bytes != members[0].val_len)))
        fail("first member differs", PRS_FORMAT_JSONL, i);
    for (size_t k = 0; k < mn; k++) {
        size_t len = ref_unescape(rec + members[k].name_off, members[k].name_len, nbuf);
        size_t first = k;
        for (size_t e = 0; e < k; e++) {
            size_t l2 = ref_unescape(rec + members[e].name_off, members[e].name_len, nbuf2);
            if (l2 == len && memcmp(nbuf, nbuf2, len) == 0) {
                first = e;
                break;
            }
        }
        if (prs_field_json_member(rec, n, nbuf, len, &v) != 1 ||
            v.offset != members[first].val_off || v.size_bytes != members[first].val_len)
            fail("member lookup differs", PRS_FORMAT_JSONL, i);
        if (v.quoted != (rec[v.offset] == '"')) fail("member quoted flag", PRS_FORMAT_JSONL, i);
        if (v.quoted) {
            size_t want = ref_unescape(rec + v.offset, v.size_bytes, nbuf2);
            size_t have = prs_field_json_value(rec, &v, gvals);
            if (have != want || memcmp(gvals, nbuf2, have) != 0)
                fail("member value differs", PRS_FORMAT_JSONL, i);
        }
    }
}

/* ---- side table scan: what it hands on, against the records and their first fields ---- */

typedef struct side_seen {
    enum prs_format f;
    const char *buf;
    const prs_record *recs;
    size_t n, next;
} side_seen;

static int side_row(void *arg, const char *key, size_t key_len, const char *row, size_t row_len) {
    side_seen *s = arg;
    if (s->next >= s->n) fail("side scan: more rows than records", s->f, s->next);
    const prs_record *r = &s->recs[s->next];
    if (row != s->buf + r->offset || row_len != r->size_bytes)
        fail("side scan: row is not the record", s->f, s->next);
    const char *want = gvals;
    size_t want_len = 0;
    if (s->f == PRS_FORMAT_JSONL) {
        if (ref_members(row, row_len) > 0) {
            const ref_member *m = &members[0];
            if (row[m->val_off] == '"') {
                want_len = ref_unescape(row + m->val_off, m->val_len, gvals);
            } else {
                want = row + m->val_off;
                want_len = m->val_len;
            }
        }
    } else {
        ref_fields(row, row_len, s->f == PRS_FORMAT_TSV ? '\t' : ',', fvals, fends);
        want = fvals;
        want_len = fends[0];
    }
    if (key_len != want_len || memcmp(key, want, key_len) != 0)
        fail("side scan: key is not the first field", s->f, s->next);
    s->next++;
    return 0;
}

static void check_side(enum prs_format f, const char *buf, size_t n, const prs_record *recs,
                       size_t count, bool any_bad) {
    prs_side_table t = {.name = "fuzz", .path = "fuzz"};
    t.format = f == PRS_FORMAT_CSV   ? PRS_SIDE_CSV
               : f == PRS_FORMAT_TSV ? PRS_SIDE_TSV
                                     : PRS_SIDE_JSONL;
    side_seen seen = {f, buf, recs, count, 0};
    const char *header;
    size_t header_len;
    char err[512];
    int rc = prs_side_scan(&t, buf, n, side_row, &seen, &header, &header_len, err, sizeof(err));
    if (any_bad) {
        if (rc != -EINVAL || !strstr(err, "line ")) fail("side scan: a bad record passed", f, 0);
        return;
    }
    if (rc != 0) fail("side scan: failed on good records", f, seen.next);
    if (seen.next != count) fail("side scan: fewer rows than records", f, seen.next);
}

static ref_rec ref[MAX_RECS];
static prs_record got[MAX_RECS];

static void check(enum prs_format f, const char *buf, size_t n, uint64_t limit) {
    size_t rn = ref_split(f, (const uint8_t *)buf, n, ref), gn = 0, first = 0;
    prs_splitter s;
    prs_record h;
    if (prs_splitter_init(&s, f, buf, n) != 0) fail("init", f, 0);
    bool csv = f == PRS_FORMAT_CSV || f == PRS_FORMAT_TSV;
    int has_header = prs_splitter_header(&s, &h);
    if (has_header != (csv && rn > 0)) fail("header presence", f, 0);
    if (has_header) {
        if (!same(&h, &ref[0])) fail("header differs", f, 0);
        first = 1;
    }
    while (prs_splitter_next(&s, &got[gn]) == 1) {
        if (first + gn >= rn) fail("more records than the reference", f, gn);
        if (!same(&got[gn], &ref[first + gn])) fail("record differs", f, gn);
        if (got[gn].error && !(csv || f == PRS_FORMAT_JSONL)) fail("lines flagged", f, gn);
        gn++;
    }
    if (first + gn != rn) fail("fewer records than the reference", f, gn);
    if (prs_splitter_next(&s, &h) != 0) fail("end not sticky", f, gn);
    bool any_bad = has_header && ref[0].bad;
    for (size_t i = 0; i < gn; i++) {
        any_bad |= got[i].error != NULL;
        if (got[i].error) continue;
        if (csv) check_fields(f, buf, &got[i], i);
        if (f == PRS_FORMAT_JSONL) check_members(buf, &got[i], i);
    }
    if (csv || f == PRS_FORMAT_JSONL) check_side(f, buf, n, got, gn, any_bad);

    prs_batcher b;
    if (prs_batcher_init(&b, limit) != 0) fail("batcher init", f, 0);
    size_t bfirst = 0;
    for (size_t i = 0; i <= gn; i++) {
        if (i < gn && !prs_batcher_add(&b, &got[i])) continue;
        if (i == bfirst) continue;
        const prs_record *last = &got[i - 1];
        prs_splitter sub;
        size_t end = last->offset + last->size_bytes + last->term_bytes;
        if (prs_splitter_init_at(&sub, f, buf, end, got[bfirst].offset, got[bfirst].line))
            fail("init_at", f, bfirst);
        uint64_t bytes = 0;
        for (size_t k = bfirst; k < i; k++) {
            if (prs_splitter_next(&sub, &h) != 1 || !same_rec(&h, &got[k]))
                fail("re-split batch differs", f, k);
            bytes += h.size_bytes + h.term_bytes;
        }
        if (prs_splitter_next(&sub, &h) != 0) fail("batch re-split overruns", f, i);
        if (bytes > limit && i - bfirst > 1) fail("batch over the limit", f, bfirst);
        bfirst = i;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0 || size > MAX_INPUT_BYTES) return 0;
    uint64_t limit = 1u + data[0];
    const char *buf = (const char *)data + 1;
    size_t n = size - 1;
    check(PRS_FORMAT_CSV, buf, n, limit);
    check(PRS_FORMAT_TSV, buf, n, limit);
    check(PRS_FORMAT_JSONL, buf, n, limit);
    check(PRS_FORMAT_LINES, buf, n, limit);
    return 0;
}
