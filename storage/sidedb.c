/* sidedb.c -- see sidedb.h. */
#include "sidedb.h"
#include "clock.h"
#include "mdb_err.h"

#include <fcntl.h>
#include <lmdb.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
/* Header-only: the hash of a short key is inlined into the lookup (no call through the
 * shared library), the same function libxxhash exports. */
#define XXH_INLINE_ALL
#include <xxhash.h>

/* Address space only: LMDB grows the file as pages are written. */
#define SIDE_MAP_BYTES (256ull << 30)
#define SIDE_MAX_READERS 1024u
#define SIDE_MAX_TABLES 64u
#define SIDE_MAGIC 0x3145444953535250ull    /* "PRSSIDE1" */
#define SIDE_MAX_STORED_BYTES 0xffffffffull /* LMDB's largest value */
#define SIDE_OFF_BITS 40u                   /* record locations: 12 bits of chunk, 28 of offset */
#define SIDE_OFF_MASK ((1ull << SIDE_OFF_BITS) - 1)
/* A record's location in a slot: chunk << SIDE_CHUNK_BITS | offset in the chunk. */
#define SIDE_CHUNK_BITS 28u
#define SIDE_CHUNK_BYTES (64ull << 20) /* records per chunk value, about */
#define SIDE_MAX_CHUNKS (1u << (SIDE_OFF_BITS - SIDE_CHUNK_BITS))
#define SIDE_MAX_PROBES (1u << 24) /* far above any real probe run: a bound, not a limit */
/* The index is an array of 64-byte buckets, one cache line each: tag, lengths and, when
 * key and row fit in 56 bytes, the key and the row themselves, so a lookup of a small
 * record touches one line; a bigger one holds the record's location in a chunk. */
#define SIDE_BUCKET_BYTES 64u
#define SIDE_BUCKET_INLINE 56u
#define SIDE_NOT_INLINE 0xffffu
#define SIDE_IDX_CHUNK_BITS 20u /* buckets per index value: 64 MiB */
#define SIDE_IDX_CHUNK_BUCKETS (1ull << SIDE_IDX_CHUNK_BITS)
#define SIDE_MAX_IDX_CHUNKS 4096u
/* Buckets start 48 bytes into each index value: LMDB puts a big value 16 bytes into a
 * page, so they are cache-line aligned. Were they not, lookups stay right, only slower. */
#define SIDE_IDX_PAD 48u
#define SIDE_MANY_CHUNK 32u /* lookups whose cache misses overlap in get_many */

typedef struct side_meta {
    uint64_t magic;
    uint64_t file_size;
    int64_t mtime_ns;
    uint64_t content_hash;
    uint64_t rows, duplicates, empty_keys, stored_bytes;
    uint64_t slots;
    uint64_t chunks;
    uint64_t idx_chunks;
    uint32_t format;
    uint32_t key_len;
    char key[PRS_SIDE_KEY_MAX + 1];
} side_meta;

typedef struct side_table {
    char name[PRS_SIDE_NAME_MAX + 1];
    MDB_dbi dbi;
} side_table;

struct prs_sidedb {
    MDB_env *env;
    side_table tables[SIDE_MAX_TABLES];
    uint32_t count;
};

/* What a reader caches per table for its current snapshot. */
typedef struct side_view {
    const unsigned char **buckets; /* per index chunk, bucket 0 */
    uint32_t buckets_len, buckets_cap;
    uint64_t nbuckets;
    const unsigned char **chunks; /* grown at begin, never per lookup */
    uint32_t chunks_len, chunks_cap;
    const void *header;
    size_t header_len;
} side_view;

struct prs_sidedb_reader {
    prs_sidedb *db;
    MDB_txn *txn;
    bool active;
    side_view views[SIDE_MAX_TABLES];
};

int prs_sidedb_open(prs_sidedb **out, const char *dir, uint32_t max_tables, char *err,
                    size_t err_size) {
    if (max_tables > SIDE_MAX_TABLES) {
        snprintf(err, err_size, "at most %u side tables", SIDE_MAX_TABLES);
        return -EINVAL;
    }
    prs_sidedb *db = calloc(1, sizeof(*db));
    if (!db) return -ENOMEM;
    int rc = mdb_env_create(&db->env);
    if (rc) goto free_db;
    mdb_env_set_maxdbs(db->env, max_tables + 1);
    mdb_env_set_maxreaders(db->env, SIDE_MAX_READERS);
    mdb_env_set_mapsize(db->env, SIDE_MAP_BYTES);
    /* NOTLS: a worker's read transaction is its own object, not tied to a thread slot.
     * NORDAHEAD: lookups are random; readahead would only evict the hot pages. */
    rc = mdb_env_open(db->env, dir, MDB_NOTLS | MDB_NORDAHEAD, 0644);
    if (rc) goto close_env;
    *out = db;
    return 0;
close_env:
    snprintf(err, err_size, "%s/data.mdb: %s", dir, mdb_strerror(rc));
    mdb_env_close(db->env);
free_db:
    free(db);
    return rc ? prs_mdb_err(rc) : -ENOMEM;
}

void prs_sidedb_close(prs_sidedb *db) {
    if (!db) return;
    mdb_env_close(db->env);
    free(db);
}

uint32_t prs_sidedb_table_count(const prs_sidedb *db) {
    return db->count;
}

const char *prs_sidedb_table_name(const prs_sidedb *db, uint32_t table) {
    PRS_ASSERT(table < db->count);
    return db->tables[table].name;
}

/* ---- parsing -------------------------------------------------------------------------- */

