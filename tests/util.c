/* util.c -- see util.h. */
#include "util.h"

#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

void tu_tmpdir(char *out, size_t size, const char *tag) {
    const char *base = getenv("TMPDIR");
    snprintf(out, size, "%s/prs-test-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    if (!mkdtemp(out)) {
        perror("mkdtemp");
        abort();
    }
}

void tu_rmrf(const char *path) {
    tu_sh("rm -rf '%s'", path);
}

static void mkparents(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            mkdir(buf, 0755);
            *p = '/';
        }
    }
}

void tu_write(const char *path, const void *data, size_t len) {
    mkparents(path);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

char *tu_read(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) abort();
    buf[n] = 0;
    fclose(f);
    if (len) *len = (size_t)n;
    return buf;
}

size_t tu_count_lines(const char *text) {
    size_t n = 0;
    for (; text && *text; text++)
        n += *text == '\n';
    return n;
}

int tu_sh(const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int st = system(cmd);
    if (st == -1) return -1;
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    return 128 + WTERMSIG(st);
}

const char *tu_prs(void) {
    const char *bin = getenv("PRS_BIN");
    return bin && *bin ? bin : "build/prs";
}

void tu_dataset(const char *dir, unsigned n) {
    for (unsigned i = 0; i < n; i++) {
        char path[4096], name[32];
        snprintf(name, sizeof(name), "f%04u.txt", i);
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        tu_write(path, name, strlen(name));
    }
}

long long tu_field(const char *text, const char *key) {
    const char *p = text ? strstr(text, key) : NULL;
    if (!p) return -1;
    return atoll(p + strlen(key));
}
