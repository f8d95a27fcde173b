/* records.c -- see records.h.
 *
 * Speed: the splitter looks at the buffer 64 bytes at a time, as two bit masks ('\n' and
 * '"', SSE2 compares; a plain loop elsewhere), so a line without quotes costs a mask test
 * and a count-trailing-zeros, and a line with quotes hops from quote to quote the same
 * way, never byte by byte. Each block is classified once per pass. jsonl validation is the
 * one part that reads every byte of a record, one at a time. */
#include "records.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

const char PRS_RECORD_ERR_UNTERMINATED_QUOTE[] = "unterminated quoted field";
const char PRS_RECORD_ERR_JSON_NOT_OBJECT[] = "not a JSON object";
const char PRS_RECORD_ERR_JSON_TRUNCATED[] = "truncated JSON object";
const char PRS_RECORD_ERR_JSON_TRAILING[] = "bytes after the JSON object";
const char PRS_RECORD_ERR_JSON_TOO_DEEP[] = "JSON nested deeper than 64 levels";
const char PRS_RECORD_ERR_JSON_SYNTAX[] = "invalid JSON";
const char PRS_RECORD_ERR_JSON_STRING[] = "invalid JSON string";
const char PRS_RECORD_ERR_JSON_NUMBER[] = "invalid JSON number";

_Static_assert(PRS_JSON_MAX_DEPTH <= 64, "the JSON nesting stack is one uint64_t");

static const char *const format_names[] = {
    [PRS_FORMAT_FILES] = "files", [PRS_FORMAT_CSV] = "csv",     [PRS_FORMAT_TSV] = "tsv",
    [PRS_FORMAT_JSONL] = "jsonl", [PRS_FORMAT_LINES] = "lines",
};

