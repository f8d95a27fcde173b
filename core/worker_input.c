/* worker_input.c -- see worker_input.h. */
#include "worker_input.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int prs_worker_input_scratch(prs_worker *w, uint32_t count) {
    if (count <= w->items_cap) return 0;
    uint32_t n = PRS_MAX(count, 16u);
    prs_item *items = realloc(w->items, n * sizeof(*items));
    if (items) w->items = items;
    const void **views = realloc(w->views, n * sizeof(*views));
    if (views) w->views = views;
    size_t *sizes = realloc(w->view_sizes, n * sizeof(*sizes));
    if (sizes) w->view_sizes = sizes;
    size_t *offsets = realloc(w->offsets, n * sizeof(*offsets));
    if (offsets) w->offsets = offsets;
    if (!items || !views || !sizes || !offsets) return -ENOMEM;
    w->items_cap = n;
    return 0;
}

/* Grows a slot's per-item arrays to hold count paths. */
static int slot_scratch(prs_worker_slot *sl, uint32_t count) {
    if (count <= sl->cap) return 0;
    uint32_t n = PRS_MAX(count, 16u);
    size_t *off = realloc(sl->name_off, n * sizeof(*off));
    if (off) sl->name_off = off;
    const char **paths = realloc(sl->paths, n * sizeof(*paths));
    if (paths) sl->paths = paths;
    if (!off || !paths) return -ENOMEM;
    sl->cap = n;
    return 0;
}

static int slot_names_add(prs_worker_slot *sl, const char *name, size_t len) {
    int rc = prs_entry_grow(&sl->names, &sl->names_cap, sl->names_len + len + 1);
    if (rc) return rc;
    memcpy(sl->names + sl->names_len, name, len);
    sl->names[sl->names_len + len] = 0;
    sl->names_len += len + 1;
    return 0;
}

/* Tabular: maps the batch's input file and asks the kernel to read its range ahead, so
 * the pages arrive while run() works on the batch before. The whole file is mapped (the
 * header sits at its start); only the range is prefetched, and the mapping goes when the
 * batch ends, so memory holds at most two batches' pages of a file of any size. */
static int slot_map(prs_worker *w, prs_worker_slot *sl) {
    int fd = openat(w->shared->input_root_fd, sl->ref.path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return -errno;
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        goto close_fd;
    }
    uint64_t end = sl->ref.offset + sl->ref.length;
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < end ||
        (uint64_t)st.st_size < sl->ref.header_offset + sl->ref.header_size) {
        rc = -ESTALE; /* shorter than when the job was created */
        goto close_fd;
    }
    void *map = mmap(NULL, (size_t)end, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        rc = -errno;
        goto close_fd;
    }
    long page = sysconf(_SC_PAGESIZE);
    uint64_t from = sl->ref.offset & ~(uint64_t)(page - 1);
    madvise((char *)map + from, (size_t)(end - from), MADV_SEQUENTIAL);
    madvise((char *)map + from, (size_t)(end - from), MADV_WILLNEED);
    sl->map = map;
    sl->map_len = (size_t)end;
close_fd:
    close(fd);
    return rc;
}

/* See worker_input.h. */
void prs_worker_input_prepare(prs_worker *w, unsigned s, const prs_dispatch_msg *m) {
    prs_worker_slot *sl = &w->slot[s];
    bool tabular = w->shared->format != PRS_FORMAT_FILES;
    sl->m = *m;
    sl->prep_rc = 0;
    sl->input_rc = 0;
    sl->prep_what = "prs could not prepare the batch";
    sl->names_len = 0;
    sl->submitted = false;
    uint32_t want = tabular ? 1 : m->item_count;
    int rc = prs_worker_input_scratch(w, want);
    if (rc == 0) rc = slot_scratch(sl, want);
    if (rc == 0) rc = prs_queue_reader_begin(w->reader);
    if (rc) goto fail;
    rc = prs_queue_reader_items(w->reader, m->first_item, want, w->views, w->view_sizes);
    if (rc) {
        prs_queue_reader_end(w->reader);
        sl->prep_what = "prs could not read the batch's items from the queue";
        goto fail;
    }
    if (tabular) {
        prs_tab_ref ref;
        rc = prs_queue_tab_decode(w->views[0], w->view_sizes[0], &ref);
        if (rc == 0 && ref.records != m->item_count) rc = -EBADMSG;
        size_t plen = rc == 0 ? strlen(ref.path) : 0;
        if (rc == 0) rc = slot_names_add(sl, ref.path, plen);
        /* A partition's key values (NUL-separated) follow the path in the same buffer. */
        if (rc == 0 && ref.key_count && ref.key_count != w->pkey_count) rc = -EBADMSG;
        if (rc == 0 && ref.key_count)
            rc = slot_names_add(sl, ref.key_values, ref.key_values_len - 1);
        prs_queue_reader_end(w->reader);
        if (rc) {
            sl->prep_what = "prs could not decode the batch's record range in the queue";
            goto fail;
        }
        sl->ref = ref;
        sl->ref.path = sl->names;
        sl->ref.key_values = ref.key_count ? sl->names + plen + 1 : NULL;
        /* Not an internal error: every record of the batch fails, as an unreadable file's
         * item does. */
        sl->input_rc = slot_map(w, sl);
        return;
    }
    for (uint32_t i = 0; i < want && rc == 0; i++) {
        size_t len = w->view_sizes[i];
        const char *p = w->views[i];
        if (len == 0 || p[len - 1] != 0) rc = -EBADMSG; /* stored with its NUL */
        sl->name_off[i] = sl->names_len;
        if (rc == 0) rc = slot_names_add(sl, p, len - 1);
    }
    prs_queue_reader_end(w->reader);
    if (rc) {
        sl->prep_what = "prs could not copy the batch's paths from the queue";
        goto fail;
    }
    for (uint32_t i = 0; i < want; i++)
        sl->paths[i] = sl->names + sl->name_off[i];
    rc = prs_reader_submit(w->io, s, sl->paths, want);
    if (rc) {
        sl->prep_what = "prs could not submit the batch's reads";
        goto fail;
    }
    sl->submitted = true;
    return;
fail:
    sl->prep_rc = rc;
}

