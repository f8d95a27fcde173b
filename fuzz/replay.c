/* replay.c -- runs a libFuzzer target's checked-in corpus once, without libFuzzer: every
 * input that once found a bug (or seeds a path) stays a regression test of the release
 * build (gcc, -O2), not only of the 20 s fuzz run (clang, ASan).
 *
 *   build/fuzz-replay/fuzz_NAME DIR_OR_FILE...
 *
 * Owns: nothing past one call. May call: the target's LLVMFuzzerTestOneInput, which aborts
 * on a finding (that is the failure: the exit status is the signal's).
 * A directory is read entry by entry (not recursively; dot files skipped) in sorted order.
 * Exits 0 after every input ran, 2 on bad usage or an unreadable/oversized input (named). */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* libFuzzer's default -max_len is 4096 for new inputs; seeds may be larger, but a corpus
 * file past this is a mistake, not an input. */
#define REPLAY_MAX_INPUT_BYTES (16u << 20)
#define REPLAY_MAX_ENTRIES 100000

static int replay_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -errno;
    }
    int rc = 0;
    uint8_t *buf = malloc(REPLAY_MAX_INPUT_BYTES + 1);
    if (!buf) {
        rc = -ENOMEM;
        fprintf(stderr, "replay: %s: out of memory\n", path);
        goto close_file;
    }
    size_t n = fread(buf, 1, REPLAY_MAX_INPUT_BYTES + 1, f);
    if (ferror(f)) {
        rc = -EIO;
        fprintf(stderr, "replay: %s: read error\n", path);
    } else if (n > REPLAY_MAX_INPUT_BYTES) {
        rc = -EFBIG;
        fprintf(stderr, "replay: %s: larger than %u bytes\n", path, REPLAY_MAX_INPUT_BYTES);
    } else {
        LLVMFuzzerTestOneInput(buf, n);
    }
    free(buf);
close_file:
    fclose(f);
    return rc;
}

static int skip_dot(const struct dirent *d) {
    return d->d_name[0] != '.';
}

/* Runs every entry of DIR; adds the number run to *count. */
static int replay_dir(const char *dir, unsigned *count) {
    struct dirent **names = NULL;
    int n = scandir(dir, &names, skip_dot, alphasort);
    if (n < 0) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -errno;
    }
    int rc = 0;
    if (n > REPLAY_MAX_ENTRIES) {
        fprintf(stderr, "replay: %s: more than %d entries\n", dir, REPLAY_MAX_ENTRIES);
        rc = -E2BIG;
    }
    for (int i = 0; i < n; i++) {
        if (rc == 0) {
            char path[4096];
            int len = snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
            if (len < 0 || (size_t)len >= sizeof(path)) {
                fprintf(stderr, "replay: %s/%s: path too long\n", dir, names[i]->d_name);
                rc = -ENAMETOOLONG;
            } else {
                rc = replay_file(path);
                if (rc == 0) (*count)++;
            }
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    unsigned count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            return 2;
        }
        int rc = S_ISDIR(st.st_mode) ? replay_dir(argv[i], &count) : replay_file(argv[i]);
        if (rc == 0 && !S_ISDIR(st.st_mode)) count++;
        if (rc != 0) return 2;
    }
    if (count == 0) {
        fprintf(stderr, "replay: no inputs in %s...: nothing was tested\n", argv[1]);
        return 2;
    }
    printf("replay: %u inputs ran\n", count);
    return 0;
}
