/* prs_host.h -- the co-process ABI: how prs drives an entry script written in another
 * language (Python today) that runs in a host process of its own. Stable, like
 * prs_entry.h is for shared objects; any language can implement the host side.
 *
 * One host process per worker. The worker thread starts it when the worker starts (and
 * again after it died), pins it to the worker's CPU, and talks to it over two pipes with
 * the frames below. The host never touches the job's files: prs writes every row, error
 * and log line, so exactly-once, resume and the logs/ layout hold for any host.
 *
 * File descriptors of the host process:
 *   0  /dev/null
 *   1  its stdout: a pipe; prs logs every line to logs/user/<ip>/<node>.log.txt,
 *      tagged with the worker ("worker-N: stdout: ...")
 *   2  its stderr: the same, tagged "stderr"; the last 16 KiB written during a request
 *      go into the error file if the host dies during it
 *   3  requests from prs (read end)
 *   4  answers to prs (write end)
 * Environment: prs's own, plus PRS_HOST_WORKER=N (the worker id), PRS_HOST_PARENT=PID
 * (prs's pid: a host whose parent is gone must exit; prs asks the kernel to kill it with
 * SIGKILL when the worker's thread ends, see PR_SET_PDEATHSIG), and with GPUs shared out
 * CUDA_VISIBLE_DEVICES=G (G = worker mod the GPU count: a restarted host gets the same).
 *
 * A frame: an 8-byte head { uint32 type; uint32 length } then `length` payload bytes.
 * Every integer is little-endian; strings are UTF-8 (paths: the bytes of the path) and
 * NUL-terminated where a list of them follows. A payload is at most PRS_HOST_FRAME_MAX
 * bytes; a larger length is a protocol error (prs kills the host).
 *
 * Requests (prs -> host), one at a time; the host answers each before the next comes:
 *   INIT      "key=value\0" pairs, then "--\0", then argv[0..]: argv[0] is the entry
 *             script's path, argv[1..] the arguments given after `--` (side-input names
 *             replaced by their paths). Keys: script (absolute path), worker, output_dir,
 *             input_format (files|csv|tsv|jsonl|lines), row_format (space|csv|tsv|jsonl),
 *             dataframe_header (0|1), logging_level (10..50), memory_limit (bytes of
 *             RLIMIT_AS prs set on the host, 0: none), check (1: only import the
 *             script and look for run; prs does this once per job before the workers
 *             start, so that a script that does not import is a usage error), and only
 *             for a partitioned job partition_keys ("COL[,COL...]", the key names).
 *             Answer: READY after importing the script and calling its init(), or ERROR.
 *   BATCH     uint64 batch id, uint32 attempt (1 = first try), uint32 count, then
 *             with partition_keys in INIT: uint32 missing (bit i: key i has no value),
 *                      then one NUL-terminated value per key ("" when missing);
 *             files:   count NUL-terminated absolute paths;
 *             tabular: uint32 header length, the header row (csv/tsv; empty for jsonl and
 *                      lines), then the count records, each followed by '\n' (a record
 *                      may hold newlines inside quotes: the host parses, not splits).
 *             Answer: ROWS (or ROWS_TEXT) or ERROR, after any LOG, FAIL_ITEM and HEADER
 *             frames.
 *   SHUTDOWN  empty. The host calls the script's shutdown() if it has one, answers BYE
 *             (or ERROR) and exits 0. End of file on fd 3 means the same, without BYE.
 *
 * Answers and notes (host -> prs):
 *   READY     empty: init() returned; the host takes batches.
 *   LOG       uint32 level (10 DEBUG .. 50 CRITICAL), then the message: one log line of
 *             the script's logger, at or above --logging-level.
 *   FAIL_ITEM uint32 item index, then a message: why that item produced no row (shown
 *             in error.txt; the counts follow the rows, as for prs_fail_item).
 *   HEADER    the DataFrame header line (only with dataframe_header=1): prs writes it
 *             once, as the output file's first line.
 *   ROWS      uint32 count, then count rows, each uint32 length + bytes (no newline):
 *             the batch succeeded; each row counts one succeeded item.
 *   ROWS_TEXT the same answer, cheaper to build when no row holds a newline: uint32
 *             count, then the count rows, each followed by '\n' (a count that does not
 *             match the newlines is a protocol error).
 *   ERROR     uint32 kind (enum below), then a one-line message, '\n', and the
 *             traceback (may be empty). For BATCH the try fails: its rows are discarded
 *             and it is retried up to --run-max-try.
 *   BYE       empty: shutdown() returned.
 * The host dying (any signal, any exit) during a request fails that request: a BATCH
 * is charged one try; prs starts a new host before the worker's next batch. */
#ifndef PRS_HOST_H
#define PRS_HOST_H

#include <stdint.h>

#define PRS_HOST_FRAME_HEAD_BYTES 8u
#define PRS_HOST_FRAME_MAX (1u << 30)

enum prs_host_frame {
    PRS_HOST_INIT = 1,
    PRS_HOST_BATCH = 2,
    PRS_HOST_SHUTDOWN = 3,
    PRS_HOST_READY = 64,
    PRS_HOST_LOG = 65,
    PRS_HOST_FAIL_ITEM = 66,
    PRS_HOST_HEADER = 67,
    PRS_HOST_ROWS = 68,
    PRS_HOST_ERROR = 69,
    PRS_HOST_BYE = 70,
    PRS_HOST_ROWS_TEXT = 71,
};

/* ERROR kinds: what failed. */
enum prs_host_error {
    PRS_HOST_ERR_RUN = 1,      /* run() raised, returned None or something not a list */
    PRS_HOST_ERR_IMPORT = 2,   /* the script does not import (answer to INIT) */
    PRS_HOST_ERR_NO_RUN = 3,   /* it defines no callable run(mini_batch) */
    PRS_HOST_ERR_INIT = 4,     /* its init() raised */
    PRS_HOST_ERR_MISSING = 5,  /* something the job needs is missing (pandas, tabular) */
    PRS_HOST_ERR_SHUTDOWN = 6, /* its shutdown() raised */
    PRS_HOST_ERR_PROTOCOL = 7, /* the host did not understand a request */
    PRS_HOST_ERR_MEMORY = 8,   /* run() passed memory_limit (MemoryError): the host exits */
};

#endif
