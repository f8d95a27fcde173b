/* jobstate.c -- see jobstate.h. */
#include "jobstate.h"

#include "config.h"
#include "committer.h"
#include "crash.h"
#include "fs.h"
#include "inputdiff.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define LOCK_WAIT_TRIES 30u          /* OUT busy: retry its lock this often, */
#define LOCK_WAIT_STEP_NS 100000000L /* this far apart, before giving up */

/* --fresh, under the lock: the queue, the scoreboard and the output file go; the logs
 * stay (a new job appends to them, saying it started fresh). */
static int discard_state(prs_jobstate *st, const prs_job_config *cfg, prs_jobreport *rep) {
    static const char *const state_files[] = {"data.mdb",       "lock.mdb",        "scoreboard",
                                              "side/data.mdb",  "side/lock.mdb",   "partitions.csv",
                                              "partitions.tsv", "partitions.jsonl"};
    char path[PATH_MAX + 256];
    for (size_t i = 0; i < PRS_ARRAY_LEN(state_files); i++) {
        snprintf(path, sizeof(path), "%s/%s", st->state_dir, state_files[i]);
        if (unlink(path) != 0 && errno != ENOENT) {
            return prs_jobreport_fail(rep, PRS_EXIT_USAGE, "--fresh: cannot remove %s: %s", path,
                                      strerror(errno));
        }
    }
    snprintf(path, sizeof(path), "%s/%s", st->out_dir, cfg->append_row_file_name);
    if (unlink(path) != 0 && errno != ENOENT) {
        return prs_jobreport_fail(rep, PRS_EXIT_USAGE, "--fresh: cannot remove %s: %s", path,
                                  strerror(errno));
    }
    return 0;
}

/* OUT and OUT/.prs exist and OUT is writable; then the exclusive lock. */
static int lock_out(prs_jobstate *st, const prs_job_config *cfg, prs_jobreport *rep) {
    int rc = prs_mkdir_p(cfg->output_dir);
    if (rc == 0 && !realpath(cfg->output_dir, st->out_dir)) rc = -errno;
    if (rc == 0) {
        snprintf(st->state_dir, sizeof(st->state_dir), "%s/.prs", st->out_dir);
        rc = prs_mkdir_p(st->state_dir);
    }
    if (rc == 0 && access(st->out_dir, W_OK) != 0) rc = -errno;
    if (rc)
        return prs_jobreport_fail(rep, PRS_EXIT_USAGE,
                                  "--output %s: cannot use it as the output directory: %s",
                                  cfg->output_dir, strerror(-rc));
    char link[PATH_MAX];
    if (prs_symlink_below(st->out_dir, st->state_dir, link, sizeof(link)))
        return prs_jobreport_fail(rep, PRS_EXIT_USAGE,
                                  "--output %s: %s is a symlink: prs keeps the job's state only "
                                  "inside OUT",
                                  cfg->output_dir, link);
    char lock[PATH_MAX + 32];
    snprintf(lock, sizeof(lock), "%s/lock", st->state_dir);
    st->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (st->lock_fd < 0)
        return prs_jobreport_fail(rep, PRS_EXIT_USAGE, "%s: %s", lock, strerror(errno));
    /* A runtime whose supervisor was just killed dies of PR_SET_PDEATHSIG a moment later;
     * give it that moment before calling OUT busy. */
    int locked = -1;
    for (unsigned try = 0; try < LOCK_WAIT_TRIES; try++) {
        locked = flock(st->lock_fd, LOCK_EX | LOCK_NB);
        if (locked == 0 || errno != EWOULDBLOCK) break;
        nanosleep(&(struct timespec){.tv_nsec = LOCK_WAIT_STEP_NS}, NULL);
    }
    if (locked != 0) {
        return prs_jobreport_fail(rep, PRS_EXIT_USAGE, "--output %s: another prs is running on it",
                                  cfg->output_dir);
    }
    return 0;
}

