"""tests/python/kill_job.py: the kill harness's Python job (tests/test_kill.sh). One row
"NAME<TAB>ok" per file after 2 ms of sleep (so that kills land while hosts run), plus 100
extra rows per batch (so that uncommitted rows are in the output when kills land)."""
import os
import time


def run(mini_batch):
    time.sleep(0.002 * len(mini_batch))
    first = os.path.basename(mini_batch[0]) if mini_batch else "-"
    rows = ["%s\tok" % os.path.basename(p) for p in mini_batch]
    return rows + ["extra %s %d" % (first, i) for i in range(100)]