/* One row found by the first pass. The key is in the file (plain fields) or in the key
 * buffer (quoted csv fields and json strings are unescaped there): KEY_IN_BUF says which. */
#define KEY_IN_BUF (1ull << 63)
typedef struct side_row {
    uint64_t hash;
    uint64_t row_off;
    uint64_t key_off; /* | KEY_IN_BUF */
    uint32_t row_len;
    uint32_t key_len;
} side_row;

typedef struct side_load {
    const prs_sidedb_spec *spec;
    const char *data; /* the mapped file */
    size_t size;
    char *keybuf;
    size_t keybuf_len, keybuf_cap;
    side_row *rows;
    size_t rows_len, rows_cap;
    int64_t key_index; /* csv/tsv: the key's column; -1 until the header is read */
    const char *header;
    size_t header_len;
    uint64_t line;
    uint64_t empty_keys;
    char *err;
    size_t err_size;
} side_load;

static int keybuf_add(side_load *l, const char *p, size_t n) {
    if (n == 0) return 0;
    if (l->keybuf_len + n > l->keybuf_cap) {
        size_t cap = l->keybuf_cap ? l->keybuf_cap : 65536;
        while (cap < l->keybuf_len + n)
            cap *= 2;
        char *b = realloc(l->keybuf, cap);
        if (!b) return -ENOMEM;
        l->keybuf = b;
        l->keybuf_cap = cap;
    }
    memcpy(l->keybuf + l->keybuf_len, p, n);
    l->keybuf_len += n;
    return 0;
}

static int side_error(side_load *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int side_error(side_load *l, const char *fmt, ...) {
    int n = snprintf(l->err, l->err_size, "--side-table %s=%s: line %llu: ", l->spec->name,
                     l->spec->path, (unsigned long long)l->line);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < l->err_size) vsnprintf(l->err + n, l->err_size - (size_t)n, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* A csv/tsv field starting at p (within [p, end)): sets *next past its separator (or to
 * end), and the field's text: a view (*in_buf false) or unescaped into the key buffer. */
static int field_next(side_load *l, const char *p, const char *end, bool unescape,
                      const char **text, size_t *len, bool *in_buf, const char **next) {
    char sep = l->spec->format == PRS_SIDE_TSV ? '\t' : ',';
    *in_buf = false;
    if (l->spec->format == PRS_SIDE_CSV && p < end && *p == '"') {
        size_t start = l->keybuf_len;
        const char *q = p + 1;
        for (;;) {
            const char *quote = memchr(q, '"', (size_t)(end - q));
            if (!quote) return side_error(l, "a quoted field does not end");
            if (unescape && keybuf_add(l, q, (size_t)(quote - q))) return -ENOMEM;
            if (quote + 1 < end && quote[1] == '"') {
                if (unescape && keybuf_add(l, "\"", 1)) return -ENOMEM;
                q = quote + 2;
                continue;
            }
            q = quote + 1;
            break;
        }
        if (q < end && *q != sep) return side_error(l, "text after a quoted field");
        *text = unescape ? (const char *)(uintptr_t)start : NULL;
        *len = unescape ? l->keybuf_len - start : 0;
        *in_buf = unescape;
        *next = q < end ? q + 1 : NULL;
        return 0;
    }
    const char *s = memchr(p, sep, (size_t)(end - p));
    *text = p;
    *len = (size_t)((s ? s : end) - p);
    *next = s ? s + 1 : NULL;
    return 0;
}

/* The end of the csv record starting at p: a newline outside quotes. */
static const char *csv_record_end(const char *p, const char *end) {
    bool quoted = false;
    for (; p < end; p++) {
        if (*p == '"')
            quoted = !quoted;
        else if (*p == '\n' && !quoted)
            return p;
    }
    return end;
}

static bool header_field_is(side_load *l, const char *text, size_t len, bool in_buf) {
    const char *t = in_buf ? l->keybuf + (uintptr_t)text : text;
    size_t klen = strlen(l->spec->key);
    return len == klen && memcmp(t, l->spec->key, len) == 0;
}

static int csv_header(side_load *l, const char *p, const char *end) {
    l->header = p;
    l->header_len = (size_t)(end - p);
    if (!l->spec->key) {
        l->key_index = 0;
        return 0;
    }
    size_t mark = l->keybuf_len;
    int64_t col = 0;
    for (const char *f = p; f; col++) {
        const char *text, *next;
        size_t len;
        bool in_buf;
        int rc = field_next(l, f, end, true, &text, &len, &in_buf, &next);
        if (rc) return rc;
        bool hit = header_field_is(l, text, len, in_buf);
        l->keybuf_len = mark;
        if (hit) {
            l->key_index = col;
            return 0;
        }
        f = next;
    }
    snprintf(l->err, l->err_size,
             "--side-table %s=%s: the key column '%s' is not in the header (line %llu)",
             l->spec->name, l->spec->path, l->spec->key, (unsigned long long)l->line);
    return -EINVAL;
}

static int csv_key(side_load *l, const char *p, const char *end, side_row *row) {
    const char *f = p;
    for (int64_t col = 0;; col++) {
        if (!f) {
            return side_error(l, "the row has %lld field(s); the key column '%s' is field %lld",
                              (long long)col, l->spec->key ? l->spec->key : "(first)",
                              (long long)l->key_index + 1);
        }
        const char *text, *next;
        size_t len;
        bool in_buf;
        int rc = field_next(l, f, end, col == l->key_index, &text, &len, &in_buf, &next);
        if (rc) return rc;
        if (col == l->key_index) {
            row->key_off =
                in_buf ? (uint64_t)(uintptr_t)text | KEY_IN_BUF : (uint64_t)(text - l->data);
            row->key_len = (uint32_t)len;
            return 0;
        }
        f = next;
    }
}

/* ---- jsonl: a top-level object per line; only its keys are parsed, values skipped -------- */

static const char *json_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return p;
}

static void utf8_put(char *out, size_t *n, uint32_t cp) {
    if (cp < 0x80) {
        out[(*n)++] = (char)cp;
    } else if (cp < 0x800) {
        out[(*n)++] = (char)(0xc0 | (cp >> 6));
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out[(*n)++] = (char)(0xe0 | (cp >> 12));
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    } else {
        out[(*n)++] = (char)(0xf0 | (cp >> 18));
        out[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    }
}

static int hex4(const char *p, const char *end, uint32_t *v) {
    if (end - p < 4) return -1;
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return -1;
        *v = *v * 16 + (uint32_t)d;
    }
    return 0;
}

/* A JSON string at p (the opening quote). Unescapes into the key buffer when asked; sets
 * *next past the closing quote. */
static int json_string(side_load *l, const char *p, const char *end, bool unescape,
                       const char **next) {
    PRS_ASSERT(p < end && *p == '"');
    for (p++; p < end; p++) {
        char c = *p;
        if (c == '"') {
            *next = p + 1;
            return 0;
        }
        if (c != '\\') {
            if (unescape && keybuf_add(l, p, 1)) return -ENOMEM;
            continue;
        }
        if (++p >= end) break;
        char tmp[8];
        size_t n = 0;
        switch (*p) {
        case '"':
            tmp[n++] = '"';
            break;
        case '\\':
            tmp[n++] = '\\';
            break;
        case '/':
            tmp[n++] = '/';
            break;
        case 'b':
            tmp[n++] = '\b';
            break;
        case 'f':
            tmp[n++] = '\f';
            break;
        case 'n':
            tmp[n++] = '\n';
            break;
        case 'r':
            tmp[n++] = '\r';
            break;
        case 't':
            tmp[n++] = '\t';
            break;
        case 'u': {
            uint32_t cp, lo;
            if (hex4(p + 1, end, &cp)) return side_error(l, "bad \\u escape");
            p += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && end - p > 6 && p[1] == '\\' && p[2] == 'u' &&
                hex4(p + 3, end, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p += 6;
            }
            utf8_put(tmp, &n, cp);
            break;
        }
        default:
            return side_error(l, "bad escape '\\%c' in a string", *p);
        }
        if (unescape && keybuf_add(l, tmp, n)) return -ENOMEM;
    }
    return side_error(l, "a string does not end");
}

/* Skips one JSON value (balanced brackets, strings with escapes). */
static int json_skip(side_load *l, const char *p, const char *end, const char **next) {
    uint32_t depth = 0;
    p = json_ws(p, end);
    if (p >= end) return side_error(l, "a value is missing");
    do {
        if (p >= end) return side_error(l, "an object or array does not end");
        char c = *p;
        if (c == '"') {
            int rc = json_string(l, p, end, false, &p);
            if (rc) return rc;
        } else if (c == '{' || c == '[') {
            depth++;
            p++;
        } else if (c == '}' || c == ']') {
            if (depth == 0) return side_error(l, "unexpected '%c'", c);
            depth--;
            p++;
        } else if (depth == 0) {
            const char *s = p;
            while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' &&
                   *p != '\r')
                p++;
            if (p == s) return side_error(l, "a value is missing");
        } else {
            p++;
        }
    } while (depth > 0);
    *next = p;
    return 0;
}