int prs_jobstate_open(prs_jobstate *st, const prs_job_config *cfg, prs_jobreport *rep) {
    memset(st, 0, sizeof(*st));
    st->lock_fd = -1;
    int rc = lock_out(st, cfg, rep);
    if (rc) return rc;
    if (cfg->fresh && (rc = discard_state(st, cfg, rep))) return rc;
    char err[512];
    rc = prs_joblog_open(&st->log, st->out_dir, cfg->logging_level, cfg->workers, cfg->log_policy,
                         err, sizeof(err));
    if (rc) return prs_jobreport_fail(rep, PRS_EXIT_USAGE, "%s", err);
    rep->log = st->log;
    prs_joblog_set_sink(st->log, cfg->log_fn, cfg->log_arg);
    if (cfg->fresh)
        prs_joblog_master(st->log, "--fresh: the previous job state and output were discarded");
    if (cfg->supervised) {
        rc = prs_capture_start(&st->capture, st->log);
        if (rc) prs_joblog_master(st->log, "stdout/stderr not captured: %s", strerror(-rc));
        rep->capture = st->capture;
    }
    rc = prs_queue_open(&st->queue, st->state_dir,
                        cfg->durable ? PRS_DURABILITY_FULL : PRS_DURABILITY_NONE, err, sizeof(err));
    if (rc)
        return prs_jobreport_fail(
            rep, rc == -EBADMSG ? PRS_EXIT_USAGE : PRS_EXIT_INTERNAL, "job state %s%s", err,
            rc == -EBADMSG  ? " (remove OUT/.prs to start over; the output stays)"
            : rc == -ENOMEM ? " (not enough address space to map it: is "
                              "`ulimit -v` set? raise it and run the same "
                              "command again; the state is intact)"
                            : "");
    rc = prs_scoreboard_open(&st->scoreboard, st->state_dir, true);
    if (rc)
        return prs_jobreport_fail(rep, PRS_EXIT_INTERNAL, "%s/scoreboard: %s", st->state_dir,
                                  strerror(-rc));
    st->scoreboard->pid = (int32_t)getpid();
    char crash_dir[PATH_MAX + 128];
    snprintf(crash_dir, sizeof(crash_dir), "%s/user/error/%s", prs_joblog_dir(st->log),
             prs_joblog_node(st->log));
    if (cfg->handlers & PRS_HANDLE_CRASHES) { /* reserved by prs_job_run */
        rc = prs_crash_install(crash_dir, st->scoreboard);
        if (rc) return prs_jobreport_fail(rep, PRS_EXIT_USAGE, "%s: %s", crash_dir, strerror(-rc));
    }
    return 0;
}

void prs_jobstate_close(prs_jobstate *st) {
    prs_queue_close(st->queue);
    st->queue = NULL;
    prs_capture_stop(st->capture);
    st->capture = NULL;
    prs_joblog_close(st->log);
    st->log = NULL;
    if (st->lock_fd >= 0) close(st->lock_fd);
    st->lock_fd = -1;
}

/* The repair of one scoreboard slot: true (and *up set) when its batch is charged. */
static bool repair_slot(prs_jobstate *st, const prs_job_config *cfg, prs_jobreport *rep,
                        prs_queue_reader *r, uint32_t index, prs_queue_counts *c, char *first,
                        size_t first_size, prs_batch_update *up) {
    const prs_scoreboard_slot *slot = &st->scoreboard->slot[index];
    uint32_t state = atomic_load(&slot->state);
    if (state == PRS_SLOT_IDLE) return false;
    uint64_t id = atomic_load(&slot->batch_id);
    uint32_t attempt = atomic_load(&slot->attempt);
    prs_batch_rec rec;
    if (prs_queue_reader_get(r, id, &rec)) return false; /* another job's slot: no charge */
    if (rec.state != PRS_BATCH_PENDING || rec.attempts >= attempt) return false; /* recorded */
    if (state == PRS_SLOT_RUNNING) {
        prs_joblog_master(st->log,
                          "batch %llu (try %u) was running when the runtime died; "
                          "not charged: it goes back to pending",
                          (unsigned long long)id, attempt);
        return false;
    }
    char why[256];
    prs_scoreboard_death_text(slot, why, sizeof(why));
    rec.attempts = attempt;
    bool last = attempt >= cfg->run_max_try;
    if (last) {
        rec.state = PRS_BATCH_FAILED;
        c->failed_batches++;
        c->failed_items += rec.item_count;
    }
    char edir[4200], item[512] = "-";
    snprintf(edir, sizeof(edir), "%s/user/error/%s", prs_joblog_dir(st->log),
             prs_joblog_node(st->log));
    prs_crash_item_of(edir, index, id, attempt, item, sizeof(item)); /* else "-": unknown */
    prs_jobreport_error_line(rep, true, first, first_size,
                             "batch %llu attempt %u item %s: %s; %s; evidence in "
                             "logs/user/error/%s/",
                             (unsigned long long)id, attempt, item, why,
                             last ? "no tries left: the batch failed" : "it will be retried",
                             prs_joblog_node(st->log));
    *up = (prs_batch_update){.batch_id = id, .rec = rec};
    return true;
}

