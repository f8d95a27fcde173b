/* The coordinator's loop: an output error mid-run ends the job with its own exit code and
 * a message naming the output file (the first error decides; the passes after it, which
 * only drain what runs, do not overwrite it). */
#include "util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* RLIMIT_FSIZE (bash's ulimit -f, in KiB) with SIGXFSZ ignored: a write past 4 MiB fails
 * with EFBIG while the job runs; its rows (~200 bytes each, 60,000) need about 12 MiB, and
 * the job state (data.mdb, a few KiB of refs) and the logs stay far below the limit. */
Test(coord, output_that_cannot_grow_stops_the_job_naming_it, .timeout = 120) {
    char dir[256];
    tu_tmpdir(dir, sizeof(dir), "coord");
    char path[400];
    snprintf(path, sizeof(path), "%s/in.csv", dir);
    size_t cap = 32u << 20, len = 0;
    char *csv = malloc(cap);
    cr_assert(csv);
    len += (size_t)snprintf(csv + len, cap - len, "a,b\n");
    for (int i = 0; i < 60000; i++)
        len += (size_t)snprintf(csv + len, cap - len, "%d,%0200d\n", i, i);
    tu_write(path, csv, len);
    free(csv);
    int code = tu_sh("timeout 60 bash -c \"trap '' XFSZ; ulimit -f 4096; exec %s run -q "
                     "--entry-script build/tests/records_probe.so --input '%s' --input-format csv "
                     "--workers 2 --output '%s/out'\" 2>'%s/err'",
                     tu_prs(), path, dir, dir);
    char errp[400];
    snprintf(errp, sizeof(errp), "%s/err", dir);
    char *err = tu_read(errp, NULL);
    cr_assert(err, "no stderr");
    cr_assert_eq(code, 5, "prs exited %d (want 5, stopped: resumable):\n%s", code, err);
    char want[400];
    snprintf(want, sizeof(want), "%s/out/parallel_run_step.txt: cannot append rows: %s", dir,
             strerror(EFBIG));
    cr_assert(strstr(err, want), "stderr does not say \"%s\":\n%s", want, err);
    free(err);
    tu_rmrf(dir);
}