static int jsonl_key(side_load *l, const char *p, const char *end, side_row *row) {
    p = json_ws(p, end);
    if (p >= end || *p != '{') return side_error(l, "not a JSON object");
    p = json_ws(p + 1, end);
    const char *want = l->spec->key;
    size_t want_len = want ? strlen(want) : 0;
    while (p < end && *p != '}') {
        if (*p != '"') return side_error(l, "a field name must be a string");
        size_t mark = l->keybuf_len;
        int rc = json_string(l, p, end, true, &p);
        if (rc) return rc;
        bool hit = !want || (l->keybuf_len - mark == want_len &&
                             memcmp(l->keybuf + mark, want, want_len) == 0);
        l->keybuf_len = mark;
        p = json_ws(p, end);
        if (p >= end || *p != ':') return side_error(l, "':' expected after a field name");
        p = json_ws(p + 1, end);
        if (hit) {
            if (p < end && *p == '"') {
                rc = json_string(l, p, end, true, &p);
                if (rc) return rc;
                row->key_off = (uint64_t)mark | KEY_IN_BUF;
                row->key_len = (uint32_t)(l->keybuf_len - mark);
            } else {
                /* A number, true/false/null or a nested value: its text is the key. */
                const char *s = p;
                rc = json_skip(l, p, end, &p);
                if (rc) return rc;
                row->key_off = (uint64_t)(s - l->data);
                row->key_len = (uint32_t)(p - s);
            }
            return 0;
        }
        rc = json_skip(l, p, end, &p);
        if (rc) return rc;
        p = json_ws(p, end);
        if (p < end && *p == ',') p = json_ws(p + 1, end);
    }
    if (!want) return 0; /* {}: no first field, an empty key */
    snprintf(l->err, l->err_size, "--side-table %s=%s: line %llu: the key field '%s' is missing",
             l->spec->name, l->spec->path, (unsigned long long)l->line, want);
    return -EINVAL;
}

