/* worker_input.h -- a batch's input on the worker's thread: from the dispatch message to
 * the items run() sees. worker.c's loop prepares the next batch into a reader slot (its
 * paths copied out of the queue and their reads submitted, or its record range mapped and
 * prefetched) while run() works on the current one, then turns a slot into items.
 *
 * Owns: the slots' buffers (names, paths, the tabular mapping) and the worker's per-item
 *   scratch arrays (items, views, sizes, offsets), all in struct prs_worker (worker_impl.h).
 * May call: storage/queue (the worker's reader: items, tabular refs), io/reader (submit,
 *   wait, release), io/records (the splitter), core/prs_entry (prs_entry_grow, error
 *   lines), libc (openat, mmap, madvise).
 * Callers must: call everything on the worker's own thread, after prs_reader_create
 *   (w->io) and prs_queue_reader_open (w->reader); slot index s < PRS_READER_SLOTS. */
#ifndef PRS_WORKER_INPUT_H
#define PRS_WORKER_INPUT_H

#include "worker_impl.h"

/* Grows the worker's per-item arrays to hold count items. 0 or -ENOMEM (the arrays that
 * grew stay valid; items_cap is unchanged). */
int prs_worker_input_scratch(prs_worker *w, uint32_t count);

/* Takes dispatched batch m into slot s: copies its paths out of the queue and submits
 * their reads (files), or maps its range (tabular). Never blocks on the reads. Errors are
 * kept in the slot (prep_rc with prep_what: the try fails; input_rc: every record fails)
 * and reported when the batch runs. */
void prs_worker_input_prepare(prs_worker *w, unsigned s, const prs_dispatch_msg *m);

/* The items of prepared slot s in w->items (*count of them), after
 * prs_worker_input_scratch(w, item_count). Files: waits for the reads; an unreadable file
 * is a failed item (an error line in out, done->unreadable). Tabular: splits the range; a
 * malformed record is a failed item named file:line; sets batch's header and partition
 * keys. done->input_bytes grows by what was read. Returns 0, the reader's error, -ENOMEM,
 * or -ESTALE (the input file changed since the job was created). */
int prs_worker_input_items(prs_worker *w, unsigned s, prs_out *out, prs_done_msg *done,
                           uint32_t *count, prs_batch *batch);

/* Gives slot s back: the reader recycles its buffers, a tabular mapping goes. */
void prs_worker_input_release(prs_worker *w, unsigned s);

#endif
