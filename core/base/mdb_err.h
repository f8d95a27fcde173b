/* mdb_err.h -- LMDB's return codes as the negative errnos prs passes up: one mapping for
 * every environment (the queue and the side tables), so an error means the same thing
 * whichever store returned it.
 *
 * Owns: nothing. Header only; pure, any thread.
 * May call: nothing (lmdb.h for the codes). Callers: storage/ only (the layer that opens
 *   LMDB environments).
 *
 *   0                     0
 *   an errno (rc > 0)     -rc: the system call LMDB made failed (-ENOSPC: the disk is full)
 *   MDB_NOTFOUND          -ENOENT: no such key
 *   MDB_MAP_FULL          -EFBIG: the environment's map is full. The write did not happen;
 *                         a bigger map makes room (the queue grows it, PRS_QUEUE_EMAPFULL;
 *                         for a side table it means "too big"). Not -ENOSPC: that is the
 *                         disk, and callers stop a job on it instead of growing a map.
 *   MDB_CORRUPTED, MDB_INVALID, MDB_VERSION_MISMATCH
 *                         -EBADMSG: the file is damaged or not an LMDB file of this version
 *   anything else         -EIO (MDB_TXN_FULL, MDB_BAD_VALSIZE, MDB_READERS_FULL...: a
 *                         limit prs sizes its writes to stay under; sidedb reports -EIO
 *                         from a big reservation as "too big", see sidedb.c) */
#ifndef PRS_MDB_ERR_H
#define PRS_MDB_ERR_H

#include <errno.h>
#include <lmdb.h>

static inline int prs_mdb_err(int rc) {
    if (rc == 0) return 0;
    if (rc > 0) return -rc;
    if (rc == MDB_NOTFOUND) return -ENOENT;
    if (rc == MDB_MAP_FULL) return -EFBIG;
    if (rc == MDB_CORRUPTED || rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH) return -EBADMSG;
    return -EIO;
}

#endif