/* First pass: every record with its key; the header for csv/tsv. */
static int side_parse(side_load *l) {
    const char *p = l->data, *end = l->data + l->size;
    /* A UTF-8 byte order mark (spreadsheet exports) is not part of the first field. */
    if (l->size >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;
    l->key_index = -1;
    for (uint64_t guard = 0; p < end; guard++) {
        PRS_ASSERT(guard <= l->size); /* every pass consumes at least one byte */
        l->line++;
        const char *rec_end = l->spec->format == PRS_SIDE_CSV ? csv_record_end(p, end)
                                                              : memchr(p, '\n', (size_t)(end - p));
        if (!rec_end) rec_end = end;
        const char *next = rec_end < end ? rec_end + 1 : end;
        for (const char *q = p; q < rec_end; q++)
            l->line += *q == '\n';
        const char *content_end = rec_end;
        if (content_end > p && content_end[-1] == '\r') content_end--;
        if (content_end == p) { /* a blank line */
            p = next;
            continue;
        }
        if ((size_t)(content_end - p) > UINT32_MAX - 16)
            return side_error(l, "a record over 4 GiB");
        if (l->spec->format != PRS_SIDE_JSONL && l->key_index < 0) {
            int rc = csv_header(l, p, content_end);
            if (rc) return rc;
            p = next;
            continue;
        }
        side_row row = {.row_off = (uint64_t)(p - l->data), .row_len = (uint32_t)(content_end - p)};
        int rc = l->spec->format == PRS_SIDE_JSONL ? jsonl_key(l, p, content_end, &row)
                                                   : csv_key(l, p, content_end, &row);
        if (rc) return rc;
        if (row.key_len == 0) {
            l->empty_keys++;
            p = next;
            continue;
        }
        if (l->rows_len == l->rows_cap) {
            size_t cap = l->rows_cap ? l->rows_cap * 2 : 4096;
            side_row *r = realloc(l->rows, cap * sizeof(*r));
            if (!r) return -ENOMEM;
            l->rows = r;
            l->rows_cap = cap;
        }
        l->rows[l->rows_len++] = row;
        p = next;
    }
    if (l->spec->format != PRS_SIDE_JSONL && l->key_index < 0 && l->spec->key) {
        snprintf(l->err, l->err_size,
                 "--side-table %s=%s: the key column '%s' is not in the header (the file is empty)",
                 l->spec->name, l->spec->path, l->spec->key);
        return -EINVAL;
    }
    return 0;
}

static const char *row_key(const side_load *l, const side_row *r) {
    return r->key_off & KEY_IN_BUF ? l->keybuf + (r->key_off & ~KEY_IN_BUF) : l->data + r->key_off;
}

static uint64_t buckets_for(uint64_t rows) {
    return PRS_MAX(16u, rows + rows / 3); /* load 0.75: any count, fastrange maps into it */
}

/* hash -> [0, n) by the high half of a 128-bit product: no power of two needed. */
static inline uint64_t fastrange(uint64_t hash, uint64_t n) {
    return (uint64_t)(((unsigned __int128)hash * n) >> 64);
}

static inline uint32_t bucket_tag(uint64_t hash) {
    return (uint32_t)hash | 1u; /* the low half: independent of the position; never 0 */
}

/* ---- loading ------------------------------------------------------------------------------ */

static int side_put(MDB_txn *txn, MDB_dbi dbi, const char *key, size_t size, void **data) {
    MDB_val k = {strlen(key), (void *)(uintptr_t)key}, v = {size, NULL};
    int rc = mdb_put(txn, dbi, &k, &v, MDB_RESERVE);
    if (rc == 0) *data = v.mv_data;
    return prs_mdb_err(rc);
}

/* Commits what was written and starts the next write transaction: LMDB keeps a write
 * transaction's dirty pages in memory (at most 512 MiB of them), so a big table is
 * committed chunk by chunk. A load cut short has no "meta" and is dropped and redone. */
static int side_step(prs_sidedb *db, MDB_txn **txn) {
    int rc = mdb_txn_commit(*txn);
    *txn = NULL;
    if (rc) return prs_mdb_err(rc);
    return prs_mdb_err(mdb_txn_begin(db->env, NULL, 0, txn));
}

static int side_reserve(MDB_txn *txn, MDB_dbi dbi, const char *key, size_t size, void **data) {
    int rc = side_put(txn, dbi, key, size, data);
    return rc == -EIO ? -EFBIG : rc; /* MDB_TXN_FULL: more than one transaction can hold */
}

static bool row_inline(const side_row *r) {
    return (uint64_t)r->key_len + r->row_len <= SIDE_BUCKET_INLINE;
}

/* Writes the table: record chunks and index chunks reserved in LMDB's own pages (each
 * filled before the next put: a reserved pointer is valid only until then), meta last. */
static int side_store(prs_sidedb *db, MDB_txn **txn, MDB_dbi dbi, side_load *l, side_meta *meta) {
    uint64_t nb = buckets_for(l->rows_len);
    if (nb > SIDE_MAX_IDX_CHUNKS * SIDE_IDX_CHUNK_BUCKETS || l->rows_len >= UINT32_MAX)
        return -EFBIG;
    /* Dedup first, in memory: tag << 32 | row number + 1 in each bucket's place (the tag
     * spares reading the other row on a collision). Afterwards a kept row's hash field
     * holds its bucket: pos << 32 | tag. */
    uint64_t *tmp = calloc((size_t)nb, 8);
    if (!tmp) return -ENOMEM;
    uint64_t dups = 0, stored = 0, kept = 0;
    int rc = 0;
    for (size_t i = 0; i < l->rows_len; i++) {
        side_row *r = &l->rows[i];
        const char *key = row_key(l, r);
        uint64_t pos = fastrange(r->hash, nb);
        uint32_t tag = bucket_tag(r->hash);
        bool dup = false;
        for (uint64_t probe = 0;; probe++) {
            PRS_ASSERT(probe < nb);
            uint64_t s = tmp[pos];
            if (s == 0) break;
            if ((uint32_t)(s >> 32) == tag) {
                const side_row *o = &l->rows[(uint32_t)s - 1];
                if (o->key_len == r->key_len && memcmp(row_key(l, o), key, r->key_len) == 0) {
                    dup = true;
                    break;
                }
            }
            if (++pos == nb) pos = 0;
        }
        if (dup) {
            dups++;
            r->row_len = UINT32_MAX; /* marked: not stored */
            continue;
        }
        tmp[pos] = (uint64_t)tag << 32 | (uint64_t)(i + 1);
        r->hash = pos << 32 | tag;
        kept++;
        stored += row_inline(r) ? 0 : 8 + (uint64_t)r->key_len + r->row_len;
    }
    free(tmp);
    tmp = NULL;
    /* Records too big for a bucket, in file order, in chunks of about SIDE_CHUNK_BYTES (a
     * bigger record gets a chunk of its own); row_off becomes chunk << bits | offset. */
    uint32_t chunk = 0;
    for (size_t i = 0; i < l->rows_len;) {
        uint64_t size = 0;
        size_t j = i;
        for (; j < l->rows_len; j++) {
            const side_row *r = &l->rows[j];
            if (r->row_len == UINT32_MAX || row_inline(r)) continue;
            uint64_t rec = 8 + (uint64_t)r->key_len + r->row_len;
            if (size && size + rec > SIDE_CHUNK_BYTES) break;
            size += rec;
        }
        if (size == 0) break; /* only inline rows or duplicates were left */
        if (chunk >= SIDE_MAX_CHUNKS) {
            rc = -EFBIG;
            goto free_tmp;
        }
        char name[32];
        snprintf(name, sizeof(name), "r.%u", chunk);
        unsigned char *rows = NULL;
        rc = side_reserve(*txn, dbi, name, (size_t)size, (void **)&rows);
        if (rc) goto free_tmp;
        uint64_t off = 0;
        for (; i < j; i++) {
            side_row *r = &l->rows[i];
            if (r->row_len == UINT32_MAX || row_inline(r)) continue;
            uint32_t h[2] = {r->key_len, r->row_len};
            memcpy(rows + off, h, 8);
            memcpy(rows + off + 8, row_key(l, r), r->key_len);
            memcpy(rows + off + 8 + r->key_len, l->data + r->row_off, r->row_len);
            r->row_off = (uint64_t)chunk << SIDE_CHUNK_BITS | off;
            off += 8 + (uint64_t)r->key_len + r->row_len;
        }
        chunk++;
        if ((rc = side_step(db, txn))) goto free_tmp;
    }
    /* The buckets, one index value per SIDE_IDX_CHUNK_BUCKETS, each committed on its own.
     * Rows are grouped by index value (a counting sort), and each group written in file
     * order: the file and the rows are read nearly in sequence, only the bucket stores
     * are random (and stores do not stall like loads). */
    uint64_t nchunks = (nb + SIDE_IDX_CHUNK_BUCKETS - 1) / SIDE_IDX_CHUNK_BUCKETS;
    uint64_t *start = calloc((size_t)nchunks + 1, 8);
    uint32_t *order = malloc((size_t)PRS_MAX(kept, 1u) * 4);
    tmp = calloc((size_t)nchunks, 8); /* the fill cursor of each group */
    if (!start || !order || !tmp) {
        rc = -ENOMEM;
        goto free_order;
    }
    for (size_t i = 0; i < l->rows_len; i++) {
        if (l->rows[i].row_len != UINT32_MAX)
            start[(l->rows[i].hash >> 32 >> SIDE_IDX_CHUNK_BITS) + 1]++;
    }
    for (uint64_t c = 0; c < nchunks; c++) {
        start[c + 1] += start[c];
        tmp[c] = start[c];
    }
    for (size_t i = 0; i < l->rows_len; i++) {
        if (l->rows[i].row_len != UINT32_MAX)
            order[tmp[l->rows[i].hash >> 32 >> SIDE_IDX_CHUNK_BITS]++] = (uint32_t)i;
    }
    uint32_t idx_chunks = 0;
    for (uint64_t first = 0; first < nb; first += SIDE_IDX_CHUNK_BUCKETS, idx_chunks++) {
        uint64_t count = PRS_MIN(nb - first, SIDE_IDX_CHUNK_BUCKETS);
        char name[32];
        snprintf(name, sizeof(name), "i.%u", idx_chunks);
        unsigned char *val = NULL;
        size_t bytes = (size_t)(SIDE_IDX_PAD + count * SIDE_BUCKET_BYTES);
        rc = side_reserve(*txn, dbi, name, bytes, (void **)&val);
        if (rc) goto free_order;
        memset(val, 0, bytes);
        for (uint64_t k = start[idx_chunks]; k < start[idx_chunks + 1]; k++) {
            const side_row *r = &l->rows[order[k]];
            uint64_t pos = r->hash >> 32;
            PRS_ASSERT(pos >= first && pos < first + count);
            unsigned char *bk = val + SIDE_IDX_PAD + (pos - first) * SIDE_BUCKET_BYTES;
            uint32_t tag = (uint32_t)r->hash;
            memcpy(bk, &tag, 4);
            if (row_inline(r)) {
                uint16_t len[2] = {(uint16_t)r->key_len, (uint16_t)r->row_len};
                memcpy(bk + 4, len, 4);
                memcpy(bk + 8, row_key(l, r), r->key_len);
                memcpy(bk + 8 + r->key_len, l->data + r->row_off, r->row_len);
            } else {
                uint16_t len[2] = {SIDE_NOT_INLINE, 0};
                uint64_t loc = r->row_off + 1;
                memcpy(bk + 4, len, 4);
                memcpy(bk + 8, &loc, 8);
            }
        }
        if ((rc = side_step(db, txn))) goto free_order;
    }
    void *header;
    rc = side_reserve(*txn, dbi, "header", l->header_len, &header);
    if (rc) goto free_order;
    if (l->header_len) memcpy(header, l->header, l->header_len);
    meta->rows = l->rows_len - dups;
    meta->duplicates = dups;
    meta->empty_keys = l->empty_keys;
    meta->stored_bytes = stored + nb * SIDE_BUCKET_BYTES;
    meta->slots = nb;
    meta->chunks = chunk;
    meta->idx_chunks = idx_chunks;
    void *m;
    rc = side_put(*txn, dbi, "meta", sizeof(*meta), &m);
    if (rc) goto free_order;
    memcpy(m, meta, sizeof(*meta));
free_order:
    free(start);
    free(order);
free_tmp:
    free(tmp);
    return rc;
}

static int side_table_open(prs_sidedb *db, const char *name, MDB_txn *txn, MDB_dbi *dbi) {
    char dbname[PRS_SIDE_NAME_MAX + 8];
    snprintf(dbname, sizeof(dbname), "t:%s", name);
    (void)db;
    return prs_mdb_err(mdb_dbi_open(txn, dbname, MDB_CREATE, dbi));
}

int prs_sidedb_ensure(prs_sidedb *db, const prs_sidedb_spec *spec, prs_sidedb_load_info *info,
                      char *err, size_t err_size) {
    memset(info, 0, sizeof(*info));
    uint64_t t0 = prs_mono_ns();
    if (db->count >= SIDE_MAX_TABLES) {
        snprintf(err, err_size, "--side-table %s: at most %u side tables", spec->name,
                 SIDE_MAX_TABLES);
        return -EINVAL;
    }
    if (strlen(spec->name) > PRS_SIDE_NAME_MAX ||
        (spec->key && strlen(spec->key) > PRS_SIDE_KEY_MAX)) {
        snprintf(err, err_size, "--side-table %s: name or key column too long", spec->name);
        return -EINVAL;
    }
    int rc = 0;
    /* O_NONBLOCK: a FIFO is refused below, not waited on in open. */
    int fd = open(spec->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, err_size, "--side-table %s=%s: %s", spec->name, spec->path, strerror(errno));
        return rc;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
        snprintf(err, err_size, "--side-table %s=%s: not a regular file", spec->name, spec->path);
        goto close_fd;
    }
    side_load l = {.spec = spec, .size = (size_t)st.st_size, .err = err, .err_size = err_size};
    void *map = NULL;
    if (l.size) {
        map = mmap(NULL, l.size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            rc = -errno;
            snprintf(err, err_size, "--side-table %s=%s: cannot map it: %s", spec->name, spec->path,
                     strerror(errno));
            goto close_fd;
        }
        madvise(map, l.size, MADV_SEQUENTIAL);
    }
    l.data = map ? map : "";
    side_meta meta = {.magic = SIDE_MAGIC,
                      .file_size = (uint64_t)st.st_size,
                      .mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
                      .content_hash = XXH3_64bits(l.data, l.size),
                      .format = (uint32_t)spec->format};
    if (spec->key) {
        meta.key_len = (uint32_t)strlen(spec->key);
        memcpy(meta.key, spec->key, meta.key_len);
    }
    MDB_txn *txn;
    rc = prs_mdb_err(mdb_txn_begin(db->env, NULL, 0, &txn));
    if (rc) goto unmap;
    MDB_dbi dbi;
    rc = side_table_open(db, spec->name, txn, &dbi);
    if (rc) goto abort_txn;
    MDB_val k = {4, "meta"}, v;
    int grc = mdb_get(txn, dbi, &k, &v);
    if (grc == 0 && v.mv_size == sizeof(side_meta)) {
        side_meta old;
        memcpy(&old, v.mv_data, sizeof(old));
        if (old.magic == SIDE_MAGIC && old.format == meta.format && old.key_len == meta.key_len &&
            memcmp(old.key, meta.key, meta.key_len) == 0 && old.file_size == meta.file_size &&
            old.content_hash == meta.content_hash) {
            /* Committed, not aborted: an aborted transaction would close the dbi handle
             * the readers need. Nothing was written, so nothing is synced. */
            rc = prs_mdb_err(mdb_txn_commit(txn));
            txn = NULL;
            if (rc) {
                snprintf(err, err_size, "--side-table %s=%s: %s", spec->name, spec->path,
                         strerror(-rc));
                goto unmap;
            }
            info->reused = true;
            info->rows = old.rows;
            info->duplicates = old.duplicates;
            info->empty_keys = old.empty_keys;
            info->stored_bytes = old.stored_bytes;
            goto register_table;
        }
        if (old.magic == SIDE_MAGIC) {
            snprintf(err, err_size,
                     "--side-table %s=%s: the file changed since the job loaded it (%s%llu bytes, "
                     "now %llu; content hash %016llx, now %016llx): a resumed job must not mix "
                     "two tables; restore the file, or use --fresh to start the job over",
                     spec->name, spec->path,
                     old.format != meta.format || old.key_len != meta.key_len ? "format or key "
                                                                                "differ; "
                                                                              : "",
                     (unsigned long long)old.file_size, (unsigned long long)meta.file_size,
                     (unsigned long long)old.content_hash, (unsigned long long)meta.content_hash);
            rc = -ESTALE;
            goto abort_txn;
        }
    }
    /* Not loaded yet (or a load cut short: its meta, written last, is missing). */
    if ((rc = prs_mdb_err(mdb_drop(txn, dbi, 0)))) goto abort_txn;
    rc = side_parse(&l);
    if (rc) goto free_load;
    for (size_t i = 0; i < l.rows_len; i++) {
        l.rows[i].hash = XXH3_64bits(row_key(&l, &l.rows[i]), l.rows[i].key_len);
    }
    rc = side_store(db, &txn, dbi, &l, &meta);
    if (rc == -EFBIG) {
        snprintf(err, err_size,
                 "--side-table %s=%s: too big (a record over ~500 MiB, LMDB's "
                 "write-transaction limit, or over 3G rows)",
                 spec->name, spec->path);
    } else if (rc) {
        snprintf(err, err_size, "--side-table %s=%s: cannot store it: %s", spec->name, spec->path,
                 strerror(-rc));
    }
    if (rc) goto free_load;
    rc = prs_mdb_err(mdb_txn_commit(txn));
    txn = NULL;
    if (rc) {
        snprintf(err, err_size, "--side-table %s=%s: cannot commit the load: %s", spec->name,
                 spec->path, strerror(-rc));
        goto free_load;
    }
    info->rows = meta.rows;
    info->duplicates = meta.duplicates;
    info->empty_keys = meta.empty_keys;
    info->stored_bytes = meta.stored_bytes;
    free(l.rows);
    free(l.keybuf);
register_table:
    snprintf(db->tables[db->count].name, sizeof(db->tables[0].name), "%s", spec->name);
    db->tables[db->count].dbi = dbi;
    db->count++;
    info->load_ns = prs_mono_ns() - t0;
    rc = 0;
    goto unmap;
free_load:
    free(l.rows);
    free(l.keybuf);
abort_txn:
    if (txn) mdb_txn_abort(txn);
unmap:
    if (map) munmap(map, l.size);
close_fd:
    close(fd);
    return rc;
}