int prs_format_parse(const char *text, enum prs_format *out) {
    if (!text) return -EINVAL;
    for (size_t i = 0; i < PRS_ARRAY_LEN(format_names); i++) {
        if (strcmp(text, format_names[i]) == 0) {
            *out = (enum prs_format)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *prs_format_name(enum prs_format f) {
    if ((unsigned)f >= PRS_ARRAY_LEN(format_names)) return "?";
    return format_names[f];
}

/* ---- 64-byte blocks ---------------------------------------------------------------------------
 * The buffer is seen as 64-byte blocks at offsets 0, 64, 128, ... from buf. A block is
 * classified once into bit masks ('\n', and for csv/tsv '"'); the splitter caches the
 * current one, so the many short records of one block cost a few mask operations each
 * instead of a memchr call each. The last, partial block is copied into a zeroed 64-byte
 * scratch first: no read ever goes past len (a mapping may end exactly there). */

#define BLOCK_BYTES 64u

#if defined(__SSE2__) && !defined(PRS_RECORDS_SCALAR)
static inline uint64_t movemask64(__m128i a, __m128i b, __m128i c, __m128i d) {
    return (uint64_t)(uint32_t)_mm_movemask_epi8(a) |
           (uint64_t)(uint32_t)_mm_movemask_epi8(b) << 16 |
           (uint64_t)(uint32_t)_mm_movemask_epi8(c) << 32 |
           (uint64_t)(uint32_t)_mm_movemask_epi8(d) << 48;
}

/* Bit i of *m1 / *m2: p[i] is c1 / c2 (m2 may be NULL). */
static inline void mask64(const char *p, char c1, uint64_t *m1, char c2, uint64_t *m2) {
    const __m128i *v = (const __m128i *)(const void *)p;
    __m128i a = _mm_loadu_si128(v), b = _mm_loadu_si128(v + 1);
    __m128i c = _mm_loadu_si128(v + 2), d = _mm_loadu_si128(v + 3);
    __m128i w = _mm_set1_epi8(c1);
    *m1 = movemask64(_mm_cmpeq_epi8(a, w), _mm_cmpeq_epi8(b, w), _mm_cmpeq_epi8(c, w),
                     _mm_cmpeq_epi8(d, w));
    if (m2) {
        w = _mm_set1_epi8(c2);
        *m2 = movemask64(_mm_cmpeq_epi8(a, w), _mm_cmpeq_epi8(b, w), _mm_cmpeq_epi8(c, w),
                         _mm_cmpeq_epi8(d, w));
    }
}
#else
static inline void mask64(const char *p, char c1, uint64_t *m1, char c2, uint64_t *m2) {
    uint64_t x = 0, y = 0;
    for (unsigned i = 0; i < BLOCK_BYTES; i++) {
        x |= (uint64_t)(p[i] == c1) << i;
        y |= (uint64_t)(p[i] == c2) << i;
    }
    *m1 = x;
    if (m2) *m2 = y;
}
#endif

static inline void block_masks(const prs_splitter *s, size_t base, char c1, uint64_t *m1, char c2,
                               uint64_t *m2) {
    size_t n = s->len - base;
    if (n >= BLOCK_BYTES) {
        mask64(s->buf + base, c1, m1, c2, m2);
    } else {
        char tail[BLOCK_BYTES] = {0}; /* NUL is never '\n', '"' or a separator */
        memcpy(tail, s->buf + base, n);
        mask64(tail, c1, m1, c2, m2);
    }
}

static inline bool is_csv(const prs_splitter *s) {
    return s->format == PRS_FORMAT_CSV || s->format == PRS_FORMAT_TSV;
}

static inline void load_block(prs_splitter *s, size_t base) {
    if (s->blk == base) return;
    s->blk_quote = 0;
    block_masks(s, base, '\n', &s->blk_nl, '"', is_csv(s) ? &s->blk_quote : NULL);
    s->blk = base;
    s->blk_sep_ready = false;
    s->an_ready = false;
}

/* The separator mask only matters where a quote opens a field: made on demand. */
static inline uint64_t block_sep(prs_splitter *s) {
    if (!s->blk_sep_ready) {
        block_masks(s, s->blk, s->sep, &s->blk_sep, 0, NULL);
        s->blk_sep_ready = true;
    }
    return s->blk_sep;
}

static inline size_t block_of(size_t i) {
    return i & ~(size_t)(BLOCK_BYTES - 1);
}

static inline uint64_t lowest_bit(uint64_t m) {
    return m & (~m + 1);
}

static inline uint64_t popcount(uint64_t m) {
    return (uint64_t)__builtin_popcountll(m);
}

static inline size_t ctz(uint64_t m) {
    return (size_t)__builtin_ctzll(m);
}

/* Bit i: odd number of set bits in x at positions 0..i. */
static inline uint64_t prefix_xor(uint64_t x) {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    return x;
}

/* Offset of the first '\n' at or after i, or len. A line longer than the rest of its block
 * goes to memchr, which outruns 64-byte steps on long stretches. */
static inline size_t next_newline(prs_splitter *s, size_t i) {
    if (i >= s->len) return s->len;
    size_t base = block_of(i);
    load_block(s, base);
    uint64_t m = s->blk_nl & (~(uint64_t)0 << (i - base));
    if (m) return base + ctz(m);
    if (base + BLOCK_BYTES >= s->len) return s->len;
    const char *p = memchr(s->buf + base + BLOCK_BYTES, '\n', s->len - base - BLOCK_BYTES);
    return p ? (size_t)(p - s->buf) : s->len;
}

/* Splits off the record [start, end) where end is its terminating '\n' or the end of the
 * buffer, and moves the cursor past it. inner_newlines: '\n's inside the record (quoted).
 * false when the record is empty (a blank line): nothing to return. */
static bool take(prs_splitter *s, size_t start, size_t end, uint64_t inner_newlines,
                 prs_record *rec) {
    size_t size = end - start;
    uint32_t term = 0;
    if (end < s->len) {
        term = 1;
        if (size > 0 && s->buf[end - 1] == '\r') {
            size--;
            term = 2;
        }
    }
    rec->offset = start;
    rec->size_bytes = size;
    rec->line = s->line;
    rec->term_bytes = term;
    rec->error = NULL;
    s->line += inner_newlines + (term != 0);
    s->pos = end + (term != 0);
    return size > 0;
}

/* ---- csv / tsv ------------------------------------------------------------------------------
 * Where a record starting at start ends: *end is its terminating '\n' or len, *inner the
 * '\n's inside its quoted fields, *open whether it ends inside an unterminated quoted
 * field. Two ways to the same answer: csv_fast reads whole blocks at once and says so
 * when it cannot be sure; csv_exact then walks the record's quotes one by one. */

/* The RFC 4180 states, hopping between events with the block masks. Outside quotes the
 * next event is the next '\n' (the end) or '"'; a '"' opens a quoted field only at a field
 * start: the record's first byte, or right after a separator (a byte outside quotes, since
 * no quote lies between the last event and it). Inside quotes only '"' matters: doubled
 * it is data, alone it closes the field. */
static void csv_exact(prs_splitter *s, size_t start, size_t *end, uint64_t *inner, bool *open) {
    const char *buf = s->buf;
    const size_t len = s->len;
    size_t i = start;
    uint64_t lines = 0;
    bool quoted = false;
    while (i < len) {
        size_t base = block_of(i);
        load_block(s, base);
        uint64_t live = ~(uint64_t)0 << (i - base);
        uint64_t nl = s->blk_nl & live, q = s->blk_quote & live;
        if (!quoted) {
            uint64_t ev = nl | q;
            if (!ev) {
                i = base + BLOCK_BYTES;
                continue;
            }
            size_t at = base + ctz(ev);
            if (nl & lowest_bit(ev)) {
                *end = at;
                *inner = lines;
                *open = false;
                return;
            }
            quoted = at == start || buf[at - 1] == s->sep;
            i = at + 1;
        } else {
            if (!q) {
                lines += popcount(nl);
                i = base + BLOCK_BYTES;
                continue;
            }
            size_t at = base + ctz(q);
            lines += popcount(nl & (lowest_bit(q) - 1));
            if (at + 1 < len && buf[at + 1] == '"') {
                i = at + 2;
                continue;
            }
            quoted = false;
            i = at + 1;
        }
    }
    *end = len;
    *inner = lines;
    *open = quoted;
}

/* Reads the current block from bit `from` on, entering it inside quotes when carry is all
 * ones, with quotes taken to toggle the state (a prefix XOR of the quote mask). "" inside
 * a field toggles twice, so for RFC 4180 input this is exact. It parts from the real rules
 * only where a quote would open a field away from a field start (a quote inside an
 * unquoted field, or after a closing quote and more bytes), and the first such quote is
 * where the two readings first differ. So each quote the toggle takes inside must follow
 * a separator, a quote (the second of an escaped ""), or start a record: the first one
 * that does not marks the rest of the block an_bad, and records reaching it are walked
 * exactly. from_record: bit `from` starts a record (else it continues one from the block
 * before). The result stays valid for every record that starts at one of its an_ends. */
static void csv_analyze(prs_splitter *s, unsigned from, uint64_t carry, bool from_record) {
    uint64_t live = ~(uint64_t)0 << from;
    uint64_t nl = s->blk_nl & live, q = s->blk_quote & live;
    s->an_ready = true;
    if (!(q | carry)) { /* the common block: no quote */
        s->an_ends = nl;
        s->an_qnl = s->an_bad = s->an_carry = 0;
        return;
    }
    uint64_t inside = prefix_xor(q) ^ carry; /* bit k: inside quotes after byte k */
    uint64_t ends = nl & ~inside;
    uint64_t opening = q & inside;
    s->an_ends = ends;
    s->an_qnl = nl & inside;
    s->an_carry = (uint64_t)0 - (inside >> 63);
    s->an_bad = 0;
    if (opening) {
        uint64_t allowed = (block_sep(s) | s->blk_quote | ends) << 1;
        if (from_record) {
            allowed |= (uint64_t)1 << from;
        } else {
            char prev = s->buf[s->blk - 1];
            if (prev == s->sep || prev == '"') allowed |= 1;
        }
        uint64_t wrong = opening & ~allowed;
        if (wrong) s->an_bad = ~(lowest_bit(wrong) - 1);
    }
}

static bool csv_fast(prs_splitter *s, size_t start, size_t *end, uint64_t *inner, bool *open) {
    const size_t len = s->len;
    size_t i = start;
    uint64_t lines = 0, carry = 0;
    while (i < len) {
        size_t base = block_of(i);
        unsigned from = (unsigned)(i - base);
        if (s->blk != base || !s->an_ready) {
            load_block(s, base);
            csv_analyze(s, from, carry, i == start);
        }
        /* (an analysis made from an earlier record start in this block is valid at i) */
        uint64_t live = ~(uint64_t)0 << from;
        uint64_t ends = s->an_ends & live, bad = s->an_bad & live;
        uint64_t upto = ends ? lowest_bit(ends) - 1 : ~(uint64_t)0;
        if (bad & upto) return false;
        if (s->an_qnl) lines += popcount(s->an_qnl & live & upto);
        if (ends) {
            *end = base + ctz(ends);
            *inner = lines;
            *open = false;
            return true;
        }
        carry = s->an_carry;
        i = base + BLOCK_BYTES;
    }
    *end = len;
    *inner = lines;
    *open = carry != 0; /* padding past len holds no quote: bit 63 is the state at len */
    return true;
}

static int next_csv(prs_splitter *s, prs_record *rec) {
    while (s->pos < s->len) {
        size_t start = s->pos, end;
        uint64_t inner;
        bool open;
        if (!csv_fast(s, start, &end, &inner, &open)) {
            csv_exact(s, start, &end, &inner, &open);
            s->an_ready = false; /* its reading of the block is wrong past start */
        }
        if (take(s, start, end, inner, rec)) {
            rec->error = open ? PRS_RECORD_ERR_UNTERMINATED_QUOTE : NULL;
            return 1;
        }
    }
    return 0;
}

/* ---- jsonl -------------------------------------------------------------------------------- */

static inline bool json_ws(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static inline bool is_digit(unsigned char c) {
    return c >= '0' && c <= '9';
}

static inline bool is_hex(unsigned char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* p is just past the opening quote; *pp gets just past the closing one. */
static const char *json_string(const unsigned char **pp, const unsigned char *e) {
    const unsigned char *p = *pp;
    for (;;) {
        while (p < e && *p >= 0x20 && *p != '"' && *p != '\\')
            p++;
        if (p == e) return PRS_RECORD_ERR_JSON_TRUNCATED;
        if (*p == '"') break;
        if (*p < 0x20) return PRS_RECORD_ERR_JSON_STRING;
        if (++p == e) return PRS_RECORD_ERR_JSON_TRUNCATED; /* after the backslash */
        unsigned char c = *p++;
        if (c == 'u') {
            for (int i = 0; i < 4; i++, p++) {
                if (p == e) return PRS_RECORD_ERR_JSON_TRUNCATED;
                if (!is_hex(*p)) return PRS_RECORD_ERR_JSON_STRING;
            }
        } else if (!strchr("\"\\/bfnrt", c) || c == 0) {
            return PRS_RECORD_ERR_JSON_STRING;
        }
    }
    *pp = p + 1;
    return NULL;
}

static const char *json_digits(const unsigned char **pp, const unsigned char *e) {
    const unsigned char *p = *pp;
    if (p == e) return PRS_RECORD_ERR_JSON_TRUNCATED;
    if (!is_digit(*p)) return PRS_RECORD_ERR_JSON_NUMBER;
    while (p < e && is_digit(*p))
        p++;
    *pp = p;
    return NULL;
}

/* RFC 8259: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? ; what follows is the caller's. */
static const char *json_number(const unsigned char **pp, const unsigned char *e) {
    const unsigned char *p = *pp;
    const char *err;
    if (*p == '-') p++;
    if (p < e && *p == '0') {
        p++;
    } else if ((err = json_digits(&p, e)) != NULL) {
        return err;
    }
    if (p < e && *p == '.') {
        p++;
        if ((err = json_digits(&p, e)) != NULL) return err;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-')) p++;
        if ((err = json_digits(&p, e)) != NULL) return err;
    }
    *pp = p;
    return NULL;
}

static const char *json_literal(const unsigned char **pp, const unsigned char *e) {
    const char *word = **pp == 't' ? "true" : **pp == 'f' ? "false" : "null";
    size_t n = strlen(word), have = (size_t)(e - *pp);
    if (memcmp(*pp, word, PRS_MIN(n, have)) != 0) return PRS_RECORD_ERR_JSON_SYNTAX;
    if (have < n) return PRS_RECORD_ERR_JSON_TRUNCATED;
    *pp += n;
    return NULL;
}

/* Is [p, e) one JSON object with optional whitespace around it? NULL if so, else why.
 * *blank: whitespace only (not a record at all). Iterative; the container stack is one
 * bit per level (1 = object), so no recursion and no allocation whatever the input. */
static const char *json_check(const unsigned char *p, const unsigned char *e, bool *blank) {
    enum { VALUE, FIRST_VALUE, KEY, FIRST_KEY, AFTER_VALUE } st = VALUE;
    uint64_t objects = 0;
    unsigned depth = 0;
    const char *err = NULL;
    *blank = false;
    while (p < e && json_ws(*p))
        p++;
    if (p == e) {
        *blank = true;
        return NULL;
    }
    if (*p != '{') return PRS_RECORD_ERR_JSON_NOT_OBJECT;
    for (;;) {
        while (p < e && json_ws(*p))
            p++;
        if (st == AFTER_VALUE && depth == 0) return p == e ? NULL : PRS_RECORD_ERR_JSON_TRAILING;
        if (p == e) return PRS_RECORD_ERR_JSON_TRUNCATED;
        unsigned char c = *p;
        switch (st) {
        case FIRST_KEY:
            if (c == '}') {
                p++;
                depth--;
                st = AFTER_VALUE;
                break;
            }
            __attribute__((fallthrough));
        case KEY:
            if (c != '"') return PRS_RECORD_ERR_JSON_SYNTAX;
            p++;
            if ((err = json_string(&p, e)) != NULL) return err;
            while (p < e && json_ws(*p))
                p++;
            if (p == e) return PRS_RECORD_ERR_JSON_TRUNCATED;
            if (*p++ != ':') return PRS_RECORD_ERR_JSON_SYNTAX;
            st = VALUE;
            break;
        case FIRST_VALUE:
            if (c == ']') {
                p++;
                depth--;
                st = AFTER_VALUE;
                break;
            }
            __attribute__((fallthrough));
        case VALUE:
            if (c == '{' || c == '[') {
                if (depth == PRS_JSON_MAX_DEPTH) return PRS_RECORD_ERR_JSON_TOO_DEEP;
                uint64_t bit = (uint64_t)1 << depth;
                objects = c == '{' ? objects | bit : objects & ~bit;
                depth++;
                p++;
                st = c == '{' ? FIRST_KEY : FIRST_VALUE;
                break;
            }
            if (c == '"') {
                p++;
                err = json_string(&p, e);
            } else if (c == '-' || is_digit(c)) {
                err = json_number(&p, e);
            } else if (c == 't' || c == 'f' || c == 'n') {
                err = json_literal(&p, e);
            } else {
                err = PRS_RECORD_ERR_JSON_SYNTAX;
            }
            if (err) return err;
            st = AFTER_VALUE;
            break;
        case AFTER_VALUE: {
            bool in_object = (objects >> (depth - 1)) & 1;
            if (c == ',') {
                p++;
                st = in_object ? KEY : VALUE;
            } else if (c == (in_object ? '}' : ']')) {
                p++;
                depth--;
            } else {
                return PRS_RECORD_ERR_JSON_SYNTAX;
            }
            break;
        }
        }
    }
}

static int next_lines(prs_splitter *s, prs_record *rec) {
    const bool jsonl = s->format == PRS_FORMAT_JSONL;
    while (s->pos < s->len) {
        size_t start = s->pos;
        if (!take(s, start, next_newline(s, start), 0, rec)) continue;
        if (jsonl) {
            const unsigned char *p = (const unsigned char *)s->buf + start;
            bool blank;
            rec->error = json_check(p, p + rec->size_bytes, &blank);
            if (blank) continue;
        }
        return 1;
    }
    return 0;
}

/* ---- splitter ----------------------------------------------------------------------------- */

int prs_splitter_init_at(prs_splitter *s, enum prs_format f, const char *buf, size_t len,
                         uint64_t offset, uint64_t line) {
    if (f != PRS_FORMAT_CSV && f != PRS_FORMAT_TSV && f != PRS_FORMAT_JSONL &&
        f != PRS_FORMAT_LINES)
        return -EINVAL;
    if (offset > len || (!buf && len > 0)) return -EINVAL;
    *s = (prs_splitter){
        .buf = buf,
        .len = len,
        .pos = (size_t)offset,
        .line = line,
        .blk = SIZE_MAX,
        .format = f,
        .sep = f == PRS_FORMAT_TSV ? '\t' : ',',
    };
    return 0;
}

int prs_splitter_init(prs_splitter *s, enum prs_format f, const char *buf, size_t len) {
    int rc = prs_splitter_init_at(s, f, buf, len, 0, 1);
    if (rc) return rc;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) s->pos = 3;
    if (f == PRS_FORMAT_CSV || f == PRS_FORMAT_TSV) s->has_header = next_csv(s, &s->header);
    return 0;
}

int prs_splitter_header(const prs_splitter *s, prs_record *header) {
    if (!s->has_header) return 0;
    *header = s->header;
    return 1;
}

int prs_splitter_next(prs_splitter *s, prs_record *rec) {
    if (s->format == PRS_FORMAT_CSV || s->format == PRS_FORMAT_TSV) return next_csv(s, rec);
    return next_lines(s, rec);
}

/* ---- batcher ------------------------------------------------------------------------------ */

int prs_batcher_init(prs_batcher *b, uint64_t limit_bytes) {
    if (limit_bytes == 0) return -EINVAL;
    *b = (prs_batcher){.limit_bytes = limit_bytes};
    return 0;
}

bool prs_batcher_add(prs_batcher *b, const prs_record *rec) {
    uint64_t n = rec->size_bytes + rec->term_bytes;
    /* written so that no sum can wrap, whatever limit the caller chose */
    bool fits =
        b->cur_count > 0 && b->cur_bytes <= b->limit_bytes && n <= b->limit_bytes - b->cur_bytes;
    if (fits) {
        b->cur_bytes += n;
        b->cur_count++;
        return false;
    }
    b->cur_bytes = n;
    b->cur_count = 1;
    return true;
}
