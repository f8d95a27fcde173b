/* jobcreate.c -- see jobcreate.h. */
#include "jobcreate.h"

#include "clock.h"
#include "inputdiff.h"
#include "partition.h"
#include "trypick.h"
#include "records.h"
#include "scan.h"
#include "shard.h"

#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define CREATE_MAP_GROW_TRIES 24u /* doublings of the queue map while creating */
#define TAB_DROP_BEHIND_BYTES ((uint64_t)64 << 20)
#define TAB_MAX_RECORDS_PER_BATCH ((uint32_t)1 << 30)

/* One builder run: the queue's builder, the batch being filled, and the error text. */
typedef struct creator {
    const prs_job_config *cfg;
    const char *state_dir; /* OUT/.prs, for messages */
    int root_fd;
    prs_queue_builder *b; /* this run's (prs_queue_build_begin) */
    uint64_t batch_first; /* files: the first item of the batch being filled */
    uint32_t batch_len;
    prs_batcher bat; /* tabular: the batch being filled, as a byte range of one file */
    prs_tab_ref ref;
    prs_scan_skipped *skipped; /* what a directory walk left out (added to) */
    prs_shard_cut cut;         /* a shard (cut.shard.count > 0): which batches are its own */
    uint32_t global_len;       /* a shard: items of the job's current batch walked so far */
    enum prs_shard_take take;  /* a shard: what to do with the job's current batch */
    struct picker {            /* FILE:LINE entries of a list: the file they pick from */
        char path[PATH_MAX];   /* "" when none is open */
        char *map;
        size_t len;
        prs_splitter sp;
        uint64_t last_line; /* the line of the record taken last */
    } pick;
    prs_partition *part;       /* --partition-keys: the grouping, while it runs */
    char spill[PATH_MAX + 32]; /* its grouped copy: the batches' file */
    uint32_t part_header;      /* the copy's header row bytes */
    uint32_t part_keys;        /* key columns */
    prs_trypick pk;            /* prs try: the one batch kept (cfg->pick_item, pick_batch) */
    char err[2048];
} creator;

#define CREATE_SHARD_STOP 1 /* a walk callback's "stop": the shard's range is behind the walk */

/* A shard's file item: counted, skipped, or (*take) added as usual. The job's batches are
 * every mini_batch_size items of the walk, so a shard's own items form whole batches. */
static int shard_item(creator *cr, const char *path, size_t len, bool *take) {
    uint32_t mbs = cr->cfg->mini_batch_size;
    *take = false;
    if (cr->cut.counting) {
        prs_shard_count_item(&cr->cut, path, len);
        if (++cr->global_len == mbs) {
            prs_shard_count_batch(&cr->cut);
            cr->global_len = 0;
        }
        return 0;
    }
    if (cr->global_len == 0) cr->take = prs_shard_build_batch(&cr->cut);
    if (++cr->global_len == mbs) cr->global_len = 0;
    if (cr->take == PRS_SHARD_PAST) return CREATE_SHARD_STOP;
    *take = cr->take == PRS_SHARD_TAKE;
    return 0;
}

static int build_item(void *arg, const char *path, size_t len) {
    creator *cr = arg;
    bool take = true;
    if (cr->cut.shard.count) {
        int stop = shard_item(cr, path, len, &take);
        if (stop || !take) return stop;
    }
    int rc = prs_queue_build_item(cr->b, path, len + 1);
    if (rc) {
        snprintf(cr->err, sizeof(cr->err), "%s: cannot add to the queue: %s", path, strerror(-rc));
        return rc;
    }
    if (++cr->batch_len == cr->cfg->mini_batch_size) {
        rc = prs_queue_build_batch(cr->b, cr->batch_first, cr->batch_len);
        cr->batch_first += cr->batch_len;
        cr->batch_len = 0;
        if (rc) snprintf(cr->err, sizeof(cr->err), "queue: %s", strerror(-rc));
    }
    return rc;
}