/* ---- reading ------------------------------------------------------------------------------ */

int prs_sidedb_reader_open(prs_sidedb *db, prs_sidedb_reader **out) {
    prs_sidedb_reader *r = calloc(1, sizeof(*r));
    if (!r) return -ENOMEM;
    r->db = db;
    int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &r->txn);
    if (rc) {
        free(r);
        return prs_mdb_err(rc);
    }
    mdb_txn_reset(r->txn); /* renewed by begin */
    *out = r;
    return 0;
}

void prs_sidedb_reader_close(prs_sidedb_reader *r) {
    if (!r) return;
    mdb_txn_abort(r->txn);
    for (uint32_t t = 0; t < SIDE_MAX_TABLES; t++) {
        free(r->views[t].chunks);
        free(r->views[t].buckets);
    }
    free(r);
}

static int view_get(MDB_txn *txn, MDB_dbi dbi, const char *key, const void **data, size_t *len) {
    MDB_val k = {strlen(key), (void *)(uintptr_t)key}, v;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc) return prs_mdb_err(rc);
    *data = v.mv_data;
    *len = v.mv_size;
    return 0;
}

int prs_sidedb_reader_begin(prs_sidedb_reader *r) {
    if (r->active) return 0;
    int rc = prs_mdb_err(mdb_txn_renew(r->txn));
    if (rc) return rc;
    /* A few gets per snapshot, not per lookup: the views stay put until end. */
    for (uint32_t t = 0; t < r->db->count && rc == 0; t++) {
        side_view *v = &r->views[t];
        MDB_dbi dbi = r->db->tables[t].dbi;
        const void *p = NULL;
        size_t n = 0;
        side_meta meta;
        if ((rc = view_get(r->txn, dbi, "meta", &p, &n))) break;
        if (n != sizeof(meta)) {
            rc = -EBADMSG;
            break;
        }
        memcpy(&meta, p, sizeof(meta));
        if (meta.chunks > SIDE_MAX_CHUNKS || meta.idx_chunks > SIDE_MAX_IDX_CHUNKS ||
            meta.idx_chunks == 0 || meta.slots > meta.idx_chunks * SIDE_IDX_CHUNK_BUCKETS) {
            rc = -EBADMSG;
            break;
        }
        if (meta.idx_chunks > v->buckets_cap) {
            const unsigned char **b = realloc(v->buckets, meta.idx_chunks * sizeof(*b));
            if (!b) {
                rc = -ENOMEM;
                break;
            }
            v->buckets = b;
            v->buckets_cap = (uint32_t)meta.idx_chunks;
        }
        v->buckets_len = (uint32_t)meta.idx_chunks;
        v->nbuckets = meta.slots;
        for (uint32_t c = 0; c < v->buckets_len && rc == 0; c++) {
            char name[32];
            snprintf(name, sizeof(name), "i.%u", c);
            rc = view_get(r->txn, dbi, name, &p, &n);
            if (rc == 0 && n < SIDE_IDX_PAD) rc = -EBADMSG;
            v->buckets[c] = (const unsigned char *)p + SIDE_IDX_PAD;
        }
        if (rc) break;
        if (meta.chunks > v->chunks_cap) {
            const unsigned char **c = realloc(v->chunks, meta.chunks * sizeof(*c));
            if (!c) {
                rc = -ENOMEM;
                break;
            }
            v->chunks = c;
            v->chunks_cap = (uint32_t)meta.chunks;
        }
        v->chunks_len = (uint32_t)meta.chunks;
        for (uint32_t c = 0; c < v->chunks_len && rc == 0; c++) {
            char name[32];
            snprintf(name, sizeof(name), "r.%u", c);
            rc = view_get(r->txn, dbi, name, &p, &n);
            v->chunks[c] = p;
        }
        if (rc == 0) rc = view_get(r->txn, dbi, "header", &v->header, &v->header_len);
    }
    if (rc) {
        mdb_txn_reset(r->txn);
        return rc;
    }
    r->active = true;
    return 0;
}