/* A batch whose worker crashed spends that try (failing the batch if it was its last);
 * the others, and every batch of a death from outside (kill -9, OOM, power), go back to
 * pending untouched. A try already recorded is not charged twice if this repair is cut
 * short. */
int prs_jobstate_repair(prs_jobstate *st, const prs_job_config *cfg, prs_jobreport *rep) {
    prs_queue_counts c;
    int rc = prs_queue_counts_get(st->queue, &c);
    if (rc)
        return prs_jobreport_fail(rep, PRS_EXIT_INTERNAL, "job state: counters unreadable: %s",
                                  strerror(-rc));
    prs_batch_update ups[PRS_MAX_WORKERS];
    size_t n = 0;
    char first[PRS_JOBREPORT_ERROR_BYTES] = "";
    prs_queue_reader *r;
    rc = prs_queue_reader_open(st->queue, &r);
    if (rc) return prs_jobreport_fail(rep, PRS_EXIT_INTERNAL, "queue reader: %s", strerror(-rc));
    for (uint32_t i = 0; i < PRS_MAX_WORKERS; i++) {
        if (repair_slot(st, cfg, rep, r, i, &c, first, sizeof(first), &ups[n])) n++;
    }
    prs_queue_reader_close(r);
    if (n > 0) {
        char stored[8];
        size_t slen;
        bool have_first =
            prs_queue_meta_get(st->queue, "first_error", stored, sizeof(stored), &slen) != -ENOENT;
        rc = prs_queue_commit(st->queue, ups, n, &c, have_first ? NULL : "first_error", first,
                              strlen(first));
        if (rc)
            return prs_jobreport_fail(rep, PRS_EXIT_STOPPED, "cannot record the crash: %s",
                                      strerror(-rc));
        atomic_fetch_add(&st->scoreboard->progress, 1);
    }
    for (uint32_t i = 0; i < PRS_MAX_WORKERS; i++) {
        atomic_store(&st->scoreboard->slot[i].state, PRS_SLOT_IDLE);
        atomic_store(&st->scoreboard->slot[i].tid, 0); /* the previous life's threads */
    }
    return 0;
}

int prs_jobstate_check_new(prs_jobstate *st, const prs_job_config *cfg, prs_jobreport *rep) {
    /* Rows with no job state describing them: a state lost or deleted, or a file that is
     * not ours. A new job would truncate it: refuse, and let --fresh say so. */
    struct stat sb;
    char path[PATH_MAX + 256];
    snprintf(path, sizeof(path), "%s/%s", st->out_dir, cfg->append_row_file_name);
    if (cfg->output_action == PRS_OUTPUT_APPEND_ROW && stat(path, &sb) == 0 && sb.st_size > 0) {
        return prs_jobreport_fail(rep, PRS_EXIT_USAGE,
                                  "%s holds %lld bytes of rows but OUT has no job state that "
                                  "describes them: refusing to overwrite it (move it away, or "
                                  "use --fresh to start over)",
                                  path, (long long)sb.st_size);
    }
    prs_joblog_master(st->log, "new job in %s", st->out_dir);
    return 0;
}

