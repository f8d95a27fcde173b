/* util.h -- helpers shared by the tests: temp directories, files, running build/prs.
 * The prs binary under test is $PRS_BIN (default build/prs), so the same end-to-end tests
 * run the release, AddressSanitizer and ThreadSanitizer builds. */
#ifndef PRS_TEST_UTIL_H
#define PRS_TEST_UTIL_H

#include "base.h"

/* A fresh directory under $TMPDIR (or /tmp); removed by tu_rmrf. */
void tu_tmpdir(char *out, size_t size, const char *tag);
void tu_rmrf(const char *path);
/* Writes len bytes to path, creating parent directories. */
void tu_write(const char *path, const void *data, size_t len);
/* Reads a whole file (NUL-terminated); NULL if missing. *len may be NULL. */
char *tu_read(const char *path, size_t *len);
size_t tu_count_lines(const char *text);
/* Runs a shell command line; returns its exit code (or 128+signal). */
int tu_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *tu_prs(void);
/* Makes DIR with n files "fNNNN.txt" (content: their own name). */
void tu_dataset(const char *dir, unsigned n);
/* The number after "key " in text (e.g. "failed " in "items: total 5, failed 2"). */
long long tu_field(const char *text, const char *key);

#endif
