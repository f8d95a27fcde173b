/* malloc_conf.h -- jemalloc's start-up options for the programs that link it: `prs`, and
 * tools/bench/bench_footprint, which measures what `prs` uses.
 *
 * Owns: the `malloc_conf` string jemalloc reads before the first allocation (the
 *   environment's MALLOC_CONF is read after it and wins, option by option).
 * May call: nothing. Not part of libprs: a library must not choose its host's allocator
 *   settings (a host that embeds libprs keeps its own).
 *
 * narenas:1 -- jemalloc's automatic arenas serve only the threads that are not workers
 *   (coordinator, log flusher, committer, capture): each worker creates an arena of its
 *   own (core/worker.c), so the automatic ones need not scale with the CPUs (jemalloc's
 *   default, 4 per CPU, created as threads first allocate: ~100 KiB of metadata and slabs
 *   each). Measured by tools/bench/footprint: runtime peak RSS of a 1-worker tiny job
 *   -0.3 to -0.4 MiB; tools/bench/sched unchanged within noise (README, Edge footprint). */
#ifndef PRS_MALLOC_CONF_H
#define PRS_MALLOC_CONF_H

/* Exported (-rdynamic, default visibility): jemalloc looks it up in the executable. */
extern const char *malloc_conf __attribute__((visibility("default")));

#endif
