"""tools/examples/faulty.py -- faulty.c's seeded faults as a Python entry script, so that
tools/stress can drive Python hosts the same way:

    tools/stress --entry tools/examples/faulty.py

Every item that is not failed gets the row "<name>\\tok", where name is the path's last
two components (tools/stress's datasets are DIR/FILE under the input root). The rule is
faulty.c's (and tools/stress's): FNV-1a 64 over the seed's 8 little-endian bytes, the
kind letter and the name, then the splitmix64 finaliser; hit when (h >> 11) / 2^53 < P.
  --seed N  --fail-rate P (kind f: no row)  --batch-fail-rate P (b: the batch raises on
  every try)  --flaky-rate P (l: raises on its first try)  --crash-rate P (c: the host
  segfaults on the first try)  --hang-rate P (h: sleeps forever on the first try: only
  the timeout ends it)  --slow-rate P --slow-ms N (s: the item takes N ms)
First-try faults are checked in the order crash, hang, flaky, then batch-fail.
"""
import argparse
import os
import signal
import time

from azureml_user.parallel_run import EntryScript

MASK = (1 << 64) - 1
parser = argparse.ArgumentParser()
parser.add_argument("--seed", type=int, default=0)
for kind in ("fail", "batch-fail", "flaky", "crash", "hang", "slow"):
    parser.add_argument("--%s-rate" % kind, type=float, default=0.0)
parser.add_argument("--slow-ms", type=int, default=10)
args, _ = parser.parse_known_args()


def hit(kind, name, rate):
    if rate <= 0:
        return False
    h = 1469598103934665603
    for b in args.seed.to_bytes(8, "little") + kind.encode() + name.encode():
        h = ((h ^ b) * 1099511628211) & MASK
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) & MASK
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) & MASK
    h ^= h >> 31
    return (h >> 11) / 9007199254740992.0 < rate


def run(mini_batch):
    names = ["/".join(p.split("/")[-2:]) for p in mini_batch]
    entry = EntryScript()
    if entry.attempt == 1:  # first-try faults: a retry recovers them
        if any(hit("c", n, args.crash_rate) for n in names):
            os.kill(os.getpid(), signal.SIGSEGV)
        if any(hit("h", n, args.hang_rate) for n in names):
            while True:
                time.sleep(60)
        if any(hit("l", n, args.flaky_rate) for n in names):
            raise RuntimeError("faulty: flaky batch (first try)")
    if any(hit("b", n, args.batch_fail_rate) for n in names):
        raise RuntimeError("faulty: seeded batch failure")
    rows = []
    for i, n in enumerate(names):
        if hit("s", n, args.slow_rate):
            time.sleep(args.slow_ms / 1000.0)
        if hit("f", n, args.fail_rate):
            entry.fail_item(i, "faulty: seeded failure of %s" % n)
            continue
        rows.append("%s\tok" % n)
    return rows