#define SCRIPT_READ_BYTES ((size_t)1 << 20) /* read the script this much at a time */

int prs_jobstate_script_identity(const char *path, char *out, size_t out_size) {
    if (out_size < PRS_CONFIG_SCRIPT_ID_BYTES) return -ENOBUFS;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = 0;
    char *buf = malloc(SCRIPT_READ_BYTES);
    XXH3_state_t *h = XXH3_createState();
    if (!buf || !h) {
        rc = -ENOMEM;
        goto free_buffers;
    }
    XXH3_64bits_reset(h);
    uint64_t size = 0;
    for (;;) { /* ends at EOF: a file being appended to forever is not a script */
        ssize_t n = read(fd, buf, SCRIPT_READ_BYTES);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) rc = -errno;
        if (n <= 0) break;
        XXH3_64bits_update(h, buf, (size_t)n);
        size += (uint64_t)n;
    }
    if (rc == 0)
        snprintf(out, out_size, "size=%llu,xxh3=%016llx", (unsigned long long)size,
                 (unsigned long long)XXH3_64bits_digest(h));
free_buffers:
    XXH3_freeState(h);
    free(buf);
    close(fd);
    return rc;
}

/* The identity text of now replaces the stored one (the script's new identity). */
static int store_config(prs_jobstate *st, const char *config_text, prs_jobreport *rep) {
    prs_queue_counts c;
    int rc = prs_queue_counts_get(st->queue, &c);
    if (rc == 0)
        rc = prs_queue_commit(st->queue, NULL, 0, &c, "config", config_text, strlen(config_text));
    if (rc)
        return prs_jobreport_fail(rep, PRS_EXIT_STOPPED,
                                  "%s/data.mdb: cannot record the entry script's identity: %s",
                                  st->state_dir, strerror(-rc));
    return 0;
}

/* The script's content changed since the job was made: refused unless allowed. */
static int script_changed(prs_jobstate *st, const prs_job_config *cfg, const char *was,
                          const char *config_text, prs_jobreport *rep) {
    char now_id[PRS_CONFIG_SCRIPT_ID_BYTES];
    prs_config_script_id(config_text, now_id, sizeof(now_id));
    prs_queue_counts c = {0};
    (void)prs_queue_counts_get(st->queue, &c); /* for the message only */
    unsigned long long done = c.done_batches + c.failed_batches,
                       total = (unsigned long long)c.total_batches;
    if (!cfg->allow_changed_script)
        return prs_jobreport_fail(
            rep, PRS_EXIT_USAGE,
            "--entry-script %s changed since the job in %s was created (%s then, %s now): "
            "resuming would put rows of the old and the new version in one output (%llu of "
            "%llu mini-batches were done by the old one); restore the old script, use --fresh "
            "to start over with the new one, or --allow-changed-script to resume with it",
            cfg->entry_script, cfg->output_dir, was, now_id, done, total);
    prs_joblog_master(st->log,
                      "--allow-changed-script: the entry script changed since the job was "
                      "created (%s then, %s now): the output holds rows of the old version for "
                      "the %llu of %llu mini-batches done so far, the rest come from the new one",
                      was, now_id, done, total);
    return store_config(st, config_text, rep);
}