void prs_sidedb_reader_end(prs_sidedb_reader *r) {
    if (!r->active) return;
    mdb_txn_reset(r->txn);
    r->active = false;
}

bool prs_sidedb_reader_active(const prs_sidedb_reader *r) {
    return r->active;
}

int prs_sidedb_find(const prs_sidedb_reader *r, const char *name) {
    for (uint32_t t = 0; t < r->db->count; t++) {
        if (strcmp(r->db->tables[t].name, name) == 0) return (int)t;
    }
    return -EINVAL;
}

static inline const unsigned char *record_at(const side_view *v, uint64_t loc1) {
    uint64_t loc = loc1 - 1;
    uint64_t chunk = loc >> SIDE_CHUNK_BITS;
    PRS_ASSERT(chunk < v->chunks_len); /* the index names only stored chunks */
    return v->chunks[chunk] + (loc & ((1ull << SIDE_CHUNK_BITS) - 1));
}

static inline const unsigned char *bucket_at(const side_view *v, uint64_t pos) {
    return v->buckets[pos >> SIDE_IDX_CHUNK_BITS] +
           (pos & (SIDE_IDX_CHUNK_BUCKETS - 1)) * SIDE_BUCKET_BYTES;
}

static inline int probe(const side_view *v, uint64_t hash, const void *key, size_t key_len,
                        const void **value, size_t *value_len) {
    uint64_t pos = fastrange(hash, v->nbuckets);
    uint32_t tag = bucket_tag(hash);
    for (uint32_t n = 0; n < SIDE_MAX_PROBES; n++) {
        const unsigned char *b = bucket_at(v, pos);
        uint32_t t;
        memcpy(&t, b, 4);
        if (t == 0) return -ENOENT;
        if (t == tag) {
            uint16_t len[2];
            memcpy(len, b + 4, 4);
            if (len[0] != SIDE_NOT_INLINE) {
                if (len[0] == key_len && memcmp(b + 8, key, key_len) == 0) {
                    *value = b + 8 + len[0];
                    *value_len = len[1];
                    return 0;
                }
            } else {
                uint64_t loc;
                memcpy(&loc, b + 8, 8);
                const unsigned char *rec = record_at(v, loc);
                uint32_t h[2];
                memcpy(h, rec, 8);
                if (h[0] == key_len && memcmp(rec + 8, key, key_len) == 0) {
                    *value = rec + 8 + h[0];
                    *value_len = h[1];
                    return 0;
                }
            }
        }
        if (++pos == v->nbuckets) pos = 0;
    }
    return -ENOENT;
}

