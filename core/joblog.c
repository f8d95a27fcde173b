/* joblog.c -- see joblog.h. */
#include "joblog.h"

#include "prs_entry.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct prs_joblog {
    char dir[4096];
    char node[64];
    char ip[64];
    int level;
    FILE *master;
    FILE *errors;
    FILE *user;
    pthread_mutex_t user_lock;
};

const char *prs_log_level_name(int level) {
    if (level >= PRS_LOG_CRITICAL) return "CRITICAL";
    if (level >= PRS_LOG_ERROR) return "ERROR";
    if (level >= PRS_LOG_WARNING) return "WARNING";
    if (level >= PRS_LOG_INFO) return "INFO";
    return "DEBUG";
}

int prs_log_level_parse(const char *text, int *level) {
    static const struct {
        const char *name;
        int level;
    } names[] = {{"DEBUG", PRS_LOG_DEBUG},     {"INFO", PRS_LOG_INFO},
                 {"WARNING", PRS_LOG_WARNING}, {"WARN", PRS_LOG_WARNING},
                 {"ERROR", PRS_LOG_ERROR},     {"CRITICAL", PRS_LOG_CRITICAL}};
    for (size_t i = 0; i < PRS_ARRAY_LEN(names); i++) {
        if (strcasecmp(text, names[i].name) == 0) {
            *level = names[i].level;
            return 0;
        }
    }
    return -EINVAL;
}

/* Keeps [A-Za-z0-9._-]; anything else (a '/' above all) becomes '_'. */
static void sanitize(char *s) {
    for (; *s; s++) {
        char c = *s;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == '_';
        if (!ok) *s = '_';
    }
}

static void machine_identity(prs_joblog *jl) {
    if (gethostname(jl->node, sizeof(jl->node)) != 0 || !jl->node[0]) {
        snprintf(jl->node, sizeof(jl->node), "node");
    }
    jl->node[sizeof(jl->node) - 1] = 0;
    snprintf(jl->ip, sizeof(jl->ip), "127.0.0.1");
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) == 0) {
        for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
            if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
            if (i->ifa_flags & IFF_LOOPBACK) continue;
            const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)i->ifa_addr;
            inet_ntop(AF_INET, &sin->sin_addr, jl->ip, sizeof(jl->ip));
            break;
        }
        freeifaddrs(ifs);
    }
    sanitize(jl->node);
    if (strcmp(jl->node, ".") == 0 || strcmp(jl->node, "..") == 0) snprintf(jl->node, 8, "node");
    sanitize(jl->ip);
}

static int mkdir_p(char *path) {
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc != 0 && errno != EEXIST) return -errno;
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST) return -errno;
    return 0;
}

static FILE *open_append(prs_joblog *jl, const char *sub, char *err, size_t err_size) {
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", jl->dir, sub);
    char *slash = strrchr(path, '/');
    *slash = 0;
    int rc = mkdir_p(path);
    *slash = '/';
    FILE *f = rc == 0 ? fopen(path, "ae") : NULL;
    if (!f) {
        snprintf(err, err_size, "%s: cannot open log file: %s", path, strerror(rc ? -rc : errno));
        return NULL;
    }
    setvbuf(f, NULL, _IOLBF, 0); /* whole lines reach the file: readable while running */
    return f;
}

int prs_joblog_open(prs_joblog **out, const char *out_dir, int level, char *err,
                    size_t err_size) {
    prs_joblog *jl = calloc(1, sizeof(*jl));
    if (!jl) return -ENOMEM;
    jl->level = level;
    pthread_mutex_init(&jl->user_lock, NULL);
    snprintf(jl->dir, sizeof(jl->dir), "%s/logs", out_dir);
    machine_identity(jl);
    char user[256];
    snprintf(user, sizeof(user), "user/%s/%s.log.txt", jl->ip, jl->node);
    jl->master = open_append(jl, "sys/master.txt", err, err_size);
    if (jl->master) jl->errors = open_append(jl, "user/error.txt", err, err_size);
    if (jl->errors) jl->user = open_append(jl, user, err, err_size);
    if (!jl->user) {
        prs_joblog_close(jl);
        return -EIO;
    }
    *out = jl;
    return 0;
}

void prs_joblog_close(prs_joblog *jl) {
    if (!jl) return;
    if (jl->master) fclose(jl->master);
    if (jl->errors) fclose(jl->errors);
    if (jl->user) fclose(jl->user);
    pthread_mutex_destroy(&jl->user_lock);
    free(jl);
}

const char *prs_joblog_node(const prs_joblog *jl) {
    return jl->node;
}
const char *prs_joblog_ip(const prs_joblog *jl) {
    return jl->ip;
}
const char *prs_joblog_dir(const prs_joblog *jl) {
    return jl->dir;
}

static void stamp(char *buf, size_t size) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

void prs_joblog_master(prs_joblog *jl, const char *fmt, ...) {
    char ts[40];
    stamp(ts, sizeof(ts));
    va_list ap;
    va_start(ap, fmt);
    fprintf(jl->master, "%s ", ts);
    vfprintf(jl->master, fmt, ap);
    fputc('\n', jl->master);
    va_end(ap);
}

bool prs_joblog_user_enabled(const prs_joblog *jl, int level) {
    return level >= jl->level;
}

void prs_joblog_user(prs_joblog *jl, int worker, int level, const char *fmt, va_list ap) {
    if (level < jl->level) return;
    char line[2048], ts[40];
    stamp(ts, sizeof(ts));
    int n = snprintf(line, sizeof(line), "%s %s worker-%d: ", ts, prs_log_level_name(level),
                     worker);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2) len = sizeof(line) - 2; /* cut, never torn */
    line[len++] = '\n';
    pthread_mutex_lock(&jl->user_lock);
    fwrite(line, 1, len, jl->user);
    pthread_mutex_unlock(&jl->user_lock);
}

void prs_joblog_errors(prs_joblog *jl, const char *text, size_t len) {
    fwrite(text, 1, len, jl->errors);
    fflush(jl->errors);
}

int prs_joblog_overview(prs_joblog *jl, const char *text) {
    char tmp[4200], path[4200];
    snprintf(tmp, sizeof(tmp), "%s/.overview.txt.tmp", jl->dir);
    snprintf(path, sizeof(path), "%s/overview.txt", jl->dir);
    FILE *f = fopen(tmp, "we");
    if (!f) return -errno;
    fputs(text, f);
    if (fclose(f) != 0) return -errno;
    return rename(tmp, path) == 0 ? 0 : -errno;
}