/* A note on what changed in the input: master.txt, and stderr when it is prs's own. */
static void input_note(prs_jobstate *st, const prs_job_config *cfg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void input_note(prs_jobstate *st, const prs_job_config *cfg, const char *fmt, ...) {
    char line[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    prs_joblog_master(st->log, "%s", line);
    if (cfg->supervised) dprintf(prs_capture_stderr_fd(st->capture), "prs: %s\n", line);
}

/* The report of core/inputdiff, once per `prs run`: a restarted life of the same run
 * (same run_started_unix_ms) does not walk the input again. Never the job's result: a
 * check that fails is said and the resume goes on. */
static void report_input(prs_jobstate *st, const prs_job_config *cfg) {
    char run[32], stored[32];
    size_t len = 0;
    snprintf(run, sizeof(run), "%llu", (unsigned long long)cfg->run_started_unix_ms);
    if (cfg->run_started_unix_ms &&
        prs_queue_meta_get(st->queue, PRS_INPUTDIFF_RUN_KEY, stored, sizeof(stored) - 1, &len) ==
            0 &&
        len == strlen(run) && memcmp(stored, run, len) == 0)
        return;
    prs_inputdiff d;
    char err[PATH_MAX + 256];
    int rc = prs_inputdiff_run(st->queue, cfg, &d, err, sizeof(err));
    if (rc || d.skipped) {
        prs_joblog_master(st->log, "input: changes since the job was created not checked: %s",
                          rc ? (err[0] ? err : strerror(-rc)) : d.skipped);
    } else if (d.added + d.changed + d.gone == 0) {
        prs_joblog_master(st->log,
                          "input: no file of the job changed or gone%s since it was created "
                          "(names and ctime/mtime, checked in %llu ms; contents not read)",
                          d.added_checked ? ", none new" : " (new files not looked for)",
                          (unsigned long long)d.elapsed_ms);
    }
    if (d.added)
        input_note(st, cfg,
                   "input: %llu new file%s not part of this job (first: %.400s); use "
                   "--fresh to include %s",
                   (unsigned long long)d.added, d.added == 1 ? " is" : "s are", d.first_added,
                   d.added == 1 ? "it" : "them");
    if (d.changed)
        input_note(st, cfg,
                   "input: %llu file%s of the job changed since it was created (ctime or mtime "
                   "later; first: %.400s): mini-batches not done yet read %s as %s now",
                   (unsigned long long)d.changed, d.changed == 1 ? "" : "s", d.first_changed,
                   d.changed == 1 ? "it" : "them", d.changed == 1 ? "it is" : "they are");
    if (d.gone)
        input_note(st, cfg,
                   "input: %llu file%s of the job %s gone (first: %.400s): %s items will fail",
                   (unsigned long long)d.gone, d.gone == 1 ? "" : "s", d.gone == 1 ? "is" : "are",
                   d.first_gone, d.gone == 1 ? "its" : "their");
    prs_queue_counts c;
    if (cfg->run_started_unix_ms && prs_queue_counts_get(st->queue, &c) == 0)
        (void)prs_queue_commit(st->queue, NULL, 0, &c, PRS_INPUTDIFF_RUN_KEY, run, strlen(run));
}

int prs_jobstate_check_resume(prs_jobstate *st, const prs_job_config *cfg, const char *config_text,
                              prs_jobreport *rep) {
    char stored[PRS_CONFIG_TEXT_BYTES];
    size_t len = 0;
    int rc = prs_queue_meta_get(st->queue, "config", stored, sizeof(stored) - 1, &len);
    if (rc)
        return prs_jobreport_fail(rep, PRS_EXIT_INTERNAL, "job state: config unreadable: %s",
                                  strerror(-rc));
    stored[len] = 0;
    char was[PRS_CONFIG_SCRIPT_ID_BYTES];
    switch (prs_config_compare(stored, config_text, was, sizeof(was))) {
    case PRS_CONFIG_DIFFERENT: {
        char diff[1024];
        prs_config_diff(stored, config_text, diff, sizeof(diff));
        return prs_jobreport_fail(rep, PRS_EXIT_USAGE,
                                  "--output %s holds a different job (%s); use another output "
                                  "directory, or --fresh to discard it and start over",
                                  cfg->output_dir, diff);
    }
    case PRS_CONFIG_SCRIPT_CHANGED:
        if ((rc = script_changed(st, cfg, was, config_text, rep))) return rc;
        break;
    case PRS_CONFIG_SCRIPT_UNRECORDED:
        prs_joblog_master(st->log, "the entry script's identity was not recorded when this job "
                                   "was created (an older prs): recorded now");
        if ((rc = store_config(st, config_text, rep))) return rc;
        break;
    case PRS_CONFIG_SAME:
        break;
    }
    prs_joblog_master(st->log, "resuming the job in %s", st->out_dir);
    report_input(st, cfg);
    return 0;
}

/* The stored result is "CODE MESSAGE", as the lifecycle commits it. */
bool prs_jobstate_finished(prs_jobstate *st, prs_jobreport *rep, int *code) {
    char text[PRS_COMMITTER_META_BYTES + 1];
    size_t len = 0;
    if (prs_queue_meta_get(st->queue, "result", text, sizeof(text) - 1, &len) != 0 || len == 0)
        return false; /* none yet, or cleared by --retry-failed */
    text[len] = 0;
    *code = atoi(text);
    const char *msg = strchr(text, ' ');
    prs_queue_counts c;
    if (prs_queue_counts_get(st->queue, &c) == 0) prs_jobreport_counts(rep, &c);
    snprintf(rep->report->message, sizeof(rep->report->message), "already finished: %.900s",
             msg ? msg + 1 : text);
    return true;
}

#define RETRY_CHUNK 4096u

typedef struct retry_scan {
    prs_batch_update ups[RETRY_CHUNK];
    size_t n;
    uint64_t items;
} retry_scan;

static void retry_fn(void *arg, uint64_t id, const prs_batch_rec *rec) {
    retry_scan *r = arg;
    PRS_ASSERT(r->n < RETRY_CHUNK); /* the scan's limit */
    r->ups[r->n++] = (prs_batch_update){.batch_id = id,
                                        .rec = {.state = PRS_BATCH_PENDING,
                                                .first_item = rec->first_item,
                                                .item_count = rec->item_count}};
    r->items += rec->item_count;
}

int prs_jobstate_retry_failed(prs_jobstate *st, prs_jobreport *rep) {
    int code;
    if (!prs_jobstate_finished(st, rep, &code))
        return prs_jobreport_fail(rep, PRS_EXIT_USAGE,
                                  "--retry-failed: the job in %s has not finished; run the same "
                                  "command without --retry-failed to resume it",
                                  st->out_dir);
    prs_queue_counts c;
    int rc = prs_queue_counts_get(st->queue, &c);
    if (rc)
        return prs_jobreport_fail(rep, PRS_EXIT_INTERNAL, "job state: counters unreadable: %s",
                                  strerror(-rc));
    retry_scan *r = malloc(sizeof(*r));
    if (!r) return prs_jobreport_fail(rep, PRS_EXIT_INTERNAL, "out of memory");
    uint64_t batches = 0, items = 0, before = c.failed_items, passes = c.failed_batches;
    char info[96];
    /* The result goes first: a cut short reset must resume, never look finished. */
    rc = prs_queue_commit(st->queue, NULL, 0, &c, "result", "", 0);
    for (uint64_t pass = 0; rc == 0 && pass <= passes / RETRY_CHUNK; pass++) {
        r->n = 0;
        r->items = 0;
        rc = prs_queue_scan_batches(st->queue, PRS_BATCH_FAILED, RETRY_CHUNK, retry_fn, r);
        if (rc || r->n == 0) break;
        PRS_ASSERT(c.failed_batches >= r->n && c.failed_items >= r->items);
        c.failed_batches -= r->n;
        c.failed_items -= r->items;
        batches += r->n;
        items += r->items;
        snprintf(info, sizeof(info), "%llu %llu %llu", (unsigned long long)batches,
                 (unsigned long long)items, (unsigned long long)before);
        rc = prs_queue_commit(st->queue, r->ups, r->n, &c, "retry", info, strlen(info));
    }
    free(r);
    if (rc)
        return prs_jobreport_fail(rep, PRS_EXIT_STOPPED,
                                  "--retry-failed: cannot reset the failed "
                                  "mini-batches: %s",
                                  strerror(-rc));
    prs_joblog_master(st->log,
                      "--retry-failed: %llu failed mini-batches (%llu items) run again with "
                      "fresh tries",
                      (unsigned long long)batches, (unsigned long long)items);
    return 0;
}
