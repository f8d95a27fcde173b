/* bench_footprint -- peak resident memory of a tiny job, measured from inside (getrusage),
 * one measurement per process so that none inherits another's pages:
 *
 *   bench_footprint supervise SCRIPT INPUT OUT   prs_supervise with one worker, as `prs run`:
 *                                                prints "supervisor_kib N" and "runtime_kib N"
 *                                                (the runtime is the supervisor's child)
 *   bench_footprint run WORKERS SCRIPT INPUT OUT prs_job_run in this process: "job_kib N"
 *
 * It links what `prs` links (libprs.a, jemalloc), so the figures are the CLI's. OUT is
 * started afresh. Exit 0, 2 on bad usage, 1 if the job does not succeed (its message). */
#include "prs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static long peak_kib(int who) {
    struct rusage ru;
    if (getrusage(who, &ru) != 0) return -1;
    return ru.ru_maxrss; /* KiB on Linux */
}

static void configure(prs_job_config *c, const char *script, const char *input, const char *out,
                      uint32_t workers) {
    prs_job_config_defaults(c);
    c->entry_script = script;
    c->input = input;
    c->output_dir = out;
    c->workers = workers;
    c->quiet = true;
    c->fresh = true;
    c->durable = false; /* the disk is not what is measured */
}

int main(int argc, char **argv) {
    prs_job_config c;
    prs_job_report r;
    int code;
    if (argc == 5 && strcmp(argv[1], "supervise") == 0) {
        configure(&c, argv[2], argv[3], argv[4], 1);
        code = prs_supervise(&c, &r);
        if (code == 0) {
            printf("supervisor_kib %ld\nruntime_kib %ld\n", peak_kib(RUSAGE_SELF),
                   peak_kib(RUSAGE_CHILDREN));
        }
    } else if (argc == 6 && strcmp(argv[1], "run") == 0) {
        long workers = strtol(argv[2], NULL, 10);
        if (workers < 1 || workers > (long)PRS_MAX_WORKERS) {
            fprintf(stderr, "bench_footprint: WORKERS '%s' is not 1..%u\n", argv[2],
                    PRS_MAX_WORKERS);
            return 2;
        }
        configure(&c, argv[3], argv[4], argv[5], (uint32_t)workers);
        code = prs_job_run(&c, &r);
        if (code == 0) printf("job_kib %ld\n", peak_kib(RUSAGE_SELF));
    } else {
        fprintf(stderr, "usage: bench_footprint supervise SCRIPT INPUT OUT\n"
                        "       bench_footprint run WORKERS SCRIPT INPUT OUT\n");
        return 2;
    }
    if (code != 0) {
        fprintf(stderr, "bench_footprint: the job exited %d: %s\n", code, r.message);
        return 1;
    }
    return 0;
}