int prs_sidedb_get(const prs_sidedb_reader *r, uint32_t table, const void *key, size_t key_len,
                   const void **value, size_t *value_len) {
    PRS_ASSERT(r->active && table < r->db->count);
    return probe(&r->views[table], XXH3_64bits(key, key_len), key, key_len, value, value_len);
}

size_t prs_sidedb_get_many(const prs_sidedb_reader *r, uint32_t table, size_t n,
                           const void *const *keys, const size_t *key_lens, const void **values,
                           size_t *value_lens, int *found) {
    PRS_ASSERT(r->active && table < r->db->count);
    const side_view *v = &r->views[table];
    size_t hits = 0;
    uint64_t hash[SIDE_MANY_CHUNK];
    for (size_t base = 0; base < n; base += SIDE_MANY_CHUNK) {
        size_t m = PRS_MIN(n - base, (size_t)SIDE_MANY_CHUNK);
        /* Stage 1: hash and prefetch every bucket; stage 2: prefetch the records that are
         * not inline; stage 3: compare. The misses of a chunk overlap instead of queueing. */
        for (size_t i = 0; i < m; i++) {
            hash[i] = XXH3_64bits(keys[base + i], key_lens[base + i]);
            __builtin_prefetch(bucket_at(v, fastrange(hash[i], v->nbuckets)));
        }
        for (size_t i = 0; i < m; i++) {
            const unsigned char *b = bucket_at(v, fastrange(hash[i], v->nbuckets));
            uint16_t len;
            memcpy(&len, b + 4, 2);
            if (len == SIDE_NOT_INLINE) {
                uint64_t loc;
                memcpy(&loc, b + 8, 8);
                __builtin_prefetch(record_at(v, loc));
            }
        }
        for (size_t i = 0; i < m; i++) {
            size_t k = base + i;
            found[k] = probe(v, hash[i], keys[k], key_lens[k], &values[k], &value_lens[k]);
            hits += found[k] == 0;
        }
    }
    return hits;
}

int prs_sidedb_header(const prs_sidedb_reader *r, uint32_t table, const void **header,
                      size_t *header_len) {
    PRS_ASSERT(r->active && table < r->db->count);
    *header = r->views[table].header;
    *header_len = r->views[table].header_len;
    return 0;
}