/* A shard's tabular batch (one range of one file): taken (built as usual), skipped or
 * counted (nothing built), or past the shard's range (the walk stops). */
static enum prs_shard_take tab_shard_batch(creator *cr) {
    prs_shard_cut *cut = &cr->cut;
    if (!cut->shard.count) return PRS_SHARD_TAKE;
    enum prs_shard_take take = PRS_SHARD_SKIP;
    if (cut->counting) {
        char key[PRS_QUEUE_MAX_ITEM_BYTES + 64];
        int n = snprintf(key, sizeof(key), "%s\t%llu\t%llu", cr->ref.path,
                         (unsigned long long)cr->ref.offset, (unsigned long long)cr->ref.length);
        prs_shard_count_item(cut, key, (size_t)PRS_MIN(n, (int)sizeof(key)));
        prs_shard_count_batch(cut);
    } else {
        take = prs_shard_build_batch(cut);
    }
    if (take != PRS_SHARD_TAKE) cr->ref.records = 0;
    return take;
}

static int tab_close_batch(creator *cr) {
    if (cr->ref.records == 0) return 0;
    enum prs_shard_take take = tab_shard_batch(cr);
    if (cr->pk.on)
        take =
            prs_trypick_batch(&cr->pk, cr->cfg, cr->ref.path, cr->ref.first_line, cr->ref.records);
    if (take != PRS_SHARD_TAKE) cr->ref.records = 0;
    if (take != PRS_SHARD_TAKE) return take == PRS_SHARD_PAST ? CREATE_SHARD_STOP : 0;
    unsigned char rec[PRS_QUEUE_MAX_ITEM_BYTES];
    size_t len;
    int rc = prs_queue_tab_encode(&cr->ref, rec, sizeof(rec), &len);
    if (rc) {
        snprintf(cr->err, sizeof(cr->err), "%s: path too long for the queue", cr->ref.path);
        return rc;
    }
    uint64_t item = prs_queue_build_items(cr->b);
    rc = prs_queue_build_item(cr->b, rec, len);
    if (rc == 0) rc = prs_queue_build_batch_ref(cr->b, item, cr->ref.records);
    if (rc) snprintf(cr->err, sizeof(cr->err), "queue: %s", strerror(-rc));
    cr->ref.records = 0;
    return rc;
}

/* Cuts one mapped file's records into batches. */
static int tab_split(creator *cr, const char *path, char *map, size_t len) {
    prs_splitter sp;
    int rc = prs_splitter_init(&sp, (enum prs_format)cr->cfg->input_format, map, len);
    if (rc) return rc;
    prs_record hdr = {0}, rec;
    bool has_header = prs_splitter_header(&sp, &hdr) == 1;
    if (has_header && hdr.error) {
        snprintf(cr->err, sizeof(cr->err), "%s:%llu: the header row is malformed: %s", path,
                 (unsigned long long)hdr.line, hdr.error);
        return -EILSEQ; /* an input error: the file is rejected, exit 3 */
    }
    cr->ref = (prs_tab_ref){.path = path,
                            .header_offset = has_header ? hdr.offset : 0,
                            .header_size =
                                has_header ? (uint32_t)PRS_MIN(hdr.size_bytes, UINT32_MAX) : 0};
    prs_batcher_init(&cr->bat, cr->cfg->mini_batch_bytes);
    uint64_t dropped = 0;
    while (prs_splitter_next(&sp, &rec) == 1) {
        if (prs_batcher_add(&cr->bat, &rec) || cr->ref.records == TAB_MAX_RECORDS_PER_BATCH) {
            rc = tab_close_batch(cr);
            if (rc) return rc;
            cr->ref.offset = rec.offset;
            cr->ref.first_line = rec.line;
        }
        cr->ref.records++;
        cr->ref.length = rec.offset + rec.size_bytes + rec.term_bytes - cr->ref.offset;
        prs_trypick_mark(&cr->pk, path, rec.line);
        if (rec.offset - dropped >= TAB_DROP_BEHIND_BYTES) {
            /* Clean file pages: dropping them only means they are read again if needed. */
            uint64_t upto = rec.offset & ~(uint64_t)0xfffff;
            madvise(map + dropped, (size_t)(upto - dropped), MADV_DONTNEED);
            dropped = upto;
        }
    }
    return tab_close_batch(cr);
}

