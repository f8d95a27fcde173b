/* stress_joblog -- several producers log through the joblog's ring (one flusher thread
 * writing the user log), as a plain program so ThreadSanitizer can run it.
 *
 * Usage: stress_joblog [lines_per_producer]   (default 20000)
 * Exit 0: every scenario passed; otherwise a message on stderr and exit 1.
 * Scenarios: --log-policy wait and drop, 4 producers, every 37th line longer than one
 * ring record (reassembled by the flusher), prs_joblog_flush while producers run.
 * Checks: per producer, lines in order and whole (or, under drop only, cut and marked);
 * under wait every line is there; under drop lines + dropped >= lines pushed, and the
 * "N log records dropped" lines of the log add up to the ring's count. */
#include "joblog.h"
#include "logring.h"
#include "prs.h"

#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PRODUCERS 4

static int lines_per_producer = 20000;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("stress_joblog: FAIL: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

typedef struct producer {
    prs_joblog *jl;
    int worker;
} producer;

static void log_line(prs_joblog *jl, int worker, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void log_line(prs_joblog *jl, int worker, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    prs_joblog_user(jl, worker, PRS_LOG_INFO, fmt, ap);
    va_end(ap);
}

static void *produce(void *arg) {
    producer *p = arg;
    for (int i = 0; i < lines_per_producer; i++) {
        if (i % 37 == 0) {
            log_line(p->jl, p->worker, "seq %d %0500d end", i, i);
        } else {
            log_line(p->jl, p->worker, "seq %d end", i);
        }
        if (p->worker == 0 && i % 5000 == 0) prs_joblog_flush(p->jl, 10000);
    }
    return NULL;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "re");
    if (!f) fail("%s: cannot open", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) fail("%s: cannot read", path);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void scenario(const char *root, int policy) {
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/%s", root, policy == PRS_LOGRING_DROP ? "drop" : "wait");
    mkdir(dir, 0755);
    prs_joblog *jl;
    char err[256];
    if (prs_joblog_open(&jl, dir, PRS_LOG_DEBUG, PRODUCERS, policy, err, sizeof(err)) != 0)
        fail("open: %s", err);
    pthread_t t[PRODUCERS];
    producer p[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++) {
        p[i] = (producer){.jl = jl, .worker = i};
        if (pthread_create(&t[i], NULL, produce, &p[i]) != 0) fail("thread");
    }
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(t[i], NULL);
    if (prs_joblog_flush(jl, 30000) != 0) fail("flush timed out");
    uint64_t dropped = prs_joblog_dropped(jl);
    char path[1024];
    snprintf(path, sizeof(path), "%s/logs/user/%s/%s.log.txt", dir, prs_joblog_ip(jl),
             prs_joblog_node(jl));
    prs_joblog_close(jl);
    char *text = slurp(path);
    int last[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++)
        last[i] = -1;
    long whole = 0;
    unsigned long long logged = 0;
    static const char marked[] = " [prs: rest of the line dropped]";
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        unsigned long long n;
        const char *d = strstr(line, "prs: ");
        if (d && sscanf(d, "prs: %llu log records dropped", &n) == 1) {
            logged += n;
            continue;
        }
        const char *w = strstr(line, "worker-");
        int id, seq;
        if (!w || sscanf(w, "worker-%d: seq %d", &id, &seq) != 2 || id < 0 || id >= PRODUCERS)
            fail("unexpected line: %s", line);
        if (seq <= last[id]) fail("worker %d out of order: %d after %d", id, seq, last[id]);
        last[id] = seq;
        size_t len = strlen(line);
        if (len > sizeof(marked) && strcmp(line + len - (sizeof(marked) - 1), marked) == 0) {
            if (policy != PRS_LOGRING_DROP) fail("a line lost its tail under wait: %s", line);
            continue;
        }
        if (len < 4 || strcmp(line + len - 4, " end") != 0) fail("torn line: %s", line);
        whole++;
    }
    free(text);
    long pushed = (long)PRODUCERS * lines_per_producer;
    if (policy == PRS_LOGRING_WAIT && (whole != pushed || dropped != 0))
        fail("wait: %ld of %ld lines, %llu dropped", whole, pushed, (unsigned long long)dropped);
    if (policy == PRS_LOGRING_DROP && (whole > pushed || whole + (long)dropped < pushed))
        fail("drop: %ld lines + %llu dropped for %ld pushed", whole, (unsigned long long)dropped,
             pushed);
    if (logged != dropped)
        fail("the log reports %llu dropped, the ring %llu", logged, (unsigned long long)dropped);
    printf("stress_joblog: %s: %ld whole lines, %llu records dropped\n",
           policy == PRS_LOGRING_DROP ? "drop" : "wait", whole, (unsigned long long)dropped);
}

int main(int argc, char **argv) {
    if (argc > 1) lines_per_producer = atoi(argv[1]);
    if (lines_per_producer < 1 || lines_per_producer > 10000000) fail("bad line count");
    const char *tmp = getenv("TMPDIR");
    char root[512];
    snprintf(root, sizeof(root), "%s/prs-stress-joblog-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root)) fail("mkdtemp");
    scenario(root, PRS_LOGRING_WAIT);
    scenario(root, PRS_LOGRING_DROP);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    if (system(cmd) != 0) fail("cleanup");
    return 0;
}
