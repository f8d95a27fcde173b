/* records.h -- splits a tabular input (csv, tsv, jsonl, lines) into records, and records
 * into byte-sized mini-batches.
 *
 * Owns: nothing. The splitter is a cursor over a caller's buffer (in prs, a whole file
 *   mmapped read-only); records are (offset, size) views into it: no copy, no allocation,
 *   no system call. Error messages are static strings.
 * May call: libc (memchr, memcpy) and SSE2 intrinsics only. Knows nothing of threads, LMDB
 *   or the runtime.
 * Callers must: keep buf mapped and unchanged while a splitter or its records are in use;
 *   use one splitter from one thread at a time (distinct splitters over one buffer are
 *   independent). A file that changes under its mapping gives records that match no
 *   version of it, or SIGBUS if it shrinks: the caller guards that, not this module.
 *
 * What a record is (all formats):
 *   - A physical line ends at '\n'. A record is the bytes from its first byte up to, not
 *     including, its terminator: "\n", or "\r\n" (the '\r' belongs to the terminator), or
 *     nothing for a last record the buffer ends inside. A '\r' not followed by '\n' is data
 *     (old Mac CR-only files are not split into lines).
 *     So offset + size_bytes + term_bytes is where the next byte after the record lies, and
 *     for csv/tsv a record may span several physical lines (newlines inside quotes).
 *   - line is the 1-based physical line of the record's first byte: every '\n' before it
 *     counts, including those inside quoted fields and in skipped blank lines, so an error
 *     "file:line" opens the right place in an editor.
 *   - A record with no bytes (an empty line, or "\r\n" alone) is never an item in any
 *     format: it is skipped, yields nothing, and only advances the line count. In jsonl a
 *     line of JSON whitespace only (space, tab, CR) is skipped as well. Rationale: an
 *     empty line carries no data, and editors and `echo >>` leave trailing ones that would
 *     otherwise become phantom (failed) items; the line numbers stay physical, so a
 *     result can still be matched to its input line.
 *   - A UTF-8 byte order mark (EF BB BF) at offset 0 is skipped in every format.
 *
 * csv (RFC 4180) and tsv (the same rules with '\t' as the separator -- as Python's csv
 *   "excel-tab" dialect and pandas read the format; IANA's quote-less TSV is the special
 *   case of a file that has no '"' at a field start):
 *   - a field that begins with '"' is quoted: separators, '\r' and '\n' inside it are
 *     data, "" is one quote, and the next lone '"' closes it;
 *   - a '"' anywhere else (inside an unquoted field, or after a closing quote) is data, and
 *     bytes after a closing quote continue the field unquoted. RFC 4180 forbids both, but
 *     Python's csv module, pandas and Spark read them that way, and they do not move
 *     record boundaries, so they are passed through to the user's parser, not flagged;
 *   - the one malformed case is a quoted field with no closing quote: the record runs to
 *     the end of the buffer, flagged PRS_RECORD_ERR_UNTERMINATED_QUOTE (everything after
 *     the opening quote would otherwise be one field; guessing a resync point would split
 *     records the user's parser joins);
 *   - the first record is the header row: returned by prs_splitter_header, never by
 *     prs_splitter_next, not an item. It may itself be malformed (an unterminated quote in
 *     the header): the caller should then reject the file.
 * jsonl: one record per line; a record must hold exactly one JSON object, optionally
 *   surrounded by JSON whitespace. Anything else -- another JSON value, a truncated
 *   object, bytes after it, nesting deeper than PRS_JSON_MAX_DEPTH -- is malformed. The
 *   check is a validating scan of RFC 8259's grammar (strings with their escapes and
 *   \uXXXX, numbers, true/false/null, arrays, objects) in constant memory; it does not
 *   check that strings are valid UTF-8 or that object keys are unique.
 * lines: one record per line (its bytes are the item, no further checks).
 *
 * Batching (prs_batcher): a batch is a run of consecutive records whose bytes (size_bytes
 *   + term_bytes each; skipped blank lines and the header not counted) stay within the
 *   limit; a record that alone exceeds the limit is a batch of its own. Records are
 *   never split: batch boundaries are record boundaries, so a worker re-splits exactly
 *   its batch's bytes with prs_splitter_init_at and gets the same records. */
#ifndef PRS_RECORDS_H
#define PRS_RECORDS_H

#include "base.h"

#define PRS_JSON_MAX_DEPTH 64

enum prs_format {
    PRS_FORMAT_FILES = 0, /* one item = one file: not split, listed for the option's sake */
    PRS_FORMAT_CSV,
    PRS_FORMAT_TSV,
    PRS_FORMAT_JSONL,
    PRS_FORMAT_LINES,
};

