/* args.h -- what the misbehaving test scripts (tests/scripts/) share: "--name VALUE"
 * arguments given after `--`, the default row, and a "first time only" marker file. */
#ifndef PRS_TEST_SCRIPT_ARGS_H
#define PRS_TEST_SCRIPT_ARGS_H

#include "prs_entry.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The value after --name, or def. */
static inline const char *script_arg(int argc, char **argv, const char *name, const char *def) {
    for (int i = 0; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return def;
}

static inline int script_flag(int argc, char **argv, const char *name) {
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], name) == 0) return 1;
    return 0;
}

/* With a marker directory: true the first time only (across processes and lives), so a
 * retried batch succeeds. Without one: always true. */
static inline int script_first_time(const char *marker_dir) {
    if (!marker_dir) return 1;
    char path[4096];
    snprintf(path, sizeof(path), "%s/done", marker_dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return 0;
    close(fd);
    return 1;
}

/* "<name>\tok" for every item: one row per successful item. */
static inline int script_rows(const prs_batch *batch, prs_out *out) {
    for (uint32_t i = 0; i < batch->count; i++) {
        char row[512];
        int n = snprintf(row, sizeof(row), "%s\tok", batch->items[i].name);
        if (prs_emit(out, row, (size_t)n) != 0) return -1;
    }
    return 0;
}

/* True if the batch holds an item whose name contains needle. */
static inline int script_holds(const prs_batch *batch, const char *needle) {
    for (uint32_t i = 0; needle && i < batch->count; i++)
        if (strstr(batch->items[i].name, needle)) return 1;
    return 0;
}

#endif