static int tab_file(void *arg, const char *path, size_t path_len) {
    (void)path_len;
    creator *cr = arg;
    int fd = openat(cr->root_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        snprintf(cr->err, sizeof(cr->err), "%s: %s", path, strerror(e));
        return -e;
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        snprintf(cr->err, sizeof(cr->err), "%s: %s", path, strerror(-rc));
        goto close_fd;
    }
    size_t len = (size_t)st.st_size;
    if (len == 0) goto close_fd; /* no records */
    char *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        rc = -errno;
        snprintf(cr->err, sizeof(cr->err), "%s: cannot map it: %s", path, strerror(-rc));
        goto close_fd;
    }
    madvise(map, len, MADV_SEQUENTIAL);
    rc = tab_split(cr, path, map, len);
    munmap(map, len);
close_fd:
    close(fd);
    return rc;
}

/* ---- FILE:LINE entries (logs/failed_items.txt as --input @LIST of a tabular job) ------- */

static void pick_close(creator *cr) {
    if (cr->pick.path[0]) munmap(cr->pick.map, cr->pick.len);
    cr->pick.path[0] = 0;
}

/* Maps file and reads its header, as tab_file does for a whole file. */
static int pick_open(creator *cr, const char *file) {
    int rc = tab_close_batch(cr);
    pick_close(cr);
    if (rc) return rc;
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {
        rc = fd < 0 || st.st_size ? -errno : -EILSEQ;
        snprintf(cr->err, sizeof(cr->err), "%.1900s: %s", file,
                 fd < 0 || st.st_size ? strerror(-rc) : "empty");
        if (fd >= 0) close(fd);
        return rc;
    }
    cr->pick.len = (size_t)st.st_size;
    cr->pick.map = mmap(NULL, cr->pick.len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (cr->pick.map == MAP_FAILED) {
        snprintf(cr->err, sizeof(cr->err), "%.1900s: cannot map it: %s", file, strerror(errno));
        return -errno;
    }
    snprintf(cr->pick.path, sizeof(cr->pick.path), "%s", file);
    cr->pick.last_line = 0;
    prs_record hdr = {0};
    prs_splitter_init(&cr->pick.sp, (enum prs_format)cr->cfg->input_format, cr->pick.map,
                      cr->pick.len);
    bool has_header = prs_splitter_header(&cr->pick.sp, &hdr) == 1;
    cr->ref = (prs_tab_ref){.path = cr->pick.path,
                            .header_offset = has_header ? hdr.offset : 0,
                            .header_size =
                                has_header ? (uint32_t)PRS_MIN(hdr.size_bytes, UINT32_MAX) : 0};
    return 0;
}

/* The one record of file starting at line: it joins the open batch when it follows it
 * and fits, else starts the next one. */
static int pick_take(creator *cr, const char *file, uint64_t line) {
    int rc = 0;
    if (strcmp(cr->pick.path, file) || line <= cr->pick.last_line) rc = pick_open(cr, file);
    prs_record rec;
    bool found = false;
    while (rc == 0 && prs_splitter_next(&cr->pick.sp, &rec) == 1) {
        if (rec.line < line) continue;
        found = rec.line == line; /* the splitter now stands right after it */
        break;
    }
    if (rc) return rc;
    if (!found) {
        snprintf(cr->err, sizeof(cr->err), "%.1900s:%llu: no record starts at that line", file,
                 (unsigned long long)line);
        return -EILSEQ;
    }
    bool follows = cr->ref.records && cr->ref.offset + cr->ref.length == rec.offset;
    if (!follows || prs_batcher_add(&cr->bat, &rec)) {
        if ((rc = tab_close_batch(cr))) return rc;
        prs_batcher_init(&cr->bat, cr->cfg->mini_batch_bytes);
        prs_batcher_add(&cr->bat, &rec);
        cr->ref.offset = rec.offset;
        cr->ref.first_line = rec.line;
    }
    cr->ref.records++;
    cr->ref.length = rec.offset + rec.size_bytes + rec.term_bytes - cr->ref.offset;
    prs_trypick_mark(&cr->pk, file, rec.line);
    cr->pick.last_line = rec.line;
    return 0;
}

/* A list entry of a tabular job: a file, or FILE:LINE naming one record of one (an
 * entry that names an existing file as a whole is a file). */
static int tab_entry(void *arg, const char *path, size_t path_len) {
    creator *cr = arg;
    const char *colon = strrchr(path, ':');
    struct stat st;
    size_t digits = colon ? strspn(colon + 1, "0123456789") : 0;
    if (!colon || digits == 0 || colon[1 + digits] || stat(path, &st) == 0) {
        int rc = tab_close_batch(cr);
        pick_close(cr);
        return rc ? rc : tab_file(arg, path, path_len);
    }
    char file[PATH_MAX];
    snprintf(file, sizeof(file), "%.*s", (int)(colon - path), path);
    return pick_take(cr, file, strtoull(colon + 1, NULL, 10));
}

/* The walk itself: fn per file of a list, of one tabular file, or of a directory. */
static int create_walk_with(creator *cr, prs_scan_fn fn) {
    const char *in = cr->cfg->input;
    bool tabular = cr->cfg->input_format != PRS_FORMAT_FILES;
    struct stat st;
    if (in[0] == '@' && fn == tab_file) {
        int rc = prs_scan_list(in + 1, tab_entry, cr, cr->err, sizeof(cr->err));
        if (rc == 0) rc = tab_close_batch(cr); /* the last picks' batch */
        pick_close(cr);
        return rc;
    }
    if (in[0] == '@') return prs_scan_list(in + 1, fn, cr, cr->err, sizeof(cr->err));
    if (tabular && stat(in, &st) == 0 && S_ISREG(st.st_mode)) {
        char real[PATH_MAX];
        if (!realpath(in, real)) return -errno;
        return fn(cr, real, strlen(real));
    }
    if (tabular) return prs_scan_dir(in, fn, cr, cr->err, sizeof(cr->err));
    return prs_scan_dir_counted(in, fn, cr, cr->skipped, cr->err, sizeof(cr->err));
}

/* --partition-keys, pass 1: every file's records into the grouping. */
static int part_file(void *arg, const char *path, size_t path_len) {
    (void)path_len;
    creator *cr = arg;
    char full[PATH_MAX * 2];
    if (path[0] == '/')
        snprintf(full, sizeof(full), "%s", path);
    else
        snprintf(full, sizeof(full), "%s/%s", cr->cfg->input, path);
    return prs_partition_add(cr->part, full, path, cr->err, sizeof(cr->err));
}

/* Pass 2: one batch per partition, a range of the grouped copy with its key values. */
static int part_batch(void *arg, const prs_partition_batch *b) {
    creator *cr = arg;
    cr->ref = (prs_tab_ref){.path = cr->spill,
                            .offset = b->offset,
                            .length = b->length,
                            .first_line = b->first_line,
                            .header_size = cr->part_header,
                            .records = b->records,
                            .key_count = cr->part_keys,
                            .keys_missing = b->missing,
                            .key_values = b->values,
                            .key_values_len = (uint32_t)b->values_len};
    return tab_close_batch(cr);
}

/* The grouping's copy lives in OUT/.prs (absolute: workers open it whatever the root). */
static int create_partitioned(creator *cr, prs_scan_fn *fn) {
    char dir[PATH_MAX];
    if (!realpath(cr->state_dir, dir)) {
        snprintf(cr->err, sizeof(cr->err), "%s: %s", cr->state_dir, strerror(errno));
        return -errno;
    }
    const prs_job_config *c = cr->cfg;
    snprintf(cr->spill, sizeof(cr->spill), "%s/partitions.%s", dir,
             prs_format_name((enum prs_format)c->input_format));
    cr->part_keys = 1;
    for (const char *k = c->partition_keys; *k; k++)
        cr->part_keys += *k == ',';
    *fn = part_file;
    return prs_partition_open(&cr->part, (enum prs_format)c->input_format, c->partition_keys,
                              cr->spill, dir, 0, cr->err, sizeof(cr->err));
}

/* Walks the input: a list, one tabular file, or a directory; --partition-keys: through
 * the grouping, then one batch per partition. */
static int create_walk_input(creator *cr) {
    bool tabular = cr->cfg->input_format != PRS_FORMAT_FILES;
    if (cr->cfg->partition_keys) {
        prs_scan_fn fn;
        int rc = create_partitioned(cr, &fn);
        if (rc == 0) rc = create_walk_with(cr, fn);
        if (rc == 0)
            rc = prs_partition_finish(cr->part, part_batch, cr, &cr->part_header, cr->err,
                                      sizeof(cr->err));
        prs_partition_close(cr->part);
        cr->part = NULL;
        return rc;
    }
    return create_walk_with(cr, tabular ? tab_file : build_item);
}

/* One walk of the input through the builder. */
static int create_walk(creator *cr) {
    int rc = create_walk_input(cr);
    return rc == CREATE_SHARD_STOP ? 0 : rc;
}

/* A shard's first walk: counts the job's batches and fixes the shard's range. */
static int shard_count(creator *cr) {
    prs_shard s = {.index = cr->cfg->shard_index, .count = cr->cfg->shard_count};
    prs_shard_count_begin(&cr->cut, s);
    prs_scan_skipped counted_later = {0}, *skipped = cr->skipped;
    cr->skipped = &counted_later;
    int rc = create_walk(cr);
    cr->skipped = skipped;
    if (rc) return rc;
    if (cr->global_len) prs_shard_count_batch(&cr->cut); /* the last, shorter batch */
    cr->global_len = 0;
    if (prs_shard_build_begin(&cr->cut) == -ERANGE) {
        snprintf(cr->err, sizeof(cr->err),
                 "--shard %u/%u: the job has only %llu mini-batches: split it into at most %llu "
                 "shards (or use a smaller --mini-batch-size)",
                 s.index, s.count, (unsigned long long)cr->cut.batches,
                 (unsigned long long)cr->cut.batches);
        return -ERANGE;
    }
    return 0;
}

/* A shard's record ("shard" meta: its range of the job's batches), said in master.txt. */
static int shard_record(creator *cr, prs_joblog *log) {
    char rec[256];
    int n = prs_shard_record(&cr->cut, rec, sizeof(rec));
    int rc = n < 0 ? n : prs_queue_build_meta(cr->b, "shard", rec, (size_t)n);
    if (rc == 0)
        prs_joblog_master(log, "shard %u of %u: the job's mini-batches %llu..%llu of %llu",
                          cr->cut.shard.index, cr->cut.shard.count,
                          (unsigned long long)cr->cut.first, (unsigned long long)cr->cut.end - 1,
                          (unsigned long long)cr->cut.batches);
    return rc;
}

/* batches, items, records: the builder's counts before it ended. */
static void create_log(const creator *cr, prs_joblog *log, uint64_t t0, uint64_t batches,
                       uint64_t items, uint64_t records) {
    const prs_job_config *c = cr->cfg;
    double s = (double)(prs_mono_ns() - t0) / 1e9;
    if (c->partition_keys) {
        prs_joblog_master(log,
                          "created %llu mini-batches, one per combination of --partition-keys %s, "
                          "from %llu %s records in %.3f s (grouped copy: %s)",
                          (unsigned long long)batches, c->partition_keys,
                          (unsigned long long)records,
                          prs_format_name((enum prs_format)c->input_format), s, cr->spill);
        return;
    }
    if (c->input_format != PRS_FORMAT_FILES) {
        prs_joblog_master(log,
                          "created %llu mini-batches of up to %llu bytes from %llu %s records in "
                          "%.3f s",
                          (unsigned long long)batches, (unsigned long long)c->mini_batch_bytes,
                          (unsigned long long)records,
                          prs_format_name((enum prs_format)c->input_format), s);
        return;
    }
    prs_joblog_master(log, "created %llu mini-batches of up to %u files from %llu files in %.3f s",
                      (unsigned long long)batches, c->mini_batch_size, (unsigned long long)items,
                      s);
}

/* After the walk: the pick kept (said in master.txt), or -ESRCH with err saying why not. */
static int pick_end(creator *cr, prs_joblog *log) {
    int rc = prs_trypick_end(&cr->pk, cr->cfg, cr->err, sizeof(cr->err));
    if (rc == 0 && cr->pk.on)
        prs_joblog_master(log,
                          "prs try: mini-batch %llu of the job (%u record%s from %s:%llu) kept, "
                          "the others not run",
                          (unsigned long long)cr->pk.id, cr->pk.records,
                          cr->pk.records == 1 ? "" : "s", cr->pk.path,
                          (unsigned long long)cr->pk.first_line);
    return rc;
}

static bool disk_full(int rc) {
    return rc == -ENOSPC || rc == -EDQUOT || rc == -EIO;
}

/* A full disk while the job is made: resumable (nothing was created), like one mid-run. */
static int create_disk_full(const creator *cr, prs_jobreport *rep, int rc) {
    /* LMDB's own writes report a full disk as EIO: say what it most likely means. */
    return prs_jobreport_fail(rep, PRS_EXIT_STOPPED,
                              "%s/data.mdb: cannot create the job: %s%s; free space and run the "
                              "same command again",
                              cr->state_dir, strerror(-rc),
                              rc == -EIO ? " (is the disk full?)" : "");
}

/* One try at creating the job; PRS_QUEUE_EMAPFULL (nothing reported yet) when the queue's
 * map filled up, and the caller grows it and tries again. */
static int create_once(creator *cr, prs_queue *q, const char *config_text, prs_jobreport *rep) {
    int rc = prs_queue_build_begin(q, &cr->b);
    if (rc)
        return prs_jobreport_fail(rep, PRS_EXIT_INTERNAL, "queue: cannot start job creation: %s",
                                  strerror(-rc));
    uint64_t t0 = prs_mono_ns();
    char since[64], run[32]; /* before the walk: a file written during it counts as changed */
    prs_inputdiff_stamp(since, sizeof(since));
    snprintf(run, sizeof(run), "%llu", (unsigned long long)cr->cfg->run_started_unix_ms);
    prs_scan_skipped sk = {0};
    cr->skipped = &sk;
    if (cr->cfg->shard_count) rc = shard_count(cr);
    if (rc == 0) rc = prs_trypick_begin(&cr->pk, cr->cfg, cr->err, sizeof(cr->err));
    if (rc == 0) rc = create_walk(cr);
    if (rc == 0) rc = pick_end(cr, rep->log);
    if (rc == 0 && sk.dir_links + sk.special + sk.broken > 0)
        prs_joblog_master(rep->log,
                          "--input %s: not items: %llu symlinks to directories or other "
                          "non-files (not followed), %llu FIFOs, sockets or devices, %llu "
                          "dangling or looping symlinks",
                          cr->cfg->input, (unsigned long long)sk.dir_links,
                          (unsigned long long)sk.special, (unsigned long long)sk.broken);
    if (rc == 0 && cr->cut.shard.count) rc = shard_record(cr, rep->log);
    if (rc == 0 && cr->batch_len) rc = prs_queue_build_batch(cr->b, cr->batch_first, cr->batch_len);
    if (rc == 0 && prs_queue_build_items(cr->b) == 0) {
        snprintf(cr->err, sizeof(cr->err), "--input %s: no input %s found", cr->cfg->input,
                 cr->cfg->input_format == PRS_FORMAT_FILES ? "files" : "records");
        rc = -ENOENT;
    }
    if (rc == 0) rc = prs_queue_build_meta(cr->b, "config", config_text, strlen(config_text));
    if (rc == 0) rc = prs_queue_build_meta(cr->b, PRS_INPUTDIFF_SINCE_KEY, since, strlen(since));
    if (rc == 0) rc = prs_queue_build_meta(cr->b, PRS_INPUTDIFF_RUN_KEY, run, strlen(run));
    if (rc) {
        prs_queue_build_abort(cr->b);
        cr->b = NULL;
        if (rc == PRS_QUEUE_EMAPFULL) return rc;
        if ((rc == -ERANGE && cr->cut.shard.count) || rc == -ESRCH)
            return prs_jobreport_fail(rep, PRS_EXIT_USAGE, "%s", cr->err);
        if (disk_full(rc)) return create_disk_full(cr, rep, rc);
        bool input = rc == -ENOENT || rc == -ENOTDIR || rc == -EACCES || rc == -ELOOP ||
                     rc == -ENAMETOOLONG || rc == -EILSEQ || rc == -EISDIR;
        /* --partition-keys naming a column the input lacks: the option is wrong. */
        bool usage = rc == -EINVAL && cr->cfg->partition_keys;
        return prs_jobreport_fail(rep,
                                  usage   ? PRS_EXIT_USAGE
                                  : input ? PRS_EXIT_INPUT
                                          : PRS_EXIT_INTERNAL,
                                  "%s", cr->err[0] ? cr->err : strerror(-rc));
    }
    uint64_t batches = prs_queue_build_batches(cr->b), items = prs_queue_build_items(cr->b),
             records = prs_queue_build_records(cr->b);
    rc = prs_queue_build_end(cr->b); /* frees the builder, whatever it returns */
    cr->b = NULL;
    if (rc == PRS_QUEUE_EMAPFULL) return rc;
    if (disk_full(rc)) return create_disk_full(cr, rep, rc);
    if (rc)
        return prs_jobreport_fail(rep, PRS_EXIT_INTERNAL, "queue: cannot commit the new job: %s",
                                  strerror(-rc));
    create_log(cr, rep->log, t0, batches, items, records);
    return 0;
}

int prs_jobcreate_run(prs_queue *q, const prs_job_config *cfg, int root_fd, const char *config_text,
                      const char *state_dir, prs_jobreport *rep, uint64_t *picked_id) {
    creator *cr = malloc(sizeof(*cr)); /* about 7 KiB: kept off the caller's stack */
    if (!cr) return prs_jobreport_fail(rep, PRS_EXIT_INTERNAL, "out of memory");
    int rc = -1;
    for (unsigned try = 0; try < CREATE_MAP_GROW_TRIES; try++) {
        *cr = (creator){.cfg = cfg, .state_dir = state_dir, .root_fd = root_fd};
        rc = create_once(cr, q, config_text, rep);
        if (rc == 0 && cr->pk.on) *picked_id = cr->pk.id;
        if (rc != PRS_QUEUE_EMAPFULL) goto free_creator;
        size_t map_bytes = 0;
        if (prs_queue_grow(q, &map_bytes)) break;
        prs_joblog_master(
            rep->log, "job state map full while creating the job: grew it to %zu bytes", map_bytes);
    }
    rc = prs_jobreport_fail(rep, PRS_EXIT_STOPPED,
                            "%s/data.mdb: job state map full and cannot grow", state_dir);
free_creator:
    free(cr);
    return rc;
}