/* "files", "csv", "tsv", "jsonl", "lines" (exact, lower case) -> 0; else -EINVAL. */
int prs_format_parse(const char *text, enum prs_format *out);
/* The text prs_format_parse accepts for f; "?" for a value out of range. */
const char *prs_format_name(enum prs_format f);

/* Malformed-record messages (static; prs_record.error points at one of these, compare
 * by pointer or by text). */
extern const char PRS_RECORD_ERR_UNTERMINATED_QUOTE[];
extern const char PRS_RECORD_ERR_JSON_NOT_OBJECT[];
extern const char PRS_RECORD_ERR_JSON_TRUNCATED[];
extern const char PRS_RECORD_ERR_JSON_TRAILING[];
extern const char PRS_RECORD_ERR_JSON_TOO_DEEP[];
extern const char PRS_RECORD_ERR_JSON_SYNTAX[];
extern const char PRS_RECORD_ERR_JSON_STRING[];
extern const char PRS_RECORD_ERR_JSON_NUMBER[];

typedef struct prs_record {
    uint64_t offset;     /* first byte, from the start of buf */
    uint64_t size_bytes; /* the record's bytes, terminator excluded (see above) */
    uint64_t line;       /* 1-based physical line of the first byte */
    uint32_t term_bytes; /* 0 (the buffer ends inside the record), 1 ("\n") or 2 ("\r\n") */
    const char *error;   /* NULL when well-formed; else a static message, no file:line */
} prs_record;

/* Fields are private to records.c; the struct is public so callers can keep it on the
 * stack (it is about 150 bytes). */
typedef struct prs_splitter {
    const char *buf;
    size_t len;
    size_t pos;    /* next byte to read: always a record boundary */
    uint64_t line; /* physical line of pos */
    enum prs_format format;
    char sep;
    bool has_header;
    prs_record header;
    /* the current 64-byte block: bit i of a mask is byte blk + i */
    size_t blk; /* its offset, or SIZE_MAX */
    uint64_t blk_nl, blk_quote, blk_sep;
    bool blk_sep_ready; /* blk_sep is made only when needed */
    /* csv/tsv: the block read as quoted/unquoted regions, valid when an_ready */
    bool an_ready;
    uint64_t an_ends;  /* '\n's that end a record */
    uint64_t an_qnl;   /* '\n's inside quotes */
    uint64_t an_bad;   /* from the first quote the toggle reading gets wrong, up */
    uint64_t an_carry; /* all ones when the block ends inside quotes */
} prs_splitter;

/* Starts at the beginning of buf: skips a BOM, and for csv/tsv reads the header row
 * (an unterminated quote in it scans to the end of buf, once). -EINVAL for
 * PRS_FORMAT_FILES or an unknown format. buf may be NULL when len is 0. */
int prs_splitter_init(prs_splitter *s, enum prs_format f, const char *buf, size_t len);

/* Starts at offset, a record boundary an earlier pass reported (a record's offset, or
 * where a record's terminator ends), with line its line number: no BOM skipped, no header
 * read, so the next record is the one at offset. Offsets stay relative to buf; a worker
 * passes the whole mapping and len = the end of its batch's last record (with terminator).
 * -EINVAL for a bad format or offset > len. */
int prs_splitter_init_at(prs_splitter *s, enum prs_format f, const char *buf, size_t len,
                         uint64_t offset, uint64_t line);

/* csv/tsv: 1 and *header when the input has a header row, 0 when it has none (nothing
 * but a BOM and blank lines). Always 0 for jsonl, lines, and after init_at. Any time. */
int prs_splitter_header(const prs_splitter *s, prs_record *header);

/* 1 and the next record in *rec; 0 at the end of buf (and every call after). */
int prs_splitter_next(prs_splitter *s, prs_record *rec);

/* Cuts records into mini-batches by bytes. Greedy: each record joins the open batch if it
 * fits, else starts the next one. */
typedef struct prs_batcher {
    uint64_t limit_bytes;
    uint64_t cur_bytes; /* bytes of the open batch */
    uint64_t cur_count; /* records in the open batch; 0 before the first record */
} prs_batcher;

/* -EINVAL when limit_bytes is 0. */
int prs_batcher_init(prs_batcher *b, uint64_t limit_bytes);

/* Feeds the next record (well-formed or not: a malformed record is an item too). true:
 * rec starts a new batch -- the open batch, if any, is complete without it. Always true
 * for the first record; a record over the limit starts a batch, and the record after it
 * starts the next. */
bool prs_batcher_add(prs_batcher *b, const prs_record *rec);

#endif