/* Files: waits for the slot's reads; items that could not be read are failed items. */
static int worker_items_files(prs_worker *w, unsigned s, prs_out *out, prs_done_msg *done,
                              uint32_t *count) {
    prs_worker_slot *sl = &w->slot[s];
    const prs_read_item *ri;
    int n = prs_reader_wait(w->io, s, &ri);
    if (n < 0) return n;
    PRS_ASSERT((uint32_t)n == sl->m.item_count);
    uint32_t k = 0;
    for (uint32_t i = 0; i < (uint32_t)n; i++) {
        if (ri[i].error) {
            /* Not handed to run(): it produces no row, so it counts as a failed item. */
            prs_out_error(out, sl->paths[i], "cannot read input file: %s",
                          ri[i].error == -ESPIPE ? "not a regular file (a FIFO, socket or device)"
                                                 : strerror(-ri[i].error));
            done->unreadable++;
            continue;
        }
        w->items[k++] =
            (prs_item){.name = sl->paths[i], .data = ri[i].data, .size = ri[i].size_bytes};
        done->input_bytes += ri[i].size_bytes;
    }
    *count = k;
    return 0;
}

/* Tabular: splits the slot's range into records; a malformed one is a failed item named
 * file:line, the others are handed to run(). */
static int worker_items_tabular(prs_worker *w, unsigned s, prs_out *out, prs_done_msg *done,
                                uint32_t *count, prs_batch *batch) {
    prs_worker_slot *sl = &w->slot[s];
    prs_splitter sp;
    const char *buf = sl->map;
    int rc = prs_splitter_init_at(&sp, w->shared->format, buf, sl->map_len, sl->ref.offset,
                                  sl->ref.first_line);
    done->input_bytes += sl->ref.length; /* the range the records are split from */
    if (rc) return rc;
    prs_record rec;
    uint32_t seen = 0, k = 0;
    size_t used = 0, plen = strlen(sl->ref.path);
    char name[PRS_QUEUE_MAX_ITEM_BYTES + 32];
    /* Names go to w->data first (it may move while growing), pointers are set after.
     * Built by hand, not snprintf: this runs once per record, often 10M+ times a job. */
    while (seen < sl->ref.records && prs_splitter_next(&sp, &rec) == 1) {
        seen++;
        int rc2 = prs_entry_grow(&w->data, &w->data_cap, used + plen + 24);
        if (rc2) return rc2;
        char *dst = w->data + used;
        memcpy(dst, sl->ref.path, plen);
        dst[plen] = ':';
        char digits[24];
        size_t nd = 0;
        for (uint64_t v = rec.line; v; v /= 10)
            digits[nd++] = (char)('0' + v % 10);
        for (size_t d = 0; d < nd; d++)
            dst[plen + 1 + d] = digits[nd - 1 - d];
        size_t len = plen + 1 + nd;
        dst[len] = 0;
        if (rec.error) {
            memcpy(name, dst, len + 1);
            prs_out_error(out, name, "malformed record: %s", rec.error);
            done->unreadable++;
            continue;
        }
        w->offsets[k] = used;
        used += len + 1;
        w->items[k++] = (prs_item){.data = buf + rec.offset, .size = rec.size_bytes};
    }
    if (seen != sl->ref.records || sp.pos != sl->map_len) return -ESTALE;
    for (uint32_t i = 0; i < k; i++)
        w->items[i].name = w->data + w->offsets[i];
    if (sl->ref.header_size) {
        batch->header = buf + sl->ref.header_offset;
        batch->header_size = sl->ref.header_size;
    }
    if (sl->ref.key_count) {
        const char *v = sl->ref.key_values;
        for (uint32_t i = 0; i < w->pkey_count; i++, v += strlen(v) + 1)
            w->pvalues[i] = sl->ref.keys_missing & (1u << i) ? NULL : v;
        batch->partition_key_count = w->pkey_count;
        batch->partition_keys = w->pkeys;
        batch->partition_values = w->pvalues;
    }
    *count = k;
    return 0;
}

void prs_worker_input_release(prs_worker *w, unsigned s) {
    prs_worker_slot *sl = &w->slot[s];
    if (sl->submitted) prs_reader_release(w->io, s);
    sl->submitted = false;
    if (sl->map) munmap(sl->map, sl->map_len);
    sl->map = NULL;
}

int prs_worker_input_items(prs_worker *w, unsigned s, prs_out *out, prs_done_msg *done,
                           uint32_t *count, prs_batch *batch) {
    if (w->shared->format == PRS_FORMAT_FILES) return worker_items_files(w, s, out, done, count);
    return worker_items_tabular(w, s, out, done, count, batch);
}
