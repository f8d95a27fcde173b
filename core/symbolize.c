/* symbolize.c -- see symbolize.h. */
#include "symbolize.h"
#include "fs.h"

#include <dirent.h>
#include <elfutils/libdwfl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SYM_FILE_MAX_BYTES (8u << 20) /* a crash file is ~10 KiB plus its map */
#define SYM_FRAMES_MAX 64u
#define SYM_MARK "stack (function, file:line):\n"

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "re");
    if (!f) return NULL;
    char *buf = malloc(SYM_FILE_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, SYM_FILE_MAX_BYTES, f) : 0;
    fclose(f);
    if (!buf) return NULL;
    buf[n] = 0;
    *len = n;
    return buf;
}

/* Reports to dwfl every file the map shows mapped from offset 0, at the lowest such
 * address: its load base. */
static int report_maps(Dwfl *dwfl, const char *maps, const char *end) {
    dwfl_report_begin(dwfl);
    int reported = 0;
    for (const char *p = maps; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) nl = end;
        char line[4400];
        snprintf(line, sizeof(line), "%.*s", (int)PRS_MIN((size_t)(nl - p), sizeof(line) - 1), p);
        p = nl + 1;
        unsigned long long start, stop, offset;
        char perms[8];
        int path_at = 0;
        if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &start, &stop, perms, &offset, &path_at) <
                4 ||
            !path_at || line[path_at] != '/' || offset != 0)
            continue;
        const char *path = line + path_at;
        if (access(path, R_OK) != 0) continue;
        const char *base = strrchr(path, '/') + 1;
        /* A file mapped twice from offset 0 (rare) is reported once: dwfl refuses overlaps. */
        if (dwfl_report_elf(dwfl, base, path, -1, (GElf_Addr)start, false)) reported++;
    }
    dwfl_report_end(dwfl, NULL, NULL);
    return reported;
}

static void frame_text(Dwfl *dwfl, uint64_t addr, bool exact, unsigned index, FILE *out) {
    GElf_Addr at = exact ? addr : addr - 1; /* a return address is past its call */
    Dwfl_Module *m = dwfl_addrmodule(dwfl, at);
    fprintf(out, "  #%u 0x%" PRIx64, index, addr);
    if (!m) {
        fputs(" ??\n", out);
        return;
    }
    const char *mod = dwfl_module_info(m, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    GElf_Off off = 0;
    GElf_Sym sym;
    const char *fn = dwfl_module_addrinfo(m, at, &off, &sym, NULL, NULL, NULL);
    if (fn) fprintf(out, " %s+0x%" PRIx64, fn, (uint64_t)off + (exact ? 0 : 1));
    Dwfl_Line *l = dwfl_module_getsrc(m, at);
    int lineno = 0;
    const char *src = l ? dwfl_lineinfo(l, NULL, &lineno, NULL, NULL, NULL) : NULL;
    if (src) fprintf(out, " at %s:%d", src, lineno);
    fprintf(out, " (%s)\n", mod ? mod : "?");
}

/* The symbolized section: frames from the faulting one (the handler's own and the signal
 * trampoline's are left out). */
static void write_stack(Dwfl *dwfl, uint64_t pc, const uint64_t *frames, unsigned n, FILE *out) {
    unsigned first = 0;
    for (unsigned i = 0; pc && i < n; i++) {
        if (frames[i] == pc) {
            first = i;
            break;
        }
    }
    fputs(SYM_MARK, out);
    for (unsigned i = first; i < n; i++)
        frame_text(dwfl, frames[i], i == first && frames[i] == pc, i - first, out);
}

static unsigned parse_frames(const char *text, uint64_t *pc, uint64_t *frames) {
    const char *p = strstr(text, "\nraw pc: ");
    *pc = p ? strtoull(p + 9, NULL, 16) : 0;
    p = strstr(text, "\nraw frames:");
    unsigned n = 0;
    if (!p) return 0;
    p += 12;
    while (n < SYM_FRAMES_MAX && *p == ' ') {
        char *end;
        frames[n++] = strtoull(p + 1, &end, 16);
        p = end;
    }
    return n;
}

int prs_symbolize_crash_file(const char *path) {
    size_t len = 0;
    char *text = read_all(path, &len);
    if (!text) return -errno;
    int rc = 0;
    uint64_t pc, frames[SYM_FRAMES_MAX];
    unsigned n = parse_frames(text, &pc, frames);
    const char *maps = strstr(text, "\nmaps:\n");
    const char *maps_end = maps ? strstr(maps, "\nend of maps\n") : NULL;
    const char *stack = strstr(text, "\nstack:\n");
    if (strstr(text, SYM_MARK)) {
        rc = -EALREADY;
        goto free_text;
    }
    if (!n || !maps || !maps_end || !stack) {
        rc = -EINVAL;
        goto free_text;
    }
    static const Dwfl_Callbacks callbacks = {.find_elf = dwfl_build_id_find_elf,
                                             .find_debuginfo = dwfl_standard_find_debuginfo,
                                             .section_address = dwfl_offline_section_address};
    Dwfl *dwfl = dwfl_begin(&callbacks);
    if (!dwfl) {
        rc = -ENOMEM;
        goto free_text;
    }
    report_maps(dwfl, maps + 7, maps_end);
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *out = prs_fopen_nofollow(tmp, "w");
    if (!out) {
        rc = -errno;
        goto end_dwfl;
    }
    /* The header, the symbolized stack, then what the handler wrote. */
    fwrite(text, 1, (size_t)(stack - text) + 1, out);
    write_stack(dwfl, pc, frames, n, out);
    fwrite(stack + 1, 1, len - (size_t)(stack + 1 - text), out);
    if (fclose(out) != 0 || rename(tmp, path) != 0) {
        rc = -EIO;
        unlink(tmp);
    }
end_dwfl:
    dwfl_end(dwfl);
free_text:
    free(text);
    return rc;
}

int prs_symbolize_crash_dir(const char *dir, uint32_t max_files) {
    DIR *d = opendir(dir);
    if (!d) return -errno;
    int done = 0;
    uint32_t seen = 0;
    struct dirent *e;
    while (seen < max_files && (e = readdir(d))) {
        size_t nl = strlen(e->d_name);
        if (strncmp(e->d_name, "crash-", 6) != 0 || nl < 5 || strcmp(e->d_name + nl - 4, ".txt"))
            continue;
        seen++;
        char path[4600];
        if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path)) continue;
        if (prs_symbolize_crash_file(path) == 0) done++;
    }
    closedir(d);
    return done;
}

int prs_symbolize_job(const char *out_dir) {
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/logs/user/error", out_dir);
    DIR *d = opendir(dir);
    if (!d) return -errno;
    int done = 0;
    struct dirent *e;
    for (uint32_t nodes = 0; nodes < 1024 && (e = readdir(d)); nodes++) {
        if (e->d_name[0] == '.') continue;
        char sub[4600];
        if (snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name) >= (int)sizeof(sub)) continue;
        int n = prs_symbolize_crash_dir(sub, 10000);
        if (n > 0) done += n;
    }
    closedir(d);
    return done;
}
