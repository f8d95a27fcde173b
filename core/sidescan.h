/* sidescan.h -- reading a side table's bytes: its records, its header row, each record's
 * key, handed on as (key, row) pairs. The one tabular parser: records come from
 * io/records' splitter and keys from io/fields, with the rules a tabular --input has (a
 * BOM, CRLF, blank lines, quotes: "0"x,dog has the key 0x), so a table and an input never
 * read the same bytes two ways.
 *
 * Owns: nothing past a call (a scratch buffer for unescaped keys, freed before return).
 * May call: io/records, io/fields, libc. Pure: no file, no LMDB (core/side maps the file
 *   and feeds storage/sidedb); any thread.
 * Callers: core/side (prs_side_table_load), fuzz/fuzz_records. */
#ifndef PRS_SIDESCAN_H
#define PRS_SIDESCAN_H

#include "base.h"
#include "fields.h"
#include "records.h"
#include "side.h"

/* The splitter's format for a side table's (PRS_FORMAT_CSV, _TSV, _JSONL). */
enum prs_format prs_side_format_records(enum prs_side_format f);

/* One row of a side table as prs_side_scan hands it on: its key (unescaped; the bytes are
 * valid during the call only) and the record's bytes as they are in buf. A non-zero
 * return stops the scan, which returns it. */
typedef int (*prs_side_row_fn)(void *arg, const char *key, size_t key_len, const char *row,
                               size_t row_len);

/* Reads table t's bytes [buf, buf + len): the records the splitter gives (a BOM, blank
 * lines and CRLF as records.h says), the header row of csv/tsv (*header, *header_len: a
 * view into buf, or 0 bytes; jsonl has none) and each record's key -- the column t->key
 * of the header (or the first column), a jsonl record's member t->key (or its first
 * member; {} has an empty key): a string unescaped, another value's text as it is -- to
 * fn, rows whose key is empty included. Returns 0; -EINVAL with err naming the option,
 * the file, the line and what is wrong: a malformed record (the splitter's message), a
 * key column not in the header, a row without the key; -ENOMEM; -EFBIG for a record over
 * PRS_SIDEDB_MAX_RECORD_BYTES; or what fn returned. Pure: any thread. */
int prs_side_scan(const prs_side_table *t, const char *buf, size_t len, prs_side_row_fn fn,
                  void *arg, const char **header, size_t *header_len, char *err, size_t err_size);

#endif
