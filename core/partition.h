/* partition.h -- --partition-keys: groups a tabular input's records (csv, tsv, jsonl) by the
 * values of key columns, so that each mini-batch holds exactly the records of one
 * combination of values, in input order (ParallelRunStep's partition_keys, without the
 * pre-partitioned dataset Azure demands).
 *
 * Owns: the grouped copy of the input (the spill file the batches point into: a header row
 *   for csv/tsv, then every partition's records one after another, each record ending in
 *   "\n"), its temporary sort runs (removed by prs_partition_close), and a bounded sort
 *   buffer.
 * May call: io/records (the splitter), libxxhash, libc.
 * Callers must: use one prs_partition from one thread; add every input file before
 *   finishing; keep the files unchanged until prs_partition_finish returns.
 *
 * How, in bounded memory (an external sort): pass 1 reads each file once and turns every
 * record into a 32-byte tuple (the 128-bit XXH3 hash of its key values, where it lies:
 * file and offset, which is also its input order); PRS_PARTITION_RUN_BYTES of tuples at a
 * time are sorted by (hash, file, offset) (a stable radix sort on the hash: the input
 * order is the order tuples are added) and written out as a run. Pass 2 merges the runs (a
 * heap of their heads): equal hashes are one partition, in input order, copied record by
 * record into the spill file. Memory: the run buffer and one read buffer per run, whatever
 * the input size or the number of distinct keys, plus the input's clean mapped pages:
 * pass 1 drops them as it goes; pass 2 gathers in hash order, touching nearly every page
 * between any two drops, so it does not drop (dropping cost 40% of the time and saved no
 * peak RSS): they count in RSS, up to the input's size, and the kernel can reclaim them
 * at any time. Partitions come out in
 * hash order. Two distinct key combinations share a partition only if their 128-bit
 * hashes collide (about 2^-88 for a million distinct keys): accepted, as in any
 * content-addressed store.
 *
 * A record without a key field (a csv row with fewer fields, a jsonl object without the
 * member, or with null) has no value for it: such records form their own partition, that
 * key marked missing (C: NULL, Python: None). A key column missing from a csv/tsv header
 * is an error naming the file; every csv/tsv file must have the first one's header. */
#ifndef PRS_PARTITION_H
#define PRS_PARTITION_H

#include "records.h"

#define PRS_PARTITION_MAX_KEYS 16u
#define PRS_PARTITION_RUN_BYTES ((size_t)16 << 20) /* and as much again to sort it */
#define PRS_PARTITION_MAX_RUNS 1024u
#define PRS_PARTITION_MAX_VALUE_BYTES 4096u /* one key value, at most */
#define PRS_PARTITION_KEY_BYTES 4096u       /* the key names, "COL[,COL...]", at most */

typedef struct prs_partition prs_partition;

/* One partition, as a range of the spill file. */
typedef struct prs_partition_batch {
    uint64_t offset;     /* its first record */
    uint64_t length;     /* up to the end of its last record, "\n" included */
    uint64_t first_line; /* physical line of its first record in the spill file */
    uint32_t records;
    uint32_t missing;   /* bit i: key i has no value in these records */
    const char *values; /* key i's value, NUL-terminated, one after another ("" if missing) */
    size_t values_len;  /* bytes at values, the NULs included */
} prs_partition_batch;

/* keys: "COL[,COL...]" (at most PRS_PARTITION_MAX_KEYS); spill: the grouped copy to write;
 * tmp_dir: where sort runs go; run_bytes: the sort buffer (0: PRS_PARTITION_RUN_BYTES;
 * tests make it small to exercise the merge). -EINVAL (err names the option) for bad keys
 * or format. */
int prs_partition_open(prs_partition **out, enum prs_format format, const char *keys,
                       const char *spill, const char *tmp_dir, size_t run_bytes, char *err,
                       size_t err_size);

/* Pass 1 over one file (path opened as given; name is how messages call it). -EINVAL for a
 * missing key column or a header that differs from the first file's; -errno for I/O. */
int prs_partition_add(prs_partition *p, const char *path, const char *name, char *err,
                      size_t err_size);

/* Pass 2: writes the spill file and calls fn per partition, in hash order; fn's non-zero
 * return stops and is returned. *header_size: the header row's bytes at offset 0 (0: none). */
int prs_partition_finish(prs_partition *p, int (*fn)(void *arg, const prs_partition_batch *b),
                         void *arg, uint32_t *header_size, char *err, size_t err_size);

/* Frees everything and removes the temporary runs (not the spill file). NULL is a no-op. */
void prs_partition_close(prs_partition *p);

/* Records seen so far, and distinct partitions once finished. */
uint64_t prs_partition_records(const prs_partition *p);
uint64_t prs_partition_count(const prs_partition *p);

#endif
