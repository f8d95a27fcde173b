/* fields.h -- the fields of one record the splitter (records.h) returned: csv/tsv fields by
 * position, jsonl members by name, and their values unescaped.
 *
 * Owns: nothing. Cursors and views over a caller's record bytes: no allocation, no system
 *   call; the caller gives the buffer an unescaped value is written to.
 * May call: libc (memchr, memcpy). Knows nothing of threads, LMDB or the runtime.
 * Callers must: pass the bytes of one record (offset and size_bytes from the splitter, the
 *   terminator excluded), in the format it was split as; keep them unchanged while a cursor
 *   or a field over them is in use. Any thread; a cursor is used by one thread at a time.
 *
 * csv/tsv, the rules records.h splits by, field by field (Python's csv module reads the
 *   same way): a field that begins with '"' is quoted: separators, '\r' and '\n' inside
 *   it are data and "" is one '"'; the next lone '"' closes it, and bytes after the
 *   closing quote continue the field unquoted ("0"x is the field 0x). A '"' anywhere else
 *   is data. A record of n separators outside quotes has n + 1 fields (an empty record
 *   has one empty field). A quoted field with no closing quote (a record the splitter
 *   flagged) runs to the end of the record.
 * jsonl: a record the splitter accepted is one JSON object; its top-level members are
 *   looked up by name (compared after unescaping, so "f\u006fo" is the member foo), the
 *   first one that matches wins. On bytes that are not a valid object the lookup stays
 *   inside [rec, rec + len) and returns 0 or some member: never more. */
#ifndef PRS_FIELDS_H
#define PRS_FIELDS_H

#include "base.h"
#include "records.h"

/* A field's raw bytes in the record: [offset, offset + size_bytes). quoted: a csv field
 * that began with '"', or a jsonl value that is a string (offset at its opening quote):
 * its value must go through the unescape function of its format. Otherwise the raw bytes
 * are the value (a jsonl number, literal, object or array: its text). */
typedef struct prs_field {
    uint64_t offset;
    uint64_t size_bytes;
    bool quoted;
} prs_field;

/* Walks the fields of a csv/tsv record. Fields are private. */
typedef struct prs_fields {
    const char *rec;
    size_t len;
    size_t pos; /* start of the next field; len + 1 once the last was returned */
    char sep;
} prs_fields;

/* -EINVAL unless f is PRS_FORMAT_CSV or PRS_FORMAT_TSV (or rec is NULL with len > 0). */
int prs_fields_init(prs_fields *it, enum prs_format f, const char *rec, size_t len);
/* 1 and the next field in *field; 0 after the last one (and every call after). */
int prs_fields_next(prs_fields *it, prs_field *field);

/* A csv/tsv field's value: for a quoted field the quotes removed and "" made one '"',
 * else the bytes as they are. Writes at most field->size_bytes bytes to out; returns how
 * many. */
size_t prs_field_csv_value(const char *rec, const prs_field *field, char *out);

/* The top-level member of the jsonl record whose name is name (name_len bytes), or the
 * first member when name is NULL: 1 and its value in *value; 0 when there is none ({} or
 * no such name). */
int prs_field_json_member(const char *rec, size_t len, const char *name, size_t name_len,
                          prs_field *value);

/* A jsonl string value's text: escapes decoded (\uXXXX and surrogate pairs to UTF-8; a
 * lone surrogate is encoded as is, like Python's json module does), the quotes removed.
 * Writes at most value->size_bytes bytes to out (decoding never lengthens); returns how
 * many. A value that is not quoted is copied as it is. */
size_t prs_field_json_value(const char *rec, const prs_field *value, char *out);

#endif
