/* gen.c -- deterministic dataset generator.
 *   gen DIR --files N [--min-bytes A] [--max-bytes B] [--seed S] [--per-dir K]
 * Writes N text files of words, sizes uniform in [A, B], K files per subdirectory
 * (0: flat), names zero-padded so sorted order is numeric order. The same arguments
 * always give the same bytes (splitmix64, no libc rand). */
#include "base.h"
#include "fs.h"
#include "units.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int usage(const char *why) {
    fprintf(stderr,
            "gen: %s\nusage: gen DIR --files N [--min-bytes A] [--max-bytes B] "
            "[--seed S] [--per-dir K]\n",
            why);
    return 2;
}

int main(int argc, char **argv) {
    if (argc < 2 || argv[1][0] == '-') return usage("DIR is required");
    const char *dir = argv[1];
    int64_t files = -1, per_dir = 0, seed = 1;
    uint64_t min_bytes = 64, max_bytes = 4096;
    for (int i = 2; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = -EINVAL;
        if (!v) return usage("an option needs a value");
        if (!strcmp(argv[i], "--files"))
            rc = prs_units_parse_int(v, 0, 100000000, &files);
        else if (!strcmp(argv[i], "--per-dir"))
            rc = prs_units_parse_int(v, 0, 100000000, &per_dir);
        else if (!strcmp(argv[i], "--seed"))
            rc = prs_units_parse_int(v, 0, INT64_MAX / 2, &seed);
        else if (!strcmp(argv[i], "--min-bytes"))
            rc = prs_units_parse_size(v, &min_bytes);
        else if (!strcmp(argv[i], "--max-bytes"))
            rc = prs_units_parse_size(v, &max_bytes);
        if (rc) {
            fprintf(stderr, "gen: %s %s: bad value or unknown option\n", argv[i], v);
            return 2;
        }
        i++;
    }
    if (files < 0) return usage("--files is required");
    if (min_bytes > max_bytes || max_bytes > (1u << 30))
        return usage("need min-bytes <= max-bytes <= 1GB");
    int rc = prs_mkdir_p(dir);
    if (rc) {
        fprintf(stderr, "gen: %s: %s\n", dir, strerror(-rc));
        return 1;
    }
    static const char *words[] = {"alpha", "beta",  "gamma", "delta", "score", "batch",
                                  "model", "token", "edge",  "node",  "row",   "file"};
    char *buf = malloc(max_bytes + 16);
    if (!buf) return 1;
    uint64_t state = (uint64_t)seed;
    for (int64_t i = 0; i < files; i++) {
        char path[4096];
        if (per_dir > 0) {
            snprintf(path, sizeof(path), "%s/d%06lld", dir, (long long)(i / per_dir));
            if (mkdir(path, 0755) != 0 && errno != EEXIST) {
                fprintf(stderr, "gen: %s: %s\n", path, strerror(errno));
                return 1;
            }
            snprintf(path, sizeof(path), "%s/d%06lld/f%09lld.txt", dir, (long long)(i / per_dir),
                     (long long)i);
        } else {
            snprintf(path, sizeof(path), "%s/f%09lld.txt", dir, (long long)i);
        }
        uint64_t size = min_bytes + splitmix64(&state) % (max_bytes - min_bytes + 1);
        size_t len = 0;
        while (len < size) {
            const char *w = words[splitmix64(&state) % PRS_ARRAY_LEN(words)];
            size_t wl = strlen(w);
            memcpy(buf + len, w, wl);
            len += wl;
            buf[len++] = splitmix64(&state) % 8 == 0 ? '\n' : ' ';
        }
        len = size; /* exact size: the last word may be cut */
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, buf, len) != (ssize_t)len || close(fd) != 0) {
            fprintf(stderr, "gen: %s: %s\n", path, strerror(errno));
            return 1;
        }
    }
    free(buf);
    printf("gen: %lld files in %s\n", (long long)files, dir);
    return 0;
}
