"""tests/python/faults.py: fails the first try of the files whose name contains the
pattern given for each fault; every other try returns "NAME<TAB>ok" rows.
  --raise P      run() raises ValueError        --segv P   a segfault through ctypes
  --exit P       os._exit(3)                    --sysexit P   sys.exit(3)
  --hang P       sleeps 60 s (past the timeout) --none P   returns None
  --dict P       returns a dict                 --killme P FILE: writes its pid to FILE
                                                 and sleeps until killed from outside
  --always       every try fails, not only the first"""
import argparse
import ctypes
import os
import sys
import time

from azureml_user.parallel_run import EntryScript

parser = argparse.ArgumentParser()
for flag in ("raise", "segv", "exit", "sysexit", "hang", "none", "dict"):
    parser.add_argument("--" + flag)
parser.add_argument("--killme", nargs=2)
parser.add_argument("--always", action="store_true")
args, _ = parser.parse_known_args()


def hit(pattern, names):
    return pattern and any(pattern in n for n in names)


def run(mini_batch):
    names = [os.path.basename(p) for p in mini_batch]
    if args.always or EntryScript().attempt == 1:
        if hit(getattr(args, "raise"), names):
            raise ValueError("faults: bad input")
        if hit(args.segv, names):
            ctypes.string_at(0)
        if hit(args.exit, names):
            os._exit(3)
        if hit(args.sysexit, names):
            sys.exit(3)
        if hit(args.hang, names):
            time.sleep(60)
        if hit(args.none, names):
            return None
        if hit(args.dict, names):
            return {"a": 1}
        if args.killme and hit(args.killme[0], names):
            with open(args.killme[1] + ".tmp", "w") as f:
                f.write(str(os.getpid()))
            os.rename(args.killme[1] + ".tmp", args.killme[1])
            time.sleep(60)
    return ["%s\tok" % n for n in names]
