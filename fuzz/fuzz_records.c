/* fuzz_records -- libFuzzer target: the record splitter against a deliberately simple,
 * slow reference (one byte at a time, RFC 4180 states written out; a recursive JSON
 * checker) on arbitrary bytes.
 *
 * Input: byte 0 picks the batch limit (1 .. 256 bytes); the rest is the file, split as
 * csv, tsv, jsonl and lines in turn. For each format the splitter and the reference must
 * give the same header and the same records -- offset, size, line, terminator -- and the
 * same malformed flag (the messages are not compared: the reference only says yes or no).
 * Then the records are cut into batches and every batch, re-split on its own bytes with
 * prs_splitter_init_at, must give back exactly its records. Any difference aborts.
 *
 * Build: clang -std=c17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined
 *          -fno-sanitize-recover=all -iquote core -iquote io
 *          fuzz/fuzz_records.c io/records.c -o build/fuzz/fuzz_records
 * Run:   mkdir -p build/fuzz/corpus/records
 *        build/fuzz/fuzz_records -max_total_time=60 build/fuzz/corpus/records fuzz/corpus/records
 *        (libFuzzer writes new inputs into the FIRST directory: keep that one out of git). */
#include "records.h"

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
